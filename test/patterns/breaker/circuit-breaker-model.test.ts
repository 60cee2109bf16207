/**
 * Property test: random sequences of calls, clock ticks and manual commands
 * run against the breaker and against a deliberately naive reference model
 * (plain lists, recomputed from scratch, no rings, no tickets); they must
 * agree on every admission, every state, every count and every transition.
 * A second breaker gets the same sequence but is never asked for its state:
 * lazy transitions must not depend on being observed.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CircuitBreakerCore } from '../../../src/patterns/breaker/circuit-breaker-core.js';
import type { CircuitBreakerOptions } from '../../../src/patterns/breaker/circuit-breaker-options.js';
import type { BreakerCallOutcome, BreakerVerdict, CircuitState, Transition } from '../../../src/patterns/breaker/circuit-state.js';
import { isCircuitOpenError } from '../../../src/patterns/breaker/circuit-open-error.js';
import { exponentialCooldown } from '../../../src/patterns/breaker/cooldown.js';
import { consecutiveFailures, failureRate, slowCallRate } from '../../../src/patterns/breaker/trip-strategies.js';
import type { TripStrategy } from '../../../src/patterns/breaker/trip-strategies.js';

interface Config {
  consecutive?: number;
  countRate?: { threshold: number; size: number; minimumCalls: number };
  timeRate?: { threshold: number; bucketMs: number; buckets: number; minimumCalls: number };
  slowRate?: { threshold: number; slowCallMs: number; size: number };
  cooldownMs: number;
  exponential: boolean;
  maxCooldownMs: number;
  probes: number;
  maxHalfOpenMs: number;
  metricsOnly: boolean;
}

type Op =
  | { op: 'tick'; ms: number }
  | { op: 'start' }
  | { op: 'finish'; pick: number; verdict: BreakerVerdict; ms: number }
  | { op: 'state' }
  | { op: 'isolate' }
  | { op: 'release'; pick: number }
  | { op: 'reset' };

// ── The reference model ────────────────────────────────────────────────────

interface Rec {
  t: number;
  failed: boolean;
  slow: boolean;
}

class Model {
  state: CircuitState = 'closed';
  epoch = 0;
  isolations = 0;
  openings = 0;
  retryAt = 0;
  inFlight = 0;
  successes = 0;
  deadline = Number.POSITIVE_INFINITY;
  records: Rec[] = [];
  calls: Record<BreakerCallOutcome, number> = { success: 0, failure: 0, ignored: 0, rejected: 0, slow: 0 };
  transitions: { from: CircuitState; to: CircuitState; reason: string; at: number }[] = [];

  readonly cfg: Config;
  constructor(cfg: Config) {
    this.cfg = cfg;
  }

  cooldown(openings: number): number {
    const c = this.cfg;
    const raw = c.exponential ? c.cooldownMs * 2 ** (openings - 1) : c.cooldownMs;
    return Math.min(c.maxCooldownMs, Math.max(0, raw));
  }

  to(state: CircuitState, reason: string, at: number): void {
    this.transitions.push({ from: this.state, to: state, reason, at });
    this.state = state;
    this.epoch++;
    this.inFlight = 0;
    this.successes = 0;
    this.deadline = Number.POSITIVE_INFINITY;
    if (state === 'closed') this.openings = 0;
    if (state !== 'half_open') this.records = [];
  }

  open(reason: string, at: number): void {
    this.openings++;
    this.retryAt = at + this.cooldown(this.openings);
    this.to('open', reason, at);
  }

  advance(now: number): void {
    for (;;) {
      if (this.state === 'open' && this.isolations === 0 && now >= this.retryAt) this.to('half_open', 'cooldown_elapsed', this.retryAt);
      else if (this.state === 'half_open' && this.inFlight > 0 && now >= this.deadline) this.open('probe_timeout', this.deadline);
      else return;
    }
  }

  /** Which strategy trips on the records as they are at `now`, in configuration order. */
  trip(now: number): string | undefined {
    const c = this.cfg;
    const r = this.records;
    const rate = (list: Rec[], hit: (x: Rec) => boolean, min: number, threshold: number) =>
      list.length >= min && list.filter(hit).length / list.length >= threshold;
    if (c.consecutive !== undefined) {
      let run = 0;
      for (let i = r.length - 1; i >= 0 && r[i].failed; i--) run++;
      if (run >= c.consecutive) return 'consecutive_failures';
    }
    if (c.countRate) {
      const { size, minimumCalls, threshold } = c.countRate;
      if (rate(r.slice(-size), x => x.failed, minimumCalls, threshold)) return 'failure_rate';
    }
    if (c.timeRate) {
      const { bucketMs, buckets, minimumCalls, threshold } = c.timeRate;
      const head = Math.floor(now / bucketMs);
      const inWindow = r.filter(x => Math.floor(x.t / bucketMs) > head - buckets);
      if (rate(inWindow, x => x.failed, minimumCalls, threshold)) return 'failure_rate';
    }
    if (c.slowRate) {
      const { size, threshold } = c.slowRate;
      if (rate(r.slice(-size), x => x.slow, size, threshold)) return 'slow_call_rate';
    }
    return undefined;
  }

  admit(now: number): { kind: 'admitted'; epoch: number } | { kind: 'shadow' } | { kind: 'rejected' } {
    this.advance(now);
    if (this.state === 'closed') return { kind: 'admitted', epoch: this.epoch };
    if (this.state === 'half_open' && this.inFlight + this.successes < this.cfg.probes) {
      this.inFlight++;
      this.deadline = now + this.cfg.maxHalfOpenMs;
      return { kind: 'admitted', epoch: this.epoch };
    }
    this.calls.rejected++;
    return this.cfg.metricsOnly && this.isolations === 0 ? { kind: 'shadow' } : { kind: 'rejected' };
  }

  finish(epoch: number, verdict: BreakerVerdict, ms: number, now: number): void {
    const slow = this.cfg.slowRate !== undefined && ms >= this.cfg.slowRate.slowCallMs;
    this.calls[verdict === 'success' ? (slow ? 'slow' : 'success') : verdict]++;
    this.advance(now);
    if (epoch !== this.epoch) return;
    if (this.state === 'closed') {
      if (verdict === 'ignored') return;
      this.records.push({ t: now, failed: verdict === 'failure', slow });
      const reason = this.trip(now);
      if (reason !== undefined) this.open(reason, now);
    } else if (this.state === 'half_open') {
      this.inFlight--;
      if (verdict === 'ignored') this.deadline = now + this.cfg.maxHalfOpenMs;
      else if (verdict === 'failure') this.open('probe_failed', now);
      else if (slow) this.open('probe_slow', now);
      else if (++this.successes >= this.cfg.probes) this.to('closed', 'probes_succeeded', now);
      else this.deadline = now + this.cfg.maxHalfOpenMs;
    }
  }

  isolate(now: number): void {
    this.advance(now);
    if (++this.isolations === 1 && this.state !== 'open') {
      this.retryAt = Number.POSITIVE_INFINITY;
      this.to('open', 'isolated', now);
    }
  }

  release(now: number): void {
    if (--this.isolations === 0) this.to('closed', 'released', now);
  }

  reset(now: number): void {
    this.advance(now);
    if (this.state === 'closed' || this.isolations > 0) {
      this.epoch++;
      this.openings = 0;
      this.records = [];
    } else {
      this.to('closed', 'reset', now);
    }
  }
}

