/**
 * The OTLP audit sink against a scripted SpanExporter: batches in chain
 * order, retries with backoff while the exporter fails, overflow to a 0600
 * JSONL spool sent first, shutdown leaving everything in the spool and the
 * next sink sending it, compaction (truncate when drained, the undelivered
 * tail kept at shutdown, a saved read offset), a torn spool line set aside,
 * and the metrics (backlog, failures, retries with a `sink` attribute).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { metrics } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { AuditChainSpanProcessor, auditAllSpans } from '../../../src/exporters/audit/audit-chain-span-processor.js';
import { InMemoryAuditSink } from '../../../src/exporters/audit/audit-sink.js';
import { OtlpAuditSink } from '../../../src/exporters/audit/otlp-audit-sink.js';
import type { OtlpAuditSinkOptions } from '../../../src/exporters/audit/otlp-audit-sink.js';
import { AUDIT_KEYS, encodeSpan } from '../../../src/patterns/audit/audit-record.js';
import {
  METRIC_AGENT_SAFETY_AUDIT_BACKLOG,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES,
  METRIC_ATTR_SINK,
} from '../../../src/instrumentation/shared/semconv.js';
import { auditedTracer } from '../../helpers/audit-driver.js';
import { captureDiag } from '../../helpers/diag.js';
import { setupTelemetry, sdkTrace } from '../../helpers/otel.js';
import { PACKAGE_METRICS, promName } from '../../helpers/prometheus-names.js';

/** An exporter that fails while `failing` is true, and records what it accepted. */
class ScriptedExporter implements SpanExporter {
  readonly accepted: ReadableSpan[] = [];
  readonly batchSizes: number[] = [];
  calls = 0;
  failing = false;
  /** Throw from export() instead of calling back with a failure. */
  throwing = false;
  /** Never call back (to test the export timeout). */
  hanging = false;
  shutDown = false;
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.calls++;
    if (this.throwing) throw new Error('exporter threw');
    if (this.hanging) return;
    // Decided when the attempt starts: an attempt begun while failing fails,
    // even if `failing` is switched off before it calls back.
    const failing = this.failing;
    setImmediate(() => {
      if (failing) return done({ code: ExportResultCode.FAILED, error: new Error('endpoint down') });
      this.accepted.push(...spans);
      this.batchSizes.push(spans.length);
      done({ code: ExportResultCode.SUCCESS });
    });
  }
  shutdown(): Promise<void> {
    this.shutDown = true;
    return Promise.resolve();
  }
  seqs(): number[] {
    return this.accepted.map(s => s.attributes[AUDIT_KEYS.seq] as number);
  }
}

/** Polls `predicate` every few ms; rejects (fails the test) if it does not hold within `ms`. */
async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 2));
  }
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

let dir = '';
const fast = (exporter: SpanExporter, extra: Partial<OtlpAuditSinkOptions> = {}): OtlpAuditSink =>
  new OtlpAuditSink({ exporter, spoolDir: dir, scheduledDelayMs: 1, backoff: { initialMs: 2, maxMs: 10 }, flushTimeoutMs: 5_000, ...extra });

const test = suite('OTLP audit sink');
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'otlp-audit-sink-'));
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('delivers every record in chain order, in batches; backlog drains to 0', async () => {
  const exporter = new ScriptedExporter();
  const sink = fast(exporter, { maxBatchSize: 16 });
  const t = auditedTracer([sink]);
  try {
    t.produce(50);
    await until(() => exporter.accepted.length === 100, '100 spans');
    assert.equal(exporter.seqs(), range(100));
    assert.ok(Math.max(...exporter.batchSizes) <= 16);
    assert.is(sink.backlog(), 0);
    await until(() => statSync(sink.spoolPath).size === 0, 'the journal emptied once everything is delivered');
    assert.is(statSync(sink.spoolPath).mode & 0o777, 0o600);
  } finally {
    await t.provider.shutdown();
  }
  assert.ok(exporter.shutDown);
});

test('while the exporter fails, records wait and are retried; after recovery each arrives once, in order', async () => {
  const exporter = new ScriptedExporter();
  exporter.failing = true;
  const sink = fast(exporter, { maxBatchSize: 8 });
  const t = auditedTracer([sink]);
  try {
    t.produce(20);
    await until(() => exporter.calls >= 5, 'several failed attempts');
    assert.is(exporter.accepted.length, 0);
    assert.is(sink.backlog(), 40);
    exporter.failing = false;
    await until(() => exporter.accepted.length === 40, 'recovery');
    assert.equal(exporter.seqs(), range(40));
    assert.is(sink.backlog(), 0);
  } finally {
    await t.provider.shutdown();
  }
});

