/**
 * The audit chain verifier: reads JSONL audit files and OTLP JSON (the
 * Collector's `file` exporter, one `TracesData` object per line), streaming
 * in bounded memory, and reports per chain whether it is intact, and on
 * failure the first bad record with its file, line and reason.
 *
 * - Lines are auto-detected: a JSONL record (`{"chain_id":…,"hash":…}`) or
 *   an OTLP JSON object (`{"resourceSpans":[…]}`), whose audit spans are
 *   rebuilt into records (`audit-otlp-json.ts`).
 * - Chains may be interleaved (several chain ids). JSONL records of a
 *   chain must come in seq order; OTLP records may come in any order and
 *   are held only until the gap before them fills (at most
 *   `maxBuffered` per chain).
 * - Fast path: a line whose body is canonical JSON (as the writer emits it)
 *   is hashed as it stands, without parsing. Any other line is decoded
 *   (UTF-8, strictly), parsed strictly (no duplicate member, no number
 *   parsers disagree on, bounded depth) and its body re-canonicalised
 *   (RFC 8785), so a re-serialised but equal file (other key order,
 *   whitespace, escapes) still verifies. The fast path accepts nothing the
 *   slow path rejects.
 * - Bounded: a line longer than `maxRecordBytes` is skipped in bounded
 *   memory and reported; nesting beyond `maxDepth` is reported; any input
 *   gets a verdict with file, line and reason, never a crash.
 * - Lineage: a chain naming a predecessor (`previous`, the run before it in
 *   the same file) needs that predecessor in the input, anchored, or waived
 *   (`allowMissingPredecessor`). Two records of one chain with the same seq
 *   that both link, or two chains continuing one head, are a `fork`.
 *   `expectedChains` reports a chain spliced in from elsewhere.
 * - HMAC chains: the seq-0 record names its key id. Verified without a key
 *   such a chain is reported as failed with reason `missing key` (its hashes
 *   cannot be checked; it is never reported valid). Verified with a key,
 *   a chain that is not keyed fails with `wrong key` (anyone can recompute a
 *   plain chain, so accepting it would let a forger strip the key).
 * - Seals (format 1: checkpoints) in the chain are checked against the head
 *   they claim and, with a public key, their Ed25519 signature. A chain that
 *   promised seals (`seal_every` on seq 0), or any chain when a public key is
 *   given, must end with a seal or be continued by a later run: else its
 *   tail may have been cut (`unsealed tail`, waived for a live file by
 *   `allowUnsealedTail`). Seals held elsewhere and heads obtained out of band
 *   prove truncation and rewrites of what follows the last seal in the file.
 *
 * @module
 */
import { fstatSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { availableParallelism } from 'node:os';
import type { KeyObject } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { CanonicalizationError, isJsonObject as isObject } from '../patterns/audit/audit-canonical.js';
import { GENESIS_HASH, canonicalBody, chainHash, verifySeal } from '../patterns/audit/audit-record.js';
import type { ChainHead, SealClaim } from '../patterns/audit/audit-record.js';
import { isRebuildProblem, recordsFromOtlpJson, sealFromAttributes } from '../patterns/audit/audit-otlp-json.js';
import type { SealAttributes } from '../patterns/audit/audit-otlp-json.js';
import { DEFAULT_MAX_DEPTH, strictJsonProblem } from '../patterns/audit/audit-strict-json.js';
import { ScanPool, localChunkScanner } from './audit-verify-scan.js';
import { FdReadError, readFdBlocks } from './audit-verify-read.js';
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
  /** A second, different record with a seq already taken that does not link to the chain. */
  | 'inserted'
  /** Two histories: a second record with a taken seq that links to the record before, or two chains continuing one head. */
  | 'fork'
  /** The chain ends before a head proven by a seal held elsewhere or an expected head. */
  | 'truncated'
  /** An expected chain is not in the input at all. */
  | 'missing chain'
  /** A chain that is not expected (see `expectedChains`), nor continues one that is: spliced in. */
  | 'unexpected chain'
  /** The chain continues a predecessor that is not in the input, not anchored and not waived. */
  | 'missing predecessor'
  /** A seal's Ed25519 signature does not verify with the public key. */
  | 'bad signature'
  /** A seal record lacks part of its claim, claims a later head, or is unsigned in a chain without an HMAC key. */
  | 'bad seal'
  /** The chain's record at a seal's or expected head's seq has another hash (the chain was rewritten). */
  | 'head mismatch'
  /** More records than the chain's seal policy allows follow without a seal, or a public key was given and the chain carries no seal. */
  | 'missing seal'
  /** The chain ends after its last seal and no later run continues it: its tail may have been cut (see `allowUnsealedTail`). */
  | 'unsealed tail'
  /** The HMAC key given does not verify the chain, has another id, or the chain is not keyed. */
  | 'wrong key'
  /** The chain is keyed and no HMAC key was given: its hashes cannot be checked. */
  | 'missing key'
  /** The unterminated last line of a file does not parse (a crash mid-write, or a cut). */
  | 'torn line'
  /** A line is neither a record nor OTLP JSON, not strict JSON, not UTF-8, or nested too deep. */
  | 'malformed line'
  /** A line is longer than `maxRecordBytes`: skipped unread. */
  | 'oversized record'
  /** A record cannot be checked (e.g. NaN written as null by a JSON exporter). */
  | 'unverifiable record'
  /** seq 0 names a record format this verifier does not know. */
  | 'unsupported format'
  /** The input holds no audit record at all (see `allowEmpty`). */
  | 'no audit record';

/** Where and why verification failed. */
export interface AuditFailure {
  readonly reason: AuditFailureReason;
  /** The file, as given. */
  readonly file: string;
  /** 1-based line number in that file (0 for the input as a whole). */
  readonly line: number;
  readonly chainId?: string | undefined;
  readonly seq?: number | undefined;
  /** A sentence for humans. */
  readonly detail: string;
}

/** How a chain's tail is covered. */
export type AuditTail =
  /** The last record is a seal. */
  | 'sealed'
  /** A later run's seq 0 names the last record as its predecessor's head. */
  | 'continued'
  /** Records follow the last seal (allowed with `allowUnsealedTail`, or a chain with no seal policy and no public key given). */
  | 'unsealed';

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
  /** The record format named by seq 0 (1 when seq 0 names none; undefined without seq 0). */
  readonly format?: number | undefined;
  /** HMAC key id named by the chain's seq 0, if keyed. */
  readonly keyId?: string | undefined;
  /** The head of the chain this one continues, from its seq 0. */
  readonly previous?: ChainHead | undefined;
  /** How the predecessor was found: in the input, anchored (`--after`, a seal or an expected head), or waived. */
  readonly predecessor?: 'present' | 'anchored' | 'waived' | undefined;
  /** The anchor the input continued, when verification started there instead of at seq 0. */
  readonly anchor?: ChainHead | undefined;
  /** The chain's seal policy from its seq 0: a seal at least every this many records. */
  readonly sealEvery?: number | undefined;
  /** Seals whose head was checked and that are vouched for: signature verified, or unsigned in a chain verified with its HMAC key. */
  readonly sealsVerified: number;
  /** Seals whose head was checked but whose signature was not (no public key given). */
  readonly sealsUnverified: number;
  /** Records after the last seal (all records when none). */
  readonly unsealedRecords: number;
  /** How the tail is covered (undefined when no record verified). */
  readonly tail?: AuditTail | undefined;
  /** Seals and expected heads held elsewhere that this chain matched. */
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
  /**
   * Every failure: the first of each chain and each failing line that
   * belongs to no chain (at most {@link MAX_LINE_FAILURES} of those; see
   * `lineFailuresOmitted`).
   */
  readonly failures: readonly AuditFailure[];
  /** Failing lines beyond the first {@link MAX_LINE_FAILURES}, counted but not listed. */
  readonly lineFailuresOmitted: number;
}

