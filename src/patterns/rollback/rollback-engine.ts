/**
 * The rollback manager's core: a bounded stack of checkpoints per agent,
 * undo hooks by action name, and rollbacks that run those hooks newest
 * first with retries and a failure policy. Pure: no OpenTelemetry; time,
 * waiting and persistence are injected. The instrumentation's
 * `RollbackManager` wraps it with spans and metrics through a
 * {@link RollbackObserver}.
 *
 * The model: a checkpoint marks the moment before an action. Rolling back
 * to a checkpoint returns to that moment: the undo hooks of that checkpoint
 * and of every newer one run, newest first, one at a time, and the state
 * saved in that checkpoint is returned.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { backoffDelay, backoffPolicy } from '../shared/backoff.js';
import type { BackoffOptions, BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import type { ActionStatus, Checkpoint, CheckpointRecord, EncodedSnapshot, SpanReference } from './checkpoint.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { CheckpointLimitError, RollbackError, RollbackTargetError } from './rollback-errors.js';
import type { CompensationEntry, RollbackMode, RollbackOutcome, RollbackReport } from './rollback-report.js';
import { SNAPSHOT_MODES, Snapshotter } from './snapshot.js';
import type { SnapshotCodec, SnapshotMode } from './snapshot.js';
import {
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalString,
  rejectUnknownOptions,
  requireFunction,
  requireNonEmptyString,
  requireNumber,
  requireObject,
  requireOneOf,
} from '../shared/validate.js';

/** What an undo hook is told besides the action's name and delta. */
export interface RollbackHookContext {
  /**
   * The checkpoint's id: the same on every attempt and in every process.
   * Hooks may run more than once for the same checkpoint (a retry after a
   * timeout, a rollback resumed after a crash), so they must be idempotent:
   * use this key to recognise work already undone.
   */
  readonly idempotencyKey: string;
  /** The checkpoint being undone. */
  readonly checkpoint: Checkpoint;
  /**
   * What is known about the action: `completed`, or `failed` / `pending`
   * when it never completed. A hook must cope with an action that never
   * ran or ran only in part.
   */
  readonly actionStatus: ActionStatus;
  /** 1 on the first call, 2 on the first retry, and so on. */
  readonly attempt: number;
  /** Aborted when the attempt times out (`hookTimeoutMs`). */
  readonly signal: AbortSignal;
}

/**
 * Undoes one action. Called with the checkpoint's name (the action), the
 * environment delta saved with it (a fresh copy on each attempt;
 * `undefined` when none was saved, e.g. because the action never
 * completed) and a {@link RollbackHookContext}. A throw (or rejection)
 * counts as a failed attempt. `Delta` is the delta's type, as the caller
 * declares it (nothing checks it at run time).
 */
export type RollbackHook<Delta = unknown> = (
  name: string,
  delta: Delta | undefined,
  context: RollbackHookContext,
) => void | Promise<void>;

/**
 * Retries of a failing undo hook: how many attempts, and the backoff
 * between them (`initialMs` @default 200, `maxMs` @default 5000,
 * `multiplier` @default 2, `jitter` @default 0).
 */
export interface HookRetryOptions extends BackoffOptions {
  /** Calls in total, the first included. @default 3 */
  maxAttempts?: number;
  /** @deprecated Use `initialMs`. */
  initialDelayMs?: number;
  /** @deprecated Use `maxMs`. */
  maxDelayMs?: number;
  /** Whether to retry after `error` on attempt `attempt`. @default every error is retried */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
}

/** What to do when the oldest checkpoint, which must go to make room, is the last safe point. */
export type SafePointEviction = 'refuse' | 'evict';

/** What a rollback does after a hook failed on every attempt. */
export type HookFailurePolicy = 'continue' | 'stop';

