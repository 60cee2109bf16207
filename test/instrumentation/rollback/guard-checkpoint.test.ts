import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanStatusCode } from '@opentelemetry/api';
import { MemoryCheckpointStore, RollbackManager, currentCheckpoint, guard, invokeAgent, isCheckpointLimitError, isSnapshotError } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_CALL_OUTCOME, ATTR_AGENT_SAFETY_CHECKPOINT_ID, ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT, ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID, ATTR_ERROR_TYPE } from '../../../src/semconv.js';
import type { ActionStatus, Checkpoint, CheckpointRecord } from '../../../src/index.js';
import { FileCheckpointStore } from '../../../src/patterns/rollback/file-checkpoint-store.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite<{ t: TestTelemetry }>('guard checkpoint', {} as never);
test.before(ctx => {
  ctx.t = setupTelemetry();
});
test.after(async ctx => {
  await ctx.t.shutdown();
});
test.before.each(ctx => ctx.t.reset());

const newManager = (options: { maxCheckpoints?: number } = {}) =>
  new RollbackManager({ agentId: 'publisher', delay: async () => {}, hookRetry: { maxAttempts: 1 }, ...options });

test('a guarded call takes a checkpoint before the action, records it on its span, and completes it with the delta', async ({ t }) => {
  const manager = newManager();
  const seenInside: Array<Checkpoint | undefined> = [];
  let atCall: Checkpoint[] = [];
  const upload = guard(
    async (title: string) => {
      seenInside.push(currentCheckpoint());
      atCall = await manager.list();
      return { draftId: `draft-${title}` };
    },
    {
      name: 'upload_draft',
      checkpoint: { manager, environmentDelta: (draft, title) => ({ draftId: draft.draftId, title }) },
    },
  );
  assert.equal(await upload('weekly'), { draftId: 'draft-weekly' });
  assert.is(currentCheckpoint(), undefined, 'only inside the guarded call');

  const span = t.span('execute_tool upload_draft');
  const [cp] = await manager.list();
  assert.is(attr(span, ATTR_AGENT_SAFETY_CHECKPOINT_ID), cp.id);
  assert.is(attr(span, ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT), false);
  assert.is(cp.name, 'upload_draft');
  assert.equal(cp.origin, { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, traceFlags: 1 });
  assert.is(seenInside[0]?.id, cp.id);
  assert.is(atCall[0].actionStatus, 'pending', 'taken (and pending) before the action ran');
  assert.is(cp.actionStatus, 'completed');

  let delta: unknown;
  manager.registerRollbackHook('upload_draft', (_n, d) => void (delta = d));
  await manager.rollbackTo(cp.id);
  assert.equal(delta, { draftId: 'draft-weekly', title: 'weekly' });
  assert.is(attr(t.span('compensate upload_draft'), ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID), span.spanContext().spanId);
});

test('state is read from the arguments and snapshotted before the action, which may then mutate it', async () => {
  const manager = newManager();
  const agentState = { plan: ['draft'], done: [] as string[] };
  const step = guard(
    async (state: typeof agentState) => {
      state.done.push('draft');
      state.plan.shift();
    },
    { name: 'step', checkpoint: { manager, state: state => state, isSafePoint: true } },
  );
  await step(agentState);
  assert.equal(agentState, { plan: [], done: ['draft'] });
  const { state } = await manager.rollbackToLastSafePoint();
  assert.equal(state, { plan: ['draft'], done: [] });
});

test('a failed action marks the checkpoint failed; a timed-out one stays pending; hooks are told', async () => {
  const manager = newManager();
  const statuses: Array<[ActionStatus, unknown]> = [];
  manager.registerRollbackHook('publish', (_n, delta, ctx) => void statuses.push([ctx.actionStatus, delta]));
  manager.registerRollbackHook('slow', (_n, delta, ctx) => void statuses.push([ctx.actionStatus, delta]));
  const publish = guard(
    async () => {
      throw new Error('CDN down');
    },
    { name: 'publish', checkpoint: { manager, environmentDelta: () => assert.unreachable('not called on failure') } },
  );
  const slow = guard(() => new Promise(() => {}), { name: 'slow', timeoutMs: 5, checkpoint: { manager } });
  await rejection(publish());
  const keepAlive = setInterval(() => {}, 1_000); // the guard's timeout timer is unref'd
  try {
    await rejection(slow());
  } finally {
    clearInterval(keepAlive);
  }
  await manager.rollbackSteps(2);
  assert.equal(statuses, [
    ['pending', undefined],
    ['failed', undefined],
  ]);
});

