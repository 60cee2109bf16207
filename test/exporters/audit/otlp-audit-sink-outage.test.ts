/**
 * Outage: the OTLP audit sink in front of a real OTLP/HTTP receiver on
 * 127.0.0.1 that is first down (port closed), then answers 503, then
 * recovers, while 10,000 audited spans are produced through a real tracer
 * provider and the package's AuditChainSpanProcessor (with Ed25519
 * checkpoints). After recovery every record has arrived exactly once by
 * (chain id, seq), and the chain verifies from what the receiver got: seqs
 * contiguous from 0, each prev_hash the previous hash, each hash recomputed
 * from a span rebuilt from the received data, checkpoint signatures valid.
 *
 * Also: shutdown with the receiver down leaves everything in the spool, and
 * a new sink on the same spool delivers it all once the receiver is back;
 * and a receiver that takes the request and never answers holds neither
 * `forceFlush` nor `shutdown` past `flushTimeoutMs`.
 */
import { verifyAuditText } from '../../../src/verify/audit-verify.js';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AuditChainSpanProcessor, auditAllSpans } from '../../../src/exporters/audit/audit-chain-span-processor.js';
import { OtlpAuditSink } from '../../../src/exporters/audit/otlp-audit-sink.js';
import { AUDIT_KEYS, GENESIS_HASH, SEAL_SPAN_NAME, chainHash, chainedResource, encodeRecordBody, verifySeal } from '../../../src/patterns/audit/audit-record.js';
import type { AuditSpanLike } from '../../../src/patterns/audit/audit-record.js';
import { nanoStringToHrTime } from '../../../src/patterns/audit/audit-span-decode.js';
import { OtlpReceiver } from '../../helpers/otlp-receiver.js';
import type { ReceivedSpan } from '../../helpers/otlp-receiver.js';
import { spanProducer } from '../../helpers/audit-driver.js';
import { sdkTrace } from '../../helpers/otel.js';

const STAMP = /^agent_safety\.audit\.(?!checkpoint\.|seal\.)/;

/** A span-like rebuilt from what the receiver decoded (stamps left out, as in the record). */
function spanFromReceived(s: ReceivedSpan): AuditSpanLike {
  const attributes = Object.fromEntries(Object.entries(s.attributes).filter(([k]) => !STAMP.test(k)));
  return {
    name: s.name,
    kind: s.kind - 1,
    spanContext: () => ({ traceId: s.traceId, spanId: s.spanId }),
    parentSpanContext: s.parentSpanId ? { spanId: s.parentSpanId } : undefined,
    startTime: nanoStringToHrTime(s.startTimeUnixNano),
    endTime: nanoStringToHrTime(s.endTimeUnixNano),
    status: { code: s.status.code, message: s.status.message },
    attributes,
    events: s.events.map(e => ({ name: e.name, time: nanoStringToHrTime(e.timeUnixNano), attributes: e.attributes })),
    links: s.links.map(l => ({ context: { traceId: l.traceId, spanId: l.spanId }, attributes: l.attributes })),
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
    instrumentationScope: { name: s.scope.name, version: s.scope.version },
  };
}

interface ChainReport {
  records: number;
  duplicates: number;
  checkpoints: number;
}

/** Checks one chain as received; throws with the first problem. */
function verifyReceived(spans: ReceivedSpan[], chainId: string, publicKey?: KeyObject): ChainReport {
  const bySeq = new Map<number, ReceivedSpan>();
  let duplicates = 0;
  for (const s of spans) {
    if (s.attributes[AUDIT_KEYS.chainId] !== chainId) continue;
    const seq = s.attributes[AUDIT_KEYS.seq] as number;
    if (bySeq.has(seq)) duplicates++;
    else bySeq.set(seq, s);
  }
  let prev = GENESIS_HASH;
  let checkpoints = 0;
  for (let seq = 0; seq < bySeq.size; seq++) {
    const s = bySeq.get(seq);
    if (s === undefined) throw new Error(`chain ${chainId}: seq ${seq} missing (have ${bySeq.size})`);
    if (s.attributes[AUDIT_KEYS.prevHash] !== prev) throw new Error(`chain ${chainId}: seq ${seq} does not link to seq ${seq - 1}`);
    const body = encodeRecordBody(
      {
        chainId,
        seq,
        prevHash: prev,
        resource: seq === 0 ? chainedResource(s.resource) : undefined,
        keyId: seq === 0 ? (s.attributes[AUDIT_KEYS.keyId] as string | undefined) : undefined,
        format: seq === 0 ? (s.attributes[AUDIT_KEYS.format] as number | undefined) : undefined,
        sealEvery: seq === 0 ? (s.attributes[AUDIT_KEYS.sealEvery] as number | undefined) : undefined,
      },
      spanFromReceived(s),
    );
    const hash = chainHash(prev, body);
    if (hash !== s.attributes[AUDIT_KEYS.hash]) throw new Error(`chain ${chainId}: seq ${seq}: the hash does not recompute from the received span`);
    if (s.name === SEAL_SPAN_NAME && publicKey) {
      const a = s.attributes;
      const claim = {
        chainId,
        headSeq: a[AUDIT_KEYS.sealHeadSeq] as number,
        headHash: a[AUDIT_KEYS.sealHeadHash] as string,
        timeUnixNano: a[AUDIT_KEYS.sealTime] as string,
        keyId: a[AUDIT_KEYS.sealKeyId] as string,
        final: a[AUDIT_KEYS.sealFinal] === true ? true : undefined,
      };
      if (!verifySeal(claim, a[AUDIT_KEYS.sealSignature] as string, publicKey)) throw new Error(`chain ${chainId}: bad seal at seq ${seq}`);
      if (bySeq.get(claim.headSeq)?.attributes[AUDIT_KEYS.hash] !== claim.headHash) throw new Error(`checkpoint at seq ${seq} names the wrong head`);
      checkpoints++;
    }
    prev = hash;
  }
  return { records: bySeq.size, duplicates, checkpoints };
}

