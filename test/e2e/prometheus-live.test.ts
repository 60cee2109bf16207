/**
 * A real Prometheus scrapes the package's metrics from an
 * `@opentelemetry/exporter-prometheus` endpoint in this process and
 * evaluates collector-config/prometheus/alerts.yml (a test copy with every
 * `for:` shortened to 1 s); the test reads targets, series and alerts from
 * Prometheus's HTTP API. Everything listens on 127.0.0.1.
 *
 * The stack: the package's instrumentation on a MeterProvider whose reader
 * is the Prometheus exporter, served on a loopback port, and a Prometheus
 * scraping it every second. Started once for this file (`test.before`) and
 * stopped in `test.after`, which uvu runs in a `finally`: also when a test
 * fails. A Prometheus left over by a crash kills itself after 90 s.
 *
 * The breaker alerts are driven by real breakers behind guarded tools.
 *
 * Needs the `prometheus` binary (Debian package `prometheus`): fails, never
 * skips, without it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, stringify } from 'yaml';
import { CircuitBreaker, guard } from '../../src/index.js';
import { AgentSafetyInstrumentation } from '../../src/bootstrap/index.js';
import { ATTR_AGENT_SAFETY_BREAKER_NAME, ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_TOOL_NAME, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, METRIC_ATTR_STATE, METRIC_GEN_AI_EXECUTE_TOOL_DURATION } from '../../src/semconv.js';
import { ensureContextManager, sdkTrace } from '../helpers/otel.js';
import { PACKAGE_METRICS, promLabel, promName, promSeriesNames } from '../helpers/prometheus-names.js';
import { requireBinary, serveMetrics, startPrometheus } from '../helpers/prometheus.js';
import type { MetricsEndpoint, PrometheusServer } from '../helpers/prometheus.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const AGENT_ID = 'live-agent';

/** alerts.yml with every `for:` set to 1 s, so that alerts fire within seconds. */
function testCopyOfRules(): string {
  const doc = parse(readFileSync(join(root, 'collector-config', 'prometheus', 'alerts.yml'), 'utf8')) as {
    groups: { rules: { alert: string; for?: string }[] }[];
  };
  for (const rule of doc.groups.flatMap(g => g.rules)) {
    assert.ok(rule.for, `${rule.alert} has a for: to shorten`);
    rule.for = '1s';
  }
  return stringify(doc);
}

