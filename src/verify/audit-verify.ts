/**
 * The audit chain verifier: reads JSONL audit files and OTLP JSON (the
 * Collector's `file` exporter, one `TracesData` object per line), streaming
 * with flat memory, and reports per chain whether it is intact, and on
 * failure the first bad record with its file, line and reason.
 *
 * - Lines are auto-detected: a JSONL record (`{"chain_id":…,"hash":…}`) or
 *   an OTLP JSON object (`{"resourceSpans":[…]}`), whose audit spans are
 *   rebuilt into records (`audit-otlp-json.ts`).
 * - Chains may be interleaved (several chain ids). JSONL records of a
 *   chain must come in seq order; OTLP records may come in any order and
 *   are held only until the gap before them fills (at most
 *   `maxBuffered` per chain).
 * - Fast path: the line is split into body and hash without parsing, and the
 *   body text is hashed as it stands. Only when that fails is the line parsed
 *   and its body re-canonicalised (RFC 8785), so a re-serialised but equal
 *   file (other key order, whitespace, escapes) still verifies.
 * - HMAC chains: the seq-0 record names its key id. Verified without a key
 *   such a chain is reported as failed with reason `missing key` (its hashes
 *   cannot be checked; it is never reported valid). Verified with a key,
 *   a chain that is not keyed fails with `wrong key` (anyone can recompute a
 *   plain chain, so accepting it would let a forger strip the key).
 * - Checkpoints (Ed25519) in the chain are checked against the head they
 *   claim and, with a public key, their signature. Checkpoints held
 *   elsewhere and heads obtained out of band prove truncation and rewrites.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { KeyObject } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { CanonicalizationError, isJsonObject as isObject } from '../patterns/audit/audit-canonical.js';
import {
  CHECKPOINT_SPAN_NAME,
  GENESIS_HASH,
  canonicalBody,
  chainHash,
  verifyCheckpoint,
} from '../patterns/audit/audit-record.js';
import type { ChainHead, CheckpointClaim } from '../patterns/audit/audit-record.js';
import { checkpointFromAttributes, isRebuildProblem, recordsFromOtlpJson } from '../patterns/audit/audit-otlp-json.js';
import type { CheckpointAttributes } from '../patterns/audit/audit-otlp-json.js';
import { ScanPool, localChunkScanner } from './audit-verify-scan.js';
import type { ChunkScan, ChunkScanner, ScannedChunk } from './audit-verify-scan.js';

/** Why a chain (or a line) failed verification. */
export type AuditFailureReason =
  /** A record's content no longer matches its hash (or a line names a chain but is not a valid record). */
  | 'altered record'
  /** A record's prev_hash is not the hash of the record before it. */
  | 'broken link'
  /** A seq is missing in the middle of the chain. */
  | 'gap'
  /** The chain's seq 0 is missing (deleted, or only a later part of the chain was given). */
  | 'missing start'
  /** A record appears twice (see `allowDuplicates`). */
  | 'duplicate'
  /** Records of a JSONL file are out of seq order. */
  | 'reordered'
  /** A second, different record with a seq already taken (a fork or an insertion). */
  | 'inserted'
  /** The chain ends before a head proven by a checkpoint held elsewhere or an expected head. */
  | 'truncated'
  /** An expected chain is not in the input at all. */
  | 'missing chain'
  /** A checkpoint's Ed25519 signature does not verify with the public key. */
  | 'bad signature'
  /** A checkpoint record lacks part of its claim. */
  | 'bad checkpoint'
  /** The chain's record at a checkpoint's or expected head's seq has another hash (the chain was rewritten). */
  | 'checkpoint mismatch'
  /** The HMAC key given does not verify the chain, has another id, or the chain is not keyed. */
  | 'wrong key'
  /** The chain is keyed and no HMAC key was given: its hashes cannot be checked. */
  | 'missing key'
  /** The unterminated last line of a file does not parse (a crash mid-write, or a cut). */
  | 'torn line'
  /** A line is neither a record nor OTLP JSON. */
  | 'malformed line'
  /** A record cannot be checked (e.g. NaN written as null by a JSON exporter). */
  | 'unverifiable record';

/** Where and why verification failed. */
export interface AuditFailure {
  readonly reason: AuditFailureReason;
  /** The file, as given. */
  readonly file: string;
  /** 1-based line number in that file. */
  readonly line: number;
  readonly chainId?: string | undefined;
  readonly seq?: number | undefined;
  /** A sentence for humans. */
  readonly detail: string;
}

/** The verdict on one chain. */
export interface AuditChainReport {
  readonly chainId: string;
  readonly valid: boolean;
  /** Records verified, in seq order from the first (duplicates not counted). */
  readonly records: number;
  /** First and last seq verified (-1 when none). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Hash of the last verified record (the genesis hash when none). */
  readonly headHash: string;
  /** HMAC key id named by the chain's seq 0, if keyed. */
  readonly keyId?: string | undefined;
  /** The head of the chain this one continues, from its seq 0. */
  readonly previous?: ChainHead | undefined;
  /** The anchor the input continued, when verification started there instead of at seq 0. */
  readonly anchor?: ChainHead | undefined;
  /** Checkpoints in the chain whose head and signature were checked. */
  readonly checkpointsVerified: number;
  /** Checkpoints whose head was checked but whose signature was not (no public key given). */
  readonly checkpointsUnverified: number;
  /** Checkpoints and expected heads held elsewhere that this chain matched. */
  readonly externalVerified: number;
  /** Exact duplicates skipped (with `allowDuplicates`). */
  readonly duplicatesIgnored: number;
  /** The first bad record of this chain. */
  readonly failure?: AuditFailure | undefined;
}

