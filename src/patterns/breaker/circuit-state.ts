/**
 * The vocabulary of the circuit breaker: its states, how a call ended, and
 * why the state changed. String unions, because they become attribute values.
 *
 * @module
 */

/**
 * `closed`: calls pass and are counted. `open`: calls are rejected at once.
 * `half_open`: a few probe calls pass; their results close or re-open it.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** Every state, in a fixed order. */
export const CIRCUIT_STATES: readonly CircuitState[] = Object.freeze(['closed', 'open', 'half_open'] as const);

/**
 * The `outcome` of a call as the breaker counts it (the `outcome` attribute
 * of `agent_safety.circuit_breaker.calls`): `success`, `failure`, `ignored`,
 * `rejected` (never ran), or `slow` (succeeded, but slower than a slow-call
 * strategy's limit). Every call has exactly one. Not to be confused with
 * `CallOutcome`, the outcome of a guarded call (`agent_safety.call.outcome`).
 */
export type BreakerCallOutcome = 'success' | 'failure' | 'ignored' | 'rejected' | 'slow';

/**
 * How a finished call is classified for the breaker (what `classifyError`
 * and `classifyResult` return): `success` and `failure` feed the trip
 * strategies; `ignored` counts for neither side (an abort by the caller is
 * always `ignored`). The breaker then counts it as that
 * {@link BreakerCallOutcome}, or `slow`.
 */
export type BreakerVerdict = Extract<BreakerCallOutcome, 'success' | 'failure' | 'ignored'>;

/** @deprecated Use {@link BreakerVerdict} (the same type). */
export type CallVerdict = BreakerVerdict;

/** Every call outcome, in a fixed order. */
export const BREAKER_CALL_OUTCOMES: readonly BreakerCallOutcome[] = Object.freeze([
  'success',
  'failure',
  'ignored',
  'rejected',
  'slow',
] as const);

/**
 * Why the breaker changed state. A trip from `closed` carries the name of the
 * trip strategy that fired (`consecutive_failures`, `failure_rate`,
 * `slow_call_rate`, or a custom strategy's name).
 *
 * - `cooldown_elapsed`: open → half_open.
 * - `probes_succeeded`: half_open → closed.
 * - `probe_failed`, `probe_slow`: half_open → open, on a probe's result.
 * - `probe_timeout`: half_open → open, probes gave no answer in `maxHalfOpenMs`.
 * - `isolated`, `released`: `isolate()` and the release of its last hold.
 * - `reset`: `reset()`.
 * - `fleet_open`, `fleet_closed`: the fleet (`fleet` option) opened it, or
 *   another replica's probe closed it.
 * - `forced_open`, `forced_released`: the fleet's kill switch and its release.
 */
export type TransitionReason =
  | 'consecutive_failures'
  | 'failure_rate'
  | 'slow_call_rate'
  | 'cooldown_elapsed'
  | 'probes_succeeded'
  | 'probe_failed'
  | 'probe_slow'
  | 'probe_timeout'
  | 'isolated'
  | 'released'
  | 'reset'
  | 'fleet_open'
  | 'fleet_closed'
  | 'forced_open'
  | 'forced_released'
  | (string & {});

/** One change of state. */
export interface Transition {
  /** The breaker that changed. */
  readonly breakerName: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: TransitionReason;
  /** When it took effect (ms since the epoch, the breaker's clock). Lazy transitions carry their due time. */
  readonly at: number;
}

/** The transitions a breaker can make, in a fixed order (the metric reports each). */
export const CIRCUIT_TRANSITIONS: readonly (readonly [CircuitState, CircuitState])[] = Object.freeze([
  ['closed', 'open'],
  ['open', 'half_open'],
  ['half_open', 'closed'],
  ['half_open', 'open'],
  ['open', 'closed'],
] as const);
