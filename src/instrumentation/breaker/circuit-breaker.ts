import { diag } from '@opentelemetry/api';
import { CircuitBreakerCore } from '../../patterns/breaker/circuit-breaker-core.js';
import type { CircuitBreakerOptions } from '../../patterns/breaker/circuit-breaker-options.js';
import { breakerInstruments, trackBreaker, untrackBreaker } from './breaker-metrics.js';
import { PACKAGE_NAME } from '../shared/version.js';
import { instrumentStore } from '../store/instrumented-store.js';

/**
 * A circuit breaker that reports itself: its state, transitions and call
 * outcomes are metrics (`agent_safety.circuit_breaker.*`) read at collection
 * time, whether it guards calls through `guard({ breaker })` or is used on
 * its own with `execute` / `protect`. Failures of user callbacks (listeners,
 * classifiers, a cooldown function) are reported through `diag`.
 *
 * It owns no timer and never keeps the process alive. It is tracked for
 * metrics weakly: once unreachable it is garbage collected and its series
 * stop; `dispose()` stops them at once.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({
 *   name: 'rank_content',
 *   agentId: 'content-ranker-v3',
 *   failureThreshold: 5,
 *   cooldownMs: 60_000,
 *   onStateChange: (agentId, from, to) => alert(`${agentId}: ${from} → ${to}`),
 * });
 * const rank = breaker.protect((userId: string, ids: string[]) => rankingApi.rank(userId, ids));
 * ```
 */
export class CircuitBreaker extends CircuitBreakerCore {
  /**
   * @throws TypeError or RangeError naming a bad option and its value.
   */
  constructor(options: CircuitBreakerOptions = {}) {
    // A fleet's store reports its latency and failures as metrics.
    const store = (options as CircuitBreakerOptions | undefined)?.fleet?.store;
    super(store === undefined ? options : { ...options, fleet: { ...options.fleet!, store: instrumentStore(store) } });
    trackBreaker(this);
    // A transition is rare: use it to notice a meter provider set up after
    // this breaker was created, so a breaker used alone still reports.
    this.onStateChange(() => void breakerInstruments());
  }

  /**
   * Stops reporting this breaker's metrics (it keeps working). Optional: an
   * unreachable breaker is dropped from the metrics when it is collected.
   */
  dispose(): void {
    untrackBreaker(this);
  }

  protected override _reportError(message: string, error: unknown): void {
    if (error === undefined) diag.error(`${PACKAGE_NAME}: ${message}`);
    else diag.error(`${PACKAGE_NAME}: ${message}`, error);
  }
}
