/**
 * Durable approvals: the gate's human review kept in a {@link SafetyStore},
 * so an approval can come from another process (an admin command, an HTTP
 * handler) and a pending one survives a restart of the process waiting for
 * it.
 *
 * The rules:
 * - An approval is bound to the call id and the arguments' hash: changed
 *   arguments need a new approval. Without a call id, each call gets its own
 *   approval (and a restart cannot resume it).
 * - A decision after the review's deadline is refused atomically by the
 *   store; a review that ran out of time is recorded as `timeout`, never as
 *   a human decision.
 * - The store unreachable: the review is denied (fails closed).
 * - A resumed call (same call id, same arguments, e.g. after a restart)
 *   finds its approval: already decided, or still pending and waited for.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { ApprovalHook, ReviewAnswer, ReviewRequest } from '../gate/review.js';
import { systemClock } from '../shared/clock.js';
import type { Clock } from '../shared/clock.js';
import { optionalFunction, optionalNumber, rejectUnknownOptions, requireObject } from '../shared/validate.js';
import type { ApprovalRecord, DecideResult, SafetyStore } from './safety-store.js';

/** Options of {@link DurableApprovals}. */
export interface DurableApprovalsOptions {
  /** Where approvals live (Redis to share them across processes). */
  store: SafetyStore;
  /** How often a waiting review reads its approval. @default 250 */
  pollMs?: number;
  /**
   * How long before the review's deadline a still-pending approval is closed
   * as timed out in the store, so that no approval can land after the gate
   * gave up. Keep it above the store's round trip. @default 200
   */
  settleMarginMs?: number;
  /** The clock (ms since the epoch). @default Date.now */
  now?: Clock;
}

/** Who decides, and why. */
export interface ApprovalReviewer {
  reviewer?: string;
  note?: string;
}

const KEYS = ['store', 'pollMs', 'settleMarginMs', 'now'] as const;

/** The id of a call's approval: its call id bound to its arguments. */
export function approvalId(request: Pick<ReviewRequest, 'callId' | 'argumentsHash'>): string {
  const call = request.callId ?? `call-${randomUUID()}`;
  return `${call}:${request.argumentsHash.slice(0, 16)}`;
}

/** Never answers: the review ends by the gate's timeout (or the caller's abort). */
function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Approvals kept in a store. Give {@link hook} to the gate
 * (`new CounterfactualEstimator({ approve: approvals.hook })`), and call
 * {@link approve} / {@link deny} from wherever the human answers.
 *
 * @example
 * ```ts
 * const approvals = new DurableApprovals({ store: new RedisSafetyStore({ client }) });
 * const gate = new CounterfactualEstimator({ approve: approvals.hook, reviewTimeoutMs: 15 * 60_000 });
 * // in the admin process:
 * for (const p of await approvals.pending()) await approvals.approve(p.id, { reviewer: 'alice' });
 * ```
 */
export class DurableApprovals {
  /** The gate's approval hook: records the request and waits for its decision. */
  readonly hook: ApprovalHook;
  private readonly _store: SafetyStore;
  private readonly _pollMs: number;
  private readonly _settleMarginMs: number;
  private readonly _now: Clock;

  /** @throws TypeError or RangeError naming a bad option. */
  constructor(options: DurableApprovalsOptions) {
    requireObject('DurableApprovals options', options);
    rejectUnknownOptions('DurableApprovals', options, KEYS);
    if (typeof (options.store as Partial<SafetyStore> | undefined)?.requestApproval !== 'function') {
      throw new TypeError('store must be a SafetyStore (MemorySafetyStore, RedisSafetyStore)');
    }
    optionalNumber('pollMs', options.pollMs, { min: 1 });
    optionalNumber('settleMarginMs', options.settleMarginMs, { min: 0 });
    optionalFunction('now', options.now);
    this._store = options.store;
    this._pollMs = options.pollMs ?? 250;
    this._settleMarginMs = options.settleMarginMs ?? 200;
    this._now = options.now ?? systemClock;
    this.hook = request => this._review(request);
  }

  /** Approves a pending review; refused (`ok: false`) when unknown, expired or already decided. */
  approve(id: string, by: ApprovalReviewer = {}): Promise<DecideResult> {
    return this._store.decideApproval({ id, approved: true, now: this._now(), ...by });
  }

  /** Denies a pending review; refused (`ok: false`) when unknown, expired or already decided. */
  deny(id: string, by: ApprovalReviewer = {}): Promise<DecideResult> {
    return this._store.decideApproval({ id, approved: false, now: this._now(), ...by });
  }

  /** Reviews waiting for a decision, oldest first. */
  pending(limit?: number): Promise<ApprovalRecord[]> {
    return this._store.pendingApprovals(this._now(), limit);
  }

  /** One approval, by id. */
  get(id: string): Promise<ApprovalRecord | undefined> {
    return this._store.readApproval(id, this._now());
  }

  private async _review(request: ReviewRequest): Promise<ReviewAnswer> {
    const id = approvalId(request);
    const details = JSON.stringify({ arguments: request.arguments, reason: request.assessment.reason, level: request.assessment.level, delta: request.assessment.impactDelta, detail: request.assessment.detail });
    let record = await this._store.requestApproval({
      id,
      action: request.action,
      argumentsHash: request.argumentsHash,
      now: this._now(),
      expiresAt: request.deadline,
      details,
    });
    // The store has the last word, a little before the gate's own timer: at
    // `settleAt` a still-pending approval is closed as timed out (atomically),
    // so an approval either arrived in time and runs the call, or is refused.
    const settleAt = request.deadline - Math.min(this._settleMarginMs, Math.max(0, (request.deadline - this._now()) / 2));
    for (;;) {
      if (record.state === 'approved' || record.state === 'denied') {
        return { approved: record.state === 'approved', reviewer: record.reviewer, note: record.note };
      }
      if (record.state === 'timeout') return waitForAbort(request.signal); // the gate records a review timeout
      const now = this._now();
      if (now >= settleAt) {
        record = (await this._store.readApproval(id, request.deadline)) ?? record;
        if (record.state === 'pending') return waitForAbort(request.signal);
        continue;
      }
      await sleep(Math.max(1, Math.min(this._pollMs, settleAt - now)), request.signal);
      record = (await this._store.readApproval(id, this._now())) ?? record;
    }
  }
}
