import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryCheckpointStore } from '../../../src/patterns/rollback/checkpoint-store.js';
import {
  CheckpointLimitError,
  RollbackError,
  isCheckpointLimitError,
  isRollbackError,
  isRollbackTargetError,
  isSnapshotError,
} from '../../../src/patterns/rollback/rollback-errors.js';
import { RollbackEngine } from '../../../src/patterns/rollback/rollback-engine.js';
import type { RollbackHookContext, RollbackManagerOptions, RollbackObserver } from '../../../src/patterns/rollback/rollback-engine.js';
import type { ActionStatus } from '../../../src/patterns/rollback/checkpoint.js';
import { rejection } from '../../helpers/otel.js';
import type { SnapshotError } from '../../../src/patterns/rollback/rollback-errors.js';

interface Call {
  name: string;
  delta: unknown;
  key: string;
  status: ActionStatus;
  attempt: number;
}

/** An engine with an injected clock and delay: no test waits for real. */
function make(options: Partial<RollbackManagerOptions> = {}) {
  const delays: number[] = [];
  let now = 1_000;
  const engine = new RollbackEngine({
    agentId: 'agent-1',
    now: () => now++,
    delay: async ms => {
      delays.push(ms);
    },
    ...options,
  });
  const calls: Call[] = [];
  const record = (name: string, delta: unknown, ctx: RollbackHookContext): void => {
    calls.push({ name, delta, key: ctx.idempotencyKey, status: ctx.actionStatus, attempt: ctx.attempt });
  };
  return { engine, delays, calls, record };
}

const test = suite('rollback engine');

test('hooks run newest first, one at a time, with the delta and the checkpoint id as idempotency key', async () => {
  const { engine, calls } = make();
  let running = 0;
  let overlapped = false;
  for (const action of ['upload', 'notify', 'publish']) {
    engine.registerRollbackHook(action, async (name, delta, ctx) => {
      running++;
      if (running > 1) overlapped = true;
      await new Promise(resolve => setImmediate(resolve));
      calls.push({ name, delta, key: ctx.idempotencyKey, status: ctx.actionStatus, attempt: ctx.attempt });
      running--;
    });
  }
  await engine.checkpoint('start', { state: { step: 0 }, isSafePoint: true });
  const a = await engine.checkpoint('upload', { environmentDelta: { draftId: 'd1' } });
  const b = await engine.checkpoint('notify', { environmentDelta: { sent: 3 } });
  const c = await engine.checkpoint('publish', { environmentDelta: { url: '/x' } });
  const report = await engine.rollbackToLastSafePoint();
  assert.equal(calls.map(c => c.name), ['publish', 'notify', 'upload']);
  assert.equal(calls.map(c => c.key), [c.id, b.id, a.id]);
  assert.equal(calls.map(c => c.delta), [{ url: '/x' }, { sent: 3 }, { draftId: 'd1' }]);
  assert.ok(calls.every(c => c.status === 'completed' && c.attempt === 1));
  assert.not.ok(overlapped, 'hooks never overlap');
  assert.equal(report.entries.map(e => [e.checkpoint.name, e.outcome]), [
    ['publish', 'undone'],
    ['notify', 'undone'],
    ['upload', 'undone'],
    ['start', 'restored'],
  ]);
  assert.is(report.outcome, 'complete');
  assert.is(report.mode, 'last_safe_point');
  assert.is(report.steps, 4);
  assert.equal(report.state, { step: 0 });
  assert.is(engine.size, 0, 'undone checkpoints leave the manager');
});

test('checkpoint ids are unique and stable; seq increases; the clock stamps them', async () => {
  const { engine } = make();
  const a = await engine.checkpoint('a');
  const b = await engine.checkpoint('b');
  assert.match(a.id, /^[0-9a-f-]{36}-\d+$/);
  const other = await make().engine.checkpoint('a');
  assert.is.not(other.id.slice(0, 36), a.id.slice(0, 36), 'each manager has its own random prefix');
  assert.is.not(a.id, b.id);
  assert.ok(b.seq > a.seq);
  assert.ok(b.at > a.at);
  assert.equal((await engine.list()).map(c => c.id), [a.id, b.id]);
  assert.ok(Object.isFrozen(a));
});

