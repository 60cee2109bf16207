import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ActionBlockedError, CounterfactualEstimator, ExplainabilityHookManager, guard, hashArguments, isActionBlockedError } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_CALL_OUTCOME, ATTR_AGENT_SAFETY_EXPLANATION_PHASE, ATTR_AGENT_SAFETY_EXPLANATION_REASONING, ATTR_AGENT_SAFETY_IMPACT_CACHED, ATTR_AGENT_SAFETY_IMPACT_COUNTERFACTUAL, ATTR_AGENT_SAFETY_IMPACT_DELTA, ATTR_AGENT_SAFETY_IMPACT_ENFORCED, ATTR_AGENT_SAFETY_IMPACT_LEVEL, ATTR_AGENT_SAFETY_IMPACT_PROPOSED, ATTR_AGENT_SAFETY_IMPACT_REASON, ATTR_AGENT_SAFETY_IMPACT_VERDICT, ATTR_AGENT_SAFETY_REVIEW_ARGUMENTS_HASH, ATTR_AGENT_SAFETY_REVIEW_DECISION, ATTR_AGENT_SAFETY_REVIEW_REASON, ATTR_AGENT_SAFETY_REVIEW_REVIEWER, ATTR_ERROR_TYPE, ATTR_GEN_AI_TOOL_CALL_ID, EVENT_AGENT_SAFETY_EXPLANATION, EVENT_AGENT_SAFETY_REVIEW_ANSWERED, EVENT_AGENT_SAFETY_REVIEW_REQUESTED, METRIC_AGENT_SAFETY_GATE_DECISIONS } from '../../../src/semconv.js';
import type { ActionMetadata, ImpactModel, ReviewRequest } from '../../../src/index.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite<{ t: TestTelemetry }>('counterfactual impact gate', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry();
});
test.after(async ctx => {
  await ctx.t.shutdown();
});
test.before.each(ctx => ctx.t.reset());

const GLOBAL_SEND: ActionMetadata = { reversibility: 'irreversible_external', scope: 'global' };
const COHORT_SEND: ActionMetadata = { reversibility: 'irreversible_external', scope: 'cohort', cohortSize: 5_000 };
const READ: ActionMetadata = { reversibility: 'read_only', scope: 'user' };

const event = (span: ReadableSpan, name: string) => span.events.find(e => e.name === name);

/** Counts of agent_safety.gate.decisions by "verdict/enforced". */
async function decisions(t: TestTelemetry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of await t.points(METRIC_AGENT_SAFETY_GATE_DECISIONS)) {
    const key = `${p.attributes.verdict}/${p.attributes.enforced}`;
    out[key] = (out[key] ?? 0) + p.value;
  }
  return out;
}
function increase(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(after)) if (after[key] !== (before[key] ?? 0)) out[key] = after[key] - (before[key] ?? 0);
  return out;
}

test('proceed: the assessment and every factor are on the span; the tool runs', async ({ t }) => {
  const gate = new CounterfactualEstimator();
  let ran = 0;
  const lookup = guard(async (id: string) => {
    ran++;
    return `profile ${id}`;
  }, { name: 'get_profile', gate, impact: READ });
  assert.is(await lookup('u1'), 'profile u1');
  assert.is(ran, 1);
  const span = t.span('execute_tool get_profile');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_PROPOSED), 0);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_COUNTERFACTUAL), 0);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_DELTA), 0);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_LEVEL), 'NEGLIGIBLE');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_VERDICT), 'proceed');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'proceeded');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_REASON), 'below_review_threshold');
  assert.is(attr(span, 'agent_safety.impact.factor.reversibility'), 0);
  assert.is(attr(span, 'agent_safety.impact.factor.scope'), 0.3);
  assert.is(attr(span, 'agent_safety.impact.factor.cost'), 0);
  assert.is(attr(span, 'agent_safety.impact.factor.environment'), 1);
  assert.is(attr(span, 'agent_safety.impact.factor.floor'), undefined, 'the floor only when declared');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_CACHED), undefined);
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'success');
});

