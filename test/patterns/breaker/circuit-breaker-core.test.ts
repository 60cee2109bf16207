import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CIRCUIT_BREAKER_DEFAULTS } from '../../../src/patterns/breaker/circuit-breaker-options.js';
import { CircuitOpenError, isCircuitOpenError } from '../../../src/patterns/breaker/circuit-open-error.js';
import { exponentialCooldown } from '../../../src/patterns/breaker/cooldown.js';
import { consecutiveFailures, failureRate, slowCallRate } from '../../../src/patterns/breaker/trip-strategies.js';
import { rejection } from '../../helpers/otel.js';
import { ManualClock, TestBreaker, runTable } from './breaker-harness.js';

// ── Transition tables, one per trip mode and their combination ─────────────

const tables = suite('circuit breaker: transition tables');

tables('consecutive failures: N in a row open it; a success starts the count again', () => {
  const b = runTable({ trip: consecutiveFailures(3), cooldownMs: 1_000 }, [
    ['ok', 'closed'],
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['ignore', 'closed'], // ignored: neither breaks nor extends the run
    ['fail', 'open'],
    ['reason', 'consecutive_failures'],
    ['reject', 'open'],
    ['wait', 999, 'open'],
    ['reject', 'open'],
    ['wait', 1, 'half_open'],
    ['reason', 'cooldown_elapsed'],
    ['ok', 'closed'],
    ['reason', 'probes_succeeded'],
    ['fail', 'closed'],
    ['fail', 'closed'], // the count started again after closing
  ]);
  assert.equal(
    b.transitions.map(t => `${t.from}>${t.to}`),
    ['closed>open', 'open>half_open', 'half_open>closed'],
  );
});

tables('failure rate over a time window: threshold, minimum calls, expiry by elapsed time', () => {
  const rate = failureRate({ threshold: 0.5, windowMs: 10_000, bucketMs: 1_000, minimumCalls: 4 });
  runTable({ trip: rate, cooldownMs: 5_000 }, [
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['fail', 'closed'], // 3 of 3 failed, but fewer than minimumCalls
    ['ok', 'open'], // 4 calls, 75 %: a success completes the minimum and the rate counts
    ['reason', 'failure_rate'],
  ]);
  runTable({ trip: rate }, [
    ['ok', 'closed'],
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['fail', 'open'], // exactly 50 % counts (≥)
  ]);
  runTable({ trip: rate }, [
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['wait', 10_000, 'closed'], // the whole window expired
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['ok', 'closed'],
    ['ok', 'closed'], // 1 of 4
  ]);
});

tables('the idle gap: failures from before an hour of silence are gone (cockatiel SamplingBreaker keeps them)', () => {
  const trip = failureRate({ threshold: 0.5, windowMs: 5_000, bucketMs: 1_000, minimumCalls: 20 });
  const clock = new ManualClock();
  const b = new TestBreaker({ trip, now: clock.now });
  for (let i = 0; i < 19; i++) {
    b.call('failure', clock);
    clock.advance(250); // 19 failures spread over the window, one short of minimumCalls
  }
  assert.is(b.state, 'closed');
  clock.advance(3_600_000);
  b.call('failure', clock);
  assert.is(b.state, 'closed', 'one failure after the gap is one call in the window, not the twentieth');
  for (let i = 0; i < 18; i++) b.call('failure', clock);
  assert.is(b.state, 'closed');
  b.call('failure', clock);
  assert.is(b.state, 'open', 'twenty fresh failures do open it');
});

tables('failure rate over the last N calls', () => {
  runTable({ trip: failureRate({ threshold: 0.5, windowCalls: 4 }) }, [
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['ok', 'open'], // minimumCalls defaults to the window size
  ]);
  runTable({ trip: failureRate({ threshold: 0.5, windowCalls: 4 }) }, [
    ['ok', 'closed'],
    ['ok', 'closed'],
    ['ok', 'closed'],
    ['ok', 'closed'],
    ['fail', 'closed'], // [ok ok ok fail]
    ['wait', 86_400_000, 'closed'], // time does not matter to a count window
    ['fail', 'open'], // [ok ok fail fail]
  ]);
});

