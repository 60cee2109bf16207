/**
 * The Vercel AI SDK adapter: guard a whole tool set in one line, bridge the
 * gate's verdict to the SDK's tool approval, and write onto the SDK's own
 * tool span when its telemetry is on.
 *
 * Works with AI SDK 6 (tool-level `needsApproval`, `ai.toolCall` spans) and 7
 * (`toolApproval` on `generateText` / `streamText`, `execute_tool` spans of
 * `@ai-sdk/otel`). Needs no import of `ai` at run time.
 *
 * @module
 */
import { context, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { withReviewAnswer } from '../../instrumentation/gate/review-answer.js';
import type { GuardedFunction } from '../../instrumentation/guard/guard.js';
import type { ReviewAnswer } from '../../patterns/gate/review.js';
import { optionalBoolean, rejectUnknownOptions, requireObject } from '../../patterns/shared/validate.js';
import { TOOL_SAFETY_KEYS, approvalVerdict, guardFrameworkTool, validateToolSafety } from '../shared/tool-safety.js';
import type { ApprovalVerdict, ToolSafetyOptions } from '../shared/tool-safety.js';

/** What the AI SDK passes a tool's `execute` as its second argument (the part we read). */
export interface AiSdkToolCallOptions {
  toolCallId: string;
  messages?: readonly unknown[];
  abortSignal?: AbortSignal;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a framework tool's execute is typed by the framework; any lets every tool set through
type AnyExecute = (input: any, options: any) => any;

/** The input type of an AI SDK tool, read from its `execute`. */
export type ToolInput<T> = T extends { execute?: (input: infer I, ...rest: never[]) => unknown } ? I : unknown;

/** Options of {@link guardTools}: safety for every tool of the set, with per-tool overrides. */
export interface GuardToolsOptions<T extends Record<string, object>> extends ToolSafetyOptions {
  /** Per-tool safety options, merged over the set's (e.g. each tool's `impact`). */
  tools?: { [K in keyof T]?: ToolSafetyOptions<ToolInput<T[K]>> };
  /**
   * Write onto the SDK's own tool span (`ai.toolCall` in AI SDK 6,
   * `execute_tool {tool}` in 7) when it is active for the same call id,
   * instead of adding a second span. @default true
   */
  enrich?: boolean;
  /**
   * Give each tool with a gate a tool-level `needsApproval` driven by the
   * gate (AI SDK 6; in 7, `toolApproval(tools)` on `generateText` takes
   * precedence). A tool's own `needsApproval` is kept. @default true
   */
  needsApproval?: boolean;
}

/** What {@link toolApproval} answers: the AI SDK 7 `ToolApprovalStatus` values it uses. */
export type AiSdkApprovalStatus = 'not-applicable' | { type: 'user-approval'; reason: string } | { type: 'denied'; reason: string };

interface GuardedTool {
  readonly name: string;
  readonly safety: ToolSafetyOptions | undefined;
  /** The same guard around a function that never acts: records a refusal the SDK enforces. */
  readonly refusal: GuardedFunction<AnyExecute>;
}

/** Stands in for the tool when a refusal is recorded: should the gate change its mind, nothing acts. */
function neverRuns(): never {
  throw new Error('agent-safety-otel: the gate refused this call before the SDK asked; it was not run');
}

const guardedTools = new WeakMap<object, GuardedTool>();

const REVIEWER = 'ai-sdk';

/**
 * The human's answer to the approval request of `toolCallId`, found in the
 * conversation the SDK resumes with (a `tool-approval-response` to a
 * `tool-approval-request` for that call), if any.
 */
export function approvalFromMessages(messages: readonly unknown[] | undefined, toolCallId: string): ReviewAnswer | undefined {
  if (!Array.isArray(messages)) return undefined;
  const approvalIds = new Set<unknown>();
  for (const m of messages as { role?: unknown; content?: unknown }[]) {
    if (m?.role !== 'assistant' || !Array.isArray(m.content)) continue;
    for (const p of m.content as { type?: unknown; toolCallId?: unknown; approvalId?: unknown }[]) {
      if (p?.type === 'tool-approval-request' && p.toolCallId === toolCallId) approvalIds.add(p.approvalId);
    }
  }
  if (approvalIds.size === 0) return undefined;
  let answer: ReviewAnswer | undefined;
  for (const m of messages as { role?: unknown; content?: unknown }[]) {
    if (m?.role !== 'tool' || !Array.isArray(m.content)) continue;
    for (const p of m.content as { type?: unknown; approvalId?: unknown; approved?: unknown; reason?: unknown }[]) {
      if (p?.type !== 'tool-approval-response' || !approvalIds.has(p.approvalId)) continue;
      // The last answer wins; anything but `approved: true` is a denial.
      answer = { approved: p.approved === true, reviewer: REVIEWER, ...(typeof p.reason === 'string' && p.reason !== '' ? { note: p.reason } : {}) };
    }
  }
  return answer;
}

/** The SDK's own span of this tool call, when it is the active span (AI SDK 6 or 7). */
function sdkToolSpan(toolCallId: string | undefined): Span | undefined {
  if (toolCallId === undefined) return undefined;
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  // SDK spans expose name and attributes (ReadableSpan); a span that does not is never enriched.
  const seen = span as unknown as { name?: unknown; attributes?: Record<string, unknown> };
  const name = seen.name;
  if (name !== 'ai.toolCall' && !(typeof name === 'string' && name.startsWith('execute_tool'))) return undefined;
  const attrs = seen.attributes;
  const id = attrs?.['ai.toolCall.id'] ?? attrs?.['gen_ai.tool.call.id'];
  return id === toolCallId && span.isRecording() ? span : undefined;
}

function validate(options: unknown): void {
  if (options === undefined) return;
  requireObject('guardTools options', options);
  rejectUnknownOptions('guardTools', options as object, [...TOOL_SAFETY_KEYS, 'tools', 'enrich', 'needsApproval']);
  const o = options as GuardToolsOptions<Record<string, object>>;
  optionalBoolean('enrich', o.enrich);
  optionalBoolean('needsApproval', o.needsApproval);
  if (o.tools !== undefined) {
    requireObject('tools', o.tools);
    for (const [name, per] of Object.entries(o.tools)) validateToolSafety(`tools.${name}`, per);
  }
}

/**
 * Guards every tool of an AI SDK tool set: each call of a tool's `execute`
 * is one guarded call named after the tool's key, with the call id from
 * `toolCallId`, the abort signal from `abortSignal`, and only the tool's
 * input reaching capture, gate and explanation (never the conversation's
 * `messages`). Tools without `execute` (client-side tools) are left as they are.
 *
 * A human's `tool-approval-response` found in the resumed conversation is
 * the review answer for that call id.
 *
 * @returns a new tool set of the same type; the originals are not changed.
 * @throws TypeError or RangeError for bad options, naming the option.
 *
 * @example
 * ```ts
 * const tools = guardTools({ weather, deleteRepo }, {
 *   gate: new CounterfactualEstimator(),
 *   tools: { deleteRepo: { impact: { reversibility: 'irreversible_external', scope: 'global' } } },
 * });
 * await generateText({ model, tools, toolApproval: toolApproval(tools), messages });
 * ```
 */
export function guardTools<T extends Record<string, object>>(tools: T, options?: GuardToolsOptions<T>): T {
  requireObject('tools (the tool set)', tools);
  validate(options);
  const { tools: perTool, enrich = true, needsApproval = true, ...shared } = options ?? ({} as GuardToolsOptions<T>);
  const out: Record<string, object> = {};
  for (const [name, tool] of Object.entries(tools)) {
    const execute = (tool as { execute?: unknown }).execute;
    if (typeof execute !== 'function') {
      out[name] = tool;
      continue;
    }
    const safety = { ...shared, ...((perTool as Record<string, ToolSafetyOptions> | undefined)?.[name] ?? {}) } as ToolSafetyOptions;
    if (safety.description === undefined && typeof (tool as { description?: unknown }).description === 'string') {
      safety.description = (tool as { description: string }).description;
    }
    const call = {
      input: (input: unknown) => input,
      callId: (_input: unknown, o: AiSdkToolCallOptions) => o?.toolCallId,
      signal: (_input: unknown, o: AiSdkToolCallOptions) => o?.abortSignal,
      enrich: enrich ? (_input: unknown, o: AiSdkToolCallOptions) => sdkToolSpan(o?.toolCallId) : undefined,
    };
    const guarded = guardFrameworkTool((execute as AnyExecute).bind(tool), name, safety, call);
    const wrapped: Record<string, unknown> = {
      ...tool,
      execute(input: unknown, o: AiSdkToolCallOptions) {
        const answer = o?.toolCallId === undefined ? undefined : approvalFromMessages(o.messages, o.toolCallId);
        if (answer === undefined) return guarded(input, o);
        return context.with(withReviewAnswer(context.active(), o.toolCallId, answer), () => guarded(input, o));
      },
    };
    if (needsApproval && safety.gate !== undefined && (tool as { needsApproval?: unknown }).needsApproval === undefined) {
      wrapped.needsApproval = async (input: unknown, o: { toolCallId: string }) =>
        (await approvalVerdict(safety, name, input, o?.toolCallId)).verdict === 'review';
    }
    if (safety.gate !== undefined) {
      guardedTools.set(wrapped, { name, safety, refusal: guardFrameworkTool(neverRuns as AnyExecute, name, safety, call) });
    }
    out[name] = wrapped;
  }
  return out as T;
}

/**
 * The AI SDK 7 `toolApproval` for a tool set made by {@link guardTools}:
 * the gate's `review` asks the user (the assessment is the reason), `block`
 * is denied (and recorded as a blocked call), `proceed` needs no approval.
 * Tools not guarded by {@link guardTools}, or without a gate, need none.
 *
 * @example
 * ```ts
 * await generateText({ model, tools, toolApproval: toolApproval(tools), messages });
 * ```
 */
export function toolApproval(
  tools: Record<string, object>,
): (options: { toolCall: { toolName: string; toolCallId: string; input: unknown }; messages?: readonly unknown[] }) => Promise<AiSdkApprovalStatus> {
  requireObject('tools (the tool set)', tools);
  return async ({ toolCall, messages }) => {
    const tool = Object.prototype.hasOwnProperty.call(tools, toolCall.toolName) ? tools[toolCall.toolName] : undefined;
    const state = tool === undefined ? undefined : guardedTools.get(tool);
    if (state === undefined) return 'not-applicable'; // not guarded here, or no gate
    const verdict: ApprovalVerdict = await approvalVerdict(state.safety, state.name, toolCall.input, toolCall.toolCallId);
    if (verdict.verdict === 'proceed') return 'not-applicable';
    if (verdict.verdict === 'review') return { type: 'user-approval', reason: verdict.reason };
    // Blocked: run the guarded call so the refusal is on a span and in the audit chain (the tool never runs).
    await state.refusal(toolCall.input, { toolCallId: toolCall.toolCallId, messages }).then(
      () => undefined,
      () => undefined,
    );
    return { type: 'denied', reason: verdict.reason };
  };
}
