/**
 * collector-config/otel-collector*.yaml: structure (with a YAML parser that
 * rejects duplicate keys), current component names, the audit path's
 * guarantees, and the attribute names in routing conditions and tail-sampling
 * policies, which must be the package's (imported constants: a renamed
 * attribute breaks this test). No Collector runs here, so this is what can be
 * checked offline; a self-test proves the checker catches broken configs.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse, stringify } from 'yaml';
import * as pkg from '../../src/semconv.js';
import { ATTR_AGENT_SAFETY_AUDIT_SEQ, ATTR_AGENT_SAFETY_BREAKER_STATE, ATTR_AGENT_SAFETY_CALL_OUTCOME, ATTR_AGENT_SAFETY_CHECKPOINT_ID, ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID, EVENT_AGENT_SAFETY_BREAKER_TRANSITION, EVENT_AGENT_SAFETY_REVIEW_REQUESTED, SPAN_AGENT_SAFETY_ROLLBACK } from '../../src/semconv.js';
import type { CallOutcome } from '../../src/semconv.js';
import { attributeReferences, checkCollectorConfig } from '../helpers/collector-config-check.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (...path: string[]): string => readFileSync(join(root, ...path), 'utf8');
const gatewayText = read('collector-config', 'otel-collector.yaml');
const agentText = read('collector-config', 'otel-collector-agent.yaml');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML of any shape

const check = (text: string, requireAuditRoute = true) =>
  checkCollectorConfig(text, { auditAttribute: ATTR_AGENT_SAFETY_AUDIT_SEQ, requireAuditRoute });

/** The gateway, parsed, changed by `mutate`, and checked again. */
function checkMutated(mutate: (config: Obj) => void): string[] {
  const config = parse(gatewayText) as Obj;
  mutate(config);
  return check(stringify(config)).problems;
}

function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some(p => pattern.test(p)),
    `expected a problem matching ${pattern}; got:\n  ${problems.join('\n  ') || '(none)'}`,
  );
}

/** Every string value the package exports as a telemetry name (ATTR_*, EVENT_*, SPAN_*). */
const PACKAGE_NAMES = new Set(
  Object.entries(pkg)
    .filter(([k, v]) => /^(ATTR|EVENT|SPAN)_/.test(k) && typeof v === 'string')
    .map(([, v]) => v as string),
);

const test = suite('Collector configuration');

test('the gateway passes the structural checks and has an audit route of its own', () => {
  const result = check(gatewayText);
  assert.equal(result.problems, []);
  assert.equal(result.auditPipelines, ['traces/audit']);
});

test('the agent-side variant passes the structural checks; its traces pipeline is on the audit path', () => {
  const result = check(agentText, false);
  assert.equal(result.problems, []);
  assert.equal(result.auditPipelines, ['traces']);
});

test('gateway: OTLP in over gRPC and HTTP on 0.0.0.0', () => {
  const config = parse(gatewayText) as Obj;
  assert.is(config.receivers.otlp.protocols.grpc.endpoint, '0.0.0.0:4317');
  assert.is(config.receivers.otlp.protocols.http.endpoint, '0.0.0.0:4318');
});

test('gateway: traces go to Jaeger and Tempo over OTLP, metrics to Prometheus', () => {
  const config = parse(gatewayText) as Obj;
  const pipelines = config.service.pipelines as Record<string, Obj>;
  const sampled = pipelines['traces/sampled'];
  assert.equal(sampled.exporters, ['otlp_grpc/jaeger', 'otlp_grpc/tempo']);
  assert.ok(sampled.processors.includes('tail_sampling'), 'tail sampling on the sampled path');
  assert.equal(pipelines.metrics.exporters, ['prometheus']);
});