/** A free loopback port with nothing listening on it (a receiver started and closed). */
async function closedPort(): Promise<number> {
  const r = await OtlpReceiver.start();
  const port = r.port;
  await r.close();
  return port;
}

/** Lets timers and I/O run between bursts of spans. */
const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve));

async function until(predicate: () => boolean, what: string, ms = 30_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 5));
  }
}

const test = suite('OTLP audit sink: outage');

test('down, then 503, then recovered: 10,000 audited spans arrive exactly once and the chain verifies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otlp-audit-outage-'));
  const port = await closedPort();
  let receiver: OtlpReceiver | undefined;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const sink = new OtlpAuditSink({
    exporter: new ProtoExporter({ url: `http://127.0.0.1:${port}/v1/traces`, timeoutMillis: 1500 }),
    spoolDir: dir,
    maxInMemory: 1500,
    maxBatchSize: 500,
    scheduledDelayMs: 5,
    backoff: { initialMs: 20, maxMs: 200, jitter: 0.2 },
  });
  const processor = new AuditChainSpanProcessor({
    sinks: [sink],
    filter: auditAllSpans,
    signingKey: { id: 'outage-test', privateKey },
    checkpoints: { everyRecords: 1000, everyMs: 3_600_000 },
  });
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'outage-test', 'service.version': '1.0.0' }),
    spanProcessors: [processor],
  });
  const produce = spanProducer(provider.getTracer('outage-test', '0.0.1'));
  const produceAll = async (pairs: number, from: number): Promise<void> => {
    for (let i = 0; i < pairs; i += 100) {
      produce(Math.min(100, pairs - i), from + i);
      await tick();
    }
  };
  try {
    // 1. Down: connection refused. Records pile up in memory, then in the spool.
    await produceAll(2000, 0); // 4,000 spans
    await until(() => sink.spooled > 0, 'records overflowing to the spool');
    const spoolBytes = statSync(sink.spoolPath).size;
    assert.ok(spoolBytes > 0);
    assert.is(statSync(sink.spoolPath).mode & 0o777, 0o600);

    // 2. Up, but answering 503.
    receiver = await OtlpReceiver.start({ port, fail: () => 503 });
    await produceAll(1500, 2000); // 3,000 more
    const r = receiver;
    await until(() => r.requests.filter(q => q.status === 503).length >= 2, 'export attempts answered 503');
    assert.is(r.spans.length, 0);
    assert.ok(sink.backlog() >= 7000, `backlog ${sink.backlog()}`);

    // 3. Recovered.
    r.setFailurePolicy(undefined);
    await produceAll(1500, 3500); // 3,000 more: 10,000 spans in all
    const total = processor.head.seq + 1;
    assert.ok(total >= 10_000 + 9, `10,000 spans and their checkpoints, got ${total}`);
    await until(() => new Set(r.spans.map(s => s.attributes[AUDIT_KEYS.seq])).size >= total, 'every record received');
    await provider.shutdown(); // final checkpoint and flush
    const finalTotal = processor.head.seq + 1;

    const report = verifyReceived(r.spans, processor.chainId, publicKey);
    assert.is(report.records, finalTotal, 'every seq 0..N-1 present');
    assert.is(report.duplicates, 0, 'no duplicates');
    assert.ok(report.checkpoints >= 10, `checkpoints verified: ${report.checkpoints}`);
    assert.is(r.spans.length, finalTotal, 'exactly once');
    assert.is(r.spans.filter(s => s.name.startsWith('execute_tool')).length, 5000);
    assert.is(sink.backlog(), 0);
    assert.is(statSync(sink.spoolPath).size, 0, 'the spool is truncated once delivered');

    // The package's verifier, on what the receiver got in OTLP JSON (as a Collector's file exporter writes it).
    const verdict = verifyAuditText(r.toOtlpJsonLines(), { publicKey });
    assert.ok(verdict.valid, JSON.stringify(verdict.failures.slice(0, 3)));
    assert.equal(verdict.chains.map(c => [c.chainId, c.records, c.firstSeq, c.lastSeq]), [[processor.chainId, finalTotal, 0, finalTotal - 1]]);
    assert.ok(verdict.chains[0].sealsVerified >= 10);
  } finally {
    await provider.shutdown();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shutdown with the receiver down leaves everything in the spool; the next sink delivers it all', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otlp-audit-outage-'));
  const port = await closedPort();
  let receiver: OtlpReceiver | undefined;
  const sinkOptions = {
    spoolDir: dir,
    maxInMemory: 10_000,
    scheduledDelayMs: 5,
    backoff: { initialMs: 20, maxMs: 200 },
    flushTimeoutMs: 3_000,
  };
  try {
    const first = new OtlpAuditSink({ ...sinkOptions, exporter: new JsonExporter({ url: `http://127.0.0.1:${port}/v1/traces`, timeoutMillis: 500 }) });
    const processor = new AuditChainSpanProcessor({ sinks: [first], filter: auditAllSpans });
    const provider = sdkTrace.tracerProvider({ resource: resourceFromAttributes({ 'service.name': 'restart-test' }), spanProcessors: [processor] });
    spanProducer(provider.getTracer('restart-test'))(500);
    await provider.shutdown();
    const spooled = readFileSync(first.spoolPath, 'utf8').split('\n').filter(l => l.startsWith('{"type":"record"'));
    assert.is(spooled.length, 1000, 'everything unsent is in the spool');

    receiver = await OtlpReceiver.start({ port });
    const second = new OtlpAuditSink({ ...sinkOptions, exporter: new JsonExporter({ url: `http://127.0.0.1:${port}/v1/traces`, timeoutMillis: 5_000 }) });
    assert.is(second.backlog(), 1000);
    const r = receiver;
    await until(() => r.spans.length >= 1000, 'the spooled records');
    await second.shutdown();
    const report = verifyReceived(r.spans, processor.chainId);
    assert.is(report.records, 1000);
    assert.is(report.duplicates, 0);
    assert.is(r.spans.length, 1000);
    assert.equal(r.spans[0].resource['service.name'], 'restart-test', 'the resource comes back from the spool');
    assert.is(statSync(second.spoolPath).size, 0);
  } finally {
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** 'settled' when the promise settles first, 'stuck' after `ms` (a watchdog: far beyond the bound tested, far below the hang). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<'settled' | 'stuck'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<'stuck'>(resolve => (timer = setTimeout(() => resolve('stuck'), ms)));
  try {
    return await Promise.race([promise.then(() => 'settled' as const), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

test('a collector that accepts the request and never answers: forceFlush and shutdown return at flushTimeoutMs; the journal keeps every record for the next start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otlp-audit-hang-'));
  const receiver = await OtlpReceiver.start({ fail: () => 'hang', maxLifetimeMs: 120_000 });
  // The exporter and the sink would both wait 60 s for an answer: only the flush deadline can end the wait.
  const sinkOptions = { spoolDir: dir, scheduledDelayMs: 5, exportTimeoutMs: 60_000, flushTimeoutMs: 300 };
  try {
    const first = new OtlpAuditSink({ ...sinkOptions, exporter: new ProtoExporter({ url: `${receiver.url}/v1/traces`, timeoutMillis: 60_000 }) });
    const processor = new AuditChainSpanProcessor({ sinks: [first], filter: auditAllSpans });
    const provider = sdkTrace.tracerProvider({ resource: resourceFromAttributes({ 'service.name': 'hang-test' }), spanProcessors: [processor] });
    spanProducer(provider.getTracer('hang-test'))(100);
    await receiver.waitFor(() => receiver.requests.length > 0, 10_000, 'the first (never answered) export');
    assert.is(await settlesWithin(first.forceFlush(), 15_000), 'settled', 'forceFlush is bounded by flushTimeoutMs');
    assert.is(await settlesWithin(provider.shutdown(), 15_000), 'settled', 'shutdown is bounded by flushTimeoutMs');
    assert.ok(receiver.requests.every(r => r.status === 0), 'nothing was answered');
    const spooled = readFileSync(first.spoolPath, 'utf8').split('\n').filter(l => l.startsWith('{"type":"record"'));
    assert.is(spooled.length, 200, 'every record is in the journal');

    receiver.setFailurePolicy(undefined);
    const second = new OtlpAuditSink({ ...sinkOptions, flushTimeoutMs: 10_000, exporter: new ProtoExporter({ url: `${receiver.url}/v1/traces`, timeoutMillis: 5_000 }) });
    assert.is(second.backlog(), 200, 'an export that never got an answer is not acknowledged');
    await until(() => receiver.spans.length >= 200, 'the journaled records');
    await second.shutdown();
    const report = verifyReceived(receiver.spans, processor.chainId);
    assert.is(report.records, 200);
    assert.is(statSync(second.spoolPath).size, 0);
  } finally {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
