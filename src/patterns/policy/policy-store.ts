/**
 * Where the policy keeps its state: token buckets, sliding windows, calls in
 * flight, budgets spent and the kill switch. {@link PolicyStore} is the seam
 * a shared store (Redis, Valkey) implements so that replicas share limits;
 * {@link MemoryPolicyStore} keeps it in this process.
 *
 * A store may answer synchronously (the in-memory one does, so a guarded call
 * with a policy stays synchronous up to the action) or with a promise.
 *
 * @module
 */
import { newSlidingWindow, slidingWindowAdd, slidingWindowCount, slidingWindowRetryAfter } from './sliding-window.js';
import type { SlidingWindowState } from './sliding-window.js';
import { newTokenBucket, refillTokenBucket, tokenBucketHas, tokenBucketRemaining, tokenBucketRetryAfter } from './token-bucket.js';
import type { TokenBucketState } from './token-bucket.js';
import type { MaybePromise } from '../shared/maybe-promise.js';
import { requireNumber } from '../shared/validate.js';

/**
 * One counter to check (and, when every check of the call passes, to
 * update) at admission. `key` names the counter: the limit's name and the
 * agent, tool and run it is kept per.
 */
export type CounterCheck =
  | { readonly kind: 'token_bucket'; readonly key: string; readonly ratePerMs: number; readonly burst: number }
  | { readonly kind: 'sliding_window'; readonly key: string; readonly limit: number; readonly windowMs: number }
  | { readonly kind: 'concurrency'; readonly key: string; readonly max: number }
  | {
      readonly kind: 'budget';
      readonly key: string;
      readonly limit: number;
      /** Fixed windows of this length (aligned on the clock's 0); `undefined`: one budget for the key's lifetime (a run). */
      readonly windowMs: number | undefined;
      /**
       * Charged at admission (a fixed cost per call). 0 for a cost computed
       * after the call: the budget then only needs room left (> 0).
       */
      readonly reserve: number;
    };

/** The answer to {@link PolicyStore.admit}. */
export interface Admission {
  /** True when every check passed and all were applied; false when none was. */
  readonly admitted: boolean;
  /** When not admitted: the index of the first check that failed. -1 when admitted. */
  readonly failed: number;
  /**
   * What is left of each check's counter after the admission (or, when not
   * admitted, as it stands): whole tokens, calls left in the window, free
   * slots, budget units.
   */
  readonly remaining: readonly number[];
  /** When not admitted: ms until the failed check could pass; `undefined` when unknown or never. */
  readonly retryAfterMs: number | undefined;
}

/** An {@link Admission} a store fills in place ({@link MemoryPolicyStore.admitInto}). @internal */
export interface MutableAdmission {
  admitted: boolean;
  failed: number;
  readonly remaining: number[];
  retryAfterMs: number | undefined;
}

/** What the kill switch stops: everything, one agent, one tool, or one agent's use of one tool. */
export interface KillTarget {
  /** The agent's id; absent: every agent. */
  readonly agent?: string;
  /** The tool's name; absent: every tool. */
  readonly tool?: string;
}

/**
 * The state behind a policy. Implementations must make {@link admit}
 * atomic: either every check passes and all are applied, or none is.
 * A shared store does it in one round trip (e.g. one Lua script).
 */
export interface PolicyStore {
  /** Checks `checks` at `now`; when all pass, applies them all (takes a token, records the call, takes a slot, reserves the cost). */
  admit(checks: readonly CounterCheck[], now: number): MaybePromise<Admission>;
  /** Gives back one slot of each concurrency counter in `keys`. */
  release(keys: readonly string[], now: number): MaybePromise<void>;
  /**
   * Adds `amount` to the budget `key` (fixed windows of `windowMs`, or
   * `undefined` for one lifetime budget); returns what is left of `limit`.
   */
  charge(key: string, amount: number, limit: number, windowMs: number | undefined, now: number): MaybePromise<number>;
  /** The kill-switch target that stops `agent` using `tool`, if any. */
  stopped(agent: string | undefined, tool: string): MaybePromise<KillTarget | undefined>;
  /** Turns the kill switch on for `target`. */
  stop(target: KillTarget): MaybePromise<void>;
  /** Turns it off again for exactly `target`. */
  resume(target: KillTarget): MaybePromise<void>;
}

/** Options of {@link MemoryPolicyStore}. */
export interface MemoryPolicyStoreOptions {
  /**
   * Counters kept before idle ones (full buckets, empty windows, no call in
   * flight, a budget window that has passed) are dropped; when none is idle
   * the oldest run budgets, then the oldest counters go. Bounds memory when
   * counters are kept per run.
   * @default 100_000
   */
  maxCounters?: number;
}

