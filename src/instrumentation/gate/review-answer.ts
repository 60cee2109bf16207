/**
 * A reviewer's answer given ahead of the gate, through the OpenTelemetry
 * context: the human decision a framework's own approval flow collected
 * (an AI SDK `tool-approval-response`, an OpenAI Agents `state.approve`, a
 * LangGraph resume value). When a guarded call with the same tool call id
 * goes to review, this answer decides it instead of the estimator's approval
 * hook. It never overrides a `block`: only a `review` verdict asks for it.
 *
 * @module
 */
import { createContextKey } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { ReviewAnswer } from '../../patterns/gate/review.js';

const REVIEW_ANSWER_KEY = createContextKey('agent-safety-otel/review-answer');

interface KeyedAnswer {
  readonly callId: string;
  readonly answer: ReviewAnswer;
}

/**
 * `ctx` carrying the reviewer's answer for the tool call `callId`. Run the
 * guarded call inside it (`context.with(withReviewAnswer(…), …)`); the gate
 * uses the answer only for a review of that call id.
 *
 * @example
 * ```ts
 * const ctx = withReviewAnswer(context.active(), 'call_1', { approved: true, reviewer: 'alice' });
 * await context.with(ctx, () => deleteRepo.withOptions({ callId: 'call_1' })(input));
 * ```
 */
export function withReviewAnswer(ctx: Context, callId: string, answer: ReviewAnswer): Context {
  if (typeof callId !== 'string' || callId === '') throw new TypeError(`callId must be a non-empty string, got ${String(callId)}`);
  if (typeof answer !== 'object' || answer === null || typeof answer.approved !== 'boolean') {
    throw new TypeError('answer must be { approved: boolean, reviewer?, note? }');
  }
  const keyed: KeyedAnswer = Object.freeze({ callId, answer: Object.freeze({ ...answer }) });
  return ctx.setValue(REVIEW_ANSWER_KEY, keyed);
}

/** The answer `ctx` carries for `callId`, if any. */
export function reviewAnswerFor(ctx: Context | undefined, callId: string | undefined): ReviewAnswer | undefined {
  if (ctx === undefined || callId === undefined) return undefined;
  const keyed = ctx.getValue(REVIEW_ANSWER_KEY) as KeyedAnswer | undefined;
  return keyed !== undefined && keyed.callId === callId ? keyed.answer : undefined;
}
