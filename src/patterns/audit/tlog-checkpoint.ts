/**
 * C2SP transparency-log checkpoints (c2sp.org/tlog-checkpoint): a signed
 * note whose text is the log's origin, its tree size and its base64 root
 * hash. Signing, opening with a log key and a quorum of witness
 * cosignatures. Pure: no OpenTelemetry, no I/O.
 *
 * ```text
 * example.com/agent-audit
 * 1042
 * CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
 *
 * — example.com/agent-audit Az3grl…
 * — witness.example/w1 jWbPPw…
 * ```
 *
 * @module
 */
import { HASH_SIZE } from './merkle.js';
import { NoteError, decodeBase64, isValidKeyName, openNote, parseNote, signNote } from './signed-note.js';
import type { NoteSigner, NoteVerifier, OpenedNote } from './signed-note.js';

/** A log's tree head. */
export interface Checkpoint {
  /** The log's unique name (a schema-less URL by convention). */
  readonly origin: string;
  /** Leaves in the tree. */
  readonly size: number;
  /** The RFC 6962 root hash at that size (32 bytes). */
  readonly root: Buffer;
}

/** The note text of a checkpoint (three lines, no extension lines). */
export function checkpointText(cp: Checkpoint): string {
  if (!isValidKeyName(cp.origin)) throw new TypeError(`checkpoint origin must be non-empty with no spaces or '+', got ${JSON.stringify(cp.origin)}`);
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new RangeError(`checkpoint size must be a non-negative integer, got ${cp.size}`);
  if (cp.root.length !== HASH_SIZE) throw new TypeError('checkpoint root must be 32 bytes');
  return `${cp.origin}\n${cp.size}\n${cp.root.toString('base64')}\n`;
}

/** Parses a checkpoint's note text (extension lines are allowed and ignored); throws {@link NoteError}. */
export function parseCheckpointText(text: string): Checkpoint & { readonly extensions: readonly string[] } {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : [];
  if (lines.length < 3 || lines.some(l => l.length === 0)) {
    throw new NoteError('malformed', 'a checkpoint text is at least three non-empty lines: origin, size, root hash');
  }
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new NoteError('malformed', `checkpoint tree size is not a decimal without leading zeros: ${JSON.stringify(sizeText.slice(0, 40))}`);
  }
  const root = decodeBase64(rootText);
  if (root === undefined || root.length !== HASH_SIZE) throw new NoteError('malformed', 'checkpoint root hash is not base64 of 32 bytes');
  return { origin, size: Number(sizeText), root, extensions };
}

/** Signs a checkpoint: the whole signed note. */
export function signCheckpoint(cp: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(checkpointText(cp), signers);
}

/** What {@link openCheckpoint} checks. */
export interface OpenCheckpointOptions {
  /** The log's keys (at least one must have signed). */
  logKeys: readonly NoteVerifier[];
  /** Witness keys whose cosignatures count. @default none */
  witnessKeys?: readonly NoteVerifier[];
  /** How many distinct witnesses must have cosigned. @default 0 */
  quorum?: number;
  /** The origin the checkpoint must have. @default any */
  origin?: string;
}

/** An opened checkpoint: its tree head, the note, and who signed it. */
export interface OpenedCheckpoint extends Checkpoint {
  /** The signed note, verbatim. */
  readonly note: string;
  /** Names of the witnesses whose cosignature verified. */
  readonly witnesses: readonly string[];
}

/**
 * Verifies a checkpoint note: signed by one of `logKeys`, cosigned by at
 * least `quorum` of `witnessKeys`, for `origin` when given. Throws
 * {@link NoteError} otherwise.
 */
export function openCheckpoint(note: string, options: OpenCheckpointOptions): OpenedCheckpoint {
  const witnessKeys = options.witnessKeys ?? [];
  const quorum = options.quorum ?? 0;
  if (!Number.isInteger(quorum) || quorum < 0 || quorum > witnessKeys.length) {
    throw new RangeError(`quorum must be an integer from 0 to the number of witness keys (${witnessKeys.length}), got ${quorum}`);
  }
  const opened: OpenedNote = openNote(note, [...options.logKeys, ...witnessKeys]);
  const cp = parseCheckpointText(opened.text);
  if (!opened.verifiedBy.some(v => options.logKeys.includes(v))) throw new NoteError('unverified', 'the checkpoint carries no valid signature of the log');
  if (options.origin !== undefined && cp.origin !== options.origin) {
    throw new NoteError('unverified', `checkpoint origin ${JSON.stringify(cp.origin)} is not the expected ${JSON.stringify(options.origin)}`);
  }
  const witnesses = [...new Set(opened.verifiedBy.filter(v => witnessKeys.includes(v)).map(v => v.name))];
  if (witnesses.length < quorum) {
    throw new NoteError('unverified', `the checkpoint has ${witnesses.length} valid witness cosignature(s); ${quorum} required`);
  }
  return { origin: cp.origin, size: cp.size, root: cp.root, note, witnesses };
}

/** The tree head of a checkpoint note without checking any signature (to read it; never to trust it). */
export function peekCheckpoint(note: string): Checkpoint {
  return parseCheckpointText(parseNote(note).text);
}