test('block: the tool never runs; the span is ERROR with error.type ActionBlockedError and outcome blocked', async ({ t }) => {
  const gate = new CounterfactualEstimator();
  let ran = false;
  const notifyAll = guard(async (_message: string) => {
    ran = true;
  }, { name: 'notify_all_users', gate, impact: GLOBAL_SEND });
  const before = await decisions(t);
  const err = await rejection(notifyAll('hello everyone'));
  assert.is(ran, false);
  assert.instance(err, ActionBlockedError);
  assert.ok(isActionBlockedError(err));
  const blocked = err as ActionBlockedError;
  assert.is(blocked.name, 'ActionBlockedError');
  assert.is(blocked.enforced, 'blocked');
  assert.is(blocked.action, 'notify_all_users');
  assert.is(blocked.assessment.level, 'CRITICAL');
  assert.is(blocked.assessment.impactDelta, 1);
  assert.is(blocked.review, undefined);
  const span = t.span('execute_tool notify_all_users');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(attr(span, ATTR_ERROR_TYPE), 'ActionBlockedError');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'blocked');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_VERDICT), 'block');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_REASON), 'block_threshold_reached');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_LEVEL), 'CRITICAL');
  assert.equal(increase(before, await decisions(t)), { 'block/blocked': 1 });
});

test('review approved: requested and answered events, the call runs with its arguments unchanged', async ({ t }) => {
  const requests: ReviewRequest[] = [];
  const gate = new CounterfactualEstimator({
    approve: async request => {
      requests.push(request);
      return { approved: true, reviewer: 'oncall@example.com' };
    },
  });
  const received: unknown[] = [];
  const digest = guard(async (input: { cohort: string; apiKey: string }) => {
    received.push(input);
    return 'sent';
  }, { name: 'send_digest', gate, impact: COHORT_SEND });
  const input = { cohort: 'beta-testers', apiKey: 'sk-live-123' };
  const before = await decisions(t);
  assert.is(await digest.withOptions({ callId: 'call-42' })(input), 'sent');
  assert.equal(received, [input]);
  assert.is(received[0], input, 'the very same arguments object');

  const [request] = requests;
  assert.is(request.action, 'send_digest');
  assert.is(request.callId, 'call-42');
  assert.equal(request.arguments, { cohort: 'beta-testers', apiKey: '[REDACTED]' }, 'the reviewer sees redacted arguments');
  assert.is(request.argumentsHash, hashArguments({ cohort: 'beta-testers', apiKey: '[REDACTED]' }));
  assert.is(request.assessment.level, 'HIGH');
  assert.is(request.assessment.recommendation, 'review');

  const span = t.span('execute_tool send_digest');
  const requested = event(span, EVENT_AGENT_SAFETY_REVIEW_REQUESTED)!;
  assert.ok(requested, 'review.requested event');
  assert.is(requested.attributes?.[ATTR_AGENT_SAFETY_REVIEW_ARGUMENTS_HASH], request.argumentsHash);
  assert.is(requested.attributes?.[ATTR_GEN_AI_TOOL_CALL_ID], 'call-42');
  assert.is(requested.attributes?.[ATTR_AGENT_SAFETY_IMPACT_LEVEL], 'HIGH');
  const answered = event(span, EVENT_AGENT_SAFETY_REVIEW_ANSWERED)!;
  assert.is(answered.attributes?.[ATTR_AGENT_SAFETY_REVIEW_DECISION], 'approved');
  assert.is(answered.attributes?.[ATTR_AGENT_SAFETY_REVIEW_REASON], 'reviewer_approved');
  assert.is(answered.attributes?.[ATTR_AGENT_SAFETY_REVIEW_REVIEWER], 'oncall@example.com');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_VERDICT), 'review');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'approved');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_REASON), 'reviewer_approved');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'success');
  assert.not.match(JSON.stringify(span.events), 'sk-live-123');
  assert.equal(increase(before, await decisions(t)), { 'review/approved': 1 });
});

