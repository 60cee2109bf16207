/**
 * Options of the circuit breaker, their defaults (in one place), validation,
 * and the serialisable snapshot a breaker restarts from.
 *
 * @module
 */
import { systemClock } from '../shared/clock.js';
import type { Clock } from '../shared/clock.js';
import type { CooldownFunction } from './cooldown.js';
import type { BreakerVerdict, CircuitState, Transition } from './circuit-state.js';
import { consecutiveFailures, failureRate, validateTripStrategy } from './trip-strategies.js';
import type { TripStrategy } from './trip-strategies.js';
import { validateFleetOptions } from '../store/store-breaker-fleet.js';
import type { BreakerFleetOptions } from '../store/store-breaker-fleet.js';
import {
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalString,
  rejectUnknownOptions,
  requireNonEmptyString,
  requireObject,
} from '../shared/validate.js';

/**
 * Called after every change of state, with the breaker's agent id first (the
 * seed library's `on_state_change(agent_id, old_state, new_state)`). A
 * throwing listener is reported, never propagated.
 */
export type StateChangeListener = (
  agentId: string | undefined,
  from: CircuitState,
  to: CircuitState,
  transition: Transition,
) => void;

/** Options of a circuit breaker. Every option is optional. */
export interface CircuitBreakerOptions {
  /**
   * Names the breaker in metrics (`agent_safety.breaker.name`), spans and
   * errors. Give each live breaker of an agent its own name; a registry
   * names each one after its tool.
   * @default 'default'
   */
  name?: string;
  /** The agent the breaker protects (`gen_ai.agent.id` on its metrics). @default undefined */
  agentId?: string;
  /**
   * When to open: one trip strategy or several (it opens when any fires).
   * Replaces `failureThreshold`, `errorRateThreshold` and `errorRateWindowMs`,
   * which cannot be given with it.
   * @default [consecutiveFailures(failureThreshold), failureRate({ threshold: errorRateThreshold, windowMs: errorRateWindowMs, minimumCalls: 10 })]
   */
  trip?: TripStrategy | readonly TripStrategy[];
  /** Shorthand: failures in a row that open the breaker (the seed's `failure_threshold`). @default 5 */
  failureThreshold?: number;
  /**
   * Shorthand: share of failed calls, in (0, 1], over `errorRateWindowMs` that
   * opens the breaker once the window holds 10 calls (the seed's `error_rate_threshold`).
   * @default 0.5
   */
  errorRateThreshold?: number;
  /** Shorthand: the rolling window of `errorRateThreshold`, in ms (the seed's `error_rate_window_s`). @default 60000 */
  errorRateWindowMs?: number;
  /**
   * How long to stay open before letting a probe through, in ms: fixed, or a
   * function of how many times it opened since it last closed (see
   * `exponentialCooldown`). The seed's `cooldown_period_s`.
   * @default 30000
   */
  cooldownMs?: number | CooldownFunction;
  /**
   * Upper bound of the cooldown, whatever `cooldownMs` returns.
   * @default 300000, or `cooldownMs` when that is a larger number
   */
  maxCooldownMs?: number;
  /**
   * Probe calls let through when half-open. Every probe must succeed to close
   * the breaker; one failed (or slow) probe re-opens it.
   * @default 1
   */
  halfOpenProbes?: number;
  /**
   * How long a call arriving while every probe is in flight waits for their
   * verdict. If the probes close the breaker, the waiters enter as a slow
   * start, first come first: `halfOpenProbes` at once, then two more for
   * each call that completes, so a just-recovered tool is not hit by every
   * waiter at the same instant. If the window ends otherwise (a probe fails
   * or times out), its waiters are rejected: a waiter never becomes a probe
   * of a later window. A waiter still waiting after this long is rejected.
   * `0` rejects such calls at once. The caller's abort signal ends the wait
   * early.
   * @default 0
   */
  halfOpenWaitMs?: number;
  /**
   * Probes that give no answer for this long re-open the breaker
   * (`probe_timeout`), so a hung probe cannot keep it half-open forever.
   * @default 60000
   */
  maxHalfOpenMs?: number;
  /**
   * Decides how a thrown error counts. A throwing classifier counts a failure.
   * An abort by the caller's signal is `ignored` before this is asked.
   * @default every error is a `failure`, except one named `AbortError`, which is `ignored`
   */
  classifyError?: (error: unknown) => BreakerVerdict;
  /**
   * Decides how a returned value counts (e.g. an HTTP 503 response is a
   * `failure`). A throwing classifier counts a failure.
   * @default every result is a `success`
   */
  classifyResult?: (result: unknown) => BreakerVerdict;
  /**
   * Record and report only, never reject: the breaker changes state and
   * counts as usual, and a call it would have rejected runs anyway (counted
   * as `rejected`, its result not fed back). For tuning a new breaker safely.
   * `isolate()` still rejects.
   * @default false
   */
  metricsOnly?: boolean;
  /** State saved by `toJSON()`, so a restarted agent keeps its breaker. @default a fresh, closed breaker */
  initialState?: CircuitBreakerSnapshot;
  /** Listener for every change of state (more can be added with `onStateChange()`). */
  onStateChange?: StateChangeListener;
  /**
   * Share this breaker with the other replicas of the fleet through a
   * `SafetyStore` (Redis, Valkey, or in memory): an open reported by
   * `quorum` replicas opens it everywhere, one replica at a time probes
   * while it is half-open, the probe's success closes it everywhere, and the
   * store's kill switch holds it open. Failures are still counted locally;
   * with the store unreachable it works on its own. See docs/operations.md.
   * @default undefined (this process only)
   */
  fleet?: BreakerFleetOptions;
  /** The clock (ms since the epoch). Tests pass their own. @default Date.now */
  now?: Clock;
}