test('rollbackTo(id) returns to the moment that checkpoint was taken; older ones stay', async () => {
  const { engine, calls, record } = make();
  for (const n of ['a', 'b', 'c', 'd']) engine.registerRollbackHook(n, record);
  const a = await engine.checkpoint('a', { state: 'before a' });
  const b = await engine.checkpoint('b', { state: 'before b' });
  await engine.checkpoint('c', { state: 'before c' });
  await engine.checkpoint('d', { state: 'before d' });
  const report = await engine.rollbackTo(b.id);
  assert.equal(calls.map(c => c.name), ['d', 'c', 'b']);
  assert.is(report.state, 'before b');
  assert.is(report.target.id, b.id);
  assert.is(report.mode, 'checkpoint_id');
  assert.is(report.steps, 3);
  assert.equal((await engine.list()).map(c => c.id), [a.id]);
});

test('rollbackSteps(n) undoes the n newest and returns the state of the oldest of them', async () => {
  const { engine, calls, record } = make();
  for (const n of ['a', 'b', 'c']) engine.registerRollbackHook(n, record);
  await engine.checkpoint('a', { state: 1 });
  await engine.checkpoint('b', { state: 2 });
  await engine.checkpoint('c', { state: 3 });
  const one = await engine.rollbackSteps(1);
  assert.equal(calls.map(c => c.name), ['c']);
  assert.is(one.state, 3);
  const two = await engine.rollbackSteps(2);
  assert.equal(calls.map(c => c.name), ['c', 'b', 'a']);
  assert.is(two.state, 1);
  assert.is(two.mode, 'steps');
  assert.is(engine.size, 0);
});

test('executeHooks: false only restores the state', async () => {
  const { engine, calls, record } = make();
  engine.registerRollbackHook('write', record);
  await engine.checkpoint('safe', { state: { v: 1 }, isSafePoint: true });
  await engine.checkpoint('write', { environmentDelta: { ids: [1] } });
  const report = await engine.rollbackToLastSafePoint({ executeHooks: false });
  assert.equal(calls, []);
  assert.equal(report.state, { v: 1 });
  assert.is(report.executeHooks, false);
  assert.ok(report.entries.every(e => e.outcome === 'restored' && e.attempts === 0));
  assert.is(report.outcome, 'complete');
});

test('seed parity: checkpoint after the fact with a delta, roll back to the safe point', async () => {
  const { engine, calls, record } = make({ maxCheckpoints: 100 });
  engine.registerRollbackHook('write_db', record);
  const agentState = { cursor: 10 };
  await engine.checkpoint('before_write', { state: agentState, isSafePoint: true });
  await engine.checkpoint('write_db', { state: { cursor: 11 }, environmentDelta: { inserted_ids: [1, 2, 3] } });
  const { state } = await engine.rollbackToLastSafePoint({ executeHooks: true });
  assert.equal(calls, [{ name: 'write_db', delta: { inserted_ids: [1, 2, 3] }, key: calls[0].key, status: 'completed', attempt: 1 }]);
  assert.equal(state, { cursor: 10 });
});

test('snapshots are independent of later mutation, and each restore is a fresh copy', async () => {
  const { engine, calls, record } = make();
  engine.registerRollbackHook('act', record);
  const state = { items: ['a'], nested: { n: 1 } };
  const delta = { ids: [1] };
  await engine.checkpoint('safe', { state, isSafePoint: true });
  await engine.checkpoint('act', { environmentDelta: delta });
  state.items.push('b');
  state.nested.n = 99;
  delta.ids.push(2);
  const report = await engine.rollbackToLastSafePoint();
  assert.equal(report.state, { items: ['a'], nested: { n: 1 } });
  assert.is.not(report.state, state);
  assert.equal(calls[0].delta, { ids: [1] });
});

test('structured mode keeps Map, Set, Date, BigInt, undefined and cycles', async () => {
  const { engine } = make();
  const state: Record<string, unknown> = {
    map: new Map([['k', { v: 1 }]]),
    set: new Set([1, 2]),
    when: new Date(86_400_000),
    big: 12345678901234567890n,
    missing: undefined,
    bytes: new Uint8Array([1, 2, 3]),
  };
  state.self = state;
  await engine.checkpoint('s', { state, isSafePoint: true });
  const restored = (await engine.rollbackToLastSafePoint()).state as Record<string, unknown>;
  assert.ok(restored.map instanceof Map);
  assert.equal((restored.map as Map<string, unknown>).get('k'), { v: 1 });
  assert.ok(restored.set instanceof Set);
  assert.ok(restored.when instanceof Date);
  assert.is((restored.when as Date).getTime(), 86_400_000);
  assert.is(restored.big, 12345678901234567890n);
  assert.ok('missing' in restored);
  assert.equal([...(restored.bytes as Uint8Array)], [1, 2, 3]);
  assert.is(restored.self, restored);
});

