/**
 * The text formats that carry Merkle proofs: C2SP `tlog-proof` (an
 * offline-verifiable inclusion proof bundled with its checkpoint), the
 * consistency proof this package prints between two checkpoints, and the
 * body of a C2SP `tlog-witness` add-checkpoint request. Pure: no I/O.
 *
 * ```text
 * c2sp.org/tlog-proof@v1
 * [extra <base64>]
 * index <N>
 * <base64 hash>…            one per line, leaf's sibling first
 *
 * <checkpoint note, verbatim>
 * ```
 *
 * @module
 */
import { HASH_SIZE, leafHash as hashLeaf, verifyConsistency, verifyInclusion } from './merkle.js';
import { NoteError, decodeBase64 } from './signed-note.js';
import { openCheckpoint, peekCheckpoint } from './tlog-checkpoint.js';
import type { OpenCheckpointOptions, OpenedCheckpoint } from './tlog-checkpoint.js';

/** First line of a tlog-proof. */
export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** First line of this package's consistency proof between two checkpoints. */
export const CONSISTENCY_PROOF_HEADER = 'agent-safety-otel/consistency-proof@v1';
/** A witness takes at most this many consistency-proof lines. */
export const MAX_WITNESS_PROOF_LINES = 63;

/** An inclusion proof with its checkpoint (c2sp.org/tlog-proof). */
export interface TlogProof {
  /** Zero-based index of the entry in the log. */
  readonly index: number;
  /** Audit path, leaf's sibling first. */
  readonly proof: readonly Buffer[];
  /** The checkpoint note the proof is against, verbatim (with its signatures). */
  readonly checkpoint: string;
  /** Opaque, unauthenticated extra data (here: the record's JSONL line, when known). */
  readonly extra?: Buffer | undefined;
}

function decimal(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`expected a non-negative integer, got ${n}`);
  return String(n);
}

function parseDecimal(text: string, what: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new NoteError('malformed', `${what} is not a decimal without leading zeros: ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Number(text);
}

function parseHashLine(line: string, what: string): Buffer {
  const h = decodeBase64(line);
  if (h === undefined || h.length !== HASH_SIZE) throw new NoteError('malformed', `${what}: not a base64 32-byte hash: ${JSON.stringify(line.slice(0, 60))}`);
  return h;
}

/** The tlog-proof text. */
export function formatTlogProof(p: TlogProof): string {
  let out = `${TLOG_PROOF_HEADER}\n`;
  if (p.extra !== undefined) out += `extra ${p.extra.toString('base64')}\n`;
  out += `index ${decimal(p.index)}\n`;
  for (const h of p.proof) out += `${h.toString('base64')}\n`;
  return `${out}\n${p.checkpoint}`;
}

/** Parses a tlog-proof (the checkpoint is not verified); throws {@link NoteError} when malformed. */
export function parseTlogProof(text: string): TlogProof {
  const lines = text.split('\n');
  if (lines[0] !== TLOG_PROOF_HEADER) throw new NoteError('malformed', `a tlog-proof starts with ${TLOG_PROOF_HEADER}`);
  let i = 1;
  let extra: Buffer | undefined;
  if (lines[i]?.startsWith('extra ')) {
    extra = decodeBase64(lines[i].slice(6));
    if (extra === undefined) throw new NoteError('malformed', 'tlog-proof extra data is not base64');
    i++;
  }
  if (!lines[i]?.startsWith('index ')) throw new NoteError('malformed', 'tlog-proof has no index line');
  const index = parseDecimal(lines[i].slice(6), 'tlog-proof index');
  i++;
  const proof: Buffer[] = [];
  for (; i < lines.length && lines[i] !== ''; i++) {
    if (proof.length >= 64) throw new NoteError('malformed', 'tlog-proof has more than 64 hashes');
    proof.push(parseHashLine(lines[i], 'tlog-proof'));
  }
  if (i >= lines.length) throw new NoteError('malformed', 'tlog-proof has no checkpoint');
  const checkpoint = lines.slice(i + 1).join('\n');
  peekCheckpoint(checkpoint); // well-formed
  return { index, proof, checkpoint, extra };
}

/** What {@link verifyTlogProof} needs besides the proof. */
export interface VerifyTlogProofOptions extends OpenCheckpointOptions {
  /** The entry the proof is for: its bytes, or its leaf hash via `leafHash`. */
  entry?: Uint8Array;
  /** The leaf hash, when the entry itself is not at hand. */
  leafHash?: Uint8Array;
}

/**
 * Verifies a tlog-proof: the checkpoint is signed by the log (and cosigned
 * by the quorum of witnesses asked for) and the entry is at the proof's
 * index in the checkpoint's tree. Returns the opened checkpoint and the
 * index; throws {@link NoteError} otherwise.
 */
export function verifyTlogProof(text: string, options: VerifyTlogProofOptions): { checkpoint: OpenedCheckpoint; index: number; extra?: Buffer | undefined } {
  const p = parseTlogProof(text);
  const cp = openCheckpoint(p.checkpoint, options);
  const leaf = options.leafHash ?? (options.entry !== undefined ? hashLeaf(options.entry) : undefined);
  if (leaf === undefined) throw new TypeError('verifyTlogProof needs the entry or its leaf hash');
  if (!verifyInclusion(leaf, p.index, cp.size, p.proof, cp.root)) {
    throw new NoteError('unverified', `the entry is not at index ${p.index} of the checkpoint's tree of ${cp.size} (the inclusion proof does not verify)`);
  }
  return { checkpoint: cp, index: p.index, extra: p.extra };
}

