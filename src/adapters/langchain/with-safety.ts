/**
 * The LangChain.js adapter: a guarded copy of any LangChain tool (a
 * `StructuredTool`, e.g. from `tool(fn, { name, schema })`), and a review
 * through LangGraph's `interrupt()` when the tool runs inside a graph.
 *
 * Needs no import of `@langchain/core` or `@langchain/langgraph` at run time:
 * the tool is wrapped where LangChain calls it (`_call`, after schema
 * parsing), and `interrupt` is the user's, passed in.
 *
 * @module
 */
import { context } from '@opentelemetry/api';
import { withReviewAnswer } from '../../instrumentation/gate/review-answer.js';
import type { ReviewAnswer } from '../../patterns/gate/review.js';
import { optionalFunction } from '../../patterns/shared/validate.js';
import { approvalVerdict, guardFrameworkTool, validateToolSafety } from '../shared/tool-safety.js';
import type { ToolSafetyOptions } from '../shared/tool-safety.js';

/** What LangChain passes a tool as its config (the part we read). */
export interface LangChainToolConfig {
  toolCall?: { id?: string };
  signal?: AbortSignal;
}

/** The value {@link WithSafetyOptions.interrupt} is called with: what the human is asked. */
export interface ReviewInterrupt {
  /** Always `agent_safety.review`, to tell these interrupts from others. */
  readonly type: 'agent_safety.review';
  /** The tool. */
  readonly tool: string;
  /** The tool call id (`config.toolCall.id`). */
  readonly callId: string | undefined;
  /** The tool's input, as the model gave it. */
  readonly input: unknown;
  /** The gate's assessment in one sentence. */
  readonly reason: string;
}

/** Options of {@link withSafety}. */
export interface WithSafetyOptions<I = unknown> extends ToolSafetyOptions<I> {
  /**
   * LangGraph's `interrupt` (from `@langchain/langgraph`): when the gate
   * sends a call to review, the tool calls it with a {@link ReviewInterrupt}
   * before anything runs. The graph pauses (the interrupt passes through the
   * guard untouched); resumed with `new Command({ resume: answer })`, the
   * answer (`true`, `false` or `{ approved, reviewer?, note? }`) decides the
   * review of that call id. Needs a checkpointer. @default undefined (reviews go to the gate's `approve` hook)
   */
  interrupt?: (value: ReviewInterrupt) => unknown;
}

/** A LangChain tool as far as the adapter needs it. */
interface LangChainToolLike {
  name: string;
  description?: string;
  _call(input: unknown, runManager?: unknown, config?: LangChainToolConfig): unknown;
}

/** The human's resume value as a review answer; anything unclear is a denial. */
export function toReviewAnswer(value: unknown): ReviewAnswer {
  if (value === true || value === false) return { approved: value, reviewer: 'langgraph' };
  if (typeof value === 'object' && value !== null && typeof (value as ReviewAnswer).approved === 'boolean') {
    const v = value as ReviewAnswer;
    return {
      approved: v.approved,
      reviewer: typeof v.reviewer === 'string' && v.reviewer !== '' ? v.reviewer : 'langgraph',
      ...(typeof v.note === 'string' && v.note !== '' ? { note: v.note } : {}),
    };
  }
  return { approved: false, reviewer: 'langgraph', note: 'the resume value was neither a boolean nor { approved: boolean }' };
}

/**
 * A guarded copy of a LangChain tool, accepted wherever the original is
 * (`bindTools`, `ToolNode`, agents): same name, description and schema.
 * Each call is one guarded call named after the tool, with the call id from
 * `config.toolCall.id`, the abort signal from `config.signal`, and only the
 * parsed tool input reaching capture, gate and explanation.
 *
 * @throws TypeError for a non-tool or bad options, naming the option.
 *
 * @example
 * ```ts
 * const safeSearch = withSafety(search, { timeoutMs: 5_000 });
 * const deleteRepoSafe = withSafety(deleteRepo, { gate, impact: { reversibility: 'irreversible_external' }, interrupt });
 * ```
 */
export function withSafety<T extends object>(tool: T, options?: WithSafetyOptions): T {
  const original = tool as unknown as LangChainToolLike;
  if (typeof original?._call !== 'function' || typeof original.name !== 'string') {
    throw new TypeError('tool must be a LangChain tool (a StructuredTool with a name and _call)');
  }
  validateToolSafety('withSafety options', options, ['interrupt']);
  optionalFunction('interrupt', options?.interrupt);
  const { interrupt, ...safety } = options ?? {};
  const name = original.name;
  if (safety.description === undefined && typeof original.description === 'string' && original.description !== '') {
    safety.description = original.description;
  }
  const call = (input: unknown, runManager?: unknown, config?: LangChainToolConfig): unknown => original._call(input, runManager, config);
  const guarded = guardFrameworkTool(call, name, safety as ToolSafetyOptions, {
    input: input => input,
    callId: (_input, _runManager, config) => config?.toolCall?.id,
    signal: (_input, _runManager, config) => config?.signal,
  });
  const copy = Object.create(tool) as LangChainToolLike;
  Object.defineProperty(copy, '_call', {
    configurable: true,
    writable: true,
    value:
      interrupt === undefined
        ? guarded
        : async (input: unknown, runManager?: unknown, config?: LangChainToolConfig) => {
            const callId = config?.toolCall?.id;
            const verdict = await approvalVerdict(safety as ToolSafetyOptions, name, input, callId);
            if (verdict.verdict !== 'review' || callId === undefined) return guarded(input, runManager, config);
            // Throws LangGraph's interrupt on the first run (passed through untouched); returns the answer on resume.
            const answer = toReviewAnswer(interrupt({ type: 'agent_safety.review', tool: name, callId, input, reason: verdict.reason }));
            return context.with(withReviewAnswer(context.active(), callId, answer), () => guarded(input, runManager, config));
          },
  });
  return copy as unknown as T;
}
