import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { CircuitBreaker, CircuitBreakerRegistry, CounterfactualEstimator, consecutiveFailures, guard, invokeAgent, isActionBlockedError, isCircuitOpenError } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_BREAKER_NAME, ATTR_AGENT_SAFETY_BREAKER_STATE, ATTR_AGENT_SAFETY_CALL_OUTCOME, ATTR_ERROR_TYPE, EVENT_AGENT_SAFETY_BREAKER_TRANSITION, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS } from '../../../src/semconv.js';
import { BreakerStep } from '../../../src/instrumentation/breaker/breaker-step.js';
import type { GuardCall } from '../../../src/instrumentation/guard/guard-step.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

let seq = 0;
const unique = (base: string) => `${base}_${++seq}`;

/** The breaker transition events of a span, as `from>to:reason`. */
function transitions(span: ReadableSpan): string[] {
  return span.events
    .filter(e => e.name === EVENT_AGENT_SAFETY_BREAKER_TRANSITION)
    .map(e => `${e.attributes?.['agent_safety.breaker.from']}>${e.attributes?.['agent_safety.breaker.to']}:${e.attributes?.['agent_safety.breaker.reason']}`);
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>(res => (resolve = res));
  return { promise, resolve };
}

const test = suite<{ t: TestTelemetry }>('guard({ breaker })', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry({ agent: { id: 'agent-1' } });
});
test.after(async ctx => {
  await ctx.t.shutdown();
});
test.before.each(ctx => ctx.t.reset());

