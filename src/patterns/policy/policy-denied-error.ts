import { brandOf, hasBrand } from '../shared/brand.js';

const POLICY_DENIED = brandOf('PolicyDeniedError');

/**
 * Why the policy decided as it did (`agent_safety.policy.reason`), low
 * cardinality:
 * - `allowed`: every rule and limit let the call through;
 * - `kill_switch`: the agent, the tool or everything is stopped;
 * - `rule_denied`: a deny rule matched;
 * - `not_allowed`: no allow rule matched and the default effect is `deny`;
 * - `authorizer_denied`: the authorizer (e.g. Cedar) said deny;
 * - `evaluation_error`: a rule, a constraint or the authorizer could not
 *   decide (fails closed);
 * - `rate_limited`: a token bucket or sliding window is empty;
 * - `concurrency_limited`: too many calls in flight;
 * - `budget_exhausted`: a budget has no room for the call;
 * - `store_error`: the state store failed (fails closed).
 */
export type PolicyReason =
  | 'allowed'
  | 'kill_switch'
  | 'rule_denied'
  | 'not_allowed'
  | 'authorizer_denied'
  | 'evaluation_error'
  | 'rate_limited'
  | 'concurrency_limited'
  | 'budget_exhausted'
  | 'store_error';

/** Every {@link PolicyReason}, in a fixed order (the metric's table). */
export const POLICY_REASONS: readonly PolicyReason[] = Object.freeze([
  'allowed',
  'kill_switch',
  'rule_denied',
  'not_allowed',
  'authorizer_denied',
  'evaluation_error',
  'rate_limited',
  'concurrency_limited',
  'budget_exhausted',
  'store_error',
]);

/** `agent_safety.policy.decision`: `allow` or `deny`. */
export type PolicyDecisionValue = 'allow' | 'deny';

/** What a {@link PolicyDeniedError} says about the refusal. */
export interface PolicyDenial {
  /** The tool that was refused. */
  tool: string;
  /** The acting agent's id, when known. */
  agentId: string | undefined;
  /** Why. */
  reason: Exclude<PolicyReason, 'allowed'>;
  /** The rule (or authorizer policies, comma-separated) that denied, when one did. */
  rule: string | undefined;
  /** The limit or budget that denied, when one did. */
  limit: string | undefined;
  /** What was left of that limit or budget (tokens, calls, slots, cost units). */
  remaining: number | undefined;
  /**
   * When trying again could succeed, in milliseconds from the decision;
   * `undefined` when waiting will not help (a rule, a run budget, the kill
   * switch) or is unknown (a concurrency limit).
   */
  retryAfterMs: number | undefined;
  /** More about an evaluation or store error (the error's message). */
  detail: string | undefined;
}

/**
 * Thrown instead of calling the tool when the policy refuses the call: a rule
 * or the authorizer denied it, a rate, concurrency or budget limit is
 * exhausted, or the kill switch is on. The tool did not run.
 *
 * Check for it with {@link isPolicyDeniedError}, which works across copies
 * of this package.
 */
export class PolicyDeniedError extends Error implements PolicyDenial {
  /** The tool that was refused. */
  readonly tool: string;
  /** The acting agent's id, when known. */
  readonly agentId: string | undefined;
  /** Why. */
  readonly reason: Exclude<PolicyReason, 'allowed'>;
  /** The rule that denied, when one did. */
  readonly rule: string | undefined;
  /** The limit or budget that denied, when one did. */
  readonly limit: string | undefined;
  /** What was left of that limit. */
  readonly remaining: number | undefined;
  /** Milliseconds until a retry could succeed; `undefined` when unknown or never. */
  readonly retryAfterMs: number | undefined;
  /** More about an evaluation or store error. */
  readonly detail: string | undefined;
  declare readonly [POLICY_DENIED]: true;

  constructor(denial: PolicyDenial) {
    const agent = denial.agentId === undefined ? '' : ` for agent "${denial.agentId}"`;
    const by = denial.limit ?? denial.rule;
    const retry = denial.retryAfterMs === undefined ? '' : `; retry after ${denial.retryAfterMs} ms`;
    const detail = denial.detail === undefined ? '' : `: ${denial.detail}`;
    super(`policy denied tool "${denial.tool}"${agent} (${denial.reason}${by === undefined ? '' : ` by ${by}`})${retry}${detail}`);
    this.name = 'PolicyDeniedError';
    this.tool = denial.tool;
    this.agentId = denial.agentId;
    this.reason = denial.reason;
    this.rule = denial.rule;
    this.limit = denial.limit;
    this.remaining = denial.remaining;
    this.retryAfterMs = denial.retryAfterMs;
    this.detail = denial.detail;
    Object.defineProperty(this, POLICY_DENIED, { value: true });
  }
}

/** True when `e` is a {@link PolicyDeniedError}, from any copy of this package. */
export function isPolicyDeniedError(e: unknown): e is PolicyDeniedError {
  return hasBrand(e, POLICY_DENIED);
}
