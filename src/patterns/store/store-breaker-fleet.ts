/**
 * A breaker shared by the replicas of a fleet through a {@link SafetyStore}.
 *
 * The rule (docs/operations.md, "A fleet of agents"):
 * - Failures are counted locally: each replica's own trip strategy decides
 *   when its breaker opens, and reports the open to the store.
 * - The breaker opens fleet-wide once `quorum` distinct replicas reported it
 *   open within `quorumWindowMs` (1 by default: any replica), so one bad
 *   node need not trip them all. Every replica then rejects until the fleet's
 *   open time has passed.
 * - Half-open: one replica at a time holds the fleet's probe lease
 *   (`SET NX PX`) and runs the probe; the others reject (or wait).
 * - The probe's success closes the breaker for every replica; its failure
 *   re-opens it for every replica.
 * - A kill switch (`store.forceOpen(key | '*')`) holds every replica open
 *   until it is released.
 * - The store down or slow: the breaker works on its own (local only) and
 *   the failures are reported (and counted in the store's metrics); it goes
 *   back to the fleet when the store answers again.
 *
 * The breaker never waits for the store on the call's path: it reads a view
 * refreshed in the background at most every `syncMs`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Transition } from '../breaker/circuit-state.js';
import type { FleetBreakerState, SafetyStore } from './safety-store.js';
import { optionalNumber, optionalString, rejectUnknownOptions, requireObject } from '../shared/validate.js';
import { within } from './store-timeout.js';

/** What the fleet says of a breaker: open until `until` (Infinity when forced). */
export interface FleetHold {
  readonly until: number;
  /** The kill switch's reason, when forced open. */
  readonly forced: string | undefined;
}

/**
 * The seam between a breaker and its fleet. The breaker asks synchronously;
 * the fleet answers from what it knows and learns in the background.
 */
export interface BreakerFleet {
  /**
   * The fleet's hold on the breaker; `null` when the fleet knows it is not
   * held; `undefined` when it does not know (store unreachable, not synced
   * yet): the breaker then decides alone.
   */
  hold(now: number): FleetHold | null | undefined;
  /** Whether this replica may run half-open probes now (it holds the fleet's lease). */
  mayProbe(now: number): boolean;
  /** The breaker changed state (with its retry time when it opened). */
  transitioned(transition: Transition, retryAt: number): void;
  /** The breaker's callback for news that may change admissions (a lease won, a hold learnt). */
  bind(onNews: () => void, report: (message: string, error: unknown) => void): void;
}

/** Transition reasons the fleet itself causes: never reported back to it. */
export const FLEET_REASONS: ReadonlySet<string> = new Set(['fleet_open', 'fleet_closed', 'forced_open', 'forced_released']);

/** Options of a breaker shared through a store (`new CircuitBreaker({ fleet })`). */
export interface BreakerFleetOptions {
  /** Where the fleet's state lives. */
  store: SafetyStore;
  /**
   * The shared breaker's key. @default the breaker's name, with `:{agentId}`
   * when it has an agent id
   */
  key?: string;
  /** This replica's id (e.g. its `service.instance.id`). @default a random UUID */
  replica?: string;
  /** Replicas that must report it open before it opens fleet-wide. @default 1 */
  quorum?: number;
  /** How recent a replica's report must be to count for the quorum. @default 60000 */
  quorumWindowMs?: number;
  /** How long the probe lease lasts (a crashed prober's lease lapses). @default 30000 */
  leaseMs?: number;
  /** How often the view of the fleet is refreshed (on use, in the background). @default 250 */
  syncMs?: number;
  /** A store operation slower than this counts as failed. @default 250 */
  timeoutMs?: number;
}

/** Defaults of {@link BreakerFleetOptions}. */
export const BREAKER_FLEET_DEFAULTS = Object.freeze({
  quorum: 1,
  quorumWindowMs: 60_000,
  leaseMs: 30_000,
  syncMs: 250,
  timeoutMs: 250,
});

const KEYS = ['store', 'key', 'replica', 'quorum', 'quorumWindowMs', 'leaseMs', 'syncMs', 'timeoutMs'] as const;

/** Validates fleet options. @throws TypeError / RangeError naming the option. */
export function validateFleetOptions(option: string, value: unknown): asserts value is BreakerFleetOptions {
  requireObject(option, value);
  rejectUnknownOptions(option, value as object, KEYS);
  const o = value as BreakerFleetOptions;
  const store = o.store as Partial<SafetyStore> | undefined;
  if (typeof store?.reportOpen !== 'function' || typeof store.breakerState !== 'function') {
    throw new TypeError(`${option}.store must be a SafetyStore (MemorySafetyStore, RedisSafetyStore)`);
  }
  optionalString(`${option}.key`, o.key);
  optionalString(`${option}.replica`, o.replica);
  optionalNumber(`${option}.quorum`, o.quorum, { min: 1, integer: true });
  optionalNumber(`${option}.quorumWindowMs`, o.quorumWindowMs, { min: 0, minInclusive: false });
  optionalNumber(`${option}.leaseMs`, o.leaseMs, { min: 0, minInclusive: false });
  optionalNumber(`${option}.syncMs`, o.syncMs, { min: 0 });
  optionalNumber(`${option}.timeoutMs`, o.timeoutMs, { min: 0, minInclusive: false });
}

