/**
 * Outsiders' checks of the audit log as a transparency log: a checkpoint
 * (signed by the log, cosigned by witnesses), the tiles published beside
 * it, the journal against the checkpoint, and inclusion and consistency
 * proofs. No OpenTelemetry import: Node alone runs it.
 *
 * Given only a checkpoint the verifier trusts (held, or cosigned by
 * witnesses it trusts), a journal whose tail was cut, whose records were
 * replaced, forked or rewritten and re-hashed no longer yields the
 * checkpoint's root at its size: {@link verifyJournalAgainstCheckpoint}
 * reports it.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { KeyObject } from 'node:crypto';
import { canonicalBody, chainHash, splitLine } from '../patterns/audit/audit-record.js';
import { MerkleFrontier, leafHash, leafHashOfHex, nodeHash, sameHash, verifyConsistency, verifyInclusion } from '../patterns/audit/merkle.js';
import { isNoteError, verifierFromVkey } from '../patterns/audit/signed-note.js';
import type { NoteVerifier } from '../patterns/audit/signed-note.js';
import { openCheckpoint } from '../patterns/audit/tlog-checkpoint.js';
import type { OpenCheckpointOptions, OpenedCheckpoint } from '../patterns/audit/tlog-checkpoint.js';
import { TILE_WIDTH, readBundle, readTile, tileWidth, withTiles } from '../patterns/audit/tlog-tiles.js';
import { parseConsistencyProof, parseTlogProof, verifyConsistencyProofText, verifyTlogProof } from '../patterns/audit/tlog-proof.js';

export { openCheckpoint, verifyConsistencyProofText, verifyTlogProof, verifierFromVkey };
export type { NoteVerifier, OpenCheckpointOptions, OpenedCheckpoint };

/** Why a transparency-log check failed. */
export type TlogFailureReason =
  /** The checkpoint's signatures (log or witness quorum) do not verify. */
  | 'bad checkpoint'
  /** A record's content does not match its hash. */
  | 'altered record'
  /** The log ends before the checkpoint's size. */
  | 'truncated'
  /** The log's first `size` records do not have the checkpoint's root: rewritten, replaced, reordered or forked. */
  | 'root mismatch'
  /** A tile or entry bundle is missing, malformed, or disagrees with the others. */
  | 'bad tiles'
  /** A line is not an audit record. */
  | 'malformed line';

/** The verdict of a transparency-log check. */
export interface TlogVerifyReport {
  readonly valid: boolean;
  /** The checkpoint checked against (when it opened). */
  readonly checkpoint?: OpenedCheckpoint;
  /** Records (leaves) read. */
  readonly leaves: number;
  readonly failure?: { readonly reason: TlogFailureReason; readonly detail: string; readonly file?: string; readonly line?: number; readonly index?: number };
}

/** Options of {@link verifyJournalAgainstCheckpoint}. */
export interface VerifyJournalOptions extends OpenCheckpointOptions {
  /** The checkpoint note (from a witness, or held). */
  checkpoint: string;
  /** The chains' HMAC key, to check keyed records' hashes against their content. Without it a keyed record's content is not checked (its hash still is, by the tree). */
  hmacKey?: KeyObject | Buffer;
}

function fail(reason: TlogFailureReason, detail: string, extra: Partial<NonNullable<TlogVerifyReport['failure']>> = {}, leaves = 0, checkpoint?: OpenedCheckpoint): TlogVerifyReport {
  return { valid: false, leaves, checkpoint, failure: { reason, detail, ...extra } };
}

function open(options: OpenCheckpointOptions & { checkpoint: string }): OpenedCheckpoint | TlogVerifyReport {
  try {
    return openCheckpoint(options.checkpoint, options);
  } catch (err) {
    if (isNoteError(err) || err instanceof RangeError) return fail('bad checkpoint', err.message);
    throw err;
  }
}

/** Which chains are keyed (their seq 0 names a key id), learnt as records are read. */
type KeyedChains = Set<string>;

const CHAIN_ID = /^\{"chain_id":("(?:[^"\\]|\\.)*")/;

/**
 * The hash a record line claims, after checking that it matches the
 * record's content: plain chains always, keyed chains with the key (without
 * it their content cannot be checked; their hashes are still bound by the tree).
 */