/** A seal held elsewhere (e.g. by an auditor): its claim and Ed25519 signature. */
export interface ExternalSeal {
  readonly claim: SealClaim;
  readonly signature: string;
  /** Where it was read from, for reports. */
  readonly source?: string | undefined;
}

/** @deprecated The format 1 name of {@link ExternalSeal}. */
export type ExternalCheckpoint = ExternalSeal;

/** Options of {@link AuditVerifier} and {@link verifyAuditFiles}. */
export interface AuditVerifyOptions {
  /** The chains' HMAC key. */
  hmacKey?: Buffer | KeyObject | undefined;
  /** Its id: a keyed chain naming another id fails with `wrong key`. */
  hmacKeyId?: string | undefined;
  /**
   * Ed25519 public key to check seal signatures. Given, every chain must
   * carry a seal and end with one (or be continued by a later run).
   */
  publicKey?: KeyObject | undefined;
  /** Heads obtained out of band: the chain must contain this seq with this hash. */
  expectedHeads?: readonly ChainHead[] | undefined;
  /**
   * Where to start a chain whose earlier records are not in the input (a
   * later rotated file alone, say): the input continues this seq with this
   * hash, e.g. the last record of the file before, or a signed seal's
   * head. Without one, such a chain fails with `missing start`. An anchor
   * also vouches for a predecessor: a run whose `previous` is exactly an
   * anchor's head needs no more of that chain.
   */
  anchors?: readonly ChainHead[] | undefined;
  /** Seals held elsewhere (need `publicKey`); a later one than a chain's tail proves truncation. */
  seals?: readonly ExternalSeal[] | undefined;
  /** @deprecated The old name of `seals`. */
  checkpoints?: readonly ExternalSeal[] | undefined;
  /**
   * The chains the input must hold (a manifest): one that is absent is a
   * `missing chain`, and one that is not listed and does not continue a
   * listed one (through `previous`) is an `unexpected chain`.
   */
  expectedChains?: readonly string[] | undefined;
  /** Accept a run whose predecessor is neither in the input nor anchored. @default false */
  allowMissingPredecessor?: boolean | undefined;
  /** Accept chains that end after their last seal (a live file, or a run that crashed last). @default false */
  allowUnsealedTail?: boolean | undefined;
  /** Accept input with no audit record. @default false */
  allowEmpty?: boolean | undefined;
  /** Skip exact duplicates of records (at-least-once OTLP delivery). @default false */
  allowDuplicates?: boolean | undefined;
  /** Out-of-order OTLP records held per chain while waiting for a gap to fill. @default 100000 */
  maxBuffered?: number | undefined;
  /** Longest line read, in bytes; a longer one is skipped in bounded memory and reported. @default 16 MiB */
  maxRecordBytes?: number | undefined;
  /** Deepest nesting of objects and arrays in a line. @default 64 */
  maxDepth?: number | undefined;
}

/** Default of {@link AuditVerifyOptions.maxRecordBytes}: 16 MiB. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 2 ** 20;
/** Failing lines listed in a report; more are only counted. */
export const MAX_LINE_FAILURES = 1000;

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
  format?: number | undefined;
  sealEvery?: number | undefined;
  checkpoint?: SealAttributes | 'malformed' | undefined;
  /** OTLP records: the canonical resource attributes of their resourceSpans. */
  resource?: string | undefined;
  file: string;
  line: number;
  ordinal: number;
}

interface Watch {
  hash: string;
  kind: 'seal' | 'expected head' | 'previous';
  source: string;
}

type Located = AuditFailure & { ordinal: number };

/** Hashes of the most recent records kept per chain (for duplicates and seal heads); the ring starts small. */
const RING = 4096;
const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

const headKey = (h: ChainHead): string => `${h.chainId}\n${h.seq}\n${h.hash}`;

class ChainState {
  expected = 0;
  /** The head's hash; undefined while it is only in the ring's bytes (see {@link advanceFast}). */
  private _head: string | undefined = GENESIS_HASH;
  get head(): string {
    return (this._head ??= this._fromBytes(this.lastSeq % this._ringSeq!.length));
  }
  set head(hash: string) {
    this._head = hash;
  }
  accepted = 0;
  firstSeq = -1;
  lastSeq = -1;
  firstFile = '';
  firstLine = 0;
  firstOrdinal = 0;
  lastFile = '';
  lastLine = 0;
  lastOrdinal = 0;
  keyId: string | undefined;
  previous: ChainHead | undefined;
  format: number | undefined;
  predecessor: 'present' | 'anchored' | 'waived' | undefined;
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
  /** Out-of-order OTLP records (made on first use). */
  buffer: Map<number, Rec> | undefined;
  /** Seqs and hashes of recent records, by seq modulo the size (made on first use: most chains of a fleet are short). */
  private _ringSeq: number[] | undefined;
  /** The hashes as strings; '' for one kept only as bytes in {@link _ringBytes} (the fast path's, made into a string when asked for). */
  private _ringHash: string[] | undefined;
  /** 64 bytes (hex) per ring entry (made on the fast path's first use). */
  private _ringBytes: Uint8Array | undefined;
  private _ringView: DataView | undefined;
  /** Heads to check as the chain passes them (made on first use). */
  watches: Map<number, Watch[]> | undefined;
  sealEvery: number | undefined;
  /** sealEvery, or Infinity: the fast path checks the count against it. */
  sealLimit = Infinity;
  sinceSeal = 0;
  /** The last record is a seal that may end the chain: a closing seal (format 2), or a format 1 checkpoint. */
  lastIsSeal = false;
  /** The last record is a seal that does not close the chain (a format 2 interval seal). */
  lastIsOpenSeal = false;
  /** A closing seal was accepted: nothing may follow it. */
  closed = false;
  sealsSeen = 0;
  sealsVerified = 0;
  sealsUnverified = 0;
  /** A later run's seq 0 names this chain's last record. */
  continued = false;
  externalVerified = 0;
  duplicatesIgnored = 0;
  readonly chainId: string;
  constructor(chainId: string) {
    this.chainId = chainId;
  }

  hashAt(seq: number): string | undefined {
    if (seq === this.lastSeq) return this.head;
    if (this._ringSeq === undefined) return undefined;
    const i = seq % this._ringSeq.length;
    if (this._ringSeq[i] !== seq) return undefined;
    return this._ringHash![i] || (this._ringHash![i] = this._fromBytes(i));
  }

  private _fromBytes(i: number): string {
    return Buffer.from(this._ringBytes!.buffer, this._ringBytes!.byteOffset + 64 * i, 64).toString('latin1');
  }

