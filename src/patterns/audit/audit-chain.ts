/**
 * One audit chain's state: the next seq, the head hash, and when a signed
 * checkpoint is due. Pure: the clock is injected, there are no timers, and
 * nothing here does I/O.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import { GENESIS_HASH, chainHash, encodeRecordOpen, lineFromOpen, signCheckpoint } from './audit-record.js';
import type { AuditSpanLike, ChainHead, CheckpointClaim } from './audit-record.js';
import { requireNonEmptyString, requireNumber } from '../shared/validate.js';

/** A record appended to a chain. */
export interface ChainedRecord {
  readonly chainId: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
  /** The JSONL line (no newline): the canonical body plus its hash. */
  readonly line: string;
}

/** An HMAC key with its id (the id is recorded; the key never is). */
export interface AuditHmacKey {
  readonly id: string;
  readonly key: KeyObject | Buffer;
}

/** An Ed25519 signing key with its id. */
export interface AuditSigningKey {
  readonly id: string;
  readonly privateKey: KeyObject;
}

/** When checkpoints are made (only with a signing key). */
export interface CheckpointPolicy {
  /** A checkpoint after every this many records. @default 1000 */
  everyRecords?: number;
  /** …and at least this often while records arrive, in ms. @default 10000 */
  everyMs?: number;
}

/** Options of {@link AuditChain}. */
export interface AuditChainOptions {
  /** Unique per process run (a UUID). */
  chainId: string;
  hmacKey?: AuditHmacKey | undefined;
  signingKey?: AuditSigningKey | undefined;
  checkpoints?: CheckpointPolicy | undefined;
  /** The head of the chain this one continues (read from an existing audit file). */
  previous?: ChainHead | undefined;
  /** The clock of checkpoint intervals. @default Date.now */
  now?: Clock | undefined;
}

/**
 * Appends spans to a hash chain. `append` is synchronous and does the
 * canonical encoding and hashing; the caller hands the result to sinks.
 */
export class AuditChain {
  readonly chainId: string;
  private _seq = 0;
  private _head: string = GENESIS_HASH;
  private readonly _hmac: AuditHmacKey | undefined;
  private readonly _signing: AuditSigningKey | undefined;
  private readonly _previous: ChainHead | undefined;
  private readonly _now: Clock;
  private readonly _everyRecords: number;
  private readonly _everyMs: number;
  private _sinceCheckpoint = 0;
  private _lastCheckpointAt: number;

  constructor(options: AuditChainOptions) {
    requireNonEmptyString('chainId', options.chainId);
    this.chainId = options.chainId;
    this._hmac = options.hmacKey;
    this._signing = options.signingKey;
    this._previous = options.previous;
    this._now = options.now ?? systemClock;
    this._everyRecords = options.checkpoints?.everyRecords ?? 1000;
    this._everyMs = options.checkpoints?.everyMs ?? 10_000;
    requireNumber('checkpoints.everyRecords', this._everyRecords, { min: 1, integer: true });
    requireNumber('checkpoints.everyMs', this._everyMs, { min: 1 });
    this._lastCheckpointAt = this._now();
    if (this._hmac) requireNonEmptyString('hmacKey.id', this._hmac.id);
    if (this._signing) requireNonEmptyString('signingKey.id', this._signing.id);
  }

  /** The seq the next record will get. */
  get nextSeq(): number {
    return this._seq;
  }

  /** The last record's seq and hash (seq -1 and the genesis hash before the first). */
  get headState(): ChainHead {
    return { chainId: this.chainId, seq: this._seq - 1, hash: this._head };
  }

  /**
   * Appends `span` as the next record (canonical encoding and hashing, no
   * I/O). `resource` is bound on seq 0 only.
   */
  append(span: AuditSpanLike, resource: Readonly<Record<string, unknown>> | undefined): ChainedRecord {
    const seq = this._seq;
    const prevHash = this._head;
    const first = seq === 0;
    const open = flatten(
      encodeRecordOpen(
        {
          chainId: this.chainId,
          seq,
          prevHash,
          resource: first ? (resource ?? {}) : undefined,
          keyId: first ? this._hmac?.id : undefined,
          previous: first ? this._previous : undefined,
        },
        span,
      ),
    );
    const hash = chainHash(prevHash, open + '}', this._hmac?.key);
    this._seq = seq + 1;
    this._head = hash;
    this._sinceCheckpoint++;
    return { chainId: this.chainId, seq, prevHash, hash, line: lineFromOpen(open, hash) };
  }

  /** The first record's extra facts (to stamp on its span so an OTLP copy can rebuild it). */
  get genesisFacts(): { keyId: string | undefined; previous: ChainHead | undefined } {
    return { keyId: this._hmac?.id, previous: this._previous };
  }

  /** True when a signing key is set and a checkpoint is due (by count or by time). */
  checkpointDue(): boolean {
    if (this._signing === undefined || this._seq === 0 || this._sinceCheckpoint === 0) return false;
    return this._sinceCheckpoint >= this._everyRecords || this._now() - this._lastCheckpointAt >= this._everyMs;
  }

  /**
   * Signs the current head. The caller turns the claim into a checkpoint
   * span and appends it like any other record. Undefined without a signing
   * key or before the first record.
   */
  makeCheckpoint(): { claim: CheckpointClaim; signature: string } | undefined {
    if (this._signing === undefined || this._seq === 0) return undefined;
    const nowMs = this._now();
    const claim: CheckpointClaim = {
      chainId: this.chainId,
      headSeq: this._seq - 1,
      headHash: this._head,
      timeUnixNano: msToNanoString(nowMs),
      keyId: this._signing.id,
    };
    const signature = signCheckpoint(claim, this._signing.privateKey);
    // The checkpoint record itself is counted by append(); restart the count after it.
    this._sinceCheckpoint = -1;
    this._lastCheckpointAt = nowMs;
    return { claim, signature };
  }
}

/**
 * `s`, made flat once. The encoder builds the record by concatenation: a
 * rope of hundreds of small strings. Every later reader of the rope (the
 * hash of `prev_hash ‖ body`, the line's byte length and bytes in a sink)
 * would walk it again, and it keeps every piece alive while queued.
 * Reading one character makes V8 flatten it in place, once (a copy of its
 * characters); the ropes built on it afterwards (`body`, `line`) have two or
 * three flat parts. Costs nothing on an engine that keeps strings flat.
 */
function flatten(s: string): string {
  s.charCodeAt(0);
  return s;
}

/**
 * The key in a key file: its bytes less one trailing newline (`\n` or
 * `\r\n`, as `echo` or an editor leaves). The bootstrap and the verifier
 * both read HMAC key files this way, so they agree on the key.
 */
export function keyFileBytes(bytes: Buffer): Buffer {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) return bytes;
  return bytes.subarray(0, bytes[bytes.length - 2] === 0x0d ? -2 : -1);
}

/** Milliseconds (possibly fractional) since the epoch as an integer nanosecond string. */
export function msToNanoString(ms: number): string {
  const whole = Math.floor(ms);
  const frac = Math.round((ms - whole) * 1e6);
  return whole === 0 ? String(frac) : String(whole) + String(frac).padStart(6, '0');
}
