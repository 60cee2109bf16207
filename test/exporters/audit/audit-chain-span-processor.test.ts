import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { trace } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { guard } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID, ATTR_AGENT_SAFETY_AUDIT_HASH, ATTR_AGENT_SAFETY_AUDIT_KEY_ID, ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH, ATTR_AGENT_SAFETY_AUDIT_PREV_HASH, ATTR_AGENT_SAFETY_AUDIT_SEQ, METRIC_AGENT_SAFETY_AUDIT_RECORDS } from '../../../src/semconv.js';
import { AuditChainSpanProcessor, InMemoryAuditSink, auditAllSpans, verifyCheckpoint } from '../../../src/exporters/index.js';
import type { AuditSink } from '../../../src/exporters/index.js';
import { AUDIT_KEYS, encodeSpan, splitLine } from '../../../src/patterns/audit/audit-record.js';
import { canonicalBody } from '../../../src/patterns/audit/audit-record.js';
import { setupTelemetry, sdkTrace } from '../../helpers/otel.js';
import { captureDiag } from '../../helpers/diag.js';
import { checkAuditLines } from '../../helpers/audit-check.js';
import * as semconv from '../../../src/instrumentation/shared/semconv.js';

const test = suite('AuditChainSpanProcessor');

function setup(options: Partial<ConstructorParameters<typeof AuditChainSpanProcessor>[0]> = {}) {
  const sink = new InMemoryAuditSink();
  const processor = new AuditChainSpanProcessor({ sinks: [sink], ...options });
  const t = setupTelemetry({ agent: { id: 'agent-a' } }, [processor]);
  return { sink, processor, t };
}

test('chains every guarded call, stamps the span, and the stamps are what other exporters see', async () => {
  const { sink, processor, t } = setup();
  try {
    const add = guard(async (a: number, b: number) => a + b, { name: 'add' });
    const fail = guard(async () => { throw new Error('nope'); }, { name: 'fail' });
    for (let i = 0; i < 5; i++) await add(i, 1);
    await fail().catch(() => undefined);
    const records = checkAuditLines(sink.lines());
    assert.is(records.length, 6);
    assert.equal(records.map(r => r.seq), [0, 1, 2, 3, 4, 5]);
    const spans = t.spans();
    assert.is(spans.length, 6);
    spans.forEach((span, i) => {
      const r = sink.records[i];
      assert.is(span.attributes[ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID], processor.chainId);
      assert.is(span.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ], r.seq);
      assert.is(span.attributes[ATTR_AGENT_SAFETY_AUDIT_PREV_HASH], r.prevHash);
      assert.is(span.attributes[ATTR_AGENT_SAFETY_AUDIT_HASH], r.hash);
      assert.is(records[i].span.name, span.name);
    });
    // The record covers the span minus the stamps; seq 0 binds the resource.
    assert.ok(records[0].resource && Object.keys(records[0].resource).length > 0);
    assert.is(records[1].resource, undefined);
    assert.is(records[5].span.status && (records[5].span.status as { code: number }).code, 2);
    assert.not.ok(Object.keys(records[0].span.attributes).some(k => k.startsWith('agent_safety.audit.')));
    assert.equal(processor.head, { chainId: processor.chainId, seq: 5, hash: sink.records[5].hash });
  } finally {
    await t.shutdown();
  }
});

test('the fast writer emits exactly the RFC 8785 form of its own record', async () => {
  const { sink, t } = setup();
  try {
    const tool = guard(async (x: unknown) => x, { name: 'echo', captureArguments: true, captureResult: true });
    await tool({ text: 'é e\u0301 \u2028 "quoted" \\ \u0000', n: 1.5, big: 2 ** 60 });
    for (const line of sink.lines()) {
      const split = splitLine(line);
      assert.ok(split);
      assert.is(canonicalBody(JSON.parse(line) as Record<string, unknown>), split!.body);
    }
  } finally {
    await t.shutdown();
  }
});

test('concurrent calls across agents get gap-free seqs and one valid chain', async () => {
  const { sink, t } = setup();
  try {
    const tools = ['a', 'b', 'c', 'd'].map(agent =>
      guard(async (ms: number) => { await new Promise(r => setTimeout(r, ms)); return ms; }, { name: `tool-${agent}`, agent: { id: agent } }),
    );
    await Promise.all(Array.from({ length: 400 }, (_, i) => tools[i % 4](i % 7)));
    const records = checkAuditLines(sink.lines());
    assert.is(records.length, 400);
    assert.is(new Set(records.map(r => r.span.attributes['gen_ai.agent.id'] && JSON.stringify(r.span.attributes['gen_ai.agent.id']))).size, 4);
  } finally {
    await t.shutdown();
  }
});

test('with an HMAC key the chain cannot be recomputed without it; the key id is on seq 0', async () => {
  const key = Buffer.from('k'.repeat(32));
  const { sink, t } = setup({ hmacKey: { id: 'audit-2026', key } });
  try {
    const tool = guard(() => 1, { name: 'one' });
    await tool(); await tool();
    const records = checkAuditLines(sink.lines(), key);
    assert.is(records[0].key_id, 'audit-2026');
    assert.is(t.spans()[0].attributes[ATTR_AGENT_SAFETY_AUDIT_KEY_ID], 'audit-2026');
    assert.throws(() => checkAuditLines(sink.lines()), /hash mismatch/);
  } finally {
    await t.shutdown();
  }
});