tables('slow-call rate: slow successes count as `slow`, a slow failure is still slow', () => {
  const b = runTable({ trip: slowCallRate({ threshold: 0.5, slowCallMs: 100, windowCalls: 4 }) }, [
    ['slow', 99, 'closed'],
    ['slow', 100, 'closed'],
    ['ok', 'closed'],
    ['slowfail', 250, 'open'], // 2 of 4 slow
    ['reason', 'slow_call_rate'],
  ]);
  assert.equal(b.stats().calls, { success: 2, failure: 1, ignored: 0, rejected: 0, slow: 1 });
});

tables('combined strategies: whichever fires first opens it, and names itself', () => {
  const trip = [consecutiveFailures(3), failureRate({ threshold: 0.5, windowCalls: 10, minimumCalls: 4 })];
  runTable({ trip }, [
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['fail', 'closed'],
    ['ok', 'open'],
    ['reason', 'failure_rate'],
  ]);
  runTable({ trip }, [
    ['fail', 'closed'],
    ['fail', 'closed'],
    ['fail', 'open'],
    ['reason', 'consecutive_failures'],
  ]);
  runTable({ trip: [...trip, slowCallRate({ threshold: 1, slowCallMs: 50, windowCalls: 2 })] }, [
    ['slow', 60, 'closed'],
    ['slow', 60, 'open'],
    ['reason', 'slow_call_rate'],
  ]);
});

tables('defaults: never open on the first failure of a fresh breaker; 5 in a row do', () => {
  const steps: ['fail', 'closed'][] = Array.from({ length: CIRCUIT_BREAKER_DEFAULTS.failureThreshold - 1 }, () => ['fail', 'closed'] as ['fail', 'closed']);
  runTable({}, [...steps, ['fail', 'open'], ['reason', 'consecutive_failures'], ['wait', 29_999, 'open'], ['wait', 1, 'half_open']]);
  // the default error rate needs 10 calls: 5 of 10 open it even without a run of 5
  runTable({}, [
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['fail', 'closed'],
    ['ok', 'closed'],
    ['ok', 'closed'],
    ['fail', 'open'],
    ['reason', 'failure_rate'],
  ]);
  // seed-style shorthands
  runTable({ failureThreshold: 2, errorRateThreshold: 0.9, errorRateWindowMs: 1_000, cooldownMs: 10 }, [
    ['fail', 'closed'],
    ['fail', 'open'],
    ['wait', 10, 'half_open'],
  ]);
});

tables('half-open: every probe must succeed; one failure re-opens', () => {
  runTable({ trip: consecutiveFailures(1), cooldownMs: 100, halfOpenProbes: 2 }, [
    ['fail', 'open'],
    ['wait', 100, 'half_open'],
    ['ok', 'half_open'],
    ['ok', 'closed'],
    ['fail', 'open'],
    ['wait', 100, 'half_open'],
    ['ok', 'half_open'],
    ['fail', 'open'],
    ['reason', 'probe_failed'],
    ['wait', 100, 'half_open'],
    ['ignore', 'half_open'], // an ignored probe frees its slot and decides nothing
    ['ok', 'half_open'],
    ['ok', 'closed'],
  ]);
});

tables('half-open: a slow probe re-opens when slow calls trip the breaker', () => {
  runTable({ trip: [consecutiveFailures(1), slowCallRate({ threshold: 1, slowCallMs: 50, windowCalls: 5 })], cooldownMs: 10 }, [
    ['fail', 'open'],
    ['wait', 10, 'half_open'],
    ['slow', 60, 'open'],
    ['reason', 'probe_slow'],
    ['wait', 10, 'half_open'],
    ['slow', 49, 'closed'],
  ]);
});

tables('cooldown: grows on each re-opening up to maxCooldownMs, back to the start after closing', () => {
  runTable({ trip: consecutiveFailures(1), cooldownMs: exponentialCooldown(1_000), maxCooldownMs: 3_000 }, [
    ['fail', 'open'],
    ['wait', 999, 'open'],
    ['wait', 1, 'half_open'],
    ['fail', 'open'], // second opening: 2 s
    ['wait', 1_999, 'open'],
    ['wait', 1, 'half_open'],
    ['fail', 'open'], // third: 4 s, capped at 3 s
    ['wait', 2_999, 'open'],
    ['wait', 1, 'half_open'],
    ['ok', 'closed'],
    ['fail', 'open'], // first opening again: 1 s
    ['wait', 1_000, 'half_open'],
  ]);
});