/** The verdict on the whole input. */
export interface AuditVerifyReport {
  /** True when every chain verified and no line failed. */
  readonly valid: boolean;
  readonly files: readonly string[];
  /** Lines read (all files). */
  readonly lines: number;
  /** Records read (all chains, duplicates included). */
  readonly records: number;
  readonly chains: readonly AuditChainReport[];
  /** The first failure in input order (file order, then line). */
  readonly failure?: AuditFailure | undefined;
  /** Every failure: the first of each chain and each failing line that belongs to no chain. */
  readonly failures: readonly AuditFailure[];
}

/** A checkpoint held elsewhere (e.g. by an auditor): its claim and Ed25519 signature. */
export interface ExternalCheckpoint extends CheckpointAttributes {
  /** Where it was read from, for reports. */
  readonly source?: string | undefined;
}

/** Options of {@link AuditVerifier} and {@link verifyAuditFiles}. */
export interface AuditVerifyOptions {
  /** The chains' HMAC key. */
  hmacKey?: Buffer | KeyObject | undefined;
  /** Its id: a keyed chain naming another id fails with `wrong key`. */
  hmacKeyId?: string | undefined;
  /** Ed25519 public key to check checkpoint signatures. */
  publicKey?: KeyObject | undefined;
  /** Heads obtained out of band: the chain must contain this seq with this hash. */
  expectedHeads?: readonly ChainHead[] | undefined;
  /**
   * Where to start a chain whose earlier records are not in the input (a
   * later rotated file alone, say): the input continues this seq with this
   * hash, e.g. the last record of the file before, or a signed checkpoint's
   * head. Without one, such a chain fails with `missing start`.
   */
  anchors?: readonly ChainHead[] | undefined;
  /** Checkpoints held elsewhere (need `publicKey`); a later one than a chain's tail proves truncation. */
  checkpoints?: readonly ExternalCheckpoint[] | undefined;
  /** Skip exact duplicates of records (at-least-once OTLP delivery). @default false */
  allowDuplicates?: boolean | undefined;
  /** Out-of-order OTLP records held per chain while waiting for a gap to fill. @default 100000 */
  maxBuffered?: number | undefined;
}

/** Input that cannot be read (missing file, directory…): exit code 2 in the CLI. */
export class AuditInputError extends Error {
  override readonly name = 'AuditInputError';
}

/** One record, as the chain state machine sees it. */
interface Rec {
  chainId: string;
  seq: number;
  prevHash: string;
  hash: string;
  hashOk: boolean;
  /** JSONL records must be in order; OTLP ones may not. */
  ordered: boolean;
  keyId?: string | undefined;
  previous?: ChainHead | undefined;
  checkpoint?: CheckpointAttributes | 'malformed' | undefined;
  /** OTLP records: the canonical resource attributes of their resourceSpans. */
  resource?: string | undefined;
  file: string;
  line: number;
  ordinal: number;
}

interface Watch {
  hash: string;
  kind: 'checkpoint' | 'expected head' | 'previous';
  source: string;
}

type Located = AuditFailure & { ordinal: number };

/** Hashes of the most recent records kept per chain (for duplicates and checkpoint heads); the ring starts small. */
const RING = 4096;
const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

class ChainState {
  expected = 0;
  head = GENESIS_HASH;
  accepted = 0;
  firstSeq = -1;
  lastSeq = -1;
  lastFile = '';
  lastLine = 0;
  lastOrdinal = 0;
  keyId: string | undefined;
  previous: ChainHead | undefined;
  /** Where verification of this chain starts, when not at seq 0 (see AuditVerifyOptions.anchors). */
  anchor: ChainHead | undefined;
  /** The resource bound by seq 0 (OTLP input only). */
  resource: string | undefined;
  verifiedAny = false;
  failure: Located | undefined;
  /** A JSONL seq jump: a gap, or a reorder if the missing seq shows up later. */
  pendingJump: { rec: Rec; expected: number } | undefined;
  /** A first HMAC mismatch: the next record tells an altered record from a wrong key. */
  pendingKey: Rec | undefined;
  readonly buffer = new Map<number, Rec>();
  private _ringSeq = new Float64Array(16).fill(-1);
  private _ringHash: string[] = new Array<string>(16);
  readonly watches = new Map<number, Watch[]>();
  checkpointsVerified = 0;
  checkpointsUnverified = 0;
  externalVerified = 0;
  duplicatesIgnored = 0;
  readonly chainId: string;
  constructor(chainId: string) {
    this.chainId = chainId;
  }

  hashAt(seq: number): string | undefined {
    if (seq === this.lastSeq) return this.head;
    const i = seq % this._ringSeq.length;
    return this._ringSeq[i] === seq ? this._ringHash[i] : undefined;
  }

  /** Remembers a verified record's hash (the ring grows up to {@link RING} as the chain does). */
  remember(seq: number, hash: string): void {
    let size = this._ringSeq.length;
    if (size < RING && this.accepted > size) {
      const oldSeq = this._ringSeq;
      const oldHash = this._ringHash;
      size *= 4;
      this._ringSeq = new Float64Array(size).fill(-1);
      this._ringHash = new Array<string>(size);
      for (let j = 0; j < oldSeq.length; j++) {
        if (oldSeq[j] < 0) continue;
        const k = oldSeq[j] % size;
        this._ringSeq[k] = oldSeq[j];
        this._ringHash[k] = oldHash[j];
      }
    }
    const i = seq % size;
    this._ringSeq[i] = seq;
    this._ringHash[i] = hash;
  }

  watch(seq: number, w: Watch): void {
    const list = this.watches.get(seq);
    if (list) list.push(w);
    else this.watches.set(seq, [w]);
  }
}