test('signed seals every N records and at shutdown, verifiable with the public key', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const { sink, processor, t } = setup({ signingKey: { id: 'ops-1', privateKey }, seals: { everyRecords: 3 } });
  const tool = guard(() => 1, { name: 'one' });
  for (let i = 0; i < 7; i++) await tool();
  await processor.shutdown();
  await t.shutdown();
  const records = checkAuditLines(sink.lines());
  const checkpoints = records.filter(r => r.span.name === 'agent_safety.audit.seal');
  // After records 0-2, 4-6 (the seal at 3 counts as a record), and the last one at shutdown.
  assert.equal(checkpoints.map(c => c.seq), [3, 7, 9]);
  for (const c of checkpoints) {
    const a = c.span.attributes as Record<string, { intValue?: string; stringValue?: string; boolValue?: boolean }>;
    const claim = {
      chainId: c.chain_id,
      headSeq: Number(a[AUDIT_KEYS.sealHeadSeq].intValue),
      headHash: a[AUDIT_KEYS.sealHeadHash].stringValue!,
      timeUnixNano: a[AUDIT_KEYS.sealTime].stringValue!,
      keyId: a[AUDIT_KEYS.sealKeyId].stringValue!,
      final: a[AUDIT_KEYS.sealFinal]?.boolValue === true ? true : undefined,
    };
    assert.is(claim.headSeq, c.seq - 1);
    assert.is(claim.headHash, records[c.seq - 1].hash);
    assert.ok(verifyCheckpoint(claim, a[AUDIT_KEYS.sealSignature].stringValue!, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' }))));
    assert.not.ok(verifyCheckpoint({ ...claim, headSeq: claim.headSeq + 1 }, a[AUDIT_KEYS.sealSignature].stringValue!, publicKey));
  }
  // Shutdown is idempotent and adds nothing after the last seal.
  await processor.shutdown();
  assert.is(sink.records.length, 10);
});

test('without onEnding (an older SDK) the sinks get a stamped copy', async () => {
  const sink = new InMemoryAuditSink();
  const processor = new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans });
  const legacy: SpanProcessor = {
    onStart: (s, c) => processor.onStart(s, c),
    onEnd: s => processor.onEnd(s),
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({ spanProcessors: [legacy, sdkTrace.simpleSpanProcessor(exporter)] });
  provider.getTracer('x').startSpan('plain').end();
  await provider.forceFlush();
  const [record] = checkAuditLines(sink.lines());
  assert.is(record.span.name, 'plain');
  assert.is(sink.records[0].span.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ], 0);
  assert.is(exporter.getFinishedSpans()[0].attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ], undefined);
  assert.is(encodeSpan(sink.records[0].span), encodeSpan(exporter.getFinishedSpans()[0]));
});

test('chains only the package spans by default; a filter chooses others', async () => {
  const { sink, t } = setup();
  try {
    t.provider.getTracer('someone-else').startSpan('http GET').end();
    await guard(() => 1, { name: 'one' })();
    assert.equal(sink.records.map(r => r.span.name), ['execute_tool one']);
  } finally {
    await t.shutdown();
  }
});

test('a throwing sink is reported and neither breaks the call nor starves the other sinks', async () => {
  const diagCapture = captureDiag();
  const good = new InMemoryAuditSink();
  const bad: AuditSink = { write() { throw new Error('disk on fire'); }, forceFlush: async () => {}, shutdown: async () => { throw new Error('no'); } };
  const processor = new AuditChainSpanProcessor({ sinks: [bad, good] });
  const t = setupTelemetry({}, [processor]);
  try {
    assert.is(await guard(() => 'ok', { name: 'one' })(), 'ok');
    assert.is(good.records.length, 1);
    await diagCapture.waitFor(/audit sink .* failed to take record 0/);
    await processor.shutdown();
    await diagCapture.waitFor(/failed to shut down/);
  } finally {
    diagCapture.restore();
    await t.shutdown();
  }
});

test('continues the history a sink already holds: previous head on seq 0', async () => {
  const previous = { chainId: 'earlier-run', seq: 41, hash: 'ab'.repeat(32) };
  const sink: AuditSink & { got: string[] } = {
    got: [],
    write(r) { this.got.push(r.line); },
    forceFlush: async () => {},
    shutdown: async () => {},
    previousHead: () => previous,
  };
  const processor = new AuditChainSpanProcessor({ sinks: [sink] });
  const t = setupTelemetry({}, [processor]);
  try {
    await guard(() => 1, { name: 'one' })();
    await guard(() => 1, { name: 'one' })();
    const records = checkAuditLines(sink.got);
    assert.equal(records[0].previous, { chain_id: 'earlier-run', seq: 41, hash: previous.hash });
    assert.is(records[1].previous, undefined);
    assert.is(t.spans()[0].attributes[ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH], previous.hash);
  } finally {
    await t.shutdown();
  }
});

