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

/**
 * What a {@link CheckpointStore} stores: a checkpoint with its snapshots,
 * immutable. A change (the action completed) is a new record with the same id.
 */
export interface CheckpointRecord {
  /** Format version of this record. */
  readonly v: 1;
  /** The agent whose manager took it. */
  readonly agentId: string;
  /** Stable, unique id (a UUID). Passed to undo hooks as their idempotency key. */
  readonly id: string;
  /** Position in the agent's history: strictly increasing, also across restarts. */
  readonly seq: number;
  /** The action the checkpoint precedes; its undo hook is registered under this name. */
  readonly name: string;
  /** When it was taken, in ms since the epoch (the manager's clock). */
  readonly at: number;
  /** Whether rollbacks to "the last safe point" may stop here. */
  readonly isSafePoint: boolean;
  /** What is known about the action. */
  readonly actionStatus: ActionStatus;
  /**
   * Whether an undo hook was registered for `name` when the checkpoint was
   * taken. A rollback then fails this checkpoint, rather than skipping it
   * quietly, if the hook is missing (e.g. not registered again after a restart).
   */
  readonly hooked: boolean;
  /** The span of the action, for compensation links. */
  readonly origin: SpanReference | undefined;
  /** The agent state at checkpoint time; `undefined` when none was given. */
  readonly state: EncodedSnapshot | undefined;
  /** What the action changed, as given to the undo hook; `undefined` when none was given. */
  readonly delta: EncodedSnapshot | undefined;
}

/** A checkpoint as the manager shows it: the record without its snapshots. */
export interface Checkpoint {
  /** Stable, unique id (a UUID); the undo hook's idempotency key. */
  readonly id: string;
  /** The agent whose manager took it. */
  readonly agentId: string;
  /** The action the checkpoint precedes. */
  readonly name: string;
  /** Position in the agent's history, strictly increasing. */
  readonly seq: number;
  /** When it was taken, in ms since the epoch. */
  readonly at: number;
  /** Whether it is a safe point. */
  readonly isSafePoint: boolean;
  /** What is known about the action. */
  readonly actionStatus: ActionStatus;
  /** The span of the action, when one was active. */
  readonly origin: SpanReference | undefined;
  /** Size of the state snapshot in bytes (`undefined`: no state, or a by-reference snapshot). */
  readonly stateBytes: number | undefined;
}

/** The public view of `record`. */
export function checkpointOf(record: CheckpointRecord): Checkpoint {
  return Object.freeze({
    id: record.id,
    agentId: record.agentId,
    name: record.name,
    seq: record.seq,
    at: record.at,
    isSafePoint: record.isSafePoint,
    actionStatus: record.actionStatus,
    origin: record.origin,
    stateBytes: record.state?.bytes,
  });
}