  /** The ring's slot for `seq` (the ring grows up to {@link RING} as the chain does). */
  private _slot(seq: number): number {
    if (this._ringSeq === undefined) {
      this._ringSeq = [-1, -1, -1, -1];
      this._ringHash = ['', '', '', ''];
    }
    let size = this._ringSeq.length;
    if (size < RING && this.accepted > size) {
      const oldSeq = this._ringSeq;
      const oldHash = this._ringHash!;
      const oldBytes = this._ringBytes;
      size *= 4;
      this._ringSeq = new Array<number>(size).fill(-1);
      this._ringHash = new Array<string>(size).fill('');
      if (oldBytes !== undefined) this._ringBytes = new Uint8Array(64 * size);
      for (let j = 0; j < oldSeq.length; j++) {
        if (oldSeq[j] < 0) continue;
        const k = oldSeq[j] % size;
        this._ringSeq[k] = oldSeq[j];
        this._ringHash[k] = oldHash[j];
        if (oldBytes !== undefined && oldHash[j] === '') this._ringBytes!.set(oldBytes.subarray(64 * j, 64 * j + 64), 64 * k);
      }
      if (oldBytes !== undefined) this._ringView = new DataView(this._ringBytes!.buffer);
    }
    return seq % size;
  }

  /** Remembers a verified record's hash. */
  remember(seq: number, hash: string): void {
    const i = this._slot(seq);
    this._ringSeq![i] = seq;
    this._ringHash![i] = hash;
  }

  /**
   * The fast path's step: `seq`, whose hash is the 64 bytes at `at` in a
   * chunk (`view` over it), is the new head. The bytes are copied; a string
   * is made only if the hash is asked for.
   */
  advanceFast(seq: number, view: DataView, at: number): void {
    const i = this._slot(seq);
    if (this._ringBytes === undefined) {
      this._ringBytes = new Uint8Array(64 * this._ringSeq!.length);
      this._ringView = new DataView(this._ringBytes.buffer);
    }
    const ring = this._ringView!;
    for (let k = 0; k < 64; k += 4) ring.setInt32(64 * i + k, view.getInt32(at + k));
    this._ringSeq![i] = seq;
    this._ringHash![i] = '';
    this.lastSeq = seq;
    this._head = undefined;
  }

  watch(seq: number, w: Watch): void {
    this.watches ??= new Map();
    const list = this.watches.get(seq);
    if (list) list.push(w);
    else this.watches.set(seq, [w]);
  }
}

/**
 * The streaming verifier: feed it lines with {@link addLine} (or whole
 * streams with {@link verifyAuditStream}), then call {@link finish}.
 * Memory stays bounded: per chain a ring of recent hashes and, for OTLP
 * input, the records waiting for a gap to fill.
 */
export class AuditVerifier {
  private readonly _chains = new Map<string, ChainState>();
  private readonly _lineFailures: Located[] = [];
  private _lineFailuresOmitted = 0;
  private readonly _options: AuditVerifyOptions;
  private readonly _maxBuffered: number;
  private readonly _maxDepth: number;
  /** Longest line read, in bytes. */
  readonly maxRecordBytes: number;
  private readonly _scanner: ChunkScanner;
  private readonly _files: string[] = [];
  /** Heads vouched for out of band (anchors, expected heads, seals held elsewhere): predecessors need no more. */
  private readonly _provenHeads = new Set<string>();
  /** `chain\nseq` of each predecessor head → the chain that continues it. */
  private readonly _successors = new Map<string, string>();
  private _ordinal = 0;
  private _lineCount = 0;
  private _recordCount = 0;

