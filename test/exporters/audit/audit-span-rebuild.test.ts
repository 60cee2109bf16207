/**
 * A spooled record must re-export as the same span: decode the record line,
 * rebuild a ReadableSpan, and its canonical encoding equals the original's,
 * its record hash recomputes, and it carries the audit stamps. Spans come
 * from a real tracer provider; attribute values of every type, including
 * the awkward ones (NaN, ±Infinity, -0, huge integers, empty and unicode
 * strings, nulls in arrays).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { InMemoryAuditSink } from '../../../src/exporters/audit/audit-sink.js';
import { auditResource, rebuildAuditSpan } from '../../../src/exporters/audit/audit-span-rebuild.js';
import { recordSpoolLine, resourceSpoolLine } from '../../../src/exporters/audit/otlp-audit-spool.js';
import { AUDIT_KEYS, chainHash, encodeRecordBody, encodeSpan, splitLine } from '../../../src/patterns/audit/audit-record.js';
import { encodeAttributes } from '../../../src/patterns/audit/audit-canonical.js';
import { AuditRecordShapeError, decodeAttributes, decodeRecord, nanoStringToHrTime } from '../../../src/patterns/audit/audit-span-decode.js';
import { auditedTracer } from '../../helpers/audit-driver.js';

const test = suite('audit span rebuild');

function stampsOf(span: ReadableSpan): Record<string, unknown> {
  return Object.fromEntries(Object.entries(span.attributes).filter(([k]) => k.startsWith('agent_safety.audit.') && !k.startsWith('agent_safety.audit.checkpoint.') && !k.startsWith('agent_safety.audit.seal.')));
}

test('every record rebuilds to an identical span, with its stamps, and its hash recomputes', async () => {
  const sink = new InMemoryAuditSink();
  const t = auditedTracer([sink]);
  t.produce(60);
  assert.is(sink.records.length, 120);
  const resourceAttrs = t.memory.getFinishedSpans()[0].resource.attributes;
  const resource = auditResource(resourceAttrs);
  for (const rec of sink.records) {
    const decoded = decodeRecord(JSON.parse(rec.line));
    const rebuilt = rebuildAuditSpan(decoded, resource, rec.span.spanContext().traceFlags);
    assert.is(encodeSpan(rebuilt), encodeSpan(rec.span), `span of seq ${rec.seq}`);
    assert.equal(stampsOf(rebuilt), stampsOf(rec.span), `stamps of seq ${rec.seq}`);
    assert.is(rebuilt.attributes[AUDIT_KEYS.seq], rec.seq);
    assert.is(rebuilt.attributes[AUDIT_KEYS.hash], rec.hash);
    const { traceId, spanId, traceFlags } = rec.span.spanContext();
    assert.equal(rebuilt.spanContext(), { traceId, spanId, traceFlags });
    assert.equal(rebuilt.parentSpanContext?.spanId, rec.span.parentSpanContext?.spanId);
    assert.equal(rebuilt.resource.attributes, rec.span.resource.attributes);
    assert.equal(rebuilt.duration, rec.span.duration);
    // The chain verifies from the rebuilt span alone.
    const body = encodeRecordBody(
      { chainId: decoded.chainId, seq: decoded.seq, prevHash: decoded.prevHash, resource: decoded.seq === 0 ? rebuilt.resource.attributes : undefined, format: decoded.format, sealEvery: decoded.sealEvery },
      rebuilt,
    );
    assert.is(chainHash(decoded.prevHash, body), rec.hash);
    assert.is(splitLine(rec.line)?.body, body);
  }
  await t.provider.shutdown();
});

test('awkward attribute values survive the round trip', async () => {
  const sink = new InMemoryAuditSink();
  const t = auditedTracer([sink]);
  const tracer = t.provider.getTracer('odd', '');
  const span = tracer.startSpan('odd values');
  const odd: Record<string, unknown> = {
    nan: NaN,
    inf: Infinity,
    ninf: -Infinity,
    negzero: -0,
    huge: 2 ** 60,
    tiny: 5e-324,
    empty: '',
    composed: 'caf\u00e9',
    decomposed: 'cafe\u0301',
    big: 'x'.repeat(100_000),
    nulls: ['a', null, 'b'],
    bools: [true, false],
    doubles: [1.5, NaN, -2.25],
  };
  for (const [k, v] of Object.entries(odd)) span.setAttribute(k, v as never);
  span.addEvent('no attributes');
  span.addLink({ context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 } });
  span.end();
  const rec = sink.records[0];
  const rebuilt = rebuildAuditSpan(decodeRecord(JSON.parse(rec.line)), auditResource(rec.span.resource.attributes));
  assert.is(encodeSpan(rebuilt), encodeSpan(rec.span));
  assert.ok(Number.isNaN(rebuilt.attributes.nan));
  assert.is(rebuilt.attributes.inf, Infinity);
  assert.is(rebuilt.attributes.composed, 'caf\u00e9');
  assert.is(rebuilt.attributes.decomposed, 'cafe\u0301');
  assert.is.not(encodeAttributes({ s: 'caf\u00e9' }), encodeAttributes({ s: 'cafe\u0301' }));
  await t.provider.shutdown();
});

test('bytes and kvlist values decode to what encodes the same', () => {
  const attrs = { bytes: new Uint8Array([0, 1, 2, 255]), kv: { b: 1, a: 'x', nested: [1, 'two'] }, '1': 'numeric key' };
  const encoded = encodeAttributes(attrs);
  assert.is(encodeAttributes(decodeAttributes(JSON.parse(encoded))), encoded);
});

test('a record survives the spool line: rebuilt from the spooled text, identical', async () => {
  const sink = new InMemoryAuditSink();
  const t = auditedTracer([sink]);
  t.produce(3);
  const res = resourceSpoolLine(t.chainId, sink.records[0].span.resource.attributes);
  const parsedRes = JSON.parse(res) as { type: string; chain_id: string; attributes: unknown };
  assert.is(parsedRes.type, 'resource');
  assert.equal(decodeAttributes(parsedRes.attributes), sink.records[0].span.resource.attributes);
  for (const rec of sink.records) {
    const line = recordSpoolLine(rec.line, 1);
    assert.not.ok(line.includes('\n'));
    const parsed = JSON.parse(line) as { type: string; trace_flags: number; record: unknown };
    assert.is(parsed.type, 'record');
    const rebuilt = rebuildAuditSpan(decodeRecord(parsed.record), auditResource(decodeAttributes(parsedRes.attributes)), parsed.trace_flags);
    assert.is(encodeSpan(rebuilt), encodeSpan(rec.span));
  }
  await t.provider.shutdown();
});

test('seq 0 of a continued, keyed chain carries key id and previous head as stamps', () => {
  const r = decodeRecord({
    chain_id: 'c2',
    key_id: 'k1',
    prev_hash: '0'.repeat(64),
    previous: { chain_id: 'c1', hash: 'f'.repeat(64), seq: 41 },
    resource: {},
    seq: 0,
    span: JSON.parse(encodeSpan(rebuildAuditSpan(decodeRecord(JSON.parse(minimalLine())), auditResource({})))),
    hash: 'e'.repeat(64),
  });
  const s = rebuildAuditSpan(r, auditResource({}));
  assert.is(s.attributes[AUDIT_KEYS.keyId], 'k1');
  assert.is(s.attributes[AUDIT_KEYS.previousChainId], 'c1');
  assert.is(s.attributes[AUDIT_KEYS.previousSeq], 41);
  assert.is(s.attributes[AUDIT_KEYS.previousHash], 'f'.repeat(64));
});

function minimalLine(): string {
  const body =
    '{"chain_id":"c","prev_hash":"' + '0'.repeat(64) + '","seq":3,"span":{"attributes":{},"dropped_attributes_count":0,"dropped_events_count":0,"dropped_links_count":0,' +
    '"end_time_unix_nano":"1700000000000000002","events":[],"kind":1,"links":[],"name":"n","parent_span_id":"","scope":{"name":"s","version":""},' +
    '"span_id":"0102030405060708","start_time_unix_nano":"1700000000000000001","status":{"code":0,"message":""},"trace_id":"' + '1'.repeat(32) + '"}}';
  return body.slice(0, -1) + ',"hash":"' + 'a'.repeat(64) + '"}';
}

test('malformed records are rejected with a reason', () => {
  const good = JSON.parse(minimalLine()) as Record<string, unknown>;
  assert.throws(() => decodeRecord({ ...good, seq: '3' }), (e: unknown) => e instanceof AuditRecordShapeError && /seq/.test((e as Error).message));
  assert.throws(() => decodeRecord({ ...good, span: null }), /span/);
  assert.throws(() => decodeRecord({ ...good, span: { ...(good.span as object), start_time_unix_nano: '1.5' } }), /start_time/);
  assert.throws(() => rebuildAuditSpan(decodeRecord({ ...good, hash: undefined }), auditResource({})), /no hash/);
  assert.equal(nanoStringToHrTime('5'), [0, 5]);
  assert.equal(nanoStringToHrTime('1700000000123456789'), [1700000000, 123456789]);
});

test.run();