test('review denied, timed out, failing or without a hook: outcome denied, the tool never runs', async ({ t }) => {
  const cases: [string, CounterfactualEstimator, string][] = [
    ['denied', new CounterfactualEstimator({ approve: () => ({ approved: false, note: 'too broad' }) }), 'reviewer_denied'],
    ['timeout', new CounterfactualEstimator({ approve: () => new Promise(() => {}), reviewTimeoutMs: 20 }), 'review_timeout'],
    ['hook throws', new CounterfactualEstimator({ approve: () => { throw new Error('slack down'); } }), 'review_error'],
    ['no hook', new CounterfactualEstimator(), 'no_approval_hook'],
  ];
  for (const [what, gate, reason] of cases) {
    t.reset();
    let ran = false;
    const digest = guard(() => {
      ran = true;
    }, { name: 'send_digest', gate, impact: COHORT_SEND });
    const before = await decisions(t);
    const err = await rejection(digest());
    assert.is(ran, false, what);
    assert.ok(isActionBlockedError(err), what);
    const denied = err as ActionBlockedError;
    assert.is(denied.enforced, 'denied', what);
    assert.is(denied.review?.reason, reason, what);
    const span = t.span('execute_tool send_digest');
    assert.is(span.status.code, SpanStatusCode.ERROR, what);
    assert.is(attr(span, ATTR_ERROR_TYPE), 'ActionBlockedError', what);
    assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'denied', what);
    assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_VERDICT), 'review', what);
    assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'denied', what);
    assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_REASON), reason, what);
    const answered = event(span, EVENT_AGENT_SAFETY_REVIEW_ANSWERED);
    assert.is(answered?.attributes?.[ATTR_AGENT_SAFETY_REVIEW_DECISION], 'denied', what);
    assert.is(answered?.attributes?.[ATTR_AGENT_SAFETY_REVIEW_REASON], reason, what);
    assert.equal(increase(before, await decisions(t)), { 'review/denied': 1 }, what);
    if (what === 'denied') assert.match(denied.message, 'too broad');
  }
});

test('fail closed inside the guard: a throwing, invalid or slow model blocks with the reason on the span', async ({ t }) => {
  const models: [string, ImpactModel, string][] = [
    ['throws', () => { throw new Error('judge down'); }, 'impact_model_error'],
    ['NaN', () => Number.NaN, 'impact_model_invalid'],
    ['out of range', async () => 1.01, 'impact_model_invalid'],
    ['non-number', (() => 'low') as never, 'impact_model_invalid'],
    ['slow', () => new Promise(() => {}), 'impact_model_timeout'],
  ];
  for (const [what, impactModel, reason] of models) {
    t.reset();
    let ran = false;
    const tool = guard(() => {
      ran = true;
    }, { name: 'judged', gate: new CounterfactualEstimator({ impactModel, modelTimeoutMs: 20 }) });
    const err = await rejection(tool());
    assert.is(ran, false, what);
    assert.is((err as ActionBlockedError).enforced, 'blocked', what);
    assert.ok((err as ActionBlockedError).assessment.failClosed, what);
    const span = t.span('execute_tool judged');
    assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'blocked', what);
    assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_REASON), reason, what);
    assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked', what);
  }
  t.reset();
  const undeclared = guard(() => 1, { name: 'undeclared', gate: new CounterfactualEstimator() });
  const err = (await rejection(undeclared())) as ActionBlockedError;
  assert.is(attr(t.span('execute_tool undeclared'), ATTR_AGENT_SAFETY_IMPACT_REASON), 'impact_model_error');
  assert.match(err.message, /declare `impact`/, 'the rules model says what is missing');
});

test('the signed delta: an action that does less harm than inaction proceeds', async ({ t }) => {
  const gate = new CounterfactualEstimator();
  const rollbackDeploy = guard(() => 'rolled back', {
    name: 'rollback_bad_deploy',
    gate,
    impact: { ...GLOBAL_SEND, inactionImpact: 1 },
  });
  assert.is(await rollbackDeploy(), 'rolled back');
  const span = t.span('execute_tool rollback_bad_deploy');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_PROPOSED), 1);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_COUNTERFACTUAL), 1);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_DELTA), 0);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'proceeded');
  const custom = new CounterfactualEstimator({ impactModel: () => 0.3, counterfactualModel: () => 0.8 });
  const a = await custom.estimate('pause_campaign', {});
  assert.is(a.impactDelta, -0.5);
  assert.is(a.recommendation, 'proceed');
});

