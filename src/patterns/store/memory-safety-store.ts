/**
 * The in-memory {@link SafetyStore}: one process, the same semantics as the
 * Redis store (the contract tests run both). Use it for a single replica, in
 * tests, or as the local fallback.
 *
 * @module
 */
import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalRequestRecord,
  ChargeMode,
  DecideResult,
  FleetBreakerState,
  LimitDecision,
  ReportOpen,
  SafetyStore,
} from './safety-store.js';

interface BreakerEntry {
  openUntil: number | undefined;
  /** replica → when it reported open */
  openers: Map<string, number>;
  probe: { holder: string; until: number } | undefined;
}

const ALLOWED_NONE: LimitDecision = Object.freeze({ allowed: true, remaining: 0, retryAfterMs: 0 });

/** Pending approvals and decided ones are kept this long after they end. */
export const APPROVAL_RETENTION_MS = 24 * 60 * 60 * 1000;

/** A {@link SafetyStore} in this process's memory. */
export class MemorySafetyStore implements SafetyStore {
  readonly kind = 'memory';
  private readonly _breakers = new Map<string, BreakerEntry>();
  private readonly _forced = new Map<string, { reason: string; until: number }>();
  private readonly _buckets = new Map<string, { tokens: number; at: number }>();
  private readonly _windows = new Map<string, number[]>();
  private readonly _budgets = new Map<string, { start: number; spent: number }>();
  private readonly _approvals = new Map<string, ApprovalRecord>();

  async breakerState(key: string, now: number): Promise<FleetBreakerState> {
    return this._state(key, now);
  }

  async reportOpen(r: ReportOpen): Promise<FleetBreakerState> {
    const e = this._entry(r.key);
    e.openers.set(r.replica, r.now);
    for (const [replica, at] of e.openers) if (at <= r.now - r.windowMs) e.openers.delete(replica);
    if (e.openers.size >= r.quorum && (e.openUntil === undefined || r.until > e.openUntil)) e.openUntil = r.until;
    // A failed probe re-opens: its lease is over.
    if (e.probe?.holder === r.replica) e.probe = undefined;
    return this._state(r.key, r.now);
  }

  async acquireProbe(key: string, replica: string, now: number, leaseMs: number): Promise<boolean> {
    const e = this._breakers.get(key);
    if (e === undefined || e.openUntil === undefined || now < e.openUntil) return false;
    if (e.probe !== undefined && e.probe.until > now && e.probe.holder !== replica) return false;
    e.probe = { holder: replica, until: now + leaseMs };
    return true;
  }

  async reportClosed(key: string, replica: string, now: number): Promise<FleetBreakerState> {
    const e = this._breakers.get(key);
    if (e !== undefined) {
      const lease = e.probe !== undefined && e.probe.until > now ? e.probe.holder : undefined;
      if (e.openUntil === undefined || lease === undefined || lease === replica) this._breakers.delete(key);
      else e.openers.delete(replica);
    }
    return this._state(key, now);
  }

  async forceOpen(scope: string, reason: string, untilMs?: number): Promise<void> {
    this._forced.set(scope, { reason, until: untilMs ?? Number.POSITIVE_INFINITY });
  }

  async releaseForced(scope: string): Promise<void> {
    this._forced.delete(scope);
  }

  async forcedReason(scopes: readonly string[], now: number): Promise<string | undefined> {
    return this._forcedReason(scopes, now);
  }

  async takeTokens(key: string, rate: number, burst: number, cost: number, now: number): Promise<LimitDecision> {
    const b = this._buckets.get(key) ?? { tokens: burst, at: now };
    now = Math.max(now, b.at); // requests may arrive out of order: time never runs backwards for a bucket
    const tokens = Math.min(burst, b.tokens + ((now - b.at) * rate) / 1000);
    if (tokens >= cost) {
      this._buckets.set(key, { tokens: tokens - cost, at: now });
      return { allowed: true, remaining: tokens - cost, retryAfterMs: 0 };
    }
    this._buckets.set(key, { tokens, at: now });
    return { allowed: false, remaining: tokens, retryAfterMs: Math.ceil(((cost - tokens) * 1000) / rate) };
  }