  constructor(options: AuditVerifyOptions = {}) {
    this._options = options;
    this._maxBuffered = options.maxBuffered ?? 100_000;
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this._maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    if (!Number.isSafeInteger(this.maxRecordBytes) || this.maxRecordBytes < 256) {
      throw new RangeError(`maxRecordBytes must be an integer >= 256, not ${String(options.maxRecordBytes)}`);
    }
    if (!Number.isSafeInteger(this._maxDepth) || this._maxDepth < 8 || this._maxDepth > 10_000) {
      throw new RangeError(`maxDepth must be an integer from 8 to 10000, not ${String(options.maxDepth)}`);
    }
    this._scanner = localChunkScanner(options.hmacKey, this._maxDepth);
    const seals = [...(options.seals ?? []), ...(options.checkpoints ?? [])];
    if (seals.length && options.publicKey === undefined) {
      throw new TypeError('seals held elsewhere need the public key to check their signatures');
    }
    for (const anchor of options.anchors ?? []) {
      const c = this._chain(anchor.chainId);
      if (c.anchor !== undefined) throw new TypeError(`two anchors for chain ${anchor.chainId}`);
      c.anchor = anchor;
      c.expected = anchor.seq + 1;
      c.head = anchor.hash;
      c.remember(anchor.seq, anchor.hash);
      this._provenHeads.add(headKey(anchor));
    }
    for (const head of options.expectedHeads ?? []) {
      this._chain(head.chainId).watch(head.seq, { hash: head.hash, kind: 'expected head', source: 'expected head' });
      this._provenHeads.add(headKey(head));
    }
    for (const cp of seals) {
      const source = cp.source ?? 'seal held elsewhere';
      if (!verifySeal(cp.claim, cp.signature, options.publicKey!)) {
        this._lineFailures.push({
          reason: 'bad signature',
          file: source,
          line: 0,
          chainId: cp.claim.chainId,
          seq: cp.claim.headSeq,
          detail: `the seal held elsewhere for seq ${cp.claim.headSeq} of chain ${cp.claim.chainId} has a bad signature`,
          ordinal: -1,
        });
        continue;
      }
      this._chain(cp.claim.chainId).watch(cp.claim.headSeq, { hash: cp.claim.headHash, kind: 'seal', source });
      this._provenHeads.add(headKey({ chainId: cp.claim.chainId, seq: cp.claim.headSeq, hash: cp.claim.headHash }));
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

  private _lineFailure(f: Located): void {
    if (this._lineFailures.length < MAX_LINE_FAILURES) this._lineFailures.push(f);
    else this._lineFailuresOmitted++;
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
    /** The hash of the line before, when it was made a string; else it is at the end of the line before. */
    let lastHash: string | undefined = '';
    let lastEnd = -1;
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let run: ChainState | undefined; // the chain of the line before, when it was accepted
    const max = this.maxRecordBytes;
    for (let i = 0; i < scan.n; i++) {
      this._lineCount++;
      const ordinal = ++this._ordinal;
      const end = scan.ends[i];
      if (end - scan.starts[i] > max) {
        run = undefined;
        this._oversized(file, firstLineNo + i, end - scan.starts[i], ordinal);
        continue;
      }
      if (scan.status[i] === 0) {
        this._recordCount++;
        const q = scan.chainEnds[i];
        const seq = scan.seqs[i];
        // The common case, without a record object: the scanner found this line hash-valid and
        // linked byte for byte to the line before (same chain, seq + 1, prev_hash = its hash),
        // and that line was accepted as the chain's head. Nothing else can be pending.
        if (scan.linked[i] === 1 && run !== undefined && run.expected === seq && run.failure === undefined && !run.closed &&
            run.pendingJump === undefined && run.pendingKey === undefined && run.buffer === undefined && run.watches === undefined &&
            run.sinceSeal < run.sealLimit) {
          lastHash = undefined;
          lastEnd = end;
          run.accepted++;
          run.advanceFast(seq, view, end - 66);
          run.expected = seq + 1;
          run.sinceSeal++;
          run.lastIsSeal = false;
          run.lastIsOpenSeal = false;
          run.lastFile = file;
          run.lastLine = firstLineNo + i;
          run.lastOrdinal = ordinal;
          continue;
        }
        let prevHash: string;
        if (scan.linked[i] === 1) {
          // same chain as the line before, whose hash is this prev_hash (compared byte for byte)
          prevHash = lastHash ?? chunk.toString('latin1', lastEnd - 66, lastEnd - 2);
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
        const start = scan.starts[i];
        if (!isUtf8(chunk.subarray(start, end))) {
          this._lineFailure({ reason: 'malformed line', file, line: firstLineNo + i, detail: 'not valid UTF-8', ordinal });
          continue;
        }
        this._slowLine(chunk.toString('utf8', start, end), file, firstLineNo + i, ordinal, false);
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
    if (Buffer.byteLength(line) > this.maxRecordBytes) {
      this._oversized(file, lineNo, Buffer.byteLength(line), ordinal);
      return;
    }
    this._slowLine(line, file, lineNo, ordinal, unterminated);
  }

  /** The bytes of an unterminated last line (checked as UTF-8 first). */
  addTail(bytes: Buffer, file: string, lineNo: number): void {
    if (!isUtf8(bytes)) {
      this._lineCount++;
      this._lineFailure({ reason: 'torn line', file, line: lineNo, detail: `the last line of ${file} is cut short (no newline, not valid UTF-8): a crash mid-write or a truncation`, ordinal: ++this._ordinal });
      return;
    }
    this.addLine(bytes.toString('utf8'), file, lineNo, true);
  }

  /** A line longer than `maxRecordBytes`, skipped unread (`bytes` long, or at least that). */
  addOversized(file: string, lineNo: number, bytes: number): void {
    this._lineCount++;
    this._oversized(file, lineNo, bytes, ++this._ordinal);
  }

  private _oversized(file: string, lineNo: number, bytes: number, ordinal: number): void {
    this._lineFailure({
      reason: 'oversized record',
      file,
      line: lineNo,
      detail: `the line is ${bytes.toLocaleString('en-US')} bytes or more, over the ${this.maxRecordBytes.toLocaleString('en-US')}-byte limit (maxRecordBytes, --max-record-size): skipped unread`,
      ordinal,
    });
  }

  private _slowLine(line: string, file: string, lineNo: number, ordinal: number, unterminated: boolean): void {
    try {
      this._slowLineUnguarded(line, file, lineNo, ordinal, unterminated);
    } catch (err) {
      // hostile input gets a verdict, never a crash
      this._lineFailure({ reason: 'malformed line', file, line: lineNo, detail: `cannot be checked: ${err instanceof Error ? err.message : String(err)}`, ordinal });
    }
  }

  private _slowLineUnguarded(line: string, file: string, lineNo: number, ordinal: number, unterminated: boolean): void {
    if (line.trim() === '') return;
    const bad = strictJsonProblem(line, this._maxDepth);
    if (bad !== undefined) {
      const grammar = /not JSON|unexpected end|unterminated|bad escape|bad \\u|control character|text after|malformed number/.test(bad.message);
      this._lineFailure(
        unterminated && grammar
          ? { reason: 'torn line', file, line: lineNo, detail: `the last line of ${file} is cut short (no newline, not valid JSON): a crash mid-write or a truncation`, ordinal }
          : { reason: 'malformed line', file, line: lineNo, detail: `${grammar ? 'not valid JSON' : 'not strict JSON'}: ${bad.message} (at character ${bad.offset + 1}${bad.message.startsWith('nested') ? ', maxDepth, --max-depth' : ''})`, ordinal },
      );
      return;
    }
    const parsed: unknown = JSON.parse(line);
    if (!isObject(parsed)) {
      this._lineFailure({ reason: 'malformed line', file, line: lineNo, detail: 'not a JSON object', ordinal });
      return;
    }
    if ('resourceSpans' in parsed) {
      let items;
      try {
        items = recordsFromOtlpJson(parsed);
      } catch (err) {
        this._lineFailure({ reason: 'malformed line', file, line: lineNo, detail: `not valid OTLP JSON: ${(err as Error).message}`, ordinal });
        return;
      }
      for (const item of items) {
        if (isRebuildProblem(item)) {
          const reason: AuditFailureReason = item.unverifiable ? 'unverifiable record' : 'altered record';
          const f: Located = { reason, file, line: lineNo, chainId: item.chainId, seq: item.seq, detail: item.message, ordinal };
          if (item.chainId !== undefined) this._failChain(this._chain(item.chainId), f);
          else this._lineFailure(f);
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
          format: item.format,
          sealEvery: item.sealEvery,
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
      this._lineFailure({ reason: 'malformed line', file, line: lineNo, detail: 'neither an audit record nor OTLP JSON', ordinal });
      return;
    }
    this._recordCount++;
    const { seq, prev_hash: prevHash, hash, key_id: keyId, previous, span, format, seal_every: sealEvery } = parsed;
    const bad2 = (detail: string, reason: AuditFailureReason = 'altered record'): void =>
      this._failChain(this._chain(chainId), { reason, file, line: lineNo, chainId, seq: typeof seq === 'number' ? seq : undefined, detail, ordinal });
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return bad2('the record has no valid seq');
    if (typeof prevHash !== 'string' || typeof hash !== 'string') return bad2('the record lacks prev_hash or hash');
    if (seq !== 0 && (keyId !== undefined || previous !== undefined || format !== undefined || sealEvery !== undefined)) {
      return bad2('key_id, previous, format and seal_every belong on seq 0 only');
    }
    if (keyId !== undefined && typeof keyId !== 'string') return bad2('key_id is not a string');
    if (format !== undefined && format !== 2) {
      // a format this verifier does not know, if the record is intact; else an altered one
      let intact = false;
      try {
        intact = this._hash(prevHash, canonicalBody(parsed)) === hash;
      } catch {
        intact = false;
      }
      return intact
        ? bad2(`seq 0 names format ${JSON.stringify(format)}; this verifier knows formats 1 and 2`, 'unsupported format')
        : bad2('the record does not match its hash');
    }
    if (sealEvery !== undefined && (format === undefined || typeof sealEvery !== 'number' || !Number.isSafeInteger(sealEvery) || sealEvery < 1)) {
      return bad2('seal_every is not a positive integer of a format 2 record');
    }
    let prev: ChainHead | undefined;
    if (previous !== undefined) {
      if (!isObject(previous) || typeof previous.chain_id !== 'string' || typeof previous.hash !== 'string' || typeof previous.seq !== 'number' || !Number.isSafeInteger(previous.seq)) {
        return bad2('previous is malformed');
      }
      prev = { chainId: previous.chain_id, seq: previous.seq, hash: previous.hash };
    }
    let body: string;
    try {
      body = canonicalBody(parsed);
    } catch (err) {
      if (err instanceof CanonicalizationError) return bad2(`the record has no canonical form: ${err.message}`);
      throw err;
    }
    const checkpoint = isObject(span) ? sealFromAttributes(chainId, span.name, span.attributes) : undefined;
    this._process({
      chainId,
      seq,
      prevHash,
      hash,
      hashOk: this._hash(prevHash, body) === hash,
      ordered: true,
      keyId: keyId as string | undefined,
      previous: prev,
      format: format as number | undefined,
      sealEvery: sealEvery as number | undefined,
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
    c.buffer = undefined;
  }

  private _at(rec: Rec, reason: AuditFailureReason, detail: string): Located {
    return { reason, file: rec.file, line: rec.line, chainId: rec.chainId, seq: rec.seq, detail, ordinal: rec.ordinal };
  }

  private _atFirst(c: ChainState, reason: AuditFailureReason, detail: string): Located {
    return { reason, file: c.firstFile, line: c.firstLine, chainId: c.chainId, seq: c.firstSeq, detail, ordinal: c.firstOrdinal };
  }

  /** At the chain's last record; `atEnd` orders it after every line (a verdict on the chain as a whole). */
  private _atLast(c: ChainState, reason: AuditFailureReason, detail: string, atEnd = false): Located {
    return { reason, file: c.lastFile, line: c.lastLine, chainId: c.chainId, seq: c.lastSeq, detail, ordinal: atEnd ? Number.MAX_SAFE_INTEGER - 1 : c.lastOrdinal + 0.5 };
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
    if (rec.seq === 0 && rec.seq === c.expected && !this._keyChecks(c, rec)) return;
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
        const before = rec.seq === 0 ? GENESIS_HASH : c.hashAt(rec.seq - 1);
        if (before !== undefined && rec.prevHash === before) {
          return this._failChain(c, this._at(rec, 'fork', `a second record with seq ${rec.seq} that also follows seq ${rec.seq - 1}: the chain id has two histories`));
        }
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
        c.buffer ??= new Map();
        const held = c.buffer.get(rec.seq);
        if (held !== undefined) {
          if (held.hash !== rec.hash || !rec.hashOk || !held.hashOk) {
            const forked = held.hashOk && rec.hashOk && held.prevHash === rec.prevHash;
            return this._failChain(c, this._at(rec, forked ? 'fork' : 'inserted', forked ? `two records with seq ${rec.seq} follow the same record: the chain id has two histories` : `two different records with seq ${rec.seq}`));
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
    while (!c.failure && !c.pendingKey && c.buffer !== undefined && c.buffer.size > 0) {
      const next = c.buffer.get(c.expected);
      if (next === undefined) break;
      c.buffer.delete(c.expected);
      this._accept(c, next);
    }
    if (c.buffer !== undefined && c.buffer.size === 0) c.buffer = undefined;
  }

  private _failGap(c: ChainState): void {
    let first: Rec | undefined;
    for (const r of c.buffer?.values() ?? []) if (first === undefined || r.seq < first.seq) first = r;
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
      c.format = rec.format ?? 1;
      c.sealEvery = rec.sealEvery;
      c.sealLimit = rec.sealEvery ?? Infinity;
    } else if (rec.resource !== undefined && c.resource !== undefined && rec.resource !== c.resource) {
      return this._failChain(c, this._at(rec, 'altered record', `the resource attributes differ from those bound by ${c.anchor ? `the first record after the anchor` : 'seq 0'}`));
    } else if (c.anchor !== undefined && c.resource === undefined) {
      c.resource = rec.resource; // seq 0 is not in the input: the segment's records must at least agree
    }
    if (rec.prevHash !== c.head) {
      return this._failChain(c, this._at(rec, 'broken link', `prev_hash is not the hash of seq ${rec.seq - 1}`));
    }
    if (c.closed) {
      return this._failChain(c, this._at(rec, 'inserted', `a record after the chain's closing seal (the run had shut down)`));
    }
    c.verifiedAny = true;
    c.head = rec.hash;
    c.expected = rec.seq + 1;
    if (c.firstSeq < 0) {
      c.firstSeq = rec.seq;
      c.firstFile = rec.file;
      c.firstLine = rec.line;
      c.firstOrdinal = rec.ordinal;
    }
    c.lastSeq = rec.seq;
    c.accepted++;
    c.lastFile = rec.file;
    c.lastLine = rec.line;
    c.lastOrdinal = rec.ordinal;
    c.remember(rec.seq, rec.hash);
    const watches = c.watches?.get(rec.seq);
    if (watches) {
      c.watches!.delete(rec.seq);
      if (c.watches!.size === 0) c.watches = undefined;
      for (const w of watches) {
        if (w.hash !== rec.hash) {
          return this._failChain(c, this._at(rec, 'head mismatch', `seq ${rec.seq} has another hash than the ${w.kind} (${w.source}): the chain was rewritten`));
        }
        if (w.kind !== 'previous') c.externalVerified++;
      }
    }
    if (rec.previous !== undefined) this._linkPrevious(c, rec);
    if (c.failure) return;
    if (rec.checkpoint !== undefined) {
      this._checkSeal(c, rec, rec.checkpoint);
      if (c.failure) return;
      c.sealsSeen++;
      c.sinceSeal = 0;
      // a format 2 seal ends the chain only when it is the closing one; a format 1 checkpoint could not say
      const closing = rec.checkpoint !== 'malformed' && (rec.checkpoint.claim.final === true || rec.checkpoint.format1 === true);
      c.lastIsSeal = closing;
      c.lastIsOpenSeal = !closing;
      if (rec.checkpoint !== 'malformed' && rec.checkpoint.claim.final === true) c.closed = true;
    } else {
      c.sinceSeal++;
      c.lastIsSeal = false;
      c.lastIsOpenSeal = false;
      if (c.sinceSeal > c.sealLimit) {
        this._failChain(c, this._at(rec, 'missing seal', `${c.sinceSeal} records without a seal, but the chain's seq 0 promises one at least every ${c.sealEvery}: a seal was removed`));
      }
    }
  }

  private _linkPrevious(c: ChainState, rec: Rec): void {
    const p = rec.previous!;
    if (p.chainId === c.chainId) return this._failChain(c, this._at(rec, 'broken link', 'the chain names itself as its previous chain'));
    const key = `${p.chainId}\n${p.seq}`;
    const other = this._successors.get(key);
    if (other !== undefined && other !== c.chainId) {
      return this._failChain(c, this._at(rec, 'fork', `chains ${other} and ${c.chainId} both continue chain ${p.chainId} at seq ${p.seq}: the history forks`));
    }
    this._successors.set(key, c.chainId);
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

  private _checkSeal(c: ChainState, rec: Rec, cp: SealAttributes | 'malformed'): void {
    if (cp === 'malformed') return this._failChain(c, this._at(rec, 'bad seal', 'a seal span without a complete claim'));
    const claim = cp.claim;
    if (claim.headSeq >= rec.seq) return this._failChain(c, this._at(rec, 'bad seal', `the seal claims seq ${claim.headSeq}, not before it`));
    const h = c.hashAt(claim.headSeq);
    if (h !== undefined && h !== claim.headHash) {
      return this._failChain(c, this._at(rec, 'head mismatch', `the seal's head hash is not the hash of seq ${claim.headSeq}`));
    }
    if (cp.signature === undefined) {
      // unsigned: only the chain's HMAC vouches for it
      if (c.keyId === undefined || this._options.hmacKey === undefined) {
        return this._failChain(c, this._at(rec, 'bad seal', 'an unsigned seal in a chain not verified with an HMAC key: anyone could have made it'));
      }
      c.sealsVerified++;
      return;
    }
    if (this._options.publicKey === undefined) {
      c.sealsUnverified++;
      return;
    }
    if (!verifySeal(claim, cp.signature, this._options.publicKey)) {
      return this._failChain(c, this._at(rec, 'bad signature', `the seal's signature does not verify (key id ${JSON.stringify(claim.keyId)})`));
    }
    c.sealsVerified++;
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
      } else if (c.pendingKey) {
        this._failChain(c, this._at(c.pendingKey, 'altered record', 'the record does not match its hash (or the HMAC key is wrong)'));
      } else if (c.buffer !== undefined && c.buffer.size > 0) {
        this._failGap(c);
      }
    }
    this._checkLineage();
    for (const c of this._chains.values()) {
      if (c.failure || c.watches === undefined) continue;
      if (c.accepted === 0) {
        let seq: number | undefined;
        let source = '';
        for (const [s, ws] of c.watches) {
          const w = ws.find(x => x.kind !== 'previous');
          if (w) {
            seq = s;
            source = w.source;
            break;
          }
        }
        if (seq !== undefined) {
          this._failChain(c, { reason: 'missing chain', file: '(input)', line: 0, chainId: c.chainId, seq, detail: `chain ${c.chainId} is not in the input (${source})`, ordinal: end });
        }
        continue;
      }
      for (const [seq, ws] of c.watches) {
        if (seq <= c.lastSeq) continue; // too old to compare (left the ring): checked when it was accepted if registered before
        this._failChain(c, this._atLast(c, 'truncated', `the chain ends at seq ${c.lastSeq} (${c.lastFile}:${c.lastLine}) but ${ws[0].source} proves seq ${seq}`));
        break;
      }
    }
    this._checkTails();
    this._checkExpectedChains(end);
    const chains: AuditChainReport[] = [];
    const failures: Located[] = [...this._lineFailures];
    for (const c of this._chains.values()) {
      if (c.accepted === 0 && c.failure === undefined) continue; // only named by a watch or an anchor
      if (c.failure) failures.push(c.failure);
      chains.push({
        chainId: c.chainId,
        valid: c.failure === undefined,
        records: c.accepted,
        firstSeq: c.firstSeq,
        lastSeq: c.lastSeq,
        headHash: c.head,
        format: c.format,
        keyId: c.keyId,
        previous: c.previous,
        predecessor: c.predecessor,
        anchor: c.anchor,
        sealEvery: c.sealEvery,
        sealsVerified: c.sealsVerified,
        sealsUnverified: c.sealsUnverified,
        unsealedRecords: c.sinceSeal,
        tail: c.accepted === 0 ? undefined : c.lastIsSeal ? 'sealed' : c.continued ? 'continued' : 'unsealed',
        externalVerified: c.externalVerified,
        duplicatesIgnored: c.duplicatesIgnored,
        failure: c.failure ? strip(c.failure) : undefined,
      });
    }
    if (this._recordCount === 0 && failures.length === 0 && !this._options.allowEmpty) {
      failures.push({
        reason: 'no audit record',
        file: this._files[0] ?? '(input)',
        line: 0,
        detail: `no audit record in ${this._files.length ? this._files.join(', ') : 'the input'} (${this._lineCount} lines): an emptied or wrong file (allowEmpty, --allow-empty if expected)`,
        ordinal: end,
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
      lineFailuresOmitted: this._lineFailuresOmitted,
    };
  }

  /** Each run's predecessor: present (and not forked past), anchored, or waived. */
  private _checkLineage(): void {
    for (const c of this._chains.values()) {
      const p = c.previous;
      if (p === undefined || c.failure || c.firstSeq !== 0) continue;
      const pc = this._chains.get(p.chainId);
      if (pc !== undefined && pc.accepted > 0) {
        c.predecessor = 'present';
        if (pc.lastSeq === p.seq && pc.head === p.hash) pc.continued = true;
        else if (pc.lastSeq > p.seq && pc.failure === undefined && pc.hashAt(p.seq) === p.hash) {
          this._failChain(c, this._atFirst(c, 'fork', `chain ${p.chainId} goes on past seq ${p.seq} (to seq ${pc.lastSeq}), where this run says it ended: two writers, or records added to the earlier run`));
        }
        // an earlier head that is missing (pc ends before p.seq) fails pc as truncated (its watch)
        continue;
      }
      if (this._provenHeads.has(headKey(p))) {
        c.predecessor = 'anchored';
        continue;
      }
      if (this._options.allowMissingPredecessor) {
        c.predecessor = 'waived';
        continue;
      }
      this._failChain(
        c,
        this._atFirst(
          c,
          'missing predecessor',
          `the run continues chain ${p.chainId} at seq ${p.seq}, which is not in the input: an earlier run was removed, or give it (its file, --after ${p.chainId}:${p.seq}:${p.hash}, or --allow-missing-predecessor)`,
        ),
      );
    }
  }

  /** Chains that promised seals (or all, with a public key) must end with one or be continued. */
  private _checkTails(): void {
    const keyGiven = this._options.publicKey !== undefined;
    for (const c of this._chains.values()) {
      if (c.failure || c.accepted === 0 || c.lastIsSeal || c.continued) continue;
      if (c.sealEvery === undefined && !keyGiven) continue; // no promise, no key: nothing to hold the tail to
      if (c.sealsSeen === 0 && c.sealEvery === undefined) {
        this._failChain(
          c,
          this._atLast(c, 'missing seal', `a public key was given but chain ${c.chainId} carries no seal: its seals were removed and the chain recomputed, or it was never sealed`, true),
        );
        continue;
      }
      if (this._options.allowUnsealedTail) continue;
      const since = c.sealsSeen === 0
        ? 'it has no seal yet'
        : c.lastIsOpenSeal
          ? 'at an interval seal, not its closing one'
          : `${c.sinceSeal} record${c.sinceSeal === 1 ? '' : 's'} after its last seal`;
      this._failChain(
        c,
        this._atLast(
          c,
          'unsealed tail',
          `the chain ends at seq ${c.lastSeq}, ${since}, and no later run continues it: its tail may have been cut (or the writer crashed or is still running: allowUnsealedTail, --allow-unsealed-tail)`,
          true,
        ),
      );
    }
  }

  /** With a manifest: chains absent, and chains spliced in. */
  private _checkExpectedChains(end: number): void {
    const listed = this._options.expectedChains;
    if (listed === undefined) return;
    const expected = new Set(listed);
    const known = new Map<string, boolean>();
    const isKnown = (id: string): boolean => {
      // follow `previous` links (iteratively) to a listed chain
      const path: string[] = [];
      let cur: string | undefined = id;
      let verdict = false;
      while (cur !== undefined) {
        const k = known.get(cur);
        if (k !== undefined) {
          verdict = k;
          break;
        }
        if (expected.has(cur)) {
          verdict = true;
          break;
        }
        if (path.includes(cur) || path.length > 100_000) break;
        path.push(cur);
        cur = this._chains.get(cur)?.previous?.chainId;
      }
      for (const x of path) known.set(x, verdict);
      return verdict;
    };
    for (const c of this._chains.values()) {
      if (c.accepted === 0 || c.failure) continue;
      if (!isKnown(c.chainId)) {
        this._failChain(c, this._atFirst(c, 'unexpected chain', `chain ${c.chainId} is not in the manifest and continues no chain that is: spliced in from elsewhere?`));
      }
    }
    for (const id of expected) {
      const c = this._chains.get(id);
      if (c !== undefined && (c.accepted > 0 || c.failure)) continue;
      if (c?.anchor !== undefined) continue;
      const state = c ?? this._chain(id);
      this._failChain(state, { reason: 'missing chain', file: '(input)', line: 0, chainId: id, detail: `chain ${id} is in the manifest but not in the input`, ordinal: end });
    }
  }
}

function strip(f: Located): AuditFailure {
  const { ordinal: _ordinal, ...rest } = f;
  return rest;
}

/** A piece of input cut at line ends by {@link lineChunks}. */
type Cut =
  /** Whole lines, each ending with a newline; `owned` when the memory may move to a worker. */
  | { kind: 'lines'; chunk: Buffer; owned: boolean }
  /** A line longer than the limit, skipped: `bytes` long (at least). */
  | { kind: 'oversized'; bytes: number }
  /** The last bytes of the input, with no newline after them. */
  | { kind: 'tail'; chunk: Buffer };

/** Bytes gathered before whole lines are handed on (small reads, such as a pipe's, are batched). */
const DEFAULT_BATCH = 1 << 22;

/**
 * Re-cuts a byte stream at newlines, in bounded memory: large pieces that
 * are whole lines pass as they are; others are copied into batches of
 * `BATCH` bytes (each then owned, so it can move to a worker). A line
 * longer than `maxLine` is skipped without being kept.
 */
async function* lineChunks(stream: AsyncIterable<Buffer | string>, maxLine: number, onBytes?: (n: number) => void, BATCH = DEFAULT_BATCH): AsyncGenerator<Cut> {
  let batch: Buffer | undefined;
  let fill = 0;
  let skipped = -1; // >= 0 while skipping the rest of an oversized line
  for await (const given of stream) {
    let piece = typeof given === 'string' ? Buffer.from(given) : given;
    onBytes?.(piece.length);
    while (piece.length > 0) {
      if (skipped >= 0) {
        const nl = piece.indexOf(10);
        if (nl < 0) {
          skipped += piece.length;
          break;
        }
        yield { kind: 'oversized', bytes: skipped + nl };
        skipped = -1;
        piece = piece.subarray(nl + 1);
        continue;
      }
      if (fill === 0 && piece[piece.length - 1] === 10 && (OWNED.has(piece) || piece.length >= BATCH >> 2)) {
        yield { kind: 'lines', chunk: piece, owned: OWNED.has(piece) };
        break;
      }
      batch ??= Buffer.allocUnsafeSlow(BATCH);
      const n = Math.min(batch.length - fill, piece.length);
      piece.copy(batch, fill, 0, n);
      fill += n;
      piece = piece.subarray(n);
      if (fill < batch.length) {
        if (fill >= BATCH >> 2 && batch[fill - 1] === 10) {
          // ends at a line end: hand it on now (and large whole-line pieces pass uncopied again)
          const full = batch;
          const filled = fill;
          batch = undefined;
          fill = 0;
          yield { kind: 'lines', chunk: full.subarray(0, filled), owned: true };
        }
        break;
      }
      // the batch is full: hand over its whole lines and keep the rest
      const cut = batch.lastIndexOf(10, fill - 1);
      if (cut >= 0) {
        const full = batch;
        batch = Buffer.allocUnsafeSlow(BATCH);
        fill = full.copy(batch, 0, cut + 1, fill);
        yield { kind: 'lines', chunk: full.subarray(0, cut + 1), owned: true };
        continue;
      }
      // one line fills the batch: grow it up to the limit, then skip the line
      const size = Math.min(batch.length * 2, maxLine + 1);
      if (size > batch.length) {
        const bigger = Buffer.allocUnsafeSlow(size);
        batch.copy(bigger, 0, 0, fill);
        batch = bigger;
      } else {
        skipped = fill;
        fill = 0;
        batch = undefined;
      }
    }
  }
  if (skipped >= 0) {
    yield { kind: 'oversized', bytes: skipped };
    return;
  }
  if (batch === undefined || fill === 0) return;
  const cut = batch.lastIndexOf(10, fill - 1);
  if (cut >= 0) yield { kind: 'lines', chunk: batch.subarray(0, cut + 1), owned: true };
  if (cut + 1 < fill) yield { kind: 'tail', chunk: batch.subarray(cut + 1, fill) };
}

/**
 * Splits a byte stream into lines. The last line is passed with
 * `unterminated` when no newline follows it. `onBytes` gets each piece's
 * size. A line longer than `maxLine` bytes is not kept: `onOversized` gets
 * its number (else it throws {@link AuditInputError}).
 */
export async function forEachLine(
  stream: AsyncIterable<Buffer | string>,
  onLine: (line: string, lineNo: number, unterminated: boolean) => void,
  onBytes?: (n: number) => void,
  maxLine = DEFAULT_MAX_RECORD_BYTES,
  onOversized?: (lineNo: number, bytes: number) => void,
): Promise<number> {
  let lineNo = 0;
  for await (const cut of lineChunks(stream, maxLine, onBytes)) {
    if (cut.kind === 'oversized') {
      lineNo++;
      if (onOversized === undefined) throw new AuditInputError(`line ${lineNo} is longer than ${maxLine} bytes`);
      onOversized(lineNo, cut.bytes);
      continue;
    }
    if (cut.kind === 'tail') {
      if (cut.chunk.length > maxLine) {
        lineNo++;
        if (onOversized === undefined) throw new AuditInputError(`line ${lineNo} is longer than ${maxLine} bytes`);
        onOversized(lineNo, cut.chunk.length);
        break;
      }
      onLine(cut.chunk.toString('utf8'), ++lineNo, true);
      break;
    }
    const chunk = cut.chunk;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      lineNo++;
      if (nl - start > maxLine) {
        if (onOversized === undefined) throw new AuditInputError(`line ${lineNo} is longer than ${maxLine} bytes`);
        onOversized(lineNo, nl - start);
      } else {
        onLine(chunk.toString('utf8', start, nl), lineNo, false);
      }
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
 * reads. Small pieces (a pipe's) are gathered into chunks of `batchBytes`.
 */
export async function verifyAuditStream(
  stream: AsyncIterable<Buffer | string>,
  file: string,
  verifier: AuditVerifier,
  onBytes?: (n: number) => void,
  pool?: ScanPool,
  spare?: ArrayBuffer[],
  batchBytes = DEFAULT_BATCH,
): Promise<void> {
  await verifyStreamInto(stream, file, verifier, onBytes, () => pool, spare, batchBytes);
}

async function verifyStreamInto(
  stream: AsyncIterable<Buffer | string>,
  file: string,
  verifier: AuditVerifier,
  onBytes: ((n: number) => void) | undefined,
  poolNow: () => ScanPool | undefined,
  spare: ArrayBuffer[] | undefined,
  batchBytes = DEFAULT_BATCH,
): Promise<void> {
  verifier.beginFile(file);
  let tail: Buffer | undefined;
  let lineNo = 1;
  // Chunks in file order, scanned (here, or back from a worker) or not yet; or an oversized line.
  const queue: Array<{ scanned?: ScannedChunk; failed?: unknown; owned: boolean; done?: Promise<void>; oversized?: number }> = [];
  const ready = (e: (typeof queue)[number]): boolean => e.scanned !== undefined || e.failed !== undefined || e.oversized !== undefined;
  /** Applies the scanned chunks at the head of the queue; with `wait`, waits for the first one first. */
  const apply = async (wait = false): Promise<void> => {
    if (wait && !ready(queue[0])) await queue[0].done;
    while (queue.length > 0 && ready(queue[0])) {
      const { scanned, failed, owned, oversized } = queue.shift()!;
      if (oversized !== undefined) {
        verifier.addOversized(file, lineNo++, oversized);
        continue;
      }
      if (scanned === undefined) throw failed;
      lineNo += verifier.addScan(scanned.chunk, scanned.scan, file, lineNo);
      if (owned && spare !== undefined && spare.length < SPARE_BUFFERS) spare.push(scanned.chunk.buffer as ArrayBuffer);
    }
  };
  for await (const cut of lineChunks(stream, verifier.maxRecordBytes, onBytes, batchBytes)) {
    if (cut.kind === 'tail') {
      tail = cut.chunk;
      break;
    }
    if (cut.kind === 'oversized') {
      queue.push({ owned: false, oversized: cut.bytes });
      await apply();
      continue;
    }
    const { chunk, owned } = cut;
    // the whole of a buffer this module read or batched: it can move to a worker and be read into again
    const pool = poolNow();
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
  if (tail !== undefined) {
    if (tail.length > verifier.maxRecordBytes) verifier.addOversized(file, lineNo, tail.length);
    else verifier.addTail(tail, file, lineNo);
  }
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
 * Reads a file in chunks of whole lines, each in memory of its own: a
 * buffer from `spare` when one is large enough, else a new one. A read
 * with no newline at all (part of a long line) is yielded as it is, so
 * memory stays bounded whatever the lines' length. The next read is under
 * way while the caller works on a chunk.
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
      if (cut < 0) {
        // part of a long line: hand it on as it is (not carried: a carry would grow with the line)
        next = readAfter(Buffer.alloc(0));
        yield buf.subarray(0, filled);
        continue;
      }
      next = readAfter(buf.subarray(cut + 1, filled));
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
 * Reads seal records (JSONL or OTLP JSON lines; format 1 checkpoints too)
 * from a file held elsewhere: every signed seal's claim and signature.
 */
export async function readSealFile(path: string): Promise<ExternalSeal[]> {
  const out: ExternalSeal[] = [];
  const onLine = (line: string, lineNo: number): void => {
    if (line.trim() === '') return;
    let parsed: unknown;
    const bad = strictJsonProblem(line);
    if (bad !== undefined) throw new AuditInputError(`${path}:${lineNo}: not strict JSON: ${bad.message}`);
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new AuditInputError(`${path}:${lineNo}: not valid JSON`);
    }
    if (!isObject(parsed)) throw new AuditInputError(`${path}:${lineNo}: not a JSON object`);
    if ('resourceSpans' in parsed) {
      for (const item of recordsFromOtlpJson(parsed)) {
        if (!isRebuildProblem(item) && item.checkpoint !== undefined && item.checkpoint !== 'malformed' && item.checkpoint.signature !== undefined) {
          out.push({ claim: item.checkpoint.claim, signature: item.checkpoint.signature, source: `${path}:${lineNo}` });
        }
      }
      return;
    }
    const span = parsed.span;
    if (typeof parsed.chain_id === 'string' && isObject(span)) {
      const cp = sealFromAttributes(parsed.chain_id, span.name, span.attributes);
      if (cp !== undefined && cp !== 'malformed' && cp.signature !== undefined) out.push({ claim: cp.claim, signature: cp.signature, source: `${path}:${lineNo}` });
    }
  };
  await statOrThrow(path);
  await forEachLine(openFile(path), onLine);
  return out;
}

/** @deprecated The old name of {@link readSealFile}. */
export const readCheckpointFile = readSealFile;

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
  /**
   * A file descriptor with the same bytes as `stream` (standard input: 0),
   * read instead of it in large blocks on a thread of its own, as fast as a
   * file (a stream is read only while the verifier's thread waits). Not
   * closed. Where no worker thread can start, `stream` is read.
   */
  readonly fd?: number | undefined;
}

/** Whole-line blocks of a descriptor (see {@link readFdBlocks}), owned (they can move to a worker); or its stream. */
function openInputStream(input: AuditInputStream): AsyncIterable<Buffer | string> {
  if (input.fd === undefined) return input.stream;
  let blocks: AsyncIterable<{ chunk: Buffer; whole: boolean }>;
  try {
    blocks = readFdBlocks(input.fd);
  } catch {
    return input.stream; // no worker threads here
  }
  return (async function* () {
    for await (const { chunk, whole } of blocks) {
      if (whole) OWNED.add(chunk);
      yield chunk;
    }
  })();
}

/** Options of {@link verifyAuditFiles}. */
export interface VerifyAuditFilesOptions extends AuditVerifyOptions {
  /**
   * Worker threads that hash in parallel with this one: 0 for none. By
   * default, one less than the machine's cores (at most 4), started when
   * the input is over 16 MB (files, and a descriptor of a file) or a stream
   * has given more than 4 MiB. This thread reads, applies the results in
   * order and scans chunks itself while the workers are busy or still
   * starting.
   */
  workers?: number | undefined;
  /** Files of seals held elsewhere (JSONL records or OTLP JSON), read before the input. */
  sealFiles?: readonly string[] | undefined;
  /** @deprecated The old name of `sealFiles`. */
  checkpointFiles?: readonly string[] | undefined;
  /** Called as bytes are read from file paths: (read so far, total of all files). */
  onProgress?: ((bytesRead: number, totalBytes: number) => void) | undefined;
}

/** Input past which the default worker threads start. */
const POOL_AFTER_BYTES = 16 * 2 ** 20;
/**
 * Bytes of a stream of unknown size (a pipe) read before the default
 * worker threads start: a pipe of more than one read block is likely
 * large, and the workers start while this thread goes on alone.
 */
const POOL_AFTER_STREAMED = 4 * 2 ** 20;

/** The size of the file a descriptor reads; 0 for a pipe, a terminal or a socket. */
function descriptorFileSize(fd: number): number {
  try {
    const st = fstatSync(fd);
    return st.isFile() ? st.size : 0;
  } catch {
    return 0; // reported when read
  }
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
  // A stream's size is unknown, but a descriptor of a file (`verify - < file`) has one.
  for (const p of inputs) if (typeof p !== 'string' && p.fd !== undefined) total += descriptorFileSize(p.fd);
  const seals: ExternalSeal[] = [...(options.seals ?? []), ...(options.checkpoints ?? [])];
  for (const f of [...(options.sealFiles ?? []), ...(options.checkpointFiles ?? [])]) seals.push(...(await readSealFile(f)));
  const verifier = new AuditVerifier({ ...options, seals, checkpoints: undefined });
  let read = 0;
  let streamed = 0;
  const onBytes = options.onProgress ? (n: number) => options.onProgress!((read += n), total) : undefined;
  const workers = options.workers ?? Math.min(4, availableParallelism() - 1);
  let pool: ScanPool | undefined;
  let poolTried = false;
  const poolNow = (): ScanPool | undefined => {
    if (poolTried || workers <= 0) return pool;
    // by default, only for large input (a worker takes tens of milliseconds to start)
    if (options.workers === undefined && total <= POOL_AFTER_BYTES && streamed <= POOL_AFTER_STREAMED) return undefined;
    poolTried = true;
    try {
      pool = new ScanPool(workers, options.hmacKey, options.maxDepth ?? DEFAULT_MAX_DEPTH);
    } catch {
      pool = undefined; // no worker threads here (a restricted runtime): hash on this thread
    }
    return pool;
  };
  const spare: ArrayBuffer[] = [];
  try {
    for (const input of inputs) {
      const name = typeof input === 'string' ? input : input.name;
      try {
        if (typeof input === 'string') await verifyStreamInto(openFile(input, onBytes, spare), name, verifier, undefined, poolNow, spare);
        else await verifyStreamInto(openInputStream(input), name, verifier, n => void (streamed += n), poolNow, undefined);
      } catch (err) {
        if (err instanceof AuditInputError) throw err;
        if (err instanceof FdReadError) throw new AuditInputError(`${name}: ${err.code ?? err.message}`);
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