/**
 * A breaker's state as `toJSON()` returns it (JSON-safe). A half-open
 * breaker is saved as open with `retryAt` in the past: it probes again as
 * soon as it is asked after a restart. So is an isolated one: `isolate()`
 * holds belong to the process and are not saved.
 */
export interface CircuitBreakerSnapshot {
  /** Format version. */
  version: 1;
  state: 'closed' | 'open';
  /** When it opened (for `open`). */
  openedAt?: number;
  /** When it lets a probe through (for `open`). */
  retryAt?: number;
  /** Openings since it last closed (drives a growing cooldown). */
  openings: number;
  /** What each trip strategy had counted, in order, with the strategy's name. */
  trips: { name: string; counted: unknown }[];
}

/** The defaults of {@link CircuitBreakerOptions}. */
export const CIRCUIT_BREAKER_DEFAULTS = Object.freeze({
  name: 'default',
  failureThreshold: 5,
  errorRateThreshold: 0.5,
  errorRateWindowMs: 60_000,
  errorRateMinimumCalls: 10,
  cooldownMs: 30_000,
  maxCooldownMs: 300_000,
  halfOpenProbes: 1,
  halfOpenWaitMs: 0,
  maxHalfOpenMs: 60_000,
  metricsOnly: false,
});

const KEYS = [
  'name',
  'agentId',
  'trip',
  'failureThreshold',
  'errorRateThreshold',
  'errorRateWindowMs',
  'cooldownMs',
  'maxCooldownMs',
  'halfOpenProbes',
  'halfOpenWaitMs',
  'maxHalfOpenMs',
  'classifyError',
  'classifyResult',
  'metricsOnly',
  'initialState',
  'onStateChange',
  'fleet',
  'now',
] as const;

const MAX_TIMER_MS = 2_147_483_647;

/** Options after validation, with every default applied. */
export interface ResolvedBreakerOptions {
  name: string;
  agentId: string | undefined;
  trip: readonly TripStrategy[];
  cooldown: CooldownFunction;
  maxCooldownMs: number;
  halfOpenProbes: number;
  halfOpenWaitMs: number;
  maxHalfOpenMs: number;
  classifyError: ((error: unknown) => BreakerVerdict) | undefined;
  classifyResult: ((result: unknown) => BreakerVerdict) | undefined;
  metricsOnly: boolean;
  initialState: CircuitBreakerSnapshot | undefined;
  onStateChange: StateChangeListener | undefined;
  fleet: BreakerFleetOptions | undefined;
  now: Clock;
}

/**
 * Validates `options` and applies the defaults.
 * @throws TypeError or RangeError naming the option and the value.
 */
