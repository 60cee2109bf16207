/**
 * Round trip through the real processor: guarded calls → AuditChainSpanProcessor
 * → in-memory sink (JSONL) and the SDK's exporters (OTLP JSON, OTLP/HTTP
 * protobuf to a real receiver) → the verifier.
 */
import { generateKeyPairSync } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { guard } from '../../src/index.js';
import { AuditChainSpanProcessor, InMemoryAuditSink } from '../../src/exporters/index.js';
import { verifyAuditLines, verifyAuditText } from '../../src/verify/audit-verify.js';
import { setupTelemetry } from '../helpers/otel.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';

const test = suite('audit verifier round trip (AuditChainSpanProcessor)');

const HMAC = Buffer.from('a'.repeat(32));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

async function run() {
  const sink = new InMemoryAuditSink();
  const processor = new AuditChainSpanProcessor({
    sinks: [sink],
    hmacKey: { id: 'hk', key: HMAC },
    signingKey: { id: 'sk', privateKey },
    seals: { everyRecords: 4 },
  });
  const t = setupTelemetry({ agent: { id: 'agent-rt' } }, [processor]);
  const ok = guard(async (a: number) => a * 2, { name: 'double' });
  const bad = guard(async () => {
    throw new Error('boom');
  }, { name: 'explode' });
  for (let i = 0; i < 15; i++) {
    await ok(i);
    if (i % 5 === 0) await bad().catch(() => undefined);
  }
  await processor.forceFlush();
  const live = [...sink.lines()];
  await processor.shutdown(); // seals the head, as at the end of a run
  return { sink, processor, t, live };
}

test('the sink\'s JSONL and the exported spans (OTLP JSON) verify, with key and signatures', async () => {
  const { sink, processor, t, live } = await run();
  try {
    const options = { hmacKey: HMAC, hmacKeyId: 'hk', publicKey };
    // before shutdown the tail follows the last seal: a live file
    assert.is(verifyAuditLines(live, options).failure?.reason, 'unsealed tail');
    assert.ok(verifyAuditLines(live, { ...options, allowUnsealedTail: true }).valid);
    const jsonl = verifyAuditLines(sink.lines(), options);
    assert.ok(jsonl.valid, JSON.stringify(jsonl.failure));
    assert.is(jsonl.chains.length, 1);
    assert.is(jsonl.chains[0].chainId, processor.chainId);
    assert.is(jsonl.chains[0].records, sink.records.length);
    assert.ok(jsonl.chains[0].sealsVerified >= 3);
    assert.is(jsonl.chains[0].tail, 'sealed');
    assert.is(jsonl.chains[0].sealEvery, 4);
    // what an OTLP sink exports: every record's stamped span, seal spans included
    const spans = sink.records.map(r => r.span);
    const exported = t.spans().filter(s => s.attributes['agent_safety.audit.chain_id'] !== undefined);
    assert.is(exported.length, spans.filter(s => s.name !== 'agent_safety.audit.seal').length, 'the SDK exporter saw every stamped span');
    let otlp = '';
    for (let i = 0; i < spans.length; i += 6) otlp += Buffer.from(JsonTraceSerializer.serializeRequest(spans.slice(i, i + 6))!).toString('utf8') + '\n';
    const fromOtlp = verifyAuditText(otlp, options);
    assert.ok(fromOtlp.valid, JSON.stringify(fromOtlp.failure));
    assert.is(fromOtlp.chains[0].headHash, jsonl.chains[0].headHash);
    assert.is(fromOtlp.chains[0].sealsVerified, jsonl.chains[0].sealsVerified);
    // and a change in the exported copy is caught
    const tampered = otlp.replace('"stringValue":"double"', '"stringValue":"triple"');
    assert.not.equal(tampered, otlp);
    assert.is(verifyAuditText(tampered, options).failure?.reason, 'altered record');
  } finally {
    await t.shutdown();
  }
});

test('exported over OTLP/HTTP protobuf to a receiver: the receiver-side file verifies', async () => {
  const receiver = await OtlpReceiver.start();
  const { sink, t } = await run();
  try {
    const spans = sink.records.map(r => r.span);
    const exporter = new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` });
    for (let i = 0; i < spans.length; i += 5) {
      const r = await new Promise<{ code: number }>(resolve => exporter.export(spans.slice(i, i + 5).reverse(), resolve));
      assert.is(r.code, 0);
    }
    await exporter.shutdown();
    const report = verifyAuditText(receiver.toOtlpJsonLines(), { hmacKey: HMAC, publicKey });
    assert.ok(report.valid, JSON.stringify(report.failure));
    assert.is(report.chains[0].records, sink.records.length);
  } finally {
    await receiver.close();
    await t.shutdown();
  }
});

test.run();