const noop = (): void => {};

/** A {@link BreakerFleet} over a {@link SafetyStore}. */
export class StoreBreakerFleet implements BreakerFleet {
  readonly key: string;
  readonly replica: string;
  private readonly _store: SafetyStore;
  private readonly _o: Required<Omit<BreakerFleetOptions, 'store' | 'key' | 'replica'>>;
  private readonly _now: () => number;
  private _view: FleetBreakerState | undefined;
  private _syncedAt = Number.NEGATIVE_INFINITY;
  private _healthy = true;
  private _refreshing = false;
  private _refreshAgain = false;
  private _acquiring = false;
  private _leaseUntil = Number.NEGATIVE_INFINITY;
  private _onNews: () => void = noop;
  private _report: (message: string, error: unknown) => void = noop;

  constructor(options: BreakerFleetOptions, defaultKey: string, now: () => number) {
    validateFleetOptions('fleet', options);
    const d = BREAKER_FLEET_DEFAULTS;
    this._store = options.store;
    this.key = options.key ?? defaultKey;
    this.replica = options.replica ?? randomUUID();
    this._now = now;
    this._o = {
      quorum: options.quorum ?? d.quorum,
      quorumWindowMs: options.quorumWindowMs ?? d.quorumWindowMs,
      leaseMs: options.leaseMs ?? d.leaseMs,
      syncMs: options.syncMs ?? d.syncMs,
      timeoutMs: options.timeoutMs ?? d.timeoutMs,
    };
  }

  bind(onNews: () => void, report: (message: string, error: unknown) => void): void {
    this._onNews = onNews;
    this._report = report;
  }

  /** True while the store answers; false after a failure until it answers again. */
  get healthy(): boolean {
    return this._healthy;
  }

  /** Resolves once the fleet's state has been read (or the read failed): await it at start to restore a fleet-wide open. */
  async ready(): Promise<void> {
    await this._refresh(this._now());
  }

  hold(now: number): FleetHold | null | undefined {
    if (now - this._syncedAt >= this._o.syncMs) void this._refresh(now);
    const v = this._view;
    if (!this._healthy || v === undefined) return undefined;
    if (v.forced !== undefined) return { until: Number.POSITIVE_INFINITY, forced: v.forced };
    if (v.openUntil === undefined) return null;
    return { until: v.openUntil, forced: undefined };
  }

  mayProbe(now: number): boolean {
    if (!this._healthy) return true; // local only
    if (now < this._leaseUntil) return true;
    if (!this._acquiring) void this._acquire(now);
    return false;
  }

  transitioned(t: Transition, retryAt: number): void {
    if (FLEET_REASONS.has(t.reason)) return;
    if (t.to === 'open') {
      this._leaseUntil = Number.NEGATIVE_INFINITY;
      const report = { key: this.key, replica: this.replica, now: t.at, until: retryAt, quorum: this._o.quorum, windowMs: this._o.quorumWindowMs };
      void this._call('report its open', () => this._store.reportOpen(report));
    } else if (t.to === 'closed' && t.from === 'half_open') {
      this._leaseUntil = Number.NEGATIVE_INFINITY;
      void this._call('report its close', () => this._store.reportClosed(this.key, this.replica, t.at));
    }
  }

  /** Reads the fleet state; a read asked for while one is in flight runs once after it (it may see newer news). */
  private async _refresh(now: number): Promise<void> {
    if (this._refreshing) {
      this._refreshAgain = true;
      return;
    }
    this._refreshing = true;
    this._syncedAt = now;
    try {
      await this._call('read the fleet state', () => this._store.breakerState(this.key, now));
    } finally {
      this._refreshing = false;
    }
    if (this._refreshAgain) {
      this._refreshAgain = false;
      await this._refresh(this._now());
    }
  }

  private async _acquire(now: number): Promise<void> {
    this._acquiring = true;
    try {
      const won = await within(this._store.acquireProbe(this.key, this.replica, now, this._o.leaseMs), this._o.timeoutMs, 'acquireProbe');
      this._healthy = true;
      if (won) {
        // Keep a margin: a lease that lapses in the store must lapse here first.
        this._leaseUntil = now + this._o.leaseMs * 0.9;
        this._onNews();
      }
    } catch (err) {
      this._fail('take the probe lease', err);
    } finally {
      this._acquiring = false;
    }
  }

  /** Runs a store operation that returns the fleet state, and takes the state as the new view. */
  private async _call(what: string, op: () => Promise<FleetBreakerState>): Promise<void> {
    try {
      const view = await within(op(), this._o.timeoutMs, what);
      const before = this._view;
      const wasHealthy = this._healthy;
      this._view = view;
      this._healthy = true;
      this._syncedAt = Math.max(this._syncedAt, this._now());
      if (!wasHealthy || before?.openUntil !== view.openUntil || before?.forced !== view.forced) this._onNews();
    } catch (err) {
      this._fail(what, err);
    }
  }

  private _fail(what: string, err: unknown): void {
    if (!this._healthy) return;
    this._healthy = false;
    this._report(`the fleet store could not ${what} for breaker "${this.key}"; the breaker works on its own until the store answers`, err);
    this._onNews();
  }
}
