/**
 * A source of the current time in milliseconds since the Unix epoch.
 *
 * Every time-based pattern takes one, so tests drive time by hand and need
 * no timers.
 *
 * @example
 * ```ts
 * let now = 0;
 * const breaker = new CircuitBreaker({ now: () => now });
 * now += 30_000; // the cooldown passes without waiting
 * ```
 */
export type Clock = () => number;

/** The wall clock, `Date.now`. */
export const systemClock: Clock = Date.now;