function recordHash(line: string, key: KeyObject | Buffer | undefined, keyed: KeyedChains): { hash: string } | { problem: TlogFailureReason; detail: string } {
  let body: string;
  let hash: string;
  const split = splitLine(line);
  if (split !== undefined) {
    body = split.body;
    hash = split.hash;
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return { problem: 'malformed line', detail: 'not JSON' };
    }
    const h = (parsed as { hash?: unknown } | null)?.hash;
    if (typeof h !== 'string' || typeof parsed !== 'object' || parsed === null) return { problem: 'malformed line', detail: 'not an audit record (no hash)' };
    body = canonicalBody(parsed as Record<string, unknown>);
    hash = h;
  }
  if (!/^[0-9a-f]{64}$/.test(hash)) return { problem: 'malformed line', detail: 'hash is not 64 lowercase hex digits' };
  const idMatch = CHAIN_ID.exec(body);
  const at = body.indexOf('"prev_hash":"');
  if (idMatch === null || at < 0) return { problem: 'malformed line', detail: 'not an audit record (no chain_id or prev_hash)' };
  const chainId = JSON.parse(idMatch[1]) as string;
  if (body.includes('"key_id":') && /"seq":0,"span":/.test(body)) keyed.add(chainId);
  const isKeyed = keyed.has(chainId);
  if (isKeyed && key === undefined) return { hash };
  const prev = body.slice(at + 13, at + 77);
  if (chainHash(prev, body, isKeyed ? key : undefined) !== hash) return { problem: 'altered record', detail: 'the record does not match its hash' };
  return { hash };
}

/**
 * Checks journal files (JSONL, rotated files oldest first) against a
 * checkpoint: its signatures, then that the log's first `size` records —
 * each matching its own hash — have the checkpoint's root. Records after
 * the checkpoint's size are read but not covered by it.
 */
export async function verifyJournalAgainstCheckpoint(files: readonly string[], options: VerifyJournalOptions): Promise<TlogVerifyReport> {
  const cp = open(options);
  if (!('root' in cp)) return cp;
  const frontier = new MerkleFrontier();
  const keyed: KeyedChains = new Set();
  for (const file of files) {
    let lineNo = 0;
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const raw of rl) {
      lineNo++;
      const line = raw.trim();
      if (line === '') continue;
      if (frontier.size >= cp.size) continue;
      const r = recordHash(line, options.hmacKey, keyed);
      if ('problem' in r) {
        rl.close();
        return fail(r.problem, r.detail, { file, line: lineNo, index: frontier.size }, frontier.size, cp);
      }
      frontier.appendLeafHash(leafHashOfHex(r.hash));
    }
  }
  if (frontier.size < cp.size) {
    return fail('truncated', `the log has ${frontier.size} records; the checkpoint covers ${cp.size}`, {}, frontier.size, cp);
  }
  if (!sameHash(frontier.root(), cp.root)) {
    return fail('root mismatch', `the first ${cp.size} records do not have the checkpoint's root: rewritten, replaced, reordered or forked`, {}, frontier.size, cp);
  }
  return { valid: true, leaves: frontier.size, checkpoint: cp };
}

/**
 * Checks a published tiles directory against a checkpoint: every entry
 * bundle hashes to its level-0 tile, every tile above holds the roots of
 * the full tiles below, and the tree of the checkpoint's size has its root.
 */
