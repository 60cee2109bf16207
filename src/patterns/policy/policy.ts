/**
 * The policy: what an agent may do, how often, how much at once, for how
 * much, and whether it may act at all. One decision per call, in a fixed
 * order: kill switch, allow/deny rules, the authorizer (e.g. Cedar), then
 * the limits (rate, concurrency, budgets) checked and applied together.
 *
 * Pure logic: no OpenTelemetry, time from the injected clock `now`, state in
 * a {@link PolicyStore}. Works alone (`admit` / `settle`) and as step 2 of a
 * guarded call (`guard({ policy })`).
 *
 * @module
 */
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import { optionalFunction, optionalNumber, rejectUnknownOptions, requireObject, requireOneOf } from '../shared/validate.js';
import { PolicyDeniedError } from './policy-denied-error.js';
import type { PolicyReason } from './policy-denied-error.js';
import { CompiledLimit, validatePolicyLimits } from './policy-limits.js';
import type { BudgetLimit, PolicyLimit } from './policy-limits.js';
import { PolicyRules, validatePolicyRules } from './policy-rules.js';
import type { PolicyRule, PolicySubject } from './policy-rules.js';
import { MemoryPolicyStore } from './policy-store.js';
import type { Admission, CounterCheck, KillTarget, MutableAdmission, PolicyStore } from './policy-store.js';
import type { MaybePromise } from '../shared/maybe-promise.js';

/** An authorizer's answer: `error` when it could not decide (the call is denied). */
export interface AuthorizerAnswer {
  /** `allow`, `deny`, or `error` (evaluation failed: denied, fail closed). */
  readonly decision: 'allow' | 'deny' | 'error';
  /** The policies that decided (for `agent_safety.policy.rule`). */
  readonly policies: readonly string[];
  /** What went wrong, for `error`. */
  readonly error?: string;
}

/**
 * An external policy engine consulted after the rules (the Cedar adapter is
 * one). Synchronous; a throw denies the call.
 */
export interface PolicyAuthorizer {
  /** Decides about one call. */
  authorize(subject: PolicySubject): AuthorizerAnswer;
}

/** Sleeps `ms` milliseconds; rejects with the signal's reason when it aborts. */
export type PolicySleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Options of {@link Policy}. */
export interface PolicyOptions {
  /** Allow and deny rules as code: deny overrides allow. @default [] */
  rules?: readonly PolicyRule[];
  /** What applies when no rule matches. @default 'allow' */
  defaultEffect?: 'allow' | 'deny';
  /** An external engine (e.g. `await cedarAuthorizer({ policies })`) consulted after the rules. @default undefined */
  authorizer?: PolicyAuthorizer;
  /** Rate, concurrency and budget limits. @default [] */
  limits?: readonly PolicyLimit[];
  /**
   * How long a call over a rate or concurrency limit may wait for room
   * before it is denied. 0: denied at once. A budget or a rule never waits.
   * @default 0
   */
  maxWaitMs?: number;
  /** Where counters and the kill switch live. @default a new MemoryPolicyStore */
  store?: PolicyStore;
  /** The clock. @default Date.now */
  now?: Clock;
  /** How a waiting call waits (tests give one that moves their clock). @default setTimeout */
  sleep?: PolicySleep;
}

/** Defaults of {@link PolicyOptions}. */
export const POLICY_DEFAULTS = Object.freeze({ defaultEffect: 'allow' as const, maxWaitMs: 0 });

const POLICY_KEYS = ['rules', 'defaultEffect', 'authorizer', 'limits', 'maxWaitMs', 'store', 'now', 'sleep'] as const;
const MAX_WAIT_MS = 2_147_483_647;