test('json mode is lossy the JSON way, and still a copy', async () => {
  const { engine } = make({ snapshot: 'json' });
  const state = { when: new Date(0), map: new Map([['k', 1]]), missing: undefined, list: [1] };
  await engine.checkpoint('s', { state, isSafePoint: true });
  state.list.push(2);
  const restored = (await engine.rollbackToLastSafePoint()).state as Record<string, unknown>;
  assert.equal(restored, { when: '1970-01-01T00:00:00.000Z', map: {}, list: [1] });
});

test('reference mode keeps the very object (for immutable state)', async () => {
  const { engine } = make({ snapshot: 'reference' });
  const state = Object.freeze({ v: 1 });
  await engine.checkpoint('s', { state, isSafePoint: true });
  assert.is((await engine.rollbackToLastSafePoint()).state, state);
});

test('a custom codec encodes at checkpoint time and decodes on restore', async () => {
  const seen: string[] = [];
  const { engine } = make({
    snapshot: {
      name: 'upper',
      encode: v => {
        seen.push('encode');
        return JSON.stringify(v).toUpperCase();
      },
      decode: d => {
        seen.push('decode');
        return JSON.parse(String(d));
      },
    },
  });
  await engine.checkpoint('s', { state: { a: 'x' }, isSafePoint: true });
  assert.equal((await engine.rollbackToLastSafePoint()).state, { A: 'X' });
  assert.equal(seen, ['encode', 'decode']);
});

test('a snapshot over maxSnapshotBytes is refused at checkpoint time with a clear error', async () => {
  const { engine } = make({ maxSnapshotBytes: 64 });
  await engine.checkpoint('small', { state: { ok: true } });
  const err = await rejection(engine.checkpoint('big', { state: { blob: 'x'.repeat(200) } }));
  assert.ok(isSnapshotError(err));
  const e = err as SnapshotError;
  assert.is(e.reason, 'too_large');
  assert.is(e.what, 'state');
  assert.is(e.limit, 64);
  assert.ok(e.bytes! > 200);
  assert.match(e.message, /maxSnapshotBytes \(64\)/);
  const deltaErr = await rejection(engine.checkpoint('big', { environmentDelta: 'y'.repeat(200) }));
  assert.ok(isSnapshotError(deltaErr));
  assert.is((deltaErr as { what: string }).what, 'environmentDelta');
  assert.is(engine.size, 1, 'refused checkpoints are not kept');
});

test('state that cannot be cloned faithfully fails at checkpoint time, naming the path', async () => {
  const { engine } = make();
  class Job {
    readonly id: string;
    constructor(id: string) {
      this.id = id;
    }
    run(): void {}
  }
  const cases: Array<[unknown, RegExp, string]> = [
    [{ handlers: { onDone: () => {} } }, /state\.handlers\.onDone is a function \(onDone\)/, 'state.handlers.onDone'],
    [{ jobs: [new Job('a')] }, /state\.jobs\[0\] is an instance of Job/, 'state.jobs[0]'],
    [{ pending: Promise.resolve(1) }, /an instance of Promise/, 'state.pending'],
    [{ weird: new Map([['k', Symbol('s')]]) }, /<map value #0> is a symbol/, 'state.weird<map value #0>'],
    [() => 1, /state is a function/, 'state'],
  ];
  for (const [state, message, path] of cases) {
    const err = await rejection(engine.checkpoint('s', { state }));
    assert.ok(isSnapshotError(err), String(err));
    assert.is((err as { reason: string }).reason, 'unsupported');
    assert.is((err as { path: string }).path, path);
    assert.match((err as Error).message, message);
  }
  assert.is(engine.size, 0);
});

test('json mode refuses cycles and BigInt at checkpoint time', async () => {
  const { engine } = make({ snapshot: 'json' });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const state of [cyclic, { n: 1n }]) {
    const err = await rejection(engine.checkpoint('s', { state }));
    assert.ok(isSnapshotError(err));
    assert.match((err as Error).message, /cannot be snapshotted with the json codec/);
    assert.ok((err as Error).cause instanceof TypeError);
  }
});