export async function verifyTlogTiles(dir: string, options: OpenCheckpointOptions & { checkpoint: string }): Promise<TlogVerifyReport> {
  const cp = open(options);
  if (!('root' in cp)) return cp;
  const readAsync = async (p: string): Promise<Buffer | undefined> => {
    try {
      return await readFile(join(dir, p));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const size = cp.size;
  try {
    const frontier = new MerkleFrontier();
    for (let n = 0; n * TILE_WIDTH < size; n++) {
      const width = tileWidth(0, n, size);
      const [hashes, entries] = await withTiles(size, readAsync, (_s, read) => [readTile(read, 0, n, width), readBundle(read, n, width)] as const);
      for (let i = 0; i < width; i++) {
        if (!sameHash(leafHash(entries[i]), hashes[i])) {
          return fail('bad tiles', `entry ${n * TILE_WIDTH + i} does not hash to its level-0 tile`, { index: n * TILE_WIDTH + i }, frontier.size, cp);
        }
        frontier.appendLeafHash(hashes[i]);
      }
    }
    // Each tile above holds the roots of the full tiles below it.
    for (let level = 1; TILE_WIDTH ** level <= size; level++) {
      for (let n = 0; tileWidth(level, n, size) > 0; n++) {
        const width = tileWidth(level, n, size);
        const [tile, roots] = await withTiles(size, readAsync, (_s, read) => {
          const t = readTile(read, level, n, width);
          return [t, t.map((_h, i) => rootOfTile(readTile(read, level - 1, n * TILE_WIDTH + i, TILE_WIDTH)))] as const;
        });
        for (let i = 0; i < width; i++) {
          if (!sameHash(roots[i], tile[i])) {
            return fail('bad tiles', `tile level ${level} hash ${n * TILE_WIDTH + i} is not the root of the tile below`, {}, frontier.size, cp);
          }
        }
      }
    }
    if (!sameHash(frontier.root(), cp.root)) {
      return fail('root mismatch', `the tiles' tree of ${size} does not have the checkpoint's root`, {}, frontier.size, cp);
    }
    return { valid: true, leaves: frontier.size, checkpoint: cp };
  } catch (err) {
    if (err instanceof RangeError) return fail('bad tiles', err.message, {}, 0, cp);
    throw err;
  }
}

/** The root of a full tile's 256 hashes. */
function rootOfTile(hashes: readonly Buffer[]): Buffer {
  let row = hashes;
  while (row.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i], row[i + 1]));
    row = next;
  }
  return row[0];
}

/** Options of {@link verifyRecordProof}. */
export interface VerifyRecordProofOptions extends OpenCheckpointOptions {
  /** The record's JSONL line; else the proof's `extra` line is used. */
  line?: string;
  /** HMAC key of a keyed chain (to check the line against its hash). */
  hmacKey?: KeyObject | Buffer;
}

/**
 * Verifies a record's tlog-proof offline: the checkpoint's signatures, the
 * record line matching its own hash, and the record at the proof's index.
 * Throws a NoteError (or TypeError for a bad line) when it does not hold.
 */
export function verifyRecordProof(proofText: string, options: VerifyRecordProofOptions): { checkpoint: OpenedCheckpoint; index: number; line: string } {
  const extra = /^extra (\S+)$/m.exec(proofText.split('\n\n')[0]);
  const line = options.line ?? (extra ? Buffer.from(extra[1], 'base64').toString('utf8') : undefined);
  if (line === undefined) throw new TypeError('the record line is needed: give it, or a proof whose extra line carries it');
  const r = recordHash(line.trim(), options.hmacKey, new Set());
  if ('problem' in r) throw new TypeError(`the record line: ${r.detail}`);
  const result = verifyTlogProof(proofText, { ...options, leafHash: leafHashOfHex(r.hash) });
  return { checkpoint: result.checkpoint, index: result.index, line: line.trim() };
}


/** Why a proof check failed. */
export type ProofFailureReason =
  /** Not a proof of the kind asked for, or not well formed. */
  | 'malformed proof'
  /** A checkpoint's signatures do not verify: the log's, or the quorum of witnesses asked for. */
  | 'bad checkpoint'
  /** The proof is against another checkpoint than the one the verifier trusts. */
  | 'wrong checkpoint'
  /** The record line is missing or does not match its own hash. */
  | 'bad record'
  /** The inclusion proof does not lead from the record to the checkpoint's root. */
  | 'not included'
  /** The consistency proof does not show the older tree to be a prefix of the newer. */
  | 'inconsistent';

/** A checkpoint as a report shows it. */
export interface ProofCheckpointSummary {
  readonly origin: string;
  readonly size: number;
  /** The root hash, base64 (as in the note). */
  readonly root: string;
  /** Witnesses whose cosignature verified. */
  readonly witnesses: readonly string[];
}