tables('lazy transitions carry their due time, whenever they are observed', () => {
  const b = runTable({ trip: consecutiveFailures(1), cooldownMs: 1_000 }, [['fail', 'open']]);
  const openedAt = b.transitions[0].at;
  b.now(); // reading the clock is not asking the breaker
  assert.is(b.transitions.length, 1);
  // nobody asks for an hour; then a read applies the transition at its due time
  const later = new ManualClock(openedAt + 3_600_000);
  const late = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 1_000, now: later.now, initialState: b.toJSON() });
  assert.is(late.state, 'half_open');
  assert.is(late.transitions[0].at, openedAt + 1_000);
  assert.is(late.since, openedAt + 1_000);
});

tables.run();

// ── Half-open probes under concurrency, waiting, and the stuck case ────────

const probes = suite('circuit breaker: half-open probes');

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function openThenCool(b: TestBreaker, clock: ManualClock, cooldownMs: number): Promise<void> {
  await rejection(b.execute(() => Promise.reject(new Error('down'))));
  assert.is(b.state, 'open');
  clock.advance(cooldownMs);
  assert.is(b.state, 'half_open');
}

probes('many calls started together while half-open: exactly halfOpenProbes reach the tool', async () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 1_000, halfOpenProbes: 3, now: clock.now });
  await openThenCool(b, clock, 1_000);
  const gate = deferred();
  let reached = 0;
  const tool = async () => {
    reached++;
    await gate.promise;
    return 'ok';
  };
  const calls = Array.from({ length: 25 }, () => b.execute(tool).then(
    v => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  ));
  await Promise.resolve();
  assert.is(reached, 3);
  gate.resolve();
  const results = await Promise.all(calls);
  assert.is(results.filter(r => r.ok).length, 3);
  const rejected = results.filter(r => !r.ok).map(r => (r as { e: unknown }).e);
  assert.is(rejected.length, 22);
  assert.ok(rejected.every(e => isCircuitOpenError(e) && e.state === 'half_open' && e.retryAt === undefined));
  assert.is(b.state, 'closed');
  assert.equal(b.stats().calls, { success: 3, failure: 1, ignored: 0, rejected: 22, slow: 0 });
});

probes('halfOpenWaitMs: calls beyond the probes wait for the verdict, then run (closed) …', async () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 10, halfOpenWaitMs: 60_000, now: clock.now });
  await openThenCool(b, clock, 10);
  const gate = deferred();
  let reached = 0;
  const calls = Array.from({ length: 6 }, (_, i) =>
    b.execute(async () => {
      reached++;
      if (i === 0) await gate.promise;
      return i;
    }),
  );
  await new Promise(resolve => setImmediate(resolve));
  assert.is(reached, 1, 'only the probe runs while the verdict is pending');
  gate.resolve();
  assert.equal(await Promise.all(calls), [0, 1, 2, 3, 4, 5]);
  assert.is(reached, 6);
  assert.is(b.state, 'closed');
});

probes('… or are rejected when the probe fails, end early on abort, and give up after halfOpenWaitMs', async () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 10, halfOpenWaitMs: 60_000, now: clock.now });
  await openThenCool(b, clock, 10);
  const gate = deferred();
  let reached = 0;
  const probe = b.execute(async () => {
    reached++;
    await gate.promise;
  });
  const waiting = b.execute(async () => void reached++);
  const controller = new AbortController();
  const aborted = b.execute(async () => void reached++, controller.signal);
  controller.abort(new Error('caller gave up'));
  assert.is(((await rejection(aborted)) as Error).message, 'caller gave up');
  gate.reject(new Error('still down'));
  await rejection(probe);
  const err = await rejection(waiting);
  assert.ok(isCircuitOpenError(err));
  assert.is((err as CircuitOpenError).state, 'open');
  assert.is(reached, 1);
  assert.is(b.stats().calls.ignored, 1, 'the abandoned wait counts as ignored, not as a failure');

  const short = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 10, halfOpenWaitMs: 5, now: clock.now });
  await openThenCool(short, clock, 10);
  const hung = deferred();
  const held = short.execute(() => hung.promise);
  const err2 = await rejection(short.execute(async () => 'never'));
  assert.ok(isCircuitOpenError(err2), 'a wait longer than halfOpenWaitMs is rejected');
  hung.resolve();
  await held;
});

