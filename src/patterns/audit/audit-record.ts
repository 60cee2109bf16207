/**
 * The audit chain's record format: one canonical JSON body per span, its
 * hash, and the JSONL line that carries both. Pure: no OpenTelemetry
 * import; spans are read through the structural {@link AuditSpanLike},
 * which the SDK's `ReadableSpan` satisfies.
 *
 * The format is specified in `docs/audit-format.md`; in short:
 *
 * ```text
 * body = RFC 8785 canonical JSON of
 *   { chain_id, seq, prev_hash, span, [resource, key_id, previous on seq 0] }
 * hash = hex(SHA-256(prev_hash ‖ body))          (ASCII hex prev_hash, UTF-8 body)
 *      = hex(HMAC-SHA-256(key, prev_hash ‖ body)) with a chain key
 * line = body with ,"hash":"<hash>" inserted before its final }
 * ```
 *
 * @module
 */
import { createHash, createHmac, sign as edSign, verify as edVerify } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { canonicalize, encodeAttributes } from './audit-canonical.js';

/** `prev_hash` of the first record of a chain: 64 zeros. */
export const GENESIS_HASH = '0'.repeat(64);

/** Name of the span that carries a signed checkpoint. */
export const CHECKPOINT_SPAN_NAME = 'agent_safety.audit.checkpoint';

/** Attribute keys the chain stamps onto spans (all under `agent_safety.audit.`). */
export const AUDIT_KEYS = {
  chainId: 'agent_safety.audit.chain_id',
  seq: 'agent_safety.audit.seq',
  prevHash: 'agent_safety.audit.prev_hash',
  hash: 'agent_safety.audit.hash',
  /** On seq 0 only: id of the HMAC key, when the chain is keyed. */
  keyId: 'agent_safety.audit.key_id',
  /** On seq 0 only, when the chain continues an earlier one: its chain id, last seq and head hash. */
  previousChainId: 'agent_safety.audit.previous.chain_id',
  previousSeq: 'agent_safety.audit.previous.seq',
  previousHash: 'agent_safety.audit.previous.hash',
  /** On checkpoint spans: what the checkpoint signs. */
  checkpointHeadSeq: 'agent_safety.audit.checkpoint.head_seq',
  checkpointHeadHash: 'agent_safety.audit.checkpoint.head_hash',
  checkpointTime: 'agent_safety.audit.checkpoint.time_unix_nano',
  checkpointKeyId: 'agent_safety.audit.checkpoint.key_id',
  checkpointSignature: 'agent_safety.audit.checkpoint.signature',
} as const;

/** A time as the SDK keeps it: `[seconds, nanoseconds]`. */
export type HrTimeLike = readonly [number, number];

/** The fields of a finished span the record covers (the SDK's `ReadableSpan` has them all). */
export interface AuditSpanLike {
  readonly name: string;
  /** The API's `SpanKind` (0 INTERNAL … 4 CONSUMER); the record uses OTLP's numbering (+1). */
  readonly kind: number;
  spanContext(): { readonly traceId: string; readonly spanId: string };
  readonly parentSpanContext?: { readonly spanId: string } | undefined;
  readonly startTime: HrTimeLike;
  readonly endTime: HrTimeLike;
  readonly status: { readonly code: number; readonly message?: string | undefined };
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly events: ReadonlyArray<{
    readonly name: string;
    readonly time: HrTimeLike;
    readonly attributes?: Readonly<Record<string, unknown>> | undefined;
    readonly droppedAttributesCount?: number | undefined;
  }>;
  readonly links: ReadonlyArray<{
    readonly context: { readonly traceId: string; readonly spanId: string };
    readonly attributes?: Readonly<Record<string, unknown>> | undefined;
    readonly droppedAttributesCount?: number | undefined;
  }>;
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
  readonly instrumentationScope: { readonly name: string; readonly version?: string | undefined };
}