test('a thrown or hanging export counts as a failure and is retried', async () => {
  const exporter = new ScriptedExporter();
  exporter.throwing = true;
  const diag = captureDiag();
  const sink = fast(exporter, { exportTimeoutMs: 20 });
  const t = auditedTracer([sink]);
  try {
    t.produce(2);
    await until(() => exporter.calls >= 2, 'retries after throws');
    exporter.throwing = false;
    exporter.hanging = true;
    const calls = exporter.calls;
    await until(() => exporter.calls >= calls + 2, 'retries after timeouts');
    assert.ok(diag.messages.some(m => /timed out|export failed/.test(m)));
    exporter.hanging = false;
    await until(() => exporter.accepted.length >= 4, 'recovery');
    assert.equal([...new Set(exporter.seqs())].sort((a, b) => a - b), range(4));
  } finally {
    diag.restore();
    await t.provider.shutdown();
  }
});

test('every record goes to the 0600 JSONL journal; beyond maxInMemory they are read back from it, in order; the journal is emptied once drained', async () => {
  const exporter = new ScriptedExporter();
  exporter.failing = true;
  const sink = fast(exporter, { maxInMemory: 10, maxBatchSize: 7 });
  const t = auditedTracer([sink]);
  try {
    t.produce(50);
    await sink.forceFlush(); // one failed attempt; the journal is written and synced
    assert.is(sink.backlog(), 100);
    assert.is(sink.spooled, 90, 'the newest 10 are also in memory');
    assert.is(sink.held(), 0);
    const text = readFileSync(sink.spoolPath, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    assert.ok(lines[0].startsWith('{"type":"journal","id":'), 'the journal line first');
    assert.is(lines.filter(l => l.startsWith('{"type":"record"')).length, 100);
    assert.is(lines.filter(l => l.startsWith('{"type":"resource"')).length, 1, 'resource once per chain');
    assert.ok(text.endsWith('\n'));
    assert.is(statSync(sink.spoolPath).mode & 0o777, 0o600);
    t.produce(5, 50);
    exporter.failing = false;
    await until(() => exporter.accepted.length === 110, 'all 110 records');
    assert.equal(exporter.seqs(), range(110));
    await until(() => statSync(sink.spoolPath).size === 0, 'the journal emptied');
    // Spooled spans re-export identical to the originals.
    const originals = t.memory.getFinishedSpans();
    for (let i = 0; i < 110; i++) assert.is(encodeSpan(exporter.accepted[i]), encodeSpan(originals[i]));
  } finally {
    await t.provider.shutdown();
  }
});

test('shutdown with the endpoint down leaves everything in the spool; the next sink sends it first', async () => {
  const down = new ScriptedExporter();
  down.failing = true;
  const first = fast(down, { maxInMemory: 1000 });
  const t1 = auditedTracer([first]);
  t1.produce(30);
  const originals = [...t1.memory.getFinishedSpans()];
  await t1.provider.shutdown();
  assert.is(down.accepted.length, 0);
  const spoolPath = first.spoolPath;
  assert.is(readFileSync(spoolPath, 'utf8').split('\n').filter(l => l.startsWith('{"type":"record"')).length, 60);

  const up = new ScriptedExporter();
  const second = fast(up);
  assert.is(second.spoolPath, spoolPath);
  assert.is(second.backlog(), 60, 'the spooled records count as backlog at once');
  const t2 = auditedTracer([second]);
  try {
    t2.produce(5);
    await until(() => up.accepted.length === 70, 'old and new records');
    const chains = up.accepted.map(s => s.attributes[AUDIT_KEYS.chainId]);
    assert.equal(chains.slice(0, 60), Array(60).fill(t1.chainId), 'the earlier run first');
    assert.equal(chains.slice(60), Array(10).fill(t2.chainId));
    assert.equal(up.seqs(), [...range(60), ...range(10)]);
    for (let i = 0; i < 60; i++) {
      assert.is(encodeSpan(up.accepted[i]), encodeSpan(originals[i]));
      assert.equal(up.accepted[i].resource.attributes, originals[i].resource.attributes);
    }
  } finally {
    await t2.provider.shutdown();
  }
  assert.is(statSync(spoolPath).size, 0);
});

test('a partly delivered journal: the next run sends only what is left, from a compacted journal', async () => {
  const down = new ScriptedExporter();
  down.failing = true;
  const t1 = auditedTracer([fast(down)]);
  t1.produce(20);
  await t1.provider.shutdown();

  // Deliver exactly one batch of 8, then fail again and shut down.
  const flaky = new ScriptedExporter();
  let allowed = 1;
  const inner = flaky.export.bind(flaky);
  flaky.export = (spans, done) => {
    flaky.failing = allowed-- <= 0;
    inner(spans, done);
  };
  const second = fast(flaky, { maxBatchSize: 8 });
  await until(() => flaky.calls >= 2, 'one delivered and one failed batch');
  await second.shutdown();
  assert.equal(flaky.seqs(), range(8));
  const id = /"id":"([^"]+)"/.exec(readFileSync(second.spoolPath, 'utf8'))![1];
  const ack = readFileSync(`${second.spoolPath}.ack`, 'utf8').split(' ');
  assert.is(ack[0], id, 'the ack names the file');
  assert.match(ack[1], /^\d+$/, 'and an offset');
  assert.equal(ack.slice(2), [t1.chainId, '7', String(flaky.accepted[7].attributes[AUDIT_KEYS.hash])], 'and the last record delivered');
  assert.equal(second.previousHead(), { chainId: t1.chainId, seq: 39, hash: String(readFileSync(second.spoolPath, 'utf8').match(/"hash":"([0-9a-f]{64})"\}\}\n$/)![1]) });

  const up = new ScriptedExporter();
  const third = fast(up);
  assert.is(third.backlog(), 32);
  const lines = readFileSync(third.spoolPath, 'utf8').split('\n').filter(Boolean);
  assert.is(lines.filter(l => l.startsWith('{"type":"record"')).length, 32, 'compacted at start');
  assert.ok(lines[1].startsWith('{"type":"resource"'), 'the resource line kept');
  await until(() => up.accepted.length === 32, 'the rest');
  await third.shutdown();
  assert.equal(up.seqs(), range(32, 8), 'no duplicate of the delivered 8');
});

