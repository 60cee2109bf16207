/**
 * Rebuilds audit records from OTLP JSON: the `TracesData` objects the
 * Collector's `file` exporter writes (one `{"resourceSpans":[…]}` per line)
 * and the OTLP/HTTP JSON request bodies SDK exporters send.
 *
 * A span carrying an `agent_safety.audit.chain_id` attribute is an audit
 * record. Its stamps give the record's place in the chain (chain id, seq,
 * prev hash, hash, and on seq 0 the key id and the previous chain's head);
 * the rest of the span (plus, on seq 0, the resource of its
 * `resourceSpans`) gives the body. The rebuilt body is the RFC 8785 text
 * of the same object the writer encoded, so it is byte-for-byte what
 * `encodeRecordBody` produced, and `chainHash(prevHash, body)` must give
 * the stamped hash.
 *
 * Accepted spellings (proto3 JSON mapping, as written by the Collector and
 * by the OpenTelemetry JS JSON serializer):
 * - ids in hex (base64 is also accepted: protobuf-decoding tools write it);
 * - times, `intValue` and counts as decimal strings or numbers;
 * - `kind` and `status.code` as numbers or enum names (`SPAN_KIND_SERVER`,
 *   `STATUS_CODE_ERROR`);
 * - absent fields are their proto3 defaults (0, "", []);
 * - `doubleValue` as a number or as "NaN", "Infinity", "-Infinity".
 *
 * Not verifiable: a `doubleValue` of `null`, which is what a JSON exporter
 * that calls `JSON.stringify` writes for NaN and ±Infinity (the three can no
 * longer be told apart); such a record is reported as unverifiable.
 *
 * Pure: no OpenTelemetry import.
 *
 * @module
 */
import { canonicalize, isAuditStampKey, isJsonObject as isObject } from './audit-canonical.js';
import { AUDIT_KEYS, CHECKPOINT_SPAN_NAME, SEAL_SPAN_NAME, UNCHAINED_RESOURCE_KEYS } from './audit-record.js';
import type { ChainHead, SealClaim } from './audit-record.js';

type Json = Record<string, unknown>;

/** Thrown for a span that claims to be an audit record but cannot be rebuilt. */
export class AuditRecordFormatError extends Error {
  override readonly name = 'AuditRecordFormatError';
  /** True when the record is well formed but its content cannot be checked (e.g. a NaN written as null). */
  readonly unverifiable: boolean;
  constructor(message: string, unverifiable = false) {
    super(message);
    this.unverifiable = unverifiable;
  }
}

/** A seal's claim and signature (none for an unsigned seal), read from a seal or checkpoint record's attributes. */
export interface SealAttributes {
  readonly claim: SealClaim;
  readonly signature: string | undefined;
  /** A format 1 checkpoint (which could not say whether it closed the chain). */
  readonly format1?: boolean | undefined;
}

/** @deprecated The format 1 name of {@link SealAttributes}. */
export type CheckpointAttributes = SealAttributes;

/** An audit record rebuilt from one OTLP span. */
export interface RebuiltRecord {
  readonly chainId: string;
  readonly seq: number;
  readonly prevHash: string;
  /** The hash stamped on the span. */
  readonly hash: string;
  /** seq 0: the HMAC key id stamped on the span. */
  readonly keyId?: string | undefined;
  /** seq 0: the head of the chain this one continues. */
  readonly previous?: ChainHead | undefined;
  /** seq 0: the format version stamped (absent in format 1). */
  readonly format?: number | undefined;
  /** seq 0: the seal policy stamped. */
  readonly sealEvery?: number | undefined;
  /** The canonical body (what the hash covers). */
  readonly body: string;
  /**
   * The canonical resource attributes of the span's `resourceSpans`, less
   * the command line (bound into the body on seq 0 only; the verifier
   * checks later records carry the same).
   */
  readonly resource: string;
  /** Set for a seal or checkpoint span; `'malformed'` when its attributes are incomplete. */
  readonly checkpoint?: SealAttributes | 'malformed' | undefined;
}

/** One span of an OTLP JSON object that could not be rebuilt. */
export interface RebuildProblem {
  /** The chain id stamped on the span, when readable. */
  readonly chainId?: string | undefined;
  readonly seq?: number | undefined;
  readonly message: string;
  readonly unverifiable: boolean;
}

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