/** Options of a rollback manager. */
export interface RollbackManagerOptions {
  /** The agent whose actions this manager can undo; keys its checkpoints in a store. */
  agentId: string;
  /**
   * Checkpoints kept; taking one more evicts the oldest. @default 100
   */
  maxCheckpoints?: number;
  /**
   * When evicting the oldest checkpoint would drop the last safe point:
   * `refuse` the new checkpoint (`CheckpointLimitError`; inside a guarded
   * call the action does not run), or `evict` it anyway, with a warning
   * (span event, metric, diagnostic message). @default 'refuse'
   */
  safePointEviction?: SafePointEviction;
  /**
   * How states and deltas are copied at checkpoint time: `structured`
   * (structured clone, kept serialised; refuses functions and class
   * instances), `json` (lossy), `reference` (no copy: for immutable state)
   * or a {@link SnapshotCodec}. @default 'structured'
   */
  snapshot?: SnapshotMode | SnapshotCodec;
  /**
   * Largest snapshot (of the state, and of the delta) in bytes; a larger one
   * is refused with a `SnapshotError`. Not applied to `reference`.
   * `Infinity` turns the limit off. @default 1048576 (1 MiB)
   */
  maxSnapshotBytes?: number;
  /**
   * Where checkpoints are also kept, e.g. a `FileCheckpointStore` so that a
   * restarted process can roll back. Read on first use.
   * @default none: checkpoints live in the manager's memory
   */
  store?: CheckpointStore;
  /**
   * After a hook failed on every attempt: `continue` with the older
   * checkpoints and restore the state anyway (outcome `partial`), or `stop`
   * there without restoring the state (outcome `failed`). Either way the
   * rollback then throws a `RollbackError`. @default 'continue'
   */
  onHookFailure?: HookFailurePolicy;
  /** Retries of a failing hook. @default 3 attempts, waits of 200 ms then 400 ms */
  hookRetry?: HookRetryOptions;
  /**
   * Time limit of one hook attempt, in ms; the hook's `signal` is aborted
   * and the attempt fails with a `TimeoutError`. `Infinity` for none.
   * @default 30000
   */
  hookTimeoutMs?: number;
  /** How to wait between attempts (inject it in tests). @default a `setTimeout` promise */
  delay?: (ms: number) => Promise<void>;
  /** The clock of checkpoint times. @default Date.now */
  now?: Clock;
}

/** Options of `checkpoint()`. */
export interface CheckpointOptions {
  /**
   * The agent's state at this moment, snapshotted now: returned by a
   * rollback to this checkpoint. @default undefined (nothing to restore)
   */
  state?: unknown;
  /** Whether `rollbackToLastSafePoint()` may stop here. @default false */
  isSafePoint?: boolean;
  /**
   * What the action changes in the world, snapshotted now and given to its
   * undo hook, e.g. `{ insertedIds: [1, 2, 3] }`. Can also be given later
   * with `complete()`. @default undefined
   */
  environmentDelta?: unknown;
  /**
   * The action has not finished yet: call `complete()` (or `fail()`) when it
   * has. Until then its hook is told `actionStatus: 'pending'`.
   * @default false (the action is complete, or there is none)
   */
  pending?: boolean;
  /** The span of the action, linked to by its compensation. @default none */
  origin?: SpanReference;
}

/** Options of `complete()`. */
export interface CompleteOptions {
  /** What the action changed (replaces the delta given at checkpoint time). @default unchanged */
  environmentDelta?: unknown;
}

/** Options of a rollback. */
export interface RollbackOptions {
  /** Run the undo hooks; `false` only restores the state. @default true */
  executeHooks?: boolean;
  /** Overrides the manager's `onHookFailure` for this rollback. */
  onHookFailure?: HookFailurePolicy;
  /**
   * Why the rollback runs, in a few words (e.g. `"publish failed"`): kept in
   * the report and recorded on the rollback span. @default undefined
   */
  reason?: string;
}

/** A rollback as requested, given to the observer. */
export interface RollbackRequest {
  readonly agentId: string;
  readonly mode: RollbackMode;
  /** The id (`checkpoint_id`) or the number of steps (`steps`). */
  readonly target: string | number | undefined;
  readonly executeHooks: boolean;
  readonly onHookFailure: HookFailurePolicy;
  readonly reason: string | undefined;
}

/** Told about retries of one compensation. */
export interface CompensationListener {
  /** Attempt `attempt` failed with `error`; the next one starts in `delayMs`. */
  retry(attempt: number, error: unknown, delayMs: number): void;
}

/**
 * Watches rollbacks, e.g. to trace them. Each method wraps the work: it must
 * call `run` exactly once and return (or rethrow) what it gives.
 */
export interface RollbackObserver {
  /** Wraps a whole rollback; `run` rejects with the rollback's error. */
  rollback(request: RollbackRequest, run: () => Promise<RollbackReport>): Promise<RollbackReport>;
  /** Wraps the undo of one checkpoint (all its attempts); `run` never rejects. */
  compensate(checkpoint: Checkpoint, run: (listener: CompensationListener) => Promise<CompensationEntry>): Promise<CompensationEntry>;
  /** A store operation failed after the rollback itself succeeded (stale records stay). */
  storeFailed?(operation: string, error: unknown): void;
}

/** What `take()` did. */
export interface TakeResult {
  /** The new checkpoint. */
  readonly checkpoint: Checkpoint;
  /** Checkpoints evicted to make room, oldest first (usually none). */
  readonly evicted: readonly Checkpoint[];
  /** Whether one of them was the last safe point. */
  readonly evictedLastSafePoint: boolean;
}

