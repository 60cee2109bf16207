import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Link } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { FileCheckpointStore, RollbackManager, invokeAgent, isRollbackError, isRollbackTargetError } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_CHECKPOINT_ID, ATTR_AGENT_SAFETY_CHECKPOINT_LAST_SAFE_POINT, ATTR_AGENT_SAFETY_CHECKPOINT_NAME, ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT, ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID, ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID, ATTR_AGENT_SAFETY_COMPENSATION_ACTION_STATUS, ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPT, ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPTS, ATTR_AGENT_SAFETY_COMPENSATION_OUTCOME, ATTR_AGENT_SAFETY_LINK_TYPE, ATTR_AGENT_SAFETY_ROLLBACK_EXECUTE_HOOKS, ATTR_AGENT_SAFETY_ROLLBACK_FAILED_COUNT, ATTR_AGENT_SAFETY_ROLLBACK_MODE, ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME, ATTR_AGENT_SAFETY_ROLLBACK_REASON, ATTR_AGENT_SAFETY_ROLLBACK_RESTORED_COUNT, ATTR_AGENT_SAFETY_ROLLBACK_SKIPPED_COUNT, ATTR_AGENT_SAFETY_ROLLBACK_STATE_RESTORED, ATTR_AGENT_SAFETY_ROLLBACK_STEPS, ATTR_AGENT_SAFETY_ROLLBACK_TARGET_ID, ATTR_AGENT_SAFETY_ROLLBACK_TARGET_NAME, ATTR_AGENT_SAFETY_ROLLBACK_UNDONE_COUNT, ATTR_ERROR_TYPE, ATTR_GEN_AI_AGENT_ID, EVENT_AGENT_SAFETY_CHECKPOINT_EVICTED, EVENT_AGENT_SAFETY_COMPENSATION_RETRY, METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED, METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS } from '../../../src/semconv.js';
import type { RollbackManagerOptions } from '../../../src/index.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

/** Records each span's links as they were when it started. */
class LinksAtStart implements SpanProcessor {
  readonly links = new Map<string, Link[]>();
  onStart(span: Span): void {
    this.links.set(span.spanContext().spanId, [...span.links]);
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const noWait = { delay: async () => {} };
const manager = (options: Partial<RollbackManagerOptions> = {}) => new RollbackManager({ agentId: 'publisher', ...noWait, ...options });

/** Runs `fn` in a fresh root span named `name` and returns that span's context. */
function inSpan<T>(t: TestTelemetry, name: string, fn: () => Promise<T>): Promise<T> {
  const tracer = t.provider.getTracer('test');
  return tracer.startActiveSpan(name, async span => {
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
}

const byStart = (a: ReadableSpan, b: ReadableSpan) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1];

const test = suite<{ t: TestTelemetry; starts: LinksAtStart }>('rollback manager telemetry', {} as never);
test.before(ctx => {
  ctx.starts = new LinksAtStart();
  ctx.t = setupTelemetry({}, [ctx.starts]);
});
test.after(async ctx => {
  await ctx.t.shutdown();
});
test.before.each(ctx => ctx.t.reset());

test('a rollback is one span with a compensate child per hook run, in order, each linked to the undone action span', async ({ t, starts }) => {
  const m = manager();
  for (const n of ['upload', 'notify', 'publish']) m.registerRollbackHook(n, () => {});
  const actionSpans: Record<string, string> = {};
  await invokeAgent({ name: 'digest-writer' }, async () => {
    await m.checkpoint('before_publish', { state: { step: 0 }, isSafePoint: true });
    for (const n of ['upload', 'notify', 'publish']) {
      await inSpan(t, `execute_tool ${n}`, async () => {
        actionSpans[n] = trace.getActiveSpan()!.spanContext().spanId;
        await m.checkpoint(n, { environmentDelta: { n } });
      });
    }
    const report = await m.rollbackToLastSafePoint({ reason: 'publish failed' });
    assert.equal(report.state, { step: 0 });
  });

  const agent = t.span('invoke_agent digest-writer');
  const rollback = t.span('agent_safety.rollback');
  assert.is(rollback.kind, SpanKind.INTERNAL);
  assert.is(rollback.parentSpanContext?.spanId, agent.spanContext().spanId, 'the caller is the parent');
  assert.is(rollback.status.code, SpanStatusCode.UNSET);
  const start = t.startAttributes(rollback);
  assert.is(start[ATTR_AGENT_SAFETY_ROLLBACK_MODE], 'last_safe_point');
  assert.is(start[ATTR_AGENT_SAFETY_ROLLBACK_EXECUTE_HOOKS], true);
  assert.is(start[ATTR_AGENT_SAFETY_ROLLBACK_REASON], 'publish failed');
  assert.is(start[ATTR_GEN_AI_AGENT_ID], 'publisher');
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_TARGET_NAME), 'before_publish');
  assert.type(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_TARGET_ID), 'string');
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_STEPS), 4);
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME), 'complete');
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_STATE_RESTORED), true);
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_UNDONE_COUNT), 3);
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_RESTORED_COUNT), 1);
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_FAILED_COUNT), 0);
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_SKIPPED_COUNT), 0);

  const compensations = t.spans().filter(s => s.name.startsWith('compensate ')).sort(byStart);
  assert.equal(compensations.map(s => s.name), ['compensate publish', 'compensate notify', 'compensate upload']);
  for (const span of compensations) {
    const action = span.name.slice('compensate '.length);
    assert.is(span.kind, SpanKind.INTERNAL);
    assert.is(span.parentSpanContext?.spanId, rollback.spanContext().spanId);
    assert.is(span.status.code, SpanStatusCode.UNSET);
    const at = t.startAttributes(span);
    assert.is(at[ATTR_AGENT_SAFETY_CHECKPOINT_NAME], action);
    assert.type(at[ATTR_AGENT_SAFETY_CHECKPOINT_ID], 'string');
    assert.is(at[ATTR_AGENT_SAFETY_COMPENSATION_ACTION_STATUS], 'completed');
    assert.is(at[ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID], agent.spanContext().traceId);
    assert.is(at[ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID], actionSpans[action]);
    assert.is(attr(span, ATTR_AGENT_SAFETY_COMPENSATION_OUTCOME), 'undone');
    assert.is(attr(span, ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPTS), 1);
    const links = starts.links.get(span.spanContext().spanId)!;
    assert.is(links.length, 1, 'the link is there when the span starts');
    assert.is(links[0].context.spanId, actionSpans[action]);
    assert.is(links[0].context.traceId, agent.spanContext().traceId);
    assert.is(links[0].attributes?.[ATTR_AGENT_SAFETY_LINK_TYPE], 'compensates');
    assert.is(links[0].attributes?.[ATTR_AGENT_SAFETY_CHECKPOINT_ID], at[ATTR_AGENT_SAFETY_CHECKPOINT_ID]);
    assert.equal(span.links, links);
  }
  assert.not.ok(t.spans().some(s => s.name === 'compensate before_publish'), 'nothing to compensate: no span');
});

