/**
 * The circuit breaker's state machine. Pure: it owns no timer (transitions
 * are lazy, applied when someone asks, at the time they were due), takes an
 * injected clock, and counts its calls and transitions in plain fields that
 * the instrumentation reads at collection time.
 *
 * @module
 */
import { CircuitOpenError } from './circuit-open-error.js';
import { resolveBreakerOptions } from './circuit-breaker-options.js';
import type {
  CircuitBreakerOptions,
  CircuitBreakerSnapshot,
  ResolvedBreakerOptions,
  StateChangeListener,
} from './circuit-breaker-options.js';
import { CIRCUIT_TRANSITIONS } from './circuit-state.js';
import type { BreakerCallOutcome, BreakerVerdict, CircuitState, Transition, TransitionReason } from './circuit-state.js';
import type { Clock } from '../shared/clock.js';
import { isAbortError } from '../shared/errors.js';
import type { TripCounter } from './trip-strategies.js';
import { StoreBreakerFleet } from '../store/store-breaker-fleet.js';

/** The ticket of a call that runs although the breaker would have rejected it (`metricsOnly`). */
export const SHADOW_TICKET = -1;
const FULL = -2;
const OPEN = -3;
/** Transitions kept for {@link CircuitBreakerCore.lastTransitions}. */
const RECENT = 8;
/** Waiters the slow start admits for each call that completes after a close. */
const RAMP_PER_COMPLETION = 2;

/** A call parked for a half-open verdict: `true` admits it, `false` makes it look again. */
type Waiter = (granted: boolean) => void;

/** A hold on an isolated breaker; see {@link CircuitBreakerCore.isolate}. */
export interface IsolationHandle {
  /** Gives up this hold (idempotent). The breaker closes when the last hold is released. */
  release(): void;
}

/** What a breaker has counted since it was created. */
export interface CircuitBreakerStats {
  /** The current state (due transitions applied). */
  state: CircuitState;
  /** Calls by outcome. */
  calls: Record<BreakerCallOutcome, number>;
  /** Transitions by `from` and `to`, every possible pair listed. */
  transitions: { from: CircuitState; to: CircuitState; count: number }[];
}

function isVerdict(v: unknown): v is BreakerVerdict {
  return v === 'success' || v === 'failure' || v === 'ignored';
}

function transitionIndex(from: CircuitState, to: CircuitState): number {
  return CIRCUIT_TRANSITIONS.findIndex(([f, t]) => f === from && t === to);
}

/**
 * A circuit breaker: stops calling a failing tool, and lets a few probe calls
 * through after a cooldown to find out whether it recovered.
 *
 * This is the pure state machine; `CircuitBreaker` (the class users
 * construct) extends it with metrics and diagnostics. Use it around a call
 * with {@link execute} or {@link protect}, or step by step with
 * {@link admit} and {@link record} when the call cannot be wrapped.
 */
export class CircuitBreakerCore {
  /** The breaker's name (`agent_safety.breaker.name`). */
  readonly name: string;
  /** The agent it belongs to (`gen_ai.agent.id`), if any. */
  readonly agentId: string | undefined;
  /** The breaker's clock (ms since the epoch). */
  readonly now: Clock;

  /** Options after validation and defaults. */
  protected readonly _options: ResolvedBreakerOptions;
  private readonly _counters: TripCounter[];
  private readonly _slowCallMs: number | undefined;
  private readonly _timeBased: boolean;
  private readonly _listeners: StateChangeListener[] = [];

  private _state: CircuitState = 'closed';
  /** Bumped on every transition and reset: tickets from an older epoch are stale. */
  private _epoch = 0;
  private _since: number;
  private _openedAt = 0;
  private _retryAt = 0;
  private _openings = 0;
  private _isolations = 0;
  private _probesInFlight = 0;
  private _probeSuccesses = 0;
  private _probeDeadline = Number.POSITIVE_INFINITY;
  /** Calls waiting for a half-open verdict, in arrival order (a Set keeps insertion order). */
  private _waiters: Set<Waiter> | undefined;
  /** The fleet this breaker shares its state with (`fleet` option). */
  private readonly _fleet: StoreBreakerFleet | undefined;
  /** The fleet holds this breaker (open, half-open or forced). */
  private _fleetHeld = false;
  /** The fleet's kill switch holds it open. */
  private _fleetForced = false;

