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
 *   { chain_id, seq, prev_hash, span,
 *     [format, resource, key_id, previous, seal_every on seq 0] }
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

/**
 * The record format this package writes: 2 (seq 0 carries `format`, seals
 * replace version 1's checkpoints, the chained resource leaves out the
 * command line). Version 1 files (no `format` member) still verify.
 */
export const AUDIT_FORMAT_VERSION = 2;

/** Name of the span that carries a seal (format 2): the chain's head, signed with an Ed25519 key when one is set. */
export const SEAL_SPAN_NAME = 'agent_safety.audit.seal';

/** Name of the span that carried a signed checkpoint in format 1 (read, never written). */
export const CHECKPOINT_SPAN_NAME = 'agent_safety.audit.checkpoint';

/** Resource attributes left out of the chained resource (format 2): the command line may hold secrets. */
export const UNCHAINED_RESOURCE_KEYS: readonly string[] = ['process.command_args', 'process.command_line'];

/** The resource attributes a format 2 chain binds: all but {@link UNCHAINED_RESOURCE_KEYS}. */
export function chainedResource(attributes: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  let found = false;
  for (const k of UNCHAINED_RESOURCE_KEYS) if (Object.prototype.hasOwnProperty.call(attributes, k)) found = true;
  if (!found) return attributes;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(attributes)) if (!UNCHAINED_RESOURCE_KEYS.includes(k)) out[k] = attributes[k];
  return out;
}

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
  /** On seq 0 only (format 2): the record format version. */
  format: 'agent_safety.audit.format',
  /** On seq 0 only, when the chain seals itself: a seal follows at most this many records. */
  sealEvery: 'agent_safety.audit.seal_every',
  /** On seal spans (format 2): the head the seal covers, and its Ed25519 signature when signed. */
  sealHeadSeq: 'agent_safety.audit.seal.head_seq',
  sealHeadHash: 'agent_safety.audit.seal.head_hash',
  sealTime: 'agent_safety.audit.seal.time_unix_nano',
  sealKeyId: 'agent_safety.audit.seal.key_id',
  sealSignature: 'agent_safety.audit.seal.signature',
  /** On the seal made at shutdown: true (the chain ends here; a tail cut at an earlier seal shows). */
  sealFinal: 'agent_safety.audit.seal.final',
  /** On checkpoint spans (format 1): what the checkpoint signs. */
  checkpointHeadSeq: 'agent_safety.audit.checkpoint.head_seq',
  checkpointHeadHash: 'agent_safety.audit.checkpoint.head_hash',
  checkpointTime: 'agent_safety.audit.checkpoint.time_unix_nano',
  checkpointKeyId: 'agent_safety.audit.checkpoint.key_id',
  checkpointSignature: 'agent_safety.audit.checkpoint.signature',
} as const;

/**
 * The attribute of a seal record that carries the log's signed
 * checkpoint note (c2sp.org/tlog-checkpoint) for the tree of the records
 * before it.
 */
export const AUDIT_TLOG_NOTE_KEY = 'agent_safety.audit.seal.note';

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
  /** seq 0 only: the format version (absent in format 1). */
  readonly format?: number | undefined;
  /** seq 0 only: the chain seals itself at least every this many records. */
  readonly sealEvery?: number | undefined;
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
 * (chain_id, format, key_id, prev_hash, previous, resource, seal_every, seq, span).
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
  if (position.format !== undefined) out += ',"format":' + position.format;
  if (position.keyId !== undefined) out += ',"key_id":' + JSON.stringify(position.keyId);
  out += ',"prev_hash":"' + position.prevHash + '"';
  const p = position.previous;
  if (p !== undefined) {
    out += ',"previous":{"chain_id":' + JSON.stringify(p.chainId) + ',"hash":"' + p.hash + '","seq":' + p.seq + '}';
  }
  if (position.resource !== undefined) out += ',"resource":' + encodeAttributes(position.resource);
  if (position.sealEvery !== undefined) out += ',"seal_every":' + position.sealEvery;
  return out + ',"seq":' + position.seq + ',"span":' + encodeSpan(span);
}