test('a state that cannot be snapshotted fails the call before the action runs', async ({ t }) => {
  const manager = newManager();
  let ran = false;
  const tool = guard(
    async () => {
      ran = true;
    },
    { name: 'act', checkpoint: { manager, state: () => ({ callback: () => {} }) } },
  );
  const err = await rejection(tool());
  assert.ok(isSnapshotError(err));
  assert.not.ok(ran, 'fail closed: no checkpoint, no action');
  const span = t.span('execute_tool act');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(attr(span, ATTR_ERROR_TYPE), 'SnapshotError');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'error');
  assert.is(manager.size, 0);
});

test('a checkpoint refused at the limit (it would evict the last safe point) stops the action', async ({ t }) => {
  const manager = newManager({ maxCheckpoints: 2 });
  await manager.checkpoint('safe', { isSafePoint: true });
  let runs = 0;
  const tool = guard(async () => void runs++, { name: 'act', checkpoint: { manager } });
  await tool();
  const err = await rejection(tool());
  assert.ok(isCheckpointLimitError(err));
  assert.is(runs, 1);
  assert.is(attr(t.spans()[1], ATTR_ERROR_TYPE), 'CheckpointLimitError');
});

test('a throwing environmentDelta does not fail a call whose action happened', async ({ t }) => {
  const manager = newManager();
  const tool = guard(async () => 'ok', {
    name: 'act',
    checkpoint: {
      manager,
      environmentDelta: () => {
        throw new Error('delta bug');
      },
    },
  });
  assert.is(await tool(), 'ok');
  const span = t.span('execute_tool act');
  assert.is(span.status.code, SpanStatusCode.UNSET);
  assert.ok(span.events.some(e => e.name === 'exception' && e.attributes?.['exception.message'] === 'delta bug'));
  const [cp] = await manager.list();
  assert.is(cp.actionStatus, 'completed');
});

test('a plan of three guarded steps fails at the third; rolling back to the safe point undoes all three, linked', async ({ t }) => {
  const manager = newManager();
  const undone: string[] = [];
  for (const n of ['upload', 'notify', 'publish']) manager.registerRollbackHook(n, name => void undone.push(name));
  const step = (name: string, fail = false) =>
    guard(
      async () => {
        if (fail) throw new Error(`${name} failed`);
      },
      { name, checkpoint: { manager } },
    );
  const [upload, notify, publish] = [step('upload'), step('notify'), step('publish', true)];
  await invokeAgent({ name: 'writer' }, async () => {
    await manager.checkpoint('before_publish', { state: { v: 0 }, isSafePoint: true });
    try {
      await upload();
      await notify();
      await publish();
    } catch {
      await manager.rollbackToLastSafePoint({ reason: 'publish failed' });
    }
  });
  assert.equal(undone, ['publish', 'notify', 'upload']);
  for (const n of ['upload', 'notify', 'publish']) {
    assert.is(attr(t.span(`compensate ${n}`), ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID), t.span(`execute_tool ${n}`).spanContext().spanId);
  }
  const agent = t.span('invoke_agent writer');
  assert.is(attr(agent, ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT), true, 'the manual safe point is recorded on the agent span');
  assert.is(t.span('agent_safety.rollback').parentSpanContext?.spanId, agent.spanContext().spanId);
});

test('calls made by an undo hook are not checkpointed into the rollback that runs them', async ({ t }) => {
  const manager = newManager();
  const deleteDraft = guard(async () => 'deleted', { name: 'delete_draft', checkpoint: { manager } });
  manager.registerRollbackHook('upload', async () => {
    await deleteDraft();
  });
  const upload = guard(async () => 'uploaded', { name: 'upload', checkpoint: { manager } });
  await upload();
  await manager.rollbackSteps(1);
  assert.is(manager.size, 0);
  const child = t.span('execute_tool delete_draft');
  assert.is(child.parentSpanContext?.spanId, t.span('compensate upload').spanContext().spanId);
  assert.is(attr(child, ATTR_AGENT_SAFETY_CHECKPOINT_ID), undefined);
});

