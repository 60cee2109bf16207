/**
 * Review: a human (or another system) decides whether an action the gate
 * sent to review may run. The approval hook is asked once, bounded by a
 * timeout; anything but a clear approval in time is a denial (fail closed).
 * Pure: no OpenTelemetry.
 *
 * @module
 */
import { boundedCall, LazyAbort } from '../guard/bounded-call.js';
import type { ImpactAssessment } from './impact.js';

/** What the approval hook is asked. */
export interface ReviewRequest {
  /** The action (tool) awaiting review. */
  readonly action: string;
  /** The tool call id, when known: key a durable approval store by it. */
  readonly callId: string | undefined;
  /**
   * Hex SHA-256 of the canonical JSON of the redacted arguments: binds the
   * decision to this exact call. The call runs unchanged when approved.
   */
  readonly argumentsHash: string;
  /** The arguments, redacted, for the reviewer to read. */
  readonly arguments: unknown;
  /** The gate's assessment: delta, level, factors, reason. */
  readonly assessment: ImpactAssessment;
  /** When the review times out, in epoch milliseconds. */
  readonly deadline: number;
  /** Aborted when the review times out or the caller aborts: stop waiting for a human then. */
  readonly signal: AbortSignal;
}

/** A reviewer's answer with who decided and why. */
export interface ReviewAnswer {
  /** True to run the call unchanged, false to refuse it. */
  approved: boolean;
  /** Who decided (recorded as `agent_safety.review.reviewer`). */
  reviewer?: string;
  /** Why, in the reviewer's words (kept in the decision and the error message, not on spans). */
  note?: string;
}

/**
 * Decides a review: `true`/`false`, or a {@link ReviewAnswer}, directly or as
 * a promise. Throwing, answering anything else, or not answering before the
 * review timeout denies the call.
 */
export type ApprovalHook = (request: ReviewRequest) => boolean | ReviewAnswer | PromiseLike<boolean | ReviewAnswer>;

/**
 * Why a review ended as it did. Low cardinality.
 * `reviewer_approved` / `reviewer_denied`: an answer; the rest deny.
 */
export type ReviewReason =
  | 'reviewer_approved'
  | 'reviewer_denied'
  | 'review_timeout'
  | 'review_error'
  | 'review_aborted'
  | 'invalid_review_answer'
  | 'no_approval_hook';

/** The outcome of one review. */
export interface ReviewOutcome {
  /** Whether the call may run. */
  readonly approved: boolean;
  /** Why. */
  readonly reason: ReviewReason;
  /** Who decided, when the answer said so. */
  readonly reviewer: string | undefined;
  /** The reviewer's note, or what went wrong (an error message). */
  readonly note: string | undefined;
}

function outcome(approved: boolean, reason: ReviewReason, reviewer?: string, note?: string): ReviewOutcome {
  return Object.freeze({ approved, reason, reviewer, note });
}

function read(answer: unknown): ReviewOutcome {
  if (answer === true) return outcome(true, 'reviewer_approved');
  if (answer === false) return outcome(false, 'reviewer_denied');
  if (typeof answer === 'object' && answer !== null && typeof (answer as ReviewAnswer).approved === 'boolean') {
    const { approved, reviewer, note } = answer as ReviewAnswer;
    return outcome(
      approved,
      approved ? 'reviewer_approved' : 'reviewer_denied',
      typeof reviewer === 'string' && reviewer !== '' ? reviewer.slice(0, 256) : undefined,
      typeof note === 'string' && note !== '' ? note.slice(0, 1024) : undefined,
    );
  }
  return outcome(false, 'invalid_review_answer', undefined, 'the approval hook answered neither a boolean nor { approved: boolean }');
}

/**
 * Asks `hook` about `request`, waiting at most `timeoutMs` (and no longer
 * than `signal`, when given). Never throws; synchronous when the hook is.
 */
export function runReview(
  hook: ApprovalHook | undefined,
  request: Omit<ReviewRequest, 'signal' | 'deadline'>,
  timeoutMs: number,
  now: number,
  signal?: AbortSignal,
): ReviewOutcome | Promise<ReviewOutcome> {
  if (hook === undefined) return outcome(false, 'no_approval_hook', undefined, 'no approval hook is configured');
  const abort = new LazyAbort();
  const full: ReviewRequest = Object.freeze({
    ...request,
    deadline: now + timeoutMs,
    get signal() {
      return abort.signal;
    },
  });
  const result = boundedCall(() => hook(full), timeoutMs, abort, signal);
  const conclude = (r: Awaited<typeof result>): ReviewOutcome => {
    if (r.ok) return read(r.value);
    if (r.failure === 'timeout') return outcome(false, 'review_timeout', undefined, `no answer within ${timeoutMs} ms`);
    if (r.failure === 'aborted') return outcome(false, 'review_aborted', undefined, 'the caller aborted while the review was pending');
    return outcome(false, 'review_error', undefined, `the approval hook threw: ${r.error instanceof Error ? r.error.message : String(r.error)}`);
  };
  return result instanceof Promise ? result.then(conclude) : conclude(result);
}