/** A consistency proof between two checkpoints of one log. */
export interface ConsistencyProofText {
  readonly proof: readonly Buffer[];
  /** The older checkpoint note, verbatim. */
  readonly older: string;
  /** The newer checkpoint note, verbatim. */
  readonly newer: string;
}

/**
 * The consistency-proof text: a header, `old <size>`, `new <size>`, the
 * hashes, a blank line, the older checkpoint, a blank line, the newer.
 */
export function formatConsistencyProof(p: ConsistencyProofText): string {
  const a = peekCheckpoint(p.older);
  const b = peekCheckpoint(p.newer);
  return `${CONSISTENCY_PROOF_HEADER}\nold ${a.size}\nnew ${b.size}\n${p.proof.map(h => h.toString('base64') + '\n').join('')}\n${p.older}\n${p.newer}`;
}

/** Parses a consistency-proof text; throws {@link NoteError} when malformed. */
export function parseConsistencyProof(text: string): ConsistencyProofText & { oldSize: number; newSize: number } {
  const lines = text.split('\n');
  if (lines[0] !== CONSISTENCY_PROOF_HEADER) throw new NoteError('malformed', `a consistency proof starts with ${CONSISTENCY_PROOF_HEADER}`);
  if (!lines[1]?.startsWith('old ') || !lines[2]?.startsWith('new ')) throw new NoteError('malformed', 'consistency proof has no old/new size lines');
  const oldSize = parseDecimal(lines[1].slice(4), 'old size');
  const newSize = parseDecimal(lines[2].slice(4), 'new size');
  const proof: Buffer[] = [];
  let i = 3;
  for (; i < lines.length && lines[i] !== ''; i++) proof.push(parseHashLine(lines[i], 'consistency proof'));
  // The two notes follow; each ends with its signature lines, and the newer starts after the blank line that follows the older's signatures.
  const rest = lines.slice(i + 1).join('\n');
  const split = findSecondNote(rest);
  if (split < 0) throw new NoteError('malformed', 'consistency proof does not hold two checkpoints');
  const older = rest.slice(0, split);
  const newer = rest.slice(split + 1);
  if (peekCheckpoint(older).size !== oldSize || peekCheckpoint(newer).size !== newSize) {
    throw new NoteError('malformed', 'consistency proof sizes do not match its checkpoints');
  }
  return { proof, older, newer, oldSize, newSize };
}

/** Offset of the newline that separates two notes: the first blank line after a signature line. */
function findSecondNote(text: string): number {
  let at = text.indexOf('\n\u2014 ');
  while (at >= 0) {
    const blank = text.indexOf('\n\n', at);
    if (blank < 0) return -1;
    // Signature lines run until the blank line.
    const between = text.slice(at + 1, blank).split('\n');
    if (between.every(l => l.startsWith('\u2014 '))) return blank + 1;
    at = text.indexOf('\n\u2014 ', at + 1);
  }
  return -1;
}

/**
 * Verifies a consistency proof between two checkpoints: both signed by the
 * log (cosignatures as asked), same origin, and the older tree a prefix of
 * the newer. Throws {@link NoteError} otherwise.
 */
export function verifyConsistencyProofText(text: string, options: OpenCheckpointOptions): { older: OpenedCheckpoint; newer: OpenedCheckpoint } {
  const p = parseConsistencyProof(text);
  const older = openCheckpoint(p.older, options);
  const newer = openCheckpoint(p.newer, { ...options, origin: older.origin });
  const ok =
    older.size === 0
      ? p.proof.length === 0
      : verifyConsistency(older.size, newer.size, older.root, newer.root, p.proof);
  if (!ok) throw new NoteError('unverified', `the tree of ${older.size} is not a prefix of the tree of ${newer.size} (the consistency proof does not verify)`);
  return { older, newer };
}

/** The body of a tlog-witness add-checkpoint request. */
export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Buffer[];
  /** The checkpoint note to cosign. */
  readonly checkpoint: string;
}

/** Formats an add-checkpoint request body. */
export function formatAddCheckpoint(req: AddCheckpointRequest): string {
  if (req.proof.length > MAX_WITNESS_PROOF_LINES) throw new RangeError(`at most ${MAX_WITNESS_PROOF_LINES} consistency proof lines, got ${req.proof.length}`);
  return `old ${decimal(req.oldSize)}\n${req.proof.map(h => h.toString('base64') + '\n').join('')}\n${req.checkpoint}`;
}

/** Parses an add-checkpoint request body; throws {@link NoteError} (`malformed`) when it is not one. */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  const lines = body.split('\n');
  if (!lines[0]?.startsWith('old ')) throw new NoteError('malformed', 'add-checkpoint body must start with "old <size>"');
  const oldSize = parseDecimal(lines[0].slice(4), 'old size');
  const proof: Buffer[] = [];
  let i = 1;
  for (; i < lines.length && lines[i] !== ''; i++) {
    if (proof.length >= MAX_WITNESS_PROOF_LINES) throw new NoteError('malformed', `more than ${MAX_WITNESS_PROOF_LINES} consistency proof lines`);
    proof.push(parseHashLine(lines[i], 'consistency proof'));
  }
  if (i >= lines.length) throw new NoteError('malformed', 'add-checkpoint body has no blank line before the checkpoint');
  return { oldSize, proof, checkpoint: lines.slice(i + 1).join('\n') };
}
