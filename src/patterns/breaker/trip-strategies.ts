/**
 * Trip strategies: when a closed circuit breaker opens. Each is a value
 * (a reusable, frozen description) that creates a fresh counter per breaker;
 * a breaker given several opens as soon as any of them fires.
 *
 * @module
 */
import { CountWindow, TimeWindow } from './rolling-window.js';
import type { RollingWindow } from './rolling-window.js';
import { rejectUnknownOptions, requireNonEmptyString, requireNumber, requireObject, optionalNumber } from '../shared/validate.js';

/**
 * The counting state of one strategy inside one breaker. It sees every call
 * admitted while the breaker was closed and settled as a success or failure
 * (ignored calls and aborts are not shown to it).
 */
export interface TripCounter {
  /**
   * Counts one call; returns true when the breaker should open now.
   * @param failed the call failed
   * @param slow it took at least the breaker's slow-call limit
   * @param now the breaker's clock (only read when a strategy is `timeBased`)
   */
  record(failed: boolean, slow: boolean, now: number): boolean;
  /** Forgets everything counted (on every transition to open or closed, and on `reset()`). */
  reset(): void;
  /** A JSON-safe copy of what was counted, for the breaker's `toJSON()`. */
  toJSON(): unknown;
  /** Restores what `toJSON()` saved; returns false (and starts empty) when it does not fit. */
  restore(snapshot: unknown): boolean;
}

/** A trip strategy: a description that creates one {@link TripCounter} per breaker. */
export interface TripStrategy {
  /** Low-cardinality name: the `reason` of the transitions it causes. */
  readonly name: string;
  /** Calls taking at least this long (ms) are slow. Set by slow-call strategies. */
  readonly slowCallMs?: number;
  /** True when `record` needs the current time (the breaker then reads its clock per call). */
  readonly timeBased?: boolean;
  /** Creates the counting state for one breaker. */
  create(): TripCounter;
}

/** Defaults of the built-in strategies. */
export const TRIP_DEFAULTS = Object.freeze({
  /** Window of the rate strategies when neither `windowMs` nor `windowCalls` is given. */
  windowMs: 60_000,
  /** Buckets a time window is cut into (`bucketMs = windowMs / buckets`). */
  buckets: 10,
  /** Calls a time window needs before its rate counts. */
  minimumCalls: 10,
  /** Most buckets a time window may have (memory bound). */
  maxBuckets: 1_000,
  /** Longest count window. */
  maxWindowCalls: 100_000,
});

/** The window of a rate strategy: a time window or the last N calls. */
export interface RateWindowOptions {
  /**
   * The rate is over the last `windowMs` milliseconds (give this or
   * `windowCalls`). @default 60000 when neither is given
   */
  windowMs?: number;
  /**
   * Width of one bucket of the time window; old buckets expire by elapsed
   * time. Must not exceed `windowMs`. @default windowMs / 10
   */
  bucketMs?: number;
  /** The rate is over the last `windowCalls` calls instead (give this or `windowMs`). */
  windowCalls?: number;
  /**
   * Calls the window must hold before the rate counts, so a fresh breaker
   * never trips on its first failure. @default 10 for a time window, `windowCalls` for a count window
   */
  minimumCalls?: number;
}

/** Options of {@link failureRate}. */
export interface FailureRateOptions extends RateWindowOptions {
  /** Opens when failures ÷ calls in the window reaches this, in (0, 1]. */
  threshold: number;
}

/** Options of {@link slowCallRate}. */
export interface SlowCallRateOptions extends RateWindowOptions {
  /** Opens when slow calls ÷ calls in the window reaches this, in (0, 1]. */
  threshold: number;
  /** A call taking at least this many milliseconds is slow (whether it succeeded or not). */
  slowCallMs: number;
}

const RATE_KEYS = ['threshold', 'windowMs', 'bucketMs', 'windowCalls', 'minimumCalls'] as const;

interface WindowSpec {
  make: () => RollingWindow;
  minimumCalls: number;
  timeBased: boolean;
}

function windowSpec(where: string, o: RateWindowOptions): WindowSpec {
  if (o.windowMs !== undefined && o.windowCalls !== undefined) {
    throw new TypeError(`${where}: give windowMs or windowCalls, not both`);
  }
  if (o.windowCalls !== undefined) {
    if (o.bucketMs !== undefined) throw new TypeError(`${where}: bucketMs applies to a time window (windowMs), not to windowCalls`);
    const size = o.windowCalls;
    requireNumber(`${where}.windowCalls`, size, { min: 1, max: TRIP_DEFAULTS.maxWindowCalls, integer: true });
    const minimumCalls = o.minimumCalls ?? size;
    requireNumber(`${where}.minimumCalls`, minimumCalls, { min: 1, max: size, integer: true });
    return { make: () => new CountWindow(size), minimumCalls, timeBased: false };
  }
  const windowMs = o.windowMs ?? TRIP_DEFAULTS.windowMs;
  requireNumber(`${where}.windowMs`, windowMs, { min: 0, minInclusive: false });
  const bucketMs = o.bucketMs ?? windowMs / TRIP_DEFAULTS.buckets;
  requireNumber(`${where}.bucketMs`, bucketMs, { min: 0, minInclusive: false });
  if (windowMs < bucketMs) {
    throw new RangeError(`${where}.windowMs must be at least one bucket (bucketMs = ${bucketMs}), got ${windowMs}`);
  }
  const buckets = Math.ceil(windowMs / bucketMs);
  if (buckets > TRIP_DEFAULTS.maxBuckets) {
    throw new RangeError(
      `${where}.bucketMs must cut windowMs into at most ${TRIP_DEFAULTS.maxBuckets} buckets, got ${bucketMs} (${buckets} buckets)`,
    );
  }
  const minimumCalls = o.minimumCalls ?? TRIP_DEFAULTS.minimumCalls;
  requireNumber(`${where}.minimumCalls`, minimumCalls, { min: 1, integer: true });
  return { make: () => new TimeWindow(bucketMs, buckets), minimumCalls, timeBased: true };
}