test('a failing hook is retried with backoff, then succeeds; attempts are counted', async () => {
  const { engine, delays } = make({ hookRetry: { maxAttempts: 4, initialDelayMs: 100, multiplier: 3, maxDelayMs: 500 } });
  const attempts: number[] = [];
  engine.registerRollbackHook('flaky', (_n, _d, ctx) => {
    attempts.push(ctx.attempt);
    if (ctx.attempt < 4) throw new Error(`boom ${ctx.attempt}`);
  });
  await engine.checkpoint('flaky');
  const retries: Array<[number, string, number]> = [];
  const observer: RollbackObserver = {
    rollback: (_r, run) => run(),
    compensate: (_c, run) => run({ retry: (attempt, error, delayMs) => retries.push([attempt, (error as Error).message, delayMs]) }),
  };
  const observed = new RollbackEngine({ agentId: 'x', delay: async ms => void delays.push(ms) }, observer);
  observed.registerRollbackHook('flaky', (_n, _d, ctx) => {
    if (ctx.attempt < 2) throw new Error('once');
  });
  await observed.checkpoint('flaky');
  await observed.rollbackSteps(1);
  assert.equal(retries, [[1, 'once', 200]]);

  delays.length = 0;
  const report = await engine.rollbackSteps(1);
  assert.equal(attempts, [1, 2, 3, 4]);
  assert.equal(delays, [100, 300, 500], 'exponential, capped at maxDelayMs');
  assert.is(report.entries[0].outcome, 'undone');
  assert.is(report.entries[0].attempts, 4);
});

test('shouldRetry: false fails on the first attempt', async () => {
  const { engine, delays } = make({ hookRetry: { shouldRetry: err => !(err instanceof TypeError) } });
  engine.registerRollbackHook('x', () => {
    throw new TypeError('permanent');
  });
  await engine.checkpoint('x');
  const err = await rejection(engine.rollbackSteps(1));
  assert.ok(isRollbackError(err));
  assert.is((err as RollbackError).report.entries[0].attempts, 1);
  assert.equal(delays, []);
});

/** [S, A, B, C] with B's hook failing always. */
async function plan(onHookFailure: 'continue' | 'stop') {
  const ctx = make({ onHookFailure, hookRetry: { maxAttempts: 2 } });
  const { engine, record } = ctx;
  let bBroken = true;
  const bError = new Error('recall service down');
  engine.registerRollbackHook('A', record);
  engine.registerRollbackHook('C', record);
  engine.registerRollbackHook('B', (name, delta, c) => {
    if (bBroken) throw bError;
    record(name, delta, c);
  });
  const s = await engine.checkpoint('S', { state: 'safe', isSafePoint: true });
  const a = await engine.checkpoint('A');
  const b = await engine.checkpoint('B');
  const c = await engine.checkpoint('C');
  return { ...ctx, bError, ids: { s: s.id, a: a.id, b: b.id, c: c.id }, fix: () => (bBroken = false) };
}

test('policy continue: the others are undone, state restored, then a RollbackError with the report', async () => {
  const { engine, calls, bError, ids } = await plan('continue');
  const err = await rejection(engine.rollbackToLastSafePoint());
  assert.ok(err instanceof RollbackError);
  assert.ok(err instanceof AggregateError);
  assert.ok(isRollbackError(err));
  const e = err as RollbackError;
  assert.is(e.name, 'RollbackError');
  assert.equal(e.errors, [bError]);
  assert.equal(calls.map(c => c.name), ['C', 'A']);
  const { report } = e;
  assert.is(report.outcome, 'partial');
  assert.is(report.restored, true);
  assert.is(report.state, 'safe');
  assert.equal(report.entries.map(x => [x.checkpoint.name, x.outcome, x.attempts]), [
    ['C', 'undone', 1],
    ['B', 'failed', 2],
    ['A', 'undone', 1],
    ['S', 'restored', 0],
  ]);
  assert.is(report.entries[1].error, bError);
  assert.match(e.message, /was partial: undoing "B" failed/);
  assert.equal((await engine.list()).map(c => c.id), [ids.s, ids.b], 'the failed checkpoint stays for a later attempt, and the target with it');
});