/**
 * The streaming verifier: feed it lines with {@link addLine} (or whole
 * streams with {@link verifyAuditStream}), then call {@link finish}.
 * Memory stays flat: per chain a fixed ring of recent hashes and, for OTLP
 * input, the records waiting for a gap to fill.
 */
export class AuditVerifier {
  private readonly _chains = new Map<string, ChainState>();
  private readonly _lineFailures: Located[] = [];
  private readonly _options: AuditVerifyOptions;
  private readonly _maxBuffered: number;
  private readonly _scanner: ChunkScanner;
  private readonly _files: string[] = [];
  private _ordinal = 0;
  private _lineCount = 0;
  private _recordCount = 0;

  constructor(options: AuditVerifyOptions = {}) {
    this._options = options;
    this._maxBuffered = options.maxBuffered ?? 100_000;
    this._scanner = localChunkScanner(options.hmacKey);
    if (options.checkpoints?.length && options.publicKey === undefined) {
      throw new TypeError('checkpoints held elsewhere need the public key to check their signatures');
    }
    for (const anchor of options.anchors ?? []) {
      const c = this._chain(anchor.chainId);
      if (c.anchor !== undefined) throw new TypeError(`two anchors for chain ${anchor.chainId}`);
      c.anchor = anchor;
      c.expected = anchor.seq + 1;
      c.head = anchor.hash;
      c.remember(anchor.seq, anchor.hash);
    }
    for (const head of options.expectedHeads ?? []) {
      this._chain(head.chainId).watch(head.seq, { hash: head.hash, kind: 'expected head', source: 'expected head' });
    }
    for (const cp of options.checkpoints ?? []) {
      const source = cp.source ?? 'checkpoint held elsewhere';
      if (!verifyCheckpoint(cp.claim, cp.signature, options.publicKey!)) {
        this._lineFailures.push({
          reason: 'bad signature',
          file: source,
          line: 0,
          chainId: cp.claim.chainId,
          seq: cp.claim.headSeq,
          detail: `the checkpoint held elsewhere for seq ${cp.claim.headSeq} of chain ${cp.claim.chainId} has a bad signature`,
          ordinal: -1,
        });
        continue;
      }
      this._chain(cp.claim.chainId).watch(cp.claim.headSeq, { hash: cp.claim.headHash, kind: 'checkpoint', source });
    }
  }

  private _chain(id: string): ChainState {
    let c = this._chains.get(id);
    if (!c) {
      c = new ChainState(id);
      this._chains.set(id, c);
    }
    return c;
  }

  private _hash(prevHash: string, body: string): string {
    if (this._options.hmacKey !== undefined) return chainHash(prevHash, body, this._options.hmacKey);
    return oneShotHash !== undefined ? oneShotHash('sha256', prevHash + body, 'hex') : chainHash(prevHash, body);
  }

  /** Marks the start of a file (for the report's file list). */
  beginFile(file: string): void {
    this._files.push(file);
  }

  /**
   * The lines of a scanned chunk ({@link ChunkScan}): fast-path records go
   * straight to the chain checks, the others are decoded and parsed.
   * Returns the number of lines.
   */
  addScan(chunk: Buffer, scan: ChunkScan, file: string, firstLineNo: number): number {
    let chainId = '';
    let lastHash = '';
    let run: ChainState | undefined; // the chain of the line before, when it was accepted
    for (let i = 0; i < scan.n; i++) {
      this._lineCount++;
      const ordinal = ++this._ordinal;
      const end = scan.ends[i];
      if (scan.status[i] === 0) {
        this._recordCount++;
        const q = scan.chainEnds[i];
        const seq = scan.seqs[i];
        // The common case, without a record object: the scanner found this line hash-valid and
        // linked byte for byte to the line before (same chain, seq + 1, prev_hash = its hash),
        // and that line was accepted as the chain's head. Nothing else can be pending.
        if (scan.linked[i] === 1 && run !== undefined && run.expected === seq && run.failure === undefined &&
            run.pendingJump === undefined && run.pendingKey === undefined && run.buffer.size === 0 && run.watches.size === 0) {
          lastHash = chunk.toString('latin1', end - 66, end - 2);
          run.head = lastHash;
          run.expected = seq + 1;
          run.lastSeq = seq;
          run.accepted++;
          run.lastFile = file;
          run.lastLine = firstLineNo + i;
          run.lastOrdinal = ordinal;
          run.remember(seq, lastHash);
          continue;
        }
        let prevHash: string;
        if (scan.linked[i] === 1) {
          prevHash = lastHash; // same chain as the line before, whose hash is this prev_hash (compared byte for byte)
        } else {
          chainId = chunk.toString('latin1', scan.starts[i] + 13, q);
          prevHash = chunk.toString('latin1', q + 15, q + 79);
        }
        lastHash = chunk.toString('latin1', end - 66, end - 2);
        this._process({ chainId, seq, prevHash, hash: lastHash, hashOk: true, ordered: true, file, line: firstLineNo + i, ordinal });
        const c = this._chains.get(chainId);
        run = c !== undefined && c.failure === undefined && c.lastSeq === seq && c.head === lastHash ? c : undefined;
      } else {
        run = undefined;
        this._slowLine(chunk.toString('utf8', scan.starts[i], end), file, firstLineNo + i, ordinal, false);
      }
    }
    return scan.n;
  }

  /** This verifier's in-thread chunk scanner (same key). */
  get chunkScanner(): ChunkScanner {
    return this._scanner;
  }

  /**
   * One line of a file (without its newline), parsed and checked (the
   * slow path; {@link addScan} is the fast one). `unterminated` is true for a
   * last line with no newline after it: if it does not parse it is a torn line.
   */
  addLine(line: string, file: string, lineNo: number, unterminated = false): void {
    this._lineCount++;
    const ordinal = ++this._ordinal;
    this._slowLine(line, file, lineNo, ordinal, unterminated);
  }

