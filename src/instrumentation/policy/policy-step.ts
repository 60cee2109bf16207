/**
 * Step 2 of a guarded call (DESIGN.md §2), as a {@link GuardStep}: the
 * policy decides after the breaker and before the gate, and settles (gives
 * back concurrency slots, charges costs) as soon as the action settled. The
 * step returns plain data (attributes, the denial); the guard's recorder
 * writes it onto the call's span. A guard without a policy has no such step
 * and pays nothing.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { NO_SETTLEMENT, PlanCache, Policy } from '../../patterns/policy/policy.js';
import type { PolicyDecision, PolicySettlement, PolicyTicket } from '../../patterns/policy/policy.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import { runFromContext } from '../guard/call-context.js';
import type { ActionOutcome, GuardCall, GuardStep, StepDecision, StepEntry, StepStop } from '../guard/guard-step.js';
import {
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
} from '../shared/semconv.js';
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

/**
 * The span attributes of `ticket` ({@link policyDecisionAttributes}): an
 * allowed call without limits has the same attributes every time, so they
 * are built once per rule and kept in `cache`.
 */
function ticketAttributes(t: PolicyTicket, cache: Map<string | undefined, Attributes>): Attributes {
  if (!t.allowed || t.waitedMs > 0 || t.limit !== undefined) return policyDecisionAttributes(t);
  let attrs = cache.get(t.rule);
  if (attrs === undefined) {
    attrs = Object.freeze(policyDecisionAttributes(t));
    // Rules are few; authorizer answers (sets of policies) are bounded by the cap.
    if (cache.size < 64) cache.set(t.rule, attrs);
  }
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

/**
 * The policy's part in a guarded call. `admit` decides (a denial stops the
 * call with the ticket's `PolicyDeniedError`, outcome `denied`, no
 * exception event, `error.type` `PolicyDeniedError`) and counts the
 * decision in `agent_safety.policy.decisions`; `settle` gives back the
 * call's slots and charges its cost, before the call's outcome is recorded.
 * When the store settles asynchronously, `conclude` waits for it and then
 * records the budget charged (the guarded call settles after that).
 */
export class PolicyStep implements GuardStep<PolicyTicket> {
  readonly name = 'policy';
  readonly policy: Policy;
  private readonly _tool: string;
  private _tableAgent: string | undefined | null = null;
  private _table: PolicyDecisionTable | undefined;
  /** Settlements still pending at the store, by ticket (asynchronous stores only). */
  private readonly _pending = new WeakMap<PolicyTicket, Promise<PolicySettlement>>();
  /** How many settlements are pending: with a synchronous store, none, and `conclude` looks nothing up. */
  private _pendingCount = 0;
  /** This guard's plan (the limits' counter keys) for the last agent and run: built once, not per call. */
  private readonly _plans = new PlanCache();
  /** The span attributes of allowed calls without limits, by rule. */
  private readonly _attributes = new Map<string | undefined, Attributes>();

  constructor(policy: Policy, tool: string) {
    this.policy = policy;
    this._tool = tool;
  }

  /**
   * Step 2. A promise only when the store answers with one or the call waits
   * for room; rejects only when the caller aborts while the call waits.
   */
  admit(call: GuardCall): MaybePromise<StepEntry<PolicyTicket>> {
    const agentId = call.agent?.id;
    const ticket = this.policy._decide({ agent: agentId, tool: this._tool, run: runFromContext(call.parent), args: call.input }, call.signal, this._plans);
    if (ticket instanceof Promise) return ticket.then(t => this._entry(call, t, agentId));
    return this._entry(call, ticket, agentId);
  }

  /** Gives back the call's slots and charges its cost (fixed costs were reserved at admission). Never throws. */
  settle(_call: GuardCall, ticket: PolicyTicket | undefined, outcome: ActionOutcome): StepDecision | undefined {
    if (ticket === undefined) return undefined;
    const settled = this.policy.settle(ticket, outcome);
    if (settled === NO_SETTLEMENT) return undefined; // nothing to give back or charge
    if (settled instanceof Promise) {
      this._pending.set(ticket, settled);
      this._pendingCount++;
      return undefined;
    }
    return this._settled(settled);
  }

  /** Waits for a settlement the store answers later, and records it. */
  conclude(_call: GuardCall, ticket: PolicyTicket | undefined): MaybePromise<StepDecision | undefined> {
    if (ticket === undefined || this._pendingCount === 0) return undefined;
    const pending = this._pending.get(ticket);
    if (pending === undefined) return undefined;
    this._pending.delete(ticket);
    this._pendingCount--;
    return pending.then(s => this._settled(s));
  }

  private _settled(s: PolicySettlement): StepDecision | undefined {
    if (s.error !== undefined) diag.warn(`${PACKAGE_NAME}: policy of tool "${this._tool}": ${s.error}`);
    const attributes = policySettlementAttributes(s);
    return attributes === undefined ? undefined : { attributes };
  }

  private _entry(call: GuardCall, ticket: PolicyTicket, agentId: string | undefined): StepEntry<PolicyTicket> {
    if (agentId !== this._tableAgent || this._table === undefined) {
      this._table = policyDecisionTable(agentId, this._tool);
      this._tableAgent = agentId;
    }
    countPolicyDecision(this._table, ticket.reason);
    const attributes = call.recording ? ticketAttributes(ticket, this._attributes) : undefined;
    if (ticket.allowed) return { attributes, state: ticket };
    const stop: StepStop = { error: ticket.error(), outcome: 'denied', exception: false, errorType: 'PolicyDeniedError' };
    return { attributes, stop };
  }
}
