/**
 * The data a rollback manager keeps: checkpoints, as plain values. Pure: no
 * OpenTelemetry, no I/O.
 *
 * A checkpoint marks the moment before an action. It holds a snapshot of the
 * agent's state at that moment, the name of the action (undo hooks are looked
 * up by it), what the action changed in the world (its environment delta),
 * and a reference to the span of the action, so that a compensation can link
 * to it even from another trace or another process.
 *
 * @module
 */

/**
 * What is known about the action a checkpoint names:
 * - `completed`: it finished (the usual case for a checkpoint taken by hand
 *   after the fact, and for a guarded call that returned);
 * - `failed`: it threw; it may have changed part of the world;
 * - `pending`: it never reported back: it is still running, it was abandoned
 *   (timeout, abort) or the process stopped while it ran.
 *
 * An undo hook is told the status, so that it can treat an action that never
 * completed as possibly partial, or as a no-op.
 */
export type ActionStatus = 'pending' | 'completed' | 'failed';

/**
 * A span, by its ids: enough to link to it later from any trace or process.
 * The rollback manager fills it from the active span; a checkpoint store
 * keeps it.
 */
export interface SpanReference {
  /** 32 lowercase hex characters. */
  readonly traceId: string;
  /** 16 lowercase hex characters. */
  readonly spanId: string;
  /** W3C trace flags (bit 0: sampled). */
  readonly traceFlags: number;
}

/** A value snapshot as a codec encoded it (see `snapshot.ts`). */
export interface EncodedSnapshot {
  /** The codec that encoded it: `structured`, `json`, `reference` or a custom codec's name. */
  readonly codec: string;
  /** The encoded form: bytes, text, or (for `reference`) the value itself. */
  readonly data: unknown;
  /** Size of the encoded form in bytes; `undefined` for `reference`. */
  readonly bytes: number | undefined;
}

/** A checkpoint as the manager shows it. */
export interface Checkpoint {
  /**
   * Unique id: a random per-manager prefix and a counter. The same in every
   * process (it is stored); undo hooks get it as their idempotency key.
   */
  readonly id: string;
  /** The agent whose manager took it. */
  readonly agentId: string;
  /** The action the checkpoint precedes; its undo hook is registered under this name. */
  readonly name: string;
  /** Position in the agent's history: strictly increasing, also across restarts. */
  readonly seq: number;
  /** When it was taken, in ms since the epoch (the manager's clock). */
  readonly at: number;
  /** Whether rollbacks to "the last safe point" may stop here. */
  readonly isSafePoint: boolean;
  /** What is known about the action. */
  readonly actionStatus: ActionStatus;
  /** The span of the action, for compensation links; `undefined` when no span was active. */
  readonly origin: SpanReference | undefined;
}

/**
 * What a {@link CheckpointStore} stores: a checkpoint with its snapshots,
 * frozen. A change (the action completed) is a new record with the same id.
 * The manager hands out records as {@link Checkpoint}s (no copy); treat the
 * snapshots as opaque.
 */
export interface CheckpointRecord extends Checkpoint {
  /** Format version of this record. */
  readonly v: 1;
  /**
   * Whether an undo hook was registered for `name` when the checkpoint was
   * taken. A rollback then fails this checkpoint, rather than skipping it
   * quietly, if the hook is missing (e.g. not registered again after a restart).
   */
  readonly hooked: boolean;
  /** The agent state at checkpoint time; `undefined` when none was given. */
  readonly state: EncodedSnapshot | undefined;
  /** What the action changed, as given to the undo hook; `undefined` when none was given. */
  readonly delta: EncodedSnapshot | undefined;
}