/** The defaults of {@link RollbackManagerOptions}, in one place. */
export const ROLLBACK_DEFAULTS = Object.freeze({
  maxCheckpoints: 100,
  safePointEviction: 'refuse' as SafePointEviction,
  snapshot: 'structured' as SnapshotMode,
  maxSnapshotBytes: 1_048_576,
  onHookFailure: 'continue' as HookFailurePolicy,
  hookRetry: Object.freeze({ maxAttempts: 3, initialMs: 200, maxMs: 5_000, multiplier: 2, jitter: 0 }),
  hookTimeoutMs: 30_000,
});

const OPTION_KEYS = [
  'agentId',
  'maxCheckpoints',
  'safePointEviction',
  'snapshot',
  'maxSnapshotBytes',
  'store',
  'onHookFailure',
  'hookRetry',
  'hookTimeoutMs',
  'delay',
  'now',
] as const;
/**
 * The backoff of `hookRetry` (validated, defaults filled in), reading the
 * deprecated `initialDelayMs` / `maxDelayMs` when the new names are not given.
 */
function hookRetryBackoff(r: HookRetryOptions): BackoffPolicy {
  requireObject('hookRetry', r);
  if (r.initialMs !== undefined && r.initialDelayMs !== undefined) throw new TypeError('hookRetry: give initialMs or initialDelayMs (its deprecated name), not both');
  if (r.maxMs !== undefined && r.maxDelayMs !== undefined) throw new TypeError('hookRetry: give maxMs or maxDelayMs (its deprecated name), not both');
  const { initialDelayMs, maxDelayMs, maxAttempts: _a, shouldRetry: _s, ...backoff } = r;
  optionalNumber('hookRetry.initialDelayMs', initialDelayMs, { min: 0, max: MAX_TIMER_MS });
  optionalNumber('hookRetry.maxDelayMs', maxDelayMs, { min: 0, max: MAX_TIMER_MS });
  const d = ROLLBACK_DEFAULTS.hookRetry;
  const initialMs = backoff.initialMs ?? initialDelayMs ?? d.initialMs;
  const policy = backoffPolicy(
    { ...backoff, initialMs, maxMs: backoff.maxMs ?? maxDelayMs ?? Math.max(d.maxMs, initialMs) },
    d,
    'hookRetry',
  );
  requireNumber('hookRetry.maxMs', policy.maxMs, { max: MAX_TIMER_MS });
  return policy;
}

const CHECKPOINT_KEYS = ['state', 'isSafePoint', 'environmentDelta', 'pending', 'origin'] as const;
const ROLLBACK_KEYS = ['executeHooks', 'onHookFailure', 'reason'] as const;
const MAX_TIMER_MS = 2_147_483_647;

function optionalLimit(option: string, value: unknown, rule: { min: number; max?: number; integer?: boolean }): void {
  if (value === undefined || value === Number.POSITIVE_INFINITY) return;
  requireNumber(option, value, rule);
}

/** Validates manager options, throwing `TypeError`/`RangeError` naming the option. */
export function validateRollbackManagerOptions(options: unknown): asserts options is RollbackManagerOptions {
  requireObject('RollbackManager options', options);
  const o = options as RollbackManagerOptions;
  rejectUnknownOptions('RollbackManager', o, OPTION_KEYS);
  requireNonEmptyString('agentId', o.agentId);
  optionalNumber('maxCheckpoints', o.maxCheckpoints, { min: 1, integer: true });
  if (o.safePointEviction !== undefined) requireOneOf('safePointEviction', o.safePointEviction, ['refuse', 'evict']);
  if (o.snapshot !== undefined && (typeof o.snapshot !== 'object' || o.snapshot === null)) {
    requireOneOf('snapshot', o.snapshot, SNAPSHOT_MODES);
  }
  if (typeof o.snapshot === 'object' && o.snapshot !== null) {
    const codec = o.snapshot as SnapshotCodec;
    requireObject('snapshot', codec);
    requireNonEmptyString('snapshot.name', codec.name);
    if ((SNAPSHOT_MODES as readonly string[]).includes(codec.name)) {
      throw new TypeError(`snapshot.name must not be a built-in mode name, got ${JSON.stringify(codec.name)}`);
    }
    requireFunction('snapshot.encode', codec.encode);
    requireFunction('snapshot.decode', codec.decode);
  }
  optionalLimit('maxSnapshotBytes', o.maxSnapshotBytes, { min: 1, integer: true });
  if (o.store !== undefined) {
    requireObject('store', o.store);
    for (const method of ['put', 'get', 'list', 'delete'] as const) requireFunction(`store.${method}`, o.store[method]);
    if (o.store.persistent === true && o.snapshot === 'reference') {
      throw new TypeError(`snapshot must not be "reference" with a persistent store: by-reference snapshots cannot be saved`);
    }
  }
  if (o.onHookFailure !== undefined) requireOneOf('onHookFailure', o.onHookFailure, ['continue', 'stop']);
  if (o.hookRetry !== undefined) {
    hookRetryBackoff(o.hookRetry);
    optionalNumber('hookRetry.maxAttempts', o.hookRetry.maxAttempts, { min: 1, max: 100, integer: true });
    optionalFunction('hookRetry.shouldRetry', o.hookRetry.shouldRetry);
  }
  optionalLimit('hookTimeoutMs', o.hookTimeoutMs, { min: 1, max: MAX_TIMER_MS });
  optionalFunction('delay', o.delay);
  optionalFunction('now', o.now);
}