test('after a crash, the saved ack keeps delivered records from being re-sent; an ack naming another file is ignored', async () => {
  const down = new ScriptedExporter();
  down.failing = true;
  const t1 = auditedTracer([fast(down)]);
  t1.produce(10);
  await t1.provider.shutdown();
  // Simulate a run that delivered the first 6 records and crashed: its ack file.
  const spoolPath = join(dir, 'otlp-audit-spool.jsonl');
  const text = readFileSync(spoolPath, 'utf8');
  const id = /"id":"([^"]+)"/.exec(text)![1];
  let offset = 0;
  let records = 0;
  for (const line of text.split('\n')) {
    if (records === 6) break;
    offset += Buffer.byteLength(line) + 1;
    if (line.startsWith('{"type":"record"')) records++;
  }
  writeFileSync(spoolPath + '.ack', `not-this-file ${offset}`);
  const copy = readFileSync(spoolPath);
  const ignored = fast(new ScriptedExporter());
  assert.is(ignored.backlog(), 20, 'an ack of another file counts for nothing');
  await ignored.shutdown();
  writeFileSync(spoolPath, copy);
  writeFileSync(spoolPath + '.ack', `${id} ${offset}`);
  const up = new ScriptedExporter();
  const sink = fast(up);
  assert.is(sink.backlog(), 14);
  await until(() => up.accepted.length === 14, 'the rest');
  await sink.shutdown();
  assert.equal(up.seqs(), range(14, 6));
});

test('a torn last spool line is set aside and reported, the rest is sent', async () => {
  const down = new ScriptedExporter();
  down.failing = true;
  const t1 = auditedTracer([fast(down)]);
  t1.produce(3);
  await t1.provider.shutdown();
  const spoolPath = join(dir, 'otlp-audit-spool.jsonl');
  appendFileSync(spoolPath, '{"type":"record","trace_flags":1,"record":{"chain_id":"x","se');
  const diag = captureDiag();
  try {
    const up = new ScriptedExporter();
    const sink = fast(up);
    assert.ok(diag.messages.some(m => /torn line/.test(m)), diag.messages.join(' | '));
    const aside = readdirSync(dir).filter(f => f.includes('.torn-'));
    assert.is(aside.length, 1);
    assert.ok(readFileSync(join(dir, aside[0]), 'utf8').endsWith('"se'));
    await until(() => up.accepted.length === 6, 'the intact records');
    await sink.shutdown();
    assert.equal(up.seqs(), range(6));
  } finally {
    diag.restore();
  }
});

