/**
 * The rollback manager users hold: the pure {@link RollbackEngine} plus its
 * telemetry. A rollback is the span `agent_safety.rollback` with one child
 * span `compensate {action}` per undo hook run, each linked to the span of
 * the action it undoes, in this trace or any earlier one.
 *
 * @module
 */
import { SpanKind, context, diag, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Attributes, Context, Link, Span, SpanContext } from '@opentelemetry/api';
import { endContained, startContained } from '../shared/contained-span.js';
import type { Checkpoint, SpanReference } from '../../patterns/rollback/checkpoint.js';
import { RollbackEngine } from '../../patterns/rollback/rollback-engine.js';
import type {
  CheckpointOptions,
  CompensationListener,
  CompleteOptions,
  RollbackHook,
  RollbackManagerOptions,
  RollbackObserver,
  RollbackOptions,
  RollbackRequest,
  TakeResult,
} from '../../patterns/rollback/rollback-engine.js';
import { isRollbackError } from '../../patterns/rollback/rollback-errors.js';
import type { CompensationEntry, RollbackReport } from '../../patterns/rollback/rollback-report.js';
import { then } from '../../patterns/shared/maybe-promise.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import { errorType, recordError } from '../guard/record-error.js';
import type { StepDecision, StepEvent } from '../guard/guard-step.js';
import { writeDecision } from '../guard/span-recorder.js';
import { compensatingManager, withCompensation } from './rollback-context.js';
import { countCompensation, countEviction, registerRollbackAgent, rollbackInstruments } from './rollback-metrics.js';
import {
  AGENT_SAFETY_LINK_TYPE_VALUE_COMPENSATES,
  ATTR_AGENT_SAFETY_CHECKPOINT_ID,
  ATTR_AGENT_SAFETY_CHECKPOINT_LAST_SAFE_POINT,
  ATTR_AGENT_SAFETY_CHECKPOINT_NAME,
  ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT,
  ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID,
  ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID,
  ATTR_AGENT_SAFETY_COMPENSATION_ACTION_STATUS,
  ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPT,
  ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPTS,
  ATTR_AGENT_SAFETY_COMPENSATION_OUTCOME,
  ATTR_AGENT_SAFETY_LINK_TYPE,
  ATTR_AGENT_SAFETY_ROLLBACK_EXECUTE_HOOKS,
  ATTR_AGENT_SAFETY_ROLLBACK_FAILED_COUNT,
  ATTR_AGENT_SAFETY_ROLLBACK_MODE,
  ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME,
  ATTR_AGENT_SAFETY_ROLLBACK_REASON,
  ATTR_AGENT_SAFETY_ROLLBACK_RESTORED_COUNT,
  ATTR_AGENT_SAFETY_ROLLBACK_SKIPPED_COUNT,
  ATTR_AGENT_SAFETY_ROLLBACK_STATE_RESTORED,
  ATTR_AGENT_SAFETY_ROLLBACK_STEPS,
  ATTR_AGENT_SAFETY_ROLLBACK_TARGET_ID,
  ATTR_AGENT_SAFETY_ROLLBACK_TARGET_NAME,
  ATTR_AGENT_SAFETY_ROLLBACK_UNDONE_COUNT,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  EVENT_AGENT_SAFETY_CHECKPOINT_EVICTED,
  EVENT_AGENT_SAFETY_COMPENSATION_RETRY,
  SPAN_AGENT_SAFETY_COMPENSATE_PREFIX,
  SPAN_AGENT_SAFETY_ROLLBACK,
} from '../shared/semconv.js';
import { currentTracer } from '../shared/telemetry.js';

/** The span reference of a span's context, or `undefined` when it is not valid (no SDK). */
function referenceOf(sc: SpanContext | undefined): SpanReference | undefined {
  if (sc === undefined) return undefined;
  if (!isSpanContextValid(sc)) return undefined;
  return { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags };
}