  private _slowLine(line: string, file: string, lineNo: number, ordinal: number, unterminated: boolean): void {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this._lineFailures.push(
        unterminated
          ? { reason: 'torn line', file, line: lineNo, detail: `the last line of ${file} is cut short (no newline, not valid JSON): a crash mid-write or a truncation`, ordinal }
          : { reason: 'malformed line', file, line: lineNo, detail: 'not valid JSON', ordinal },
      );
      return;
    }
    if (!isObject(parsed)) {
      this._lineFailures.push({ reason: 'malformed line', file, line: lineNo, detail: 'not a JSON object', ordinal });
      return;
    }
    if ('resourceSpans' in parsed) {
      let items;
      try {
        items = recordsFromOtlpJson(parsed);
      } catch (err) {
        this._lineFailures.push({ reason: 'malformed line', file, line: lineNo, detail: `not valid OTLP JSON: ${(err as Error).message}`, ordinal });
        return;
      }
      for (const item of items) {
        if (isRebuildProblem(item)) {
          const reason: AuditFailureReason = item.unverifiable ? 'unverifiable record' : 'altered record';
          const f: Located = { reason, file, line: lineNo, chainId: item.chainId, seq: item.seq, detail: item.message, ordinal };
          if (item.chainId !== undefined) this._failChain(this._chain(item.chainId), f);
          else this._lineFailures.push(f);
          continue;
        }
        this._recordCount++;
        this._process({
          chainId: item.chainId,
          seq: item.seq,
          prevHash: item.prevHash,
          hash: item.hash,
          hashOk: this._hash(item.prevHash, item.body) === item.hash,
          ordered: false,
          keyId: item.keyId,
          previous: item.previous,
          checkpoint: item.checkpoint,
          resource: item.resource,
          file,
          line: lineNo,
          ordinal,
        });
      }
      return;
    }
    const chainId = parsed.chain_id;
    if (typeof chainId !== 'string') {
      this._lineFailures.push({ reason: 'malformed line', file, line: lineNo, detail: 'neither an audit record nor OTLP JSON', ordinal });
      return;
    }
    this._recordCount++;
    const { seq, prev_hash: prevHash, hash, key_id: keyId, previous, span } = parsed;
    const bad = (detail: string): void =>
      this._failChain(this._chain(chainId), { reason: 'altered record', file, line: lineNo, chainId, seq: typeof seq === 'number' ? seq : undefined, detail, ordinal });
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return bad('the record has no valid seq');
    if (typeof prevHash !== 'string' || typeof hash !== 'string') return bad('the record lacks prev_hash or hash');
    if (seq !== 0 && (keyId !== undefined || previous !== undefined)) return bad('key_id and previous belong on seq 0 only');
    if (keyId !== undefined && typeof keyId !== 'string') return bad('key_id is not a string');
    let prev: ChainHead | undefined;
    if (previous !== undefined) {
      if (!isObject(previous) || typeof previous.chain_id !== 'string' || typeof previous.hash !== 'string' || typeof previous.seq !== 'number') {
        return bad('previous is malformed');
      }
      prev = { chainId: previous.chain_id, seq: previous.seq, hash: previous.hash };
    }
    let body: string;
    try {
      body = canonicalBody(parsed);
    } catch (err) {
      if (err instanceof CanonicalizationError) return bad(`the record has no canonical form: ${err.message}`);
      throw err;
    }
    const checkpoint = isObject(span) && span.name === CHECKPOINT_SPAN_NAME ? checkpointFromAttributes(chainId, span.attributes) : undefined;
    this._process({
      chainId,
      seq,
      prevHash,
      hash,
      hashOk: this._hash(prevHash, body) === hash,
      ordered: true,
      keyId: keyId as string | undefined,
      previous: prev,
      checkpoint,
      file,
      line: lineNo,
      ordinal,
    });
  }

  private _failChain(c: ChainState, f: Located): void {
    if (c.failure === undefined || f.ordinal < c.failure.ordinal) c.failure = f;
    c.pendingJump = undefined;
    c.pendingKey = undefined;
    c.buffer.clear();
  }

  private _at(rec: Rec, reason: AuditFailureReason, detail: string): Located {
    return { reason, file: rec.file, line: rec.line, chainId: rec.chainId, seq: rec.seq, detail, ordinal: rec.ordinal };
  }

  private _process(rec: Rec): void {
    const c = this._chain(rec.chainId);
    if (c.failure) return;
    if (c.pendingJump) {
      if (rec.seq === c.pendingJump.expected) {
        const p = c.pendingJump;
        this._failChain(c, this._at(p.rec, 'reordered', `seq ${p.rec.seq} comes before seq ${p.expected} (found later at ${rec.file}:${rec.line})`));
      }
      return;
    }
    if (c.pendingKey) {
      const p = c.pendingKey;
      if (rec.hashOk) this._failChain(c, this._at(p, 'altered record', `the record does not match its hash (the next record verifies with the key)`));
      else this._failChain(c, this._at(p, 'wrong key', `the HMAC key does not verify the chain (seq ${p.seq} and seq ${rec.seq} both fail)`));
      return;
    }
    if (c.anchor !== undefined && rec.seq <= c.anchor.seq) {
      return this._failChain(c, this._at(rec, 'reordered', `seq ${rec.seq} is at or before the anchor (seq ${c.anchor.seq}): give only what follows it`));
    }
    if (rec.seq === 0 && !this._keyChecks(c, rec)) return;
    if (!rec.hashOk) {
      if (this._options.hmacKey !== undefined && !c.verifiedAny && rec.seq === c.expected) {
        c.pendingKey = rec; // the next record tells an altered record from a wrong key
        return;
      }
      const keyedPerhaps = c.anchor !== undefined && !c.verifiedAny && this._options.hmacKey === undefined;
      return this._failChain(c, this._at(rec, 'altered record', `the record does not match its hash${keyedPerhaps ? ' (or the chain is keyed: its seq 0 is not in the input to tell, give the HMAC key)' : ''}`));
    }
    if (rec.seq < c.expected) {
      const known = c.hashAt(rec.seq);
      if (known !== undefined && known !== rec.hash) {
        return this._failChain(c, this._at(rec, 'inserted', `a second, different record with seq ${rec.seq}`));
      }
      if (known !== undefined && this._options.allowDuplicates) {
        c.duplicatesIgnored++;
        return;
      }
      return this._failChain(c, this._at(rec, 'duplicate', `seq ${rec.seq} was already seen${known === undefined ? ' (too long ago to compare)' : ''}`));
    }
    if (rec.seq > c.expected) {
      if (!rec.ordered) {
        const held = c.buffer.get(rec.seq);
        if (held !== undefined) {
          if (held.hash !== rec.hash || !rec.hashOk || !held.hashOk) {
            return this._failChain(c, this._at(rec, 'inserted', `two different records with seq ${rec.seq}`));
          }
          if (this._options.allowDuplicates) {
            c.duplicatesIgnored++;
            return;
          }
          return this._failChain(c, this._at(rec, 'duplicate', `seq ${rec.seq} was already seen`));
        }
        c.buffer.set(rec.seq, rec);
        if (c.buffer.size > this._maxBuffered) this._failGap(c);
        return;
      }
      c.pendingJump = { rec, expected: c.expected };
      return;
    }
    this._accept(c, rec);
    while (!c.failure && !c.pendingKey && c.buffer.size > 0) {
      const next = c.buffer.get(c.expected);
      if (next === undefined) break;
      c.buffer.delete(c.expected);
      this._accept(c, next);
    }
  }

  private _failGap(c: ChainState): void {
    let first: Rec | undefined;
    for (const r of c.buffer.values()) if (first === undefined || r.seq < first.seq) first = r;
    if (first === undefined) return;
    this._failChain(
      c,
      this._at(first, c.expected === 0 ? 'missing start' : 'gap', c.expected === 0 ? `seq 0 is missing; the chain starts at seq ${first.seq}` : `seq ${c.expected} is missing before seq ${first.seq}`),
    );
  }

  /** The key checks a seq-0 record allows; false when the chain failed them. */
  private _keyChecks(c: ChainState, rec: Rec): boolean {
    const keyed = this._options.hmacKey !== undefined;
    if (rec.keyId !== undefined && !keyed) {
      this._failChain(c, this._at(rec, 'missing key', `the chain is keyed (HMAC key id ${JSON.stringify(rec.keyId)}) and no key was given: its hashes cannot be checked`));
    } else if (rec.keyId === undefined && keyed) {
      this._failChain(c, this._at(rec, 'wrong key', 'an HMAC key was given but the chain is not keyed (anyone could have recomputed it)'));
    } else if (keyed && this._options.hmacKeyId !== undefined && rec.keyId !== this._options.hmacKeyId) {
      this._failChain(c, this._at(rec, 'wrong key', `the chain uses HMAC key id ${JSON.stringify(rec.keyId)}, not ${JSON.stringify(this._options.hmacKeyId)}`));
    } else {
      return true;
    }
    return false;
  }

  private _accept(c: ChainState, rec: Rec): void {
    if (rec.seq === 0) {
      c.keyId = rec.keyId;
      c.previous = rec.previous;
      c.resource = rec.resource;
    } else if (rec.resource !== undefined && c.resource !== undefined && rec.resource !== c.resource) {
      return this._failChain(c, this._at(rec, 'altered record', `the resource attributes differ from those bound by ${c.anchor ? `the first record after the anchor` : 'seq 0'}`));
    } else if (c.anchor !== undefined && c.resource === undefined) {
      c.resource = rec.resource; // seq 0 is not in the input: the segment's records must at least agree
    }
    if (rec.prevHash !== c.head) {
      return this._failChain(c, this._at(rec, 'broken link', `prev_hash is not the hash of seq ${rec.seq - 1}`));
    }
    c.verifiedAny = true;
    c.head = rec.hash;
    c.expected = rec.seq + 1;
    if (c.firstSeq < 0) c.firstSeq = rec.seq;
    c.lastSeq = rec.seq;
    c.accepted++;
    c.lastFile = rec.file;
    c.lastLine = rec.line;
    c.lastOrdinal = rec.ordinal;
    c.remember(rec.seq, rec.hash);
    const watches = c.watches.get(rec.seq);
    if (watches) {
      c.watches.delete(rec.seq);
      for (const w of watches) {
        if (w.hash !== rec.hash) {
          return this._failChain(c, this._at(rec, 'checkpoint mismatch', `seq ${rec.seq} has another hash than the ${w.kind} (${w.source}): the chain was rewritten`));
        }
        if (w.kind !== 'previous') c.externalVerified++;
      }
    }
    if (rec.previous !== undefined) this._linkPrevious(c, rec);
    if (rec.checkpoint !== undefined) this._checkCheckpoint(c, rec, rec.checkpoint);
  }

  private _linkPrevious(c: ChainState, rec: Rec): void {
    const p = rec.previous!;
    if (p.chainId === c.chainId) return this._failChain(c, this._at(rec, 'broken link', 'the chain names itself as its previous chain'));
    const pc = this._chain(p.chainId);
    if (pc.lastSeq >= p.seq) {
      const h = pc.hashAt(p.seq);
      if (h !== undefined && h !== p.hash) {
        this._failChain(c, this._at(rec, 'broken link', `the previous chain's seq ${p.seq} has another hash than this chain records`));
      }
      return;
    }
    pc.watch(p.seq, { hash: p.hash, kind: 'previous', source: `the head recorded by chain ${c.chainId}` });
  }

  private _checkCheckpoint(c: ChainState, rec: Rec, cp: CheckpointAttributes | 'malformed'): void {
    if (cp === 'malformed') return this._failChain(c, this._at(rec, 'bad checkpoint', 'a checkpoint span without a complete claim'));
    const claim: CheckpointClaim = cp.claim;
    if (claim.headSeq >= rec.seq) return this._failChain(c, this._at(rec, 'bad checkpoint', `the checkpoint claims seq ${claim.headSeq}, not before it`));
    const h = c.hashAt(claim.headSeq);
    if (h !== undefined && h !== claim.headHash) {
      return this._failChain(c, this._at(rec, 'checkpoint mismatch', `the checkpoint's head hash is not the hash of seq ${claim.headSeq}`));
    }
    if (this._options.publicKey === undefined) {
      c.checkpointsUnverified++;
      return;
    }
    if (!verifyCheckpoint(claim, cp.signature, this._options.publicKey)) {
      return this._failChain(c, this._at(rec, 'bad signature', `the checkpoint's signature does not verify (key id ${JSON.stringify(claim.keyId)})`));
    }
    c.checkpointsVerified++;
  }

  /** Ends the input and returns the verdict. */
  finish(): AuditVerifyReport {
    const end = Number.MAX_SAFE_INTEGER;
    for (const c of this._chains.values()) {
      if (c.failure) continue;
      if (c.pendingJump) {
        const { rec, expected } = c.pendingJump;
        this._failChain(
          c,
          this._at(rec, expected === 0 ? 'missing start' : 'gap', expected === 0 ? `seq 0 is missing; the chain starts at seq ${rec.seq}` : `seq ${expected} is missing before seq ${rec.seq}`),
        );
        continue;
      }
      if (c.pendingKey) {
        this._failChain(c, this._at(c.pendingKey, 'altered record', 'the record does not match its hash (or the HMAC key is wrong)'));
        continue;
      }
      if (c.buffer.size > 0) {
        this._failGap(c);
        continue;
      }
      if (c.accepted === 0) {
        const w = [...c.watches.entries()].find(([, ws]) => ws.some(x => x.kind !== 'previous'));
        if (w) {
          this._failChain(c, { reason: 'missing chain', file: '(input)', line: 0, chainId: c.chainId, seq: w[0], detail: `chain ${c.chainId} is not in the input (${w[1][0].source})`, ordinal: end });
        }
        continue;
      }
      for (const [seq, ws] of c.watches) {
        if (seq <= c.lastSeq) continue; // too old to compare (left the ring): checked when it was accepted if registered before
        const w = ws[0];
        this._failChain(c, {
          reason: 'truncated',
          file: c.lastFile,
          line: c.lastLine,
          chainId: c.chainId,
          seq: c.lastSeq,
          detail: `the chain ends at seq ${c.lastSeq} (${c.lastFile}:${c.lastLine}) but ${w.source} proves seq ${seq}`,
          ordinal: c.lastOrdinal + 0.5,
        });
        break;
      }
    }
    const chains: AuditChainReport[] = [];
    const failures: Located[] = [...this._lineFailures];
    for (const c of this._chains.values()) {
      if (c.accepted === 0 && c.failure === undefined) continue; // only named by a watch that was satisfied elsewhere
      if (c.failure) failures.push(c.failure);
      chains.push({
        chainId: c.chainId,
        valid: c.failure === undefined,
        records: c.accepted,
        firstSeq: c.firstSeq,
        lastSeq: c.lastSeq,
        headHash: c.head,
        keyId: c.keyId,
        previous: c.previous,
        anchor: c.anchor,
        checkpointsVerified: c.checkpointsVerified,
        checkpointsUnverified: c.checkpointsUnverified,
        externalVerified: c.externalVerified,
        duplicatesIgnored: c.duplicatesIgnored,
        failure: c.failure ? strip(c.failure) : undefined,
      });
    }
    failures.sort((a, b) => a.ordinal - b.ordinal);
    return {
      valid: failures.length === 0,
      files: [...this._files],
      lines: this._lineCount,
      records: this._recordCount,
      chains,
      failure: failures.length ? strip(failures[0]) : undefined,
      failures: failures.map(strip),
    };
  }
}