test('policy continue: the same rollback again retries only what failed and returns the target\'s state', async () => {
  const { engine, calls, fix } = await plan('continue');
  await rejection(engine.rollbackToLastSafePoint());
  fix();
  const report = await engine.rollbackToLastSafePoint();
  assert.equal(calls.map(c => c.name), ['C', 'A', 'B'], 'B undone at last; C and A not again');
  assert.is(report.outcome, 'complete');
  assert.is(report.state, 'safe');
  assert.equal(report.entries.map(x => [x.checkpoint.name, x.outcome]), [['B', 'undone'], ['S', 'restored']]);
  assert.is(engine.size, 0);
});

test('policy stop: stops at the failure, skips the older ones, keeps them; a later rollback resumes', async () => {
  const { engine, calls, ids, fix } = await plan('stop');
  const err = (await rejection(engine.rollbackToLastSafePoint())) as RollbackError;
  assert.ok(isRollbackError(err));
  assert.equal(calls.map(c => c.name), ['C']);
  assert.is(err.report.outcome, 'failed');
  assert.is(err.report.restored, false);
  assert.is(err.report.state, undefined);
  assert.equal(err.report.entries.map(x => x.outcome), ['undone', 'failed', 'skipped', 'skipped']);
  assert.match(err.message, /failed: undoing "B" failed; stopped; 2 older checkpoints skipped/);
  assert.equal((await engine.list()).map(c => c.id), [ids.s, ids.a, ids.b]);

  fix();
  const report = await engine.rollbackToLastSafePoint();
  assert.equal(calls.map(c => c.name), ['C', 'B', 'A']);
  assert.is(report.outcome, 'complete');
  assert.is(report.state, 'safe');
  assert.is(engine.size, 0);
});

test('the policy can be chosen per rollback', async () => {
  const { engine } = await plan('continue');
  const err = (await rejection(engine.rollbackToLastSafePoint({ onHookFailure: 'stop' }))) as RollbackError;
  assert.is(err.report.outcome, 'failed');
});

test('a hook that never settles times out (its signal aborts) and counts as failed', async () => {
  const { engine } = make({ hookTimeoutMs: 5, hookRetry: { maxAttempts: 1 } });
  let signal: AbortSignal | undefined;
  engine.registerRollbackHook('hang', (_n, _d, ctx) => {
    signal = ctx.signal;
    return new Promise(() => {});
  });
  await engine.checkpoint('hang');
  const err = (await rejection(engine.rollbackSteps(1))) as RollbackError;
  const cause = err.errors[0] as Error;
  assert.is(cause.name, 'TimeoutError');
  assert.match(cause.message, /did not finish within 5 ms/);
  assert.ok(signal?.aborted);
});

test('a hook for an action that never completed is told so', async () => {
  const { engine, calls, record } = make();
  for (const n of ['ok', 'failed', 'pending']) engine.registerRollbackHook(n, record);
  const ok = await engine.checkpoint('ok', { pending: true });
  const failed = await engine.checkpoint('failed', { pending: true });
  await engine.checkpoint('pending', { pending: true });
  const done = await engine.complete(ok.id, { environmentDelta: { id: 7 } });
  assert.is(done?.actionStatus, 'completed');
  assert.is((await engine.fail(failed.id))?.actionStatus, 'failed');
  await engine.rollbackSteps(3);
  assert.equal(calls.map(c => [c.name, c.status, c.delta]), [
    ['pending', 'pending', undefined],
    ['failed', 'failed', undefined],
    ['ok', 'completed', { id: 7 }],
  ]);
  assert.is(await engine.complete(ok.id), undefined, 'completing a checkpoint no longer held is a no-op');
});

test('a hook registered at checkpoint time but missing at rollback fails the checkpoint, loudly', async () => {
  const store = new MemoryCheckpointStore();
  const first = new RollbackEngine({ agentId: 'a', store });
  first.registerRollbackHook('write', () => {});
  await first.checkpoint('write');
  await first.checkpoint('note'); // never had a hook: only restored
  const second = new RollbackEngine({ agentId: 'a', store }); // "after a restart", hooks not registered
  const err = (await rejection(second.rollbackSteps(2))) as RollbackError;
  assert.equal(err.report.entries.map(e => e.outcome), ['restored', 'failed']);
  assert.is((err.errors[0] as Error).name, 'MissingRollbackHookError');
  assert.match((err.errors[0] as Error).message, /register the hooks again/);
});

