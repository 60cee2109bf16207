/**
 * Step 3 of a guarded call: the impact gate and its review, with the tool's
 * declared metadata, as a {@link GuardStep}.
 *
 * @module
 */
import { validateActionMetadata } from '../../patterns/gate/impact-rules.js';
import type { ActionMetadata } from '../../patterns/gate/impact-rules.js';
import type { AssessOptions } from '../../patterns/gate/impact-assessor.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import { CounterfactualEstimator } from './counterfactual-estimator.js';
import type { GateRecord } from './counterfactual-estimator.js';
import type { GuardCall, GuardStep } from '../guard/guard-step.js';

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

/**
 * The gate of one guarded tool: assesses each call, asks for a review when
 * the verdict says so, and stops a refused call with an
 * `ActionBlockedError` (outcome `blocked` or `denied`). Synchronous with
 * synchronous models and no review.
 */
export class GateStep implements GuardStep<undefined> {
  readonly name = 'gate';
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

  /** Assesses the call and decides (step 3). */
  admit(call: GuardCall): MaybePromise<GateRecord> {
    const { input: args, callId } = call;
    const fn = this._impactFn;
    let options = this._static;
    if (fn !== undefined) options = { metadata: () => fn(...args), callId };
    else if (callId !== undefined) options = { metadata: this._metadata, callId };
    return this._estimator.decide(this._tool, args.length === 1 ? args[0] : args, options, call.redact, call.signal, call.context, call.agent?.id, call.recording);
  }
}