test('a checkpoint remembers the active span and marks it; the undo hook runs inside the compensate span', async ({ t }) => {
  const m = manager();
  let hookParent: string | undefined;
  m.registerRollbackHook('write', async () => {
    hookParent = trace.getActiveSpan()?.spanContext().spanId;
    await inSpan(t, 'db.delete', async () => {});
  });
  const cp = await inSpan(t, 'execute_tool write', () => m.checkpoint('write', { isSafePoint: true }));
  const tool = t.span('execute_tool write');
  assert.is(attr(tool, ATTR_AGENT_SAFETY_CHECKPOINT_ID), cp.id);
  assert.is(attr(tool, ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT), true);
  assert.equal(cp.origin, { traceId: tool.spanContext().traceId, spanId: tool.spanContext().spanId, traceFlags: 1 });
  await m.rollbackTo(cp.id);
  const compensate = t.span('compensate write');
  assert.is(hookParent, compensate.spanContext().spanId);
  assert.is(t.span('db.delete').parentSpanContext?.spanId, compensate.spanContext().spanId);
  assert.is(attr(t.span('agent_safety.rollback'), ATTR_AGENT_SAFETY_ROLLBACK_MODE), 'checkpoint_id');
});

test('a failed hook: compensate span ERROR with the exception, retries as events, attempts counted; the rollback span says partial', async ({ t }) => {
  const m = manager({ hookRetry: { maxAttempts: 3 } });
  class RecallDown extends Error {
    override name = 'RecallDown';
  }
  m.registerRollbackHook('notify', () => {
    throw new RecallDown('recall service down');
  });
  m.registerRollbackHook('upload', () => {});
  await m.checkpoint('safe', { isSafePoint: true });
  await m.checkpoint('upload');
  await m.checkpoint('notify');
  const err = await rejection(m.rollbackToLastSafePoint());
  assert.ok(isRollbackError(err));

  const failed = t.span('compensate notify');
  assert.is(failed.status.code, SpanStatusCode.ERROR);
  assert.is(failed.status.message, 'recall service down');
  assert.is(attr(failed, ATTR_ERROR_TYPE), 'RecallDown');
  assert.is(attr(failed, ATTR_AGENT_SAFETY_COMPENSATION_OUTCOME), 'failed');
  assert.is(attr(failed, ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPTS), 3);
  const retries = failed.events.filter(e => e.name === EVENT_AGENT_SAFETY_COMPENSATION_RETRY);
  assert.equal(retries.map(e => e.attributes?.[ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPT]), [1, 2]);
  assert.ok(retries.every(e => e.attributes?.[ATTR_ERROR_TYPE] === 'RecallDown'));
  assert.ok(failed.events.some(e => e.name === 'exception' && e.attributes?.['exception.type'] === 'RecallDown'));
  assert.is(t.span('compensate upload').status.code, SpanStatusCode.UNSET, 'policy continue: the next one still ran');

  const rollback = t.span('agent_safety.rollback');
  assert.is(rollback.status.code, SpanStatusCode.ERROR);
  assert.is(attr(rollback, ATTR_ERROR_TYPE), 'RollbackError');
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME), 'partial');
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_FAILED_COUNT), 1);
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_UNDONE_COUNT), 1);
});