/** Options of {@link checkInclusionProof} and {@link checkConsistencyProof}. */
export interface ProofCheckOptions extends OpenCheckpointOptions {
  /**
   * The checkpoint note the verifier trusts (held, or cosigned by
   * witnesses it trusts). Given, the proof must be against it (an
   * inclusion proof: the same tree; a consistency proof: its older or its
   * newer tree), and `quorum` applies to it rather than to the proof's
   * own checkpoints, which must still be signed by the log.
   * @default none: the proof's own checkpoint, with `quorum`
   */
  checkpoint?: string;
  /** Inclusion: the record's JSONL line. @default the proof's `extra` line */
  line?: string;
  /** Inclusion: the chain's HMAC key, to check a keyed record's content against its hash. */
  hmacKey?: KeyObject | Buffer;
}

/** The verdict of a proof check. Never thrown: a bad proof is a report with `valid: false`. */
export interface ProofCheckReport {
  readonly valid: boolean;
  readonly kind: 'inclusion' | 'consistency';
  /** The checkpoint the verdict rests on: the one trusted, or the proof's (the newer, for a consistency proof). */
  readonly checkpoint?: ProofCheckpointSummary;
  /** Inclusion: the record's index in the log. */
  readonly index?: number;
  /** Inclusion: the record proven. */
  readonly record?: { readonly chainId: string; readonly seq: number };
  /** Consistency: the two checkpoints. */
  readonly older?: ProofCheckpointSummary;
  readonly newer?: ProofCheckpointSummary;
  /** Consistency with a trusted checkpoint: which end of the proof it is. */
  readonly trusted?: 'older' | 'newer';
  readonly failure?: { readonly reason: ProofFailureReason; readonly detail: string };
}

function summary(cp: OpenedCheckpoint): ProofCheckpointSummary {
  return { origin: cp.origin, size: cp.size, root: cp.root.toString('base64'), witnesses: [...cp.witnesses] };
}

const sameTree = (a: OpenedCheckpoint, b: OpenedCheckpoint): boolean => a.origin === b.origin && a.size === b.size && sameHash(a.root, b.root);

/** Opens a checkpoint, or says why it does not open. */
function openOr(note: string, options: OpenCheckpointOptions, what: string): OpenedCheckpoint | { reason: ProofFailureReason; detail: string } {
  try {
    return openCheckpoint(note, options);
  } catch (err) {
    if (isNoteError(err)) return { reason: err.reason === 'malformed' ? 'malformed proof' : 'bad checkpoint', detail: `${what}: ${err.message}` };
    if (err instanceof RangeError || err instanceof TypeError) return { reason: 'bad checkpoint', detail: `${what}: ${err.message}` };
    throw err;
  }
}

/** The proof's own checkpoints need the log's signature; the quorum goes to the trusted one when there is one. */
function proofOwnOptions(options: ProofCheckOptions): OpenCheckpointOptions {
  const { logKeys, witnessKeys, quorum, origin } = options;
  return options.checkpoint === undefined ? { logKeys, witnessKeys, quorum, origin } : { logKeys, witnessKeys, quorum: 0, origin };
}

function describe(cp: OpenedCheckpoint): string {
  return `${cp.origin} size ${cp.size} root ${cp.root.toString('base64')}`;
}

/**
 * Checks a record's inclusion proof (C2SP tlog-proof, as `prove --record`
 * prints it) offline: the checkpoint's signatures, the record line
 * matching its own hash, the proof leading from the record to the root,
 * and, given a trusted checkpoint, that the proof is against it.
 */