export function resolveBreakerOptions(options: CircuitBreakerOptions): ResolvedBreakerOptions {
  requireObject('circuit breaker options', options);
  rejectUnknownOptions('CircuitBreaker', options, KEYS);
  const d = CIRCUIT_BREAKER_DEFAULTS;
  const o = options;
  optionalString('name', o.name);
  optionalString('agentId', o.agentId);

  let trip: readonly TripStrategy[];
  if (o.trip !== undefined) {
    for (const key of ['failureThreshold', 'errorRateThreshold', 'errorRateWindowMs'] as const) {
      if (o[key] !== undefined) throw new TypeError(`CircuitBreaker: give trip or ${key}, not both (trip replaces the shorthands)`);
    }
    const list: readonly unknown[] = Array.isArray(o.trip) ? o.trip : [o.trip];
    if (list.length === 0) throw new RangeError('trip must name at least one trip strategy, got []');
    list.forEach((s, i) => validateTripStrategy(Array.isArray(o.trip) ? `trip[${i}]` : 'trip', s));
    trip = Object.freeze([...(list as TripStrategy[])]);
  } else {
    optionalNumber('failureThreshold', o.failureThreshold, { min: 1, integer: true });
    optionalNumber('errorRateThreshold', o.errorRateThreshold, { min: 0, minInclusive: false, max: 1 });
    optionalNumber('errorRateWindowMs', o.errorRateWindowMs, { min: 0, minInclusive: false });
    trip = Object.freeze([
      consecutiveFailures(o.failureThreshold ?? d.failureThreshold),
      failureRate({
        threshold: o.errorRateThreshold ?? d.errorRateThreshold,
        windowMs: o.errorRateWindowMs ?? d.errorRateWindowMs,
        minimumCalls: d.errorRateMinimumCalls,
      }),
    ]);
  }

  optionalNumber('maxCooldownMs', o.maxCooldownMs, { min: 0, max: MAX_TIMER_MS });
  const maxCooldownMs = o.maxCooldownMs ?? Math.max(d.maxCooldownMs, typeof o.cooldownMs === 'number' ? o.cooldownMs : 0);
  let cooldown: CooldownFunction;
  if (typeof o.cooldownMs === 'function') {
    cooldown = o.cooldownMs;
  } else {
    optionalNumber('cooldownMs', o.cooldownMs, { min: 0, max: maxCooldownMs });
    const fixed = o.cooldownMs ?? d.cooldownMs;
    cooldown = () => fixed;
  }
  optionalNumber('halfOpenProbes', o.halfOpenProbes, { min: 1, max: 10_000, integer: true });
  optionalNumber('halfOpenWaitMs', o.halfOpenWaitMs, { min: 0, max: MAX_TIMER_MS });
  optionalNumber('maxHalfOpenMs', o.maxHalfOpenMs, { min: 0, minInclusive: false });
  optionalFunction('classifyError', o.classifyError);
  optionalFunction('classifyResult', o.classifyResult);
  optionalBoolean('metricsOnly', o.metricsOnly);
  optionalFunction('onStateChange', o.onStateChange);
  optionalFunction('now', o.now);
  if (o.initialState !== undefined) validateSnapshot('initialState', o.initialState);
  if (o.fleet !== undefined) validateFleetOptions('fleet', o.fleet);

  return {
    name: o.name ?? d.name,
    agentId: o.agentId,
    trip,
    cooldown,
    maxCooldownMs,
    halfOpenProbes: o.halfOpenProbes ?? d.halfOpenProbes,
    halfOpenWaitMs: o.halfOpenWaitMs ?? d.halfOpenWaitMs,
    maxHalfOpenMs: o.maxHalfOpenMs ?? d.maxHalfOpenMs,
    classifyError: o.classifyError,
    classifyResult: o.classifyResult,
    metricsOnly: o.metricsOnly ?? d.metricsOnly,
    initialState: o.initialState,
    onStateChange: o.onStateChange,
    fleet: o.fleet,
    now: o.now ?? systemClock,
  };
}

/**
 * Checks that `value` is a snapshot this version can restore.
 * @throws TypeError naming the offending field.
 */
export function validateSnapshot(option: string, value: unknown): asserts value is CircuitBreakerSnapshot {
  requireObject(option, value);
  const s = value as Partial<CircuitBreakerSnapshot>;
  if (s.version !== 1) throw new TypeError(`${option}.version must be 1, got ${JSON.stringify(s.version)}`);
  if (s.state !== 'closed' && s.state !== 'open') {
    throw new TypeError(`${option}.state must be "closed" or "open", got ${JSON.stringify(s.state)}`);
  }
  if (s.state === 'open') {
    for (const key of ['openedAt', 'retryAt'] as const) {
      if (typeof s[key] !== 'number' || !Number.isFinite(s[key])) {
        throw new TypeError(`${option}.${key} must be a finite number for an open breaker, got ${JSON.stringify(s[key])}`);
      }
    }
  }
  if (typeof s.openings !== 'number' || !Number.isSafeInteger(s.openings) || s.openings < 0) {
    throw new TypeError(`${option}.openings must be a non-negative integer, got ${JSON.stringify(s.openings)}`);
  }
  if (!Array.isArray(s.trips)) throw new TypeError(`${option}.trips must be an array, got ${JSON.stringify(s.trips)}`);
  s.trips.forEach((t, i) => {
    requireObject(`${option}.trips[${i}]`, t);
    requireNonEmptyString(`${option}.trips[${i}].name`, (t as { name?: unknown }).name);
  });
}