const HEX_ID = /^[0-9a-fA-F]*$/;
const DECIMAL = /^-?[0-9]+$/;

function fail(message: string, unverifiable = false): never {
  throw new AuditRecordFormatError(message, unverifiable);
}

function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(`${what} is not a list`);
  return v;
}

/** An id (trace, span) as lowercase hex; "" for absent. */
export function otlpId(v: unknown, what: string): string {
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') fail(`${what} is not a string`);
  if (HEX_ID.test(v) && (v.length === 16 || v.length === 32)) return v.toLowerCase();
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length !== 8 && bytes.length !== 16) fail(`${what} ${JSON.stringify(v)} is neither hex nor base64 of an id`);
  return bytes.toString('hex');
}

/** A 64-bit integer (string or number) as a canonical decimal string. */
function decimal(v: unknown, what: string, fallback = '0'): string {
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(`${what} is not an integer`);
    return Number.isSafeInteger(v) ? String(v === 0 ? 0 : v) : BigInt(v).toString();
  }
  if (typeof v === 'string' && DECIMAL.test(v)) return BigInt(v).toString();
  return fail(`${what} is not an integer`);
}

/** A small non-negative integer (counts, kinds, seq). */
function smallInt(v: unknown, what: string, fallback = 0): number {
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail(`${what} is not a non-negative integer`);
  return n;
}

function enumValue(v: unknown, names: Record<string, number>, what: string): number {
  if (typeof v === 'string' && v in names) return names[v];
  return smallInt(v, what);
}

function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(`${what} is not a string`);
  return v;
}

/**
 * An OTLP JSON `AnyValue` as the canonical object the writer encoded
 * (see `encodeAnyValue`): one tag, int64 as a decimal string, doubles as
 * numbers or "NaN"/"Infinity"/"-Infinity", bytes as standard base64.
 */
export function canonicalAnyValue(v: unknown, what = 'value'): Json {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail(`${what} is not an AnyValue`);
  const keys = Object.keys(v).filter(k => v[k] !== undefined);
  if (keys.length === 0) return {};
  if (keys.length > 1) fail(`${what} has several values (${keys.join(', ')})`);
  const tag = keys[0];
  const x = v[tag];
  switch (tag) {
    case 'stringValue':
      if (typeof x !== 'string') fail(`${what}.stringValue is not a string`);
      return { stringValue: x };
    case 'boolValue':
      if (typeof x !== 'boolean') fail(`${what}.boolValue is not a boolean`);
      return { boolValue: x };
    case 'intValue':
      return { intValue: decimal(x, `${what}.intValue`) };
    case 'doubleValue': {
      if (x === null) fail(`${what}.doubleValue is null (NaN or ±Infinity written by a JSON exporter): cannot be verified`, true);
      if (x === 'NaN' || x === 'Infinity' || x === '-Infinity') return { doubleValue: x };
      const n = typeof x === 'string' && x.trim() !== '' ? Number(x) : x;
      if (typeof n !== 'number') fail(`${what}.doubleValue is not a number`);
      if (n !== n) return { doubleValue: 'NaN' };
      if (!Number.isFinite(n)) return { doubleValue: n > 0 ? 'Infinity' : '-Infinity' };
      return { doubleValue: n };
    }
    case 'bytesValue':
      if (typeof x !== 'string') fail(`${what}.bytesValue is not base64`);
      return { bytesValue: Buffer.from(x, 'base64').toString('base64') };
    case 'arrayValue': {
      if (!isObject(x)) fail(`${what}.arrayValue is not an object`);
      return { arrayValue: { values: list(x.values, `${what}.arrayValue.values`).map((e, i) => canonicalAnyValue(e, `${what}[${i}]`)) } };
    }
    case 'kvlistValue': {
      if (!isObject(x)) fail(`${what}.kvlistValue is not an object`);
      const values = list(x.values, `${what}.kvlistValue.values`).map((kv, i) => {
        if (!isObject(kv) || typeof kv.key !== 'string') fail(`${what}.kvlistValue.values[${i}] has no key`);
        return { key: kv.key, value: canonicalAnyValue(kv.value, `${what}.${kv.key}`) };
      });
      return { kvlistValue: { values } };
    }
    default:
      return fail(`${what} has an unknown tag ${JSON.stringify(tag)}`);
  }
}

