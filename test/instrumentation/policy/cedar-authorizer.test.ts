/**
 * The Cedar adapter with the real @cedar-policy/cedar-wasm: allow, deny,
 * and an evaluation error (Cedar skips the failing policy and would allow;
 * the adapter denies: fail closed), alone and through a Policy.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Policy, cedarAuthorizer } from '../../../src/index.js';
import type { PolicySubject, PolicyTicket } from '../../../src/index.js';

const test = suite('cedarAuthorizer (real Cedar)');

const POLICIES = `
@id("everyone-searches")
permit(principal, action == Action::"search", resource);

@id("mailer-sends")
permit(principal == Agent::"mailer", action == Action::"send_email", resource);

@id("no-external-mail")
forbid(principal, action == Action::"send_email", resource)
  unless { context.arguments.to like "*@example.com" };

@id("payments")
permit(principal in Team::"finance", action == Action::"pay", resource);

@id("payment-cap")
forbid(principal, action == Action::"pay", resource)
  when { context.arguments.amount > 100 };
`;

const entities = [
  { uid: { type: 'Agent', id: 'billing' }, attrs: {}, parents: [{ type: 'Team', id: 'finance' }] },
  { uid: { type: 'Team', id: 'finance' }, attrs: {}, parents: [] },
];

const call = (agent: string | undefined, tool: string, ...args: unknown[]): PolicySubject => ({ agent, tool, args, run: 'r1' });

test('allow and deny, with the deciding policies named by their @id', async () => {
  const cedar = await cedarAuthorizer({ policies: POLICIES, entities });
  assert.equal(cedar.policyIds, ['everyone-searches', 'mailer-sends', 'no-external-mail', 'payments', 'payment-cap']);
  assert.equal(cedar.authorize(call('any', 'search', 'q')), { decision: 'allow', policies: ['everyone-searches'] });
  assert.equal(cedar.authorize(call('mailer', 'send_email', { to: 'ann@example.com' })), { decision: 'allow', policies: ['mailer-sends'] });
  assert.equal(cedar.authorize(call('mailer', 'send_email', { to: 'eve@evil.test' })), { decision: 'deny', policies: ['no-external-mail'] });
  assert.equal(cedar.authorize(call('ranker', 'send_email', { to: 'ann@example.com' })), { decision: 'deny', policies: [] }, 'no permit: default deny');
  assert.equal(cedar.authorize(call('billing', 'pay', { amount: 40 })), { decision: 'allow', policies: ['payments'] }, 'entity hierarchy');
  assert.equal(cedar.authorize(call('billing', 'pay', { amount: 400 })).decision, 'deny');
  assert.equal(cedar.authorize(call(undefined, 'pay', { amount: 1 })).decision, 'deny', 'no agent');
});

test('an evaluation error denies even though Cedar alone would allow (fail closed)', async () => {
  const cedar = await cedarAuthorizer({ policies: POLICIES, entities });
  // `amount` missing: "payment-cap" errors, Cedar skips it, and "payments" allows.
  const answer = cedar.authorize(call('billing', 'pay', { currency: 'EUR' }));
  assert.is(answer.decision, 'error');
  assert.equal(answer.policies, ['payment-cap']);
  assert.match(answer.error!, /payment-cap: .*amount/);
  // Through a Policy: the call is denied with reason evaluation_error.
  const policy = new Policy({ authorizer: cedar });
  const t = policy.decide(call('billing', 'pay', { currency: 'EUR' })) as PolicyTicket;
  assert.equal([t.allowed, t.reason, t.rule], [false, 'evaluation_error', 'payment-cap']);
  const ok = policy.decide(call('billing', 'pay', { amount: 10 })) as PolicyTicket;
  assert.equal([ok.allowed, ok.reason, ok.rule], [true, 'allowed', 'payments']);
  const denied = policy.decide(call('mailer', 'send_email', { to: 'x@y.z' })) as PolicyTicket;
  assert.equal([denied.allowed, denied.reason, denied.rule], [false, 'authorizer_denied', 'no-external-mail']);
});

test('a request Cedar cannot take, or a throwing context function, denies', async () => {
  const cedar = await cedarAuthorizer({
    policies: POLICIES,
    context: s => {
      if (s.tool === 'boom') throw new Error('no context');
      return { tenant: 't1' };
    },
  });
  const policy = new Policy({ authorizer: cedar });
  const huge = policy.decide(call('any', 'search', { amount: 1e300 })) as PolicyTicket;
  assert.equal([huge.allowed, huge.reason], [false, 'evaluation_error'], 'a decimal out of Cedar range');
  const boom = policy.decide(call('any', 'boom')) as PolicyTicket;
  assert.equal([boom.allowed, boom.reason, boom.detail], [false, 'evaluation_error', 'no context']);
  assert.is((policy.decide(call('any', 'search', { amount: 1.5 })) as PolicyTicket).allowed, true, 'fractions become decimals');
});

test('arguments by position, context.run and context.agent reach the policies', async () => {
  const cedar = await cedarAuthorizer({
    policies: {
      'second-arg': 'permit(principal, action == Action::"copy", resource) when { context.arguments["1"] == "dst" && context.run == "r1" && context.agent == "a" };',
    },
  });
  assert.is(cedar.authorize(call('a', 'copy', 'src', 'dst')).decision, 'allow');
  assert.is(cedar.authorize(call('a', 'copy', 'src', 'elsewhere')).decision, 'deny');
});

test('bad policies and options throw at set-up, naming the problem', async () => {
  const err = await cedarAuthorizer({ policies: 'permit(principal, action, resource' }).then(() => undefined, (e: Error) => e);
  assert.instance(err, TypeError);
  assert.match(err!.message, /policies do not parse/);
  const twice = await cedarAuthorizer({ policies: '@id("x") permit(principal, action, resource); @id("x") forbid(principal, action, resource);' }).then(() => undefined, (e: Error) => e);
  assert.match(twice!.message, /the id "x" is used twice/);
  const unknown = await cedarAuthorizer({ policies: '', schema: {} } as never).then(() => undefined, (e: Error) => e);
  assert.match(unknown!.message, /unknown option "schema"/);
});

test.run();
