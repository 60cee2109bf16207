/**
 * One contract, two stores: every SafetyStore operation behaves the same in
 * memory and in a real redis-server (started on a loopback port, stopped
 * even when a test fails).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemorySafetyStore } from '../../../src/patterns/store/memory-safety-store.js';
import { RedisSafetyStore } from '../../../src/patterns/store/redis-safety-store.js';
import type { SafetyStore } from '../../../src/patterns/store/safety-store.js';
import { startRedis } from '../../helpers/redis.js';
import type { TestRedis } from '../../helpers/redis.js';

let redis: TestRedis | undefined;
let prefixSeq = 0;

const makers: Array<[string, () => Promise<SafetyStore>]> = [
  ['memory', async () => new MemorySafetyStore()],
  [
    'redis',
    async () => {
      redis ??= await startRedis();
      return new RedisSafetyStore({ client: await redis.client(), prefix: `t${++prefixSeq}:` });
    },
  ],
];

for (const [kind, make] of makers) {
  const test = suite(`SafetyStore contract: ${kind}`);
  if (kind === 'redis') {
    test.after(async () => {
      await redis?.stop();
      redis = undefined;
    });
  }

  test('a breaker opens fleet-wide only when the quorum of replicas reported it', async () => {
    const s = await make();
    const r = { key: 'pay', now: 1_000, until: 31_000, quorum: 2, windowMs: 10_000 };
    const one = await s.reportOpen({ ...r, replica: 'a' });
    assert.is(one.openUntil, undefined, 'one replica is below the quorum');
    assert.is(one.openers, 1);
    const again = await s.reportOpen({ ...r, replica: 'a', now: 2_000 });
    assert.is(again.openUntil, undefined, 'the same replica twice is still one');
    const two = await s.reportOpen({ ...r, replica: 'b', now: 3_000, until: 33_000 });
    assert.is(two.openUntil, 33_000);
    assert.is((await s.breakerState('pay', 4_000)).openUntil, 33_000);
    // Reports older than the window do not count.
    const s2 = await make();
    await s2.reportOpen({ ...r, replica: 'a' });
    const late = await s2.reportOpen({ ...r, replica: 'b', now: 20_000 });
    assert.is(late.openUntil, undefined, 'a report outside the window does not make a quorum');
  });

  test('one fleet-wide probe lease, only once the open time has passed; the holder closes it for everyone', async () => {
    const s = await make();
    await s.reportOpen({ key: 'k', replica: 'a', now: 0, until: 1_000, quorum: 1, windowMs: 60_000 });
    assert.is(await s.acquireProbe('k', 'a', 500, 5_000), false, 'still open: no probe');
    assert.is(await s.acquireProbe('k', 'a', 1_000, 5_000), true);
    assert.is(await s.acquireProbe('k', 'b', 1_001, 5_000), false, 'b cannot probe while a holds the lease');
    assert.is(await s.acquireProbe('k', 'a', 1_002, 5_000), true, 'the holder keeps it');
    assert.is((await s.breakerState('k', 1_003)).probeHolder, 'a');
    const notHolder = await s.reportClosed('k', 'b', 1_004);
    assert.is(notHolder.openUntil, 1_000, 'a replica without the lease cannot close it');
    const closed = await s.reportClosed('k', 'a', 1_005);
    assert.equal(closed, { openUntil: undefined, probeHolder: undefined, forced: undefined, openers: 0 });
  });

  test('a failed probe re-opens and frees the lease', async () => {
    const s = await make();
    await s.reportOpen({ key: 'k', replica: 'a', now: 0, until: 1_000, quorum: 1, windowMs: 60_000 });
    assert.ok(await s.acquireProbe('k', 'a', 1_000, 5_000));
    const reopened = await s.reportOpen({ key: 'k', replica: 'a', now: 1_100, until: 3_100, quorum: 1, windowMs: 60_000 });
    assert.is(reopened.openUntil, 3_100);
    assert.is(reopened.probeHolder, undefined);
    assert.is(await s.acquireProbe('k', 'b', 3_100, 5_000), true, 'the next window is anyone\'s');
  });

  test('kill switch: a breaker key, a scope, or everything; with an end time; released', async () => {
    const s = await make();
    await s.forceOpen('pay', 'incident 42');
    assert.is((await s.breakerState('pay', 0)).forced, 'incident 42');
    assert.is((await s.breakerState('other', 0)).forced, undefined);
    await s.forceOpen('*', 'stop everything', 5_000);
    assert.is((await s.breakerState('other', 4_999)).forced, 'stop everything');
    assert.is((await s.breakerState('other', 5_000)).forced, undefined, 'a timed kill switch ends by itself');
    assert.is(await s.forcedReason(['agent:a', 'tool:send_email'], 0), undefined);
    await s.forceOpen('tool:send_email', 'spam');
    assert.is(await s.forcedReason(['agent:a', 'tool:send_email'], 0), 'spam');
    await s.releaseForced('tool:send_email');
    await s.releaseForced('pay');
    assert.is(await s.forcedReason(['agent:a', 'tool:send_email'], 0), undefined);
    assert.is((await s.breakerState('pay', 0)).forced, undefined);
  });

  test('token bucket: burst, refill by rate, retry-after', async () => {
    const s = await make();
    for (let i = 0; i < 3; i++) assert.ok((await s.takeTokens('b', 2, 3, 1, 0)).allowed);
    const denied = await s.takeTokens('b', 2, 3, 1, 0);
    assert.is(denied.allowed, false);
    assert.is(denied.retryAfterMs, 500, 'one token at 2/s comes in 500 ms');
    assert.ok((await s.takeTokens('b', 2, 3, 1, 500)).allowed);
    const full = await s.takeTokens('b', 2, 3, 1, 100_000);
    assert.ok(full.allowed);
    assert.is(full.remaining, 2, 'refill stops at the burst');
  });

  test('sliding window: at most limit calls in any window', async () => {
    const s = await make();
    assert.ok((await s.hitWindow('w', 2, 1_000, 0)).allowed);
    assert.ok((await s.hitWindow('w', 2, 1_000, 400)).allowed);
    const denied = await s.hitWindow('w', 2, 1_000, 900);
    assert.is(denied.allowed, false);
    assert.is(denied.retryAfterMs, 100);
    assert.ok((await s.hitWindow('w', 2, 1_000, 1_000)).allowed, 'the first hit left the window');
    assert.is((await s.hitWindow('w', 2, 1_000, 1_001)).allowed, false);
  });

  test('budgets: reserve only what fits, check without charging, settle whatever happened, per window', async () => {
    const s = await make();
    assert.ok((await s.charge('usd', 1, 0.4, 60_000, 0, 'reserve')).allowed);
    assert.ok((await s.charge('usd', 1, 0.5, 60_000, 1, 'check')).allowed);
    const after = await s.charge('usd', 1, 0.5, 60_000, 2, 'reserve');
    assert.ok(after.allowed);
    assert.ok(Math.abs(after.remaining - 0.1) < 1e-9);
    const over = await s.charge('usd', 1, 0.2, 60_000, 3, 'reserve');
    assert.is(over.allowed, false);
    assert.is(over.retryAfterMs, 60_000 - 3);
    const settled = await s.charge('usd', 1, 0.2, 60_000, 4, 'settle');
    assert.is(settled.allowed, false, 'settling past the limit reports it');
    assert.is(settled.remaining, 0);
    assert.ok((await s.charge('usd', 1, 0.2, 60_000, 60_000, 'reserve')).allowed, 'a new window starts afresh');
    const forever = await s.charge('tokens', 10, 11, 0, 0, 'reserve');
    assert.is(forever.allowed, false);
    assert.is(forever.retryAfterMs, Number.POSITIVE_INFINITY, 'a run budget never refills');
  });

  test('approvals: pending, decided once, expiry wins atomically, a resumed request finds its record', async () => {
    const s = await make();
    const req = { id: 'call-1', action: 'transfer', argumentsHash: 'abc', now: 0, expiresAt: 1_000, details: '{"amount":5}' };
    const pending = await s.requestApproval(req);
    assert.is(pending.state, 'pending');
    assert.is(pending.details, '{"amount":5}');
    assert.equal((await s.pendingApprovals(1)).map(r => r.id), ['call-1']);
    const again = await s.requestApproval({ ...req, now: 10, argumentsHash: 'changed' });
    assert.is(again.argumentsHash, 'abc', 'a second request returns the record it finds');
    const ok = await s.decideApproval({ id: 'call-1', approved: true, now: 500, reviewer: 'alice', note: 'fine' });
    assert.ok(ok.ok);
    assert.is(ok.ok && ok.record.state, 'approved');
    const twice = await s.decideApproval({ id: 'call-1', approved: false, now: 600 });
    assert.equal([twice.ok, !twice.ok && twice.reason], [false, 'already_decided']);
    const read = await s.readApproval('call-1', 700);
    assert.equal([read?.state, read?.reviewer, read?.note, read?.decidedAt], ['approved', 'alice', 'fine', 500]);
    assert.equal(await s.pendingApprovals(701), []);

    await s.requestApproval({ ...req, id: 'call-2' });
    const late = await s.decideApproval({ id: 'call-2', approved: true, now: 1_000 });
    assert.equal([late.ok, !late.ok && late.reason], [false, 'expired'], 'an approval at or after expiry is refused');
    const timedOut = await s.readApproval('call-2', 1_001);
    assert.equal([timedOut?.state, timedOut?.reviewer, timedOut?.decidedAt], ['timeout', undefined, 1_000]);
    const unknown = await s.decideApproval({ id: 'nope', approved: true, now: 0 });
    assert.equal([unknown.ok, !unknown.ok && unknown.reason], [false, 'unknown']);
  });

  test.run();
}
