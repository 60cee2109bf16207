import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiagLogLevel, diag, metrics } from '@opentelemetry/api';
import type { DiagLogger } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, MetricData } from '@opentelemetry/sdk-metrics';
import { CircuitBreaker, CircuitBreakerRegistry, consecutiveFailures } from '../../../src/index.js';
import { METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS } from '../../../src/semconv.js';
import { trackedBreakerCount } from '../../../src/instrumentation/breaker/breaker-metrics.js';
import { globalMetrics, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let seq = 0;
/** A breaker name no other test in this process uses. */
const unique = (base: string) => `${base}-${++seq}`;

/** `{ state → value }` of one breaker's state series. */
function stateSeries(points: DataPoint<number>[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) if (p.attributes['agent_safety.breaker.name'] === name) out[String(p.attributes.state)] = p.value;
  return out;
}

function byKey(points: DataPoint<number>[], name: string, key: (a: DataPoint<number>['attributes']) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) if (p.attributes['agent_safety.breaker.name'] === name) out[key(p.attributes)] = p.value;
  return out;
}

const transitionsOf = (points: DataPoint<number>[], name: string) => byKey(points, name, a => `${a.from}>${a.to}`);
const callsOf = (points: DataPoint<number>[], name: string) => byKey(points, name, a => String(a.outcome));

const test = suite<{ t: TestTelemetry }>('CircuitBreaker metrics', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry();
});
test.after(async ctx => {
  await ctx.t.shutdown();
});

test('instruments: names, units, descriptions, kinds', async ({ t }) => {
  const b = new CircuitBreaker({ name: unique('shape') });
  const metrics = await t.collect();
  const find = (n: string): MetricData => {
    const m = metrics.find(x => x.descriptor.name === n);
    assert.ok(m, `${n} is reported`);
    return m as MetricData;
  };
  // An observable up-down counter is a non-monotonic sum; an observable counter a monotonic one.
  const state = find(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE);
  assert.is(state.descriptor.unit, '{state}');
  assert.is(state.dataPointType, DataPointType.SUM);
  assert.is((state as { isMonotonic?: boolean }).isMonotonic, false);
  assert.ok(state.descriptor.description.length > 10);
  for (const [name, unit] of [
    [METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, '{transition}'],
    [METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, '{call}'],
  ]) {
    const m = find(name);
    assert.is(m.descriptor.unit, unit);
    assert.is(m.dataPointType, DataPointType.SUM);
    assert.is((m as { isMonotonic?: boolean }).isMonotonic, true);
    assert.ok(m.descriptor.description.length > 10);
  }
  b.dispose();
});

test('a breaker used alone: state series after each transition, read at collection time', async ({ t }) => {
  let now = 1_000_000;
  const name = unique('alone');
  const b = new CircuitBreaker({ name, agentId: 'agent-a', trip: consecutiveFailures(2), cooldownMs: 30_000, now: () => now });
  const series = async () => stateSeries(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE), name);

  assert.equal(await series(), { closed: 1, open: 0, half_open: 0 });
  await b.execute(async () => 'ok');
  await rejection(b.execute(() => Promise.reject(new Error('down'))));
  await rejection(b.execute(() => Promise.reject(new Error('down'))));
  assert.equal(await series(), { closed: 0, open: 1, half_open: 0 });
  await rejection(b.execute(async () => 'never'));

  now += 30_000; // nobody calls: the collection itself finds the breaker half-open
  assert.equal(await series(), { closed: 0, open: 0, half_open: 1 });
  await b.execute(async () => 'probe');
  assert.equal(await series(), { closed: 1, open: 0, half_open: 0 });

  assert.equal(transitionsOf(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS), name), {
    'closed>open': 1,
    'open>half_open': 1,
    'half_open>closed': 1,
    'half_open>open': 0,
    'open>closed': 0,
  });
  assert.equal(callsOf(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS), name), {
    success: 2,
    failure: 2,
    ignored: 0,
    rejected: 1,
    slow: 0,
  });
});

test('metric attributes: agent id, breaker name, and the state / from,to / outcome only', async ({ t }) => {
  const name = unique('attrs');
  const b = new CircuitBreaker({ name, agentId: 'agent-b' });
  await b.execute(() => 1);
  const check = (points: DataPoint<number>[], extra: string[]) => {
    const mine = points.filter(p => p.attributes['agent_safety.breaker.name'] === name);
    assert.ok(mine.length > 0);
    for (const p of mine) {
      assert.equal(Object.keys(p.attributes).sort(), ['agent_safety.breaker.name', 'gen_ai.agent.id', ...extra].sort());
      assert.is(p.attributes['gen_ai.agent.id'], 'agent-b');
    }
  };
  check(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE), ['state']);
  check(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS), ['from', 'to']);
  check(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS), ['outcome']);
  const anonymous = unique('no-agent');
  const c = new CircuitBreaker({ name: anonymous });
  const points = (await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE)).filter(p => p.attributes['agent_safety.breaker.name'] === anonymous);
  assert.is(points.length, 3);
  assert.not.ok(points.some(p => 'gen_ai.agent.id' in p.attributes), 'no agent id when the breaker has none');
  b.dispose();
  c.dispose();
});

test('dispose(): the state series drop to 0 (never stuck open in a cumulative exporter); the breaker keeps working', async ({ t }) => {
  const name = unique('disposed');
  const b = new CircuitBreaker({ name, trip: consecutiveFailures(1) });
  await rejection(b.execute(() => Promise.reject(new Error('down'))));
  assert.equal(stateSeries(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE), name), { closed: 0, open: 1, half_open: 0 });
  b.dispose();
  for (let i = 0; i < 7; i++) {
    assert.equal(stateSeries(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE), name), { closed: 0, open: 0, half_open: 0 });
  }
  assert.is(callsOf(await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS), name).failure, 1, 'counters keep their last value');
  b.reset();
  assert.is(await b.execute(() => 'still works'), 'still works');
});

