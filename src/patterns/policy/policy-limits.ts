/**
 * The limits a policy enforces: rate (token bucket, sliding window),
 * concurrency and budgets, each kept per agent, tool and/or run.
 *
 * @module
 */
import { rejectUnknownOptions, requireFunction, requireNonEmptyString, requireNumber, requireObject, requireOneOf } from '../shared/validate.js';
import type { CounterCheck } from './policy-store.js';
import type { PolicySubject } from './policy-rules.js';

/** What a limit is kept per: each agent, each tool, each run (an `invokeAgent`). */
export type PolicyDimension = 'agent' | 'tool' | 'run';

/** Fields every limit has. */
export interface PolicyLimitBase {
  /** Names the limit: `agent_safety.policy.limit`, and part of its counters' keys. Unique in a policy. */
  name: string;
  /**
   * One counter per agent, per tool, per run, or per combination (`['agent', 'tool']`);
   * `[]` is one counter for every call. Calls outside any `invokeAgent` share the run `""`.
   * @default 'agent'
   */
  per?: PolicyDimension | readonly PolicyDimension[];
  /** Only calls by these agents count. @default every agent */
  agents?: readonly string[];
  /** Only calls of these tools count. @default every tool */
  tools?: readonly string[];
}

/** At most `burst` calls at once, refilled at `ratePerSecond`. */
export interface TokenBucketLimit extends PolicyLimitBase {
  kind: 'token_bucket';
  /** Tokens added per second (fractions allowed: 0.5 is one call every 2 s). */
  ratePerSecond: number;
  /** The bucket's size: the most calls allowed in a burst. */
  burst: number;
}

/** At most `limit` calls in any `windowMs` (exact sliding window; keeps `limit` timestamps per counter). */
export interface SlidingWindowLimit extends PolicyLimitBase {
  kind: 'sliding_window';
  /** Calls allowed per window. */
  limit: number;
  /** The window's length in milliseconds. */
  windowMs: number;
}

/** At most `max` calls in flight (admitted and not yet settled). */
export interface ConcurrencyLimit extends PolicyLimitBase {
  kind: 'concurrency';
  /** Calls allowed in flight at once. */
  max: number;
}

/**
 * A cost budget (dollars, tokens…): calls are charged their cost and denied
 * once it is spent. Per run (`per: 'run'`, no `windowMs`) or per fixed
 * window (`windowMs`: resets every window, aligned on the clock's 0).
 */
export interface BudgetLimit extends PolicyLimitBase {
  kind: 'budget';
  /** The budget, in the cost's unit. */
  limit: number;
  /** Resets every `windowMs`. @default undefined (never resets: a run's or the process's budget) */
  windowMs?: number;
  /**
   * The cost of one call: a number, reserved when the call is admitted
   * (the call is denied unless the budget holds it), or a function of the
   * arguments and the result, charged when the call succeeds (the call is
   * denied once nothing is left; calls in flight may overspend by their cost).
   */
  cost: number | ((args: readonly unknown[], result: unknown) => number);
}

/** Any limit. */
export type PolicyLimit = TokenBucketLimit | SlidingWindowLimit | ConcurrencyLimit | BudgetLimit;

const BASE_KEYS = ['kind', 'name', 'per', 'agents', 'tools'];
const KEYS: Record<PolicyLimit['kind'], readonly string[]> = {
  token_bucket: [...BASE_KEYS, 'ratePerSecond', 'burst'],
  sliding_window: [...BASE_KEYS, 'limit', 'windowMs'],
  concurrency: [...BASE_KEYS, 'max'],
  budget: [...BASE_KEYS, 'limit', 'windowMs', 'cost'],
};
const DIMENSIONS: readonly PolicyDimension[] = ['agent', 'tool', 'run'];