function validateCheckpointOptions(options: unknown): asserts options is CheckpointOptions {
  requireObject('checkpoint options', options);
  const o = options as CheckpointOptions;
  rejectUnknownOptions('checkpoint', o, CHECKPOINT_KEYS);
  optionalBoolean('isSafePoint', o.isSafePoint);
  optionalBoolean('pending', o.pending);
  if (o.origin !== undefined) {
    requireObject('origin', o.origin);
    if (typeof o.origin.traceId !== 'string' || !/^[0-9a-f]{32}$/.test(o.origin.traceId)) {
      throw new TypeError(`origin.traceId must be 32 lowercase hex characters, got ${JSON.stringify(o.origin.traceId)}`);
    }
    if (typeof o.origin.spanId !== 'string' || !/^[0-9a-f]{16}$/.test(o.origin.spanId)) {
      throw new TypeError(`origin.spanId must be 16 lowercase hex characters, got ${JSON.stringify(o.origin.spanId)}`);
    }
    requireNumber('origin.traceFlags', o.origin.traceFlags, { min: 0, max: 255, integer: true });
  }
}

function validateRollbackOptions(options: unknown): asserts options is RollbackOptions {
  requireObject('rollback options', options);
  const o = options as RollbackOptions;
  rejectUnknownOptions('rollback', o, ROLLBACK_KEYS);
  optionalBoolean('executeHooks', o.executeHooks);
  if (o.onHookFailure !== undefined) requireOneOf('onHookFailure', o.onHookFailure, ['continue', 'stop']);
  optionalString('reason', o.reason);
}

const realDelay = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));
const passThrough: RollbackObserver = {
  rollback: (_request, run) => run(),
  compensate: (_checkpoint, run) => run({ retry() {} }),
};
const noop = (): void => {};
const NONE: readonly Checkpoint[] = Object.freeze([]);
/** A record is its own public view: frozen, handed out without a copy. */
const checkpointOf = (record: CheckpointRecord): Checkpoint => record;

/** A record before its turn: `seq` is set, and the record frozen, when it is pushed. */
type Draft = { -readonly [K in keyof CheckpointRecord]: CheckpointRecord[K] };

/** One checkpoint's undo, before it becomes a report entry. */
interface Undo {
  outcome: CompensationEntry['outcome'];
  attempts: number;
  error?: unknown;
}

/**
 * The pure rollback manager. Store reads and writes, checkpoints and
 * rollbacks of one engine run one at a time, in call order; snapshots are
 * taken when `checkpoint()` is called.
 *
 * Do not take a checkpoint from inside an undo hook of the same engine: it
 * would wait for the rollback, which waits for the hook.
 */
export class RollbackEngine {
  /** The agent whose actions this engine can undo. */
  readonly agentId: string;
  private readonly _max: number;
  private readonly _safePointEviction: SafePointEviction;
  private readonly _snapshots: Snapshotter;
  private readonly _store: CheckpointStore | undefined;
  private readonly _onHookFailure: HookFailurePolicy;
  private readonly _retry: { readonly maxAttempts: number; readonly shouldRetry: HookRetryOptions['shouldRetry']; readonly backoff: BackoffPolicy };
  private readonly _timeoutMs: number;
  private readonly _delay: (ms: number) => Promise<void>;
  private readonly _now: Clock;
  private readonly _observer: RollbackObserver;
  private readonly _hooks = new Map<string, RollbackHook>();
  private _stack: CheckpointRecord[] = [];
  private _seq = 0;
  private _loaded: boolean;
  private _tail: Promise<unknown> = Promise.resolve();
  /** Operations queued or running through `_serial`. */
  private _queued = 0;
  /** Ids are this random prefix and a counter: unique across managers and processes, cheap to make. */
  private readonly _idPrefix = randomUUID();
  private _ids = 0;