interface LiveStack {
  instrumentation: AgentSafetyInstrumentation;
  meterProvider: MeterProvider;
  endpoint: MetricsEndpoint;
  prometheus: PrometheusServer;
  /** Stops everything; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts the stack and waits for Prometheus's first scrape (its service
 * discovery hands targets over only every 5 s, so the stack is shared by the
 * tests of this file: each uses its own tool and breaker names). Cleans up
 * what it started if it fails half-way.
 */
async function startLiveStack(): Promise<LiveStack> {
  requireBinary('prometheus');
  ensureContextManager();
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const tracerProvider = sdkTrace.tracerProvider();
  const instrumentation = new AgentSafetyInstrumentation({ agent: { id: AGENT_ID } });
  instrumentation.setTracerProvider(tracerProvider);
  instrumentation.setMeterProvider(meterProvider);
  instrumentation.enable();
  let endpoint: MetricsEndpoint | undefined;
  let prometheus: PrometheusServer | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await prometheus?.stop();
    await endpoint?.close();
    instrumentation.unregister();
    await meterProvider.shutdown();
    await tracerProvider.shutdown();
  };
  try {
    endpoint = await serveMetrics(exporter);
    prometheus = await startPrometheus({ targets: [endpoint.target], rules: [testCopyOfRules()], intervalSeconds: 1 });
    const server = prometheus;
    await server.waitFor('the first scrape', async () => ((await server.query('up == 1')).length ? true : undefined));
    return { instrumentation, meterProvider, endpoint, prometheus, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs `step` every `everyMs` until stopped (drives calls while Prometheus watches). */
function repeat(step: () => Promise<unknown>, everyMs: number): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      await step();
      await new Promise(r => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/**
 * A guarded tool that always fails, behind a real circuit breaker that opens
 * after two failures and stays open for the whole test (long cooldown).
 */
function failingToolBehindBreaker(name: string) {
  const breaker = new CircuitBreaker({ name, agentId: AGENT_ID, failureThreshold: 2, cooldownMs: 600_000 });
  const tool = guard(
    async () => {
      throw new RangeError(`${name} is down`);
    },
    { name, breaker },
  );
  return { breaker, tool };
}

const test = suite<{ stack: LiveStack }>('live Prometheus: scrape and alerts', {} as { stack: LiveStack });

test.before(async context => {
  context.stack = await startLiveStack();
});

test.after(async context => {
  await context.stack?.stop();
});

test('Prometheus scrapes the exporter; the names it stores are the direct-path names the rules use', async ({ stack: { prometheus } }) => {
  const lookup = guard(async (q: string) => q.length, {
    name: 'lookup',
    breaker: new CircuitBreaker({ name: 'lookup', agentId: AGENT_ID }),
  });
  await lookup('cats');

  const targets = await prometheus.targets();
  assert.is(targets.length, 1);
  assert.is(targets[0].health, 'up', targets[0].lastError);

  const expected = PACKAGE_METRICS.filter(m =>
    [METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, METRIC_GEN_AI_EXECUTE_TOOL_DURATION].includes(m.name),
  ).flatMap(m => promSeriesNames(m, 'direct'));
  const names = await prometheus.waitFor('the package series', async () => {
    const all = await prometheus.api<string[]>('/api/v1/label/__name__/values');
    return expected.every(n => all.includes(n)) ? all : undefined;
  });
  const ours = names.filter(n => /^(agent_safety|gen_ai)_/.test(n)).sort();
  // Every name Prometheus stored is one the rules know (no unit suffix on the
  // histogram, `_total` on counters); the breaker and tool series are there.
  // Other package metrics (e.g. the audit chain's, registered by other tests
  // of this process) may be present too, under their known names.
  const known = new Set(PACKAGE_METRICS.flatMap(m => promSeriesNames(m, 'direct')));
  assert.equal(ours.filter(n => !known.has(n)), [], 'no name outside the package\'s known series');
  assert.equal(expected.filter(n => !ours.includes(n)), [], 'every expected series is stored');

  // This breaker's series (breakers other tests of this process made may still be observed beside it).
  const state = await prometheus.query(
    `${promName(PACKAGE_METRICS[0], 'direct')}{${METRIC_ATTR_STATE}="closed",${promLabel(ATTR_AGENT_SAFETY_BREAKER_NAME)}="lookup",${promLabel(ATTR_GEN_AI_AGENT_ID)}="${AGENT_ID}"}`,
  );
  assert.is(state.length, 1);
  assert.is(state[0].metric[promLabel(ATTR_GEN_AI_AGENT_ID)], AGENT_ID);
  assert.is(state[0].metric[promLabel(ATTR_AGENT_SAFETY_BREAKER_NAME)], 'lookup');
  assert.is(state[0].value[1], '1');

  // The guarded call's histogram, with seconds buckets (not the SDK's ms defaults).
  const buckets = await prometheus.query(`gen_ai_execute_tool_duration_bucket{${promLabel(ATTR_GEN_AI_TOOL_NAME)}="lookup"}`);
  const bounds = buckets.map(b => b.metric.le);
  assert.ok(bounds.includes('0.005') && bounds.includes('300'), `bucket bounds: ${bounds.join(', ')}`);
});

test('a breaker that stays open fires AgentSafetyCircuitBreakerOpen, and its rejections fire the rejected-calls alert', async ({ stack: { prometheus } }) => {
  const { breaker, tool } = failingToolBehindBreaker('rank_content');
  await tool().catch(() => undefined);
  await prometheus.waitFor('a scrape of the new breaker', async () =>
    (await prometheus.query(`agent_safety_circuit_breaker_state{agent_safety_breaker_name="rank_content"}`)).length ? true : undefined,
  );
  assert.equal(
    (await prometheus.alerts()).filter(a => a.labels.alertname === 'AgentSafetyCircuitBreakerOpen'),
    [],
    'silent while the breaker is closed',
  );
  await tool().catch(() => undefined);
  assert.is(breaker.state, 'open', 'two failures opened the breaker');
  const stop = repeat(() => tool().catch(() => undefined), 50); // rejected at once, tool not called
  try {
    const alert = await prometheus.waitForFiring('AgentSafetyCircuitBreakerOpen', {
      [promLabel(ATTR_GEN_AI_AGENT_ID)]: AGENT_ID,
      [promLabel(ATTR_AGENT_SAFETY_BREAKER_NAME)]: 'rank_content',
    });
    assert.is(alert.labels.severity, 'critical');
    assert.match(alert.annotations.summary, /Circuit breaker rank_content of agent live-agent has not closed/);
    const transitions = await prometheus.query(`agent_safety_circuit_breaker_transitions_total{agent_safety_breaker_name="rank_content",from="closed",to="open"}`);
    assert.is(transitions[0]?.value[1], '1');
    const rejected = await prometheus.waitForFiring('AgentSafetyRejectedCallsHigh', { [promLabel(ATTR_AGENT_SAFETY_BREAKER_NAME)]: 'rank_content' });
    assert.is(rejected.labels[promLabel(ATTR_GEN_AI_AGENT_ID)], AGENT_ID);
  } finally {
    await stop();
  }
});

test('a guarded tool that keeps failing fires AgentSafetyToolErrorRateHigh for that tool, not for a healthy one', async ({ stack: { prometheus } }) => {
  const flaky = guard(
    async () => {
      throw new RangeError('downstream said no');
    },
    { name: 'flaky_tool' },
  );
  const steady = guard(async () => 'ok', { name: 'steady_tool' });
  const stop = repeat(() => Promise.all([flaky().catch(() => undefined), steady()]), 50);
  try {
    const alert = await prometheus.waitForFiring('AgentSafetyToolErrorRateHigh', { [promLabel(ATTR_GEN_AI_TOOL_NAME)]: 'flaky_tool' });
    assert.match(alert.annotations.summary, /Tool flaky_tool: more than half of its calls fail/);
    const firing = (await prometheus.alerts()).filter(a => a.labels.alertname === 'AgentSafetyToolErrorRateHigh');
    const tools = firing.map(a => a.labels[promLabel(ATTR_GEN_AI_TOOL_NAME)]);
    assert.ok(tools.includes('flaky_tool'), tools.join(', '));
    assert.not.ok(tools.includes('steady_tool'), 'a healthy tool beside it stays silent');
    const errors = await prometheus.query(`gen_ai_execute_tool_duration_count{error_type="RangeError"}`);
    assert.is(errors[0].metric[promLabel(ATTR_GEN_AI_TOOL_NAME)], 'flaky_tool');
  } finally {
    await stop();
  }
});

test.run();
