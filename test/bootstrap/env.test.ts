import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AGENT_SAFETY_ENV, optionsFromEnv } from '../../src/bootstrap/index.js';

const test = suite('optionsFromEnv');

test('no endpoint: the embedded default (console tree), no OTLP', () => {
  const o = optionsFromEnv({});
  assert.is(o.otlp, undefined);
  assert.is(o.console, true);
  assert.is(o.shutdownOnExit, true);
});

test('an endpoint turns on OTLP for both signals (protobuf by default) and the console off', () => {
  const o = optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
  assert.equal(o.otlp, { protocol: 'http/protobuf', traces: true, metrics: true });
  assert.is(o.console, false);
  assert.is(optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlp?.protocol, 'http/json');
});

test('per-signal endpoints and exporters', () => {
  const traces = optionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x/v1/traces' });
  assert.equal([traces.otlp?.traces, traces.otlp?.metrics], [true, false]);
  const noMetrics = optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'x', OTEL_METRICS_EXPORTER: 'none' });
  assert.is(noMetrics.otlp?.metrics, false);
  const noTraces = optionsFromEnv({ OTEL_TRACES_EXPORTER: 'none' });
  assert.is(noTraces.console, false);
  const prom = optionsFromEnv({ OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: '9999' });
  assert.equal(prom.prometheus, { host: '127.0.0.1', port: 9999 });
});

test('AGENT_SAFETY_* variables', () => {
  const o = optionsFromEnv({
    AGENT_SAFETY_AGENT_ID: 'a1',
    AGENT_SAFETY_AGENT_NAME: 'Ranker',
    AGENT_SAFETY_CAPTURE_ARGUMENTS: 'true',
    AGENT_SAFETY_CAPTURE_RESULT: '0',
    AGENT_SAFETY_CONSOLE: 'yes',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'x',
  });
  assert.equal(o.instrumentation?.agent, { id: 'a1', name: 'Ranker' });
  assert.is(o.instrumentation?.captureArguments, true);
  assert.is(o.instrumentation?.captureResult, false);
  assert.is(o.console, true);
  assert.is(optionsFromEnv({ AGENT_SAFETY_CAPTURE_ARGUMENTS: 'maybe' }).instrumentation?.captureArguments, undefined, 'not a boolean: ignored');
});

test('every AGENT_SAFETY_* variable read is documented in the README', async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const name of Object.keys(AGENT_SAFETY_ENV)) assert.ok(readme.includes(name), `${name} missing from README`);
});

test.run();