  private _success = 0;
  private _failure = 0;
  private _ignored = 0;
  private _rejected = 0;
  private _slow = 0;
  private readonly _transitionCounts: number[] = CIRCUIT_TRANSITIONS.map(() => 0);
  private _transitionTotal = 0;
  private readonly _recent: Transition[] = [];

  /**
   * @throws TypeError or RangeError naming a bad option and its value.
   */
  constructor(options: CircuitBreakerOptions = {}) {
    const o = resolveBreakerOptions(options);
    this._options = o;
    this.name = o.name;
    this.agentId = o.agentId;
    this.now = o.now;
    this._counters = o.trip.map(s => s.create());
    const slow = o.trip.map(s => s.slowCallMs).filter((ms): ms is number => ms !== undefined);
    this._slowCallMs = slow.length > 0 ? Math.min(...slow) : undefined;
    this._timeBased = o.trip.some(s => s.timeBased === true);
    if (o.onStateChange) this._listeners.push(o.onStateChange);
    this._since = 0;
    if (o.initialState) this._restore(o.initialState);
    if (o.fleet !== undefined) {
      this._fleet = new StoreBreakerFleet(o.fleet, o.agentId === undefined ? o.name : `${o.name}:${o.agentId}`, this.now);
      this._fleet.bind(
        () => this._onFleetNews(),
        (message, error) => this._reportError(message, error),
      );
    }
  }

  /**
   * The fleet this breaker is shared with (`fleet` option): `await
   * breaker.fleet?.ready()` at start restores a fleet-wide open before the
   * first call.
   */
  get fleet(): StoreBreakerFleet | undefined {
    return this._fleet;
  }

  // ── Reading ──────────────────────────────────────────────────────────────

  /** The current state. Reading it applies a transition that is due (e.g. open → half_open after the cooldown). */
  get state(): CircuitState {
    if (this._state !== 'closed') this._advance(this.now());
    return this._state;
  }

  /** True while `isolate()` holds the breaker open. */
  get isolated(): boolean {
    return this._isolations > 0;
  }

  /** When the current state began (ms since the epoch; 0 for a fresh breaker). */
  get since(): number {
    if (this._state !== 'closed') this._advance(this.now());
    return this._since;
  }

  /** Calls and transitions counted since the breaker was created. */
  stats(): CircuitBreakerStats {
    const state = this.state;
    return {
      state,
      calls: {
        success: this._success,
        failure: this._failure,
        ignored: this._ignored,
        rejected: this._rejected,
        slow: this._slow,
      },
      transitions: CIRCUIT_TRANSITIONS.map(([from, to], i) => ({ from, to, count: this._transitionCounts[i] })),
    };
  }

  /** How many transitions the breaker has made so far. */
  get transitionTotal(): number {
    return this._transitionTotal;
  }

  /**
   * The last `count` transitions (at most 8), oldest first. With
   * {@link transitionTotal} read before a step, tells which transitions that
   * step caused.
   */
  lastTransitions(count: number): readonly Transition[] {
    const n = Math.max(0, Math.min(count, this._recent.length));
    return this._recent.slice(this._recent.length - n);
  }

  /**
   * Adds a listener for every change of state; returns a function that
   * removes it. A throwing listener is reported, never propagated.
   */
  onStateChange(listener: StateChangeListener): () => void {
    if (typeof listener !== 'function') throw new TypeError(`listener must be a function, got ${typeof listener}`);
    this._listeners.push(listener);
    return () => {
      const i = this._listeners.indexOf(listener);
      if (i >= 0) this._listeners.splice(i, 1);
    };
  }

  // ── Calling ──────────────────────────────────────────────────────────────

