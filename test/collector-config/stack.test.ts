/**
 * The compose stack and the Grafana provisioning, checked offline (no Docker
 * engine here): pinned images, every mounted file present, the services
 * wired to each other on the ports the configurations use, the demo pointed
 * at the Collector, and a dashboard whose queries use the names Prometheus
 * stores for the package's metrics (from the package's constants), whose
 * data sources are the provisioned ones, and whose panels link to traces.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import * as pkg from '../../src/semconv.js';
import { ATTR_AGENT_SAFETY_BREAKER_NAME, ATTR_ERROR_TYPE, ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_TOOL_NAME, METRIC_AGENT_SAFETY_AUDIT_BACKLOG, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, METRIC_AGENT_SAFETY_GATE_DECISIONS, METRIC_ATTR_ENFORCED, METRIC_ATTR_FROM, METRIC_ATTR_OUTCOME, METRIC_ATTR_STATE, METRIC_ATTR_TO, METRIC_ATTR_VERDICT, METRIC_GEN_AI_EXECUTE_TOOL_DURATION } from '../../src/semconv.js';
import { PACKAGE_METRICS, allPackageSeriesNames, promLabel, promName } from '../helpers/prometheus-names.js';
import { promqlNames, traceqlAttributes } from '../helpers/promql-names.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const configDir = join(root, 'collector-config');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML of any shape
const yamlFile = (...path: string[]): Obj => parse(readFileSync(join(configDir, ...path), 'utf8'), { uniqueKeys: true }) as Obj;

const compose = yamlFile('docker-compose.yaml');
const services = compose.services as Record<string, Obj>;
const gateway = yamlFile('otel-collector.yaml');
const prometheusConfig = yamlFile('prometheus', 'prometheus.yml');
const datasources = (yamlFile('grafana', 'provisioning', 'datasources', 'datasources.yaml').datasources as Obj[]);
const dashboard = JSON.parse(readFileSync(join(configDir, 'grafana', 'dashboards', 'agent-safety.json'), 'utf8')) as Obj;

function portOf(endpoint: string): number {
  return Number(endpoint.split(':').pop());
}

function mounts(service: string): { source: string; target: string }[] {
  return ((services[service].volumes ?? []) as string[]).map(v => {
    const [source, target] = v.split(':');
    return { source, target };
  });
}

function metric(name: string) {
  const found = PACKAGE_METRICS.find(m => m.name === name);
  if (!found) throw new Error(name);
  return found;
}

const packageSeries = allPackageSeriesNames();
const packageLabels = new Set(
  [ATTR_GEN_AI_AGENT_ID, ATTR_AGENT_SAFETY_BREAKER_NAME, ATTR_GEN_AI_TOOL_NAME, ATTR_GEN_AI_OPERATION_NAME, ATTR_ERROR_TYPE, METRIC_ATTR_STATE, METRIC_ATTR_FROM, METRIC_ATTR_TO, METRIC_ATTR_OUTCOME, METRIC_ATTR_VERDICT, METRIC_ATTR_ENFORCED].map(promLabel),
);
const infrastructureLabels = new Set(['job', 'instance', 'exporter']);
const PACKAGE_NAMES = new Set(
  Object.entries(pkg)
    .filter(([k, v]) => /^(ATTR|EVENT|SPAN)_/.test(k) && typeof v === 'string')
    .map(([, v]) => v as string),
);

const test = suite('compose stack and Grafana');

// ── compose ──────────────────────────────────────────────────────────────

test('compose: Collector (contrib), Jaeger v2, Tempo, Prometheus, Alertmanager, Grafana and the demo, with pinned versions', () => {
  const images = Object.fromEntries(Object.entries(services).map(([name, s]) => [name, String(s.image)]));
  assert.match(images['otel-collector'], /^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
  assert.match(images.jaeger, /^jaegertracing\/jaeger:2\.\d+\.\d+$/);
  assert.match(images.tempo, /^grafana\/tempo:\d+\.\d+\.\d+$/);
  assert.match(images.prometheus, /^prom\/prometheus:v\d+\.\d+\.\d+$/);
  assert.match(images.alertmanager, /^prom\/alertmanager:v\d+\.\d+\.\d+$/);
  assert.match(images.grafana, /^grafana\/grafana:\d+\.\d+\.\d+$/);
  assert.ok(images.demo.startsWith('node:'));
  for (const [name, image] of Object.entries(images)) {
    assert.match(image, /:v?\d+\.\d+(\.\d+)?[\w.-]*$/, `${name}: ${image} is not pinned to a version`);
    assert.not.match(image, /:latest$/, name);
  }
});

test('compose: every mounted file or directory exists', () => {
  for (const name of Object.keys(services)) {
    for (const { source } of mounts(name)) {
      if (!source.startsWith('.')) continue; // a named volume
      assert.ok(existsSync(resolve(configDir, source)), `${name} mounts ${source}, which does not exist`);
    }
  }
});

test('compose: the Collector runs the gateway configuration with the environment it expects', () => {
  const collector = services['otel-collector'];
  assert.ok(mounts('otel-collector').some(m => m.source === './otel-collector.yaml' && m.target === '/etc/otelcol-contrib/config.yaml'));
  assert.ok((collector.command as string[]).includes('--config=/etc/otelcol-contrib/config.yaml'));
  const text = readFileSync(join(configDir, 'otel-collector.yaml'), 'utf8');
  const referenced = new Set([...text.matchAll(/\$\{env:([A-Z_]+)/g)].map(m => m[1]));
  for (const key of Object.keys(collector.environment)) assert.ok(referenced.has(key), `compose sets ${key}, which the gateway does not read`);
  for (const key of ['KAFKA_BROKERS', 'JAEGER_ENDPOINT', 'TEMPO_ENDPOINT']) {
    const host = String(collector.environment[key]).split(':')[0];
    assert.ok(services[host], `${key} names ${host}, which is not a service`);
  }
  // The persistent queue and the audit files are on volumes, not in the container.
  const targets = mounts('otel-collector').map(m => m.target);
  assert.ok(targets.includes(collector.environment.AUDIT_QUEUE_DIR));
  assert.ok(targets.includes(collector.environment.AUDIT_DIR));
  // Published ports are the ones the configuration listens on.
  const published = (collector.ports as string[]).map(p => Number(p.split(':')[1]));
  for (const endpoint of [
    gateway.receivers.otlp.protocols.grpc.endpoint,
    gateway.receivers.otlp.protocols.http.endpoint,
    gateway.exporters.prometheus.endpoint,
    gateway.extensions.health_check.endpoint,
  ]) {
    assert.ok(published.includes(portOf(endpoint)), `port of ${endpoint} is published`);
  }
});

test('compose: the demo app exports to the Collector’s OTLP/HTTP receiver', () => {
  const demo = services.demo;
  const url = new URL(demo.environment.OTEL_EXPORTER_OTLP_ENDPOINT);
  assert.is(url.hostname, 'otel-collector');
  assert.is(Number(url.port), portOf(gateway.receivers.otlp.protocols.http.endpoint));
  assert.match(demo.command.join(' '), /examples\/safe-agent-demo\.ts/);
  // The demo itself honours the variable.
  assert.match(readFileSync(join(root, 'examples', 'safe-agent-demo.ts'), 'utf8'), /OTEL_EXPORTER_OTLP_ENDPOINT/);
});

test('compose: Prometheus loads the tested rules and scrapes the Collector on the ports it serves', () => {
  assert.ok(mounts('prometheus').some(m => m.source === './prometheus' && m.target === '/etc/prometheus'));
  assert.ok((services.prometheus.command as string[]).includes('--config.file=/etc/prometheus/prometheus.yml'));
  assert.ok((services.prometheus.command as string[]).includes('--web.enable-remote-write-receiver'), 'Tempo remote-writes its span metrics');
  const targets = (prometheusConfig.scrape_configs as Obj[]).flatMap(s => (s.static_configs as Obj[]).flatMap(c => c.targets as string[]));
  for (const target of targets) {
    const [host] = target.split(':');
    assert.ok(host === 'localhost' || services[host], `scrape target ${target}: no such service`);
  }
  const collectorPorts = targets.filter(t => t.startsWith('otel-collector:')).map(portOf).sort();
  const telemetryPort = gateway.service.telemetry.metrics.readers[0].pull.exporter.prometheus.port;
  assert.equal(collectorPorts, [portOf(gateway.exporters.prometheus.endpoint), telemetryPort].sort());
  const exporterJob = (prometheusConfig.scrape_configs as Obj[]).find(s => (s.static_configs[0].targets as string[]).includes(`otel-collector:${portOf(gateway.exporters.prometheus.endpoint)}`));
  assert.is(exporterJob?.honor_labels, true, 'keeps the job/instance the Collector derives from each app');
  const am = (prometheusConfig.alerting.alertmanagers[0].static_configs[0].targets as string[])[0];
  assert.ok(services[am.split(':')[0]], am);
});

test('compose: Tempo and Jaeger receive on the ports the Collector sends to; Grafana reaches every data source', () => {
  const tempo = yamlFile('tempo', 'tempo.yaml');
  assert.is(portOf(tempo.distributor.receivers.otlp.protocols.grpc.endpoint), portOf(services['otel-collector'].environment.TEMPO_ENDPOINT));
  assert.ok(mounts('tempo').some(m => m.source === './tempo/tempo.yaml'));
  for (const ds of datasources) {
    const url = new URL(ds.url);
    assert.ok(services[url.hostname], `${ds.name}: ${url.hostname} is not a service`);
  }
  const tempoDs = datasources.find(d => d.type === 'tempo')!;
  assert.is(Number(new URL(tempoDs.url).port), tempo.server.http_listen_port);
  const provider = yamlFile('grafana', 'provisioning', 'dashboards', 'dashboards.yaml').providers[0];
  assert.ok(mounts('grafana').some(m => m.source === './grafana/dashboards' && m.target === provider.options.path));
  assert.ok(mounts('grafana').some(m => m.source === './grafana/provisioning' && m.target === '/etc/grafana/provisioning'));
});

// ── Grafana ──────────────────────────────────────────────────────────────

test('Grafana: data sources Prometheus, Tempo and Jaeger with fixed uids', () => {
  const byType = Object.fromEntries(datasources.map(d => [d.type, d.uid]));
  assert.equal({ prometheus: byType.prometheus, tempo: byType.tempo, jaeger: byType.jaeger }, { prometheus: 'prometheus', tempo: 'tempo', jaeger: 'jaeger' });
  assert.is(new Set(datasources.map(d => d.uid)).size, datasources.length);
});

interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr?: string; query?: string; datasource?: { uid: string } }[];
  fieldConfig?: { defaults?: { links?: { url: string }[] } };
  gridPos: { x: number; y: number; w: number; h: number };
}
const panels = dashboard.panels as Panel[];
const promExprs = panels.flatMap(p => (p.datasource?.uid === 'prometheus' ? (p.targets ?? []).map(t => t.expr ?? '') : []));

test('Grafana dashboard: stable uid, provisioned data sources only, no overlapping panels', () => {
  assert.is(dashboard.uid, 'agent-safety-otel');
  assert.is(dashboard.id, null);
  const uids = new Set(datasources.map(d => d.uid));
  const refs = [...JSON.stringify(dashboard).matchAll(/"uid":"([^"]+)"/g)].map(m => m[1]).filter(u => u !== 'agent-safety-otel' && u !== '-- Grafana --');
  for (const uid of refs) assert.ok(uids.has(uid), `data source uid ${uid} is not provisioned`);
  const cells = new Set<string>();
  for (const p of panels) {
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        assert.not.ok(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
  }
});

test('Grafana dashboard: the Prometheus queries use only the package’s metric and label names', () => {
  const variableQueries = (dashboard.templating.list as Obj[]).filter(v => v.type === 'query').map(v => String(v.definition));
  for (const expr of [...promExprs, ...variableQueries, ...(dashboard.annotations.list as Obj[]).map(a => a.expr ?? '')]) {
    const names = promqlNames(expr.replace(/label_values\((.*),\s*([a-z_]+)\)$/, '$1 by ($2)'));
    for (const m of names.metrics) assert.ok(packageSeries.has(m) || m.startsWith('otelcol_'), `${m} in ${expr}`);
    for (const l of names.labels) assert.ok(packageLabels.has(l) || infrastructureLabels.has(l), `label ${l} in ${expr}`);
    for (const re of names.nameRegexes) {
      const full = new RegExp(`^(?:${re})$`);
      assert.ok([...packageSeries].some(n => full.test(n)), `${re} matches no package metric`);
    }
  }
});

test('Grafana dashboard: breaker states, transitions, call outcomes, gate decisions, tool latency and audit backlog', () => {
  const uses = (m: string, path: 'direct' | 'collector' = 'direct') => promExprs.some(e => promqlNames(e).metrics.includes(promName(metric(m), path)));
  const stateTimeline = panels.find(p => p.type === 'state-timeline');
  assert.ok(stateTimeline && promqlNames(stateTimeline.targets![0].expr!).metrics.includes(promName(metric(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE), 'direct')));
  assert.ok(promqlNames(stateTimeline!.targets![0].expr!).labels.includes(promLabel(ATTR_AGENT_SAFETY_BREAKER_NAME)), 'per breaker');
  assert.ok(promqlNames(stateTimeline!.targets![0].expr!).labels.includes(promLabel(ATTR_GEN_AI_AGENT_ID)), 'per agent');
  assert.ok(uses(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS));
  assert.ok(uses(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS));
  assert.ok(uses(METRIC_AGENT_SAFETY_GATE_DECISIONS));
  assert.ok(uses(METRIC_AGENT_SAFETY_AUDIT_BACKLOG));
  const latency = promExprs.filter(e => e.startsWith('histogram_quantile'));
  assert.ok(latency.length >= 1);
  const duration = metric(METRIC_GEN_AI_EXECUTE_TOOL_DURATION);
  for (const e of latency) {
    const [re] = promqlNames(e).nameRegexes;
    assert.ok(new RegExp(`^(?:${re})$`).test(`${promName(duration, 'direct')}_bucket`), `${e} matches the app's name`);
    assert.ok(new RegExp(`^(?:${re})$`).test(`${promName(duration, 'collector')}_bucket`), `${e} matches the Collector's name`);
  }
});

test('Grafana dashboard: panels link to their traces in Tempo and Jaeger, with the package’s attribute keys', () => {
  const links = panels.flatMap(p => (p.fieldConfig?.defaults?.links ?? []).map(l => ({ panel: p.title, url: l.url })));
  const linked = new Set(links.map(l => l.panel));
  for (const p of panels.filter(p => p.datasource?.uid === 'prometheus' && /breaker|gate|tool|compensation/i.test(p.title) && !/share/i.test(p.title))) {
    assert.ok(linked.has(p.title), `${p.title} links to traces`);
  }
  let tempo = 0;
  let jaeger = 0;
  for (const { panel, url } of links) {
    assert.ok(url.startsWith('/explore?'), `${panel}: ${url}`);
    const panes = JSON.parse(decodeURIComponent(new URL(url, 'http://grafana').searchParams.get('panes')!)) as Obj;
    for (const pane of Object.values(panes)) {
      const query = pane.queries[0];
      if (pane.datasource === 'tempo') {
        tempo++;
        assert.is(query.queryType, 'traceql');
        for (const a of traceqlAttributes(query.query)) assert.ok(PACKAGE_NAMES.has(a), `${panel}: ${a} is not an attribute the package emits`);
        for (const m of String(query.query).matchAll(/event:name = "([^"]+)"/g)) assert.ok(PACKAGE_NAMES.has(m[1]), m[1]);
      } else {
        assert.is(pane.datasource, 'jaeger');
        jaeger++;
        for (const m of String(query.tags ?? '').matchAll(/([a-z_.]+)=/g)) assert.ok(PACKAGE_NAMES.has(m[1]) || m[1] === 'error', `${panel}: tag ${m[1]}`);
      }
    }
  }
  assert.ok(tempo >= 6 && jaeger >= 4, `tempo links ${tempo}, jaeger links ${jaeger}`);
  const tables = panels.filter(p => p.datasource?.uid === 'tempo');
  assert.ok(tables.length >= 1, 'a table of recent traces from Tempo');
  for (const t of tables) for (const a of traceqlAttributes(t.targets![0].query!)) assert.ok(PACKAGE_NAMES.has(a), a);
});

test.run();