probes('halfOpenWaitMs: after the close the waiters enter as a slow start, not all at once', async () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 10, halfOpenWaitMs: 60_000, now: clock.now });
  await openThenCool(b, clock, 10);
  const probeGate = deferred();
  const gates: Array<ReturnType<typeof deferred<void>>> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const probe = b.execute(() => probeGate.promise);
  const waiters = Array.from({ length: 1_000 }, () =>
    b.execute(async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const gate = deferred();
      gates.push(gate);
      await gate.promise;
      inFlight--;
    }),
  );
  const settle = () => new Promise(resolve => setImmediate(resolve));
  await settle();
  assert.is(gates.length, 0, 'nobody but the probe runs while the verdict is pending');
  probeGate.resolve();
  await probe;
  await settle();
  assert.is(b.state, 'closed');
  assert.is(gates.length, 1, 'the close lets in halfOpenProbes (1) waiter');
  gates[0].resolve();
  await settle();
  assert.is(gates.length, 3, 'each completed call lets in two more');
  gates[1].resolve();
  gates[2].resolve();
  await settle();
  assert.is(gates.length, 7);
  // Release the rest as they come in.
  for (let i = 3; i < 1_000; i++) {
    while (gates.length <= i) await settle();
    gates[i].resolve();
  }
  await Promise.all(waiters);
  assert.ok(maxInFlight < 1_000 / 2, `at most a slow start in flight at once (saw ${maxInFlight})`);
  assert.equal(b.stats().calls.rejected, 0);
});

probes('halfOpenWaitMs: a waiter never becomes the probe of a later half-open window', async () => {
  const clock = new ManualClock();
  // cooldownMs 0: the window after a failed probe is due at once.
  const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 0, maxCooldownMs: 0, halfOpenWaitMs: 60_000, now: clock.now });
  await rejection(b.execute(async () => { throw new Error('down'); }));
  const probeGate = deferred();
  let ran = 0;
  const probe = b.execute(() => probeGate.promise);
  assert.is(b.state, 'half_open');
  const waiting = b.execute(async () => void ran++);
  probeGate.reject(new Error('still down'));
  await rejection(probe);
  const err = await rejection(waiting);
  assert.ok(isCircuitOpenError(err), 'the waiter is rejected with its window');
  assert.is(ran, 0, 'it did not run as the next window\'s probe');
  // The next window's probe is a fresh call.
  assert.is(await b.execute(async () => 'fresh'), 'fresh');
  assert.is(b.state, 'closed');
});

probes('stuck half-open: probes silent for maxHalfOpenMs re-open it; their late answer is stale', async () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 1_000, maxHalfOpenMs: 5_000, now: clock.now });
  await openThenCool(b, clock, 1_000);
  const hung = deferred<string>();
  const probe = b.execute(() => hung.promise);
  clock.advance(4_999);
  assert.is(b.state, 'half_open');
  assert.ok(b.rejects());
  clock.advance(1);
  assert.is(b.state, 'open');
  assert.is(b.transitions.at(-1)?.reason, 'probe_timeout');
  clock.advance(1_000);
  assert.is(b.state, 'half_open', 'a fresh probe slot after the cooldown');
  hung.resolve('late');
  assert.is(await probe, 'late');
  assert.is(b.state, 'half_open', 'the stale probe decides nothing');
  await b.execute(async () => 'fresh');
  assert.is(b.state, 'closed');
});

probes('the probe deadline runs from the last probe event: progress keeps a slow half-open alive', () => {
  for (const progress of ['ignored', 'success'] as const) {
    const clock = new ManualClock();
    const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: 10, halfOpenProbes: 3, maxHalfOpenMs: 100, now: clock.now });
    b.call('failure', clock);
    clock.advance(10);
    const first = b.admit() as number;
    clock.advance(60);
    void b.admit(); // second probe: deadline now 160 ms after the first
    clock.advance(60);
    b.record(first, progress); // progress at 120 ms: deadline 220 ms
    clock.advance(90);
    assert.is(b.state, 'half_open', `${progress}: the deadline moved with the progress`);
    clock.advance(10);
    assert.is(b.state, 'open', `${progress}: silent for maxHalfOpenMs since the last event`);
    assert.is(b.transitions.at(-1)?.reason, 'probe_timeout');
    assert.is(b.transitions.at(-1)?.at, b.transitions.at(-2)!.at + 220);
  }
});