test('a record written after shutdown is reported, never silently lost', async () => {
  const exporter = new ScriptedExporter();
  const sink = fast(exporter);
  const mem = new InMemoryAuditSink();
  const t = auditedTracer([mem]);
  t.produce(1);
  await sink.shutdown();
  await sink.shutdown(); // twice is fine
  const diag = captureDiag();
  try {
    sink.write(mem.records[0]);
    assert.ok(diag.messages.some(m => /shut down/.test(m)));
  } finally {
    diag.restore();
    await t.provider.shutdown();
  }
});

test('the sink never keeps a process alive: a child with a pending backoff exits by itself', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/idle-sink-child.ts', dir], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', c => (out += c));
  child.stderr.on('data', c => (err += c));
  // A safety net only: a child kept alive by a timer would otherwise hang the suite.
  const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(guard);
  assert.is(signal, null, `the child was kept alive and had to be killed; stderr: ${err}`);
  assert.is(code, 0, err);
  assert.is(out.trim(), 'backlog 20', 'it had records waiting and a 60 s backoff armed');
});

test('options are validated', async () => {
  const exporter = new ScriptedExporter();
  assert.throws(() => new OtlpAuditSink({ exporter } as OtlpAuditSinkOptions), /spoolPath and spoolDir/);
  assert.throws(() => new OtlpAuditSink({ exporter, spoolDir: dir, spoolPath: join(dir, 'x') }), /exactly one/);
  assert.throws(() => new OtlpAuditSink({ exporter: {} as SpanExporter, spoolDir: dir }), /exporter/);
  assert.throws(() => new OtlpAuditSink({ exporter, spoolDir: dir, maxInMemory: 0 }), /maxInMemory/);
  const nested = new OtlpAuditSink({ exporter, spoolDir: join(dir, 'a', 'b') });
  assert.is(statSync(join(dir, 'a', 'b')).mode & 0o777, 0o700, 'a missing spool directory is created, 0700');
  await nested.shutdown();
  assert.throws(() => new OtlpAuditSink({ exporter, spoolDir: dir, maxBatchSize: 1.5 }), /maxBatchSize/);
  assert.throws(() => new OtlpAuditSink({ exporter, spoolDir: dir, backoff: { jitter: -1 } }), /jitter/);
});

test('metrics: backlog (gauge), export failures and retries (counters), by sink name', async () => {
  const telemetry = setupTelemetry();
  const exporter = new ScriptedExporter();
  exporter.failing = true;
  const sink = fast(exporter, { name: 'collector-audit', maxInMemory: 4 });
  const t = auditedTracer([sink]);
  try {
    t.produce(5);
    await until(() => exporter.calls >= 3, 'three failed attempts');
    const backlog = await telemetry.points(METRIC_AGENT_SAFETY_AUDIT_BACKLOG);
    const mine = backlog.find(p => p.attributes[METRIC_ATTR_SINK] === 'collector-audit');
    assert.is(mine?.value, 10);
    const failures = (await telemetry.points(METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES)).find(p => p.attributes[METRIC_ATTR_SINK] === 'collector-audit');
    assert.ok((failures?.value ?? 0) >= 3);
    exporter.failing = false;
    await until(() => exporter.accepted.length === 10, 'recovery');
    const retries = (await telemetry.points(METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES)).find(p => p.attributes[METRIC_ATTR_SINK] === 'collector-audit');
    assert.ok((retries?.value ?? 0) >= 1);
    const after = (await telemetry.points(METRIC_AGENT_SAFETY_AUDIT_BACKLOG)).find(p => p.attributes[METRIC_ATTR_SINK] === 'collector-audit');
    assert.is(after?.value, 0);
    const collected = await telemetry.collect();
    const units = Object.fromEntries(collected.map(m => [m.descriptor.name, m.descriptor.unit]));
    assert.is(units[METRIC_AGENT_SAFETY_AUDIT_BACKLOG], '{record}');
    assert.is(units[METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES], '{failure}');
    assert.is(units[METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES], '{retry}');
  } finally {
    await t.provider.shutdown();
    await telemetry.shutdown();
  }
});

