/**
 * The inverse of the record encoding (`audit-record.ts`): turns a parsed
 * record line back into its position in the chain and a span-like object
 * whose `encodeSpan()` is byte-identical to the original's. Used to re-send
 * spooled records (the OTLP audit sink) and to re-check a received chain.
 * Pure: no OpenTelemetry import.
 *
 * @module
 */
import type { AuditSpanLike, ChainHead, HrTimeLike } from './audit-record.js';
import { AUDIT_KEYS } from './audit-record.js';

/** Thrown when a record does not have the shape `encodeRecordBody` writes. */
export class AuditRecordShapeError extends Error {
  override readonly name = 'AuditRecordShapeError';
}

type Json = Record<string, unknown>;

function fail(what: string): never {
  throw new AuditRecordShapeError(`audit record: ${what}`);
}

function obj(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not an object`);
  return value as Json;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') fail(`${what} is not a string`);
  return value;
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(`${what} is not an integer`);
  return value;
}

/**
 * The attribute value an `AnyValue` (as `encodeAnyValue` writes it) stands
 * for: strings, booleans, numbers (`intValue` strings become numbers;
 * `"NaN"`/`"Infinity"`/`"-Infinity"` doubles too), arrays, `Uint8Array`
 * for bytes, plain objects for kvlists, and `null` for `{}`.
 */
export function decodeAnyValue(value: unknown): unknown {
  const v = obj(value, 'an attribute value');
  if ('stringValue' in v) return str(v.stringValue, 'stringValue');
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(str(v.intValue, 'intValue'));
  if ('doubleValue' in v) {
    const d = v.doubleValue;
    if (typeof d === 'number') return d;
    if (d === 'NaN') return NaN;
    if (d === 'Infinity') return Infinity;
    if (d === '-Infinity') return -Infinity;
    fail('doubleValue is not a number');
  }
  if ('arrayValue' in v) {
    const values = obj(v.arrayValue, 'arrayValue').values;
    if (!Array.isArray(values)) fail('arrayValue.values is not an array');
    return values.map(decodeAnyValue);
  }
  if ('bytesValue' in v) return new Uint8Array(Buffer.from(str(v.bytesValue, 'bytesValue'), 'base64'));
  if ('kvlistValue' in v) {
    const values = obj(v.kvlistValue, 'kvlistValue').values;
    if (!Array.isArray(values)) fail('kvlistValue.values is not an array');
    const out: Json = {};
    for (const kv of values) {
      const entry = obj(kv, 'a kvlist entry');
      out[str(entry.key, 'a kvlist key')] = decodeAnyValue(entry.value);
    }
    return out;
  }
  return null;
}

/** An attribute map as `encodeAttributes` writes it, decoded to plain values. */
export function decodeAttributes(value: unknown): Record<string, unknown> {
  const attrs = obj(value ?? {}, 'attributes');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(attrs)) out[key] = decodeAnyValue(attrs[key]);
  return out;
}

/** `end - start` as an HrTime; `[0, 0]` when `end` is before `start` (a span's duration). */
export function hrTimeDiff(start: HrTimeLike, end: HrTimeLike): [number, number] {
  let s = end[0] - start[0];
  let ns = end[1] - start[1];
  if (ns < 0) {
    s -= 1;
    ns += 1e9;
  }
  return s < 0 ? [0, 0] : [s, ns];
}

/** A decimal unix-nanosecond string as `[seconds, nanoseconds]` (exact). */
export function nanoStringToHrTime(value: unknown, what = 'a time'): HrTimeLike {
  const s = str(value, what);
  if (!/^\d+$/.test(s)) fail(`${what} is not a decimal nanosecond string`);
  const secs = s.length > 9 ? Number(s.slice(0, -9)) : 0;
  const nanos = Number(s.slice(-9));
  return [secs, nanos];
}

/** A span-like object rebuilt from a record: {@link AuditSpanLike} with plain data. */
export interface DecodedAuditSpan extends AuditSpanLike {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly attributes: Record<string, unknown>;
  readonly instrumentationScope: { readonly name: string; readonly version?: string | undefined };
  readonly status: { readonly code: number; readonly message?: string | undefined };
}

/** A decoded record: its place in the chain and its span. */
export interface DecodedAuditRecord {
  readonly chainId: string;
  readonly seq: number;
  readonly prevHash: string;
  /** Undefined when the line had no `hash` (a body). */
  readonly hash: string | undefined;
  /** seq 0 only. */
  readonly resource: Record<string, unknown> | undefined;
  /** seq 0 only. */
  readonly keyId: string | undefined;
  /** seq 0 only. */
  readonly previous: ChainHead | undefined;
  /** seq 0 only (format 2). */
  readonly format?: number | undefined;
  /** seq 0 only (format 2, a sealing chain). */
  readonly sealEvery?: number | undefined;
  readonly span: DecodedAuditSpan;
}

/** Decodes the `span` member of a record. */
export function decodeRecordSpan(value: unknown): DecodedAuditSpan {
  const s = obj(value, 'span');
  const traceId = str(s.trace_id, 'span.trace_id');
  const spanId = str(s.span_id, 'span.span_id');
  const parentSpanId = str(s.parent_span_id ?? '', 'span.parent_span_id');
  const kind = int(s.kind, 'span.kind') - 1;
  const status = obj(s.status, 'span.status');
  const scope = obj(s.scope, 'span.scope');
  const message = str(status.message ?? '', 'span.status.message');
  const version = str(scope.version ?? '', 'span.scope.version');
  const events = s.events ?? [];
  const links = s.links ?? [];
  if (!Array.isArray(events)) fail('span.events is not an array');
  if (!Array.isArray(links)) fail('span.links is not an array');
  const ctx = Object.freeze({ traceId, spanId });
  return {
    traceId,
    spanId,
    parentSpanId,
    name: str(s.name, 'span.name'),
    kind,
    spanContext: () => ctx,
    parentSpanContext: parentSpanId === '' ? undefined : { spanId: parentSpanId },
    startTime: nanoStringToHrTime(s.start_time_unix_nano, 'span.start_time_unix_nano'),
    endTime: nanoStringToHrTime(s.end_time_unix_nano, 'span.end_time_unix_nano'),
    status: message === '' ? { code: int(status.code, 'span.status.code') } : { code: int(status.code, 'span.status.code'), message },
    attributes: decodeAttributes(s.attributes),
    events: events.map((e: unknown, i: number) => {
      const ev = obj(e, `span.events[${i}]`);
      return {
        name: str(ev.name, `span.events[${i}].name`),
        time: nanoStringToHrTime(ev.time_unix_nano, `span.events[${i}].time_unix_nano`),
        attributes: decodeAttributes(ev.attributes),
        droppedAttributesCount: int(ev.dropped_attributes_count ?? 0, `span.events[${i}].dropped_attributes_count`),
      };
    }),
    links: links.map((l: unknown, i: number) => {
      const link = obj(l, `span.links[${i}]`);
      return {
        context: {
          traceId: str(link.trace_id, `span.links[${i}].trace_id`),
          spanId: str(link.span_id, `span.links[${i}].span_id`),
        },
        attributes: decodeAttributes(link.attributes),
        droppedAttributesCount: int(link.dropped_attributes_count ?? 0, `span.links[${i}].dropped_attributes_count`),
      };
    }),
    droppedAttributesCount: int(s.dropped_attributes_count ?? 0, 'span.dropped_attributes_count'),
    droppedEventsCount: int(s.dropped_events_count ?? 0, 'span.dropped_events_count'),
    droppedLinksCount: int(s.dropped_links_count ?? 0, 'span.dropped_links_count'),
    instrumentationScope: version === '' ? { name: str(scope.name, 'span.scope.name') } : { name: str(scope.name, 'span.scope.name'), version },
  };
}

/** Decodes a parsed record line (or body). Throws {@link AuditRecordShapeError} on a malformed one. */
export function decodeRecord(parsed: unknown): DecodedAuditRecord {
  const r = obj(parsed, 'the record');
  const prev = r.previous === undefined ? undefined : obj(r.previous, 'previous');
  return {
    chainId: str(r.chain_id, 'chain_id'),
    seq: int(r.seq, 'seq'),
    prevHash: str(r.prev_hash, 'prev_hash'),
    hash: r.hash === undefined ? undefined : str(r.hash, 'hash'),
    resource: r.resource === undefined ? undefined : decodeAttributes(r.resource),
    keyId: r.key_id === undefined ? undefined : str(r.key_id, 'key_id'),
    previous:
      prev === undefined
        ? undefined
        : { chainId: str(prev.chain_id, 'previous.chain_id'), seq: int(prev.seq, 'previous.seq'), hash: str(prev.hash, 'previous.hash') },
    format: r.format === undefined ? undefined : int(r.format, 'format'),
    sealEvery: r.seal_every === undefined ? undefined : int(r.seal_every, 'seal_every'),
    span: decodeRecordSpan(r.span),
  };
}

/**
 * The `agent_safety.audit.*` stamps of a record, as the chain stamps them
 * on its span (seq as an integer; key id, previous head, format and seal
 * policy on seq 0 only).
 */
export function auditStamps(record: {
  chainId: string;
  seq: number;
  prevHash: string;
  hash: string;
  keyId?: string | undefined;
  previous?: ChainHead | undefined;
  format?: number | undefined;
  sealEvery?: number | undefined;
}): Record<string, string | number> {
  const out: Record<string, string | number> = {
    [AUDIT_KEYS.chainId]: record.chainId,
    [AUDIT_KEYS.seq]: record.seq,
    [AUDIT_KEYS.prevHash]: record.prevHash,
    [AUDIT_KEYS.hash]: record.hash,
  };
  if (record.keyId !== undefined) out[AUDIT_KEYS.keyId] = record.keyId;
  if (record.previous !== undefined) {
    out[AUDIT_KEYS.previousChainId] = record.previous.chainId;
    out[AUDIT_KEYS.previousSeq] = record.previous.seq;
    out[AUDIT_KEYS.previousHash] = record.previous.hash;
  }
  if (record.format !== undefined) out[AUDIT_KEYS.format] = record.format;
  if (record.sealEvery !== undefined) out[AUDIT_KEYS.sealEvery] = record.sealEvery;
  return out;
}