/**
 * An OTLP `KeyValue` list as the canonical attribute object (key → AnyValue).
 * A key listed twice is an error (a reader would see one of two values).
 */
export function canonicalAttributes(v: unknown, what: string, excludeStamps: boolean): Json {
  const out: Json = {};
  for (const kv of list(v, what)) {
    if (!isObject(kv) || typeof kv.key !== 'string') fail(`${what} has an entry without a key`);
    const key = kv.key;
    if (excludeStamps && isAuditStampKey(key)) continue; // stamps listed twice are caught by readStamps
    if (Object.prototype.hasOwnProperty.call(out, key)) fail(`${what} lists ${JSON.stringify(key)} twice`);
    out[key] = canonicalAnyValue(kv.value, `${what}.${key}`);
  }
  return out;
}

/** The stamps of a span's attribute list, by key (a stamp listed twice is an error). */
function readStamps(attributes: unknown[]): Map<string, unknown> {
  const stamps = new Map<string, unknown>();
  for (const kv of attributes) {
    if (!isObject(kv) || typeof kv.key !== 'string' || !isAuditStampKey(kv.key)) continue;
    if (stamps.has(kv.key)) fail(`attribute ${JSON.stringify(kv.key)} is listed twice`);
    stamps.set(kv.key, kv.value);
  }
  return stamps;
}

function stampString(stamps: Map<string, unknown>, key: string, required: boolean): string | undefined {
  const v = stamps.get(key);
  if (v === undefined) {
    if (required) fail(`stamp ${key} is missing`);
    return undefined;
  }
  const c = canonicalAnyValue(v, key);
  if (typeof c.stringValue !== 'string') fail(`stamp ${key} is not a string`);
  return c.stringValue;
}

function stampInt(stamps: Map<string, unknown>, key: string, required: boolean): number | undefined {
  const v = stamps.get(key);
  if (v === undefined) {
    if (required) fail(`stamp ${key} is missing`);
    return undefined;
  }
  const c = canonicalAnyValue(v, key);
  const n = typeof c.intValue === 'string' ? Number(c.intValue) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) fail(`stamp ${key} is not a non-negative integer`);
  return n;
}

/** The canonical `span` object of a record, from an OTLP JSON span and its scope. */
export function canonicalSpanObject(span: Json, scope: Json | undefined): Json {
  const status = isObject(span.status) ? span.status : {};
  return {
    attributes: canonicalAttributes(span.attributes, 'attributes', true),
    dropped_attributes_count: smallInt(span.droppedAttributesCount, 'droppedAttributesCount'),
    dropped_events_count: smallInt(span.droppedEventsCount, 'droppedEventsCount'),
    dropped_links_count: smallInt(span.droppedLinksCount, 'droppedLinksCount'),
    end_time_unix_nano: decimal(span.endTimeUnixNano, 'endTimeUnixNano'),
    events: list(span.events, 'events').map((e, i) => {
      if (!isObject(e)) fail(`events[${i}] is not an object`);
      return {
        attributes: canonicalAttributes(e.attributes, `events[${i}].attributes`, false),
        dropped_attributes_count: smallInt(e.droppedAttributesCount, `events[${i}].droppedAttributesCount`),
        name: str(e.name, `events[${i}].name`),
        time_unix_nano: decimal(e.timeUnixNano, `events[${i}].timeUnixNano`),
      };
    }),
    kind: enumValue(span.kind, SPAN_KINDS, 'kind'),
    links: list(span.links, 'links').map((l, i) => {
      if (!isObject(l)) fail(`links[${i}] is not an object`);
      return {
        attributes: canonicalAttributes(l.attributes, `links[${i}].attributes`, false),
        dropped_attributes_count: smallInt(l.droppedAttributesCount, `links[${i}].droppedAttributesCount`),
        span_id: otlpId(l.spanId, `links[${i}].spanId`),
        trace_id: otlpId(l.traceId, `links[${i}].traceId`),
      };
    }),
    name: str(span.name, 'name'),
    parent_span_id: otlpId(span.parentSpanId, 'parentSpanId'),
    scope: { name: str(scope?.name, 'scope.name'), version: str(scope?.version, 'scope.version') },
    span_id: otlpId(span.spanId, 'spanId'),
    start_time_unix_nano: decimal(span.startTimeUnixNano, 'startTimeUnixNano'),
    status: { code: enumValue(status.code, STATUS_CODES, 'status.code'), message: str(status.message, 'status.message') },
    trace_id: otlpId(span.traceId, 'traceId'),
  };
}