/** The default sleep: a timer (unref'd), cleared when `signal` aborts. */
export const timerSleep: PolicySleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref?.();
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** What the policy decided about one call: plain data, written on the span by the guard. */
export interface PolicyDecision {
  /** True when the call may run. */
  readonly allowed: boolean;
  /** Why (low cardinality). */
  readonly reason: PolicyReason;
  /** The rule or authorizer policies that decided, when one did. */
  readonly rule: string | undefined;
  /** The limit that denied; when allowed, the limit closest to exhaustion. */
  readonly limit: string | undefined;
  /** What is left of {@link limit} after this call's admission. */
  readonly remaining: number | undefined;
  /** When denied: ms until a retry could pass, when known. */
  readonly retryAfterMs: number | undefined;
  /** How long the call waited for room (0 when it did not wait). */
  readonly waitedMs: number;
  /** The message of an evaluation or store error. */
  readonly detail: string | undefined;
}

/** What {@link Policy.settle} did after the call. */
export interface PolicySettlement {
  /** The cost charged to the budget closest to exhaustion (fixed costs were reserved at admission). */
  readonly cost: number | undefined;
  /** That budget's name. */
  readonly budget: string | undefined;
  /** What is left of it. */
  readonly remaining: number | undefined;
  /** When a cost function threw or returned a bad value (nothing was charged for it). */
  readonly error: string | undefined;
}

/** What {@link Policy.settle} answers when it had nothing to give back or charge (one frozen object). */
export const NO_SETTLEMENT: PolicySettlement = Object.freeze({ cost: undefined, budget: undefined, remaining: undefined, error: undefined });

/** A decision and what its call must give back when it settles (slots, costs). */
export class PolicyTicket implements PolicyDecision {
  // `declare`: the constructor sets every field once (no field definitions to undefined first).
  declare readonly allowed: boolean;
  declare readonly reason: PolicyReason;
  declare readonly rule: string | undefined;
  declare readonly limit: string | undefined;
  declare readonly remaining: number | undefined;
  declare readonly retryAfterMs: number | undefined;
  declare readonly waitedMs: number;
  declare readonly detail: string | undefined;
  /** The call decided about. */
  declare readonly subject: PolicySubject;
  /** @internal concurrency counters to release. */
  declare readonly _slots: readonly string[] | undefined;
  /** @internal budgets (with their remaining after admission). */
  declare readonly _budgets: readonly { limit: BudgetLimit; key: string; remaining: number }[] | undefined;
  /** @internal */
  declare _settled: boolean;

  /** @internal Tickets are made by {@link Policy.decide}. The fields are positional: no object per decision. */
  constructor(
    subject: PolicySubject,
    allowed: boolean,
    reason: PolicyReason,
    rule: string | undefined,
    limit: string | undefined,
    remaining: number | undefined,
    retryAfterMs: number | undefined,
    waitedMs: number,
    detail: string | undefined,
    slots: readonly string[] | undefined,
    budgets: readonly { limit: BudgetLimit; key: string; remaining: number }[] | undefined,
  ) {
    this.subject = subject;
    this.allowed = allowed;
    this.reason = reason;
    this.rule = rule;
    this.limit = limit;
    this.remaining = remaining;
    this.retryAfterMs = retryAfterMs;
    this.waitedMs = waitedMs;
    this.detail = detail;
    this._slots = slots;
    this._budgets = budgets;
    this._settled = false;
  }

