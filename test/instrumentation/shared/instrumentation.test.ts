import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { metrics, trace } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { CircuitBreaker, CounterfactualEstimator, Policy, guard } from '../../../src/index.js';
import { AgentSafetyInstrumentation } from '../../../src/bootstrap/index.js';
import { ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, METRIC_GEN_AI_EXECUTE_TOOL_DURATION, TOOL_DURATION_BUCKETS_S } from '../../../src/semconv.js';
import { ensureContextManager, globalMetrics, rejection, setupTelemetry, sdkTrace } from '../../helpers/otel.js';

const test = suite('AgentSafetyInstrumentation');

test('registered through NodeSDK: guarded calls use the SDK providers', async () => {
  const exporter = sdkTrace.inMemorySpanExporter();
  const instrumentation = new AgentSafetyInstrumentation({ agent: { id: 'sdk-agent' }, captureArguments: true });
  const sdk = new NodeSDK({
    instrumentations: [instrumentation],
    spanProcessors: [sdkTrace.simpleSpanProcessor(exporter)],
    metricReaders: [],
    autoDetectResources: false,
  });
  sdk.start();
  try {
    const tool = guard(async (x: { n: number }) => x.n, { name: 'sdk_tool' });
    assert.is(await tool({ n: 3 }), 3);
    const [span] = exporter.getFinishedSpans();
    assert.is(span.name, 'execute_tool sdk_tool');
    assert.is(span.attributes[ATTR_GEN_AI_AGENT_ID], 'sdk-agent');
    assert.is(span.attributes[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS], '{"n":3}');
  } finally {
    await sdk.shutdown();
    instrumentation.unregister();
    trace.disable();
    metrics.disable();
  }
});

test('registered through registerInstrumentations with explicit providers', async () => {
  ensureContextManager();
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({ spanProcessors: [sdkTrace.simpleSpanProcessor(exporter)] });
  const instrumentation = new AgentSafetyInstrumentation();
  const unregister = registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: provider });
  try {
    await guard(() => 1, { name: 'registered' })();
    assert.equal(exporter.getFinishedSpans().map(s => s.name), ['execute_tool registered']);
  } finally {
    unregister();
    instrumentation.unregister();
    await provider.shutdown();
  }
});

test('without an instrumentation the global providers are used', async () => {
  ensureContextManager();
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({ spanProcessors: [sdkTrace.simpleSpanProcessor(exporter)] });
  trace.setGlobalTracerProvider(provider);
  try {
    await guard(() => 1, { name: 'global_path' })();
    assert.equal(exporter.getFinishedSpans().map(s => s.name), ['execute_tool global_path']);
  } finally {
    trace.disable();
    await provider.shutdown();
  }
});

test('metrics follow a global meter provider set after the guard was created', async () => {
  const tool = guard(() => 1, { name: 'late_meter' });
  await tool(); // recorded on the no-op meter: no provider yet
  const { meterProvider, exporter, reader } = globalMetrics();
  try {
    await tool();
    await reader.forceFlush();
    const metric = exporter.getMetrics().flatMap(r => r.scopeMetrics).flatMap(s => s.metrics)
      .find(m => m.descriptor.name === METRIC_GEN_AI_EXECUTE_TOOL_DURATION);
    assert.ok(metric, 'histogram exported through the late provider');
    const point = metric!.dataPoints.find(p => p.attributes['gen_ai.tool.name'] === 'late_meter');
    assert.is((point!.value as { count: number }).count, 1);
  } finally {
    metrics.disable();
    await meterProvider.shutdown();
  }
});

test('disable(): no spans or metrics, the call still works; enable() turns them back on', async () => {
  const t = setupTelemetry();
  try {
    const tool = guard(async () => 'ok', { name: 'toggled' });
    t.instrumentation.disable();
    assert.is(await tool(), 'ok');
    assert.is(t.spans().length, 0);
    assert.is((await t.histogram(METRIC_GEN_AI_EXECUTE_TOOL_DURATION)).length, 0);
    t.instrumentation.enable();
    await tool();
    assert.is(t.spans().length, 1);
  } finally {
    await t.shutdown();
  }
});

test('disable() silences telemetry only: the breaker, policy, gate and timeout still refuse, and the tool never runs', async () => {
  const t = setupTelemetry();
  try {
    t.instrumentation.disable();
    let ran = 0;
    const refusal = async (p: Promise<unknown>): Promise<string> => p.then(() => 'ran', (e: unknown) => (e as Error).name);
    const policy = new Policy({ rules: [{ name: 'nothing', effect: 'deny' }] });
    assert.is(await refusal(guard(() => ran++, { name: 'denied', policy })()), 'PolicyDeniedError');
    const gate = new CounterfactualEstimator();
    assert.is(await refusal(guard(() => ran++, { name: 'blocked', gate, impact: { reversibility: 'irreversible_external', scope: 'global' } })()), 'ActionBlockedError');
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
    const failing = guard(() => {
      ran++;
      throw new Error('down');
    }, { name: 'tripped', breaker });
    assert.is(await refusal(failing()), 'Error');
    assert.is(await refusal(failing()), 'CircuitOpenError');
    assert.is(ran, 1, 'only the call that tripped the breaker ran');
    const slow = guard(() => new Promise(resolve => setTimeout(resolve, 300)), { name: 'slow', timeoutMs: 20 });
    assert.is(await refusal(slow()), 'ToolTimeoutError');
    assert.is(t.spans().length, 0, 'and no telemetry');
  } finally {
    await t.shutdown();
  }
});

