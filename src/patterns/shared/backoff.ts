/**
 * Exponential backoff with jitter: the one shape of "how long to wait after
 * the n-th failure", used by the OTLP audit sink (failed exports), the file
 * audit sink (failed writes) and the rollback manager (failed undo hooks).
 * Each gives its own defaults.
 *
 * @module
 */
import { rejectUnknownOptions, requireNumber, requireObject } from './validate.js';

/** How long to wait between failed attempts. Defaults depend on the user (see each option that takes it). */
export interface BackoffOptions {
  /** Delay after the first failure, in ms. */
  initialMs?: number;
  /** The delay never grows beyond this, in ms. */
  maxMs?: number;
  /** Each further failure multiplies the delay by this. */
  multiplier?: number;
  /**
   * Fraction of the delay taken off at random (0 = none, 1 = "full
   * jitter"), so that many agents restarted together do not retry in step.
   */
  jitter?: number;
}

/** {@link BackoffOptions} with every default filled in. */
export type BackoffPolicy = Readonly<Required<BackoffOptions>>;

/** The keys of {@link BackoffOptions}. */
export const BACKOFF_KEYS = ['initialMs', 'maxMs', 'multiplier', 'jitter'] as const;

/** Defaults of the OTLP audit sink's `backoff` (and of {@link backoffPolicy} when none are given). */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 });

/**
 * Validates `options` (named `where` in errors, e.g. `retry`) and fills in
 * `defaults`. Throws a `TypeError`/`RangeError` naming the option and value:
 * every value a number, `maxMs ≥ initialMs ≥ 0`, `multiplier ≥ 1`,
 * `jitter` in 0..1. `extraKeys` are other keys allowed in `options`.
 */
export function backoffPolicy(
  options: BackoffOptions | undefined = {},
  defaults: BackoffPolicy = DEFAULT_BACKOFF,
  where = 'backoff',
  extraKeys: readonly string[] = [],
): BackoffPolicy {
  requireObject(where, options);
  rejectUnknownOptions(where, options, [...BACKOFF_KEYS, ...extraKeys]);
  const policy = {
    initialMs: options.initialMs ?? defaults.initialMs,
    maxMs: options.maxMs ?? defaults.maxMs,
    multiplier: options.multiplier ?? defaults.multiplier,
    jitter: options.jitter ?? defaults.jitter,
  };
  requireNumber(`${where}.initialMs`, policy.initialMs, { min: 0 });
  requireNumber(`${where}.maxMs`, policy.maxMs, { min: policy.initialMs });
  requireNumber(`${where}.multiplier`, policy.multiplier, { min: 1 });
  requireNumber(`${where}.jitter`, policy.jitter, { min: 0, max: 1 });
  return Object.freeze(policy);
}

/**
 * The delay before the next attempt after `failures` consecutive failures:
 * `min(maxMs, initialMs × multiplier^(failures−1))`, less a random fraction
 * of up to `jitter` of it; 0 for no failure. `random` returns a number in
 * [0, 1). Always within `[(1 − jitter) × base, base]`, never above `maxMs`.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (!(failures >= 1)) return 0;
  const n = Math.floor(failures);
  // Cap the exponent so the power cannot overflow to Infinity·0 = NaN.
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, Math.min(n - 1, 1000)));
  if (policy.jitter === 0) return base;
  const r = random();
  const fraction = r >= 0 && r < 1 ? r : 0;
  return base * (1 - policy.jitter * fraction);
}
