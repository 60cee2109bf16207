/**
 * Step 4 of a guarded call (DESIGN.md §2): a checkpoint taken just before
 * the action, in the call's span, so that the action can be undone later and
 * its compensation links back to this span.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import type { Checkpoint } from '../../patterns/rollback/checkpoint.js';
import { isToolTimeoutError } from '../../patterns/shared/errors.js';
import {
  optionalBoolean,
  optionalFunction,
  optionalString,
  rejectUnknownOptions,
  requireFunction,
  requireObject,
} from '../../patterns/shared/validate.js';
import { compensatingManager, withCheckpoint } from './rollback-context.js';
import { settleCheckpoint, takeCheckpointInSpan } from './rollback-manager.js';
import type { RollbackManager } from './rollback-manager.js';

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

/** The checkpoint of one guarded call, to settle once the action has. */
export class GuardCheckpoint {
  /** The checkpoint taken. */
  readonly checkpoint: Checkpoint;
  private readonly _options: GuardCheckpointOptions;

  constructor(checkpoint: Checkpoint, options: GuardCheckpointOptions) {
    this.checkpoint = checkpoint;
    this._options = options;
  }

  /** `ctx` for the action: `currentCheckpoint()` returns this checkpoint in it. */
  context(ctx: Context): Context {
    return withCheckpoint(ctx, this.checkpoint);
  }

  /**
   * The action returned: completes the checkpoint with its delta. Never
   * throws or rejects; returns a promise only when the manager must wait
   * (a store, or a queued operation).
   */
  succeeded(span: Span, result: unknown, args: unknown[]): void | Promise<void> {
    const { manager, environmentDelta } = this._options;
    let delta: { value: unknown } | undefined;
    if (environmentDelta !== undefined) {
      try {
        delta = { value: environmentDelta(result, ...args) };
      } catch (err) {
        report(span, this.checkpoint, 'its environmentDelta function threw', err);
      }
    }
    return this._settle(span, manager, 'completed', delta, 'completing it failed');
  }

  /**
   * The action threw: marks the checkpoint failed. A timeout or an abort
   * leaves it pending (the action may still be running). Never throws.
   */
  failed(span: Span, err: unknown, aborted: boolean): void | Promise<void> {
    if (aborted || isToolTimeoutError(err)) return undefined;
    return this._settle(span, this._options.manager, 'failed', undefined, 'marking it failed');
  }

  private _settle(
    span: Span,
    manager: RollbackManager,
    status: 'completed' | 'failed',
    delta: { value: unknown } | undefined,
    what: string,
  ): void | Promise<void> {
    try {
      const settled = settleCheckpoint(manager, this.checkpoint.id, status, delta);
      if (settled !== undefined) return settled.catch(err => report(span, this.checkpoint, what, err));
    } catch (err) {
      report(span, this.checkpoint, what, err);
    }
    return undefined;
  }
}

/** The action ran, but what it did could not be recorded: say so on the span and in diag. */
function report(span: Span, checkpoint: Checkpoint, what: string, err: unknown): void {
  diag.error(`agent-safety-otel: checkpoint ${checkpoint.id} ("${checkpoint.name}"): ${what}; its undo hook will get no delta`, err);
  try {
    span.recordException(err instanceof Error ? err : { name: 'Error', message: String(err) });
  } catch {
    // telemetry never breaks the call
  }
}

/**
 * Takes the checkpoint of a guarded call in its span `span` (the origin of
 * the compensation link, and where the checkpoint id is recorded). Returns
 * `undefined` when the call is made by an undo hook of the same manager:
 * compensations are not checkpointed into the rollback that runs them.
 * Returns a promise only when the manager must wait (a store, a queued
 * operation).
 *
 * Throws or rejects (before the action runs) when the state cannot be read
 * or snapshotted, or the checkpoint is refused at the limit.
 */
export function takeGuardCheckpoint(
  options: GuardCheckpointOptions,
  tool: string,
  span: Span,
  parent: Context,
  args: unknown[],
): GuardCheckpoint | Promise<GuardCheckpoint> | undefined {
  const { manager } = options;
  if (compensatingManager(parent) === manager) return undefined;
  const state = options.state === undefined ? undefined : options.state(...args);
  const taken = takeCheckpointInSpan(manager, span, options.name ?? tool, state, options.isSafePoint ?? false);
  return taken instanceof Promise ? taken.then(cp => new GuardCheckpoint(cp, options)) : new GuardCheckpoint(taken, options);
}
