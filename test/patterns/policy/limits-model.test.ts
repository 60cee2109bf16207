/**
 * The token bucket and the sliding window against reference models, with
 * fast-check: random call times (and clock stalls), random limits. The
 * models are written the plain way (exact integer arithmetic for the bucket,
 * the full log of admissions for the window) and share no code with the
 * store.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryPolicyStore } from '../../../src/patterns/policy/policy-store.js';
import type { CounterCheck } from '../../../src/patterns/policy/policy-store.js';

const test = suite('policy limits against reference models');

/** Non-decreasing call times from gaps (0 = same millisecond). */
const times = (maxGap: number, maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: maxGap }), { minLength: 1, maxLength }).map(gaps => {
    let t = 1_000_000;
    return gaps.map(g => (t += g));
  });

/**
 * The token bucket in exact arithmetic: a token is 8000 units, the rate is
 * k/8 tokens per second, i.e. k units per millisecond.
 */
class BucketModel {
  private _units: number;
  private _last: number;
  private readonly _k: number;
  private readonly _burst: number;
  constructor(k: number, burst: number, start: number) {
    this._k = k;
    this._burst = burst;
    this._units = burst * 8000;
    this._last = start;
  }
  call(t: number): { admitted: boolean; remaining: number; retryAfterMs: number | undefined } {
    this._units = Math.min(this._burst * 8000, this._units + (t - this._last) * this._k);
    this._last = t;
    if (this._units >= 8000) {
      this._units -= 8000;
      return { admitted: true, remaining: Math.floor(this._units / 8000), retryAfterMs: undefined };
    }
    return { admitted: false, remaining: 0, retryAfterMs: Math.ceil((8000 - this._units) / this._k) };
  }
}

test('token bucket: every decision, remaining count and retry-after match the exact model', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 20 }), times(400, 300), (k, burst, ts) => {
      const store = new MemoryPolicyStore();
      const check: CounterCheck = { kind: 'token_bucket', key: 'b', ratePerMs: k / 8 / 1000, burst };
      const model = new BucketModel(k, burst, ts[0]);
      for (const t of ts) {
        const got = store.admit([check], t);
        const want = model.call(t);
        assert.is(got.admitted, want.admitted, `admitted at ${t}`);
        assert.is(got.remaining[0], want.remaining, `remaining at ${t}`);
        assert.is(got.retryAfterMs, want.retryAfterMs, `retry-after at ${t}`);
      }
    }),
    { numRuns: 300 },
  );
});

test('token bucket: waiting the retry-after it gives is enough, and one ms less is not', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 5 }), (k, burst) => {
      const store = new MemoryPolicyStore();
      const check: CounterCheck = { kind: 'token_bucket', key: 'b', ratePerMs: k / 8 / 1000, burst };
      let t = 0;
      for (let i = 0; i < burst; i++) assert.ok(store.admit([check], t).admitted);
      const denied = store.admit([check], t);
      assert.not.ok(denied.admitted);
      const wait = denied.retryAfterMs!;
      if (wait > 1) assert.not.ok(store.admit([check], t + wait - 1).admitted, 'one ms early');
      t += wait;
      assert.ok(store.admit([check], t).admitted, 'after retry-after');
    }),
    { numRuns: 300 },
  );
});

/** The sliding window as a full log of admission times. */
class WindowModel {
  private readonly _log: number[] = [];
  private readonly _limit: number;
  private readonly _windowMs: number;
  constructor(limit: number, windowMs: number) {
    this._limit = limit;
    this._windowMs = windowMs;
  }
  private _countAt(t: number): number {
    return this._log.filter(x => x > t - this._windowMs && x <= t).length;
  }
  call(t: number): { admitted: boolean; remaining: number; retryAfterMs: number | undefined } {
    const count = this._countAt(t);
    if (count < this._limit) {
      this._log.push(t);
      return { admitted: true, remaining: this._limit - count - 1, retryAfterMs: undefined };
    }
    // The first later millisecond at which a call would be admitted (nothing else admitted meanwhile).
    let d = 1;
    while (this._log.filter(x => x > t + d - this._windowMs).length >= this._limit) d++;
    return { admitted: false, remaining: 0, retryAfterMs: d };
  }
}

test('sliding window: every decision, remaining count and retry-after match the full-log model', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 500 }), times(120, 300), (limit, windowMs, ts) => {
      const store = new MemoryPolicyStore();
      const check: CounterCheck = { kind: 'sliding_window', key: 'w', limit, windowMs };
      const model = new WindowModel(limit, windowMs);
      for (const t of ts) {
        const got = store.admit([check], t);
        const want = model.call(t);
        assert.is(got.admitted, want.admitted, `admitted at ${t}`);
        assert.is(got.remaining[0], want.remaining, `remaining at ${t}`);
        assert.is(got.retryAfterMs, want.retryAfterMs, `retry-after at ${t}`);
      }
    }),
    { numRuns: 300 },
  );
});

test('sliding window: never more than `limit` admissions in any window (invariant over admitted times)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 200 }), times(60, 400), (limit, windowMs, ts) => {
      const store = new MemoryPolicyStore();
      const check: CounterCheck = { kind: 'sliding_window', key: 'w', limit, windowMs };
      const admitted = ts.filter(t => store.admit([check], t).admitted);
      for (const t of admitted) assert.ok(admitted.filter(x => x > t - windowMs && x <= t).length <= limit);
    }),
    { numRuns: 200 },
  );
});

test('several checks are all-or-nothing: a failing one leaves the others untouched', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), times(30, 100), (burst, limit, ts) => {
      const store = new MemoryPolicyStore();
      const bucket: CounterCheck = { kind: 'token_bucket', key: 'b', ratePerMs: 10 / 8 / 1000, burst };
      const window: CounterCheck = { kind: 'sliding_window', key: 'w', limit, windowMs: 100 };
      // Model: exact bucket units and a window log, changed only when both admit.
      let units = burst * 8000;
      let last = ts[0];
      const log: number[] = [];
      for (const t of ts) {
        units = Math.min(burst * 8000, units + (t - last) * 10);
        last = t;
        const inWindow = log.filter(x => x > t - 100).length;
        const want = units >= 8000 && inWindow < limit;
        const got = store.admit([bucket, window], t);
        assert.is(got.admitted, want, `at ${t}`);
        if (want) {
          units -= 8000;
          log.push(t);
        } else {
          assert.is(got.failed, units >= 8000 ? 1 : 0, 'the first failing check is named');
        }
      }
    }),
    { numRuns: 200 },
  );
});

test.run();