  async hitWindow(key: string, limit: number, windowMs: number, now: number): Promise<LimitDecision> {
    let hits = this._windows.get(key);
    if (hits === undefined) this._windows.set(key, (hits = []));
    let drop = 0;
    while (drop < hits.length && hits[drop] <= now - windowMs) drop++;
    if (drop > 0) hits.splice(0, drop);
    if (hits.length < limit) {
      hits.push(now);
      return { allowed: true, remaining: limit - hits.length, retryAfterMs: 0 };
    }
    return { allowed: false, remaining: 0, retryAfterMs: Math.max(1, hits[0] + windowMs - now) };
  }

  async charge(key: string, limit: number, amount: number, windowMs: number, now: number, mode: ChargeMode): Promise<LimitDecision> {
    let b = this._budgets.get(key);
    if (b === undefined || (windowMs > 0 && now >= b.start + windowMs)) b = { start: now, spent: 0 };
    const fits = b.spent + amount <= limit;
    if (mode === 'settle' || (mode === 'reserve' && fits)) b.spent += amount;
    this._budgets.set(key, b);
    if (amount === 0 && mode === 'settle') return { ...ALLOWED_NONE, remaining: limit - b.spent };
    const retryAfterMs = fits ? 0 : windowMs > 0 ? b.start + windowMs - now : Number.POSITIVE_INFINITY;
    return { allowed: fits, remaining: Math.max(0, limit - b.spent), retryAfterMs };
  }

  async requestApproval(r: ApprovalRequestRecord): Promise<ApprovalRecord> {
    this._sweep(r.now);
    const existing = this._read(r.id, r.now);
    if (existing !== undefined) return existing;
    const record: ApprovalRecord = Object.freeze({
      id: r.id,
      action: r.action,
      argumentsHash: r.argumentsHash,
      state: 'pending',
      requestedAt: r.now,
      expiresAt: r.expiresAt,
      reviewer: undefined,
      note: undefined,
      decidedAt: undefined,
      details: r.details,
    });
    this._approvals.set(r.id, record);
    return record;
  }

  async decideApproval(d: ApprovalDecision): Promise<DecideResult> {
    const record = this._read(d.id, d.now);
    if (record === undefined) return { ok: false, reason: 'unknown', record };
    if (record.state === 'timeout') return { ok: false, reason: 'expired', record };
    if (record.state !== 'pending') return { ok: false, reason: 'already_decided', record };
    const decided: ApprovalRecord = Object.freeze({
      ...record,
      state: d.approved ? 'approved' : 'denied',
      reviewer: d.reviewer,
      note: d.note,
      decidedAt: d.now,
    });
    this._approvals.set(d.id, decided);
    return { ok: true, record: decided };
  }

  async readApproval(id: string, now: number): Promise<ApprovalRecord | undefined> {
    return this._read(id, now);
  }

  async pendingApprovals(now: number, limit = 100): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    for (const id of [...this._approvals.keys()]) {
      const r = this._read(id, now);
      if (r?.state === 'pending') out.push(r);
    }
    return out.sort((a, b) => a.requestedAt - b.requestedAt).slice(0, limit);
  }

  private _entry(key: string): BreakerEntry {
    let e = this._breakers.get(key);
    if (e === undefined) this._breakers.set(key, (e = { openUntil: undefined, openers: new Map(), probe: undefined }));
    return e;
  }

  private _state(key: string, now: number): FleetBreakerState {
    const e = this._breakers.get(key);
    const probe = e?.probe !== undefined && e.probe.until > now ? e.probe.holder : undefined;
    return {
      openUntil: e?.openUntil,
      probeHolder: probe,
      forced: this._forcedReason([key], now),
      openers: e?.openers.size ?? 0,
    };
  }

  private _forcedReason(scopes: readonly string[], now: number): string | undefined {
    for (const scope of [...scopes, '*']) {
      const f = this._forced.get(scope);
      if (f === undefined) continue;
      if (f.until <= now) this._forced.delete(scope);
      else return f.reason;
    }
    return undefined;
  }

  /** An approval, with a pending one past its expiry turned into `timeout`. */
  private _read(id: string, now: number): ApprovalRecord | undefined {
    const r = this._approvals.get(id);
    if (r === undefined || r.state !== 'pending' || now < r.expiresAt) return r;
    const timedOut: ApprovalRecord = Object.freeze({ ...r, state: 'timeout', decidedAt: r.expiresAt });
    this._approvals.set(id, timedOut);
    return timedOut;
  }

  private _sweep(now: number): void {
    if (this._approvals.size < 1024) return;
    for (const [id, r] of this._approvals) {
      if ((r.decidedAt ?? r.expiresAt) + APPROVAL_RETENTION_MS < now) this._approvals.delete(id);
    }
  }
}