function strip(f: Located): AuditFailure {
  const { ordinal: _ordinal, ...rest } = f;
  return rest;
}

/**
 * Re-cuts a byte stream at newlines: chunks of whole lines, then the rest
 * that no newline ends, if any (`tail`). `piece` is what the stream gave
 * when the chunk is all of it (no bytes carried in or out).
 */
async function* wholeLineChunks(
  stream: AsyncIterable<Buffer | string>,
  onBytes?: (n: number) => void,
): AsyncGenerator<{ chunk: Buffer; piece: Buffer | undefined; tail: boolean }> {
  let carry: Buffer | undefined;
  for await (const given of stream) {
    const piece = typeof given === 'string' ? Buffer.from(given) : given;
    onBytes?.(piece.length);
    const buf = carry === undefined ? piece : Buffer.concat([carry, piece]);
    const cut = buf.lastIndexOf(10);
    if (cut < 0) {
      carry = buf;
      continue;
    }
    const whole = carry === undefined && cut + 1 === buf.length;
    carry = cut + 1 < buf.length ? buf.subarray(cut + 1) : undefined;
    yield { chunk: buf.subarray(0, cut + 1), piece: whole ? piece : undefined, tail: false };
  }
  if (carry !== undefined && carry.length > 0) yield { chunk: carry, piece: undefined, tail: true };
}

