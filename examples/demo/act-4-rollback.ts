/**
 * Act 4: the agent publishes a digest in three steps (upload a draft, email
 * a preview to subscribers, publish). Publishing fails: the manager rolls
 * back to the safe point taken before the first step, running the undo
 * hooks newest first. The trace shows the `agent_safety.rollback` span and
 * one `compensate {step}` child per undo, each linked to the step it undoes.
 */
import { RollbackManager, currentCheckpoint, guard, invokeAgent, isRollbackError } from '../../src/index.js';
import { heading } from './fake-services.js';
import { DigestCms, Notifier } from './fake-publisher.js';

interface AgentState {
  digest: string;
  stage: 'planned' | 'drafted' | 'previewed' | 'published';
  notes: string[];
}

export async function act4Rollback(cms = new DigestCms(), notifier = new Notifier()): Promise<void> {
  heading('Act 4: publishing fails at step 3; rollback undoes steps 3, 2, 1');
  const manager = new RollbackManager({ agentId: 'digest-publisher', hookRetry: { initialDelayMs: 20 } });

  // Undo hooks, by step name. Each is idempotent and copes with a step that never completed.
  manager.registerRollbackHook<{ draftId: string }>('upload_draft', async (_name, delta) => {
    if (delta === undefined) return; // the upload never completed: no draft id to delete
    await cms.deleteDraft(delta.draftId);
    console.log(`  undo upload_draft: deleted ${delta.draftId}`);
  });
  manager.registerRollbackHook<{ mailIds: string[] }>('email_preview', async (_name, delta, ctx) => {
    if (delta === undefined) return;
    await notifier.recall(delta.mailIds); // the first attempt meets a busy queue and is retried
    console.log(`  undo email_preview: recalled ${delta.mailIds.length} emails (attempt ${ctx.attempt})`);
  });
  manager.registerRollbackHook('publish_digest', async (_name, _delta, ctx) => {
    // The publish sent the checkpoint id as its idempotency key: look it up, whatever happened.
    const removed = await cms.unpublish(ctx.idempotencyKey);
    console.log(`  undo publish_digest: action ${ctx.actionStatus}, ${removed ? 'taken down' : 'nothing was live'}`);
  });

  const uploadDraft = guard((title: string) => cms.createDraft(title), {
    name: 'upload_draft',
    checkpoint: { manager, environmentDelta: draftId => ({ draftId }) },
  });
  const emailPreview = guard((draftId: string, subscribers: string[]) => notifier.notify(draftId, subscribers), {
    name: 'email_preview',
    checkpoint: { manager, environmentDelta: mailIds => ({ mailIds }) },
  });
  const publishDigest = guard((draftId: string) => cms.publish(draftId, currentCheckpoint()!.id), {
    name: 'publish_digest',
    checkpoint: { manager, environmentDelta: url => ({ url }) },
  });

  cms.cdnDown = true; // step 3 will fail
  let state: AgentState = { digest: 'weekly-digest-48', stage: 'planned', notes: [] };
  await invokeAgent({ name: 'digest-publisher', id: 'digest-publisher-v1' }, async () => {
    await manager.checkpoint('before_publish', { state, isSafePoint: true });
    try {
      const draftId = await uploadDraft(state.digest);
      state.stage = 'drafted';
      await emailPreview(draftId, ['ana@example.test', 'bo@example.test', 'cy@example.test']);
      state.stage = 'previewed';
      await publishDigest(draftId);
      state.stage = 'published';
    } catch (err) {
      console.log(`  step failed: ${(err as Error).message}; rolling back to the safe point`);
      try {
        const report = await manager.rollbackToLastSafePoint({ reason: `${(err as Error).name} in publish_digest` });
        state = report.state as AgentState;
        console.log(`  rollback ${report.outcome}: ${report.entries.map(e => `${e.checkpoint.name}=${e.outcome}`).join(', ')}`);
      } catch (rollbackErr) {
        if (!isRollbackError(rollbackErr)) throw rollbackErr;
        console.log(`  rollback ${rollbackErr.report.outcome}: ${rollbackErr.message}`);
      }
    }
  });
  console.log(
    `  agent state back to "${state.stage}"; drafts left: ${cms.drafts.size}, emails left: ${notifier.outbox.size}, ` +
      `published: ${cms.published.size}`,
  );
}
