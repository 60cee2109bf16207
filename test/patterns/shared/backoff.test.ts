/**
 * The one backoff (audit sinks and rollback retries) and the one clock
 * option name (`now`, with `clock` as its deprecated alias).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BACKOFF_KEYS, DEFAULT_BACKOFF, backoffDelay, backoffPolicy } from '../../../src/patterns/shared/backoff.js';
import { resolveNow, systemClock } from '../../../src/patterns/shared/clock.js';
import { RollbackEngine } from '../../../src/patterns/rollback/rollback-engine.js';

const test = suite('shared vocabulary: backoff and now');

test('backoffPolicy fills in the caller defaults and names the caller option in errors', () => {
  const file = Object.freeze({ initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0 });
  assert.equal(backoffPolicy(undefined, file, 'retry'), file);
  assert.equal(backoffPolicy({ maxMs: 800 }, file, 'retry'), { ...file, maxMs: 800 });
  assert.equal(backoffPolicy(), DEFAULT_BACKOFF);
  assert.throws(() => backoffPolicy({ initialMs: 10, maxMs: 5 }, file, 'retry'), /retry\.maxMs/);
  assert.throws(() => backoffPolicy({ jitter: 2 }, file, 'retry'), /retry\.jitter/);
  assert.throws(() => backoffPolicy({ initalMs: 5 } as never, file, 'retry'), /initalMs/);
  assert.equal([...BACKOFF_KEYS], ['initialMs', 'maxMs', 'multiplier', 'jitter']);
});

test('backoffDelay: nothing before the first failure, exponential after, capped', () => {
  const p = backoffPolicy({ initialMs: 100, maxMs: 1000, multiplier: 3, jitter: 0 });
  assert.equal([0, 1, 2, 3, 4].map(n => backoffDelay(n, p, () => 0.9)), [0, 100, 300, 900, 1000]);
});

test('rollback hook retries use the same backoff; initialDelayMs / maxDelayMs still work as deprecated names', async () => {
  const run = async (hookRetry: object): Promise<number[]> => {
    const delays: number[] = [];
    const engine = new RollbackEngine({ agentId: 'a', hookRetry, delay: async ms => void delays.push(ms) });
    engine.registerRollbackHook('flaky', (_n, _d, ctx) => {
      if (ctx.attempt < 4) throw new Error('again');
    });
    await engine.checkpoint('flaky');
    await engine.rollbackSteps(1);
    return delays;
  };
  assert.equal(await run({ maxAttempts: 4, initialMs: 100, multiplier: 3, maxMs: 500 }), [100, 300, 500]);
  assert.equal(await run({ maxAttempts: 4, initialDelayMs: 100, multiplier: 3, maxDelayMs: 500 }), [100, 300, 500]);
  assert.equal(await run({ maxAttempts: 4 }), [200, 400, 800], 'defaults: 200 ms doubling');
  assert.throws(() => new RollbackEngine({ agentId: 'a', hookRetry: { initialMs: 1, initialDelayMs: 1 } }), /not both/);
  assert.throws(() => new RollbackEngine({ agentId: 'a', hookRetry: { jitter: 3 } }), /hookRetry\.jitter/);
});

test('resolveNow: now, else the deprecated clock, else Date.now; both is an error', () => {
  const a = () => 1;
  const b = () => 2;
  assert.is(resolveNow({ now: a }), a);
  assert.is(resolveNow({ clock: b }), b);
  assert.is(resolveNow({}), systemClock);
  assert.throws(() => resolveNow({ now: a, clock: b }), /not both/);
  assert.throws(() => resolveNow({ now: 5 as never }), /now must be a function/);
});

test.run();