/** Writes what a rollback report says onto the rollback span. */
function writeReport(span: Span, report: RollbackReport): void {
  const counts = { undone: 0, restored: 0, failed: 0, skipped: 0 };
  for (const entry of report.entries) counts[entry.outcome]++;
  span.setAttributes({
    [ATTR_AGENT_SAFETY_ROLLBACK_TARGET_ID]: report.target.id,
    [ATTR_AGENT_SAFETY_ROLLBACK_TARGET_NAME]: report.target.name,
    [ATTR_AGENT_SAFETY_ROLLBACK_STEPS]: report.steps,
    [ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME]: report.outcome,
    [ATTR_AGENT_SAFETY_ROLLBACK_STATE_RESTORED]: report.restored,
    [ATTR_AGENT_SAFETY_ROLLBACK_UNDONE_COUNT]: counts.undone,
    [ATTR_AGENT_SAFETY_ROLLBACK_RESTORED_COUNT]: counts.restored,
    [ATTR_AGENT_SAFETY_ROLLBACK_FAILED_COUNT]: counts.failed,
    [ATTR_AGENT_SAFETY_ROLLBACK_SKIPPED_COUNT]: counts.skipped,
  });
}

/** Turns the engine's rollbacks into spans and counts. Never lets telemetry change a rollback. */
class RollbackTelemetry implements RollbackObserver {
  private readonly _manager: object;

  constructor(manager: object) {
    this._manager = manager;
  }

  async rollback(request: RollbackRequest, run: () => Promise<RollbackReport>): Promise<RollbackReport> {
    const parent = context.active();
    const attributes: Attributes = {
      [ATTR_AGENT_SAFETY_ROLLBACK_MODE]: request.mode,
      [ATTR_AGENT_SAFETY_ROLLBACK_EXECUTE_HOOKS]: request.executeHooks,
      [ATTR_GEN_AI_AGENT_ID]: request.agentId,
    };
    if (request.reason !== undefined) attributes[ATTR_AGENT_SAFETY_ROLLBACK_REASON] = request.reason;
    if (request.mode === 'checkpoint_id') attributes[ATTR_AGENT_SAFETY_ROLLBACK_TARGET_ID] = String(request.target);
    if (request.mode === 'steps') attributes[ATTR_AGENT_SAFETY_ROLLBACK_STEPS] = Number(request.target);
    const span = startContained(currentTracer(), SPAN_AGENT_SAFETY_ROLLBACK, { kind: SpanKind.INTERNAL, attributes }, parent);
    refreshInstruments();
    try {
      const report = await context.with(trace.setSpan(parent, span), run);
      this._finish(span, report, request.agentId);
      return report;
    } catch (err) {
      if (isRollbackError(err)) this._finish(span, err.report, request.agentId);
      recordError(span, err);
      throw err;
    } finally {
      endContained(span);
    }
  }

  private _finish(span: Span, report: RollbackReport, agentId: string): void {
    try {
      writeReport(span, report);
      for (const entry of report.entries) if (entry.outcome === 'skipped') countCompensation(agentId, 'skipped');
    } catch (err) {
      diag.error('agent-safety-otel: recording a rollback failed', err);
    }
  }

