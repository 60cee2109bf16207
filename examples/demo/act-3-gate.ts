/**
 * Act 3: the agent wants to announce a feature. The impact gate scores
 * "notify every user" CRITICAL and blocks it; the cohort-wide announcement
 * goes to review and the demo's reviewer approves it; a read-only preview
 * just proceeds. Every action carries its explanation, on its span and in
 * the hook manager's records.
 */
import {
  CounterfactualEstimator,
  ExplainabilityHookManager,
  guard,
  invokeAgent,
  isActionBlockedError,
} from '../../src/index.js';
import { heading } from './fake-services.js';

/** The demo's notification service: it only counts what it would send. */
class NotificationService {
  sent = 0;

  async send(userIds: readonly string[], message: string): Promise<{ delivered: number; message: string }> {
    await new Promise(resolve => setTimeout(resolve, 2));
    this.sent += userIds.length;
    return { delivered: userIds.length, message };
  }
}

const ALL_USERS = Array.from({ length: 1_000_000 }, (_, i) => `u${i}`);
const BETA_COHORT = ALL_USERS.slice(0, 5_000);

export async function act3Gate(): Promise<void> {
  heading('Act 3: the impact gate blocks "notify every user"; a cohort send is reviewed');
  const notifications = new NotificationService();
  const hooks = new ExplainabilityHookManager({ agentId: 'content-ranker-v3' });

  const gate = new CounterfactualEstimator({
    // A real deployment asks a human (Slack, a ticket, an approval UI) here.
    approve: async request => {
      const a = request.assessment;
      console.log(`  review requested: ${request.action} (impact ${a.level}, delta ${a.impactDelta.toFixed(2)}), arguments ${request.argumentsHash.slice(0, 12)}…`);
      return { approved: true, reviewer: 'oncall@example.com', note: 'opt-in beta cohort' };
    },
    reviewTimeoutMs: 5_000,
  });

  const previewAnnouncement = guard((message: string) => `preview: ${message}`, {
    name: 'preview_announcement',
    description: 'Renders the announcement without sending it',
    gate,
    impact: { reversibility: 'read_only', scope: 'record' },
    explain: { hooks, reasoning: 'Check how the announcement renders before anyone sees it.', confidence: 0.97 },
  });

  const notifyEveryone = guard((message: string) => notifications.send(ALL_USERS, message), {
    name: 'notify_all_users',
    description: 'Sends a push notification to every user',
    gate,
    impact: { reversibility: 'irreversible_external', scope: 'global' },
    explain: {
      hooks,
      reasoning: 'The new ranking shipped; tell every user about it.',
      confidence: 0.62,
      alternativesConsidered: ['in-app banner', 'notify the opt-in beta cohort only'],
    },
  });

  const notifyCohort = guard((cohort: string, userIds: readonly string[], message: string) => notifications.send(userIds, message), {
    name: 'notify_cohort',
    description: 'Sends a push notification to one cohort',
    gate,
    impact: (_cohort, userIds) => ({ reversibility: 'irreversible_external', scope: 'cohort', cohortSize: userIds.length }),
    explain: {
      hooks,
      reasoningFn: (cohort, userIds) => `Announce the new ranking to the ${userIds.length} users of the ${cohort} cohort, who opted in.`,
      confidence: 0.88,
      alternativesConsidered: ['notify every user'],
    },
  });

  const message = 'Your feed now ranks by what you engage with. Tell us what you think!';
  await invokeAgent({ name: 'content-ranker', id: 'content-ranker-v3' }, async () => {
    console.log(`  ${await previewAnnouncement(message)}`);
    try {
      await notifyEveryone(message);
    } catch (err) {
      if (!isActionBlockedError(err)) throw err;
      console.log(`  blocked: ${err.message}`);
    }
    const { delivered } = await notifyCohort('beta', BETA_COHORT, message);
    console.log(`  delivered to ${delivered.toLocaleString('en-US')} users of the beta cohort (total sent: ${notifications.sent.toLocaleString('en-US')})`);
  });

  console.log('\n  explanation records kept by the hook manager:');
  for (const r of hooks.getExplanations()) {
    const outcome = r.errorSummary ? ` → ${r.errorSummary.split(':')[0]}` : r.outputSummary ? ` → ${r.outputSummary.slice(0, 40)}` : '';
    console.log(`  ${r.phase.padEnd(11)} ${r.action.padEnd(20)} ${r.reasoning ?? ''}${outcome}`);
  }
  console.log('');
}
