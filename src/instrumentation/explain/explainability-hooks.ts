/**
 * Explainability hooks (the original's `ExplainabilityHookManager`): one
 * manager per agent keeps the explanation records of its actions in a ring
 * buffer, hands them to registered callbacks off the action's path, and
 * wraps functions so that each call is explained at its three phases.
 *
 * @module
 */
import { context, diag, trace } from '@opentelemetry/api';
import { EXPLANATION_PHASES } from '../../patterns/explain/action-explanation.js';
import type { ActionExplanation, ExplanationQuery } from '../../patterns/explain/action-explanation.js';
import { systemClock } from '../../patterns/shared/clock.js';
import type { Clock } from '../../patterns/shared/clock.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import { isThenable } from '../../patterns/shared/maybe-promise.js';
import { RingBuffer } from '../../patterns/shared/ring-buffer.js';
import {
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalString,
  rejectUnknownOptions,
  requireFunction,
  requireObject,
  requireOneOf,
} from '../../patterns/shared/validate.js';
import { Explainer, validateExplainOptions } from './explainer.js';
import type { ExplainOptions, ExplanationSink } from './explainer.js';
import type { GuardCall, StepDecision } from '../guard/guard-step.js';
import { writeDecision } from '../guard/span-recorder.js';
import { telemetry } from '../shared/telemetry.js';
import { PACKAGE_NAME } from '../shared/version.js';

/** Options of {@link ExplainabilityHookManager}. */
export interface ExplainabilityHookManagerOptions {
  /** The agent whose actions are explained (recorded on every record). @default undefined: the acting agent of each call, when known */
  agentId?: string;
  /** Records kept in memory; the oldest is dropped beyond it. @default 2048 */
  capacity?: number;
  /** Record redacted summaries of each call's arguments and result (or error). @default true */
  summaries?: boolean;
  /** Longest summary, in characters. @default 256 */
  summaryMaxLength?: number;
  /** Applied to summaries. @default the guard's `redact`, else the instrumentation's (`redactSecrets`) */
  redact?: Redactor;
  /** A synchronous callback that runs longer than this is reported through `diag`. @default 100 */
  slowCallbackMs?: number;
  /** Source of record timestamps and durations. @default Date.now */
  now?: Clock;
}

/** Defaults of {@link ExplainabilityHookManagerOptions}. */
export const EXPLAINABILITY_HOOK_DEFAULTS = Object.freeze({
  capacity: 2048,
  summaries: true,
  summaryMaxLength: 256,
  slowCallbackMs: 100,
});

/**
 * Receives each record. May be async: it is never awaited on the action's
 * path. A throw or rejection is reported through `diag` and changes nothing.
 */
export type ExplanationCallback = (record: ActionExplanation) => unknown;

const MANAGER_KEYS = ['agentId', 'capacity', 'summaries', 'summaryMaxLength', 'redact', 'slowCallbackMs', 'now'] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function, whatever its `this` and parameters
type AnyFunction = (this: any, ...args: any[]) => any;

/**
 * The `explain` option of `guard()`: the explanation, plus the manager that
 * keeps the records and calls back (without one, the explanation is only
 * written onto the span).
 */
export interface GuardExplainOptions<A extends unknown[] = unknown[]> extends ExplainOptions<A> {
  /** Keeps the records and calls back. @default undefined (telemetry events only: log records or span events) */
  hooks?: ExplainabilityHookManager;
}

/** Options of {@link ExplainabilityHookManager.explain}: the explanation, plus the action's name. */
export interface ExplainWrapperOptions<A extends unknown[]> extends ExplainOptions<A> {
  /** The action's name in records. @default the function's name */
  action?: string;
}

/**
 * Keeps and distributes the explanation records of one agent's actions.
 *
 * Records are made by guarded tools given `explain: { hooks, ... }` and by
 * functions wrapped with {@link explain}. Each record is also an
 * `agent_safety.explanation` event of the action's span (a log record, or a
 * span event: the instrumentation's `explanationEvents`). Callbacks run after the
 * action's synchronous path (batched on `setImmediate`); a throwing, slow
 * or rejecting callback is reported through `diag` and never reaches the
 * action.
 *
 * @example
 * ```ts
 * const hooks = new ExplainabilityHookManager({ agentId: 'content-ranker-v3' });
 * hooks.registerCallback(record => metricsDb.insert(record.toJSON()));
 * const rank = hooks.explain({
 *   reasoning: 'Ranking content by engagement signals and safety classifier output.',
 *   confidence: 0.91,
 *   alternativesConsidered: ['chronological sort', 'diversity-reranked'],
 * })(rankContent);
 * ```
 */