test('metrics: behind an AuditChainSpanProcessor the sink\'s backlog is observed once, by the sink, until the sink has shut down', async () => {
  const telemetry = setupTelemetry();
  const exporter = new ScriptedExporter();
  exporter.failing = true;
  const sink = fast(exporter, { exportTimeoutMs: 300 });
  const processor = new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans });
  const provider = sdkTrace.tracerProvider({ spanProcessors: [processor] });
  const backlogPoints = async () =>
    (await telemetry.points(METRIC_AGENT_SAFETY_AUDIT_BACKLOG)).filter(p => p.attributes[METRIC_ATTR_SINK] === 'otlp');
  // The sink's timers (the hung export's timeout among them) are unref'd: keep the test process alive meanwhile.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    const tracer = provider.getTracer('backlog-once');
    for (let i = 0; i < 5; i++) tracer.startSpan(`step ${i}`).end();
    await until(() => exporter.calls >= 2, 'failed attempts');
    const waiting = await backlogPoints();
    assert.is(waiting.length, 1, 'one data point for sink="otlp"');
    assert.is(waiting[0].value, 5);
    assert.is(sink.backlog(), 5);

    // The processor shuts down first and hands the shutdown to the sink, which
    // still holds the records while it tries to deliver them: the gauge says so.
    exporter.failing = false;
    exporter.hanging = true;
    const calls = exporter.calls;
    await until(() => exporter.calls > calls, 'an attempt that hangs');
    const closing = provider.shutdown();
    await new Promise(r => setTimeout(r, 20));
    const draining = await backlogPoints();
    assert.is(draining.length, 1);
    assert.is(draining[0].value, 5, 'the backlog during the sink\'s shutdown is the records it still holds');
    exporter.hanging = false;
    await closing;
    assert.equal(exporter.seqs(), [0, 1, 2, 3, 4], 'delivered at shutdown');
    const after = await backlogPoints();
    assert.is(after.length, 1);
    assert.is(after[0].value, 0);
  } finally {
    exporter.hanging = false;
    await provider.shutdown();
    await telemetry.shutdown();
    clearInterval(keepAlive);
  }
});

test('metrics: the names Prometheus sees are the ones the alert rules use', async () => {
  const reader = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  const exporter = new ScriptedExporter();
  exporter.failing = true;
  const sink = fast(exporter, { name: 'prom-check' });
  const t = auditedTracer([sink]);
  try {
    t.produce(2);
    await until(() => exporter.calls >= 2, 'failed attempts');
    exporter.failing = false;
    await until(() => exporter.accepted.length === 4, 'recovery');
    const { resourceMetrics } = await reader.collect();
    const text = new PrometheusSerializer().serialize(resourceMetrics);
    const rules = readFileSync(new URL('../../../collector-config/prometheus/alerts.yml', import.meta.url), 'utf8');
    for (const name of [METRIC_AGENT_SAFETY_AUDIT_BACKLOG, METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES]) {
      const metric = PACKAGE_METRICS.find(m => m.name === name);
      assert.ok(metric, `${name} is in PACKAGE_METRICS`);
      const direct = promName(metric, 'direct');
      assert.is(promName(metric, 'collector'), direct, 'curly-brace units add no suffix: both paths agree');
      assert.match(text, new RegExp(`^# TYPE ${direct} ${metric.kind}$`, 'm'));
      assert.match(text, new RegExp(`^${direct}\\{[^}]*${METRIC_ATTR_SINK}="prom-check"`, 'm'));
    }
    assert.ok(rules.includes('agent_safety_audit_backlog'));
    assert.ok(rules.includes('agent_safety_audit_export_failures_total'));
    assert.match(text, /^agent_safety_audit_backlog\{[^}]*sink="prom-check"[^}]*\} 0/m);
    assert.match(text, /^agent_safety_audit_export_failures_total\{[^}]*sink="prom-check"[^}]*\} [1-9]/m);
  } finally {
    await t.provider.shutdown();
    metrics.disable();
    await meterProvider.shutdown();
  }
});

test.run();