probes('an idle half-open breaker without a probe in flight waits for a caller (not stuck)', () => {
  const b = runTable({ trip: consecutiveFailures(1), cooldownMs: 10, maxHalfOpenMs: 100 }, [
    ['fail', 'open'],
    ['wait', 10, 'half_open'],
    ['wait', 10_000, 'half_open'],
    ['ok', 'closed'],
  ]);
  assert.is(b.transitions.length, 3);
});

probes('results of calls admitted before a transition count in stats but decide nothing', async () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(2), cooldownMs: 10, now: clock.now });
  const slow = deferred();
  const early = b.execute(() => slow.promise); // admitted while closed
  await rejection(b.execute(() => Promise.reject(new Error('x'))));
  await rejection(b.execute(() => Promise.reject(new Error('x'))));
  assert.is(b.state, 'open');
  clock.advance(10);
  assert.is(b.state, 'half_open');
  slow.resolve();
  await early;
  assert.is(b.state, 'half_open', 'a success from the closed era does not close it');
  assert.is(b.stats().calls.success, 1);
});

probes.run();

// ── What counts: predicates, ignored, aborts ───────────────────────────────

const counting = suite('circuit breaker: what counts');

class RateLimited extends Error {
  override name = 'RateLimited';
}

counting('classifyError: an ignored error counts for neither side', async () => {
  const b = new TestBreaker({
    trip: consecutiveFailures(2),
    classifyError: e => (e instanceof RateLimited ? 'ignored' : 'failure'),
  });
  await rejection(b.execute(() => Promise.reject(new Error('boom'))));
  for (let i = 0; i < 5; i++) await rejection(b.execute(() => Promise.reject(new RateLimited())));
  assert.is(b.state, 'closed', 'the run of failures is neither broken nor extended');
  await rejection(b.execute(() => Promise.reject(new Error('boom'))));
  assert.is(b.state, 'open');
  assert.equal(b.stats().calls, { success: 0, failure: 2, ignored: 5, rejected: 0, slow: 0 });
});

counting('classifyResult: a returned value can be a failure', async () => {
  const b = new TestBreaker({
    trip: consecutiveFailures(2),
    classifyResult: r => ((r as { status: number }).status >= 500 ? 'failure' : 'success'),
  });
  assert.equal(await b.execute(async () => ({ status: 503 })), { status: 503 }, 'the result is returned unchanged');
  await b.execute(async () => ({ status: 503 }));
  assert.is(b.state, 'open');
});

counting('a throwing or misbehaving classifier counts a failure and is reported', async () => {
  const b = new TestBreaker({
    trip: consecutiveFailures(2),
    classifyResult: () => {
      throw new Error('classifier bug');
    },
    classifyError: () => 'maybe' as never,
  });
  assert.is(await b.execute(async () => 'fine'), 'fine');
  await rejection(b.execute(() => Promise.reject(new Error('x'))));
  assert.is(b.state, 'open');
  assert.is(b.reports.length, 2);
  assert.match(b.reports[0].message, /classifyResult .* threw/);
  assert.match(b.reports[1].message, /classifyError .* returned "maybe"/);
});

counting('an abort by the caller is never a failure, whatever the tool throws', async () => {
  const b = new TestBreaker({ trip: consecutiveFailures(1) });
  const controller = new AbortController();
  const run = b.execute(async () => {
    await new Promise(resolve => setImmediate(resolve));
    throw new Error('socket hang up'); // what a tool may throw when its request is cut
  }, controller.signal);
  controller.abort();
  await rejection(run);
  assert.is(b.state, 'closed');
  // an AbortError is ignored by the default classifier even without a signal
  const abortError = Object.assign(new Error('aborted'), { name: 'AbortError' });
  await rejection(b.execute(() => Promise.reject(abortError)));
  assert.is(b.state, 'closed');
  assert.equal(b.stats().calls, { success: 0, failure: 0, ignored: 2, rejected: 0, slow: 0 });
  // an already aborted signal: the tool is not called, nothing is counted
  let called = false;
  const gone = await rejection(b.execute(async () => void (called = true), AbortSignal.abort(new Error('gone'))));
  assert.is((gone as Error).message, 'gone');
  assert.not.ok(called);
  assert.is(b.stats().calls.ignored, 2);
});

