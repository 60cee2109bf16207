import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ImpactAssessor } from '../../../src/patterns/gate/impact-assessor.js';
import type { ImpactAssessorConfig } from '../../../src/patterns/gate/impact-assessor.js';
import { declaredInactionImpact, impactThresholds, rulesImpactModel } from '../../../src/index.js';
import type { ImpactModel } from '../../../src/index.js';

const test = suite('ImpactAssessor: models, fail closed, cache');

function assessor(overrides: Partial<ImpactAssessorConfig> = {}): ImpactAssessor {
  return new ImpactAssessor({
    impactModel: rulesImpactModel(),
    counterfactualModel: declaredInactionImpact,
    thresholds: impactThresholds(),
    modelTimeoutMs: 1_000,
    cacheSize: 100,
    ...overrides,
  });
}
const fixed = (value: unknown): ImpactModel => () => value as number;

test('synchronous models give a synchronous assessment (no promise on the hot path)', () => {
  const result = assessor().assess('read', {}, { metadata: { reversibility: 'read_only' } });
  assert.not.instance(result, Promise);
  if (result instanceof Promise) return;
  assert.is(result.assessment.recommendation, 'proceed');
  assert.is(result.assessment.level, 'NEGLIGIBLE');
  assert.is(result.assessment.failClosed, false);
  assert.is(result.cached, false);
});

test('asynchronous models are awaited; proposed, counterfactual and the signed delta are reported', async () => {
  const a = assessor({ impactModel: async () => ({ score: 0.9, factors: { judge: 0.9 } }), counterfactualModel: async () => 0.3 });
  const { assessment } = await a.assess('migrate', {}, undefined);
  assert.is(assessment.proposedImpact, 0.9);
  assert.is(assessment.counterfactualImpact, 0.3);
  assert.is(assessment.impactDelta, 0.6);
  assert.is(assessment.level, 'HIGH');
  assert.is(assessment.recommendation, 'review');
  assert.is(assessment.reason, 'review_threshold_reached');
  assert.equal({ ...assessment.factors }, { judge: 0.9 });
  assert.ok(Object.isFrozen(assessment));
});

test('a harm-reducing action (counterfactual above proposed) proceeds with a negative delta', async () => {
  const { assessment } = (await assessor({ impactModel: fixed(0.5) }).assess('rollback_bad_deploy', {}, { metadata: { inactionImpact: 0.95 } }));
  assert.is(assessment.impactDelta, -0.45);
  assert.is(assessment.recommendation, 'proceed');
  assert.is(assessment.level, 'NEGLIGIBLE');
});

test('fail closed: every kind of model failure blocks, with the reason recorded', async () => {
  const cases: [string, ImpactModel, string][] = [
    ['throws', () => { throw new Error('judge down'); }, 'impact_model_error'],
    ['rejects', async () => { throw new Error('judge down'); }, 'impact_model_error'],
    ['returns a string', fixed('0.2'), 'impact_model_invalid'],
    ['returns NaN', fixed(Number.NaN), 'impact_model_invalid'],
    ['returns > 1', fixed(1.5), 'impact_model_invalid'],
    ['returns < 0', fixed(-0.1), 'impact_model_invalid'],
    ['returns undefined', fixed(undefined), 'impact_model_invalid'],
    ['returns null', fixed(null), 'impact_model_invalid'],
    ['returns { score: NaN }', fixed({ score: Number.NaN }), 'impact_model_invalid'],
    ['returns a bad factor', fixed({ score: 0.1, factors: { ok: Number.POSITIVE_INFINITY } }), 'impact_model_invalid'],
    ['returns a bad factor name', fixed({ score: 0.1, factors: { 'Bad Name': 0.1 } }), 'impact_model_invalid'],
    ['resolves to NaN', async () => Number.NaN, 'impact_model_invalid'],
  ];
  for (const [what, model, reason] of cases) {
    const { assessment } = await assessor({ impactModel: model }).assess('act', {}, undefined);
    assert.is(assessment.recommendation, 'block', what);
    assert.is(assessment.reason, reason, what);
    assert.is(assessment.failClosed, true, what);
    assert.is(assessment.level, 'CRITICAL', what);
    assert.ok(assessment.detail && assessment.detail.length > 0, `${what}: a detail for humans`);
  }
  const { assessment } = await assessor({ counterfactualModel: fixed(7) }).assess('act', {}, { metadata: { reversibility: 'read_only' } });
  assert.is(assessment.reason, 'counterfactual_model_invalid', 'the counterfactual model fails closed too');
  const thrown = await assessor({ counterfactualModel: () => { throw new Error('x'); } }).assess('act', {}, { metadata: { reversibility: 'read_only' } });
  assert.is(thrown.assessment.reason, 'counterfactual_model_error');
});