test('a short-lived breaker is garbage collected: tracking it for metrics does not leak it', async ({ t }) => {
  const before = trackedBreakerCount();
  const names: string[] = [];
  const refs = ((): WeakRef<CircuitBreaker>[] => {
    const out: WeakRef<CircuitBreaker>[] = [];
    for (let i = 0; i < 20; i++) {
      const name = unique('ephemeral');
      names.push(name);
      out.push(new WeakRef(new CircuitBreaker({ name })));
    }
    return out;
  })();
  assert.is(trackedBreakerCount(), before + 20);
  for (let i = 0; i < 10 && refs.some(r => r.deref() !== undefined); i++) {
    await new Promise(resolve => setImmediate(resolve));
    gc();
  }
  assert.ok(refs.every(r => r.deref() === undefined), 'every breaker was collected');
  assert.ok(trackedBreakerCount() <= before, 'they are no longer tracked');
  const points = await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE);
  const theirs = points.filter(p => names.includes(String(p.attributes['agent_safety.breaker.name'])));
  assert.ok(theirs.every(p => p.value === 0), 'a collected breaker reports no current state');
});

test('registry: one breaker per agent and tool, named after the tool; snapshot round trip', async ({ t }) => {
  let now = 5_000_000;
  const tool = unique('rank');
  const registry = new CircuitBreakerRegistry({ trip: consecutiveFailures(1), cooldownMs: 1_000, now: () => now });
  const a = registry.get('agent-a', tool);
  assert.is(registry.get('agent-a', tool), a, 'the same breaker each time');
  const b = registry.get('agent-b', tool);
  assert.is.not(a, b);
  assert.is(a.name, tool);
  assert.is(a.agentId, 'agent-a');
  assert.ok(registry.has('agent-b', tool));
  await rejection(a.execute(() => Promise.reject(new Error('down'))));
  assert.is(a.state, 'open');
  assert.is(b.state, 'closed', "one agent's failures do not open another's breaker");
  const points = (await t.points(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE)).filter(
    p => p.attributes['agent_safety.breaker.name'] === tool && p.value === 1,
  );
  assert.equal(points.map(p => `${p.attributes['gen_ai.agent.id']}:${p.attributes.state}`).sort(), ['agent-a:open', 'agent-b:closed']);

  const saved = JSON.parse(JSON.stringify(registry));
  const restored = new CircuitBreakerRegistry({ trip: consecutiveFailures(1), cooldownMs: 1_000, now: () => now, initialState: saved });
  assert.is(restored.get('agent-a', tool).state, 'open');
  assert.is(restored.get('agent-b', tool).state, 'closed');
  now += 1_000;
  assert.is(restored.get('agent-a', tool).state, 'half_open');
  assert.ok(registry.delete('agent-a', tool));
  assert.not.ok(registry.delete('agent-a', tool));
  for (const r of [registry, restored]) for (const x of r.breakers()) x.dispose();
});

test('registry: bad options throw at construction', () => {
  assert.throws(() => new CircuitBreakerRegistry({ failureThreshold: 0 }), /failureThreshold must be >= 1, got 0/);
  assert.throws(() => new CircuitBreakerRegistry({ name: 'x' } as never), /name is set per breaker/);
  assert.throws(() => new CircuitBreakerRegistry({ initialState: { version: 1, breakers: [{ name: 'x', state: { version: 9 } }] } } as never), /initialState.breakers\[0\].state.version must be 1/);
});

test('failures of user callbacks go to diag, never to the caller', async () => {
  const errors: string[] = [];
  const logger: DiagLogger = {
    error: (message: string) => void errors.push(message),
    warn: () => {},
    info: () => {},
    debug: () => {},
    verbose: () => {},
  };
  diag.setLogger(logger, { logLevel: DiagLogLevel.ERROR, suppressOverrideMessage: true });
  try {
    const b = new CircuitBreaker({
      name: unique('noisy'),
      trip: consecutiveFailures(1),
      onStateChange: () => {
        throw new Error('listener bug');
      },
      classifyResult: () => {
        throw new Error('classifier bug');
      },
    });
    assert.is(await b.execute(async () => 'result'), 'result', 'the call is unaffected');
    assert.is(b.state, 'open', 'the throwing classifier counted a failure (fail closed)');
    assert.ok(errors.some(m => /classifyResult of circuit breaker "noisy-\d+" threw/.test(m)), errors.join('\n'));
    assert.ok(errors.some(m => /onStateChange listener of circuit breaker "noisy-\d+" threw/.test(m)), errors.join('\n'));
    b.dispose();
  } finally {
    diag.disable();
  }
});

test.run();

const alone = suite('CircuitBreaker alone, with only a global meter provider');

alone('a breaker created before the global provider reports through it (no instrumentation, no guard)', async () => {
  const name = unique('global');
  const b = new CircuitBreaker({ name, trip: consecutiveFailures(1) });
  const { meterProvider, exporter, reader } = globalMetrics();
  try {
    await rejection(b.execute(() => Promise.reject(new Error('down')))); // the transition notices the new provider
    await reader.forceFlush();
    const state = exporter.getMetrics().flatMap(r => r.scopeMetrics).flatMap(m => m.metrics)
      .find(m => m.descriptor.name === METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE);
    assert.ok(state, 'the state metric is exported');
    assert.equal(stateSeries(state!.dataPoints as DataPoint<number>[], name), { closed: 0, open: 1, half_open: 0 });
  } finally {
    b.dispose();
    metrics.disable();
    await meterProvider.shutdown();
  }
});

alone.run();
