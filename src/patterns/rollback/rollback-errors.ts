/**
 * Errors of the rollback manager. Each has a stable `name` and a brand, so
 * that `isXxxError(e)` works across copies of this package.
 *
 * @module
 */
import { brandOf, hasBrand } from '../shared/brand.js';
import type { Checkpoint } from './checkpoint.js';
import type { RollbackMode, RollbackReport } from './rollback-report.js';

const SNAPSHOT = brandOf('SnapshotError');
const CHECKPOINT_LIMIT = brandOf('CheckpointLimitError');
const ROLLBACK_TARGET = brandOf('RollbackTargetError');
const ROLLBACK = brandOf('RollbackError');

/** Why a snapshot could not be taken. */
export type SnapshotFailure = 'unsupported' | 'too_large';

/**
 * Thrown by `checkpoint()` (and by a guarded call, before its action runs)
 * when the state or the environment delta cannot be snapshotted: it holds a
 * value the snapshot mode cannot copy faithfully (a function, a symbol, a
 * class instance, a promise...) or its snapshot exceeds `maxSnapshotBytes`.
 * A checkpoint that cannot be restored is refused when it is taken, never
 * discovered during a rollback.
 */
export class SnapshotError extends Error {
  /** `unsupported` or `too_large`. */
  readonly reason: SnapshotFailure;
  /** Which value: `state` or `environmentDelta`. */
  readonly what: string;
  /** Where in the value the problem is, e.g. `state.handlers[0]` (for `unsupported`). */
  readonly path: string | undefined;
  /** Size of the snapshot in bytes (for `too_large`). */
  readonly bytes: number | undefined;
  /** The limit that was exceeded (for `too_large`). */
  readonly limit: number | undefined;
  declare readonly [SNAPSHOT]: true;

  constructor(
    message: string,
    details: { reason: SnapshotFailure; what: string; path?: string; bytes?: number; limit?: number; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SnapshotError';
    this.reason = details.reason;
    this.what = details.what;
    this.path = details.path;
    this.bytes = details.bytes;
    this.limit = details.limit;
    Object.defineProperty(this, SNAPSHOT, { value: true });
  }
}

/** True when `e` is a {@link SnapshotError}, from any copy of this package. */
export function isSnapshotError(e: unknown): e is SnapshotError {
  return hasBrand(e, SNAPSHOT);
}

/**
 * Thrown by `checkpoint()` when the manager holds `maxCheckpoints`
 * checkpoints and making room would evict the last safe point, while
 * `safePointEviction` is `refuse` (the default). Inside a guarded call the
 * action does not run. Take a new safe point, roll back, `clear()` the
 * manager, or raise `maxCheckpoints`.
 */
export class CheckpointLimitError extends Error {
  /** The limit. */
  readonly maxCheckpoints: number;
  /** The safe point that would have been evicted. */
  readonly safePoint: Checkpoint;
  declare readonly [CHECKPOINT_LIMIT]: true;

  constructor(maxCheckpoints: number, safePoint: Checkpoint) {
    super(
      `checkpoint limit reached (maxCheckpoints ${maxCheckpoints}): making room would evict the last safe point ` +
        `"${safePoint.name}" (${safePoint.id}); take a new safe point, roll back or clear() first, ` +
        `or set safePointEviction: 'evict'`,
    );
    this.name = 'CheckpointLimitError';
    this.maxCheckpoints = maxCheckpoints;
    this.safePoint = safePoint;
    Object.defineProperty(this, CHECKPOINT_LIMIT, { value: true });
  }
}

/** True when `e` is a {@link CheckpointLimitError}, from any copy of this package. */
export function isCheckpointLimitError(e: unknown): e is CheckpointLimitError {
  return hasBrand(e, CHECKPOINT_LIMIT);
}

/**
 * Thrown by a rollback whose target does not exist: an unknown (or already
 * undone, or evicted) checkpoint id, no safe point, or more steps than there
 * are checkpoints. Nothing was undone.
 */
export class RollbackTargetError extends Error {
  /** How the target was named. */
  readonly mode: RollbackMode;
  /** The id or the number of steps asked for (`undefined` for `last_safe_point`). */
  readonly target: string | number | undefined;
  declare readonly [ROLLBACK_TARGET]: true;

  constructor(mode: RollbackMode, target: string | number | undefined, message: string) {
    super(message);
    this.name = 'RollbackTargetError';
    this.mode = mode;
    this.target = target;
    Object.defineProperty(this, ROLLBACK_TARGET, { value: true });
  }
}

/** True when `e` is a {@link RollbackTargetError}, from any copy of this package. */
export function isRollbackTargetError(e: unknown): e is RollbackTargetError {
  return hasBrand(e, ROLLBACK_TARGET);
}

/**
 * Thrown by a rollback in which an undo hook failed (after its retries),
 * once everything possible was done. `errors` holds each failed hook's last
 * error, newest checkpoint first; `report` says what happened to every
 * checkpoint in the range (undone, restored, failed, skipped) and whether
 * the state was restored.
 */
export class RollbackError extends AggregateError {
  /** The full account of the rollback. */
  readonly report: RollbackReport;
  declare readonly [ROLLBACK]: true;

  constructor(report: RollbackReport, errors: unknown[]) {
    const failed = report.entries.filter(e => e.outcome === 'failed');
    const skipped = report.entries.filter(e => e.outcome === 'skipped').length;
    const names = failed.map(e => `"${e.checkpoint.name}"`).join(', ');
    const tail =
      report.outcome === 'failed'
        ? `stopped; ${skipped} older checkpoint${skipped === 1 ? '' : 's'} skipped and the state was not restored`
        : report.restored
          ? 'the others were undone and the state was restored'
          : 'the state could not be restored';
    super(
      errors,
      `rollback to "${report.target.name}" (${report.target.id}) ${report.outcome === 'failed' ? 'failed' : 'was partial'}: ` +
        `${failed.length === 0 ? 'restoring the state failed' : `undoing ${names} failed`}; ${tail}`,
    );
    this.name = 'RollbackError';
    this.report = report;
    Object.defineProperty(this, ROLLBACK, { value: true });
  }
}

/** True when `e` is a {@link RollbackError}, from any copy of this package. */
export function isRollbackError(e: unknown): e is RollbackError {
  return hasBrand(e, ROLLBACK);
}