/**
 * Splits a byte stream into lines. The last line is passed with
 * `unterminated` when no newline follows it. `onBytes` gets each piece's size.
 */
export async function forEachLine(
  stream: AsyncIterable<Buffer | string>,
  onLine: (line: string, lineNo: number, unterminated: boolean) => void,
  onBytes?: (n: number) => void,
): Promise<number> {
  let lineNo = 0;
  for await (const { chunk, tail } of wholeLineChunks(stream, onBytes)) {
    if (tail) {
      onLine(chunk.toString('utf8'), ++lineNo, true);
      break;
    }
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      onLine(chunk.toString('utf8', start, nl), ++lineNo, false);
      start = nl + 1;
    }
  }
  return lineNo;
}

/**
 * Feeds a byte stream (one file) to the verifier in chunks of whole lines,
 * scanned in place, on worker threads when a {@link ScanPool} is given and
 * on this thread while every worker is busy or still starting (results are
 * applied in file order whoever scanned them). Chunks that
 * {@link readLineChunks} read go back to `spare` once checked, for the next
 * reads.
 */
export async function verifyAuditStream(
  stream: AsyncIterable<Buffer | string>,
  file: string,
  verifier: AuditVerifier,
  onBytes?: (n: number) => void,
  pool?: ScanPool,
  spare?: ArrayBuffer[],
): Promise<void> {
  verifier.beginFile(file);
  let tail: Buffer | undefined;
  let lineNo = 1;
  // Chunks in file order, scanned (here, or back from a worker) or not yet.
  const queue: Array<{ scanned?: ScannedChunk; failed?: unknown; owned: boolean; done?: Promise<void> }> = [];
  /** Applies the scanned chunks at the head of the queue; with `wait`, waits for the first one first. */
  const apply = async (wait = false): Promise<void> => {
    if (wait && queue[0].scanned === undefined && queue[0].failed === undefined) await queue[0].done;
    while (queue.length > 0 && (queue[0].scanned !== undefined || queue[0].failed !== undefined)) {
      const { scanned, failed, owned } = queue.shift()!;
      if (scanned === undefined) throw failed;
      lineNo += verifier.addScan(scanned.chunk, scanned.scan, file, lineNo);
      if (owned && spare !== undefined && spare.length < SPARE_BUFFERS) spare.push(scanned.chunk.buffer as ArrayBuffer);
    }
  };
  for await (const { chunk, piece, tail: last } of wholeLineChunks(stream, onBytes)) {
    if (last) {
      tail = chunk;
      break;
    }
    // the whole of a buffer this module read: it can move to a worker and be read into again
    const owned = piece !== undefined && OWNED.has(piece);
    if (pool !== undefined && !pool.busy(SHARE_DEPTH)) {
      const entry: (typeof queue)[number] = { owned };
      entry.done = pool.scan(chunk, owned).then(
        r => void (entry.scanned = r),
        err => void (entry.failed = err ?? new Error('an audit scan worker failed')),
      );
      queue.push(entry);
    } else {
      queue.push({ scanned: { chunk, scan: verifier.chunkScanner(chunk) }, owned });
    }
    await apply();
    // memory stays bounded: past MAX_IN_FLIGHT chunks, wait for the oldest
    while (queue.length > MAX_IN_FLIGHT) await apply(true);
  }
  while (queue.length > 0) await apply(true);
  if (tail !== undefined) verifier.addLine(tail.toString('utf8'), file, lineNo, true);
}

