import { brandOf, hasBrand } from '../shared/brand.js';
import type { ImpactAssessment } from './impact.js';
import type { ReviewOutcome } from './review.js';

const ACTION_BLOCKED = brandOf('ActionBlockedError');

/**
 * Thrown when the impact gate refuses an action: blocked outright
 * (`enforced: 'blocked'`, the delta reached the block threshold or a model
 * failed) or denied in review (`enforced: 'denied'`, a reviewer said no or
 * did not answer in time). The action never ran.
 *
 * Its `name` is `ActionBlockedError` in both cases, so `error.type` on the
 * span is `ActionBlockedError`; `agent_safety.call.outcome` tells `blocked`
 * from `denied`.
 */
export class ActionBlockedError extends Error {
  /** The refused action. */
  readonly action: string;
  /** What the gate did: `blocked` or `denied`. */
  readonly enforced: 'blocked' | 'denied';
  /** The assessment that led here. */
  readonly assessment: ImpactAssessment;
  /** The review, when there was one. */
  readonly review: ReviewOutcome | undefined;
  declare readonly [ACTION_BLOCKED]: true;

  constructor(assessment: ImpactAssessment, review?: ReviewOutcome) {
    super(describe(assessment, review));
    this.name = 'ActionBlockedError';
    this.action = assessment.action;
    this.enforced = review === undefined ? 'blocked' : 'denied';
    this.assessment = assessment;
    this.review = review;
    Object.defineProperty(this, ACTION_BLOCKED, { value: true });
  }
}

function describe(a: ImpactAssessment, review: ReviewOutcome | undefined): string {
  const head = `action "${a.action}"`;
  if (review !== undefined) {
    const by = review.reviewer !== undefined ? ` by ${review.reviewer}` : '';
    const note = review.note !== undefined ? `: ${review.note}` : '';
    return `${head} denied in review${by} (${review.reason})${note}; impact ${a.level}, delta ${a.impactDelta.toFixed(2)}`;
  }
  if (a.failClosed) return `${head} blocked: the impact could not be estimated (${a.reason}): ${a.detail ?? ''}`;
  return `${head} blocked: impact ${a.level}, delta ${a.impactDelta.toFixed(2)} >= block threshold ${a.thresholds.block}`;
}

/** True when `e` is an {@link ActionBlockedError}, from any copy of this package. */
export function isActionBlockedError(e: unknown): e is ActionBlockedError {
  return hasBrand(e, ACTION_BLOCKED);
}