  constructor(options: RollbackManagerOptions, observer: RollbackObserver = passThrough) {
    validateRollbackManagerOptions(options);
    const d = ROLLBACK_DEFAULTS;
    this.agentId = options.agentId;
    this._max = options.maxCheckpoints ?? d.maxCheckpoints;
    this._safePointEviction = options.safePointEviction ?? d.safePointEviction;
    this._snapshots = new Snapshotter(options.snapshot ?? d.snapshot, options.maxSnapshotBytes ?? d.maxSnapshotBytes);
    this._store = options.store;
    this._loaded = options.store === undefined;
    this._onHookFailure = options.onHookFailure ?? d.onHookFailure;
    const r = options.hookRetry ?? {};
    this._retry = { maxAttempts: r.maxAttempts ?? d.hookRetry.maxAttempts, shouldRetry: r.shouldRetry, backoff: hookRetryBackoff(r) };
    this._timeoutMs = options.hookTimeoutMs ?? d.hookTimeoutMs;
    this._delay = options.delay ?? realDelay;
    this._now = options.now ?? systemClock;
    this._observer = observer;
  }

  /** Checkpoints held now (those of a store count once it has been read). */
  get size(): number {
    return this._stack.length;
  }

  /**
   * Registers the undo hook of the action `actionName`, replacing any
   * previous one. Hooks are code: after a restart, register them again
   * before rolling back. Returns a function that unregisters it.
   */
  registerRollbackHook<Delta = unknown>(actionName: string, hook: RollbackHook<Delta>): () => void {
    requireNonEmptyString('actionName', actionName);
    requireFunction('hook', hook);
    this._hooks.set(actionName, hook as RollbackHook);
    return () => {
      if (this._hooks.get(actionName) === (hook as RollbackHook)) this._hooks.delete(actionName);
    };
  }

  /** Takes a checkpoint; see {@link take} for what else happened. */
  async checkpoint(name: string, options: CheckpointOptions = {}): Promise<Checkpoint> {
    return (await this.take(name, options)).checkpoint;
  }