test('gateway: the audit pipeline exports to Kafka (all acks) and a rotating OTLP-JSON file, with no sampler and no filter', () => {
  const config = parse(gatewayText) as Obj;
  const audit = config.service.pipelines['traces/audit'] as Obj;
  assert.equal(audit.exporters, ['kafka/audit', 'file/audit']);
  assert.is(audit.processors, undefined, 'no processors at all');
  const kafka = config.exporters['kafka/audit'];
  assert.is(kafka.producer.required_acks, -1);
  assert.is(kafka.traces.encoding, 'otlp_json', 'the verifier reads OTLP JSON from Kafka as from the file');
  assert.is(kafka.retry_on_failure.max_elapsed_time, 0);
  assert.is(config.extensions[kafka.sending_queue.storage].fsync, true);
  const file = config.exporters['file/audit'];
  assert.is(file.format, 'json');
  assert.is(file.append, true);
  assert.ok(file.rotation.max_megabytes > 0);
  assert.is(file.rotation.max_backups, 0, 'rotated audit files are never deleted by the exporter');
});

test('gateway: the routing condition tests the package’s audit attribute, in the span context', () => {
  const config = parse(gatewayText) as Obj;
  const routes = config.connectors['routing/audit'].table as Obj[];
  assert.equal(routes, [
    { context: 'span', condition: `attributes["${ATTR_AGENT_SAFETY_AUDIT_SEQ}"] != nil`, pipelines: ['traces/audit', 'traces/sampled'] },
  ]);
  assert.equal(attributeReferences(config).routing, [ATTR_AGENT_SAFETY_AUDIT_SEQ]);
});

test('gateway: tail sampling keeps errors, safety outcomes and breaker events, by the package’s names', () => {
  const config = parse(gatewayText) as Obj;
  const refs = attributeReferences(config);
  for (const name of [...refs.samplingAttributes, ...refs.samplingEvents, ...refs.samplingSpans]) {
    assert.ok(PACKAGE_NAMES.has(name), `${name} is not a name the package emits`);
  }
  assert.ok(refs.samplingAttributes.includes(ATTR_AGENT_SAFETY_CALL_OUTCOME));
  assert.ok(refs.samplingAttributes.includes(ATTR_AGENT_SAFETY_BREAKER_STATE));
  assert.ok(refs.samplingAttributes.includes(ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID));
  assert.ok(refs.samplingAttributes.includes(ATTR_AGENT_SAFETY_CHECKPOINT_ID));
  assert.ok(refs.samplingEvents.includes(EVENT_AGENT_SAFETY_BREAKER_TRANSITION));
  assert.ok(refs.samplingEvents.includes(EVENT_AGENT_SAFETY_REVIEW_REQUESTED));
  assert.ok(refs.samplingSpans.includes(SPAN_AGENT_SAFETY_ROLLBACK));
  const policies = config.processors.tail_sampling.policies as Obj[];
  assert.equal(policies.find(p => p.type === 'status_code')?.status_code.status_codes, ['ERROR']);
  const outcomes = policies.find(p => p.string_attribute?.key === ATTR_AGENT_SAFETY_CALL_OUTCOME)?.string_attribute.values;
  assert.equal(outcomes, ['rejected', 'blocked', 'denied', 'timeout'] satisfies CallOutcome[]);
});

test('the agent forwards traces untouched, durably, to the gateway', () => {
  const config = parse(agentText) as Obj;
  const traces = config.service.pipelines.traces as Obj;
  assert.equal(traces.processors, ['memory_limiter']);
  const exporter = config.exporters[traces.exporters[0]];
  assert.is(exporter.retry_on_failure.max_elapsed_time, 0);
  assert.ok(config.service.extensions.includes(exporter.sending_queue.storage));
});

test('the scale-out example in docs/operations.md passes the checks too', () => {
  const docs = read('docs', 'operations.md');
  const blocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map(m => m[1]).filter(b => /^service:/m.test(b));
  assert.ok(blocks.length >= 1, 'docs/operations.md shows a complete tier-1 configuration');
  for (const block of blocks) {
    const result = check(block, true);
    assert.equal(result.problems, [], block.slice(0, 200));
  }
});

// ── Self-test: the checker catches broken configurations ──────────────────