test('metadata computed from the arguments (a cohort of n users)', async ({ t }) => {
  const gate = new CounterfactualEstimator();
  const notify = guard((userIds: string[]) => userIds.length, {
    name: 'notify_users',
    gate,
    impact: userIds => ({ reversibility: 'irreversible_external', scope: userIds.length === 1 ? 'user' : 'cohort', cohortSize: userIds.length }),
  });
  assert.is(await notify(['u1']), 1);
  assert.is(attr(t.span('execute_tool notify_users'), ATTR_AGENT_SAFETY_IMPACT_VERDICT), 'proceed');
  t.reset();
  await rejection(notify(Array.from({ length: 200 }, (_, i) => `u${i}`)));
  assert.is(attr(t.span('execute_tool notify_users'), ATTR_AGENT_SAFETY_IMPACT_VERDICT), 'review');
  t.reset();
  const broken = guard((_ids: string[]) => 0, { name: 'broken_meta', gate, impact: () => ({ scope: 'cohort' }) });
  await rejection(broken([]));
  assert.is(attr(t.span('execute_tool broken_meta'), ATTR_AGENT_SAFETY_IMPACT_REASON), 'impact_model_error', 'invalid computed metadata fails closed');
});

test('cached by tool call id: a resumed call is re-checked identically, and the span says so', async ({ t }) => {
  let asked = 0;
  const judge: ImpactModel = async () => (++asked === 1 ? 0.1 : 0.95);
  const gate = new CounterfactualEstimator({ impactModel: judge });
  const refund = guard(async (order: { id: number }) => `refunded ${order.id}`, { name: 'refund', gate, callId: order => `call-${order.id}` });
  assert.is(await refund({ id: 7 }), 'refunded 7');
  t.reset();
  assert.is(await refund({ id: 7 }), 'refunded 7', 'the resumed call is not blocked by a judge that changed its mind');
  assert.is(asked, 1);
  assert.is(gate.cachedAssessments, 1);
  const span = t.span('execute_tool refund');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_CACHED), true);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_PROPOSED), 0.1);
  gate.clearCache();
  await rejection(refund({ id: 7 }));
  assert.is(asked, 2, 'after clearCache the model is asked again');
});