/** Throws naming the option when `limits` are not valid. */
export function validatePolicyLimits(option: string, limits: unknown): void {
  if (!Array.isArray(limits)) throw new TypeError(`${option} must be an array of limits`);
  const names = new Set<string>();
  limits.forEach((limit, i) => {
    const at = `${option}[${i}]`;
    requireObject(at, limit);
    const l = limit as PolicyLimit;
    requireOneOf(`${at}.kind`, l.kind, ['token_bucket', 'sliding_window', 'concurrency', 'budget']);
    rejectUnknownOptions(at, l, KEYS[l.kind]);
    requireNonEmptyString(`${at}.name`, l.name);
    if (names.has(l.name)) throw new TypeError(`${at}.name ${JSON.stringify(l.name)} is used twice`);
    names.add(l.name);
    if (l.per !== undefined) {
      const per = typeof l.per === 'string' ? [l.per] : l.per;
      if (!Array.isArray(per)) throw new TypeError(`${at}.per must be a dimension or an array of them`);
      per.forEach((d, j) => requireOneOf(`${at}.per[${j}]`, d, DIMENSIONS));
    }
    for (const list of ['agents', 'tools'] as const) {
      const v = l[list];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.length === 0) throw new TypeError(`${at}.${list} must be a non-empty array of strings`);
      v.forEach((s, j) => requireNonEmptyString(`${at}.${list}[${j}]`, s));
    }
    switch (l.kind) {
      case 'token_bucket':
        requireNumber(`${at}.ratePerSecond`, l.ratePerSecond, { min: 0, minInclusive: false });
        requireNumber(`${at}.burst`, l.burst, { min: 1, integer: true });
        break;
      case 'sliding_window':
        requireNumber(`${at}.limit`, l.limit, { min: 1, max: 1_000_000, integer: true });
        requireNumber(`${at}.windowMs`, l.windowMs, { min: 0, minInclusive: false });
        break;
      case 'concurrency':
        requireNumber(`${at}.max`, l.max, { min: 1, integer: true });
        break;
      case 'budget':
        requireNumber(`${at}.limit`, l.limit, { min: 0, minInclusive: false });
        if (l.windowMs !== undefined) requireNumber(`${at}.windowMs`, l.windowMs, { min: 0, minInclusive: false });
        if (typeof l.cost === 'number') requireNumber(`${at}.cost`, l.cost, { min: 0 });
        else requireFunction(`${at}.cost`, l.cost);
        break;
    }
  });
}

/** A limit prepared once: its filters as sets, its dimensions as flags. */
export class CompiledLimit {
  readonly limit: PolicyLimit;
  /** The counter's size: burst, calls per window, slots, budget. */
  readonly capacity: number;
  private readonly _agents: ReadonlySet<string> | undefined;
  private readonly _tools: ReadonlySet<string> | undefined;
  private readonly _byAgent: boolean;
  private readonly _byTool: boolean;
  /** True when the limit is kept per run. */
  readonly byRun: boolean;

  constructor(limit: PolicyLimit) {
    this.limit = limit;
    const per = limit.per === undefined ? ['agent'] : typeof limit.per === 'string' ? [limit.per] : limit.per;
    this._byAgent = per.includes('agent');
    this._byTool = per.includes('tool');
    this.byRun = per.includes('run');
    this._agents = limit.agents && new Set(limit.agents);
    this._tools = limit.tools && new Set(limit.tools);
    this.capacity =
      limit.kind === 'token_bucket' ? limit.burst : limit.kind === 'sliding_window' ? limit.limit : limit.kind === 'concurrency' ? limit.max : limit.limit;
  }

  /** True when calls of `agent` to `tool` count against this limit. */
  applies(agent: string | undefined, tool: string): boolean {
    if (this._tools !== undefined && !this._tools.has(tool)) return false;
    if (this._agents !== undefined && (agent === undefined || !this._agents.has(agent))) return false;
    return true;
  }

  /** The store check of this limit for `subject`. */
  check(subject: PolicySubject): CounterCheck {
    const l = this.limit;
    const key = `${l.name}\u0000${this._byAgent ? (subject.agent ?? '') : '*'}\u0000${this._byTool ? subject.tool : '*'}\u0000${this.byRun ? (subject.run ?? '') : '*'}`;
    switch (l.kind) {
      case 'token_bucket':
        return { kind: 'token_bucket', key, ratePerMs: l.ratePerSecond / 1000, burst: l.burst };
      case 'sliding_window':
        return { kind: 'sliding_window', key, limit: l.limit, windowMs: l.windowMs };
      case 'concurrency':
        return { kind: 'concurrency', key, max: l.max };
      case 'budget':
        return { kind: 'budget', key, limit: l.limit, windowMs: l.windowMs, reserve: typeof l.cost === 'number' ? l.cost : 0 };
    }
  }
}