  async compensate(
    checkpoint: Checkpoint,
    run: (listener: CompensationListener) => Promise<CompensationEntry>,
  ): Promise<CompensationEntry> {
    const parent = context.active();
    const attributes: Attributes = {
      [ATTR_AGENT_SAFETY_CHECKPOINT_ID]: checkpoint.id,
      [ATTR_AGENT_SAFETY_CHECKPOINT_NAME]: checkpoint.name,
      [ATTR_AGENT_SAFETY_COMPENSATION_ACTION_STATUS]: checkpoint.actionStatus,
      [ATTR_GEN_AI_AGENT_ID]: checkpoint.agentId,
    };
    let links: Link[] | undefined;
    const origin = checkpoint.origin;
    if (origin !== undefined) {
      attributes[ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID] = origin.traceId;
      attributes[ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID] = origin.spanId;
      // Added at creation, so that samplers see it.
      links = [
        {
          context: { traceId: origin.traceId, spanId: origin.spanId, traceFlags: origin.traceFlags },
          attributes: {
            [ATTR_AGENT_SAFETY_LINK_TYPE]: AGENT_SAFETY_LINK_TYPE_VALUE_COMPENSATES,
            [ATTR_AGENT_SAFETY_CHECKPOINT_ID]: checkpoint.id,
          },
        },
      ];
    }
    const span = startContained(currentTracer(), `${SPAN_AGENT_SAFETY_COMPENSATE_PREFIX} ${checkpoint.name}`, { kind: SpanKind.INTERNAL, attributes, links }, parent);
    const listener: CompensationListener = {
      retry(attempt, error) {
        span.addEvent(EVENT_AGENT_SAFETY_COMPENSATION_RETRY, {
          [ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPT]: attempt,
          [ATTR_ERROR_TYPE]: errorType(error),
        });
      },
    };
    try {
      const entry = await context.with(withCompensation(trace.setSpan(parent, span), this._manager), run, undefined, listener);
      try {
        span.setAttribute(ATTR_AGENT_SAFETY_COMPENSATION_OUTCOME, entry.outcome);
        span.setAttribute(ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPTS, entry.attempts);
        if (entry.outcome === 'failed') recordError(span, entry.error);
        countCompensation(checkpoint.agentId, entry.outcome);
      } catch (err) {
        diag.error('agent-safety-otel: recording a compensation failed', err);
      }
      return entry;
    } finally {
      endContained(span);
    }
  }

  storeFailed(operation: string, error: unknown): void {
    diag.error(
      `agent-safety-otel: the checkpoint store's ${operation} failed after a rollback; stale checkpoints may be undone again after a restart (hooks must be idempotent)`,
      error,
    );
  }
}

/**
 * Makes sure the observable counters exist on the current meter (they are
 * recreated when the meter changes, e.g. an SDK started after this manager).
 */
function refreshInstruments(): void {
  try {
    rollbackInstruments();
  } catch (err) {
    diag.error('agent-safety-otel: creating the rollback metrics failed', err);
  }
}

/** Each manager's engine, for the guard's internal path (see {@link takeCallCheckpoint}). */
const engines = new WeakMap<object, RollbackEngine>();

/** A checkpoint taken, and what to record about it on the span it was taken in. */
export interface TakenCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly decision: StepDecision;
}

const NOTHING: StepDecision = Object.freeze({});

/**
 * Counts a new checkpoint's evictions, and decides what the span it was
 * taken in records (only when `recording`): the eviction events and the
 * `agent_safety.checkpoint.id` / `.safe_point` attributes. Never throws.
 */
function takenDecision(manager: RollbackManager, taken: TakeResult, recording: boolean): StepDecision {
  const { checkpoint, evicted } = taken;
  try {
    const events = evicted.length > 0 ? recordEviction(manager, evicted, taken.evictedLastSafePoint, recording) : undefined;
    if (!recording) return NOTHING;
    return {
      events,
      attributes: {
        [ATTR_AGENT_SAFETY_CHECKPOINT_ID]: checkpoint.id,
        [ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT]: checkpoint.isSafePoint,
      },
    };
  } catch (err) {
    diag.error('agent-safety-otel: recording a checkpoint failed', err);
    return NOTHING;
  }
}

/** Counts evictions and warns about a lost safe point; returns their span events (when `recording`). */
function recordEviction(manager: RollbackManager, evicted: readonly Checkpoint[], lastSafePoint: boolean, recording: boolean): StepEvent[] | undefined {
  refreshInstruments();
  const events: StepEvent[] | undefined = recording ? [] : undefined;
  for (const old of evicted) {
    countEviction(manager.agentId, old.isSafePoint);
    events?.push({
      name: EVENT_AGENT_SAFETY_CHECKPOINT_EVICTED,
      attributes: {
        [ATTR_AGENT_SAFETY_CHECKPOINT_ID]: old.id,
        [ATTR_AGENT_SAFETY_CHECKPOINT_NAME]: old.name,
        [ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT]: old.isSafePoint,
        [ATTR_AGENT_SAFETY_CHECKPOINT_LAST_SAFE_POINT]: lastSafePoint && old.isSafePoint,
      },
    });
  }
  if (lastSafePoint) {
    diag.warn(
      `agent-safety-otel: agent "${manager.agentId}" evicted its last safe point at the checkpoint limit; ` +
        `rollbackToLastSafePoint() has nothing to return to until a new safe point is taken`,
    );
  }
  return events;
}