/**
 * Reads a seal's claim from canonical span attributes (the `span.attributes`
 * of a record): a format 2 seal (`spanName` {@link SEAL_SPAN_NAME}, signed or
 * not) or a format 1 checkpoint (always signed). Undefined for other spans.
 */
export function sealFromAttributes(chainId: string, spanName: unknown, attributes: unknown): SealAttributes | 'malformed' | undefined {
  const seal = spanName === SEAL_SPAN_NAME;
  if (!seal && spanName !== CHECKPOINT_SPAN_NAME) return undefined;
  if (!isObject(attributes)) return 'malformed';
  const s = (key: string): string | undefined => {
    const v = attributes[key];
    return isObject(v) && typeof v.stringValue === 'string' ? v.stringValue : undefined;
  };
  const headSeqValue = attributes[seal ? AUDIT_KEYS.sealHeadSeq : AUDIT_KEYS.checkpointHeadSeq];
  const headSeq = isObject(headSeqValue) && typeof headSeqValue.intValue === 'string' ? Number(headSeqValue.intValue) : NaN;
  const headHash = s(seal ? AUDIT_KEYS.sealHeadHash : AUDIT_KEYS.checkpointHeadHash);
  const timeUnixNano = s(seal ? AUDIT_KEYS.sealTime : AUDIT_KEYS.checkpointTime);
  const keyId = s(seal ? AUDIT_KEYS.sealKeyId : AUDIT_KEYS.checkpointKeyId);
  const signature = s(seal ? AUDIT_KEYS.sealSignature : AUDIT_KEYS.checkpointSignature);
  const finalValue = seal ? attributes[AUDIT_KEYS.sealFinal] : undefined;
  if (finalValue !== undefined && !(isObject(finalValue) && finalValue.boolValue === true)) return 'malformed';
  if (!Number.isSafeInteger(headSeq) || headSeq < 0 || headHash === undefined || timeUnixNano === undefined) return 'malformed';
  // a checkpoint is always signed; a seal is signed (key id and signature) or not (neither)
  if ((keyId === undefined) !== (signature === undefined) || (!seal && signature === undefined) || keyId === '') return 'malformed';
  const claim: SealClaim = { chainId, headSeq, headHash, timeUnixNano, keyId: keyId ?? '', ...(finalValue !== undefined ? { final: true } : {}) };
  return seal ? { claim, signature } : { claim, signature, format1: true };
}

/** @deprecated Reads a format 1 checkpoint; see {@link sealFromAttributes}. */
export function checkpointFromAttributes(chainId: string, attributes: unknown): SealAttributes | 'malformed' {
  return sealFromAttributes(chainId, CHECKPOINT_SPAN_NAME, attributes) ?? 'malformed';
}

/**
 * Rebuilds one audit record from an OTLP JSON span (which must carry the
 * `agent_safety.audit.chain_id` stamp), its scope and its resource.
 * Throws {@link AuditRecordFormatError} when it cannot.
 */
