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

/**
 * The clock of an options object that takes `now` and, for compatibility,
 * the deprecated `clock`: `now`, else `clock`, else {@link systemClock}.
 * Throws a `TypeError` when both are given, or either is not a function.
 */
export function resolveNow(options: { readonly now?: Clock | undefined; readonly clock?: Clock | undefined }): Clock {
  const { now, clock } = options;
  if (now !== undefined && typeof now !== 'function') throw new TypeError(`now must be a function, got ${typeof now}`);
  if (clock !== undefined && typeof clock !== 'function') throw new TypeError(`clock must be a function, got ${typeof clock}`);
  if (now !== undefined && clock !== undefined) throw new TypeError('give now or clock (its deprecated name), not both');
  return now ?? clock ?? systemClock;
}