/** Where a guarded call takes its checkpoint: its span's ids (the compensation link's target) and its context. */
export interface CheckpointSite {
  readonly spanContext: SpanContext | undefined;
  readonly context: Context;
  readonly recording: boolean;
}

/**
 * For `guard()`: takes a pending checkpoint of `manager` for the call at
 * `site` (its span is the checkpoint's origin), without promises when the
 * manager has no store and is idle. Returns the checkpoint and what to
 * record on the call's span. Throws (or rejects) like
 * {@link RollbackManager.checkpoint}.
 * @internal
 */
export function takeCallCheckpoint(
  manager: RollbackManager,
  site: CheckpointSite,
  name: string,
  state: unknown,
  isSafePoint: boolean,
): MaybePromise<TakenCheckpoint> {
  const engine = engines.get(manager);
  const options: CheckpointOptions = { state, isSafePoint, pending: true, origin: referenceOf(site.spanContext) };
  if (engine === undefined) {
    // Not one of ours (another copy of the package): its public method, in the call's context.
    return context.with(site.context, () => manager.checkpoint(name, options)).then(checkpoint => ({ checkpoint, decision: NOTHING }));
  }
  return then(engine.takeTrusted(name, options), taken => ({ checkpoint: taken.checkpoint, decision: takenDecision(manager, taken, site.recording) }));
}

/**
 * For `guard()`: records how the action of checkpoint `id` ended (and, for
 * `completed`, the delta when given). Synchronous when possible.
 * @internal
 */
export function settleCheckpoint(
  manager: RollbackManager,
  id: string,
  status: 'completed' | 'failed',
  delta?: { value: unknown },
): void | Promise<void> {
  const engine = engines.get(manager);
  if (engine !== undefined) return engine.settleTrusted(id, status, delta);
  const settled = status === 'failed' ? manager.fail(id) : manager.complete(id, delta === undefined ? {} : { environmentDelta: delta.value });
  return settled.then(() => {});
}

/**
 * Checkpoints, safe points and undo hooks for one agent, with telemetry.
 *
 * A checkpoint marks the moment before an action: it snapshots the agent's
 * state and names the action, whose undo hook is registered under that
 * name. When a plan fails, roll back: to a checkpoint by id, to the last
 * safe point, or by a number of steps. The hooks of the undone checkpoints
 * run newest first, one at a time, with retries; the state saved in the
 * target checkpoint is returned.
 *
 * Telemetry: each rollback is a span `agent_safety.rollback` with a child
 * `compensate {action}` per hook run, linked to the span that was active
 * when the checkpoint was taken (the guarded call), even in an earlier
 * trace or process. Works alone or through `guard(fn, { checkpoint })`.
 *
 * @example
 * ```ts
 * const manager = new RollbackManager({ agentId: 'publisher' });
 * manager.registerRollbackHook('write_db', (name, delta) => db.delete(delta.insertedIds));
 *
 * await manager.checkpoint('before_write', { state: agentState, isSafePoint: true });
 * const ids = await db.insert(rows);
 * await manager.checkpoint('write_db', { environmentDelta: { insertedIds: ids } });
 * // the plan fails later:
 * const { state } = await manager.rollbackToLastSafePoint({ reason: 'plan failed' });
 * ```
 */
export class RollbackManager {
  private readonly _engine: RollbackEngine;

  /**
   * @throws TypeError or RangeError naming the option when an option is invalid.
   */
  constructor(options: RollbackManagerOptions) {
    this._engine = new RollbackEngine(options, new RollbackTelemetry(this));
    engines.set(this, this._engine);
    registerRollbackAgent(this._engine.agentId); // its series report zeros from now on
    refreshInstruments();
  }

  /** The agent whose actions this manager can undo. */
  get agentId(): string {
    return this._engine.agentId;
  }

  /** Checkpoints held now (those of a store count once it has been read). */
  get size(): number {
    return this._engine.size;
  }