test('gate() alone: records onto the active span, counts, and throws ActionBlockedError on block', async ({ t }) => {
  const estimator = new CounterfactualEstimator({ approve: () => true });
  const tracer = t.provider.getTracer('app');
  const span = tracer.startSpan('app step');
  const before = await decisions(t);
  await context.with(trace.setSpan(context.active(), span), async () => {
    const decision = await estimator.gate('send_push', { userId: 'u1' }, { metadata: { reversibility: 'irreversible_external', scope: 'user' } });
    assert.is(decision.verdict, 'proceed');
    assert.is(decision.enforced, 'proceeded');
    assert.is(decision.assessment.level, 'MODERATE');
    const err = await rejection(estimator.gate('send_push_all', {}, { metadata: GLOBAL_SEND }));
    assert.ok(isActionBlockedError(err));
  });
  span.end();
  const recorded = t.span('app step');
  assert.is(attr(recorded, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked', 'the last decision is on the span');
  assert.is(recorded.status.code, SpanStatusCode.UNSET, "the caller's span status is the caller's business");
  const approved = await estimator.gate('send_digest', {}, { metadata: COHORT_SEND, callId: 'c9' });
  assert.is(approved.enforced, 'approved', 'works outside any span');
  assert.is(approved.review?.reason, 'reviewer_approved');
  assert.equal(increase(before, await decisions(t)), { 'proceed/proceeded': 1, 'block/blocked': 1, 'review/approved': 1 });
});

test('estimate() assesses only: no review, no error, nothing recorded or counted', async ({ t }) => {
  let reviewed = false;
  const estimator = new CounterfactualEstimator({ approve: () => (reviewed = true) });
  const before = await decisions(t);
  const span = t.provider.getTracer('app').startSpan('estimating');
  const a = await context.with(trace.setSpan(context.active(), span), () => estimator.estimate('notify_all', {}, { metadata: GLOBAL_SEND }));
  span.end();
  assert.is(a.recommendation, 'block');
  assert.is(a.level, 'CRITICAL');
  assert.is(reviewed, false);
  assert.is(attr(t.span('estimating'), ATTR_AGENT_SAFETY_IMPACT_VERDICT), undefined);
  assert.equal(increase(before, await decisions(t)), {});
  const failed = await estimator.estimate('x', {}, undefined);
  assert.is(failed.reason, 'impact_model_error', 'a failing model does not reject estimate()');
});

test('order: gate and review before the pre-action explanation; a blocked call still carries its explanation', async ({ t }) => {
  const hooks = new ExplainabilityHookManager();
  const gate = new CounterfactualEstimator({ approve: () => true });
  const digest = guard(() => 'ok', { name: 'send_digest', gate, impact: COHORT_SEND, explain: { hooks, reasoning: 'weekly digest is due' } });
  await digest();
  const names = t.span('execute_tool send_digest').events.map(e => e.name === EVENT_AGENT_SAFETY_EXPLANATION ? `explanation:${e.attributes?.[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]}` : e.name);
  assert.equal(names, [EVENT_AGENT_SAFETY_REVIEW_REQUESTED, EVENT_AGENT_SAFETY_REVIEW_ANSWERED, 'explanation:pre_action', 'explanation:post_action']);

  t.reset();
  let reasoned = 0;
  const notifyAll = guard(() => 'sent', {
    name: 'notify_all_users',
    gate,
    impact: GLOBAL_SEND,
    explain: {
      hooks,
      reasoningFn: () => {
        reasoned++;
        return 'announce the new feature to everyone';
      },
      confidence: 0.8,
    },
  });
  await rejection(notifyAll());
  const span = t.span('execute_tool notify_all_users');
  const phases = span.events.filter(e => e.name === EVENT_AGENT_SAFETY_EXPLANATION).map(e => e.attributes?.[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]);
  assert.equal(phases, ['on_error'], 'no pre-action record: the action never started');
  assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_REASONING), 'announce the new feature to everyone');
  assert.is(reasoned, 1);
  const [record] = hooks.getExplanations({ action: 'notify_all_users' });
  assert.is(record.phase, 'on_error');
  assert.match(record.errorSummary!, /^ActionBlockedError: action "notify_all_users" blocked/);
});

test('the review request is on the span before the reviewer is asked; the answer after', async ({ t }) => {
  const seen: string[][] = [];
  const gate = new CounterfactualEstimator({
    approve: () => {
      const span = trace.getActiveSpan() as unknown as ReadableSpan;
      seen.push(span.events.map(e => e.name));
      return true;
    },
  });
  const digest = guard(() => 'sent', { name: 'send_digest', gate, impact: COHORT_SEND });
  assert.is(await digest(), 'sent');
  assert.equal(seen, [[EVENT_AGENT_SAFETY_REVIEW_REQUESTED]], 'the reviewer runs after the request is recorded, before the answer');
  const span = t.span('execute_tool send_digest');
  assert.equal(span.events.map(e => e.name), [EVENT_AGENT_SAFETY_REVIEW_REQUESTED, EVENT_AGENT_SAFETY_REVIEW_ANSWERED]);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'approved');
});

test('user models and the approval hook run inside the call: their spans are children of the tool span', async ({ t }) => {
  const tracer = t.provider.getTracer('judge');
  const gate = new CounterfactualEstimator({
    impactModel: async () => {
      tracer.startSpan('llm judge').end();
      return 0.5;
    },
    approve: async () => {
      tracer.startSpan('ask reviewer').end();
      return true;
    },
  });
  await guard(() => 1, { name: 'judged_tool', gate })();
  const tool = t.span('execute_tool judged_tool');
  assert.is(t.span('llm judge').parentSpanContext?.spanId, tool.spanContext().spanId);
  assert.is(t.span('ask reviewer').parentSpanContext?.spanId, tool.spanContext().spanId);
});