/** Where a chain continues an earlier one (the head of the previous chain). */
export interface ChainHead {
  readonly chainId: string;
  readonly seq: number;
  readonly hash: string;
}

/** What a record says about its place in the chain. */
export interface RecordPosition {
  readonly chainId: string;
  readonly seq: number;
  readonly prevHash: string;
  /** seq 0 only: the resource attributes, bound once per chain. */
  readonly resource?: Readonly<Record<string, unknown>> | undefined;
  /** seq 0 only: id of the HMAC key the chain uses. */
  readonly keyId?: string | undefined;
  /** seq 0 only: the head of the chain this one continues. */
  readonly previous?: ChainHead | undefined;
}

/** An HrTime as a decimal string of nanoseconds since the epoch (exact: no float). */
export function hrTimeToNanoString(time: HrTimeLike): string {
  const [s, ns] = time;
  return s === 0 ? String(ns) : String(s) + String(ns).padStart(9, '0');
}

/** The canonical text of the `span` object of a record. */
export function encodeSpan(span: AuditSpanLike): string {
  const ctx = span.spanContext();
  let events = '[';
  for (let i = 0; i < span.events.length; i++) {
    const e = span.events[i];
    if (i > 0) events += ',';
    events +=
      '{"attributes":' + encodeAttributes(e.attributes) +
      ',"dropped_attributes_count":' + (e.droppedAttributesCount ?? 0) +
      ',"name":' + JSON.stringify(e.name) +
      ',"time_unix_nano":"' + hrTimeToNanoString(e.time) + '"}';
  }
  events += ']';
  let links = '[';
  for (let i = 0; i < span.links.length; i++) {
    const l = span.links[i];
    if (i > 0) links += ',';
    links +=
      '{"attributes":' + encodeAttributes(l.attributes) +
      ',"dropped_attributes_count":' + (l.droppedAttributesCount ?? 0) +
      ',"span_id":' + JSON.stringify(l.context.spanId) +
      ',"trace_id":' + JSON.stringify(l.context.traceId) + '}';
  }
  links += ']';
  const scope = span.instrumentationScope;
  return (
    '{"attributes":' + encodeAttributes(span.attributes, true) +
    ',"dropped_attributes_count":' + span.droppedAttributesCount +
    ',"dropped_events_count":' + span.droppedEventsCount +
    ',"dropped_links_count":' + span.droppedLinksCount +
    ',"end_time_unix_nano":"' + hrTimeToNanoString(span.endTime) + '"' +
    ',"events":' + events +
    ',"kind":' + (span.kind + 1) +
    ',"links":' + links +
    ',"name":' + JSON.stringify(span.name) +
    ',"parent_span_id":' + JSON.stringify(span.parentSpanContext?.spanId ?? '') +
    ',"scope":{"name":' + JSON.stringify(scope.name) + ',"version":' + JSON.stringify(scope.version ?? '') + '}' +
    ',"span_id":' + JSON.stringify(ctx.spanId) +
    ',"start_time_unix_nano":"' + hrTimeToNanoString(span.startTime) + '"' +
    ',"status":{"code":' + span.status.code + ',"message":' + JSON.stringify(span.status.message ?? '') + '}' +
    ',"trace_id":' + JSON.stringify(ctx.traceId) + '}'
  );
}

/**
 * The canonical body of a record: what is hashed. Keys in RFC 8785 order
 * (chain_id, key_id, prev_hash, previous, resource, seq, span).
 */
export function encodeRecordBody(position: RecordPosition, span: AuditSpanLike): string {
  return encodeRecordOpen(position, span) + '}';
}

/**
 * The canonical body without its closing brace: the writer hashes
 * `prevHash + open + '}'` and writes `open + ',"hash":"…"}'`, so the body
 * text is never copied to cut its brace off.
 */