test('rollback targets that do not exist throw RollbackTargetError and undo nothing', async () => {
  const { engine, calls, record } = make();
  engine.registerRollbackHook('a', record);
  await engine.checkpoint('a');
  const cases = [
    [engine.rollbackTo('no-such-id'), 'checkpoint_id', /no checkpoint "no-such-id"/],
    [engine.rollbackToLastSafePoint(), 'last_safe_point', /no safe point/],
    [engine.rollbackSteps(2), 'steps', /cannot roll back 2 steps: 1 checkpoint held/],
  ] as const;
  for (const [promise, mode, message] of cases) {
    const err = await rejection(promise);
    assert.ok(isRollbackTargetError(err));
    assert.is((err as { mode: string }).mode, mode);
    assert.match((err as Error).message, message);
  }
  assert.equal(calls, []);
  assert.is(engine.size, 1);
});

test('eviction: the oldest goes at the limit and is reported; its id is gone', async () => {
  const { engine } = make({ maxCheckpoints: 3 });
  const first = await engine.take('a');
  await engine.take('b');
  await engine.take('c');
  assert.equal(first.evicted, []);
  const fourth = await engine.take('d');
  assert.equal(fourth.evicted.map(c => c.name), ['a']);
  assert.is(fourth.evictedLastSafePoint, false);
  assert.equal((await engine.list()).map(c => c.name), ['b', 'c', 'd']);
  assert.ok(isRollbackTargetError(await rejection(engine.rollbackTo(first.checkpoint.id))));
});

test('eviction never drops the last safe point silently: refused by default', async () => {
  const { engine } = make({ maxCheckpoints: 3 });
  const safe = await engine.checkpoint('safe', { isSafePoint: true });
  await engine.checkpoint('a');
  await engine.checkpoint('b');
  const err = await rejection(engine.checkpoint('c'));
  assert.ok(err instanceof CheckpointLimitError);
  assert.ok(isCheckpointLimitError(err));
  assert.is((err as CheckpointLimitError).safePoint.id, safe.id);
  assert.match((err as Error).message, /would evict the last safe point "safe"/);
  assert.equal((await engine.list()).map(c => c.name), ['safe', 'a', 'b'], 'nothing changed');
  // With a newer safe point, the old one may go.
  await engine.rollbackSteps(1);
  await engine.checkpoint('safe2', { isSafePoint: true });
  const ok = await engine.take('c');
  assert.equal(ok.evicted.map(c => c.name), ['safe']);
  assert.is(ok.evictedLastSafePoint, false);
});

test("safePointEviction: 'evict' evicts it and says so", async () => {
  const { engine } = make({ maxCheckpoints: 2, safePointEviction: 'evict' });
  await engine.checkpoint('safe', { isSafePoint: true });
  await engine.checkpoint('a');
  const result = await engine.take('b');
  assert.equal(result.evicted.map(c => c.name), ['safe']);
  assert.is(result.evictedLastSafePoint, true);
  assert.ok(isRollbackTargetError(await rejection(engine.rollbackToLastSafePoint())));
});

test('checkpoints and rollbacks run in call order: a checkpoint asked for during a rollback waits for it', async () => {
  const { engine } = make();
  let release!: () => void;
  const gate = new Promise<void>(resolve => (release = resolve));
  engine.registerRollbackHook('slow', () => gate);
  await engine.checkpoint('safe', { isSafePoint: true });
  await engine.checkpoint('slow');
  const rolling = engine.rollbackToLastSafePoint();
  const later = engine.checkpoint('later');
  await new Promise(resolve => setImmediate(resolve));
  assert.is(engine.size, 2, 'the new checkpoint is not pushed while the rollback runs');
  release();
  await rolling;
  await later;
  assert.equal((await engine.list()).map(c => c.name), ['later']);
});

test('clear() forgets everything without running hooks', async () => {
  const { engine, calls, record } = make();
  engine.registerRollbackHook('a', record);
  await engine.checkpoint('a');
  await engine.checkpoint('a');
  assert.is(await engine.clear(), 2);
  assert.is(engine.size, 0);
  assert.equal(calls, []);
});

test('a restore that cannot decode fails the rollback and keeps the target', async () => {
  let broken = false;
  const { engine } = make({
    snapshot: {
      name: 'fragile',
      encode: v => JSON.stringify(v),
      decode: d => {
        if (broken) throw new Error('corrupt');
        return JSON.parse(String(d));
      },
    },
  });
  const safe = await engine.checkpoint('safe', { state: { v: 1 }, isSafePoint: true });
  broken = true;
  const err = (await rejection(engine.rollbackToLastSafePoint())) as RollbackError;
  assert.is(err.report.outcome, 'failed');
  assert.is(err.report.restored, false);
  assert.match(err.message, /restoring the state failed/);
  assert.equal((await engine.list()).map(c => c.id), [safe.id]);
});