test('constructed with enabled: false it is silent until enabled', async () => {
  const t = setupTelemetry();
  const silent = new AgentSafetyInstrumentation({ enabled: false });
  silent.setTracerProvider(t.provider);
  try {
    await guard(() => 1, { name: 'silent' })();
    assert.is(t.spans().length, 0);
    silent.enable();
    await guard(() => 1, { name: 'loud' })();
    assert.equal(t.spans().map(s => s.name), ['execute_tool loud']);
  } finally {
    silent.unregister();
    await t.shutdown();
  }
});

test('setConfig applies at once to existing guards', async () => {
  const t = setupTelemetry();
  try {
    const tool = guard(async (x: number) => x, { name: 'reconfigured' });
    await tool(1);
    t.instrumentation.setConfig({ captureArguments: true, agent: { id: 'later' } });
    await tool(2);
    const [first, second] = t.spans();
    assert.is(first.attributes[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS], undefined);
    assert.is(second.attributes[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS], '2');
    assert.is(second.attributes[ATTR_GEN_AI_AGENT_ID], 'later');
  } finally {
    await t.shutdown();
  }
});

test('gen_ai.execute_tool.duration: seconds, bucket boundaries for seconds, error.type on failures', async () => {
  const t = setupTelemetry();
  try {
    const ok = guard(async () => 1, { name: 'timed' });
    const bad = guard(async () => {
      throw new RangeError('x');
    }, { name: 'timed' });
    await ok();
    await ok();
    await rejection(bad());
    const points = await t.histogram(METRIC_GEN_AI_EXECUTE_TOOL_DURATION);
    const okPoint = points.find(p => p.attributes['error.type'] === undefined)!;
    const badPoint = points.find(p => p.attributes['error.type'] === 'RangeError')!;
    assert.is(okPoint.value.count, 2);
    assert.is(badPoint.value.count, 1);
    assert.is(okPoint.attributes['gen_ai.tool.name'], 'timed');
    assert.is(okPoint.attributes['gen_ai.operation.name'], 'execute_tool');
    assert.equal(okPoint.value.buckets.boundaries, [...TOOL_DURATION_BUCKETS_S]);
    assert.ok((okPoint.value.sum ?? Infinity) < 1, 'recorded in seconds, not milliseconds');
    const metric = (await t.collect()).find(m => m.descriptor.name === METRIC_GEN_AI_EXECUTE_TOOL_DURATION)!;
    assert.is(metric.descriptor.unit, 's');
    assert.ok(metric.descriptor.description.length > 0);
  } finally {
    await t.shutdown();
  }
});

test('aborted calls are not recorded as durations', async () => {
  const t = setupTelemetry();
  try {
    const tool = guard(async () => 1, { name: 'aborted_timing' });
    await rejection(tool.withOptions({ signal: AbortSignal.abort() })());
    assert.is((await t.histogram(METRIC_GEN_AI_EXECUTE_TOOL_DURATION)).length, 0);
  } finally {
    await t.shutdown();
  }
});

test('installs no require hook: the modules a program loads after it do not pass through require-in-the-middle (it patches nothing)', () => {
  // In a fresh process (this one has constructed instrumentations already).
  const script = `
    import Module from 'node:module';
    const before = Module.prototype.require;
    const { AgentSafetyInstrumentation } = await import(${JSON.stringify(new URL('../../../dist/bootstrap/index.js', import.meta.url).href)});
    const { NodeSDK } = Module.createRequire(import.meta.url)('@opentelemetry/sdk-node');
    const instrumentation = new AgentSafetyInstrumentation({ agent: { id: 'a' } });
    const sdk = new NodeSDK({ instrumentations: [instrumentation], traceExporter: { export: (_s, done) => done({ code: 0 }), shutdown: async () => {} } });
    sdk.start();
    const hooked = Module.prototype.require !== before;
    await sdk.shutdown();
    process.stdout.write(JSON.stringify({ hooked, enabled: instrumentation.isEnabled(), name: instrumentation.instrumentationName }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../..', import.meta.url)), encoding: 'utf8', env: { ...process.env, OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' } });
  assert.equal(JSON.parse(out), { hooked: false, enabled: true, name: 'agent-safety-otel' });
});

test('bad configuration throws, naming the option', () => {
  assert.throws(() => new AgentSafetyInstrumentation({ captureArguments: 'yes' } as never), (e: Error) => e instanceof TypeError && /captureArguments/.test(e.message));
  assert.throws(() => new AgentSafetyInstrumentation({ redact: 42 } as never), (e: Error) => e instanceof TypeError && /redact/.test(e.message));
  assert.throws(() => new AgentSafetyInstrumentation({ agent: { id: '' } }), (e: Error) => e instanceof TypeError && /agent\.id/.test(e.message));
  assert.throws(() => new AgentSafetyInstrumentation({ captureArgs: true } as never), (e: Error) => /unknown option "captureArgs"/.test(e.message));
});

test.run();
