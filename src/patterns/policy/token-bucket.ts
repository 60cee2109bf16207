/**
 * The token bucket: `burst` tokens, refilled at `ratePerSecond`, one taken
 * per call. Refilled lazily from the elapsed time on the injected clock when
 * it is read: no timers.
 *
 * @module
 */

/** Tolerance when comparing token counts: a billionth of a token absorbs floating-point drift. */
const EPSILON = 1e-9;

/** The state of one bucket. */
export interface TokenBucketState {
  /** Tokens in the bucket at {@link at} (fractional between refills). */
  tokens: number;
  /** When `tokens` was last brought up to date (the clock's ms). */
  at: number;
}

/** A full bucket at `now`. */
export function newTokenBucket(burst: number, now: number): TokenBucketState {
  return { tokens: burst, at: now };
}

/**
 * Brings `state` up to `now`: adds the tokens earned since `state.at`, up to
 * `burst`. A clock that went backwards earns nothing.
 */
export function refillTokenBucket(state: TokenBucketState, ratePerMs: number, burst: number, now: number): void {
  const elapsed = now - state.at;
  if (elapsed <= 0) return;
  state.tokens = Math.min(burst, state.tokens + elapsed * ratePerMs);
  state.at = now;
}

/** True when `state` (brought up to date) holds `cost` tokens. */
export function tokenBucketHas(state: TokenBucketState, cost: number): boolean {
  return state.tokens + EPSILON >= cost;
}

/** Whole tokens left (after a refill). */
export function tokenBucketRemaining(state: TokenBucketState): number {
  return Math.max(0, Math.floor(state.tokens + EPSILON));
}

/** Milliseconds until `state` (brought up to date) holds `cost` tokens; 0 when it does. */
export function tokenBucketRetryAfter(state: TokenBucketState, ratePerMs: number, cost: number): number {
  const missing = cost - state.tokens;
  // The small subtraction keeps an exact whole number of ms from rounding up to the next one.
  return missing <= EPSILON ? 0 : Math.max(1, Math.ceil(missing / ratePerMs - 1e-6));
}
