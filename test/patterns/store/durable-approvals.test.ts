/**
 * Durable approvals over a store: approvals from elsewhere resume the
 * waiting review, a resumed call finds its approval, expiry cannot be raced,
 * a timeout is never a human decision, the store down denies.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runReview } from '../../../src/patterns/gate/review.js';
import type { ImpactAssessment } from '../../../src/patterns/gate/impact.js';
import { MemorySafetyStore } from '../../../src/patterns/store/memory-safety-store.js';
import { DurableApprovals, approvalId } from '../../../src/patterns/store/durable-approvals.js';
import type { SafetyStore } from '../../../src/patterns/store/safety-store.js';

const test = suite('durable approvals');

const assessment = { action: 'transfer', level: 'HIGH', reason: 'review_threshold_reached', impactDelta: 0.7, detail: undefined } as unknown as ImpactAssessment;

function request(callId: string | undefined, hash = 'a'.repeat(64)) {
  return { action: 'transfer', callId, argumentsHash: hash, arguments: { amount: 5 }, assessment };
}

const until = async (cond: () => Promise<boolean>) => {
  for (let i = 0; i < 400 && !(await cond()); i++) await new Promise(r => setTimeout(r, 5));
};

test('an approval given elsewhere resumes the waiting review', async () => {
  const store = new MemorySafetyStore();
  const approvals = new DurableApprovals({ store, pollMs: 5 });
  const admin = new DurableApprovals({ store }); // another process, same store
  const review = runReview(approvals.hook, request('call-1'), 5_000, Date.now());
  await until(async () => (await admin.pending()).length === 1);
  const [pending] = await admin.pending();
  assert.is(pending.id, approvalId({ callId: 'call-1', argumentsHash: 'a'.repeat(64) }));
  assert.equal(JSON.parse(pending.details!), { arguments: { amount: 5 }, reason: 'review_threshold_reached', level: 'HIGH', delta: 0.7 });
  const decided = await admin.approve(pending.id, { reviewer: 'alice', note: 'ok' });
  assert.ok(decided.ok);
  const outcome = await review;
  assert.equal([outcome.approved, outcome.reason, outcome.reviewer, outcome.note], [true, 'reviewer_approved', 'alice', 'ok']);
});

test('a denial given elsewhere denies, as the human\'s decision', async () => {
  const store = new MemorySafetyStore();
  const approvals = new DurableApprovals({ store, pollMs: 5 });
  const review = runReview(approvals.hook, request('call-2'), 5_000, Date.now());
  await until(async () => (await approvals.pending()).length === 1);
  await approvals.deny((await approvals.pending())[0].id, { reviewer: 'bob' });
  const outcome = await review;
  assert.equal([outcome.approved, outcome.reason, outcome.reviewer], [false, 'reviewer_denied', 'bob']);
});

test('a resumed call (same call id and arguments) finds its approval; changed arguments need a new one', async () => {
  const store = new MemorySafetyStore();
  const first = new DurableApprovals({ store, pollMs: 5 });
  const controller = new AbortController();
  const gone = runReview(first.hook, request('call-3'), 60_000, Date.now(), controller.signal);
  await until(async () => (await first.pending()).length === 1);
  controller.abort(new Error('process stopping'));
  assert.is((await gone).reason, 'review_aborted');
  assert.is((await first.pending()).length, 1, 'the pending approval outlives the caller that gave up');
  await first.approve((await first.pending())[0].id, { reviewer: 'carol' });

  const restarted = new DurableApprovals({ store, pollMs: 5 });
  const resumed = await runReview(restarted.hook, request('call-3'), 60_000, Date.now());
  assert.equal([resumed.approved, resumed.reviewer], [true, 'carol'], 'the resumed call runs on the approval given meanwhile');

  const changed = runReview(restarted.hook, request('call-3', 'b'.repeat(64)), 60_000, Date.now());
  await until(async () => (await restarted.pending()).length === 1);
  const [fresh] = await restarted.pending();
  assert.is(fresh.argumentsHash, 'b'.repeat(64), 'other arguments: a new approval is asked for');
  await restarted.deny(fresh.id);
  assert.is((await changed).approved, false);
});

test('expiry cannot be raced: the review times out as a timeout, and a late approval is refused', async () => {
  const store = new MemorySafetyStore();
  const approvals = new DurableApprovals({ store, pollMs: 5, settleMarginMs: 20 });
  const outcome = await runReview(approvals.hook, request('call-4'), 120, Date.now());
  assert.equal([outcome.approved, outcome.reason, outcome.reviewer], [false, 'review_timeout', undefined], 'a timeout, not a human decision');
  const id = approvalId({ callId: 'call-4', argumentsHash: 'a'.repeat(64) });
  const record = await approvals.get(id);
  assert.is(record?.state, 'timeout');
  const late = await approvals.approve(id, { reviewer: 'dave' });
  assert.equal([late.ok, !late.ok && late.reason], [false, 'expired']);
});

test('the store unreachable: the review is denied (fails closed)', async () => {
  const down = new Proxy(new MemorySafetyStore(), {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? () => Promise.reject(new Error('ECONNREFUSED')) : v;
    },
  }) as SafetyStore;
  const approvals = new DurableApprovals({ store: down, pollMs: 5 });
  const outcome = await runReview(approvals.hook, request('call-5'), 1_000, Date.now());
  assert.equal([outcome.approved, outcome.reason], [false, 'review_error']);
  assert.match(outcome.note ?? '', /ECONNREFUSED/);
});

test('options are checked, naming the option', () => {
  assert.throws(() => new DurableApprovals({ store: {} as SafetyStore }), /store must be a SafetyStore/);
  assert.throws(() => new DurableApprovals({ store: new MemorySafetyStore(), pollMs: 0 }), /pollMs/);
  assert.throws(() => new DurableApprovals({ store: new MemorySafetyStore(), bogus: 1 } as never), /bogus/);
});

test.run();