counting('protect(fn) keeps `this` and the arguments; execute returns what the tool returns', async () => {
  const b = new TestBreaker({});
  const service = {
    prefix: 'svc',
    rank: b.protect(function (this: { prefix: string }, user: string, ids: string[]) {
      return `${this.prefix}:${user}:${ids.join(',')}`;
    }),
  };
  assert.is(await service.rank('u1', ['p1', 'p2']), 'svc:u1:p1,p2');
  assert.is(await b.execute(() => 42), 42);
  assert.is(b.stats().calls.success, 2);
});

counting.run();

// ── Manual control, metricsOnly, serialisation ─────────────────────────────

const control = suite('circuit breaker: isolate, reset, metricsOnly, toJSON');

control('isolate() holds it open (ref-counted); the last release closes it', () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ cooldownMs: 10, now: clock.now });
  const first = b.isolate();
  const second = b.isolate();
  assert.is(b.state, 'open');
  assert.ok(b.isolated);
  clock.advance(3_600_000);
  assert.is(b.state, 'open', 'no cooldown while isolated');
  let err: unknown;
  try {
    void b.admit();
  } catch (e) {
    err = e;
  }
  assert.ok(isCircuitOpenError(err));
  assert.is((err as CircuitOpenError).isolated, true);
  assert.is((err as CircuitOpenError).retryAt, undefined);
  assert.match((err as Error).message, /isolated until released/);
  first.release();
  first.release(); // idempotent
  assert.is(b.state, 'open');
  second.release();
  assert.is(b.state, 'closed');
  assert.equal(b.transitions.map(t => t.reason), ['isolated', 'released']);
});

control('reset() closes an open breaker and forgets counts and backoff; an isolation outlives it', () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(2), cooldownMs: exponentialCooldown(100), now: clock.now });
  b.call('failure', clock);
  b.reset();
  b.call('failure', clock);
  assert.is(b.state, 'closed', 'the first failure was forgotten');
  b.call('failure', clock);
  assert.is(b.state, 'open');
  b.reset();
  assert.is(b.state, 'closed');
  assert.is(b.transitions.at(-1)?.reason, 'reset');
  const hold = b.isolate();
  b.reset();
  assert.is(b.state, 'open');
  hold.release();
  assert.is(b.state, 'closed');
});

control('metricsOnly: never rejects, still changes state and counts would-be rejections', () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(2), cooldownMs: 100, metricsOnly: true, now: clock.now });
  b.call('failure', clock);
  b.call('failure', clock);
  assert.is(b.state, 'open');
  b.call('success', clock); // runs, though the breaker is open
  b.call('failure', clock); // its result is not fed back: still open, no re-trip
  assert.is(b.state, 'open');
  clock.advance(100);
  b.call('success', clock); // the probe
  assert.is(b.state, 'closed');
  assert.equal(b.stats().calls, { success: 1, failure: 2, ignored: 0, rejected: 2, slow: 0 });
  const hold = b.isolate();
  assert.ok(b.rejects(), 'isolate() still rejects in metricsOnly mode');
  hold.release();
});

control('toJSON round trip: counts, open state, backoff and windows survive a restart', () => {
  const clock = new ManualClock();
  const trip = [consecutiveFailures(3), failureRate({ threshold: 0.5, windowMs: 10_000, minimumCalls: 6 })];
  const options = { trip, cooldownMs: exponentialCooldown(1_000), now: clock.now };
  const a = new TestBreaker(options);
  a.call('failure', clock);
  a.call('failure', clock);
  a.call('success', clock);
  a.call('failure', clock);
  const saved = JSON.parse(JSON.stringify(a));
  const b = new TestBreaker({ ...options, initialState: saved });
  assert.equal(b.toJSON(), a.toJSON());
  for (const x of [a, b]) x.call('failure', clock);
  assert.equal(b.toJSON(), a.toJSON());
  for (const x of [a, b]) x.call('success', clock);
  assert.is(a.state, 'open', 'the window counted 4 failures of 6');
  assert.is(b.state, 'open');

  const open = JSON.parse(JSON.stringify(a));
  assert.is(open.state, 'open');
  const c = new TestBreaker({ ...options, initialState: open });
  assert.ok(c.rejects());
  clock.advance(999);
  assert.ok(c.rejects());
  clock.advance(1);
  c.call('failure', clock);
  assert.is(c.state, 'open');
  const d = new TestBreaker({ ...options, initialState: JSON.parse(JSON.stringify(c)) });
  clock.advance(1_999);
  assert.is(d.state, 'open', 'the second opening waits 2 s: the backoff survived');
  clock.advance(1);
  assert.is(d.state, 'half_open');
  const e = new TestBreaker({ ...options, initialState: JSON.parse(JSON.stringify(d)) });
  assert.is(e.state, 'half_open', 'a half-open breaker restarts ready to probe');
});