  /**
   * Takes a checkpoint before the action `name`: snapshots `state` and
   * `environmentDelta` now, then (in order with other operations) makes room
   * if the manager is full, saves it to the store and pushes it.
   *
   * @throws SnapshotError when a snapshot cannot be taken.
   * @throws CheckpointLimitError when making room would evict the last safe point and `safePointEviction` is `refuse`.
   */
  take(name: string, options: CheckpointOptions = {}): Promise<TakeResult> {
    try {
      requireNonEmptyString('name', name);
      validateCheckpointOptions(options);
      const { origin } = options;
      const trusted = origin === undefined ? options : { ...options, origin: { traceId: origin.traceId, spanId: origin.spanId, traceFlags: origin.traceFlags } };
      return Promise.resolve(this.takeTrusted(name, trusted));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * `take()` for callers that built `options` themselves (no validation;
   * `origin` is kept, frozen, not copied).
   * Runs in the caller's tick, without a promise, when the engine has no
   * store and nothing is queued: the common case of a guarded call. Throws
   * synchronously in that case.
   * @internal
   */
  takeTrusted(name: string, options: CheckpointOptions): TakeResult | Promise<TakeResult> {
    const draft: Draft = {
      v: 1,
      agentId: this.agentId,
      id: `${this._idPrefix}-${++this._ids}`,
      seq: 0,
      name,
      at: this._now(),
      isSafePoint: options.isSafePoint ?? false,
      actionStatus: options.pending === true ? 'pending' : 'completed',
      hooked: this._hooks.has(name),
      origin: options.origin === undefined ? undefined : Object.freeze(options.origin),
      state: this._snapshots.take(options.state, 'state'),
      delta: this._snapshots.take(options.environmentDelta, 'environmentDelta'),
    };
    if (this._canRunNow()) return this._push(draft);
    return this._serial(async () => {
      await this._ensureLoaded();
      return this._push(draft);
    });
  }

  /**
   * Records that the action of checkpoint `id` completed, with what it
   * changed. Returns the updated checkpoint, or `undefined` when it is no
   * longer held (undone or evicted meanwhile).
   */
  complete(id: string, options: CompleteOptions = {}): Promise<Checkpoint | undefined> {
    try {
      requireNonEmptyString('id', id);
      requireObject('complete options', options);
      rejectUnknownOptions('complete', options, ['environmentDelta']);
      const delta = 'environmentDelta' in options ? this._snapshots.take(options.environmentDelta, 'environmentDelta') : null;
      return Promise.resolve(this._settle(id, 'completed', delta));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Records that the action of checkpoint `id` failed (it may have changed
   * part of the world). Returns the updated checkpoint, or `undefined`.
   */
  fail(id: string): Promise<Checkpoint | undefined> {
    try {
      requireNonEmptyString('id', id);
      return Promise.resolve(this._settle(id, 'failed', null));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * `complete()` / `fail()` for callers that know `id` is valid; `delta`
   * (when given) is snapshotted now. Synchronous like {@link takeTrusted}.
   * @internal
   */
  settleTrusted(id: string, status: 'completed' | 'failed', delta?: { value: unknown }): void | Promise<void> {
    const encoded = delta === undefined ? null : this._snapshots.take(delta.value, 'environmentDelta');
    const settled = this._settle(id, status, encoded);
    return settled instanceof Promise ? settled.then(noop) : undefined;
  }

  /** The checkpoints held, oldest first. */
  async list(): Promise<Checkpoint[]> {
    if (!this._loaded) await this._serial(() => this._ensureLoaded());
    return this._stack.map(checkpointOf);
  }

  /**
   * Forgets every checkpoint without undoing anything: the plan succeeded
   * and there is nothing left to roll back. Returns how many were dropped.
   */
  async clear(): Promise<number> {
    return this._serial(async () => {
      await this._ensureLoaded();
      const ids = this._stack.map(r => r.id);
      if (this._store !== undefined) await this._store.delete(this.agentId, ids);
      this._stack = [];
      return ids.length;
    });
  }

  /**
   * Returns to the moment checkpoint `id` was taken: undoes it and every
   * newer checkpoint, newest first, and returns its state.
   */
  async rollbackTo(id: string, options: RollbackOptions = {}): Promise<RollbackReport> {
    requireNonEmptyString('checkpointId', id);
    return this._rollback('checkpoint_id', id, options);
  }

  /** Returns to the most recent safe point (which is undone too), like {@link rollbackTo}. */
  async rollbackToLastSafePoint(options: RollbackOptions = {}): Promise<RollbackReport> {
    return this._rollback('last_safe_point', undefined, options);
  }

  /** Undoes the `steps` newest checkpoints and returns the state of the oldest of them. */
  async rollbackSteps(steps: number, options: RollbackOptions = {}): Promise<RollbackReport> {
    requireNumber('steps', steps, { min: 1, integer: true });
    return this._rollback('steps', steps, options);
  }

  // ── internals ────────────────────────────────────────────────────────────

  /** True when an operation may run now, in the caller's tick: no store to wait for and nothing queued. */
  private _canRunNow(): boolean {
    return this._store === undefined && this._queued === 0;
  }

  /** Runs `op` after every operation queued before it; failures do not block later ones. */
  private _serial<T>(op: () => T | Promise<T>): Promise<T> {
    const previous = this._tail;
    this._queued++;
    const run = (async () => {
      try {
        await previous;
        return await op();
      } finally {
        this._queued--;
      }
    })();
    this._tail = run.then(noop, noop);
    return run;
  }

  private async _ensureLoaded(): Promise<void> {
    if (this._loaded || this._store === undefined) return;
    const records = await this._store.list(this.agentId);
    for (const r of records) {
      for (const snap of [r.state, r.delta]) {
        if (snap !== undefined && !this._snapshots.canRestore(snap.codec)) {
          throw new TypeError(
            `checkpoint ${r.id} of agent "${this.agentId}" was saved with the snapshot codec "${snap.codec}", ` +
              `which this manager does not have: configure a snapshot codec of that name`,
          );
        }
      }
    }
    this._stack = records;
    this._seq = records.reduce((max, r) => Math.max(max, r.seq), this._seq);
    this._loaded = true;
  }

  private _lastSafePointIndex(): number {
    for (let i = this._stack.length - 1; i >= 0; i--) if (this._stack[i].isSafePoint) return i;
    return -1;
  }

  /** The oldest records to evict so one more fits; throws when that would drop the last safe point and policy refuses. */
  private _planEviction(): { doomed: CheckpointRecord[]; lastSafePoint: boolean } {
    const excess = this._stack.length + 1 - this._max;
    if (excess <= 0) return { doomed: [], lastSafePoint: false };
    const lastSafe = this._lastSafePointIndex();
    const lastSafePoint = lastSafe !== -1 && lastSafe < excess;
    if (lastSafePoint && this._safePointEviction === 'refuse') {
      throw new CheckpointLimitError(this._max, checkpointOf(this._stack[lastSafe]));
    }
    return { doomed: this._stack.slice(0, excess), lastSafePoint };
  }

  /** Pushes a draft checkpoint, making room first; through the store when there is one. */
  private _push(draft: Draft): TakeResult | Promise<TakeResult> {
    const { doomed, lastSafePoint } = this._planEviction();
    draft.seq = this._seq + 1;
    const record: CheckpointRecord = Object.freeze(draft);
    const store = this._store;
    if (store === undefined) return this._commit(record, doomed, lastSafePoint);
    return (async () => {
      await store.put(record);
      if (doomed.length > 0) await store.delete(this.agentId, doomed.map(r => r.id));
      return this._commit(record, doomed, lastSafePoint);
    })();
  }

  private _commit(record: CheckpointRecord, doomed: CheckpointRecord[], lastSafePoint: boolean): TakeResult {
    this._seq = record.seq;
    if (doomed.length > 0) this._stack.splice(0, doomed.length);
    this._stack.push(record);
    return { checkpoint: record, evicted: doomed.length === 0 ? NONE : doomed, evictedLastSafePoint: lastSafePoint };
  }

  /** Sets the action status (and the delta unless `delta` is null) of checkpoint `id`, if still held. */
  private _settle(
    id: string,
    status: ActionStatus,
    delta: EncodedSnapshot | undefined | null,
  ): CheckpointRecord | undefined | Promise<CheckpointRecord | undefined> {
    if (this._canRunNow()) return this._settleNow(id, status, delta);
    return this._serial(async () => {
      await this._ensureLoaded();
      return this._settleNow(id, status, delta);
    });
  }

  private _settleNow(
    id: string,
    status: ActionStatus,
    delta: EncodedSnapshot | undefined | null,
  ): CheckpointRecord | undefined | Promise<CheckpointRecord | undefined> {
    let index = this._stack.length - 1; // usually the newest
    while (index >= 0 && this._stack[index].id !== id) index--;
    if (index === -1) return undefined;
    const old = this._stack[index];
    const record: CheckpointRecord = Object.freeze({ ...old, actionStatus: status, delta: delta === null ? old.delta : delta });
    const store = this._store;
    if (store === undefined) {
      this._stack[index] = record;
      return record;
    }
    return store.put(record).then(() => {
      this._stack[index] = record;
      return record;
    });
  }

  private _rollback(mode: RollbackMode, target: string | number | undefined, options: RollbackOptions): Promise<RollbackReport> {
    validateRollbackOptions(options);
    const request: RollbackRequest = Object.freeze({
      agentId: this.agentId,
      mode,
      target,
      executeHooks: options.executeHooks ?? true,
      onHookFailure: options.onHookFailure ?? this._onHookFailure,
      reason: options.reason,
    });
    return this._observer.rollback(request, () => this._serial(() => this._run(request)));
  }

  private _resolveTarget(request: RollbackRequest): number {
    const { mode, target } = request;
    const n = this._stack.length;
    if (mode === 'checkpoint_id') {
      const index = this._stack.findIndex(r => r.id === target);
      if (index === -1) {
        throw new RollbackTargetError(mode, target, `no checkpoint ${JSON.stringify(target)} (never taken, already undone, or evicted)`);
      }
      return index;
    }
    if (mode === 'last_safe_point') {
      const index = this._lastSafePointIndex();
      if (index === -1) throw new RollbackTargetError(mode, undefined, `no safe point to roll back to (${n} checkpoint${n === 1 ? '' : 's'} held)`);
      return index;
    }
    const steps = target as number;
    if (steps > n) throw new RollbackTargetError(mode, steps, `cannot roll back ${steps} steps: ${n} checkpoint${n === 1 ? '' : 's'} held`);
    return n - steps;
  }

  private async _run(request: RollbackRequest): Promise<RollbackReport> {
    await this._ensureLoaded();
    const targetIndex = this._resolveTarget(request);
    const range = this._stack.slice(targetIndex).reverse(); // newest first
    const target = range[range.length - 1];
    const results = new Map<CheckpointRecord, Undo>();
    const errors: unknown[] = [];
    let stopped = false;
    for (const record of range) {
      let undo: Undo;
      if (stopped) {
        undo = { outcome: 'skipped', attempts: 0 };
      } else if (!request.executeHooks || (!record.hooked && !this._hooks.has(record.name))) {
        undo = { outcome: 'restored', attempts: 0 };
      } else {
        undo = await this._compensate(record);
      }
      results.set(record, undo);
      if (undo.outcome === 'failed') {
        errors.push(undo.error);
        if (request.onHookFailure === 'stop') stopped = true;
      }
    }

    let restored = false;
    let state: unknown;
    if (!stopped) {
      try {
        state = this._snapshots.restore(target.state);
        restored = true;
      } catch (err) {
        errors.push(err);
      }
    }

    // Undone and restored checkpoints leave; failed and skipped ones stay for
    // a later attempt, and so does the target when its state could not be
    // read or a hook failed: the same rollback again (to the last safe point)
    // then retries what failed and returns the target's state again.
    const gone = new Set(range.filter(r => {
      const outcome = results.get(r)!.outcome;
      return (outcome === 'undone' || outcome === 'restored') && (r !== target || (restored && errors.length === 0));
    }));
    this._stack = this._stack.filter(r => !gone.has(r));
    if (this._store !== undefined && gone.size > 0) {
      try {
        await this._store.delete(this.agentId, [...gone].map(r => r.id));
      } catch (err) {
        this._observer.storeFailed?.('delete', err);
      }
    }

    const outcome: RollbackOutcome = errors.length === 0 ? 'complete' : stopped || !restored ? 'failed' : 'partial';
    const report: RollbackReport = Object.freeze({
      agentId: this.agentId,
      mode: request.mode,
      target: checkpointOf(target),
      steps: range.length,
      executeHooks: request.executeHooks,
      reason: request.reason,
      outcome,
      restored,
      state,
      entries: Object.freeze(
        range.map(r => {
          const u = results.get(r)!;
          const entry: CompensationEntry = { checkpoint: checkpointOf(r), outcome: u.outcome, attempts: u.attempts };
          return Object.freeze(u.outcome === 'failed' ? { ...entry, error: u.error } : entry);
        }),
      ),
    });
    if (errors.length > 0) throw new RollbackError(report, errors);
    return report;
  }

  /** Runs the hook of `record` through the observer; guarantees it runs once even if the observer misbehaves. */
  private async _compensate(record: CheckpointRecord): Promise<Undo> {
    const checkpoint = checkpointOf(record);
    let result: Promise<CompensationEntry> | undefined;
    const run = (listener: CompensationListener): Promise<CompensationEntry> => {
      result ??= this._runHook(record, checkpoint, listener);
      return result;
    };
    let entry: CompensationEntry;
    try {
      entry = await this._observer.compensate(checkpoint, run);
    } catch {
      entry = await run({ retry: noop });
    }
    return { outcome: entry.outcome, attempts: entry.attempts, error: entry.error };
  }

  private async _runHook(record: CheckpointRecord, checkpoint: Checkpoint, listener: CompensationListener): Promise<CompensationEntry> {
    const hook = this._hooks.get(record.name);
    if (hook === undefined) {
      const error = new Error(
        `no undo hook is registered for "${record.name}", although one was when checkpoint ${record.id} was taken ` +
          `(after a restart, register the hooks again before rolling back)`,
      );
      error.name = 'MissingRollbackHookError';
      return { checkpoint, outcome: 'failed', attempts: 0, error };
    }
    const { maxAttempts, shouldRetry, backoff } = this._retry;
    for (let attempt = 1; ; attempt++) {
      try {
        await this._attempt(hook, record, checkpoint, attempt);
        return { checkpoint, outcome: 'undone', attempts: attempt };
      } catch (error) {
        let retry = attempt < maxAttempts;
        if (retry && shouldRetry !== undefined) {
          try {
            retry = shouldRetry(error, attempt) === true;
          } catch {
            retry = false;
          }
        }
        if (!retry) return { checkpoint, outcome: 'failed', attempts: attempt, error };
        const delayMs = backoffDelay(attempt, backoff);
        try {
          listener.retry(attempt, error, delayMs);
        } catch {
          // an observer's failure never changes the rollback
        }
        if (delayMs > 0) await this._delay(delayMs);
      }
    }
  }

  /** One call of the hook, with a fresh copy of the delta and the time limit. */
  private async _attempt(hook: RollbackHook, record: CheckpointRecord, checkpoint: Checkpoint, attempt: number): Promise<void> {
    const controller = new AbortController();
    const context: RollbackHookContext = Object.freeze({
      idempotencyKey: record.id,
      checkpoint,
      actionStatus: record.actionStatus,
      attempt,
      signal: controller.signal,
    });
    const delta = this._snapshots.restore(record.delta);
    const running = (async () => hook(record.name, delta, context))();
    if (this._timeoutMs === Number.POSITIVE_INFINITY) return running;
    running.catch(noop); // it may settle after the timeout
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new DOMException(
          `undo hook of "${record.name}" did not finish within ${this._timeoutMs} ms (attempt ${attempt})`,
          'TimeoutError',
        );
        controller.abort(error);
        reject(error);
      }, this._timeoutMs);
    });
    try {
      await Promise.race([running, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