test('a checkpoint taken by hand inside a guarded call picks up its span', async ({ t }) => {
  const manager = newManager();
  const tool = guard(async () => manager.checkpoint('inner'), { name: 'outer' });
  const cp = await tool();
  const span = t.span('execute_tool outer');
  assert.is(cp.origin?.spanId, span.spanContext().spanId);
  assert.is(attr(span, ATTR_AGENT_SAFETY_CHECKPOINT_ID), cp.id);
});

test('with no store and nothing queued the checkpoint is taken in the caller\'s tick; otherwise it waits its turn', async () => {
  const manager = newManager();
  const tool = guard(async () => 'ok', { name: 'fast', checkpoint: { manager } });
  const call = tool();
  assert.is(manager.size, 1, 'taken before guarded() returned its promise');
  await call;
  let release!: () => void;
  manager.registerRollbackHook('fast', () => new Promise<void>(resolve => (release = resolve)));
  const rolling = manager.rollbackSteps(1);
  const queued = tool();
  assert.is(manager.size, 1, 'a rollback is running: the new checkpoint waits');
  await new Promise(resolve => setImmediate(resolve));
  release();
  await rolling;
  await queued;
  const [cp] = await manager.list();
  assert.is(cp.actionStatus, 'completed', 'taken after the rollback, then completed');
});

test('with a store, the checkpoint is saved (pending) before the action runs, then completed with its delta', async () => {
  const store = new MemoryCheckpointStore();
  const manager = new RollbackManager({ agentId: 'stored', store });
  let during: CheckpointRecord | undefined;
  const double = guard(
    async (x: number) => {
      [during] = await store.list('stored');
      return x * 2;
    },
    { name: 'double', checkpoint: { manager, environmentDelta: (r, x) => ({ r, x }) } },
  );
  assert.is(await double(21), 42);
  assert.is(during?.actionStatus, 'pending');
  assert.is(during?.name, 'double');
  const [after] = await store.list('stored');
  assert.is(after.id, during?.id);
  assert.is(after.actionStatus, 'completed');
  let delta: unknown;
  manager.registerRollbackHook('double', (_n, d) => void (delta = d));
  await manager.rollbackSteps(1);
  assert.equal(delta, { r: 42, x: 21 });
  assert.equal(await store.list('stored'), []);
});

test('a checkpoint store that cannot save (its directory unusable, as on a full or read-only disk): the call fails, the action does not run', async ({ t }) => {
  const dir = mkdtempSync(join(tmpdir(), 'guard-checkpoint-store-'));
  try {
    const directory = join(dir, 'checkpoints');
    writeFileSync(directory, 'a file where the store needs a directory'); // every save fails (ENOTDIR / EEXIST), for root too
    const manager = new RollbackManager({ agentId: 'stored', store: new FileCheckpointStore({ directory }) });
    let runs = 0;
    const publish = guard(async (x: number) => (runs++, x), { name: 'publish', checkpoint: { manager, state: (x: number) => ({ x }) } });
    const error = await rejection(publish(1));
    assert.ok(/ENOTDIR|EEXIST/.test(String((error as NodeJS.ErrnoException).code)), String(error));
    assert.is(runs, 0, 'the action whose checkpoint could not be kept did not run');
    const [span] = t.spans();
    assert.is(span.status.code, SpanStatusCode.ERROR);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad checkpoint options throw at wrap time naming the option', () => {
  const manager = newManager();
  const fn = async () => {};
  assert.throws(() => guard(fn, { name: 'x', checkpoint: {} as never }), /checkpoint.manager must be an object/);
  assert.throws(() => guard(fn, { name: 'x', checkpoint: { manager: {} } as never }), /checkpoint.manager.checkpoint \(a RollbackManager\) must be a function/);
  assert.throws(() => guard(fn, { name: 'x', checkpoint: { manager, safe: true } as never }), /checkpoint: unknown option "safe"/);
  assert.throws(() => guard(fn, { name: 'x', checkpoint: { manager, isSafePoint: 1 } as never }), /checkpoint.isSafePoint must be a boolean/);
  assert.throws(() => guard(fn, { name: 'x', checkpoint: { manager, state: {} } as never }), /checkpoint.state must be a function/);
  assert.throws(() => guard(fn, { name: 'x', checkpoint: { manager, name: '' } }), /checkpoint.name must be a non-empty string/);
});

test.run();