test('an inner tool blocked inside an outer guarded tool: the outer call is an error, not blocked', async ({ t }) => {
  const gate = new CounterfactualEstimator();
  const inner = guard(() => 'x', { name: 'inner_send', gate, impact: GLOBAL_SEND });
  const outer = guard(() => inner(), { name: 'outer_plan', gate, impact: READ });
  await rejection(outer());
  assert.is(attr(t.span('execute_tool inner_send'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'blocked');
  const o = t.span('execute_tool outer_plan');
  assert.is(attr(o, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'error');
  assert.is(attr(o, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'proceeded');
});

test('a caller abort while a review is pending denies the call (fail closed)', async ({ t }) => {
  const gate = new CounterfactualEstimator({ approve: () => new Promise(() => {}) });
  const digest = guard(() => 'sent', { name: 'send_digest', gate, impact: COHORT_SEND });
  const controller = new AbortController();
  const pending = digest.withOptions({ signal: controller.signal })();
  setTimeout(() => controller.abort(), 5);
  const err = (await rejection(pending)) as ActionBlockedError;
  assert.is(err.review?.reason, 'review_aborted');
  assert.is(attr(t.span('execute_tool send_digest'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'denied');
});

test('bad options throw at construction, naming the option and the value', () => {
  const fn = () => 1;
  const cases: [() => unknown, RegExp, ErrorConstructor][] = [
    [() => new CounterfactualEstimator({ blockThreshold: 1.2 }), /blockThreshold.*1\.2/, RangeError],
    [() => new CounterfactualEstimator({ reviewThreshold: -0.1 }), /reviewThreshold/, RangeError],
    [() => new CounterfactualEstimator({ blockThreshold: 0.3 }), /reviewThreshold must be <= blockThreshold \(0\.3\), got 0\.4/, RangeError],
    [() => new CounterfactualEstimator({ blockThreshold: 0.5, reviewThreshold: 0.6 }), /reviewThreshold/, RangeError],
    [() => new CounterfactualEstimator({ modelTimeoutMs: 0 }), /modelTimeoutMs/, RangeError],
    [() => new CounterfactualEstimator({ reviewTimeoutMs: -1 }), /reviewTimeoutMs/, RangeError],
    [() => new CounterfactualEstimator({ cacheSize: 1.5 }), /cacheSize/, RangeError],
    [() => new CounterfactualEstimator({ approve: 'yes' as never }), /approve/, TypeError],
    [() => new CounterfactualEstimator({ impactModel: 0.5 as never }), /impactModel/, TypeError],
    [() => new CounterfactualEstimator({ block_threshold: 0.7 } as never), /unknown option "block_threshold"/, TypeError],
    [() => guard(fn, { name: 'x', impact: READ }), /impact needs a gate/, TypeError],
    [() => guard(fn, { name: 'x', gate: {} as never }), /gate must be a CounterfactualEstimator/, TypeError],
    [() => guard(fn, { name: 'x', gate: new CounterfactualEstimator(), impact: { scope: 'cohort' } }), /impact\.cohortSize/, TypeError],
    [() => guard(fn, { name: 'x', gate: new CounterfactualEstimator(), impact: { reversibility: 'maybe' as never } }), /impact\.reversibility.*maybe/, TypeError],
  ];
  for (const [make, re, type] of cases) {
    assert.throws(make, (e: Error) => e instanceof type && re.test(e.message), re.source);
  }
});

test('call options of gate() and estimate() are validated', async () => {
  const estimator = new CounterfactualEstimator();
  assert.instance(await rejection(estimator.gate('', {})), TypeError);
  assert.match(String(await rejection(estimator.estimate('x', {}, { metadata: { cost: -5 } }))), /metadata\.cost/);
  assert.match(String(await rejection(estimator.gate('x', {}, { callID: 'typo' } as never))), /unknown option "callID"/);
});

test('decisions are counted per acting agent (gen_ai.agent.id), from the guard or the gate() options', async ({ t }) => {
  const gate = new CounterfactualEstimator();
  const read = guard(async () => 'ok', { name: 'agent_read', gate, impact: READ, agent: { id: 'agent-a' } });
  await read();
  await read();
  await gate.gate('agent_read', {}, { metadata: READ, agentId: 'agent-b' });
  const points = await t.points(METRIC_AGENT_SAFETY_GATE_DECISIONS);
  const of = (agent: string) => points.find(p => p.attributes['gen_ai.agent.id'] === agent && p.attributes.verdict === 'proceed')?.value;
  assert.is(of('agent-a'), 2);
  assert.is(of('agent-b'), 1);
});

test.run();