test('self-test: a fixture with a sampler, in-memory batching and non-durable exporters on the audit path is rejected', () => {
  const { problems } = check(read('test', 'fixtures', 'collector', 'audit-pipeline-sampled.yaml'));
  assertProblem(problems, /traces\/audit: carries audit spans, but processor tail_sampling/);
  assertProblem(problems, /traces\/audit: carries audit spans, but processor batch/);
  assertProblem(problems, /kafka\/audit must retry forever/);
  assertProblem(problems, /kafka\/audit must wait for all in-sync replicas/);
  assertProblem(problems, /file\/audit must append/);
});

const MUTATIONS: { what: string; mutate: (c: Obj) => void; expect: RegExp }[] = [
  { what: 'a deprecated exporter alias', mutate: c => renameExporter(c, 'otlp_grpc/jaeger', 'otlp/jaeger'), expect: /otlp\/jaeger uses the deprecated alias otlp; use otlp_grpc/ },
  { what: 'the deprecated otlphttp alias', mutate: c => renameExporter(c, 'otlp_grpc/tempo', 'otlphttp/tempo'), expect: /deprecated alias otlphttp; use otlp_http/ },
  { what: 'the deprecated loadbalancing alias', mutate: c => renameExporter(c, 'otlp_grpc/tempo', 'loadbalancing'), expect: /deprecated alias loadbalancing; use load_balancing/ },
  { what: 'the deprecated resourcedetection processor', mutate: c => { c.processors.resourcedetection = { detectors: ['env'] }; c.service.pipelines.metrics.processors.push('resourcedetection'); }, expect: /resourcedetection uses the deprecated alias resourcedetection; use resource_detection/ },
  { what: 'the deprecated spanmetrics connector', mutate: c => { c.connectors.spanmetrics = {}; c.service.pipelines['traces/sampled'].exporters.push('spanmetrics'); c.service.pipelines.metrics.receivers.push('spanmetrics'); }, expect: /deprecated alias spanmetrics; use span_metrics/ },
  { what: 'an undefined exporter', mutate: c => c.service.pipelines['traces/sampled'].exporters.push('otlp_grpc/zipkin'), expect: /exporter otlp_grpc\/zipkin is not defined/ },
  { what: 'an undefined processor', mutate: c => c.service.pipelines.metrics.processors.push('filter/drop'), expect: /processor filter\/drop is not defined/ },
  { what: 'an unused component', mutate: c => { c.processors['filter/unused'] = {}; }, expect: /filter\/unused is defined but used in no pipeline/ },
  { what: 'a malformed pipeline id', mutate: c => { c.service.pipelines['spans/x'] = c.service.pipelines['traces/sampled']; delete c.service.pipelines['traces/sampled']; }, expect: /bad pipeline id spans\/x/ },
  { what: 'memory_limiter not first', mutate: c => { c.service.pipelines.metrics.processors = ['batch', 'memory_limiter']; }, expect: /metrics: memory_limiter must be the first processor/ },
  { what: 'no memory_limiter where data comes in', mutate: c => { delete c.service.pipelines['traces/in'].processors; }, expect: /traces\/in: memory_limiter must be the first processor/ },
  { what: 'a connector joining traces to metrics', mutate: c => { c.service.pipelines.metrics.receivers.push('routing/audit'); }, expect: /routing\/audit cannot join traces\/in \(traces\) to metrics \(metrics\)/ },
  { what: 'a connector used on one side only', mutate: c => { c.service.pipelines['traces/in'].exporters = ['otlp_grpc/jaeger']; }, expect: /routing\/audit is an exporter in no pipeline/ },
  { what: 'a sampler in the audit pipeline', mutate: c => { c.service.pipelines['traces/audit'].processors = ['tail_sampling']; }, expect: /traces\/audit: carries audit spans, but processor tail_sampling/ },
  { what: 'a filter before the audit route', mutate: c => { c.processors['filter/health'] = { error_mode: 'ignore', traces: { span: ['name == "health"'] } }; c.service.pipelines['traces/in'].processors.push('filter/health'); }, expect: /traces\/in: carries audit spans, but processor filter\/health/ },
  { what: 'a resource processor on the audit path (it would change what the chain hashed)', mutate: c => { c.processors['resource/env'] = { attributes: [{ key: 'deployment.environment.name', value: 'prod', action: 'upsert' }] }; c.service.pipelines['traces/audit'].processors = ['resource/env']; }, expect: /processor resource\/env may drop, delay in memory or rewrite/ },
  { what: 'an in-memory audit queue', mutate: c => { delete c.exporters['kafka/audit'].sending_queue.storage; }, expect: /kafka\/audit needs a persistent queue/ },
  { what: 'a queue on a storage extension that is not enabled', mutate: c => { c.service.extensions = ['health_check']; }, expect: /file_storage\/audit is not an enabled file_storage extension/ },
  { what: 'retries that give up', mutate: c => { c.exporters['kafka/audit'].retry_on_failure.max_elapsed_time = '300s'; }, expect: /kafka\/audit must retry forever/ },
  { what: 'Kafka acknowledging on the leader only', mutate: c => { c.exporters['kafka/audit'].producer.required_acks = 1; }, expect: /all in-sync replicas/ },
  { what: 'a file exporter that truncates on start', mutate: c => { delete c.exporters['file/audit'].append; }, expect: /file\/audit must append/ },
  { what: 'a debug exporter on the audit path', mutate: c => { c.exporters.debug = {}; c.service.pipelines['traces/audit'].exporters.push('debug'); }, expect: /exporter debug cannot keep audit spans/ },
  { what: 'audit spans routed only to the default pipeline', mutate: c => { c.connectors['routing/audit'].table[0].pipelines = ['traces/sampled']; delete c.service.pipelines['traces/audit']; }, expect: /no pipeline of their own|need a pipeline of their own/ },
  { what: 'a routing condition on a renamed attribute', mutate: c => { c.connectors['routing/audit'].table[0].condition = 'attributes["agent_safety.audit.sequence"] != nil'; }, expect: /no routing connector routes spans with agent_safety\.audit\.seq/ },
  { what: 'the audit route in the resource context', mutate: c => { c.connectors['routing/audit'].table[0].context = 'resource'; }, expect: /its context is resource, not span/ },
  { what: 'a route to a pipeline that does not exist', mutate: c => { c.connectors['routing/audit'].default_pipelines = ['traces/nowhere']; }, expect: /routes to traces\/nowhere, which is not a pipeline/ },
  { what: 'the removed match_once', mutate: c => { c.connectors['routing/audit'].match_once = true; }, expect: /match_once was removed/ },
  { what: 'an OTLP receiver on its default endpoint', mutate: c => { c.receivers.otlp.protocols.http = {}; }, expect: /otlp.protocols.http needs an explicit endpoint/ },
  { what: 'a bad environment substitution', mutate: c => { c.exporters['otlp_grpc/tempo'].endpoint = '${TEMPO}'; }, expect: /bad substitution \$\{TEMPO\}/ },
];

