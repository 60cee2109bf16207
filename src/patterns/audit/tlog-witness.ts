/**
 * The decisions of a C2SP `tlog-witness` (c2sp.org/tlog-witness): given
 * the latest checkpoint it cosigned for each log and an add-checkpoint
 * request, accept (and cosign) or refuse with the status the protocol
 * names. Pure: the HTTP server, the clock and the state file are the
 * caller's (`agent-safety-otel witness`).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { EMPTY_ROOT, sameHash, verifyConsistency } from './merkle.js';
import { isNoteError, parseNote } from './signed-note.js';
import type { Cosigner, NoteVerifier } from './signed-note.js';
import { openCheckpoint, parseCheckpointText } from './tlog-checkpoint.js';
import { parseAddCheckpoint } from './tlog-proof.js';

/** What a witness remembers of one log. */
export interface WitnessLogState {
  /** Size of the latest checkpoint cosigned. */
  readonly size: number;
  /** Its base64 root hash. */
  readonly root: string;
  /** That checkpoint with the log's signature and this witness's cosignature (served to monitors). */
  readonly note: string;
}

/** A witness's whole state: per origin. Persist it before answering. */
export interface WitnessState {
  readonly logs: Readonly<Record<string, WitnessLogState>>;
}

/** The reply to an add-checkpoint request. */
export interface WitnessReply {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422;
  readonly contentType: string;
  readonly body: string;
  /** The state to persist before replying (only on 200). */
  readonly state?: WitnessState;
}

/** Options of {@link witnessAddCheckpoint}. */
export interface WitnessDecisionInput {
  /** The request body. */
  body: string;
  /** The witness's state before the request. */
  state: WitnessState;
  /** Known logs: origin → the log's keys. */
  logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  cosigner: Cosigner;
  /** Now, in unix seconds (the cosignature's timestamp). */
  nowSeconds: number;
}

const TEXT = 'text/plain; charset=utf-8';

function refuse(status: WitnessReply['status'], message: string): WitnessReply {
  return { status, contentType: TEXT, body: message + '\n' };
}

/**
 * Decides an add-checkpoint request, in the order of the tlog-witness
 * specification: malformed → 400; unknown origin → 404; no valid log
 * signature → 403; old size above the checkpoint's → 400; old size not the
 * size last cosigned → 409 (body: that size); a size-0 checkpoint whose root
 * is not the empty tree's, a proof with old size 0, a proof that does not
 * verify, or the same size with another root → 422. Otherwise 200 with the
 * cosignature line, and the new state to persist first.
 */
export function witnessAddCheckpoint(input: WitnessDecisionInput): WitnessReply {
  let req;
  let text: string;
  try {
    req = parseAddCheckpoint(input.body);
    text = parseNote(req.checkpoint).text;
  } catch (err) {
    return refuse(400, isNoteError(err) ? err.message : 'malformed request');
  }
  let origin: string;
  try {
    origin = parseCheckpointText(text).origin;
  } catch (err) {
    return refuse(400, (err as Error).message);
  }
  const keys = input.logs.get(origin);
  if (keys === undefined) return refuse(404, `unknown log ${origin}`);
  let cp;
  try {
    cp = openCheckpoint(req.checkpoint, { logKeys: keys, origin });
  } catch (err) {
    return refuse(403, isNoteError(err) ? err.message : 'the checkpoint is not signed by the log');
  }
  if (req.oldSize > cp.size) return refuse(400, `old size ${req.oldSize} is above the checkpoint size ${cp.size}`);
  const known = input.state.logs[origin];
  const knownSize = known?.size ?? 0;
  if (req.oldSize !== knownSize) return { status: 409, contentType: 'text/x.tlog.size', body: `${knownSize}\n` };
  if (cp.size === 0 && !sameHash(cp.root, EMPTY_ROOT)) return refuse(422, 'a checkpoint of size 0 must have the empty tree root');
  if (req.oldSize === 0) {
    if (req.proof.length !== 0) return refuse(422, 'old size 0 takes no consistency proof');
  } else {
    const knownRoot = Buffer.from(known!.root, 'base64');
    if (cp.size === req.oldSize) {
      if (!sameHash(knownRoot, cp.root) || req.proof.length !== 0) return refuse(422, `the root at size ${cp.size} differs from the one cosigned`);
    } else if (!verifyConsistency(req.oldSize, cp.size, knownRoot, cp.root, req.proof)) {
      return refuse(422, `the checkpoint of size ${cp.size} is not consistent with the size ${req.oldSize} cosigned`);
    }
  }
  const line = input.cosigner.sign(text, input.nowSeconds);
  const cosigned = req.checkpoint.endsWith('\n') ? req.checkpoint + line : `${req.checkpoint}\n${line}`;
  const state: WitnessState = {
    logs: { ...input.state.logs, [origin]: { size: cp.size, root: cp.root.toString('base64'), note: cosigned } },
  };
  return { status: 200, contentType: TEXT, body: line, state };
}

/** The monitoring path's origin hash: lowercase hex SHA-256 of the origin. */
export function originHash(origin: string): string {
  return createHash('sha256').update(origin, 'utf8').digest('hex');
}

/** Checks that a parsed state file has the {@link WitnessState} shape; throws TypeError otherwise. */
export function checkWitnessState(value: unknown): WitnessState {
  const logs = (value as { logs?: unknown } | null)?.logs;
  if (typeof logs !== 'object' || logs === null) throw new TypeError('witness state must be { logs: { <origin>: { size, root, note } } }');
  for (const [origin, s] of Object.entries(logs as Record<string, unknown>)) {
    const e = s as Partial<WitnessLogState>;
    if (!Number.isSafeInteger(e?.size) || (e.size as number) < 0 || typeof e.root !== 'string' || typeof e.note !== 'string') {
      throw new TypeError(`witness state for ${origin} must be { size, root, note }`);
    }
  }
  return value as WitnessState;
}