/** Defaults of {@link MemoryPolicyStoreOptions}. */
export const MEMORY_POLICY_STORE_DEFAULTS = Object.freeze({ maxCounters: 100_000 });

interface BudgetState {
  spent: number;
  /** Start of the current window (0 for a lifetime budget). */
  windowStart: number;
  windowMs: number | undefined;
}
interface ConcurrencyState {
  inFlight: number;
}
type Counter =
  | { kind: 'token_bucket'; s: TokenBucketState; burst: number; ratePerMs: number }
  | { kind: 'sliding_window'; s: SlidingWindowState; windowMs: number }
  | { kind: 'concurrency'; s: ConcurrencyState }
  | { kind: 'budget'; s: BudgetState };

const SEP = '\u0000';

function killKey(agent: string | undefined, tool: string | undefined): string {
  return `${agent ?? ''}${SEP}${tool ?? ''}`;
}

/** The start of the fixed window of `windowMs` holding `now`. */
function windowStart(now: number, windowMs: number | undefined): number {
  return windowMs === undefined ? 0 : Math.floor(now / windowMs) * windowMs;
}

/**
 * The policy state of one process, in memory. Synchronous: a policy on it
 * adds no promise to a call that is not made to wait.
 */
export class MemoryPolicyStore implements PolicyStore {
  private readonly _counters = new Map<string, Counter>();
  private readonly _maxCounters: number;
  private readonly _stopped = new Map<string, KillTarget>();
  /** The counters phase 1 of an admission found, by check (emptied after it). */
  private readonly _found: (Counter | undefined)[] = [];
  /** Set when an admission's new counter evicted others. */
  private _evicted = false;

  constructor(options: MemoryPolicyStoreOptions = {}) {
    const maxCounters = options.maxCounters ?? MEMORY_POLICY_STORE_DEFAULTS.maxCounters;
    requireNumber('maxCounters', maxCounters, { min: 1, integer: true });
    this._maxCounters = maxCounters;
  }

  /** How many counters are kept now. */
  get size(): number {
    return this._counters.size;
  }

  admit(checks: readonly CounterCheck[], now: number): Admission {
    const out: MutableAdmission = { admitted: false, failed: -1, remaining: new Array<number>(checks.length), retryAfterMs: undefined };
    this.admitInto(checks, now, out);
    return out;
  }

