/**
 * One audit chain's state: the next seq, the head hash, and when a seal is
 * due. Pure: the clock is injected, there are no timers, and
 * nothing here does I/O.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import { AUDIT_FORMAT_VERSION, GENESIS_HASH, LINE_HASH_TAIL, chainHashBytes, chainedResource, encodeRecordOpen, lineTail, signSeal } from './audit-record.js';
import type { AuditSpanLike, ChainHead, SealClaim } from './audit-record.js';
import { requireNonEmptyString, requireNumber } from '../shared/validate.js';

/** A record appended to a chain. */
export interface ChainedRecord {
  readonly chainId: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
  /** The JSONL line (no newline): the canonical body plus its hash. */
  readonly line: string;
  /**
   * The line's UTF-8 bytes and a newline: what an audit file holds, encoded
   * once by the chain (the hash is computed over the same bytes). Shared by
   * every sink: never modify them.
   */
  readonly bytes: Uint8Array;
}

/**
 * The chain's record: its bytes encoded once, its line decoded from them
 * only when a reader asks (a file sink writes the bytes as they are).
 */
class ChainRecord implements ChainedRecord {
  readonly chainId: string;
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
  readonly bytes: Buffer;
  /** The span the record was made from (a sink reads its resource or stamps). */
  readonly span: AuditSpanLike;
  private _line: string | undefined = undefined;

  constructor(chainId: string, seq: number, prevHash: string, hash: string, bytes: Buffer, span: AuditSpanLike) {
    this.chainId = chainId;
    this.seq = seq;
    this.prevHash = prevHash;
    this.hash = hash;
    this.bytes = bytes;
    this.span = span;
  }

  get line(): string {
    return (this._line ??= this.bytes.toString('utf8', 0, this.bytes.length - 1));
  }
}

/** Bytes of a slab: records are written one after another into it; a full slab is left to the records that view it. */
const SLAB_BYTES = 256 * 1024;
/** `,"hash":"` + 64 hex + `"}` + newline. */
const TAIL_BYTES = LINE_HASH_TAIL + 1;
const CLOSE_BRACE = 0x7d;

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

/**
 * When a keyed chain (an HMAC key, a signing key or both) seals itself: a
 * seal record naming the head, signed when there is a signing key. The
 * chain also seals at shutdown (the caller's `makeSeal()`), and records
 * `everyRecords` on seq 0 so that a verifier knows a seal is missing.
 */
export interface SealPolicy {
  /** A seal after every this many records. @default 1000 */
  everyRecords?: number;
  /** …and at least this often while records arrive, in ms. @default 10000 */
  everyMs?: number;
}

/** @deprecated The format 1 name of {@link SealPolicy}. */
export type CheckpointPolicy = SealPolicy;

/** A seal made by {@link AuditChain.makeSeal}: the claim, and its Ed25519 signature when the chain has a signing key. */
export interface MadeSeal {
  readonly claim: SealClaim;
  readonly signature: string | undefined;
}

/** Options of {@link AuditChain}. */
export interface AuditChainOptions {
  /** Unique per process run (a UUID). */
  chainId: string;
  hmacKey?: AuditHmacKey | undefined;
  signingKey?: AuditSigningKey | undefined;
  /** When the chain seals itself (a keyed chain only). */
  seals?: SealPolicy | undefined;
  /** @deprecated The old name of `seals`. */
  checkpoints?: SealPolicy | undefined;
  /** The head of the chain this one continues (read from an existing audit file). */
  previous?: ChainHead | undefined;
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
  private readonly _sealing: boolean;
  private _sinceSeal = 0;
  private _lastSealAt: number;
  /** Where records are encoded: `prev_hash ‖ body` for the hash, then the line in place of the body's brace. */
  private _slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private _at = 0;

