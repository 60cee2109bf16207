/**
 * The OpenAI Agents SDK adapter: `safeTool` is `tool()` with the guard
 * inside, the gate driving `needsApproval`, and the human's decision
 * (`state.approve` / `state.reject`) read back when the run resumes.
 *
 * The SDK records each call in its own tracing (a `function` span, sent to
 * OpenAI's backend unless tracing is disabled); it has no OpenTelemetry. The
 * guard's `execute_tool` span carries that span's ids
 * (`agent_safety.framework.trace_id` / `.span_id`) so the two records of one
 * call are linked; with `tracingDisabled: true` in the run config only ours remains.
 *
 * @module
 */
import { trace } from '@opentelemetry/api';
import { context } from '@opentelemetry/api';
import { getCurrentSpan, tool } from '@openai/agents-core';
import type { FunctionTool, RunContext, ToolExecuteArgument, ToolInputParameters, ToolOptions, UnknownContext } from '@openai/agents-core';
import { withReviewAnswer } from '../../instrumentation/gate/review-answer.js';
import { isActionBlockedError } from '../../patterns/gate/action-blocked-error.js';
import { isCircuitOpenError } from '../../patterns/breaker/circuit-open-error.js';
import { isPolicyDeniedError } from '../../patterns/policy/policy-denied-error.js';
import { ATTR_AGENT_SAFETY_FRAMEWORK_SPAN_ID, ATTR_AGENT_SAFETY_FRAMEWORK_TRACE_ID } from '../../instrumentation/shared/semconv.js';
import { requireNonEmptyString, requireObject } from '../../patterns/shared/validate.js';
import { approvalVerdict, guardFrameworkTool, validateToolSafety } from '../shared/tool-safety.js';
import type { ToolSafetyOptions } from '../shared/tool-safety.js';

/** What the SDK passes `execute` as its third argument (the part we read). */
export interface AgentsToolCallDetails {
  toolCall?: { callId?: string };
  signal?: AbortSignal;
}

const REVIEWER = 'openai-agents';

/** The SDK's own fallback text for a failed tool (its default hides error details). */
const SDK_DEFAULT_ERROR = 'An error occurred while running the tool. Please try again.';

type ErrorFunction = (runContext: unknown, error: unknown, details?: unknown) => unknown;

/**
 * The model-visible output of a failed call: a refusal by the gate, the
 * policy or an open breaker says so (its message names the tool and the
 * reason, never the arguments); anything else goes to the tool's own `errorFunction`, or
 * gets the SDK's default text. `null` (raise instead) is kept.
 */
function refusalAwareErrorFunction(own: unknown): ErrorFunction | null {
  if (own === null) return null;
  return (runContext, error, details) => {
    if (isActionBlockedError(error) || isPolicyDeniedError(error) || isCircuitOpenError(error)) return `Refused by the safety layer: ${(error as Error).message}`;
    return typeof own === 'function' ? (own as ErrorFunction)(runContext, error, details) : SDK_DEFAULT_ERROR;
  };
}

/** Writes the SDK's current tracing ids onto the active (guard) span. */
function linkAgentsSpan(): void {
  try {
    const sdkSpan = getCurrentSpan();
    const ours = trace.getActiveSpan();
    if (sdkSpan === null || sdkSpan === undefined || ours === undefined) return;
    if (sdkSpan.traceId === 'no-op' || sdkSpan.spanId === 'no-op') return; // the SDK's tracing is disabled
    ours.setAttribute(ATTR_AGENT_SAFETY_FRAMEWORK_TRACE_ID, sdkSpan.traceId);
    ours.setAttribute(ATTR_AGENT_SAFETY_FRAMEWORK_SPAN_ID, sdkSpan.spanId);
  } catch {
    // Linking is telemetry: never break the call.
  }
}

/**
 * `tool(options)` of the OpenAI Agents SDK with the guard around `execute`:
 * each call is one guarded call named `options.name`, with the call id from
 * the SDK's tool call (`details.toolCall.callId`), the abort signal from
 * `details.signal`, and only the parsed input reaching capture, gate and
 * explanation (never the run context).
 *
 * With a gate, `needsApproval` is driven by it (a tool's own `needsApproval`
 * is kept): `review` interrupts the run (`result.interruptions`); after
 * `state.approve(item)` or `state.reject(item)` and `run(agent, state)`, the
 * decision the SDK holds for that call id is the review's answer. A `block`
 * does not interrupt: the call is refused inside the guard and the model
 * gets the refusal as the tool's error output (refusals by the gate, the
 * policy or an open breaker are told to the model; other errors go to the tool's own
 * `errorFunction`, or get the SDK's default text).
 *
 * @throws TypeError for a missing name or execute, or bad safety options.
 *
 * @example
 * ```ts
 * const refund = safeTool(
 *   { name: 'refund', description: 'Refunds an order', parameters: z.object({ amount: z.number() }), execute: ({ amount }) => pay(amount) },
 *   { gate, impact: { reversibility: 'irreversible_external', scope: 'user' } },
 * );
 * ```
 */
export function safeTool<TParameters extends ToolInputParameters = undefined, Context = UnknownContext, Result = string>(
  options: ToolOptions<TParameters, Context>,
  safety?: ToolSafetyOptions<ToolExecuteArgument<TParameters>>,
): FunctionTool<Context, TParameters, Result> {
  requireObject('safeTool options', options);
  const o = options as { name?: unknown; description?: unknown; execute?: unknown; needsApproval?: unknown; errorFunction?: unknown };
  requireNonEmptyString('name', o.name);
  if (typeof o.execute !== 'function') throw new TypeError('execute must be a function');
  validateToolSafety('safeTool safety options', safety);
  const name = o.name as string;
  const s = { ...(safety ?? {}) } as ToolSafetyOptions;
  if (s.description === undefined && typeof o.description === 'string' && o.description !== '') s.description = o.description;
  const execute = o.execute as (input: unknown, runContext?: unknown, details?: AgentsToolCallDetails) => unknown;
  const action = (input: unknown, runContext?: unknown, details?: AgentsToolCallDetails): unknown => {
    linkAgentsSpan();
    return execute(input, runContext, details);
  };
  const guarded = guardFrameworkTool(action, name, s, {
    input: input => input,
    callId: (_input, _runContext, details) => details?.toolCall?.callId,
    signal: (_input, _runContext, details) => details?.signal,
  });
  const wrapped = (input: unknown, runContext?: RunContext<Context>, details?: AgentsToolCallDetails): unknown => {
    const callId = details?.toolCall?.callId;
    const approved = callId === undefined ? undefined : runContext?.isToolApproved({ toolName: name, callId });
    if (approved === undefined) return guarded(input, runContext, details);
    return context.with(withReviewAnswer(context.active(), callId!, { approved, reviewer: REVIEWER }), () => guarded(input, runContext, details));
  };
  const needsApproval =
    o.needsApproval !== undefined || s.gate === undefined
      ? o.needsApproval
      : async (_runContext: RunContext, input: unknown, callId?: string) => (await approvalVerdict(s, name, input, callId)).verdict === 'review';
  const errorFunction = refusalAwareErrorFunction(o.errorFunction);
  return tool({ ...(options as object), execute: wrapped, errorFunction, ...(needsApproval === undefined ? {} : { needsApproval }) } as ToolOptions<TParameters, Context>) as unknown as FunctionTool<
    Context,
    TParameters,
    Result
  >;
}
