/**
 * The state replicas of one agent share: breakers, limits, approvals and the
 * kill switch. A `SafetyStore` is a small set of atomic operations; each
 * implementation (in memory, Redis or Valkey) makes every operation one
 * atomic step, so N replicas see one breaker, one bucket, one approval.
 *
 * Every operation takes the caller's `now` (ms since the epoch): the logic is
 * testable without timers, and replicas are expected to keep their clocks in
 * step (NTP) to well within the cooldowns and windows they share.
 *
 * Pure: no OpenTelemetry, no I/O of its own.
 *
 * @module
 */

/** What the fleet knows of one shared breaker. */
export interface FleetBreakerState {
  /**
   * Open fleet-wide until this time (ms since the epoch); after it the fleet
   * is half-open until a probe settles it. `undefined`: the fleet has not
   * opened it (each replica's own breaker decides).
   */
  readonly openUntil: number | undefined;
  /** The replica holding the half-open probe lease, if any. */
  readonly probeHolder: string | undefined;
  /** Why it is forced open (kill switch), if it is. Forced wins over everything. */
  readonly forced: string | undefined;
  /** How many replicas reported it open within the quorum window. */
  readonly openers: number;
}

/** Reporting a local open to the fleet. */
export interface ReportOpen {
  /** The shared breaker's key (its name, and agent when per agent). */
  readonly key: string;
  /** Who reports (a replica id, e.g. `service.instance.id`). */
  readonly replica: string;
  readonly now: number;
  /** Until when the reporting replica would keep it open (its retry time). */
  readonly until: number;
  /** How many distinct replicas must report within `windowMs` before the fleet opens. */
  readonly quorum: number;
  /** The quorum window. */
  readonly windowMs: number;
}

/** A decision of a shared limit. */
export interface LimitDecision {
  /** True when the call may go on. */
  readonly allowed: boolean;
  /** What is left after this decision (tokens, calls in the window, budget). */
  readonly remaining: number;
  /** When denied: how long until it could be allowed (ms); 0 when allowed. */
  readonly retryAfterMs: number;
}

/** How {@link SafetyStore.charge} treats a budget. */
export type ChargeMode = 'reserve' | 'check' | 'settle';

/** How an approval ended, or that it has not yet. */
export type ApprovalState = 'pending' | 'approved' | 'denied' | 'timeout';

/** A durable approval: one review of one call, bound to its arguments. */
export interface ApprovalRecord {
  readonly id: string;
  readonly action: string;
  /** Hex SHA-256 of the call's canonical arguments: changed arguments need a new approval. */
  readonly argumentsHash: string;
  readonly state: ApprovalState;
  /** When it was requested and when it expires (ms since the epoch). */
  readonly requestedAt: number;
  readonly expiresAt: number;
  /** Who decided and why (for approved / denied). */
  readonly reviewer: string | undefined;
  readonly note: string | undefined;
  /** When it was decided (or timed out). */
  readonly decidedAt: number | undefined;
  /** What the reviewer reads: the redacted arguments and the assessment, as JSON text. */
  readonly details: string | undefined;
}

/** Asking for an approval. */
export interface ApprovalRequestRecord {
  readonly id: string;
  readonly action: string;
  readonly argumentsHash: string;
  readonly now: number;
  readonly expiresAt: number;
  readonly details?: string;
}

/** A reviewer's decision. */
export interface ApprovalDecision {
  readonly id: string;
  readonly approved: boolean;
  readonly now: number;
  readonly reviewer?: string;
  readonly note?: string;
}

/** The result of {@link SafetyStore.decideApproval}. */
export type DecideResult =
  | { readonly ok: true; readonly record: ApprovalRecord }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'already_decided'; readonly record: ApprovalRecord | undefined };

/**
 * The shared state of a fleet. Every method is one atomic step of the store.
 * Methods reject when the store cannot be reached; callers apply their
 * stated fallback (see docs/operations.md).
 */
export interface SafetyStore {
  /** `memory`, `redis`: the `agent_safety.store.name` of its metrics. */
  readonly kind: string;

  // ── Breakers ─────────────────────────────────────────────────────────────
  /** The fleet's view of a breaker (and the kill switches that cover it). */
  breakerState(key: string, now: number): Promise<FleetBreakerState>;
  /** Reports a replica's open; opens the fleet when the quorum is reached. */
  reportOpen(report: ReportOpen): Promise<FleetBreakerState>;
  /**
   * Takes the fleet-wide half-open probe lease (`SET NX PX`): true when this
   * replica got it (or already holds it). Only while the fleet is half-open.
   */
  acquireProbe(key: string, replica: string, now: number, leaseMs: number): Promise<boolean>;
  /** A probe succeeded: closes the breaker fleet-wide (only the lease holder, or when no lease exists). */
  reportClosed(key: string, replica: string, now: number): Promise<FleetBreakerState>;

  // ── Kill switch ──────────────────────────────────────────────────────────
  /** Forces a scope open fleet-wide: a breaker key, an agent (`agent:<id>`), a tool (`tool:<name>`), or `*`. */
  forceOpen(scope: string, reason: string, untilMs?: number): Promise<void>;
  /** Lifts a kill switch. */
  releaseForced(scope: string): Promise<void>;
  /** The reason a scope is forced open, if one of `scopes` is. */
  forcedReason(scopes: readonly string[], now: number): Promise<string | undefined>;

  // ── Limits and budgets ───────────────────────────────────────────────────
  /** Token bucket: `rate` tokens per second up to `burst`; takes `cost` tokens. */
  takeTokens(key: string, rate: number, burst: number, cost: number, now: number): Promise<LimitDecision>;
  /** Sliding window (log): at most `limit` calls in any `windowMs`. */
  hitWindow(key: string, limit: number, windowMs: number, now: number): Promise<LimitDecision>;
  /**
   * Budget: `amount` against `limit` per fixed window (`windowMs` 0: for
   * ever). `reserve` charges only if it fits (atomically), `check` charges
   * nothing, `settle` charges whatever the outcome (the call already ran).
   */
  charge(key: string, limit: number, amount: number, windowMs: number, now: number, mode: ChargeMode): Promise<LimitDecision>;

  // ── Approvals ────────────────────────────────────────────────────────────
  /**
   * Records a pending approval, or returns the one already recorded under
   * this id (a resumed call): the caller compares its arguments hash.
   */
  requestApproval(request: ApprovalRequestRecord): Promise<ApprovalRecord>;
  /** Decides a pending approval; refused atomically when expired or already decided. */
  decideApproval(decision: ApprovalDecision): Promise<DecideResult>;
  /** Reads an approval; a pending one past its expiry becomes `timeout` atomically. */
  readApproval(id: string, now: number): Promise<ApprovalRecord | undefined>;
  /** Pending approvals, oldest first (at most `limit`). */
  pendingApprovals(now: number, limit?: number): Promise<ApprovalRecord[]>;

  /** Releases connections the store opened itself (never the client it was given). */
  close?(): Promise<void>;
}