  /**
   * Runs `fn` if the breaker admits it, counts how it ended, and returns
   * (or rethrows) what it did. Rejects with a {@link CircuitOpenError}
   * without calling `fn` when the breaker is open.
   *
   * `signal` is the caller's abort signal: an aborted call is never a
   * failure, and it ends a wait for a half-open verdict.
   *
   * @example
   * ```ts
   * const ranked = await breaker.execute(() => rankingApi.rank(userId, ids));
   * ```
   */
  async execute<T>(fn: () => T | PromiseLike<T>, signal?: AbortSignal): Promise<Awaited<T>> {
    if (signal?.aborted) throw signal.reason;
    let ticket = this.admit(signal);
    if (typeof ticket !== 'number') ticket = await ticket;
    const timed = this._slowCallMs !== undefined;
    const started = timed ? this.now() : 0;
    let result: Awaited<T>;
    try {
      result = await fn();
    } catch (err) {
      this.record(ticket, signal?.aborted ? 'ignored' : this.classifyError(err), timed ? this.now() - started : 0);
      throw err;
    }
    this.record(ticket, this.classifyResult(result), timed ? this.now() - started : 0);
    return result;
  }

  /**
   * Wraps `fn` so that every call goes through {@link execute} (the seed
   * library's `@cb.protect` decorator). Keeps `this` and the arguments.
   *
   * @example
   * ```ts
   * const rank = breaker.protect((userId: string, ids: string[]) => rankingApi.rank(userId, ids));
   * ```
   */
  protect<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => Promise<Awaited<R>> {
    if (typeof fn !== 'function') throw new TypeError(`fn must be a function, got ${typeof fn}`);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrapper is a `function` so that it keeps the caller's `this`
    const breaker = this;
    return function (this: unknown, ...args: A) {
      return breaker.execute(() => fn.apply(this, args) as R);
    };
  }

  /**
   * Low-level admission, for integrations that cannot wrap the call in
   * {@link execute}: returns a ticket to hand to {@link record} when the
   * call ends, or throws a {@link CircuitOpenError}. Returns a promise only
   * when the call waits for a half-open verdict (`halfOpenWaitMs`).
   *
   * Every admitted call must be recorded (with `ignored` if it never ran),
   * or a half-open breaker keeps its probe slot until `maxHalfOpenMs`.
   */
  admit(signal?: AbortSignal): number | Promise<number> {
    if (this._state === 'closed' && this._fleet === undefined) return this._epoch;
    return this._admitSlow(signal);
  }

  /**
   * Records how an admitted call ended.
   * @param ticket what {@link admit} returned
   * @param verdict `success`, `failure` or `ignored` (see {@link classifyError}, {@link classifyResult})
   * @param durationMs how long the call took, by {@link now} (only slow-call strategies read it)
   */
  record(ticket: number, verdict: BreakerVerdict, durationMs = 0): void {
    if (ticket < 0) return; // metricsOnly: counted as rejected at admission
    const slow = this._slowCallMs !== undefined && durationMs >= this._slowCallMs;
    if (verdict === 'success') {
      if (slow) this._slow++;
      else this._success++;
    } else if (verdict === 'failure') this._failure++;
    else this._ignored++;

    if (this._state === 'closed') {
      if (ticket !== this._epoch || verdict === 'ignored') {
        this._releaseWaiters(RAMP_PER_COMPLETION);
        return;
      }
      const now = this._timeBased ? this.now() : 0;
      const failed = verdict === 'failure';
      let reason: string | undefined;
      for (let i = 0; i < this._counters.length; i++) {
        if (this._counters[i].record(failed, slow, now) && reason === undefined) reason = this._options.trip[i].name;
      }
      if (reason !== undefined) this._open(reason, this._timeBased ? now : this.now());
      else this._releaseWaiters(RAMP_PER_COMPLETION);
      return;
    }
    const now = this.now();
    this._advance(now);
    if (ticket !== this._epoch || this._state !== 'half_open') return; // stale: admitted before the last transition
    this._probesInFlight--;
    if (verdict === 'ignored') {
      this._probeDeadline = now + this._options.maxHalfOpenMs;
      this._wakeWaiters();
    } else if (verdict === 'failure') {
      this._open('probe_failed', now);
    } else if (slow) {
      this._open('probe_slow', now);
    } else if (++this._probeSuccesses >= this._options.halfOpenProbes) {
      this._transition('closed', 'probes_succeeded', now);
    } else {
      this._probeDeadline = now + this._options.maxHalfOpenMs;
    }
  }