// ── The breaker under test ─────────────────────────────────────────────────

function optionsOf(cfg: Config, now: () => number): CircuitBreakerOptions {
  const trip: TripStrategy[] = [];
  if (cfg.consecutive !== undefined) trip.push(consecutiveFailures(cfg.consecutive));
  if (cfg.countRate) {
    const { threshold, size, minimumCalls } = cfg.countRate;
    trip.push(failureRate({ threshold, windowCalls: size, minimumCalls }));
  }
  if (cfg.timeRate) {
    const { threshold, bucketMs, buckets, minimumCalls } = cfg.timeRate;
    trip.push(failureRate({ threshold, windowMs: bucketMs * buckets, bucketMs, minimumCalls }));
  }
  if (cfg.slowRate) {
    const { threshold, slowCallMs, size } = cfg.slowRate;
    trip.push(slowCallRate({ threshold, slowCallMs, windowCalls: size }));
  }
  return {
    trip,
    cooldownMs: cfg.exponential ? exponentialCooldown(cfg.cooldownMs) : cfg.cooldownMs,
    maxCooldownMs: cfg.maxCooldownMs,
    halfOpenProbes: cfg.probes,
    maxHalfOpenMs: cfg.maxHalfOpenMs,
    metricsOnly: cfg.metricsOnly,
    now,
  };
}