for (const { what, mutate, expect } of MUTATIONS) {
  test(`self-test: the checker catches ${what}`, () => {
    assertProblem(checkMutated(mutate), expect);
  });
}

test('self-test: duplicate keys are rejected by the parser', () => {
  const duplicated = gatewayText.replace('  batch:\n', '  batch:\n    timeout: 2s\n  batch:\n');
  assert.is.not(duplicated, gatewayText);
  assertProblem(check(duplicated).problems, /YAML: .*(unique|duplicate)/i);
});

test('self-test: a tail-sampling policy on an attribute the package does not emit is caught', () => {
  const config = parse(gatewayText) as Obj;
  config.processors.tail_sampling.policies.push({ name: 'typo', type: 'string_attribute', string_attribute: { key: 'agent_safety.call.outcomes', values: ['rejected'] } });
  const unknown = attributeReferences(config).samplingAttributes.filter(n => !PACKAGE_NAMES.has(n));
  assert.equal(unknown, ['agent_safety.call.outcomes']);
});

function renameExporter(config: Obj, from: string, to: string): void {
  config.exporters[to] = config.exporters[from];
  delete config.exporters[from];
  for (const p of Object.values(config.service.pipelines) as Obj[]) {
    if (Array.isArray(p.exporters)) p.exporters = p.exporters.map((e: string) => (e === from ? to : e));
  }
}

test.run();
