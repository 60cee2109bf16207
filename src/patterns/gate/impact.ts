/**
 * Impact levels, gate verdicts and thresholds: the arithmetic of the
 * counterfactual impact gate. Pure: no OpenTelemetry, no I/O.
 *
 * The gate compares the impact of acting (`proposed`) with the impact of not
 * acting (`counterfactual`, the "inaction baseline" of the side-effects
 * literature) through the **signed** delta `proposed − counterfactual`. An
 * action that causes less harm than doing nothing has a negative delta and
 * is never gated. (The Python original used `|proposed − counterfactual|`,
 * which gates a harm-reducing action exactly like a harmful one.)
 *
 * @module
 */
import { optionalNumber, requireNumber } from '../shared/validate.js';

/** How large an action's impact delta is, from smallest to largest. */
export type ImpactLevel = 'NEGLIGIBLE' | 'LOW' | 'MODERATE' | 'HIGH' | 'CRITICAL';

/** The values of {@link ImpactLevel}, smallest first. */
export const IMPACT_LEVELS: readonly ImpactLevel[] = Object.freeze(['NEGLIGIBLE', 'LOW', 'MODERATE', 'HIGH', 'CRITICAL']);

/** What the gate recommends: run the action, ask a reviewer, or refuse it. */
export type GateVerdict = 'proceed' | 'review' | 'block';

/** The values of {@link GateVerdict}. */
export const GATE_VERDICTS: readonly GateVerdict[] = Object.freeze(['proceed', 'review', 'block']);

/**
 * What the gate did: ran the action (`proceeded`), ran it after a reviewer
 * approved it (`approved`), refused it after review (`denied`: a reviewer
 * said no, or did not answer), or refused it outright (`blocked`).
 */
export type GateEnforcement = 'proceeded' | 'approved' | 'denied' | 'blocked';

/** The values of {@link GateEnforcement}. */
export const GATE_ENFORCEMENTS: readonly GateEnforcement[] = Object.freeze(['proceeded', 'approved', 'denied', 'blocked']);

/**
 * Why an assessment recommends what it does. Low cardinality: suitable as
 * an attribute value.
 *
 * - `below_review_threshold`, `review_threshold_reached`, `block_threshold_reached`: the delta's place.
 * - `impact_model_error` | `_timeout` | `_invalid`: the impact model threw, exceeded its
 *   timeout, or returned something other than a number in 0..1 (fail closed: block).
 * - `counterfactual_model_error` | `_timeout` | `_invalid`: the same for the counterfactual model.
 * - `impact_metadata_error`: the tool's declared metadata could not be computed.
 */
export type AssessmentReason =
  | 'below_review_threshold'
  | 'review_threshold_reached'
  | 'block_threshold_reached'
  | 'impact_model_error'
  | 'impact_model_timeout'
  | 'impact_model_invalid'
  | 'counterfactual_model_error'
  | 'counterfactual_model_timeout'
  | 'counterfactual_model_invalid'
  | 'impact_metadata_error';

/** The two thresholds on the impact delta. */
export interface ImpactThresholds {
  /** A delta at or above it is blocked. */
  readonly block: number;
  /** A delta at or above it (and below `block`) goes to review. */
  readonly review: number;
}

/** Default block threshold (the original's `block_threshold`). */
export const DEFAULT_BLOCK_THRESHOLD = 0.75;
/** Default review threshold (the original's `review_threshold`). */
export const DEFAULT_REVIEW_THRESHOLD = 0.4;
/** Where `LOW` starts (unless the review threshold is lower). */
export const LOW_IMPACT_FROM = 0.1;
/** Where `MODERATE` starts (unless the review threshold is lower). */
export const MODERATE_IMPACT_FROM = 0.25;

/**
 * Returns validated thresholds, defaults filled in.
 *
 * @throws TypeError when a threshold is not a finite number, RangeError when
 *   it is outside 0..1 or `reviewThreshold` is above `blockThreshold`; the
 *   message names the option and the value.
 */
export function impactThresholds(options: { blockThreshold?: number; reviewThreshold?: number } = {}): ImpactThresholds {
  optionalNumber('blockThreshold', options.blockThreshold, { min: 0, max: 1 });
  optionalNumber('reviewThreshold', options.reviewThreshold, { min: 0, max: 1 });
  const block = options.blockThreshold ?? DEFAULT_BLOCK_THRESHOLD;
  const review = options.reviewThreshold ?? DEFAULT_REVIEW_THRESHOLD;
  if (review > block) {
    throw new RangeError(`reviewThreshold must be <= blockThreshold (${block}), got ${review}`);
  }
  return Object.freeze({ block, review });
}

