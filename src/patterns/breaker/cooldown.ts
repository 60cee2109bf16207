/**
 * How long an opened circuit breaker waits before it lets a probe through.
 *
 * @module
 */
import { optionalNumber, rejectUnknownOptions, requireNumber, requireObject } from '../shared/validate.js';

/**
 * Milliseconds to stay open, given how many times the breaker has opened
 * since it was last closed (1 for the first opening, 2 when the first probe
 * failed, …). The breaker clamps the result to `[0, maxCooldownMs]`.
 */
export type CooldownFunction = (openings: number) => number;

/** Options of {@link exponentialCooldown}. */
export interface ExponentialCooldownOptions {
  /** Multiplier per re-opening. @default 2 */
  factor?: number;
}

/**
 * A cooldown that grows on each re-opening: `initialMs × factor^(openings − 1)`.
 * Bound it with the breaker's `maxCooldownMs`.
 *
 * @example
 * ```ts
 * new CircuitBreaker({ cooldownMs: exponentialCooldown(5_000), maxCooldownMs: 300_000 });
 * // 5 s, 10 s, 20 s, … up to 5 min while probes keep failing
 * ```
 */
export function exponentialCooldown(initialMs: number, options: ExponentialCooldownOptions = {}): CooldownFunction {
  requireNumber('exponentialCooldown initialMs', initialMs, { min: 0 });
  requireObject('exponentialCooldown options', options);
  rejectUnknownOptions('exponentialCooldown', options, ['factor']);
  optionalNumber('exponentialCooldown.factor', options.factor, { min: 1 });
  const factor = options.factor ?? 2;
  return openings => initialMs * factor ** Math.max(0, openings - 1);
}