/** `crypto.hash()` (Node ≥ 20.12): a one-shot digest, faster than `createHash` for small inputs. */
const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

/**
 * `hash = hex(SHA-256(prevHash ‖ body))`, or HMAC-SHA-256 under `key` when
 * given. `prevHash` is hashed as its 64 ASCII hex characters, `body` as UTF-8.
 */
export function chainHash(prevHash: string, body: string, key?: KeyObject | Buffer): string {
  if (key !== undefined) return createHmac('sha256', key).update(prevHash).update(body).digest('hex');
  if (oneShotHash !== undefined) return oneShotHash('sha256', prevHash + body, 'hex');
  return createHash('sha256').update(prevHash).update(body).digest('hex');
}

/**
 * {@link chainHash} over bytes already laid out as `prev_hash ‖ body` (the
 * 64 ASCII hex characters, then the body's UTF-8): one pass, no string to
 * encode.
 */
export function chainHashBytes(prevHashAndBody: Uint8Array, key?: KeyObject | Buffer): string {
  if (key !== undefined) return createHmac('sha256', key).update(prevHashAndBody).digest('hex');
  if (oneShotHash !== undefined) return oneShotHash('sha256', prevHashAndBody, 'hex');
  return createHash('sha256').update(prevHashAndBody).digest('hex');
}

/** The end of a record's line after its body's last member: `,"hash":"<hash>"}` and a newline. */
export function lineTail(hash: string): string {
  return ',"hash":"' + hash + '"}\n';
}

/** The JSONL line of a record: its body without the closing brace ({@link encodeRecordOpen}) and `"hash"` as the last member. */
export function lineFromOpen(open: string, hash: string): string {
  return open + lineTail(hash).slice(0, -1);
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

/** What a seal (format 1: a checkpoint) claims, and an Ed25519 signature covers. */
export interface SealClaim {
  readonly chainId: string;
  /** seq of the last record the seal covers. */
  readonly headSeq: number;
  /** hash of that record. */
  readonly headHash: string;
  /** When the seal was made, unix nanoseconds as a decimal string. */
  readonly timeUnixNano: string;
  /** Id of the signing key ("" for an unsigned seal, which only a keyed chain's HMAC vouches for). */
  readonly keyId: string;
  /** The closing seal, made at shutdown (format 2; signed with the rest when true). */
  readonly final?: boolean | undefined;
}

/** @deprecated The format 1 name of {@link SealClaim}. */
export type CheckpointClaim = SealClaim;

/** The exact bytes an Ed25519 seal signature covers (canonical JSON, UTF-8). */
export function sealPayload(claim: SealClaim): string {
  return canonicalize({
    chain_id: claim.chainId,
    final: claim.final === true ? true : undefined,
    head_hash: claim.headHash,
    head_seq: claim.headSeq,
    key_id: claim.keyId,
    time_unix_nano: claim.timeUnixNano,
  });
}

/** @deprecated The format 1 name of {@link sealPayload}. */
export const checkpointPayload = sealPayload;

/** Signs a seal with an Ed25519 private key; returns the base64 signature. */
export function signSeal(claim: SealClaim, privateKey: KeyObject): string {
  return edSign(null, Buffer.from(sealPayload(claim)), privateKey).toString('base64');
}

/** Checks a seal signature against an Ed25519 public key. */
export function verifySeal(claim: SealClaim, signature: string, publicKey: KeyObject): boolean {
  try {
    return edVerify(null, Buffer.from(sealPayload(claim)), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** @deprecated The format 1 name of {@link signSeal}. */
export const signCheckpoint = signSeal;
/** @deprecated The format 1 name of {@link verifySeal}. */
export const verifyCheckpoint = verifySeal;

/** True for the span name of a seal (format 2) or of a checkpoint (format 1). */
export function isSealSpanName(name: unknown): boolean {
  return name === SEAL_SPAN_NAME || name === CHECKPOINT_SPAN_NAME;
}