test('a rollback with no target is still a span, with status ERROR', async ({ t }) => {
  const m = manager();
  const err = await rejection(m.rollbackToLastSafePoint());
  assert.ok(isRollbackTargetError(err));
  const rollback = t.span('agent_safety.rollback');
  assert.is(rollback.status.code, SpanStatusCode.ERROR);
  assert.is(attr(rollback, ATTR_ERROR_TYPE), 'RollbackTargetError');
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME), undefined);
  const steps = await rejection(m.rollbackSteps(3));
  assert.ok(isRollbackTargetError(steps));
  assert.is(t.spans().filter(s => s.name === 'agent_safety.rollback')[1].attributes[ATTR_AGENT_SAFETY_ROLLBACK_STEPS], 3);
});

test('across traces: a rollback run later links back to the spans of the earlier trace', async ({ t, starts }) => {
  const m = manager();
  m.registerRollbackHook('act', () => {});
  await inSpan(t, 'plan run 1', () => m.checkpoint('act'));
  const original = t.span('plan run 1').spanContext();
  await context.with(trace.deleteSpan(context.active()), () => inSpan(t, 'incident response', () => m.rollbackSteps(1)));
  const compensate = t.span('compensate act');
  assert.is.not(compensate.spanContext().traceId, original.traceId, 'a different trace');
  const link = starts.links.get(compensate.spanContext().spanId)![0];
  assert.is(link.context.traceId, original.traceId);
  assert.is(link.context.spanId, original.spanId);
});