export class ExplainabilityHookManager implements ExplanationSink {
  /** The agent recorded on records, when set. */
  readonly agentId: string | undefined;
  /** Whether records carry summaries. */
  readonly summaries: boolean;
  /** Longest summary. */
  readonly summaryMaxLength: number;
  /** The manager's own redactor, when given. */
  readonly redact: Redactor | undefined;
  /** The manager's clock. */
  readonly now: Clock;
  private readonly _buffer: RingBuffer<ActionExplanation>;
  private readonly _slowMs: number;
  private _callbacks: readonly ExplanationCallback[] = [];
  private _queue: ActionExplanation[] = [];
  private _scheduled: ReturnType<typeof setImmediate> | undefined;

  /**
   * @param options the options, or just the agent id (as in the original)
   * @throws TypeError or RangeError for bad options, naming the option and value
   */
  constructor(options: ExplainabilityHookManagerOptions | string = {}) {
    const o: ExplainabilityHookManagerOptions = typeof options === 'string' ? { agentId: options } : options;
    requireObject('ExplainabilityHookManager options', o);
    rejectUnknownOptions('ExplainabilityHookManager', o, MANAGER_KEYS);
    optionalString('agentId', o.agentId);
    optionalNumber('capacity', o.capacity, { min: 1, max: 10_000_000, integer: true });
    optionalBoolean('summaries', o.summaries);
    optionalNumber('summaryMaxLength', o.summaryMaxLength, { min: 16, integer: true });
    optionalFunction('redact', o.redact);
    optionalNumber('slowCallbackMs', o.slowCallbackMs, { min: 0 });
    optionalFunction('now', o.now);
    this.agentId = o.agentId;
    this.summaries = o.summaries ?? EXPLAINABILITY_HOOK_DEFAULTS.summaries;
    this.summaryMaxLength = o.summaryMaxLength ?? EXPLAINABILITY_HOOK_DEFAULTS.summaryMaxLength;
    this.redact = o.redact;
    this.now = o.now ?? systemClock;
    this._slowMs = o.slowCallbackMs ?? EXPLAINABILITY_HOOK_DEFAULTS.slowCallbackMs;
    this._buffer = new RingBuffer(o.capacity ?? EXPLAINABILITY_HOOK_DEFAULTS.capacity);
  }

  /** The most records kept. */
  get capacity(): number {
    return this._buffer.capacity;
  }

  /** Records held now. */
  get size(): number {
    return this._buffer.size;
  }

  /** Records dropped (oldest first) because the buffer was full. */
  get dropped(): number {
    return this._buffer.dropped;
  }

  /**
   * Calls `callback` with every record made from now on (the original's
   * `register_callback`). Returns a function that unregisters it.
   */
  registerCallback(callback: ExplanationCallback): () => void {
    requireFunction('callback', callback);
    this._callbacks = [...this._callbacks, callback];
    return () => {
      this._callbacks = this._callbacks.filter(cb => cb !== callback);
    };
  }

  /**
   * The records held, oldest first, filtered by `query` (the original's
   * `get_explanations`).
   *
   * @example
   * ```ts
   * const failures = hooks.getExplanations({ phase: 'on_error', since: Date.now() - 60_000 });
   * ```
   */
  getExplanations(query: ExplanationQuery = {}): ActionExplanation[] {
    requireObject('query', query);
    rejectUnknownOptions('getExplanations', query, ['phase', 'action', 'since']);
    if (query.phase !== undefined) requireOneOf('phase', query.phase, EXPLANATION_PHASES);
    optionalString('action', query.action);
    const since = query.since instanceof Date ? query.since.getTime() : query.since;
    optionalNumber('since', since);
    const out: ActionExplanation[] = [];
    for (const r of this._buffer) {
      if (query.phase !== undefined && r.phase !== query.phase) continue;
      if (query.action !== undefined && r.action !== query.action) continue;
      if (since !== undefined && r.timestamp < since) continue;
      out.push(r);
    }
    return out;
  }