test('the observer wraps the rollback and each compensation in order; a throwing observer cannot stop a hook', async () => {
  const events: string[] = [];
  const observer: RollbackObserver = {
    async rollback(request, run) {
      events.push(`rollback ${request.mode}`);
      const report = await run();
      events.push(`end ${report.outcome}`);
      return report;
    },
    async compensate(checkpoint, run) {
      events.push(`compensate ${checkpoint.name}`);
      if (checkpoint.name === 'b') throw new Error('observer bug');
      return run({ retry() {} });
    },
  };
  const engine = new RollbackEngine({ agentId: 'o' }, observer);
  const ran: string[] = [];
  for (const n of ['a', 'b']) engine.registerRollbackHook(n, name => void ran.push(name));
  await engine.checkpoint('a');
  await engine.checkpoint('b');
  await engine.rollbackSteps(2);
  assert.equal(events, ['rollback steps', 'compensate b', 'compensate a', 'end complete']);
  assert.equal(ran, ['b', 'a']);
});

test('bad options throw TypeError/RangeError naming the option', () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /agentId must be a non-empty string/],
    [{ agentId: 'a', maxCheckpoints: 0 }, /maxCheckpoints must be >= 1, got 0/],
    [{ agentId: 'a', maxCheckpoints: 1.5 }, /maxCheckpoints must be an integer/],
    [{ agentId: 'a', safePointEviction: 'drop' }, /safePointEviction must be one of "refuse", "evict", got "drop"/],
    [{ agentId: 'a', snapshot: 'deep' }, /snapshot must be one of "structured", "json", "reference"/],
    [{ agentId: 'a', snapshot: { name: 'json', encode() {}, decode() {} } }, /snapshot.name must not be a built-in mode name/],
    [{ agentId: 'a', snapshot: { name: 'x', encode() {} } }, /snapshot.decode must be a function/],
    [{ agentId: 'a', maxSnapshotBytes: -1 }, /maxSnapshotBytes must be >= 1/],
    [{ agentId: 'a', store: { put() {} } }, /store.get must be a function/],
    [{ agentId: 'a', onHookFailure: 'ignore' }, /onHookFailure must be one of "continue", "stop"/],
    [{ agentId: 'a', hookRetry: { maxAttempts: 0 } }, /hookRetry.maxAttempts must be >= 1/],
    [{ agentId: 'a', hookRetry: { retries: 3 } }, /hookRetry: unknown option "retries"/],
    [{ agentId: 'a', hookRetry: { multiplier: 0.5 } }, /hookRetry.multiplier must be >= 1/],
    [{ agentId: 'a', hookTimeoutMs: 0 }, /hookTimeoutMs must be >= 1/],
    [{ agentId: 'a', delay: 5 }, /delay must be a function/],
    [{ agentId: 'a', now: 'today' }, /now must be a function/],
    [{ agentId: 'a', maxDepth: 3 }, /RollbackManager: unknown option "maxDepth"/],
    [{ agentId: 'a', snapshot: 'reference', store: { persistent: true, put() {}, get() {}, list() {}, delete() {} } }, /snapshot must not be "reference" with a persistent store/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new RollbackEngine(options as never), message, JSON.stringify(options));
  }
  // Infinity turns limits off.
  new RollbackEngine({ agentId: 'a', maxSnapshotBytes: Infinity, hookTimeoutMs: Infinity });
});

test('bad call arguments reject naming the argument', async () => {
  const { engine } = make();
  assert.match(String(await rejection(engine.checkpoint(''))), /name must be a non-empty string/);
  assert.match(String(await rejection(engine.checkpoint('a', { isSafePoint: 'yes' } as never))), /isSafePoint must be a boolean/);
  assert.match(String(await rejection(engine.checkpoint('a', { safe: true } as never))), /checkpoint: unknown option "safe"/);
  assert.match(String(await rejection(engine.rollbackSteps(0))), /steps must be >= 1, got 0/);
  assert.match(String(await rejection(engine.rollbackSteps(1, { hooks: false } as never))), /rollback: unknown option "hooks"/);
  assert.throws(() => engine.registerRollbackHook('a', 'nope' as never), /hook must be a function/);
});

test.run();