test('fail closed: a model that exceeds its timeout blocks, and its signal is aborted', async () => {
  let seen: AbortSignal | undefined;
  const hanging: ImpactModel = (_a, _args, context) => {
    seen = context.signal;
    return new Promise(() => {});
  };
  const { assessment } = await assessor({ impactModel: hanging, modelTimeoutMs: 15 }).assess('act', {}, undefined);
  assert.is(assessment.recommendation, 'block');
  assert.is(assessment.reason, 'impact_model_timeout');
  assert.ok(seen?.aborted, 'the model was told to stop');
  const slowBaseline = await assessor({ counterfactualModel: () => new Promise(() => {}), modelTimeoutMs: 15 }).assess('act', {}, { metadata: { reversibility: 'read_only' } });
  assert.is(slowBaseline.assessment.reason, 'counterfactual_model_timeout');
});

test('a metadata function that throws fails closed', () => {
  const result = assessor().assess('act', {}, { metadata: () => { throw new Error('no size'); } });
  if (result instanceof Promise) throw new Error('expected a synchronous result');
  assert.is(result.assessment.reason, 'impact_metadata_error');
  assert.is(result.assessment.recommendation, 'block');
  assert.match(result.assessment.detail ?? '', /no size/);
});

test('the rules model without metadata blocks, saying why', () => {
  const result = assessor().assess('notify_all', {}, undefined);
  if (result instanceof Promise) throw new Error('expected a synchronous result');
  assert.is(result.assessment.reason, 'impact_model_error');
  assert.match(result.assessment.detail ?? '', /declare `impact`/);
});

test('cache by call id: a resumed call is re-checked identically, even with a non-deterministic model', async () => {
  let calls = 0;
  const judge: ImpactModel = async () => {
    calls++;
    return calls === 1 ? 0.5 : 0.99; // a judge that changes its mind
  };
  const a = assessor({ impactModel: judge });
  const first = await a.assess('refund', { order: 7 }, { callId: 'call-1' });
  const resumed = await a.assess('refund', { order: 7 }, { callId: 'call-1' });
  assert.is(calls, 1, 'the model was not asked again');
  assert.is(resumed.assessment, first.assessment, 'the very same assessment');
  assert.is(resumed.cached, true);
  assert.is(first.cached, false);
  const other = await a.assess('refund', { order: 7 }, { callId: 'call-2' });
  assert.is(other.assessment.recommendation, 'block', 'another call id is assessed afresh');
  const edited = await a.assess('refund', { order: 8 }, { callId: 'call-1' });
  assert.is(edited.cached, false, 'changed arguments under the same call id are re-assessed');
  const noId = await a.assess('refund', { order: 7 }, undefined);
  assert.is(noId.cached, false, 'without a call id nothing is cached');
});

test('the cache is bounded, keeps the newest entries, and is off with cacheSize 0', async () => {
  const a = assessor({ impactModel: fixed(0.1), cacheSize: 2 });
  for (const id of ['a', 'b', 'c']) await a.assess('t', {}, { callId: id });
  assert.is(a.cacheSize, 2);
  assert.is((await a.assess('t', {}, { callId: 'c' })).cached, true);
  assert.is((await a.assess('t', {}, { callId: 'a' })).cached, false, 'the oldest was evicted');
  const off = assessor({ impactModel: fixed(0.1), cacheSize: 0 });
  await off.assess('t', {}, { callId: 'x' });
  assert.is((await off.assess('t', {}, { callId: 'x' })).cached, false);
  assert.is(off.cacheSize, 0);
});

test('fail-closed assessments are not cached: a retry gets a fresh chance', async () => {
  let fail = true;
  const a = assessor({ impactModel: () => { if (fail) throw new Error('flaky'); return 0.1; } });
  assert.is((await a.assess('t', {}, { callId: 'r' })).assessment.recommendation, 'block');
  fail = false;
  const retry = await a.assess('t', {}, { callId: 'r' });
  assert.is(retry.assessment.recommendation, 'proceed');
  assert.is(retry.cached, false);
});

test.run();
