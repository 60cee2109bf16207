import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RULES_IMPACT_MODEL_DEFAULTS, rulesImpactModel, scoreActionMetadata } from '../../../src/index.js';
import type { ActionMetadata, ImpactModelContext, ImpactScore } from '../../../src/index.js';

const test = suite('rules impact model');
const score = (m: ActionMetadata) => scoreActionMetadata(m, { ...RULES_IMPACT_MODEL_DEFAULTS });
const ctx = (metadata: ActionMetadata | undefined): ImpactModelContext => ({ metadata, callId: undefined, signal: new AbortController().signal });
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} ≈ ${b}`);

test('reversibility × scope in prod: each factor as in the table', () => {
  assert.is(score({ reversibility: 'read_only', scope: 'global' }).score, 0);
  close(score({ reversibility: 'compensated', scope: 'global' }).score, 0.2, 'compensated');
  close(score({ reversibility: 'manual_undo', scope: 'global' }).score, 0.5, 'manual undo');
  close(score({ reversibility: 'irreversible_internal', scope: 'global' }).score, 0.8, 'irreversible internal');
  close(score({ reversibility: 'irreversible_external', scope: 'global' }).score, 1, 'irreversible external');
  close(score({ reversibility: 'irreversible_external', scope: 'record' }).score, 0.2, 'one record');
  close(score({ reversibility: 'irreversible_external', scope: 'user' }).score, 0.3, 'one user');
});

test('a cohort scales with log10 of its size, from 0.3 (n = 1) to 0.8 (the whole population)', () => {
  close(score({ reversibility: 'irreversible_external', scope: 'cohort', cohortSize: 1 }).factors.scope, 0.3, 'n=1');
  close(score({ reversibility: 'irreversible_external', scope: 'cohort', cohortSize: 1000 }).factors.scope, 0.3 + 0.5 * 3 / 6, 'n=1000');
  close(score({ reversibility: 'irreversible_external', scope: 'cohort', cohortSize: 1_000_000 }).factors.scope, 0.8, 'n=N');
  close(score({ reversibility: 'irreversible_external', scope: 'cohort', cohortSize: 5e9 }).factors.scope, 0.8, 'n>N is capped');
  const bigger = scoreActionMetadata({ reversibility: 'irreversible_external', scope: 'cohort', cohortSize: 1000 }, { ...RULES_IMPACT_MODEL_DEFAULTS, population: 1000 });
  close(bigger.score, 0.8, 'population option');
});

test('cost, environment and the policy floor', () => {
  close(score({ reversibility: 'read_only', cost: 1000 }).factors.cost, 1, 'cost at the cap');
  close(score({ reversibility: 'read_only', cost: 1e9 }).factors.cost, 1, 'cost beyond the cap');
  close(score({ reversibility: 'read_only', cost: 10 }).score, Math.log1p(10) / Math.log1p(1000), 'cost alone');
  close(score({ reversibility: 'irreversible_external', scope: 'global', environment: 'staging' }).score, 0.3, 'staging');
  close(score({ reversibility: 'irreversible_external', scope: 'global', environment: 'sandbox' }).score, 0.1, 'sandbox');
  close(score({ reversibility: 'read_only', floor: 0.5 }).score, 0.5, 'floor');
  close(score({ reversibility: 'read_only', floor: 0.5, environment: 'sandbox' }).score, 0.05, 'environment scales the floor');
});

test('undeclared reversibility and scope count as their worst values', () => {
  const s = score({});
  assert.equal({ ...s.factors }, { reversibility: 1, scope: 1, cost: 0, environment: 1 }, 'no floor factor unless declared');
  assert.is(score({ floor: 0.2 }).factors.floor, 0.2);
  assert.is(s.score, 1);
  close(score({ scope: 'record' }).score, 0.2, 'only the scope declared');
});

test('the model reports every factor, and takes the environment from its options', () => {
  const staging = rulesImpactModel({ environment: 'staging' });
  const result = staging('notify', {}, ctx({ reversibility: 'irreversible_external', scope: 'global' })) as ImpactScore;
  close(result.score, 0.3, 'score');
  assert.equal(Object.keys(result.factors ?? {}).sort(), ['cost', 'environment', 'reversibility', 'scope']);
  const prodTool = staging('notify', {}, ctx({ reversibility: 'irreversible_external', scope: 'global', environment: 'prod' })) as ImpactScore;
  assert.is(prodTool.score, 1, "the tool's own environment wins");
});

test('deterministic: the same metadata always scores the same', () => {
  const model = rulesImpactModel();
  const m: ActionMetadata = { reversibility: 'manual_undo', scope: 'cohort', cohortSize: 321, cost: 12 };
  const first = JSON.stringify(model('x', {}, ctx(m)));
  for (let i = 0; i < 20; i++) assert.is(JSON.stringify(model('x', {}, ctx(m))), first);
});

test('no metadata: the model throws, naming the action (the gate then blocks)', () => {
  assert.throws(() => rulesImpactModel()('notify_all', {}, ctx(undefined)), /"notify_all".*impact/);
});

test('bad metadata and options throw, naming the field and the value', () => {
  assert.throws(() => score({ reversibility: 'sometimes' as never }), (e: Error) => e instanceof TypeError && /impact\.reversibility/.test(e.message) && /sometimes/.test(e.message));
  assert.throws(() => score({ scope: 'cohort' }), (e: Error) => e instanceof TypeError && /impact\.cohortSize/.test(e.message));
  assert.throws(() => score({ scope: 'cohort', cohortSize: 0 }), (e: Error) => e instanceof RangeError && /impact\.cohortSize/.test(e.message));
  assert.throws(() => score({ cost: -1 }), (e: Error) => e instanceof RangeError && /impact\.cost/.test(e.message));
  assert.throws(() => score({ floor: 1.2 }), (e: Error) => e instanceof RangeError && /impact\.floor/.test(e.message));
  assert.throws(() => score({ inactionImpact: 2 }), (e: Error) => e instanceof RangeError && /impact\.inactionImpact/.test(e.message));
  assert.throws(() => score({ reversability: 'read_only' } as never), (e: Error) => e instanceof TypeError && /unknown option "reversability"/.test(e.message));
  assert.throws(() => rulesImpactModel({ environment: 'qa' as never }), (e: Error) => e instanceof TypeError && /environment/.test(e.message));
  assert.throws(() => rulesImpactModel({ costCap: 0 }), (e: Error) => e instanceof RangeError && /costCap/.test(e.message));
  assert.throws(() => rulesImpactModel({ population: 0 }), (e: Error) => e instanceof RangeError && /population/.test(e.message));
});

test.run();
