/**
 * What a rollback reports: for every checkpoint in its range, what happened
 * to it, and whether the agent's state was restored. Pure data.
 *
 * @module
 */
import type { Checkpoint } from './checkpoint.js';

/** How a rollback names its target: by id, the last safe point, or a number of steps. */
export type RollbackMode = 'checkpoint_id' | 'last_safe_point' | 'steps';

/**
 * What happened to one checkpoint in a rollback:
 * - `undone`: its undo hook ran and succeeded;
 * - `restored`: no hook ran (none is registered for its name, or the
 *   rollback only restores state); only the state went back past it;
 * - `failed`: its hook failed on every attempt (or is missing although one
 *   was registered when the checkpoint was taken);
 * - `skipped`: not attempted, because an earlier hook failed and the policy
 *   is `stop`.
 *
 * `failed` and `skipped` checkpoints stay in the manager, so that a later
 * rollback can try them again; the others are removed.
 */
export type CompensationOutcome = 'undone' | 'restored' | 'failed' | 'skipped';

/**
 * How a rollback ended:
 * - `complete`: nothing failed and the state was restored;
 * - `partial`: some hooks failed, the others ran (policy `continue`) and
 *   the state was restored;
 * - `failed`: it stopped at a failed hook (policy `stop`), or the state
 *   could not be restored.
 */
export type RollbackOutcome = 'complete' | 'partial' | 'failed';

/** One checkpoint of a rollback's range. */
export interface CompensationEntry {
  /** The checkpoint. */
  readonly checkpoint: Checkpoint;
  /** What happened to it. */
  readonly outcome: CompensationOutcome;
  /** How many times its hook was called (0 when it did not run). */
  readonly attempts: number;
  /** The last error of a `failed` hook. */
  readonly error?: unknown;
}

/** The account of one rollback, returned (or carried by a `RollbackError`). */
export interface RollbackReport {
  /** The agent whose checkpoints were rolled back. */
  readonly agentId: string;
  /** How the target was named. */
  readonly mode: RollbackMode;
  /** The checkpoint rolled back to: the oldest of the range. */
  readonly target: Checkpoint;
  /** Number of checkpoints in the range (the target and every newer one). */
  readonly steps: number;
  /** Whether undo hooks were run, or only the state restored. */
  readonly executeHooks: boolean;
  /** Why the rollback ran, as its caller said. */
  readonly reason: string | undefined;
  /** How it ended. */
  readonly outcome: RollbackOutcome;
  /** Whether the target's state was restored (false when the rollback stopped early). */
  readonly restored: boolean;
  /**
   * The agent state at the target checkpoint: a fresh copy, which the caller
   * may mutate (`undefined` when not restored or when no state was saved).
   */
  readonly state: unknown;
  /** Every checkpoint of the range, newest first: the order hooks ran in. */
  readonly entries: readonly CompensationEntry[];
}