const threshold = fc.constantFrom(0.25, 0.5, 0.75, 1);
const configArb: fc.Arbitrary<Config> = fc
  .record({
    consecutive: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    countRate: fc.option(
      fc.record({ threshold, size: fc.integer({ min: 1, max: 6 }), minimumCalls: fc.integer({ min: 1, max: 6 }) }),
      { nil: undefined },
    ),
    timeRate: fc.option(
      fc.record({
        threshold,
        bucketMs: fc.constantFrom(100, 250),
        buckets: fc.integer({ min: 1, max: 5 }),
        minimumCalls: fc.integer({ min: 1, max: 5 }),
      }),
      { nil: undefined },
    ),
    slowRate: fc.option(fc.record({ threshold, slowCallMs: fc.constantFrom(50, 100), size: fc.integer({ min: 1, max: 4 }) }), {
      nil: undefined,
    }),
    cooldownMs: fc.integer({ min: 0, max: 500 }),
    exponential: fc.boolean(),
    maxCooldownMs: fc.integer({ min: 0, max: 1_500 }),
    probes: fc.integer({ min: 1, max: 3 }),
    maxHalfOpenMs: fc.integer({ min: 50, max: 2_000 }),
    metricsOnly: fc.boolean(),
  })
  .map(c => ({
    ...c,
    cooldownMs: c.exponential ? c.cooldownMs : Math.min(c.cooldownMs, c.maxCooldownMs),
    countRate: c.countRate && { ...c.countRate, minimumCalls: Math.min(c.countRate.minimumCalls, c.countRate.size) },
  }))
  .filter(c => c.consecutive !== undefined || c.countRate !== undefined || c.timeRate !== undefined || c.slowRate !== undefined);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('tick' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 3_000 })),
    }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('start' as const) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('finish' as const),
      pick: fc.oneof(fc.nat({ max: 2 }), fc.nat()), // counted from the newest call: mostly recent ones
      verdict: fc.constantFrom<BreakerVerdict>('success', 'success', 'failure', 'failure', 'ignored'),
      ms: fc.constantFrom(0, 10, 60, 120),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('state' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('isolate' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reset' as const) }) },
);

function tryAdmit(b: CircuitBreakerCore): number | 'rejected' {
  try {
    const t = b.admit();
    if (typeof t !== 'number') throw new Error('unexpected wait');
    return t;
  } catch (err) {
    if (isCircuitOpenError(err)) return 'rejected';
    throw err;
  }
}

const shape = (t: Transition) => ({ from: t.from, to: t.to, reason: t.reason, at: t.at });

const test = suite('circuit breaker: property test against a reference model');

test('random call sequences: breaker, unobserved breaker and model agree at every step', () => {
  fc.assert(
    fc.property(configArb, fc.array(opArb, { maxLength: 120, size: 'max' }), (cfg, ops) => {
      let now = 1_000_000;
      const clock = () => now;
      const model = new Model(cfg);
      const seen: Transition[] = [];
      const quietSeen: Transition[] = [];
      const b = new CircuitBreakerCore(optionsOf(cfg, clock));
      const quiet = new CircuitBreakerCore(optionsOf(cfg, clock));
      b.onStateChange((_a, _f, _t, tr) => seen.push(tr));
      quiet.onStateChange((_a, _f, _t, tr) => quietSeen.push(tr));
      const pending: { ticket: number; quietTicket: number; model: { kind: string; epoch?: number } }[] = [];
      const holds: { release(): void }[] = [];
      const quietHolds: { release(): void }[] = [];
      let isolations = 0;

      ops.forEach((op, step) => {
        const where = `step ${step} ${JSON.stringify(op)}`;
        switch (op.op) {
          case 'tick':
            now += op.ms;
            model.advance(now);
            break;
          case 'start': {
            const m = model.admit(now);
            const t = tryAdmit(b);
            const q = tryAdmit(quiet);
            const expected = m.kind === 'rejected' ? 'rejected' : m.kind === 'shadow' ? -1 : 'admitted';
            assert.is(t === 'rejected' ? t : t < 0 ? -1 : 'admitted', expected, where);
            assert.is(q === 'rejected' ? q : q < 0 ? -1 : 'admitted', expected, `${where} (unobserved)`);
            if (t !== 'rejected' && q !== 'rejected') pending.push({ ticket: t, quietTicket: q, model: m });
            break;
          }
          case 'finish': {
            if (pending.length === 0) break;
            const [call] = pending.splice(pending.length - 1 - (op.pick % pending.length), 1);
            b.record(call.ticket, op.verdict, op.ms);
            quiet.record(call.quietTicket, op.verdict, op.ms);
            if (call.model.kind === 'admitted') model.finish(call.model.epoch as number, op.verdict, op.ms, now);
            break;
          }
          case 'state':
            break; // every step reads the observed breaker's state below
          case 'isolate':
            holds.push(b.isolate());
            quietHolds.push(quiet.isolate());
            model.isolate(now);
            isolations++;
            break;
          case 'release': {
            if (isolations === 0) break;
            const i = op.pick % holds.length;
            holds.splice(i, 1)[0].release();
            quietHolds.splice(i, 1)[0].release();
            model.release(now);
            isolations--;
            break;
          }
          case 'reset':
            b.reset();
            quiet.reset();
            model.reset(now);
            break;
        }
        model.advance(now);
        assert.is(b.state, model.state, where);
        const stats = b.stats();
        assert.equal(stats.calls, model.calls, `${where}: calls`);
        const counted = stats.transitions.reduce((n, t) => n + t.count, 0);
        assert.is(counted, model.transitions.length, `${where}: transitions`);
      });
      assert.equal(seen.map(shape), model.transitions);
      assert.is(quiet.state, model.state);
      assert.equal(quietSeen.map(shape), model.transitions, 'the unobserved breaker made the same transitions at the same times');
      assert.equal(quiet.stats(), b.stats());
      assert.equal(quiet.toJSON(), b.toJSON());
    }),
    { numRuns: 2000 },
  );
});

test.run();
