import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runReview } from '../../../src/patterns/gate/review.js';
import type { ApprovalHook, ReviewRequest } from '../../../src/index.js';
import { impactThresholds } from '../../../src/index.js';
import { assessImpact } from '../../../src/patterns/gate/impact.js';

const test = suite('runReview: fail-closed review');
const assessment = assessImpact('send_digest', 'c1', 0.6, 0, {}, impactThresholds());
const request = { action: 'send_digest', callId: 'c1', argumentsHash: 'ab', arguments: { n: 1 }, assessment };

test('approve and deny, as booleans or answers with a reviewer and a note', async () => {
  assert.is((await runReview(() => true, request, 1000, 0)).reason, 'reviewer_approved');
  assert.is((await runReview(() => false, request, 1000, 0)).reason, 'reviewer_denied');
  const answer = await runReview(async () => ({ approved: false, reviewer: 'alice', note: 'not today' }), request, 1000, 0);
  assert.equal({ ...answer }, { approved: false, reason: 'reviewer_denied', reviewer: 'alice', note: 'not today' });
  const ok = await runReview(async () => ({ approved: true, reviewer: 'bob' }), request, 1000, 0);
  assert.is(ok.approved, true);
  assert.is(ok.reviewer, 'bob');
});

test('a synchronous hook gives a synchronous outcome', () => {
  const outcome = runReview(() => true, request, 1000, 0);
  assert.not.instance(outcome, Promise);
});

test('the hook sees the request, its deadline and a signal', async () => {
  let seen: ReviewRequest | undefined;
  await runReview(r => {
    seen = r;
    return true;
  }, request, 500, 1_000);
  assert.is(seen?.action, 'send_digest');
  assert.is(seen?.callId, 'c1');
  assert.is(seen?.argumentsHash, 'ab');
  assert.is(seen?.assessment, assessment);
  assert.is(seen?.deadline, 1_500);
  assert.instance(seen?.signal, AbortSignal);
});

test('fail closed: no hook, a throw, a rejection, an invalid answer, a timeout or an abort all deny', async () => {
  const cases: [string, ApprovalHook | undefined, string][] = [
    ['no hook', undefined, 'no_approval_hook'],
    ['throws', () => { throw new Error('slack down'); }, 'review_error'],
    ['rejects', async () => { throw new Error('slack down'); }, 'review_error'],
    ['answers a string', (() => 'yes') as never, 'invalid_review_answer'],
    ['answers an object without approved', (() => ({ ok: true })) as never, 'invalid_review_answer'],
    ['answers approved: "true"', (() => ({ approved: 'true' })) as never, 'invalid_review_answer'],
    ['never answers', () => new Promise(() => {}), 'review_timeout'],
  ];
  for (const [what, hook, reason] of cases) {
    const outcome = await runReview(hook, request, 20, 0);
    assert.is(outcome.approved, false, what);
    assert.is(outcome.reason, reason, what);
  }
  const controller = new AbortController();
  let hookSignal: AbortSignal | undefined;
  const pending = runReview(r => {
    hookSignal = r.signal;
    return new Promise(() => {});
  }, request, 60_000, 0, controller.signal);
  controller.abort();
  const aborted = await pending;
  assert.is(aborted.reason, 'review_aborted');
  assert.ok(hookSignal?.aborted, 'the hook is told to stop waiting');
});

test('a timed-out hook is told through its signal', async () => {
  let hookSignal: AbortSignal | undefined;
  await runReview(r => {
    hookSignal = r.signal;
    return new Promise(() => {});
  }, request, 10, 0);
  assert.ok(hookSignal?.aborted);
});

test.run();