/** A counter over a rolling window that opens when hits ÷ calls ≥ threshold. */
class RateCounter implements TripCounter {
  private readonly _window: RollingWindow;
  private readonly _threshold: number;
  private readonly _minimumCalls: number;
  private readonly _slowHits: boolean;

  constructor(window: RollingWindow, threshold: number, minimumCalls: number, slowHits: boolean) {
    this._window = window;
    this._threshold = threshold;
    this._minimumCalls = minimumCalls;
    this._slowHits = slowHits;
  }

  record(failed: boolean, slow: boolean, now: number): boolean {
    const w = this._window;
    w.add(this._slowHits ? slow : failed, now);
    const total = w.count;
    return total >= this._minimumCalls && w.hitCount / total >= this._threshold;
  }

  reset(): void {
    this._window.clear();
  }

  toJSON(): unknown {
    return this._window.toJSON();
  }

  restore(snapshot: unknown): boolean {
    if (this._window.restore(snapshot)) return true;
    this._window.clear();
    return false;
  }
}

function rateStrategy(
  where: string,
  name: string,
  options: FailureRateOptions | SlowCallRateOptions,
  keys: readonly string[],
  slowCallMs: number | undefined,
): TripStrategy {
  requireObject(`${where} options`, options);
  rejectUnknownOptions(where, options, keys);
  requireNumber(`${where}.threshold`, options.threshold, { min: 0, minInclusive: false, max: 1 });
  const spec = windowSpec(where, options);
  const threshold = options.threshold;
  const strategy: TripStrategy = {
    name,
    timeBased: spec.timeBased,
    create: () => new RateCounter(spec.make(), threshold, spec.minimumCalls, slowCallMs !== undefined),
  };
  if (slowCallMs !== undefined) (strategy as { slowCallMs?: number }).slowCallMs = slowCallMs;
  return Object.freeze(strategy);
}

class ConsecutiveCounter implements TripCounter {
  private _failures = 0;
  private readonly _threshold: number;

  constructor(threshold: number) {
    this._threshold = threshold;
  }

  record(failed: boolean): boolean {
    if (!failed) {
      this._failures = 0;
      return false;
    }
    return ++this._failures >= this._threshold;
  }

  reset(): void {
    this._failures = 0;
  }

  toJSON(): unknown {
    return { failures: this._failures };
  }

  restore(snapshot: unknown): boolean {
    const failures = (snapshot as { failures?: unknown } | null)?.failures;
    if (typeof failures === 'number' && Number.isSafeInteger(failures) && failures >= 0) {
      this._failures = failures;
      return true;
    }
    this._failures = 0;
    return false;
  }
}

/**
 * Opens after `threshold` failures in a row; any success starts the count
 * again. The seed library's `failure_threshold`.
 *
 * @example
 * ```ts
 * new CircuitBreaker({ trip: consecutiveFailures(5) });
 * ```
 */
export function consecutiveFailures(threshold: number): TripStrategy {
  requireNumber('consecutiveFailures threshold', threshold, { min: 1, integer: true });
  return Object.freeze({ name: 'consecutive_failures', create: () => new ConsecutiveCounter(threshold) });
}

/**
 * Opens when the share of failed calls in a rolling window reaches
 * `threshold`, once the window holds `minimumCalls` calls. The window is
 * either time (`windowMs`, in buckets that expire by elapsed time) or the
 * last `windowCalls` calls.
 *
 * @example
 * ```ts
 * failureRate({ threshold: 0.5, windowMs: 60_000, minimumCalls: 20 }); // time window
 * failureRate({ threshold: 0.5, windowCalls: 100 });                    // last 100 calls
 * ```
 */
export function failureRate(options: FailureRateOptions): TripStrategy {
  return rateStrategy('failureRate', 'failure_rate', options, RATE_KEYS, undefined);
}

/**
 * Opens when the share of slow calls (taking at least `slowCallMs`,
 * succeeded or not) in a rolling window reaches `threshold`. A slow probe
 * in half-open counts as a failed probe. Successful slow calls are counted
 * with the outcome `slow`.
 *
 * @example
 * ```ts
 * slowCallRate({ threshold: 0.8, slowCallMs: 5_000, windowMs: 60_000 });
 * ```
 */
export function slowCallRate(options: SlowCallRateOptions): TripStrategy {
  requireObject('slowCallRate options', options);
  requireNumber('slowCallRate.slowCallMs', options.slowCallMs, { min: 0, minInclusive: false });
  return rateStrategy('slowCallRate', 'slow_call_rate', options, [...RATE_KEYS, 'slowCallMs'], options.slowCallMs);
}

/** Checks a user-supplied strategy's shape (built-in ones are known good). */
export function validateTripStrategy(option: string, value: unknown): asserts value is TripStrategy {
  requireObject(option, value);
  const s = value as Partial<TripStrategy>;
  requireNonEmptyString(`${option}.name`, s.name);
  if (typeof s.create !== 'function') throw new TypeError(`${option}.create must be a function, got ${typeof s.create}`);
  optionalNumber(`${option}.slowCallMs`, s.slowCallMs, { min: 0, minInclusive: false });
  if (s.timeBased !== undefined && typeof s.timeBased !== 'boolean') {
    throw new TypeError(`${option}.timeBased must be a boolean, got ${String(s.timeBased)}`);
  }
}