/**
 * `proposed − counterfactual`, rounded to 12 decimal places so that floating
 * point noise (`0.7 − 0.3 = 0.39999999999999997`) never moves a delta across
 * a threshold. Ranges over −1..1.
 */
export function impactDelta(proposed: number, counterfactual: number): number {
  return Math.round((proposed - counterfactual) * 1e12) / 1e12;
}

/**
 * The level of a delta. `HIGH` starts at the review threshold and
 * `CRITICAL` at the block threshold, so level and verdict always agree
 * (HIGH ⇔ review, CRITICAL ⇔ block); below the review threshold the
 * bands are NEGLIGIBLE < 0.1 ≤ LOW < 0.25 ≤ MODERATE, each capped at the
 * review threshold. A negative delta is NEGLIGIBLE.
 */
export function impactLevel(delta: number, thresholds: ImpactThresholds): ImpactLevel {
  if (delta >= thresholds.block) return 'CRITICAL';
  if (delta >= thresholds.review) return 'HIGH';
  if (delta >= Math.min(MODERATE_IMPACT_FROM, thresholds.review)) return 'MODERATE';
  if (delta >= Math.min(LOW_IMPACT_FROM, thresholds.review)) return 'LOW';
  return 'NEGLIGIBLE';
}

/** The verdict for a delta: `block` at or above the block threshold, `review` at or above the review threshold, else `proceed`. */
export function impactVerdict(delta: number, thresholds: ImpactThresholds): GateVerdict {
  if (delta >= thresholds.block) return 'block';
  if (delta >= thresholds.review) return 'review';
  return 'proceed';
}

/**
 * The gate's assessment of one proposed action (the original's
 * `ImpactAssessment`). Frozen.
 */
export interface ImpactAssessment {
  /** The action assessed. */
  readonly action: string;
  /** The tool call id, when known. */
  readonly callId: string | undefined;
  /** Estimated impact of acting, 0..1 (1 when the estimate failed: fail closed). */
  readonly proposedImpact: number;
  /** Estimated impact of not acting, 0..1 (0 when the estimate failed). */
  readonly counterfactualImpact: number;
  /** `proposedImpact − counterfactualImpact`, signed, −1..1. */
  readonly impactDelta: number;
  /** The delta's level. */
  readonly level: ImpactLevel;
  /** What the gate recommends (the original's `recommended_action`). */
  readonly recommendation: GateVerdict;
  /** Why. */
  readonly reason: AssessmentReason;
  /** Per-factor scores reported by the impact model (e.g. the rules model's `reversibility`, `scope`, `cost`, `environment`). */
  readonly factors: Readonly<Record<string, number>>;
  /** True when a model failed and the gate fell back to blocking. */
  readonly failClosed: boolean;
  /** For a failed estimate: what went wrong, for humans (may hold an error message; not recorded on spans). */
  readonly detail: string | undefined;
  /** The thresholds applied. */
  readonly thresholds: ImpactThresholds;
}

/** Builds the assessment of a successful estimate. */
export function assessImpact(
  action: string,
  callId: string | undefined,
  proposed: number,
  counterfactual: number,
  factors: Readonly<Record<string, number>>,
  thresholds: ImpactThresholds,
): ImpactAssessment {
  const delta = impactDelta(proposed, counterfactual);
  const recommendation = impactVerdict(delta, thresholds);
  return Object.freeze({
    action,
    callId,
    proposedImpact: proposed,
    counterfactualImpact: counterfactual,
    impactDelta: delta,
    level: impactLevel(delta, thresholds),
    recommendation,
    reason:
      recommendation === 'block' ? 'block_threshold_reached' : recommendation === 'review' ? 'review_threshold_reached' : 'below_review_threshold',
    factors,
    failClosed: false,
    detail: undefined,
    thresholds,
  });
}

/**
 * Builds the assessment of a failed estimate: the worst case (proposed 1,
 * counterfactual 0, CRITICAL), recommendation `block`, with the reason and
 * a human-readable detail.
 */
export function failClosedAssessment(
  action: string,
  callId: string | undefined,
  reason: AssessmentReason,
  detail: string,
  thresholds: ImpactThresholds,
): ImpactAssessment {
  return Object.freeze({
    action,
    callId,
    proposedImpact: 1,
    counterfactualImpact: 0,
    impactDelta: 1,
    level: 'CRITICAL',
    recommendation: 'block',
    reason,
    factors: EMPTY_FACTORS,
    failClosed: true,
    detail,
    thresholds,
  });
}

const EMPTY_FACTORS: Readonly<Record<string, number>> = Object.freeze({});

/** Validates a score (a number in 0..1); used for declared values, throws naming `option`. */
export function requireScore(option: string, value: unknown): void {
  requireNumber(option, value, { min: 0, max: 1 });
}