  /**
   * How a thrown error counts, by the `classifyError` option. A throwing or
   * misbehaving classifier counts a failure (and is reported).
   */
  classifyError(error: unknown): BreakerVerdict {
    const classify = this._options.classifyError;
    if (classify === undefined) return isAbortError(error) ? 'ignored' : 'failure';
    return this._classify('classifyError', classify, error);
  }

  /** How a returned value counts, by the `classifyResult` option (default `success`). */
  classifyResult(result: unknown): BreakerVerdict {
    const classify = this._options.classifyResult;
    return classify === undefined ? 'success' : this._classify('classifyResult', classify, result);
  }

  // ── Manual control ───────────────────────────────────────────────────────

  /**
   * Holds the breaker open until released, whatever the calls do: every call
   * is rejected (even in `metricsOnly` mode). Holds are counted: the breaker
   * closes when the last one is released.
   *
   * @example
   * ```ts
   * const hold = breaker.isolate(); // maintenance window
   * // …
   * hold.release();
   * ```
   */
  isolate(): IsolationHandle {
    const now = this.now();
    this._advance(now);
    if (++this._isolations === 1 && this._state !== 'open') {
      this._openedAt = now;
      this._retryAt = Number.POSITIVE_INFINITY;
      this._transition('open', 'isolated', now);
    }
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        if (--this._isolations === 0) this._transition('closed', 'released', this.now());
      },
    };
  }

  /**
   * Closes the breaker and forgets what its trip strategies counted and how
   * often it re-opened. Calls in flight no longer count. An isolated breaker
   * stays open until its holds are released.
   */
  reset(): void {
    const now = this.now();
    this._advance(now);
    if (this._state === 'closed' || this._isolations > 0) {
      this._epoch++;
      this._openings = 0;
      for (const c of this._counters) c.reset();
      return;
    }
    this._transition('closed', 'reset', now);
  }

  /** The breaker's state, JSON-safe; pass it back as `initialState` after a restart. */
  toJSON(): CircuitBreakerSnapshot {
    const state = this.state;
    const trips = this._counters.map((c, i) => ({ name: this._options.trip[i].name, counted: c.toJSON() }));
    if (state === 'closed') return { version: 1, state, openings: this._openings, trips };
    const retryAt = this._isolations > 0 ? this.now() : state === 'half_open' ? this._since : this._retryAt;
    return { version: 1, state: 'open', openedAt: this._openedAt, retryAt, openings: this._openings, trips };
  }

  /**
   * Reports a failure of user code the breaker calls (listeners,
   * classifiers, a cooldown function). The pattern layer cannot log; the
   * instrumentation overrides this to report through `diag`.
   */
  protected _reportError(_message: string, _error: unknown): void {}

  // ── Internals ────────────────────────────────────────────────────────────

  private _admitSlow(signal: AbortSignal | undefined): number | Promise<number> {
    if (this._fleet !== undefined) this._applyFleet(this.now());
    const ticket = this._tryAdmit();
    if (ticket >= 0) return ticket;
    if (ticket === FULL && this._options.halfOpenWaitMs > 0 && !this._options.metricsOnly) return this._waitForVerdict(signal);
    return this._reject();
  }

  /** A ticket, or FULL (half-open, no probe slot) or OPEN. */
  private _tryAdmit(): number {
    const now = this.now();
    this._advance(now);
    if (this._state === 'closed') return this._epoch;
    if (this._state === 'open') return OPEN;
    if (this._probesInFlight + this._probeSuccesses >= this._options.halfOpenProbes) return FULL;
    // Held by the fleet: only the replica with the fleet's probe lease probes.
    if (this._fleetHeld && !this._fleet!.mayProbe(now)) return FULL;
    this._probesInFlight++;
    this._probeDeadline = now + this._options.maxHalfOpenMs;
    return this._epoch;
  }

  private _reject(): number {
    this._rejected++;
    if (this._options.metricsOnly && this._isolations === 0) return SHADOW_TICKET;
    const open = this._state === 'open';
    throw new CircuitOpenError({
      breakerName: this.name,
      agentId: this.agentId,
      state: open ? 'open' : 'half_open',
      openedAt: this._openedAt,
      retryAt: open && this._isolations === 0 ? this._retryAt : undefined,
      isolated: this._isolations > 0,
    });
  }

  /**
   * Waits (real time, at most `halfOpenWaitMs`) for the verdict of the
   * half-open window the call arrived in. The call runs only inside that
   * window (a probe slot freed) or in the closed state that ends it, when
   * the slow start lets it in; a window that ends otherwise (the probe
   * failed, timed out) rejects it, so a waiter never becomes a probe of a
   * later window.
   */
  private async _waitForVerdict(signal: AbortSignal | undefined): Promise<number> {
    const window = this._epoch;
    const until = Date.now() + this._options.halfOpenWaitMs;
    for (;;) {
      const remaining = until - Date.now();
      let granted = false;
      if (remaining > 0) {
        try {
          granted = await this._park(signal, remaining);
        } catch (err) {
          this._ignored++; // aborted by the caller while waiting: never ran, never a failure
          throw err;
        }
      }
      if (granted && this._state === 'closed') return this._epoch;
      this._advance(this.now());
      if (this._epoch !== window) return this._reject();
      const ticket = this._tryAdmit();
      if (ticket >= 0) return ticket;
      if (ticket === OPEN || remaining <= 0) return this._reject();
    }
  }

  /** Parks a waiter: resolves `true` when the slow start admits it, `false` to look again (or at its deadline). */
  private _park(signal: AbortSignal | undefined, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const waiters = (this._waiters ??= new Set());
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(waiter);
      };
      const waiter: Waiter = granted => {
        finish();
        resolve(granted);
      };
      const onAbort = (): void => {
        finish();
        reject(signal?.reason);
      };
      // Not unref'd: a waiting call is pending work and must settle by its
      // deadline. The timer exists only while someone waits.
      const timer = setTimeout(waiter, ms, false);
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  /** Every waiter looks again (a probe slot freed, or its window ended). */
  private _wakeWaiters(): void {
    if (this._waiters === undefined || this._waiters.size === 0) return;
    for (const waiter of [...this._waiters]) waiter(false);
  }

  /** The slow start after a close: admits up to `n` waiters, first come first. */
  private _releaseWaiters(n: number): void {
    if (this._waiters === undefined || this._waiters.size === 0) return;
    for (const waiter of this._waiters) {
      if (n-- <= 0) return;
      waiter(true);
    }
  }

  /** Applies every transition that has fallen due by `now`, each at its due time. */
  private _advance(now: number): void {
    for (;;) {
      if (this._state === 'open') {
        if (this._isolations > 0 || now < this._retryAt) return;
        this._transition('half_open', 'cooldown_elapsed', this._retryAt);
      } else if (this._state === 'half_open') {
        if (this._probesInFlight === 0 || now < this._probeDeadline) return;
        this._open('probe_timeout', this._probeDeadline);
      } else {
        return;
      }
    }
  }

  private _open(reason: TransitionReason, at: number): void {
    this._openings++;
    this._openedAt = at;
    this._retryAt = at + this._cooldown(this._openings);
    this._transition('open', reason, at);
  }

  private _cooldown(openings: number): number {
    const max = this._options.maxCooldownMs;
    try {
      const ms = this._options.cooldown(openings);
      if (typeof ms === 'number' && !Number.isNaN(ms)) return Math.min(max, Math.max(0, ms));
      this._reportError(`cooldownMs of circuit breaker "${this.name}" returned ${String(ms)}; using maxCooldownMs`, undefined);
    } catch (err) {
      this._reportError(`cooldownMs of circuit breaker "${this.name}" threw; using maxCooldownMs`, err);
    }
    return max;
  }

  private _transition(to: CircuitState, reason: TransitionReason, at: number): void {
    const from = this._state;
    this._state = to;
    this._since = at;
    this._epoch++;
    this._probesInFlight = 0;
    this._probeSuccesses = 0;
    this._probeDeadline = Number.POSITIVE_INFINITY;
    if (to === 'closed') this._openings = 0;
    if (to !== 'half_open') for (const c of this._counters) c.reset();

    const transition: Transition = Object.freeze({ breakerName: this.name, from, to, reason, at });
    const index = transitionIndex(from, to);
    if (index >= 0) this._transitionCounts[index]++;
    this._transitionTotal++;
    this._recent.push(transition);
    if (this._recent.length > RECENT) this._recent.shift();

    for (const listener of [...this._listeners]) {
      try {
        listener(this.agentId, from, to, transition);
      } catch (err) {
        this._reportError(`onStateChange listener of circuit breaker "${this.name}" threw`, err);
      }
    }
    // Closed by the probes: the waiters enter as a slow start (halfOpenProbes
    // at once, then two per completed call). Any other transition ends the
    // window they waited on: they look again and are rejected.
    if (to === 'closed') this._releaseWaiters(Math.max(1, this._options.halfOpenProbes));
    else this._wakeWaiters();
    this._fleet?.transitioned(transition, this._retryAt);
  }

  /** News from the fleet (a hold learnt, the probe lease won): apply it, and let waiters look again. */
  private _onFleetNews(): void {
    this._applyFleet(this.now());
    if (this._state === 'half_open') this._wakeWaiters();
  }

  /** Follows the fleet's hold: opens with it, stays open as long as it, closes when another replica's probe closed it. */
  private _applyFleet(now: number): void {
    const hold = this._fleet!.hold(now);
    if (hold === undefined) return; // the fleet does not know: decide alone
    if (hold === null) {
      if (!this._fleetHeld) return;
      const forced = this._fleetForced;
      this._fleetHeld = false;
      this._fleetForced = false;
      if (this._state !== 'closed' && this._isolations === 0) this._transition('closed', forced ? 'forced_released' : 'fleet_closed', now);
      return;
    }
    this._fleetHeld = true;
    if (hold.forced !== undefined) {
      if (this._fleetForced) return;
      this._fleetForced = true;
      this._openedAt = now;
      this._retryAt = Number.POSITIVE_INFINITY;
      if (this._state !== 'open') this._transition('open', 'forced_open', now);
      return;
    }
    if (this._fleetForced) {
      this._fleetForced = false;
      this._retryAt = hold.until;
    }
    if (now >= hold.until) return; // half-open fleet-wide: the probe needs the lease
    if (this._state !== 'open') {
      this._openedAt = now;
      this._retryAt = hold.until;
      this._transition('open', 'fleet_open', now);
    } else if (this._retryAt < hold.until) {
      this._retryAt = hold.until;
    }
  }

  private _classify<V>(option: string, classify: (value: V) => BreakerVerdict, value: V): BreakerVerdict {
    try {
      const verdict = classify(value);
      if (isVerdict(verdict)) return verdict;
      this._reportError(`${option} of circuit breaker "${this.name}" returned ${JSON.stringify(verdict)}; counted as a failure`, undefined);
    } catch (err) {
      this._reportError(`${option} of circuit breaker "${this.name}" threw; counted as a failure`, err);
    }
    return 'failure';
  }

  private _restore(s: CircuitBreakerSnapshot): void {
    this._openings = s.openings;
    if (s.state === 'open') {
      this._state = 'open';
      this._openedAt = s.openedAt as number;
      this._retryAt = s.retryAt as number;
      this._since = this._openedAt;
    }
    s.trips.forEach((t, i) => {
      const counter = this._counters[i];
      if (counter === undefined || this._options.trip[i].name !== t.name) return;
      if (!counter.restore(t.counted)) {
        this._reportError(`initialState.trips[${i}] of circuit breaker "${this.name}" does not fit its strategy; starting it empty`, undefined);
      }
    });
  }
}
