/**
 * Step 5 of a guarded call (DESIGN.md §2): a checkpoint taken just before
 * the action, in the call's span, so that the action can be undone later and
 * its compensation links back to this span; settled once the action has.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import type { Exception } from '@opentelemetry/api';
import type { Checkpoint } from '../../patterns/rollback/checkpoint.js';
import { isToolTimeoutError } from '../../patterns/shared/errors.js';
import { then } from '../../patterns/shared/maybe-promise.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import {
  optionalBoolean,
  optionalFunction,
  optionalString,
  rejectUnknownOptions,
  requireFunction,
  requireObject,
} from '../../patterns/shared/validate.js';
import { compensatingManager, withCheckpoint } from './rollback-context.js';
import { settleCheckpoint, takeCallCheckpoint } from './rollback-manager.js';
import type { RollbackManager } from './rollback-manager.js';
import type { ActionOutcome, GuardCall, GuardStep, StepDecision, StepEntry } from '../guard/guard-step.js';

/**
 * The `checkpoint` option of `guard()`: take a checkpoint before each call.
 * `A` is the guarded function's parameter list, `R` its (awaited) result.
 */
export interface GuardCheckpointOptions<A extends unknown[] = unknown[], R = unknown> {
  /** The manager to checkpoint into. */
  manager: RollbackManager;
  /** The checkpoint's name, under which the undo hook is registered. @default the tool's name */
  name?: string;
  /** Each call's checkpoint is a safe point (the moment before this call). @default false */
  isSafePoint?: boolean;
  /**
   * The agent's state before the call, from its arguments; snapshotted
   * before the action runs. A throw, or a state that cannot be snapshotted,
   * fails the call before the action runs. @default undefined (no state)
   */
  state?: (...args: A) => unknown;
  /**
   * What a successful call changed in the world, from its result and
   * arguments: given to the undo hook as its `delta`, e.g.
   * `(draft) => ({ draftId: draft.id })`. Evaluated after the action
   * returns; a throw is reported and leaves the delta empty (the action has
   * happened: the call still succeeds). For a call that failed or never
   * finished, the hook gets `undefined` and `actionStatus` says why.
   * @default undefined (no delta)
   */
  environmentDelta?: (result: R, ...args: A) => unknown;
}

const KEYS = ['manager', 'name', 'isSafePoint', 'state', 'environmentDelta'] as const;

/** Validates the guard's `checkpoint` option, naming `option` in errors. */
export function validateGuardCheckpoint(option: string, value: unknown): void {
  if (value === undefined) return;
  requireObject(option, value);
  const o = value as GuardCheckpointOptions;
  rejectUnknownOptions(option, o, KEYS);
  requireObject(`${option}.manager`, o.manager);
  for (const method of ['checkpoint', 'complete', 'fail'] as const) {
    requireFunction(`${option}.manager.${method} (a RollbackManager)`, (o.manager as unknown as Record<string, unknown>)[method]);
  }
  optionalString(`${option}.name`, o.name);
  optionalBoolean(`${option}.isSafePoint`, o.isSafePoint);
  optionalFunction(`${option}.state`, o.state);
  optionalFunction(`${option}.environmentDelta`, o.environmentDelta);
}

/**
 * The checkpoint step of one guarded tool: takes a pending checkpoint just
 * before the action (its id on the call's span, the span as the origin of
 * the compensation link, the checkpoint in the action's context), and
 * settles it once the action has: completed with its delta, or failed. A
 * timeout or an abort leaves it pending (the action may still be running).
 *
 * Settling never fails the call: what could not be recorded is an
 * `exception` event on the span and a `diag` error.
 */
export class CheckpointStep implements GuardStep<Checkpoint> {
  readonly name = 'checkpoint';
  private readonly _options: GuardCheckpointOptions;
  private readonly _tool: string;

  constructor(options: GuardCheckpointOptions, tool: string) {
    this._options = options;
    this._tool = tool;
  }

  /**
   * Takes the checkpoint. Nothing when the call is made by an undo hook of
   * the same manager: compensations are not checkpointed into the rollback
   * that runs them. A promise only when the manager must wait (a store, a
   * queued operation). Throws or rejects (before the action runs) when the
   * state cannot be read or snapshotted, or the checkpoint is refused at the
   * limit.
   */
  admit(call: GuardCall): MaybePromise<StepEntry<Checkpoint>> | undefined {
    const o = this._options;
    const { manager } = o;
    if (compensatingManager(call.parent) === manager) return undefined;
    const state = o.state === undefined ? undefined : o.state(...call.args);
    const taken = takeCallCheckpoint(manager, call, o.name ?? this._tool, state, o.isSafePoint ?? false);
    return then(taken, ({ checkpoint, decision }) => ({ ...decision, state: checkpoint, context: withCheckpoint(call.context, checkpoint) }));
  }

  /** Settles the checkpoint. Never throws or rejects. */
  conclude(call: GuardCall, checkpoint: Checkpoint | undefined, outcome: ActionOutcome): MaybePromise<StepDecision | undefined> {
    if (checkpoint === undefined) return undefined;
    const { manager, environmentDelta } = this._options;
    if (!outcome.ok) {
      if (outcome.aborted || isToolTimeoutError(outcome.error)) return undefined;
      return settle(manager, checkpoint, 'failed', undefined, 'marking it failed');
    }
    let delta: { value: unknown } | undefined;
    let failed: StepDecision | undefined;
    if (environmentDelta !== undefined) {
      try {
        delta = { value: environmentDelta(outcome.result, ...call.args) };
      } catch (err) {
        failed = report(checkpoint, 'its environmentDelta function threw', err);
      }
    }
    if (failed === undefined) return settle(manager, checkpoint, 'completed', delta, 'completing it failed');
    // The delta's failure is on the span before the manager is asked.
    return { ...failed, next: () => settle(manager, checkpoint, 'completed', delta, 'completing it failed') ?? NOTHING };
  }
}

const NOTHING: StepDecision = Object.freeze({});

function settle(
  manager: RollbackManager,
  checkpoint: Checkpoint,
  status: 'completed' | 'failed',
  delta: { value: unknown } | undefined,
  what: string,
): MaybePromise<StepDecision> | undefined {
  try {
    const settled = settleCheckpoint(manager, checkpoint.id, status, delta);
    if (settled !== undefined) return settled.then(() => NOTHING, (err: unknown) => report(checkpoint, what, err));
  } catch (err) {
    return report(checkpoint, what, err);
  }
  return undefined;
}

/** The action ran, but what it did could not be recorded: say so in diag, and as an exception event on the span. */
function report(checkpoint: Checkpoint, what: string, err: unknown): StepDecision {
  diag.error(`agent-safety-otel: checkpoint ${checkpoint.id} ("${checkpoint.name}"): ${what}; its undo hook will get no delta`, err);
  const exception: Exception = err instanceof Error ? err : { name: 'Error', message: String(err) };
  return { exceptions: [exception] };
}