  /**
   * {@link admit} writing its answer into `out` (its `remaining` must hold
   * `checks.length` numbers): a policy on this store reuses one, so an
   * admission allocates nothing. Read `out` before the next admission.
   * @internal
   */
  admitInto(checks: readonly CounterCheck[], now: number, out: MutableAdmission): void {
    const remaining = out.remaining;
    const found = this._found;
    this._evicted = false;
    // Phase 1: check every counter (refilling lazily); change nothing else.
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i];
      const counter = this._counter(check, now);
      found[i] = counter;
      let ok: boolean;
      let retryAfterMs: number | undefined;
      switch (counter.kind) {
        case 'token_bucket': {
          const c = check as Extract<CounterCheck, { kind: 'token_bucket' }>;
          refillTokenBucket(counter.s, c.ratePerMs, c.burst, now);
          ok = tokenBucketHas(counter.s, 1);
          remaining[i] = tokenBucketRemaining(counter.s);
          if (!ok) retryAfterMs = tokenBucketRetryAfter(counter.s, c.ratePerMs, 1);
          break;
        }
        case 'sliding_window': {
          const c = check as Extract<CounterCheck, { kind: 'sliding_window' }>;
          const count = slidingWindowCount(counter.s, c.windowMs, now);
          ok = count < c.limit;
          remaining[i] = Math.max(0, c.limit - count);
          if (!ok) retryAfterMs = slidingWindowRetryAfter(counter.s, c.limit, c.windowMs, now);
          break;
        }
        case 'concurrency': {
          const c = check as Extract<CounterCheck, { kind: 'concurrency' }>;
          ok = counter.s.inFlight < c.max;
          remaining[i] = Math.max(0, c.max - counter.s.inFlight);
          break;
        }
        case 'budget': {
          const c = check as Extract<CounterCheck, { kind: 'budget' }>;
          const s = counter.s;
          const start = windowStart(now, c.windowMs);
          if (s.windowStart !== start) {
            s.windowStart = start;
            s.spent = 0;
          }
          const left = c.limit - s.spent;
          ok = c.reserve > 0 ? left >= c.reserve : left > 0;
          remaining[i] = left;
          if (!ok && c.windowMs !== undefined) retryAfterMs = start + c.windowMs - now;
          break;
        }
      }
      if (!ok) {
        found.fill(undefined, 0, i + 1);
        out.admitted = false;
        out.failed = i;
        out.retryAfterMs = retryAfterMs;
        return;
      }
    }
    // Phase 2: every check passed: apply them all (to the counters phase 1
    // found: one lookup per check; a counter evicted meanwhile, by a later
    // check's new counter, is put back).
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i];
      const counter = found[i]!;
      found[i] = undefined;
      if (this._evicted && this._counters.get(check.key) !== counter) this._counters.set(check.key, counter);
      switch (counter.kind) {
        case 'token_bucket':
          counter.s.tokens -= 1;
          remaining[i] = tokenBucketRemaining(counter.s);
          break;
        case 'sliding_window':
          slidingWindowAdd(counter.s, (check as Extract<CounterCheck, { kind: 'sliding_window' }>).limit, now);
          remaining[i] -= 1;
          break;
        case 'concurrency':
          counter.s.inFlight++;
          remaining[i] -= 1;
          break;
        case 'budget': {
          const reserve = (check as Extract<CounterCheck, { kind: 'budget' }>).reserve;
          counter.s.spent += reserve;
          remaining[i] -= reserve;
          break;
        }
      }
    }
    out.admitted = true;
    out.failed = -1;
    out.retryAfterMs = undefined;
  }

  release(keys: readonly string[]): void {
    for (const key of keys) {
      const counter = this._counters.get(key);
      if (counter?.kind === 'concurrency' && counter.s.inFlight > 0) counter.s.inFlight--;
    }
  }

  charge(key: string, amount: number, limit: number, windowMs: number | undefined, now: number): number {
    const counter = this._counter({ kind: 'budget', key, limit, windowMs, reserve: 0 }, now);
    if (counter.kind !== 'budget') return limit;
    const s = counter.s;
    const start = windowStart(now, windowMs);
    if (s.windowStart !== start) {
      s.windowStart = start;
      s.spent = 0;
    }
    s.spent += amount;
    return limit - s.spent;
  }

  stopped(agent: string | undefined, tool: string): KillTarget | undefined {
    const stops = this._stopped;
    if (stops.size === 0) return undefined;
    return stops.get(killKey(undefined, undefined)) ?? stops.get(killKey(agent, undefined)) ?? stops.get(killKey(undefined, tool)) ?? stops.get(killKey(agent, tool));
  }

  stop(target: KillTarget): void {
    this._stopped.set(killKey(target.agent, target.tool), Object.freeze({ ...target }));
  }

  resume(target: KillTarget): void {
    this._stopped.delete(killKey(target.agent, target.tool));
  }

  /** The counter for `check`, created when new (evicting when over the cap). */
  private _counter(check: CounterCheck, now: number): Counter {
    let counter = this._counters.get(check.key);
    if (counter !== undefined && counter.kind === check.kind) return counter;
    switch (check.kind) {
      case 'token_bucket':
        counter = { kind: 'token_bucket', s: newTokenBucket(check.burst, now), burst: check.burst, ratePerMs: check.ratePerMs };
        break;
      case 'sliding_window':
        counter = { kind: 'sliding_window', s: newSlidingWindow(), windowMs: check.windowMs };
        break;
      case 'concurrency':
        counter = { kind: 'concurrency', s: { inFlight: 0 } };
        break;
      case 'budget':
        counter = { kind: 'budget', s: { spent: 0, windowStart: windowStart(now, check.windowMs), windowMs: check.windowMs } };
        break;
    }
    if (this._counters.size >= this._maxCounters) this._evict(now);
    this._counters.set(check.key, counter);
    return counter;
  }

  /** Drops idle counters; when none is idle, the oldest lifetime budgets, then the oldest counters (a quarter of the cap at most). */
  private _evict(now: number): void {
    this._evicted = true;
    const counters = this._counters;
    const target = Math.max(1, Math.floor(this._maxCounters * 0.75));
    for (const [key, c] of counters) {
      if (counters.size <= target) return;
      if (isIdle(c, now)) counters.delete(key);
    }
    for (const [key, c] of counters) {
      if (counters.size <= target) return;
      if (c.kind === 'budget' && c.s.windowMs === undefined) counters.delete(key);
    }
    for (const [key, c] of counters) {
      if (counters.size < this._maxCounters) return;
      if (c.kind !== 'concurrency' || c.s.inFlight === 0) counters.delete(key);
    }
  }
}

/** True when dropping `c` loses nothing: it would be created the same. */
function isIdle(c: Counter, now: number): boolean {
  switch (c.kind) {
    case 'token_bucket':
      refillTokenBucket(c.s, c.ratePerMs, c.burst, now);
      return c.s.tokens >= c.burst;
    case 'sliding_window':
      return slidingWindowCount(c.s, c.windowMs, now) === 0;
    case 'concurrency':
      return c.s.inFlight === 0;
    case 'budget':
      return c.s.spent === 0 || (c.s.windowMs !== undefined && windowStart(now, c.s.windowMs) !== c.s.windowStart);
  }
}