/** Chunks read and not yet applied, at most (each up to 4 MiB and a line). */
const MAX_IN_FLIGHT = 8;
/** This thread scans a chunk itself when every worker has this many pending (or none has started yet). */
const SHARE_DEPTH = 2;

/** Chunks read by {@link readLineChunks}: each owns its memory, so it can move to a worker without a copy. */
const OWNED = new WeakSet<Buffer>();
/** Read buffers kept for reuse (fresh ones cost page faults as they are first filled). */
const SPARE_BUFFERS = 10;

/**
 * Reads a file in chunks of whole lines (the last chunk may end without a
 * newline), each in memory of its own: a buffer from `spare` when one is
 * large enough, else a new one. The next read is under way while the caller
 * works on a chunk.
 */
export async function* readLineChunks(path: string, onBytes?: (n: number) => void, size = 1 << 22, spare?: ArrayBuffer[]): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  /** Starts reading the next bytes into a buffer that begins with `carry` (copied now). */
  const readAfter = (carry: Buffer): Promise<{ buf: Buffer; filled: number; bytesRead: number }> => {
    // `carry` views the chunk being yielded, whose memory may move to a worker meanwhile: use it now only
    const carried = carry.length;
    const need = carried + size;
    const reuse = spare?.pop();
    const buf = reuse !== undefined && reuse.byteLength >= need ? Buffer.from(reuse, 0, need) : Buffer.allocUnsafeSlow(need);
    carry.copy(buf, 0);
    const read = fh.read(buf, carried, size, null).then(({ bytesRead }) => ({ buf, filled: carried + bytesRead, bytesRead }));
    read.catch(() => undefined); // a failure is rethrown where it is awaited, not reported as unhandled meanwhile
    return read;
  };
  let next: ReturnType<typeof readAfter> | undefined = readAfter(Buffer.alloc(0));
  try {
    for (;;) {
      const { buf, filled, bytesRead } = await next;
      next = undefined;
      onBytes?.(bytesRead);
      if (bytesRead === 0) {
        if (filled > 0) yield buf.subarray(0, filled);
        return;
      }
      const cut = buf.lastIndexOf(10, filled - 1);
      next = readAfter(buf.subarray(cut + 1, filled)); // no newline yet (cut = -1): all of it is carried
      if (cut < 0) continue;
      const chunk = buf.subarray(0, cut + 1);
      OWNED.add(chunk);
      yield chunk;
    }
  } finally {
    await next?.catch(() => undefined);
    await fh.close();
  }
}