test('after a restart from the file store, compensations link to the spans of the previous process', async ({ t, starts }) => {
  const directory = mkdtempSync(join(tmpdir(), 'aso-rollback-'));
  try {
    const before = manager({ store: new FileCheckpointStore({ directory, fsync: false }) });
    before.registerRollbackHook('publish', () => {});
    await before.checkpoint('safe', { state: { v: 1 }, isSafePoint: true });
    await inSpan(t, 'execute_tool publish', () => before.checkpoint('publish', { pending: true }));
    const original = t.span('execute_tool publish').spanContext();
    t.reset();

    const after = manager({ store: new FileCheckpointStore({ directory, fsync: false }) });
    let status: string | undefined;
    after.registerRollbackHook('publish', (_n, _d, ctx) => void (status = ctx.actionStatus));
    const report = await after.rollbackToLastSafePoint();
    assert.equal(report.state, { v: 1 });
    assert.is(status, 'pending', 'the action never reported back before the "crash"');
    const compensate = t.span('compensate publish');
    assert.is(attr(compensate, ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID), original.spanId);
    assert.is(attr(compensate, ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID), original.traceId);
    assert.is(starts.links.get(compensate.spanContext().spanId)![0].context.spanId, original.spanId);
    assert.is(attr(compensate, ATTR_AGENT_SAFETY_COMPENSATION_ACTION_STATUS), 'pending');
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('restoring only: no compensate spans, execute_hooks false', async ({ t }) => {
  const m = manager();
  m.registerRollbackHook('a', () => assert.unreachable('hooks must not run'));
  await m.checkpoint('a', { state: 1 });
  await m.rollbackSteps(1, { executeHooks: false });
  assert.equal(t.spans().map(s => s.name), ['agent_safety.rollback']);
  const rollback = t.span('agent_safety.rollback');
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_EXECUTE_HOOKS), false);
  assert.is(attr(rollback, ATTR_AGENT_SAFETY_ROLLBACK_RESTORED_COUNT), 1);
});

test('eviction: an event on the span taking the new checkpoint, naming the evicted one', async ({ t }) => {
  const m = manager({ maxCheckpoints: 2, safePointEviction: 'evict' });
  const safe = await m.checkpoint('safe', { isSafePoint: true });
  await m.checkpoint('a');
  await inSpan(t, 'execute_tool b', () => m.checkpoint('b'));
  const event = t.span('execute_tool b').events.find(e => e.name === EVENT_AGENT_SAFETY_CHECKPOINT_EVICTED);
  assert.ok(event, 'eviction event');
  assert.is(event!.attributes?.[ATTR_AGENT_SAFETY_CHECKPOINT_ID], safe.id);
  assert.is(event!.attributes?.[ATTR_AGENT_SAFETY_CHECKPOINT_NAME], 'safe');
  assert.is(event!.attributes?.[ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT], true);
  assert.is(event!.attributes?.[ATTR_AGENT_SAFETY_CHECKPOINT_LAST_SAFE_POINT], true);
});

test('metrics: compensations by outcome and evicted checkpoints, counted and observed at collection', async ({ t }) => {
  const read = async () => {
    const comp = await t.points(METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS);
    const ev = await t.points(METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED);
    const by = (points: typeof comp, key: string) =>
      Object.fromEntries(points.filter(p => p.attributes['gen_ai.agent.id'] === 'publisher').map(p => [String(p.attributes[key]), p.value]));
    return { comp: by(comp, 'outcome'), ev: by(ev, 'safe_point') };
  };
  manager(); // a manager exists: the counters report, zeros included
  const before = await read();
  assert.equal(Object.keys(before.comp).sort(), ['failed', 'skipped', 'undone']);
  assert.equal(Object.keys(before.ev).sort(), ['false', 'true']);

  const m = manager({ onHookFailure: 'stop', hookRetry: { maxAttempts: 1 }, maxCheckpoints: 4, safePointEviction: 'evict' });
  m.registerRollbackHook('ok', () => {});
  m.registerRollbackHook('bad', () => {
    throw new Error('no');
  });
  await m.checkpoint('safe', { isSafePoint: true });
  await m.checkpoint('ok');
  await m.checkpoint('ok');
  await m.checkpoint('ok');
  await m.checkpoint('ok'); // evicts the safe point
  await m.checkpoint('ok'); // evicts an ordinary one
  await m.checkpoint('ok', { isSafePoint: true });
  await m.checkpoint('bad');
  await m.checkpoint('ok');
  await rejection(m.rollbackToLastSafePoint()); // ok undone, bad failed, safe point skipped
  const after = await read();
  assert.equal(
    { undone: after.comp.undone - before.comp.undone, failed: after.comp.failed - before.comp.failed, skipped: after.comp.skipped - before.comp.skipped },
    { undone: 1, failed: 1, skipped: 1 },
  );
  assert.is(after.ev.true - before.ev.true, 1);
  assert.is(after.ev.false - before.ev.false, 4);

  const metric = (await t.collect()).find(x => x.descriptor.name === METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS)!;
  assert.is(metric.descriptor.unit, '{compensation}');
  assert.ok(metric.descriptor.description.length > 0);
  const evicted = (await t.collect()).find(x => x.descriptor.name === METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED)!;
  assert.is(evicted.descriptor.unit, '{checkpoint}');
});

test('an undo hook cannot checkpoint, settle, clear or roll back its own manager (it would wait for itself)', async () => {
  const m = manager({ hookRetry: { maxAttempts: 1 } });
  const other = manager({ agentId: 'other' });
  const inner: unknown[] = [];
  let otherCheckpoint: unknown;
  m.registerRollbackHook('a', async (_n, _d, ctx) => {
    inner.push(await rejection(m.checkpoint('nested')));
    inner.push(await rejection(m.complete(ctx.idempotencyKey)));
    inner.push(await rejection(m.fail(ctx.idempotencyKey)));
    inner.push(await rejection(m.clear()));
    inner.push(await rejection(m.rollbackSteps(1)));
    inner.push(await rejection(m.rollbackTo(ctx.idempotencyKey)));
    inner.push(await rejection(m.rollbackToLastSafePoint()));
    otherCheckpoint = await other.checkpoint('fine'); // another manager is fine
  });
  await m.checkpoint('a');
  await m.rollbackSteps(1);
  assert.is(inner.length, 7);
  for (const err of inner) assert.match(String(err), /of agent "publisher" from inside one of its own undo hooks/);
  assert.match(String(inner[0]), /cannot take a checkpoint/);
  assert.ok(otherCheckpoint);
});

test('bad options throw naming the option', async () => {
  assert.throws(() => new RollbackManager({ agentId: 'a', maxCheckpoints: -3 }), /maxCheckpoints must be >= 1, got -3/);
  assert.throws(() => new RollbackManager({ agentId: 'a', executeHooks: true } as never), /unknown option "executeHooks"/);
  const m = manager();
  const bad = { traceId: 'XYZ', spanId: 'b7ad6b7169203331', traceFlags: 1 };
  assert.match(String(await rejection(m.checkpoint('x', { origin: bad }))), /origin.traceId must be 32 lowercase hex characters/);
});

test.run();