export function rebuildRecord(span: Json, scope: Json | undefined, resource: Json | undefined): RebuiltRecord {
  const attributes = list(span.attributes, 'attributes');
  const stamps = readStamps(attributes);
  const chainId = stampString(stamps, AUDIT_KEYS.chainId, true)!;
  const seq = stampInt(stamps, AUDIT_KEYS.seq, true)!;
  const prevHash = stampString(stamps, AUDIT_KEYS.prevHash, true)!;
  const hash = stampString(stamps, AUDIT_KEYS.hash, true)!;
  const keyId = stampString(stamps, AUDIT_KEYS.keyId, false);
  const prevChain = stampString(stamps, AUDIT_KEYS.previousChainId, false);
  const prevSeq = stampInt(stamps, AUDIT_KEYS.previousSeq, false);
  const prevHead = stampString(stamps, AUDIT_KEYS.previousHash, false);
  const format = stampInt(stamps, AUDIT_KEYS.format, false);
  const sealEvery = stampInt(stamps, AUDIT_KEYS.sealEvery, false);
  let previous: ChainHead | undefined;
  if (prevChain !== undefined || prevSeq !== undefined || prevHead !== undefined) {
    if (prevChain === undefined || prevSeq === undefined || prevHead === undefined) fail('the previous.* stamps are incomplete');
    previous = { chainId: prevChain, seq: prevSeq, hash: prevHead };
  }
  if (seq !== 0 && (keyId !== undefined || previous !== undefined || format !== undefined || sealEvery !== undefined)) {
    fail(`key_id, previous.*, format and seal_every are stamped on seq 0 only (this is seq ${seq})`);
  }
  if (format !== undefined && format !== 2) fail(`format ${format} is not one this verifier knows (2)`);
  if (sealEvery !== undefined && (format === undefined || sealEvery < 1)) fail('seal_every needs format 2 and a positive count');
  const spanObject = canonicalSpanObject(span, scope);
  const body: Json = { chain_id: chainId, prev_hash: prevHash, seq, span: spanObject };
  const resourceObject = canonicalAttributes(isObject(resource) ? resource.attributes : undefined, 'resource.attributes', false);
  const chained: Json = {};
  for (const k of Object.keys(resourceObject)) if (!UNCHAINED_RESOURCE_KEYS.includes(k)) chained[k] = resourceObject[k];
  if (seq === 0) {
    // format 2 leaves the command line out of the chained resource; format 1 bound it all
    body.resource = format === undefined ? resourceObject : chained;
    if (keyId !== undefined) body.key_id = keyId;
    if (previous !== undefined) body.previous = { chain_id: previous.chainId, hash: previous.hash, seq: previous.seq };
    if (format !== undefined) body.format = format;
    if (sealEvery !== undefined) body.seal_every = sealEvery;
  }
  const checkpoint = sealFromAttributes(chainId, spanObject.name, spanObject.attributes);
  return { chainId, seq, prevHash, hash, keyId, previous, format, sealEvery, body: canonicalize(body), resource: canonicalize(chained), checkpoint };
}

/** True for a span (OTLP JSON) that carries an audit chain stamp. */
export function isAuditSpan(span: unknown): span is Json {
  if (!isObject(span) || !Array.isArray(span.attributes)) return false;
  for (const kv of span.attributes) if (isObject(kv) && kv.key === AUDIT_KEYS.chainId) return true;
  return false;
}

/**
 * Every audit record of an OTLP JSON `TracesData` / `ExportTraceServiceRequest`
 * object, in document order. Spans without the chain stamp are skipped;
 * spans that have it but cannot be rebuilt are returned as problems (with
 * their position among the records), so the caller can report them.
 */
export function recordsFromOtlpJson(data: unknown): Array<RebuiltRecord | RebuildProblem> {
  if (!isObject(data)) throw new AuditRecordFormatError('not an OTLP JSON object');
  const out: Array<RebuiltRecord | RebuildProblem> = [];
  for (const rs of list(data.resourceSpans, 'resourceSpans')) {
    if (!isObject(rs)) throw new AuditRecordFormatError('resourceSpans entry is not an object');
    const resource = isObject(rs.resource) ? rs.resource : undefined;
    for (const ss of list(rs.scopeSpans ?? rs.instrumentationLibrarySpans, 'scopeSpans')) {
      if (!isObject(ss)) throw new AuditRecordFormatError('scopeSpans entry is not an object');
      const scope = isObject(ss.scope) ? ss.scope : undefined;
      for (const span of list(ss.spans, 'spans')) {
        if (!isAuditSpan(span)) continue;
        try {
          out.push(rebuildRecord(span, scope, resource));
        } catch (err) {
          if (!(err instanceof AuditRecordFormatError)) throw err;
          let chainId: string | undefined;
          let seq: number | undefined;
          try {
            const stamps = readStamps(span.attributes as unknown[]);
            chainId = stampString(stamps, AUDIT_KEYS.chainId, false);
            seq = stampInt(stamps, AUDIT_KEYS.seq, false);
          } catch {
            // unreadable stamps: reported without a chain
          }
          out.push({ chainId, seq, message: err.message, unverifiable: err.unverifiable });
        }
      }
    }
  }
  return out;
}

/** True for an element of {@link recordsFromOtlpJson} that is a problem rather than a record. */
export function isRebuildProblem(x: RebuiltRecord | RebuildProblem): x is RebuildProblem {
  return 'message' in x;
}