function openFile(path: string, onBytes?: (n: number) => void, spare?: ArrayBuffer[]): AsyncIterable<Buffer> {
  return readLineChunks(path, onBytes, undefined, spare);
}

/**
 * Reads checkpoint records (JSONL or OTLP JSON lines) from a file held
 * elsewhere: every checkpoint span's claim and signature.
 */
export async function readCheckpointFile(path: string): Promise<ExternalCheckpoint[]> {
  const out: ExternalCheckpoint[] = [];
  const onLine = (line: string, lineNo: number): void => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new AuditInputError(`${path}:${lineNo}: not valid JSON`);
    }
    if (!isObject(parsed)) throw new AuditInputError(`${path}:${lineNo}: not a JSON object`);
    if ('resourceSpans' in parsed) {
      for (const item of recordsFromOtlpJson(parsed)) {
        if (!isRebuildProblem(item) && item.checkpoint !== undefined && item.checkpoint !== 'malformed') {
          out.push({ ...item.checkpoint, source: `${path}:${lineNo}` });
        }
      }
      return;
    }
    const span = parsed.span;
    if (typeof parsed.chain_id === 'string' && isObject(span) && span.name === CHECKPOINT_SPAN_NAME) {
      const cp = checkpointFromAttributes(parsed.chain_id, span.attributes);
      if (cp !== 'malformed') out.push({ ...cp, source: `${path}:${lineNo}` });
    }
  };
  await statOrThrow(path);
  await forEachLine(openFile(path), onLine);
  return out;
}

async function statOrThrow(path: string): Promise<number> {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new AuditInputError(`${path}: not a file`);
    return st.size;
  } catch (err) {
    if (err instanceof AuditInputError) throw err;
    throw new AuditInputError(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** An input of {@link verifyAuditFiles} that is not a file path: a byte stream and the name reports give it. */
export interface AuditInputStream {
  readonly name: string;
  readonly stream: AsyncIterable<Buffer | string>;
}

/** Options of {@link verifyAuditFiles}. */
export interface VerifyAuditFilesOptions extends AuditVerifyOptions {
  /**
   * Worker threads that hash in parallel with this one: 0 for none. By
   * default, one less than the machine's cores (at most 4) when the input is
   * over 16 MB, else none. This thread reads, applies the results in order
   * and scans chunks itself while the workers are busy or still starting.
   */
  workers?: number | undefined;
  /** Files of checkpoints held elsewhere (JSONL records or OTLP JSON), read before the input. */
  checkpointFiles?: readonly string[] | undefined;
  /** Called as bytes are read from file paths: (read so far, total of all files). */
  onProgress?: ((bytesRead: number, totalBytes: number) => void) | undefined;
}

/**
 * Verifies audit files (JSONL or OTLP JSON, auto-detected per line), read
 * in the order given: paths, or streams such as standard input or a
 * decompressed archive ({@link AuditInputStream}). Throws
 * {@link AuditInputError} for a file that cannot be read; tampering is in
 * the report, never thrown.
 */
export async function verifyAuditFiles(inputs: readonly (string | AuditInputStream)[], options: VerifyAuditFilesOptions = {}): Promise<AuditVerifyReport> {
  let total = 0;
  for (const p of inputs) if (typeof p === 'string') total += await statOrThrow(p);
  const checkpoints: ExternalCheckpoint[] = [...(options.checkpoints ?? [])];
  for (const f of options.checkpointFiles ?? []) checkpoints.push(...(await readCheckpointFile(f)));
  const verifier = new AuditVerifier({ ...options, checkpoints });
  let read = 0;
  const onBytes = options.onProgress ? (n: number) => options.onProgress!((read += n), total) : undefined;
  const workers = options.workers ?? (total > 16 * 2 ** 20 ? Math.min(4, availableParallelism() - 1) : 0);
  let pool: ScanPool | undefined;
  try {
    pool = workers > 0 ? new ScanPool(workers, options.hmacKey) : undefined;
  } catch {
    pool = undefined; // no worker threads here (a restricted runtime): hash on this thread
  }
  const spare: ArrayBuffer[] = [];
  try {
    for (const input of inputs) {
      const name = typeof input === 'string' ? input : input.name;
      try {
        if (typeof input === 'string') await verifyAuditStream(openFile(input, onBytes, spare), name, verifier, undefined, pool, spare);
        else await verifyAuditStream(input.stream, name, verifier, undefined, pool);
      } catch (err) {
        if (err instanceof AuditInputError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== undefined) throw new AuditInputError(`${name}: ${code}`);
        throw err;
      }
    }
  } finally {
    await pool?.close();
  }
  return verifier.finish();
}

/** Verifies lines in memory (a file's content split on newlines, or `InMemoryAuditSink.lines()`). */
export function verifyAuditLines(lines: Iterable<string>, options: AuditVerifyOptions = {}, file = '(memory)'): AuditVerifyReport {
  let text = '';
  for (const line of lines) text += line + '\n';
  return verifyAuditText(text, options, file);
}

/** Verifies a whole text (e.g. a file's content): the unterminated last line, if any, may be a torn line. */
export function verifyAuditText(text: string, options: AuditVerifyOptions = {}, file = '(memory)'): AuditVerifyReport {
  const verifier = new AuditVerifier(options);
  verifier.beginFile(file);
  const cut = text.lastIndexOf('\n') + 1;
  let lines = 0;
  if (cut > 0) {
    const chunk = Buffer.from(text.slice(0, cut));
    lines = verifier.addScan(chunk, verifier.chunkScanner(chunk), file, 1);
  }
  if (cut < text.length) verifier.addLine(text.slice(cut), file, lines + 1, true);
  return verifier.finish();
}