  /** The {@link PolicyDeniedError} for a denied ticket. */
  error(): PolicyDeniedError {
    return new PolicyDeniedError({
      tool: this.subject.tool,
      agentId: this.subject.agent,
      reason: this.reason === 'allowed' ? 'evaluation_error' : this.reason,
      rule: this.rule,
      limit: this.limit,
      remaining: this.remaining,
      retryAfterMs: this.retryAfterMs,
      detail: this.detail,
    });
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The applicable limits of one (agent, tool, run), with their checks. */
interface Plan {
  limits: readonly CompiledLimit[];
  checks: readonly CounterCheck[];
  /** The keys of the concurrency checks (the slots an allowed call holds), undefined when none. */
  slotKeys: readonly string[] | undefined;
  /** Indices of the budget checks. */
  budgets: readonly number[];
}

const EMPTY_PLAN: Plan = Object.freeze({ limits: [], checks: [], slotKeys: undefined, budgets: [] });

/**
 * The plan last used, for one (agent, tool, run). A policy keeps one; a
 * guard keeps its own (through {@link Policy._decide}), so that guards
 * sharing a policy do not evict each other's: the counters' keys are then
 * built once per guard and agent, not per call.
 * @internal
 */
export class PlanCache {
  agent: string | undefined | null = null;
  tool: string | null = null;
  run: string | undefined | null = null;
  plan: Plan = EMPTY_PLAN;
}

/** Throws a TypeError or RangeError naming the option when `options` are invalid. */
export function validatePolicyOptions(options: unknown): asserts options is PolicyOptions {
  requireObject('policy options', options);
  const o = options as PolicyOptions;
  rejectUnknownOptions('policy', o, POLICY_KEYS);
  if (o.rules !== undefined) validatePolicyRules('rules', o.rules);
  if (o.defaultEffect !== undefined) requireOneOf('defaultEffect', o.defaultEffect, ['allow', 'deny']);
  if (o.authorizer !== undefined && typeof (o.authorizer as { authorize?: unknown })?.authorize !== 'function') {
    throw new TypeError('authorizer must have an authorize(subject) method');
  }
  if (o.limits !== undefined) validatePolicyLimits('limits', o.limits);
  optionalNumber('maxWaitMs', o.maxWaitMs, { min: 0, max: MAX_WAIT_MS });
  if (o.store !== undefined) {
    for (const m of ['admit', 'release', 'charge', 'stopped', 'stop', 'resume'] as const) {
      if (typeof (o.store as unknown as Record<string, unknown>)?.[m] !== 'function') throw new TypeError(`store must be a PolicyStore (no ${m} method)`);
    }
  }
  optionalFunction('now', o.now);
  optionalFunction('sleep', o.sleep);
}

/**
 * A policy: rules, an optional authorizer, limits and a kill switch.
 *
 * @example
 * ```ts
 * const policy = new Policy({
 *   rules: [{ name: 'no-external-mail', effect: 'deny', tools: ['send_email'], where: { to: { pattern: /@(?!example\.com$)/ } } }],
 *   limits: [
 *     { kind: 'token_bucket', name: 'email-rate', tools: ['send_email'], per: ['agent'], ratePerSecond: 1, burst: 5 },
 *     { kind: 'budget', name: 'run-dollars', per: 'run', limit: 2, cost: (args, result) => result.usd },
 *   ],
 * });
 * const send = guard(sendEmail, { name: 'send_email', policy });
 * ```
 */
export class Policy {
  private readonly _rules: PolicyRules;
  private readonly _authorizer: PolicyAuthorizer | undefined;
  private readonly _limits: readonly CompiledLimit[];
  private readonly _store: PolicyStore;
  private readonly _maxWaitMs: number;
  private readonly _sleep: PolicySleep;
  /** The clock. */
  readonly now: Clock;
  /** Callers waiting for a concurrency slot, woken one per release. */
  private readonly _waiters: (() => void)[] = [];
  /** Plan cache for the last (agent, tool) seen, and per run when a limit is per run. */
  private readonly _plans = new PlanCache();
  private readonly _byRun: boolean;
  /** The admission the in-memory store fills in place (decisions on it allocate no admission, settlements no closure); undefined for another store. */
  private readonly _scratch: MutableAdmission | undefined;

  constructor(options: PolicyOptions = {}) {
    validatePolicyOptions(options);
    this._rules = new PolicyRules(options.rules ?? [], options.defaultEffect ?? POLICY_DEFAULTS.defaultEffect);
    this._authorizer = options.authorizer;
    this._limits = (options.limits ?? []).map(l => new CompiledLimit(l));
    this._byRun = this._limits.some(l => l.byRun);
    this._store = options.store ?? new MemoryPolicyStore();
    this._maxWaitMs = options.maxWaitMs ?? POLICY_DEFAULTS.maxWaitMs;
    this.now = options.now ?? systemClock;
    this._sleep = options.sleep ?? timerSleep;
    // Only the in-memory store's own admit and charge (not a subclass's overrides) are known synchronous and have an in-place twin.
    this._scratch =
      this._store.admit === MemoryPolicyStore.prototype.admit && this._store.charge === MemoryPolicyStore.prototype.charge
        ? { admitted: false, failed: -1, remaining: new Array<number>(this._limits.length).fill(0), retryAfterMs: undefined }
        : undefined;
  }

  /** The store holding this policy's counters and kill switch. */
  get store(): PolicyStore {
    return this._store;
  }

  /**
   * Decides about one call. Never throws for a denial: the ticket says
   * (`allowed`, `reason`…); {@link admit} throws instead. An allowed ticket
   * holds slots and reserved costs until {@link settle}. Synchronous unless
   * the store answers with promises or the call waits for room.
   */
  decide(subject: PolicySubject, signal?: AbortSignal): PolicyTicket | Promise<PolicyTicket> {
    return this._decide(subject, signal, this._plans);
  }

  /** {@link decide} with the caller's own plan cache (a guard's). @internal */
  _decide(subject: PolicySubject, signal: AbortSignal | undefined, cache: PlanCache): PolicyTicket | Promise<PolicyTicket> {
    let stopped: MaybePromise<KillTarget | undefined>;
    try {
      stopped = this._store.stopped(subject.agent, subject.tool);
    } catch (err) {
      return this._storeError(subject, err);
    }
    if (stopped instanceof Promise) return stopped.then(s => this._afterKillSwitch(subject, s, signal, cache), err => this._storeError(subject, err));
    return this._afterKillSwitch(subject, stopped, signal, cache);
  }

  /** {@link decide}, throwing a `PolicyDeniedError` when the call is denied. */
  async admit(subject: PolicySubject, signal?: AbortSignal): Promise<PolicyTicket> {
    const ticket = await this.decide(subject, signal);
    if (!ticket.allowed) throw ticket.error();
    return ticket;
  }

  /**
   * After the call: gives back its concurrency slots and charges its
   * budgets (a cost function is called with the result when the call
   * succeeded; a failed call is charged only fixed costs, reserved at
   * admission). Call it exactly once per allowed ticket; later calls do
   * nothing. Never throws; a store error is returned in `error`.
   */
  settle(ticket: PolicyTicket, outcome: { ok: true; result: unknown } | { ok: false; error?: unknown }): MaybePromise<PolicySettlement> {
    if (ticket._settled || !ticket.allowed) return NO_SETTLEMENT;
    ticket._settled = true;
    const slots = ticket._slots;
    const budgets = ticket._budgets;
    if (slots === undefined && budgets === undefined) return NO_SETTLEMENT;
    const now = this.now();
    let released: MaybePromise<void> = undefined;
    let error: string | undefined;
    if (slots !== undefined) {
      try {
        released = this._store.release(slots, now);
      } catch (err) {
        error = `releasing slots failed: ${message(err)}`;
      }
      // Wake one waiter per slot given back (after the release, when async).
      if (released instanceof Promise) released.then(() => this._wake(slots.length), () => this._wake(slots.length));
      else if (this._waiters.length > 0) this._wake(slots.length);
    }
    if (budgets === undefined) {
      return released instanceof Promise
        ? released.then(() => NO_SETTLEMENT, err => ({ ...NO_SETTLEMENT, error: `releasing slots failed: ${message(err)}` }))
        : error === undefined
          ? NO_SETTLEMENT
          : { ...NO_SETTLEMENT, error };
    }
    return this._scratch !== undefined ? this._chargeNow(ticket, budgets, outcome, now, error) : this._charge(ticket, budgets, outcome, now, error);
  }

  private _wake(count: number): void {
    for (let i = 0; i < count && this._waiters.length > 0; i++) this._waiters.shift()!();
  }

  /** Turns the kill switch on: `{}` stops everything, `{ agent }` one agent, `{ tool }` one tool, both: that pair. */
  stop(target: KillTarget = {}): MaybePromise<void> {
    return this._store.stop(target);
  }

  /** Turns the kill switch off for exactly `target` (as given to {@link stop}). */
  resume(target: KillTarget = {}): MaybePromise<void> {
    return this._store.resume(target);
  }

  /** The cost of one call to budget `l`: a number, or why there is none (a message). */
  private _costOf(l: BudgetLimit, ticket: PolicyTicket, result: unknown): number | string {
    if (typeof l.cost === 'number') return l.cost;
    try {
      const cost = l.cost(ticket.subject.args, result);
      if (typeof cost !== 'number' || !Number.isFinite(cost) || cost < 0) return `cost of budget "${l.name}" returned ${String(cost)}, not a finite number >= 0`;
      return cost;
    } catch (err) {
      return `cost of budget "${l.name}" threw: ${message(err)}`;
    }
  }

  /**
   * {@link _charge} on a store that charges synchronously (the in-memory
   * one): the same settlement, without closures or a list of pending
   * charges.
   */
  private _chargeNow(
    ticket: PolicyTicket,
    budgets: readonly { limit: BudgetLimit; key: string; remaining: number }[],
    outcome: { ok: true; result: unknown } | { ok: false; error?: unknown },
    now: number,
    error: string | undefined,
  ): PolicySettlement {
    // The budget closest to exhaustion is reported.
    let name: string | undefined;
    let charged: number | undefined;
    let remaining: number | undefined;
    let fraction = Infinity;
    for (let i = 0; i < budgets.length; i++) {
      const b = budgets[i];
      const l = b.limit;
      let cost: number;
      let left: number;
      if (typeof l.cost === 'number') {
        cost = l.cost;
        left = b.remaining;
      } else {
        if (!outcome.ok) continue;
        const c = this._costOf(l, ticket, outcome.result);
        if (typeof c === 'string') {
          error = c;
          continue;
        }
        cost = c;
        try {
          left = this._store.charge(b.key, cost, l.limit, l.windowMs, now) as number;
        } catch (err) {
          error = `charging budget "${l.name}" failed: ${message(err)}`;
          continue;
        }
      }
      const f = left / l.limit;
      if (name === undefined || f < fraction) {
        name = l.name;
        charged = cost;
        remaining = left;
        fraction = f;
      }
    }
    return { cost: charged, budget: name, remaining, error };
  }

  private _charge(
    ticket: PolicyTicket,
    budgets: readonly { limit: BudgetLimit; key: string; remaining: number }[],
    outcome: { ok: true; result: unknown } | { ok: false; error?: unknown },
    now: number,
    error: string | undefined,
  ): MaybePromise<PolicySettlement> {
    // The budget closest to exhaustion is reported.
    let best: { name: string; cost: number; remaining: number; fraction: number } | undefined;
    const pending: Promise<void>[] = [];
    const consider = (l: BudgetLimit, cost: number, remaining: number): void => {
      const fraction = remaining / l.limit;
      if (best === undefined || fraction < best.fraction) best = { name: l.name, cost, remaining, fraction };
    };
    for (const b of budgets) {
      const l = b.limit;
      if (typeof l.cost === 'number') {
        consider(l, l.cost, b.remaining);
        continue;
      }
      if (!outcome.ok) continue;
      const c = this._costOf(l, ticket, outcome.result);
      if (typeof c === 'string') {
        error = c;
        continue;
      }
      const cost = c;
      try {
        const left = this._store.charge(b.key, cost, l.limit, l.windowMs, now);
        if (left instanceof Promise) pending.push(left.then(r => consider(l, cost, r), err => void (error = `charging budget "${l.name}" failed: ${message(err)}`)));
        else consider(l, cost, left);
      } catch (err) {
        error = `charging budget "${l.name}" failed: ${message(err)}`;
      }
    }
    const report = (): PolicySettlement => ({ cost: best?.cost, budget: best?.name, remaining: best?.remaining, error });
    return pending.length > 0 ? Promise.all(pending).then(report) : report();
  }

  private _storeError(subject: PolicySubject, err: unknown): PolicyTicket {
    return new PolicyTicket(subject, false, 'store_error', undefined, undefined, undefined, undefined, 0, message(err), undefined, undefined);
  }

  private _deny(subject: PolicySubject, reason: PolicyReason, rule: string | undefined, detail?: string): PolicyTicket {
    return new PolicyTicket(subject, false, reason, rule, undefined, undefined, undefined, 0, detail, undefined, undefined);
  }

  private _afterKillSwitch(
    subject: PolicySubject,
    stopped: KillTarget | undefined,
    signal: AbortSignal | undefined,
    cache: PlanCache,
  ): MaybePromise<PolicyTicket> {
    if (stopped !== undefined) {
      const what = stopped.agent === undefined && stopped.tool === undefined ? 'all' : [stopped.agent && `agent:${stopped.agent}`, stopped.tool && `tool:${stopped.tool}`].filter(Boolean).join(',');
      return this._deny(subject, 'kill_switch', `kill_switch:${what}`);
    }
    // Allow and deny rules.
    let rule: string | undefined;
    if (!this._rules.empty) {
      const verdict = this._rules.evaluate(subject);
      if (verdict.effect === 'error') return this._deny(subject, 'evaluation_error', verdict.rule, verdict.error);
      if (verdict.effect === 'deny') return this._deny(subject, verdict.rule === undefined ? 'not_allowed' : 'rule_denied', verdict.rule);
      rule = verdict.rule;
    }
    // The authorizer.
    if (this._authorizer !== undefined) {
      let answer: AuthorizerAnswer;
      try {
        answer = this._authorizer.authorize(subject);
      } catch (err) {
        return this._deny(subject, 'evaluation_error', 'authorizer', message(err));
      }
      const by = answer?.policies?.length ? answer.policies.join(',') : undefined;
      if (answer?.decision === 'error') return this._deny(subject, 'evaluation_error', by ?? 'authorizer', answer.error);
      if (answer?.decision !== 'allow') return this._deny(subject, 'authorizer_denied', by);
      rule = by ?? rule;
    }
    // The limits.
    const plan = this._planFor(subject, cache);
    if (plan.checks.length === 0) return new PolicyTicket(subject, true, 'allowed', rule, undefined, undefined, undefined, 0, undefined, undefined, undefined);
    return this._admit(subject, plan, rule, signal, 0, undefined);
  }

  /** Admission against the limits, waiting for room when allowed to. */
  private _admit(
    subject: PolicySubject,
    plan: Plan,
    rule: string | undefined,
    signal: AbortSignal | undefined,
    waitedMs: number,
    started: number | undefined,
  ): MaybePromise<PolicyTicket> {
    const now = this.now();
    const scratch = this._scratch;
    if (scratch !== undefined) {
      // The in-memory store, synchronous: its answer is read before anything else can admit.
      try {
        (this._store as MemoryPolicyStore).admitInto(plan.checks, now, scratch);
      } catch (err) {
        return this._storeError(subject, err);
      }
      return this._admitted(subject, plan, rule, signal, waitedMs, started, now, scratch);
    }
    let admission: MaybePromise<Admission>;
    try {
      admission = this._store.admit(plan.checks, now);
    } catch (err) {
      return this._storeError(subject, err);
    }
    if (admission instanceof Promise) {
      return admission.then(
        a => this._admitted(subject, plan, rule, signal, waitedMs, started, now, a),
        err => this._storeError(subject, err),
      );
    }
    return this._admitted(subject, plan, rule, signal, waitedMs, started, now, admission);
  }

  /** The ticket for an admission's answer, or a wait and another try. */
  private _admitted(
    subject: PolicySubject,
    plan: Plan,
    rule: string | undefined,
    signal: AbortSignal | undefined,
    waitedMs: number,
    started: number | undefined,
    now: number,
    a: Admission,
  ): MaybePromise<PolicyTicket> {
    if (a.admitted) return this._allowed(subject, plan, rule, a, waitedMs);
    const failed = plan.limits[a.failed];
    const kind = failed.limit.kind;
    const reason: PolicyReason = kind === 'budget' ? 'budget_exhausted' : kind === 'concurrency' ? 'concurrency_limited' : 'rate_limited';
    const denied = (): PolicyTicket =>
      new PolicyTicket(subject, false, reason, rule, failed.limit.name, a.remaining[a.failed], a.retryAfterMs, waitedMs, undefined, undefined, undefined);
    if (kind === 'budget' || this._maxWaitMs === 0) return denied();
    // Rate and concurrency limits may wait, up to maxWaitMs in all.
    const t0 = started ?? now;
    const left = t0 + this._maxWaitMs - now;
    if (left <= 0 || (a.retryAfterMs !== undefined && a.retryAfterMs > left)) return denied();
    return this._wait(kind === 'concurrency', a.retryAfterMs ?? left, left, signal).then(() => this._admit(subject, plan, rule, signal, this.now() - t0, t0));
  }

  /** Waits `ms` (a rate limit), or until a slot is given back or `left` ms pass (a concurrency limit). */
  private _wait(forSlot: boolean, ms: number, left: number, signal: AbortSignal | undefined): Promise<void> {
    if (!forSlot) return this._sleep(ms, signal);
    return new Promise<void>((resolve, reject) => {
      const stop = new AbortController();
      const onAbort = (): void => stop.abort(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        signal?.removeEventListener('abort', onAbort);
        const i = this._waiters.indexOf(wake);
        if (i >= 0) this._waiters.splice(i, 1);
      };
      const wake = (): void => {
        done();
        stop.abort();
        resolve();
      };
      this._waiters.push(wake);
      this._sleep(left, stop.signal).then(
        () => {
          done();
          resolve();
        },
        err => {
          done();
          if (signal?.aborted) reject(signal.reason);
          else if (!stop.signal.aborted) reject(err);
        },
      );
    });
  }

  private _allowed(subject: PolicySubject, plan: Plan, rule: string | undefined, a: Admission, waitedMs: number): PolicyTicket {
    // Report the limit closest to exhaustion.
    let tightest = -1;
    let fraction = Infinity;
    for (let i = 0; i < plan.limits.length; i++) {
      const f = a.remaining[i] / plan.limits[i].capacity;
      if (f < fraction) {
        fraction = f;
        tightest = i;
      }
    }
    const slots = plan.slotKeys;
    const budgets =
      plan.budgets.length === 0
        ? undefined
        : plan.budgets.map(i => ({ limit: plan.limits[i].limit as BudgetLimit, key: plan.checks[i].key, remaining: a.remaining[i] }));
    return new PolicyTicket(subject, true, 'allowed', rule, plan.limits[tightest].limit.name, a.remaining[tightest], undefined, waitedMs, undefined, slots, budgets);
  }

  /** The limits and checks for `subject`, cached in `cache` for the last (agent, tool, run). */
  private _planFor(subject: PolicySubject, cache: PlanCache): Plan {
    const run = this._byRun ? subject.run : undefined;
    if (subject.agent === cache.agent && subject.tool === cache.tool && run === cache.run) return cache.plan;
    const limits = this._limits.filter(l => l.applies(subject.agent, subject.tool));
    const checks = limits.map(l => l.check(subject));
    const slotKeys: string[] = [];
    const budgets: number[] = [];
    checks.forEach((c, i) => {
      if (c.kind === 'concurrency') slotKeys.push(c.key);
      else if (c.kind === 'budget') budgets.push(i);
    });
    cache.agent = subject.agent;
    cache.tool = subject.tool;
    cache.run = run;
    cache.plan = limits.length === 0 ? EMPTY_PLAN : { limits, checks, slotKeys: slotKeys.length === 0 ? undefined : Object.freeze(slotKeys), budgets };
    return cache.plan;
  }
}