  constructor(options: AuditChainOptions) {
    requireNonEmptyString('chainId', options.chainId);
    this.chainId = options.chainId;
    this._hmac = options.hmacKey;
    this._signing = options.signingKey;
    this._previous = options.previous;
    this._now = options.now ?? systemClock;
    const policy = options.seals ?? options.checkpoints;
    const name = options.seals !== undefined ? 'seals' : 'checkpoints';
    this._everyRecords = policy?.everyRecords ?? 1000;
    this._everyMs = policy?.everyMs ?? 10_000;
    requireNumber(`${name}.everyRecords`, this._everyRecords, { min: 1, integer: true });
    requireNumber(`${name}.everyMs`, this._everyMs, { min: 1 });
    this._sealing = this._hmac !== undefined || this._signing !== undefined;
    this._lastSealAt = this._now();
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
    const open = encodeRecordOpen(
        first
          ? {
              chainId: this.chainId,
              seq,
              prevHash,
              format: AUDIT_FORMAT_VERSION,
              resource: chainedResource(resource ?? {}),
              keyId: this._hmac?.id,
              previous: this._previous,
              sealEvery: this._sealing ? this._everyRecords : undefined,
            }
          : { chainId: this.chainId, seq, prevHash },
      span,
    );
    // Encoded once, into bytes: [prev_hash][body without its brace]['}'] is hashed, then the
    // brace is overwritten by the line's tail, and the line (with its newline) is what sinks get.
    const most = 64 + open.length * 3 + TAIL_BYTES; // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (this._at + most > this._slab.length) {
      this._slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, most));
      this._at = 0;
    }
    const slab = this._slab;
    const start = this._at;
    slab.write(prevHash, start, 64, 'latin1');
    const bodyAt = start + 64;
    const closeAt = bodyAt + slab.write(open, bodyAt, 'utf8');
    slab[closeAt] = CLOSE_BRACE;
    const hash = chainHashBytes(slab.subarray(start, closeAt + 1), this._hmac?.key);
    const end = closeAt + slab.write(lineTail(hash), closeAt, 'latin1');
    this._at = end;
    this._seq = seq + 1;
    this._head = hash;
    this._sinceSeal++;
    return new ChainRecord(this.chainId, seq, prevHash, hash, slab.subarray(bodyAt, end), span);
  }

  /** The first record's extra facts (to stamp on its span so an OTLP copy can rebuild it). */
  get genesisFacts(): { keyId: string | undefined; previous: ChainHead | undefined; format: number; sealEvery: number | undefined } {
    return { keyId: this._hmac?.id, previous: this._previous, format: AUDIT_FORMAT_VERSION, sealEvery: this._sealing ? this._everyRecords : undefined };
  }

  /** True when the chain seals itself: it has an HMAC key or a signing key. */
  get seals(): boolean {
    return this._sealing;
  }

  /** True when the chain seals itself and a seal is due (by count or by time). */
  sealDue(): boolean {
    if (!this._sealing || this._seq === 0 || this._sinceSeal === 0) return false;
    return this._sinceSeal >= this._everyRecords || this._now() - this._lastSealAt >= this._everyMs;
  }

  /** @deprecated The old name of {@link sealDue}. */
  checkpointDue(): boolean {
    return this.sealDue();
  }

  /**
   * Seals the current head (signed with the signing key, if any). The
   * caller turns the claim into a seal span and appends it like any other
   * record. `final` marks the closing seal, made at shutdown: nothing
   * follows it. Undefined for a chain that does not seal, or before the
   * first record.
   */
  makeSeal(final = false): MadeSeal | undefined {
    if (!this._sealing || this._seq === 0) return undefined;
    const nowMs = this._now();
    const claim: SealClaim = {
      chainId: this.chainId,
      headSeq: this._seq - 1,
      headHash: this._head,
      timeUnixNano: msToNanoString(nowMs),
      keyId: this._signing?.id ?? '',
      ...(final ? { final: true } : {}),
    };
    const signature = this._signing !== undefined ? signSeal(claim, this._signing.privateKey) : undefined;
    // The seal record itself is counted by append(); restart the count after it.
    this._sinceSeal = -1;
    this._lastSealAt = nowMs;
    return { claim, signature };
  }

  /** @deprecated The old name of {@link makeSeal}. */
  makeCheckpoint(): MadeSeal | undefined {
    return this.makeSeal();
  }
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