export function checkInclusionProof(text: string, options: ProofCheckOptions): ProofCheckReport {
  const kind = 'inclusion';
  let p: ReturnType<typeof parseTlogProof>;
  try {
    p = parseTlogProof(text);
  } catch (err) {
    if (isNoteError(err) || err instanceof RangeError || err instanceof TypeError) return { valid: false, kind, failure: { reason: 'malformed proof', detail: err.message } };
    throw err;
  }
  const own = openOr(p.checkpoint, proofOwnOptions(options), "the proof's checkpoint");
  if (!('root' in own)) return { valid: false, kind, failure: own };
  let anchor = own;
  if (options.checkpoint !== undefined) {
    const trusted = openOr(options.checkpoint, options, 'the checkpoint given');
    if (!('root' in trusted)) return { valid: false, kind, failure: trusted.reason === 'malformed proof' ? { reason: 'bad checkpoint', detail: trusted.detail } : trusted };
    if (!sameTree(own, trusted)) {
      return { valid: false, kind, checkpoint: summary(trusted), index: p.index, failure: { reason: 'wrong checkpoint', detail: `the proof is against ${describe(own)}, not the checkpoint given (${describe(trusted)})` } };
    }
    anchor = trusted;
  }
  const line = options.line ?? p.extra?.toString('utf8');
  if (line === undefined) return { valid: false, kind, checkpoint: summary(anchor), index: p.index, failure: { reason: 'bad record', detail: 'no record line: give it, or a proof whose extra line carries it' } };
  const r = recordHash(line.trim(), options.hmacKey, new Set());
  if ('problem' in r) return { valid: false, kind, checkpoint: summary(anchor), index: p.index, failure: { reason: 'bad record', detail: `the record line: ${r.detail}` } };
  let record: { chainId: string; seq: number } | undefined;
  try {
    const rec = JSON.parse(line) as { chain_id?: unknown; seq?: unknown };
    if (typeof rec.chain_id === 'string' && typeof rec.seq === 'number') record = { chainId: rec.chain_id, seq: rec.seq };
  } catch {
    // The hash check passed on the canonical split; the fields stay unnamed.
  }
  if (!verifyInclusion(leafHashOfHex(r.hash), p.index, anchor.size, p.proof, anchor.root)) {
    return {
      valid: false,
      kind,
      checkpoint: summary(anchor),
      index: p.index,
      record,
      failure: { reason: 'not included', detail: `the record is not entry ${p.index} of the tree of ${anchor.size} (the proof does not lead to the checkpoint's root)` },
    };
  }
  return { valid: true, kind, checkpoint: summary(anchor), index: p.index, record };
}

/**
 * Checks a consistency proof (as `prove --consistency` prints it)
 * offline: both checkpoints signed by the log, one origin, the older tree
 * a prefix of the newer, and, given a trusted checkpoint, that it is one
 * of the two (the older: a checkpoint held earlier, now extended; the
 * newer: a cosigned one, of which an older one is a prefix).
 */
export function checkConsistencyProof(text: string, options: ProofCheckOptions): ProofCheckReport {
  const kind = 'consistency';
  let p: ReturnType<typeof parseConsistencyProof>;
  try {
    p = parseConsistencyProof(text);
  } catch (err) {
    if (isNoteError(err) || err instanceof RangeError || err instanceof TypeError) return { valid: false, kind, failure: { reason: 'malformed proof', detail: err.message } };
    throw err;
  }
  const ownOptions = proofOwnOptions(options);
  const older = openOr(p.older, ownOptions, 'the older checkpoint');
  if (!('root' in older)) return { valid: false, kind, failure: older };
  const newer = openOr(p.newer, { ...ownOptions, origin: older.origin }, 'the newer checkpoint');
  if (!('root' in newer)) return { valid: false, kind, older: summary(older), failure: newer };
  let anchor = newer;
  let trusted: 'older' | 'newer' | undefined;
  if (options.checkpoint !== undefined) {
    const t = openOr(options.checkpoint, options, 'the checkpoint given');
    if (!('root' in t)) return { valid: false, kind, older: summary(older), newer: summary(newer), failure: t.reason === 'malformed proof' ? { reason: 'bad checkpoint', detail: t.detail } : t };
    trusted = sameTree(t, newer) ? 'newer' : sameTree(t, older) ? 'older' : undefined;
    if (trusted === undefined) {
      return {
        valid: false,
        kind,
        checkpoint: summary(t),
        older: summary(older),
        newer: summary(newer),
        failure: { reason: 'wrong checkpoint', detail: `the proof is between ${describe(older)} and size ${newer.size}; the checkpoint given (${describe(t)}) is neither` },
      };
    }
    anchor = t;
  }
  const ok = older.size === 0 ? p.proof.length === 0 : verifyConsistency(older.size, newer.size, older.root, newer.root, p.proof);
  const base = { kind, checkpoint: summary(anchor), older: summary(older), newer: summary(newer), trusted } as const;
  if (!ok) return { ...base, valid: false, failure: { reason: 'inconsistent', detail: `the tree of ${older.size} is not shown to be a prefix of the tree of ${newer.size} (the consistency proof does not verify)` } };
  return { ...base, valid: true };
}
