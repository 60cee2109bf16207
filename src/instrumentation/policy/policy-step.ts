/**
 * Step 2 of a guarded call (DESIGN.md §2): the policy decides before the
 * gate, and settles (gives back concurrency slots, charges costs) after the
 * action. The step builds plain data (attributes, the denial error); the
 * guard writes it on the call's span.
 *
 * @module
 */
import { SpanStatusCode, diag } from '@opentelemetry/api';
import type { Attributes, Context, Span } from '@opentelemetry/api';
import { Policy } from '../../patterns/policy/policy.js';
import type { PolicyDecision, PolicySettlement, PolicyTicket } from '../../patterns/policy/policy.js';
import type { MaybePromise } from '../../patterns/policy/policy-store.js';
import { runFromContext } from '../guard/call-context.js';
import { errorMessage } from '../guard/record-error.js';
import {
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_POLICY_BUDGET_COST,
  ATTR_AGENT_SAFETY_POLICY_BUDGET_NAME,
  ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING,
  ATTR_AGENT_SAFETY_POLICY_DECISION,
  ATTR_AGENT_SAFETY_POLICY_LIMIT,
  ATTR_AGENT_SAFETY_POLICY_REASON,
  ATTR_AGENT_SAFETY_POLICY_REMAINING,
  ATTR_AGENT_SAFETY_POLICY_RETRY_AFTER_MS,
  ATTR_AGENT_SAFETY_POLICY_RULE,
  ATTR_AGENT_SAFETY_POLICY_WAITED_MS,
  ATTR_ERROR_TYPE,
} from '../shared/semconv.js';
import type { CallOutcome } from '../shared/semconv.js';
import { PACKAGE_NAME } from '../shared/version.js';
import { countPolicyDecision, policyDecisionTable } from './policy-metrics.js';
import type { PolicyDecisionTable } from './policy-metrics.js';

/** Throws a TypeError unless `value` is a {@link Policy} (or undefined). */
export function validatePolicyOption(option: string, value: unknown): void {
  if (value === undefined || value instanceof Policy) return;
  throw new TypeError(`${option} must be a Policy, got ${value === null ? 'null' : typeof value}`);
}

/** The span attributes of a decision. */
export function policyDecisionAttributes(d: PolicyDecision): Attributes {
  const attrs: Attributes = {
    [ATTR_AGENT_SAFETY_POLICY_DECISION]: d.allowed ? 'allow' : 'deny',
    [ATTR_AGENT_SAFETY_POLICY_REASON]: d.reason,
  };
  if (d.rule !== undefined) attrs[ATTR_AGENT_SAFETY_POLICY_RULE] = d.rule;
  if (d.limit !== undefined) attrs[ATTR_AGENT_SAFETY_POLICY_LIMIT] = d.limit;
  if (d.remaining !== undefined) attrs[ATTR_AGENT_SAFETY_POLICY_REMAINING] = d.remaining;
  if (d.retryAfterMs !== undefined) attrs[ATTR_AGENT_SAFETY_POLICY_RETRY_AFTER_MS] = d.retryAfterMs;
  if (d.waitedMs > 0) attrs[ATTR_AGENT_SAFETY_POLICY_WAITED_MS] = d.waitedMs;
  return attrs;
}

/** The span attributes of a settlement (undefined when no budget was charged). */
export function policySettlementAttributes(s: PolicySettlement): Attributes | undefined {
  if (s.budget === undefined) return undefined;
  return {
    [ATTR_AGENT_SAFETY_POLICY_BUDGET_NAME]: s.budget,
    [ATTR_AGENT_SAFETY_POLICY_BUDGET_COST]: s.cost!,
    [ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING]: s.remaining!,
  };
}

/** The policy of one guarded tool. */
export class GuardPolicy {
  readonly policy: Policy;
  private readonly _tool: string;
  private _tableAgent: string | undefined | null = null;
  private _table: PolicyDecisionTable | undefined;

  constructor(policy: Policy, tool: string) {
    this.policy = policy;
    this._tool = tool;
  }

  /**
   * Decides about a call by `agentId` in context `parent` (its run). The
   * ticket is counted in the metric; write it with {@link policyDecisionAttributes}.
   * Rejects only when the caller aborts while the call waits for room.
   */
  decide(agentId: string | undefined, parent: Context, args: readonly unknown[], signal: AbortSignal | undefined): MaybePromise<PolicyTicket> {
    const ticket = this.policy.decide({ agent: agentId, tool: this._tool, run: runFromContext(parent), args }, signal);
    if (ticket instanceof Promise) return ticket.then(t => this._count(t, agentId));
    return this._count(ticket, agentId);
  }

  /** After the call; never throws (a cost or store problem is reported through `diag`). */
  settle(ticket: PolicyTicket, outcome: { ok: true; result: unknown } | { ok: false; error?: unknown }): MaybePromise<PolicySettlement> {
    const settled = this.policy.settle(ticket, outcome);
    if (settled instanceof Promise) return settled.then(s => this._report(s));
    return settled.error === undefined ? settled : this._report(settled);
  }

  private _report(s: PolicySettlement): PolicySettlement {
    if (s.error !== undefined) diag.warn(`${PACKAGE_NAME}: policy of tool "${this._tool}": ${s.error}`);
    return s;
  }

  private _count(ticket: PolicyTicket, agentId: string | undefined): PolicyTicket {
    if (agentId !== this._tableAgent || this._table === undefined) {
      this._table = policyDecisionTable(agentId, this._tool);
      this._tableAgent = agentId;
    }
    countPolicyDecision(this._table, ticket.reason);
    return ticket;
  }
}

/** Writes `attributes` on `span`; telemetry never breaks the call. */
export function writePolicyAttributes(span: Span, attributes: Attributes | undefined): void {
  if (attributes === undefined) return;
  try {
    span.setAttributes(attributes);
  } catch (err) {
    diag.error(`${PACKAGE_NAME}: writing the policy's decision on its span failed`, err);
  }
}

/**
 * Records a call the policy denied: status ERROR with the denial's message,
 * `error.type` = `PolicyDeniedError`, outcome `denied`. No exception event:
 * nothing ran, and denials of a looping agent must stay cheap. Returns
 * `error.type`.
 */
export function recordPolicyDenial(span: Span, err: unknown): string {
  const type = 'PolicyDeniedError';
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, 'denied' satisfies CallOutcome);
  return type;
}
