/**
 * The one recorder: writes the guarded call's own facts and every step's
 * {@link StepDecision} onto the call's span. Steps never touch the span;
 * `guard()`, `CounterfactualEstimator.gate()`, `RollbackManager.checkpoint()`
 * and the `explain()` wrapper all write through here.
 *
 * Telemetry never breaks the call: a failure to write is reported through
 * `diag`.
 *
 * @module
 */
import { SpanStatusCode, diag } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { isToolTimeoutError } from '../../patterns/shared/errors.js';
import { then } from '../../patterns/shared/maybe-promise.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import { errorMessage, errorType, recordError } from './record-error.js';
import type { StepDecision, StepStop } from './guard-step.js';
import { writeExplanation } from '../explain/explanation-events.js';
import {
  EVENT_AGENT_SAFETY_EXPLANATION,
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
} from '../shared/semconv.js';
import type { CallOutcome } from '../shared/semconv.js';
import { PACKAGE_NAME } from '../shared/version.js';

function setAttributes(span: Span, attributes: Attributes): void {
  for (const key in attributes) span.setAttribute(key, attributes[key]!);
}

/** Writes one decision (not its `next`) onto `span`. Never throws. */
export function writeDecision(span: Span, decision: StepDecision): void {
  try {
    const { attributes, events, exceptions } = decision;
    if (attributes !== undefined) setAttributes(span, attributes);
    if (events !== undefined) {
      for (const e of events) {
        // Explanations are log-based events where a LoggerProvider is available (explanation-events.ts).
        if (e.name === EVENT_AGENT_SAFETY_EXPLANATION) writeExplanation(span, e.attributes ?? {}, e.spanAttributes);
        else span.addEvent(e.name, e.attributes);
      }
    }
    if (exceptions !== undefined) for (const x of exceptions) span.recordException(x);
  } catch (err) {
    diag.error(`${PACKAGE_NAME}: writing a step's decision on its span failed`, err);
  }
}

/**
 * Writes `decision` onto `span` (when there is one), then runs its `next`
 * and records that in turn. Returns the last decision of the chain; a
 * promise only when a `next` waits. A throw of `next` is the step's: it
 * propagates.
 */
export function recordDecision<D extends StepDecision>(span: Span | undefined, decision: D): MaybePromise<D> {
  if (span !== undefined) writeDecision(span, decision);
  const next = decision.next;
  if (next === undefined) return decision;
  return then(next() as MaybePromise<D>, more => recordDecision(span, more));
}

/** The call's own start facts: its tool call id and (when captured) its arguments. */
export function recordCallStart(span: Span, callId: string | undefined, capturedArguments: string | undefined): void {
  if (callId !== undefined) span.setAttribute(ATTR_GEN_AI_TOOL_CALL_ID, String(callId));
  if (capturedArguments !== undefined) span.setAttribute(ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, capturedArguments);
}

/** A call whose action returned: its (captured) result and outcome `success`. */
export function recordSuccess(span: Span, capturedResult: string | undefined): void {
  if (capturedResult !== undefined) span.setAttribute(ATTR_GEN_AI_TOOL_CALL_RESULT, capturedResult);
  span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, 'success' satisfies CallOutcome);
}

/**
 * A call that threw `err`: outcome `aborted` (nothing else: an abort is the
 * caller's choice, not a failure), a step's refusal (`stop`, when it threw
 * `err`), or a failure (`exception` event, status ERROR, `error.type`,
 * outcome `error` or `timeout`). Returns `error.type`, undefined for an abort.
 */
export function recordFailure(span: Span, err: unknown, aborted: boolean, stop: StepStop | undefined): string | undefined {
  if (aborted) {
    span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, 'aborted' satisfies CallOutcome);
    return undefined;
  }
  const refusal = stop !== undefined && stop.error === err ? stop.outcome : undefined;
  if (refusal !== undefined && stop!.exception === false) {
    // No exception event: nothing ran, and such refusals must stay cheap.
    const type = stop!.errorType ?? errorType(err);
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
    span.setAttribute(ATTR_ERROR_TYPE, type);
    span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, refusal);
    return type;
  }
  const type = recordError(span, err, refusal === undefined ? undefined : stop!.errorType);
  span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, refusal ?? ((isToolTimeoutError(err) ? 'timeout' : 'error') satisfies CallOutcome));
  return type;
}