control('a saved state that does not fit the strategies starts them empty, and says so', () => {
  const clock = new ManualClock();
  const a = new TestBreaker({ trip: failureRate({ threshold: 0.5, windowCalls: 10 }), now: clock.now });
  a.call('failure', clock);
  const b = new TestBreaker({ trip: failureRate({ threshold: 0.5, windowCalls: 20 }), now: clock.now, initialState: a.toJSON() });
  assert.is(b.reports.length, 1);
  assert.match(b.reports[0].message, /does not fit/);
  const c = new TestBreaker({ trip: consecutiveFailures(2), now: clock.now, initialState: a.toJSON() });
  assert.is(c.reports.length, 0, 'another strategy under the same index is skipped silently');
});

control('CircuitOpenError: branded, names the breaker, since when, and when it probes again', () => {
  const clock = new ManualClock(Date.UTC(2025, 0, 1));
  const b = new TestBreaker({ name: 'rank_content', agentId: 'ranker', trip: consecutiveFailures(1), cooldownMs: 30_000, now: clock.now });
  b.call('failure', clock);
  let err: unknown;
  try {
    void b.admit();
  } catch (e) {
    err = e;
  }
  assert.instance(err, CircuitOpenError);
  const e = err as CircuitOpenError;
  assert.is(e.name, 'CircuitOpenError');
  assert.is(e.breakerName, 'rank_content');
  assert.is(e.agentId, 'ranker');
  assert.is(e.state, 'open');
  assert.is(e.openedAt, Date.UTC(2025, 0, 1));
  assert.is(e.retryAt, Date.UTC(2025, 0, 1) + 30_000);
  assert.is(e.message, 'circuit breaker "rank_content" is open; next probe after 2025-01-01T00:00:30.000Z (open since 2025-01-01T00:00:00.000Z, agent "ranker")');
  const foreign = Object.assign(new Error('x'), { [Symbol.for('agent-safety-otel/CircuitOpenError')]: true });
  assert.ok(isCircuitOpenError(foreign), 'the brand works across package copies');
  assert.not.ok(isCircuitOpenError(new Error('x')));
  assert.not.ok(isCircuitOpenError(null));
});

control('listeners: seed signature (agentId, from, to), removable, a throwing one is reported', () => {
  const clock = new ManualClock();
  const seen: string[] = [];
  const b = new TestBreaker({
    agentId: 'planner',
    trip: consecutiveFailures(1),
    cooldownMs: 10,
    now: clock.now,
    onStateChange: (agentId, from, to) => seen.push(`${agentId}:${from}>${to}`),
  });
  const off = b.onStateChange(() => {
    throw new Error('listener bug');
  });
  b.call('failure', clock);
  assert.equal(seen, ['planner:closed>open']);
  assert.is(b.reports.length, 1);
  off();
  clock.advance(10);
  assert.is(b.state, 'half_open');
  assert.is(b.reports.length, 1);
  assert.equal(seen, ['planner:closed>open', 'planner:open>half_open']);
});

control('a throwing or NaN cooldown function falls back to maxCooldownMs (stays open longer)', () => {
  const clock = new ManualClock();
  const b = new TestBreaker({ trip: consecutiveFailures(1), cooldownMs: () => Number.NaN, maxCooldownMs: 500, now: clock.now });
  b.call('failure', clock);
  clock.advance(499);
  assert.is(b.state, 'open');
  clock.advance(1);
  assert.is(b.state, 'half_open');
  assert.is(b.reports.length, 1);
});

control.run();