  /**
   * Registers the undo hook of the action `actionName` (the checkpoint's
   * name; for a guarded call, its tool name), replacing any previous one.
   * The hook is called as `hook(name, delta, context)`; it must be
   * idempotent (use `context.idempotencyKey`) and cope with an action that
   * never completed (`context.actionStatus`). Returns an unregister function.
   */
  registerRollbackHook<Delta = unknown>(actionName: string, hook: RollbackHook<Delta>): () => void {
    return this._engine.registerRollbackHook(actionName, hook);
  }

  /**
   * Takes a checkpoint before the action `name`, snapshotting `state` and
   * `environmentDelta` now. The active span (e.g. the guarded call it is
   * taken in) is remembered for the compensation link and gets the
   * `agent_safety.checkpoint.id` / `.safe_point` attributes. When the
   * manager is full the oldest checkpoint is evicted (a span event on the
   * active span and a metric).
   *
   * @throws SnapshotError when the state or delta cannot be snapshotted.
   * @throws CheckpointLimitError when making room would evict the last safe point (`safePointEviction: 'refuse'`).
   */
  async checkpoint(name: string, options: CheckpointOptions = {}): Promise<Checkpoint> {
    this._refuseReentry('take a checkpoint');
    const span = trace.getSpan(context.active());
    const origin = options.origin ?? referenceOf(span?.spanContext());
    const taken = await this._engine.take(name, origin === options.origin ? options : { ...options, origin });
    const recording = span !== undefined && span.isRecording();
    const decision = takenDecision(this, taken, recording);
    if (recording) writeDecision(span, decision);
    return taken.checkpoint;
  }

  /**
   * Records that the action of checkpoint `id` completed, optionally with
   * what it changed (snapshotted now). Returns the updated checkpoint, or
   * `undefined` when it was undone or evicted meanwhile.
   */
  async complete(id: string, options?: CompleteOptions): Promise<Checkpoint | undefined> {
    this._refuseReentry('complete a checkpoint');
    return this._engine.complete(id, options);
  }

  /** Records that the action of checkpoint `id` failed. Returns the updated checkpoint, or `undefined`. */
  async fail(id: string): Promise<Checkpoint | undefined> {
    this._refuseReentry('fail a checkpoint');
    return this._engine.fail(id);
  }

  /** The checkpoints held, oldest first. */
  list(): Promise<Checkpoint[]> {
    return this._engine.list();
  }

  /** Forgets every checkpoint without undoing anything (the plan succeeded). Returns how many were dropped. */
  async clear(): Promise<number> {
    this._refuseReentry('clear');
    return this._engine.clear();
  }

  /**
   * Returns to the moment checkpoint `id` was taken: undoes it and every
   * newer checkpoint, newest first, and resolves to a report whose `state`
   * is the state saved in it.
   *
   * @throws RollbackTargetError when no such checkpoint is held (nothing is undone).
   * @throws RollbackError when a hook failed, after everything possible was done; `error.report` tells all.
   */
  async rollbackTo(id: string, options?: RollbackOptions): Promise<RollbackReport> {
    this._refuseReentry('roll back');
    return this._engine.rollbackTo(id, options);
  }

  /** Like {@link rollbackTo}, to the most recent safe point. */
  async rollbackToLastSafePoint(options?: RollbackOptions): Promise<RollbackReport> {
    this._refuseReentry('roll back');
    return this._engine.rollbackToLastSafePoint(options);
  }

  /** Like {@link rollbackTo}, undoing the `steps` newest checkpoints (`steps` ≥ 1). */
  async rollbackSteps(steps: number, options?: RollbackOptions): Promise<RollbackReport> {
    this._refuseReentry('roll back');
    return this._engine.rollbackSteps(steps, options);
  }

  /**
   * Operations of a manager run one at a time; from inside one of its own
   * undo hooks they would wait for the rollback that waits for the hook.
   */
  private _refuseReentry(what: string): void {
    if (compensatingManager(context.active()) === this) {
      throw new Error(`cannot ${what} of agent "${this.agentId}" from inside one of its own undo hooks (it would wait for itself)`);
    }
  }
}