  /** Forgets every record held (callbacks already scheduled still run). */
  clear(): void {
    this._buffer.clear();
  }

  /** Delivers the records waiting for callbacks now, instead of on the next `setImmediate`. */
  flush(): void {
    if (this._scheduled !== undefined) {
      clearImmediate(this._scheduled);
      this._scheduled = undefined;
    }
    this._deliver();
  }

  /**
   * A decorator-like wrapper (the original's `@hooks.explain(...)`): each
   * call of the returned function makes a `pre_action` record, then a
   * `post_action` or `on_error` record when it returns, throws, or its
   * promise settles. The function's result, `this`, and errors are passed
   * through unchanged, and a synchronous function stays synchronous.
   *
   * The records are also `agent_safety.explanation` events (log records or
   * span events) of the span active at the call (a guarded call's span,
   * when used inside one).
   *
   * @throws TypeError or RangeError for bad options, naming them.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any[] (not unknown[]) so that a function with typed parameters is accepted
  explain<A extends unknown[] = any[]>(options: ExplainWrapperOptions<A>): <F extends (...args: A) => unknown>(fn: F) => F {
    validateExplainOptions('explain', options, ['action']);
    optionalString('explain.action', options.action);
    return <F extends (...args: A) => unknown>(fn: F): F => {
      requireFunction('fn (the function to explain)', fn);
      const explainer = new Explainer(options.action ?? (fn.name || 'anonymous'), options as ExplainOptions<never[]>, this);
      const wrapped = function (this: unknown, ...args: unknown[]): unknown {
        const active = context.active();
        const span = trace.getSpan(active);
        const call: GuardCall = {
          tool: explainer.action,
          args,
          input: args,
          callId: undefined,
          agent: undefined,
          redact: telemetry.settings.redact,
          signal: undefined,
          parent: active,
          context: active,
          spanContext: span?.spanContext(),
          recording: span !== undefined && span.isRecording(),
        };
        const record = (decision: StepDecision | undefined): void => {
          if (span !== undefined && decision !== undefined) writeDecision(span, decision);
        };
        const entry = explainer.admit(call);
        record(entry);
        const trail = entry.state;
        let result: unknown;
        try {
          result = (fn as AnyFunction).apply(this, args);
        } catch (err) {
          record(explainer.conclude(call, trail, { ok: false, error: err, aborted: false }));
          throw err;
        }
        if (!isThenable(result)) {
          record(explainer.conclude(call, trail, { ok: true, result }));
          return result;
        }
        return Promise.resolve(result).then(
          value => {
            record(explainer.conclude(call, trail, { ok: true, result: value }));
            return value;
          },
          (err: unknown) => {
            record(explainer.conclude(call, trail, { ok: false, error: err, aborted: false }));
            throw err;
          },
        );
      };
      Object.defineProperty(wrapped, 'name', { value: fn.name });
      return wrapped as unknown as F;
    };
  }

  /** @internal Stores a record and schedules its callbacks. Never throws. */
  accept(record: ActionExplanation): void {
    this._buffer.push(record);
    if (this._callbacks.length === 0) return;
    this._queue.push(record);
    if (this._scheduled === undefined) {
      this._scheduled = setImmediate(() => {
        this._scheduled = undefined;
        this._deliver();
      });
    }
  }

  private _deliver(): void {
    const batch = this._queue;
    if (batch.length === 0) return;
    this._queue = [];
    const callbacks = this._callbacks;
    for (const record of batch) {
      for (const cb of callbacks) {
        const started = performance.now();
        try {
          const ret = cb(record);
          if (isThenable(ret)) {
            Promise.resolve(ret).then(undefined, (err: unknown) => {
              diag.warn(`${PACKAGE_NAME}: an explanation callback rejected; ignored`, err);
            });
          }
        } catch (err) {
          diag.warn(`${PACKAGE_NAME}: an explanation callback threw; ignored`, err);
        }
        const took = performance.now() - started;
        if (took > this._slowMs) {
          diag.warn(`${PACKAGE_NAME}: an explanation callback took ${took.toFixed(0)} ms (more than ${this._slowMs} ms); keep callbacks fast or make them async`);
        }
      }
    }
  }
}
