/**
 * Step 2 of a guarded call: the impact gate and its review, with the tool's
 * declared metadata. Kept out of `guard.ts` so the guard only calls it.
 *
 * @module
 */
import type { Context, Span } from '@opentelemetry/api';
import { isActionBlockedError } from '../../patterns/gate/action-blocked-error.js';
import { validateActionMetadata } from '../../patterns/gate/impact-rules.js';
import type { ActionMetadata } from '../../patterns/gate/impact-rules.js';
import type { AssessOptions } from '../../patterns/gate/impact-assessor.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import { CounterfactualEstimator } from './counterfactual-estimator.js';
import type { GateDecision } from './counterfactual-estimator.js';
import type { CallOutcome } from '../shared/semconv.js';

/** The tool's declared impact metadata: fixed, or computed from the call's arguments. */
export type ImpactDeclaration<A extends unknown[]> = ActionMetadata | ((...args: A) => ActionMetadata);

/** Throws naming the option when `gate` / `impact` are invalid guard options. */
export function validateGateOptions(gate: unknown, impact: unknown): void {
  if (gate !== undefined && !(gate instanceof CounterfactualEstimator) && typeof (gate as { decide?: unknown })?.decide !== 'function') {
    throw new TypeError('gate must be a CounterfactualEstimator');
  }
  if (impact === undefined) return;
  if (gate === undefined) throw new TypeError('impact needs a gate: give `gate` (a CounterfactualEstimator) too');
  if (typeof impact !== 'function') validateActionMetadata('impact', impact);
}

/** The gate of one guarded tool. */
export class GuardGate {
  private readonly _estimator: CounterfactualEstimator;
  private readonly _tool: string;
  private readonly _metadata: ActionMetadata | undefined;
  /** Assess options without a call id (shared by every call without one). */
  private readonly _static: AssessOptions | undefined;
  private readonly _impactFn: ((...args: unknown[]) => ActionMetadata) | undefined;

  constructor(estimator: CounterfactualEstimator, tool: string, impact: ImpactDeclaration<never[]> | undefined) {
    this._estimator = estimator;
    this._tool = tool;
    if (typeof impact === 'function') {
      this._impactFn = impact as (...args: unknown[]) => ActionMetadata;
    } else {
      // A frozen copy: validated once here, never re-validated per call.
      const metadata = impact === undefined ? undefined : Object.freeze({ ...impact });
      if (metadata !== undefined) validateActionMetadata('impact', metadata);
      this._metadata = metadata;
      this._static = metadata === undefined ? undefined : Object.freeze({ metadata });
    }
  }

  /**
   * Assesses the call; returns nothing (or a promise of nothing) when it may
   * run, throws an `ActionBlockedError` when it is refused. Synchronous
   * with synchronous models and no review.
   */
  enforce(
    span: Span,
    args: unknown[],
    callId: string | undefined,
    redact: Redactor,
    signal: AbortSignal | undefined,
    ctx: Context,
    agentId: string | undefined,
  ): undefined | Promise<GateDecision> {
    const fn = this._impactFn;
    let options = this._static;
    if (fn !== undefined) options = { metadata: () => fn(...args), callId };
    else if (callId !== undefined) options = { metadata: this._metadata, callId };
    const decided = this._estimator.decide(span, this._tool, args.length === 1 ? args[0] : args, options, redact, signal, ctx, agentId);
    return decided instanceof Promise ? decided : undefined;
  }
}

/** The call outcome of a call refused by its own gate (`blocked` / `denied`), else undefined. */
export function refusalOutcome(err: unknown): CallOutcome | undefined {
  return isActionBlockedError(err) ? err.enforced : undefined;
}