test('bad input: every attribute type, NaN/Infinity, huge and unicode strings, dropped attributes', async () => {
  const sink = new InMemoryAuditSink();
  const processor = new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans });
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bad-input' }),
    spanLimits: { attributeCountLimit: 12 },
    spanProcessors: [processor, sdkTrace.simpleSpanProcessor(exporter)],
  });
  const span = provider.getTracer('t').startSpan('weird');
  span.setAttributes({
    s: '', big: 'x'.repeat(1_000_000), composed: '\u00e9', decomposed: 'e\u0301', emoji: '😀', nul: '\u0000',
    i: -7, d: 0.1, nan: NaN, inf: Infinity, ninf: -Infinity, b: false,
  });
  span.setAttribute('arr', ['a', 'b']); // over the limit: dropped
  span.setAttribute('nums', [1, 2.5]); // dropped
  span.addEvent('ev', { k: 'v' });
  span.end();
  await provider.forceFlush();
  const [record] = checkAuditLines(sink.lines());
  const attrs = record.span.attributes as Record<string, unknown>;
  assert.equal(attrs.nan, { doubleValue: 'NaN' });
  assert.equal(attrs.inf, { doubleValue: 'Infinity' });
  assert.equal(attrs.ninf, { doubleValue: '-Infinity' });
  assert.equal(attrs.i, { intValue: '-7' });
  assert.is((attrs.big as { stringValue: string }).stringValue.length, 1_000_000);
  assert.is.not(JSON.stringify(attrs.composed), JSON.stringify(attrs.decomposed));
  assert.is(record.span.dropped_attributes_count, 2);
  // The stamps are written past the attribute limit: never dropped.
  const exported = exporter.getFinishedSpans()[0];
  assert.is(exported.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ], 0);
  assert.is(exported.attributes[ATTR_AGENT_SAFETY_AUDIT_HASH], sink.records[0].hash);
});

test('counts records on agent_safety.audit.records', async () => {
  const { t } = setup();
  try {
    const before = (await t.points(METRIC_AGENT_SAFETY_AUDIT_RECORDS))[0]?.value ?? 0;
    await guard(() => 1, { name: 'one' })();
    await guard(() => 1, { name: 'one' })();
    const after = (await t.points(METRIC_AGENT_SAFETY_AUDIT_RECORDS))[0]?.value ?? 0;
    assert.is(after - before, 2);
  } finally {
    await t.shutdown();
  }
});

test('the pure format and the semantic conventions name the same keys', () => {
  assert.is(AUDIT_KEYS.chainId, semconv.ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID);
  assert.is(AUDIT_KEYS.seq, semconv.ATTR_AGENT_SAFETY_AUDIT_SEQ);
  assert.is(AUDIT_KEYS.prevHash, semconv.ATTR_AGENT_SAFETY_AUDIT_PREV_HASH);
  assert.is(AUDIT_KEYS.hash, semconv.ATTR_AGENT_SAFETY_AUDIT_HASH);
  assert.is(AUDIT_KEYS.keyId, semconv.ATTR_AGENT_SAFETY_AUDIT_KEY_ID);
  assert.is(AUDIT_KEYS.previousChainId, semconv.ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_CHAIN_ID);
  assert.is(AUDIT_KEYS.previousSeq, semconv.ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_SEQ);
  assert.is(AUDIT_KEYS.previousHash, semconv.ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH);
  assert.is(AUDIT_KEYS.checkpointHeadSeq, semconv.ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_SEQ);
  assert.is(AUDIT_KEYS.checkpointHeadHash, semconv.ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_HASH);
  assert.is(AUDIT_KEYS.checkpointTime, semconv.ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_TIME);
  assert.is(AUDIT_KEYS.checkpointKeyId, semconv.ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_KEY_ID);
  assert.is(AUDIT_KEYS.checkpointSignature, semconv.ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_SIGNATURE);
  assert.is(AUDIT_KEYS.sealHeadSeq, semconv.ATTR_AGENT_SAFETY_AUDIT_SEAL_HEAD_SEQ);
  assert.is(AUDIT_KEYS.sealSignature, semconv.ATTR_AGENT_SAFETY_AUDIT_SEAL_SIGNATURE);
  assert.is(AUDIT_KEYS.format, semconv.ATTR_AGENT_SAFETY_AUDIT_FORMAT);
  assert.is(AUDIT_KEYS.sealEvery, semconv.ATTR_AGENT_SAFETY_AUDIT_SEAL_EVERY);
});

test('rejects bad options with clear errors', () => {
  assert.throws(() => new AuditChainSpanProcessor({ sinks: [] }), /sinks must be a non-empty array/);
  assert.throws(() => new AuditChainSpanProcessor({ sinks: [{} as AuditSink] }), /sinks\[0\] is not an AuditSink/);
  assert.throws(() => new AuditChainSpanProcessor({ sinks: [new InMemoryAuditSink()], checkpoints: { everyRecords: 0 } }), /everyRecords must be >= 1/);
});

void trace;
void ({} as ReadableSpan);
test.run();