export function encodeRecordOpen(position: RecordPosition, span: AuditSpanLike): string {
  let out = '{"chain_id":' + JSON.stringify(position.chainId);
  if (position.keyId !== undefined) out += ',"key_id":' + JSON.stringify(position.keyId);
  out += ',"prev_hash":"' + position.prevHash + '"';
  const p = position.previous;
  if (p !== undefined) {
    out += ',"previous":{"chain_id":' + JSON.stringify(p.chainId) + ',"hash":"' + p.hash + '","seq":' + p.seq + '}';
  }
  if (position.resource !== undefined) out += ',"resource":' + encodeAttributes(position.resource);
  return out + ',"seq":' + position.seq + ',"span":' + encodeSpan(span);
}

/** `crypto.hash()` (Node ≥ 20.12): a one-shot digest, faster than `createHash` for small inputs. */
const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/**
 * `hash = hex(SHA-256(prevHash ‖ body))`, or HMAC-SHA-256 under `key` when
 * given. `prevHash` is hashed as its 64 ASCII hex characters, `body` as UTF-8.
 */
export function chainHash(prevHash: string, body: string, key?: KeyObject | Buffer): string {
  if (key !== undefined) return createHmac('sha256', key).update(prevHash).update(body).digest('hex');
  if (oneShotHash !== undefined) return oneShotHash('sha256', prevHash + body, 'hex');
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

/** The JSONL line of a record: its body without the closing brace ({@link encodeRecordOpen}) and `"hash"` as the last member. */
export function lineFromOpen(open: string, hash: string): string {
  return open + ',"hash":"' + hash + '"}';
}

/** Length of the `,"hash":"<64 hex>"}` tail that {@link lineFromOpen} appends. */
export const LINE_HASH_TAIL = 75;

/**
 * Splits a line written by {@link lineFromOpen} back into body and hash
 * without parsing it; undefined when the line is not in that exact shape
 * (then parse it and {@link canonicalize} the body instead).
 */
export function splitLine(line: string): { body: string; hash: string } | undefined {
  const n = line.length;
  if (n < LINE_HASH_TAIL + 2 || line.charCodeAt(n - 1) !== 125 /* } */) return undefined;
  const tailStart = n - LINE_HASH_TAIL;
  if (!line.startsWith(',"hash":"', tailStart) || line.charCodeAt(n - 2) !== 34 /* " */) return undefined;
  return { body: line.slice(0, tailStart) + '}', hash: line.slice(tailStart + 9, n - 2) };
}

/** The canonical body of a parsed line: every member but `hash`, canonicalised. */
export function canonicalBody(parsed: Record<string, unknown>): string {
  const { hash: _hash, ...body } = parsed;
  return canonicalize(body);
}

/** What an Ed25519 checkpoint signs. */
export interface CheckpointClaim {
  readonly chainId: string;
  /** seq of the last record the checkpoint covers. */
  readonly headSeq: number;
  /** hash of that record. */
  readonly headHash: string;
  /** When the checkpoint was made, unix nanoseconds as a decimal string. */
  readonly timeUnixNano: string;
  /** Id of the signing key. */
  readonly keyId: string;
}

/** The exact bytes an Ed25519 checkpoint signature covers (canonical JSON, UTF-8). */
export function checkpointPayload(claim: CheckpointClaim): string {
  return canonicalize({
    chain_id: claim.chainId,
    head_hash: claim.headHash,
    head_seq: claim.headSeq,
    key_id: claim.keyId,
    time_unix_nano: claim.timeUnixNano,
  });
}

/** Signs a checkpoint with an Ed25519 private key; returns the base64 signature. */
export function signCheckpoint(claim: CheckpointClaim, privateKey: KeyObject): string {
  return edSign(null, Buffer.from(checkpointPayload(claim)), privateKey).toString('base64');
}

/** Checks a checkpoint signature against an Ed25519 public key. */
export function verifyCheckpoint(claim: CheckpointClaim, signature: string, publicKey: KeyObject): boolean {
  try {
    return edVerify(null, Buffer.from(checkpointPayload(claim)), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
