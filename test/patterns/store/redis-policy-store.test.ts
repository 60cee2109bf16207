/**
 * The Redis PolicyStore decides exactly as the in-memory one: random
 * sequences of admissions, releases and charges over every counter kind,
 * run on both with the same clock, give the same answers. Then the kill
 * switch shared with the fleet store.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryPolicyStore } from '../../../src/patterns/policy/policy-store.js';
import type { CounterCheck } from '../../../src/patterns/policy/policy-store.js';
import { RedisSafetyStore } from '../../../src/patterns/store/redis-safety-store.js';
import { Policy } from '../../../src/index.js';
import { startRedis } from '../../helpers/redis.js';
import type { TestRedis } from '../../helpers/redis.js';

const test = suite('RedisPolicyStore (a real redis-server) against MemoryPolicyStore');
let redis: TestRedis;
let run = 0;

test.before(async () => {
  redis = await startRedis();
});
test.after(async () => {
  await redis?.stop();
});

const CHECKS: CounterCheck[] = [
  { kind: 'token_bucket', key: 'tb', ratePerMs: 0.002, burst: 3 },
  { kind: 'sliding_window', key: 'sw', limit: 2, windowMs: 1_000 },
  { kind: 'concurrency', key: 'cc', max: 2 },
  { kind: 'budget', key: 'bw', limit: 5, windowMs: 2_000, reserve: 1 },
  { kind: 'budget', key: 'bl', limit: 4, windowMs: undefined, reserve: 0 },
];

type Op = { op: 'admit'; mask: number; dt: number } | { op: 'release'; dt: number } | { op: 'charge'; amount: number; dt: number };

const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('admit' as const), mask: fc.integer({ min: 1, max: 31 }), dt: fc.integer({ min: 0, max: 700 }) }),
    fc.record({ op: fc.constant('release' as const), dt: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ op: fc.constant('charge' as const), amount: fc.integer({ min: 0, max: 3 }), dt: fc.integer({ min: 0, max: 300 }) }),
  ),
  { minLength: 1, maxLength: 40 },
);

test('same decisions, remaining counts and retry-after on random sequences', async () => {
  const client = await redis.client();
  await fc.assert(
    fc.asyncProperty(ops, async (sequence: Op[]) => {
      const memory = new MemoryPolicyStore();
      const shared = new RedisSafetyStore({ client, prefix: `p${++run}:` }).policyStore();
      let now = 1_000_000;
      for (const step of sequence) {
        now += step.dt;
        if (step.op === 'admit') {
          const checks = CHECKS.filter((_, i) => (step.mask >> i) & 1);
          const a = memory.admit(checks, now);
          const b = await shared.admit(checks, now);
          assert.is(b.admitted, a.admitted, `admitted at ${now}`);
          assert.is(b.failed, a.failed, `failed check at ${now}`);
          assert.is(b.retryAfterMs, a.retryAfterMs, `retry-after at ${now}`);
          const upTo = a.admitted ? checks.length : a.failed + 1;
          for (let i = 0; i < upTo; i++) assert.ok(Math.abs(b.remaining[i] - a.remaining[i]) < 1e-9, `remaining[${i}] at ${now}: ${b.remaining[i]} vs ${a.remaining[i]}`);
        } else if (step.op === 'release') {
          memory.release(['cc']);
          await shared.release(['cc']);
        } else {
          const a = memory.charge('bw', step.amount, 5, 2_000, now);
          const b = await shared.charge('bw', step.amount, 5, 2_000, now);
          assert.ok(Math.abs(a - b) < 1e-9, `charge at ${now}: ${b} vs ${a}`);
        }
      }
    }),
    { numRuns: 60, seed: 20261206 },
  );
});

test('a hung Redis (SIGSTOP): the decision fails within timeoutMs and the policy denies (store_error) while Redis still does not answer; it decides again once Redis does', async () => {
  const client = await redis.client();
  const store = new RedisSafetyStore({ client, prefix: `hung${++run}:` }).policyStore({ timeoutMs: 200 });
  const policy = new Policy({ limits: [{ kind: 'token_bucket', name: 'r', ratePerSecond: 100, burst: 100 }], store });
  const subject = { agent: 'a1', tool: 'pay', args: [], run: undefined };
  const before = await policy.decide(subject);
  assert.is(before.allowed, true);
  let resumed = false;
  redis.pause();
  // A safety net, so that a store that waits for ever cannot hang the suite: the test then fails on `resumed`.
  const net = setTimeout(() => {
    resumed = true;
    redis.resume();
  }, 10_000);
  try {
    const during = await policy.decide(subject);
    assert.is(resumed, false, 'the decision waited until Redis answered again');
    assert.equal([during.allowed, during.reason], [false, 'store_error']);
    assert.match(String(during.detail), /took longer than 200 ms/);
  } finally {
    clearTimeout(net);
    if (!resumed) redis.resume();
  }
  const after = await policy.decide(subject);
  assert.is(after.allowed, true, 'decides again once Redis answers');
  assert.throws(() => new RedisSafetyStore({ client, prefix: 'x:' }).policyStore({ timeoutMs: 0 }), /timeoutMs/);
});

test('the kill switch is shared with the fleet store, by scope', async () => {
  const fleet = new RedisSafetyStore({ client: await redis.client(), prefix: `k${++run}:` });
  const policy = fleet.policyStore();
  assert.is(await policy.stopped('mailer', 'send_email'), undefined);
  await policy.stop({ tool: 'send_email' });
  assert.equal(await policy.stopped('mailer', 'send_email'), { tool: 'send_email' });
  assert.is(await policy.stopped('mailer', 'read_inbox'), undefined);
  assert.is(await fleet.forcedReason(['tool:send_email'], Date.now()), 'policy kill switch', 'the fleet sees the policy\'s switch');
  await policy.resume({ tool: 'send_email' });
  await fleet.forceOpen('*', 'incident 9');
  assert.equal(await policy.stopped('anyone', 'anything'), {}, 'the fleet-wide kill switch stops every policy');
  await fleet.releaseForced('*');
  await fleet.forceOpen('agent:mailer/tool:send_email', 'one pair', Date.now() + 60_000);
  assert.equal(await policy.stopped('mailer', 'send_email'), { agent: 'mailer', tool: 'send_email' });
  assert.is(await policy.stopped('other', 'send_email'), undefined);
});

test.run();