test('the story on spans: admission attributes, the trip event, a fast rejection, half-open, recovery', async ({ t }) => {
  let now = 1_000_000;
  const name = unique('rank_content');
  const breaker = new CircuitBreaker({ name, trip: consecutiveFailures(2), cooldownMs: 30_000, now: () => now });
  let down = true;
  let calls = 0;
  const rank = guard(
    async (user: string) => {
      calls++;
      if (down) throw Object.assign(new Error(`ranking down for ${user}`), { code: 'SERVICE_UNAVAILABLE' });
      return ['p1', 'p2'];
    },
    { name, breaker },
  );
  const spans = () => t.spans().filter(s => s.name === `execute_tool ${name}`);

  await rejection(rank('u1'));
  await rejection(rank('u2'));
  const rejected = await rejection(rank('u3'));
  assert.ok(isCircuitOpenError(rejected));
  assert.is(calls, 2, 'the rejected call never reached the tool');
  now += 30_000;
  down = false;
  assert.equal(await rank('u4'), ['p1', 'p2']);

  const [first, second, third, fourth] = spans();
  assert.is(attr(first, ATTR_AGENT_SAFETY_BREAKER_NAME), name);
  assert.is(attr(first, ATTR_AGENT_SAFETY_BREAKER_STATE), 'closed');
  assert.is(attr(first, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'error');
  assert.equal(transitions(first), []);
  assert.equal(transitions(second), ['closed>open:consecutive_failures'], 'the call that tripped it carries the event');

  assert.is(attr(third, ATTR_AGENT_SAFETY_BREAKER_STATE), 'open');
  assert.is(attr(third, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'rejected');
  assert.is(attr(third, ATTR_ERROR_TYPE), 'CircuitOpenError');
  assert.is(third.status.code, SpanStatusCode.ERROR);
  assert.match(third.status.message ?? '', new RegExp(`circuit breaker "${name}" is open; next probe after .* \\(open since `));
  assert.equal(third.events.filter(e => e.name === 'exception'), [], 'no exception event: nothing ran');

  assert.is(attr(fourth, ATTR_AGENT_SAFETY_BREAKER_STATE), 'half_open', 'admitted as the probe');
  assert.equal(transitions(fourth), ['open>half_open:cooldown_elapsed', 'half_open>closed:probes_succeeded']);
  assert.is(attr(fourth, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'success');
  assert.is(breaker.state, 'closed');
  breaker.dispose();
});

test('many calls started together while half-open: exactly halfOpenProbes reach the tool, the rest are rejected spans', async ({ t }) => {
  let now = 0;
  const name = unique('probe_limit');
  const breaker = new CircuitBreaker({ name, trip: consecutiveFailures(1), cooldownMs: 1_000, halfOpenProbes: 2, now: () => now });
  const gate = deferred();
  let reached = 0;
  let failing = true;
  const tool = guard(
    async () => {
      reached++;
      if (failing) throw new Error('down');
      await gate.promise;
      return 'ok';
    },
    { name, breaker },
  );
  await rejection(tool());
  failing = false;
  reached = 0;
  now += 1_000;
  t.reset();
  const settled = Promise.allSettled(Array.from({ length: 12 }, () => tool()));
  await new Promise(resolve => setImmediate(resolve));
  assert.is(reached, 2);
  gate.resolve();
  const results = await settled;
  assert.is(results.filter(r => r.status === 'fulfilled').length, 2);
  assert.is(reached, 2);
  const outcomes = t.spans().map(s => attr(s, ATTR_AGENT_SAFETY_CALL_OUTCOME));
  assert.is(outcomes.filter(o => o === 'rejected').length, 10);
  assert.is(outcomes.filter(o => o === 'success').length, 2);
  assert.is(breaker.state, 'closed');
  breaker.dispose();
});

test('an abort by the caller is never a failure; the guard’s ToolTimeoutError is one', async () => {
  const name = unique('abortable');
  const breaker = new CircuitBreaker({ name, trip: consecutiveFailures(1) });
  // The tool's own (ref'd) timer keeps the process alive while the guard's unref'd timeout fires.
  const slow = guard(() => new Promise(resolve => setTimeout(resolve, 200)), { name, breaker });
  const controller = new AbortController();
  const pending = slow.withOptions({ signal: controller.signal })();
  controller.abort();
  await rejection(pending);
  assert.is(breaker.state, 'closed');
  assert.is(breaker.stats().calls.ignored, 1);
  const err = await rejection(slow.withOptions({ timeoutMs: 5 })());
  assert.is((err as Error).name, 'ToolTimeoutError');
  assert.is(breaker.state, 'open');
  assert.is(breaker.stats().calls.failure, 1);
  breaker.dispose();
});

test('a registry gives each agent its own breaker for the tool', async ({ t }) => {
  const name = unique('search');
  const registry = new CircuitBreakerRegistry({ trip: consecutiveFailures(1) });
  const search = guard(async (fail: boolean) => {
    if (fail) throw new Error('down');
    return 'hits';
  }, { name, breaker: registry });
  await invokeAgent({ name: 'a', id: 'agent-a' }, async () => {
    await rejection(search(true));
    assert.ok(isCircuitOpenError(await rejection(search(false))));
  });
  await invokeAgent({ name: 'b', id: 'agent-b' }, async () => {
    assert.is(await search(false), 'hits', "agent-a's open breaker does not block agent-b");
  });
  assert.is(await search(false), 'hits', 'the instrumentation’s agent (agent-1) has its own too');
  assert.is(registry.get('agent-a', name).state, 'open');
  assert.is(registry.get('agent-b', name).state, 'closed');
  assert.is(registry.get('agent-1', name).state, 'closed');
  const calls = (await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS)).filter(
    p => p.attributes['agent_safety.breaker.name'] === name && p.value > 0,
  );
  assert.equal(
    calls.map(p => `${p.attributes['gen_ai.agent.id']}:${p.attributes.outcome}=${p.value}`).sort(),
    ['agent-1:success=1', 'agent-a:failure=1', 'agent-a:rejected=1', 'agent-b:success=1'],
  );
  for (const b of registry.breakers()) b.dispose();
});

test('halfOpenWaitMs through the guard: a waiting call runs once the probe closes the breaker', async () => {
  let now = 0;
  const name = unique('waiting');
  const breaker = new CircuitBreaker({ name, trip: consecutiveFailures(1), cooldownMs: 10, halfOpenWaitMs: 60_000, now: () => now });
  const gate = deferred();
  let failing = true;
  const tool = guard(async (i: number) => {
    if (failing) throw new Error('down');
    if (i === 0) await gate.promise;
    return i;
  }, { name, breaker });
  await rejection(tool(-1));
  failing = false;
  now += 10;
  const probe = tool(0);
  const waiter = tool(1);
  await new Promise(resolve => setImmediate(resolve));
  gate.resolve();
  assert.equal(await Promise.all([probe, waiter]), [0, 1]);
  breaker.dispose();
});

test('an error before the action started (e.g. a blocked call) releases the probe slot as ignored', async ({ t }) => {
  let now = 0;
  const breaker = new CircuitBreaker({ name: unique('step'), trip: consecutiveFailures(1), cooldownMs: 10, now: () => now });
  await rejection(breaker.execute(() => Promise.reject(new Error('down'))));
  now += 10;
  let ran = false;
  const gate = new CounterfactualEstimator({ impactModel: () => 1 }); // always blocks
  const tool = guard(() => (ran = true), { name: unique('blocked'), breaker, gate });
  assert.ok(isActionBlockedError(await rejection(tool())));
  assert.is(ran, false);
  assert.is(breaker.state, 'half_open', 'not a failed probe');
  assert.is(breaker.stats().calls.ignored, 1);
  const span = t.spans()[0];
  assert.is(attr(span, ATTR_AGENT_SAFETY_BREAKER_STATE), 'half_open');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'blocked');
  await breaker.execute(async () => 'probe');
  assert.is(breaker.state, 'closed', 'the slot was free for the next probe');
  breaker.dispose();
});

test('the breaker step answers with plain data and never sees a span', async () => {
  let now = 0;
  const name = unique('step');
  const breaker = new CircuitBreaker({ name, trip: consecutiveFailures(1), cooldownMs: 10, now: () => now });
  await rejection(breaker.execute(() => Promise.reject(new Error('down'))));
  const step = new BreakerStep(breaker, 'tool');
  const call = { args: [], signal: undefined, agent: undefined } as unknown as GuardCall;

  const rejected = step.admit(call);
  assert.not.instance(rejected, Promise, 'an open breaker decides at once');
  const r = rejected as Exclude<typeof rejected, Promise<unknown>>;
  assert.equal(r.attributes, { [ATTR_AGENT_SAFETY_BREAKER_NAME]: name, [ATTR_AGENT_SAFETY_BREAKER_STATE]: 'open' });
  assert.is(r.stop?.outcome, 'rejected');
  assert.is(r.stop?.exception, false);
  assert.ok(isCircuitOpenError(r.stop?.error));
  assert.is(r.state, undefined);

  now += 10;
  const admitted = step.admit(call) as Exclude<typeof rejected, Promise<unknown>>;
  assert.equal(admitted.attributes, { [ATTR_AGENT_SAFETY_BREAKER_NAME]: name, [ATTR_AGENT_SAFETY_BREAKER_STATE]: 'half_open' });
  assert.equal(admitted.events?.map(e => e.attributes?.['agent_safety.breaker.to']), ['half_open']);
  assert.is(admitted.stop, undefined);
  step.start(call, admitted.state);
  now += 1;
  const settled = step.settle(call, admitted.state, { ok: true, result: 'fine' });
  assert.equal(settled?.events?.map(e => `${e.attributes?.['agent_safety.breaker.from']}>${e.attributes?.['agent_safety.breaker.to']}`), ['half_open>closed']);
  assert.is(breaker.state, 'closed');
  assert.is(step.settle(call, undefined, { ok: false, error: new Error('x'), aborted: false }), undefined, 'nothing for a call it did not admit');
  breaker.dispose();
});

test('guards without a breaker set no breaker attributes; a bad breaker option throws naming it', async ({ t }) => {
  await guard(() => 1, { name: unique('plain') })();
  assert.is(attr(t.spans()[0], ATTR_AGENT_SAFETY_BREAKER_NAME), undefined);
  assert.throws(() => guard(() => 1, { name: 'x', breaker: {} as never }), /breaker must be a CircuitBreaker or a CircuitBreakerRegistry, got object/);
});

test.run();
