import { SpanKind, context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { optionalString, rejectUnknownOptions, requireFunction, requireNonEmptyString, requireObject } from '../../patterns/shared/validate.js';
import { withAgent, withRun } from './call-context.js';
import { recordError } from './record-error.js';
import {
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
} from '../shared/semconv.js';
import { currentTracer } from '../shared/telemetry.js';
import type { AgentIdentity } from '../shared/telemetry.js';

let localRuns = 0;

/** Options of {@link invokeAgent}. */
export interface InvokeAgentOptions {
  /** The agent's name: the span is `invoke_agent {name}`. */
  name: string;
  /** The agent's stable id (`gen_ai.agent.id`). */
  id?: string;
  /** The conversation or session this run belongs to (`gen_ai.conversation.id`). */
  conversationId?: string;
  /** Extra attributes for the span (low-cardinality, no user content). */
  attributes?: Attributes;
}

/**
 * Runs an agent run or plan step as the span `invoke_agent {name}` (kind
 * INTERNAL). Guarded tools called inside it are its children and are
 * attributed to this agent unless their guard names another.
 *
 * The span ends when `fn` settles; an error is recorded (status ERROR,
 * `error.type`) and rethrown unchanged.
 *
 * @example
 * ```ts
 * await invokeAgent({ name: 'content-ranker', id: 'content-ranker-v3' }, async span => {
 *   const ranked = await rank('u1', ids);
 *   span.setAttribute('app.ranked', ranked.length);
 * });
 * ```
 */
export async function invokeAgent<T>(options: InvokeAgentOptions, fn: (span: Span) => T | PromiseLike<T>): Promise<Awaited<T>> {
  requireObject('invokeAgent options', options);
  rejectUnknownOptions('invokeAgent', options, ['name', 'id', 'conversationId', 'attributes']);
  requireNonEmptyString('name', options.name);
  optionalString('id', options.id);
  optionalString('conversationId', options.conversationId);
  requireFunction('fn', fn);

  const attributes: Attributes = {
    ...options.attributes,
    [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
    [ATTR_GEN_AI_AGENT_NAME]: options.name,
  };
  if (options.id !== undefined) attributes[ATTR_GEN_AI_AGENT_ID] = options.id;
  if (options.conversationId !== undefined) attributes[ATTR_GEN_AI_CONVERSATION_ID] = options.conversationId;

  const parent = context.active();
  const span = currentTracer().startSpan(
    `${GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT} ${options.name}`,
    { kind: SpanKind.INTERNAL, attributes },
    parent,
  );
  const agent: AgentIdentity = Object.freeze({ id: options.id, name: options.name });
  // The run's id (per-run policy limits): its span id, or a local one when nothing is traced
  // (a no-op tracer hands back the parent's span context).
  const spanContext = span.spanContext();
  const own = isSpanContextValid(spanContext) && spanContext.spanId !== trace.getSpanContext(parent)?.spanId;
  const runId = own ? spanContext.spanId : `run-${++localRuns}`;
  const ctx = withRun(withAgent(trace.setSpan(parent, span), agent), runId);
  try {
    return await context.with(ctx, fn, undefined, span);
  } catch (err) {
    recordError(span, err);
    throw err;
  } finally {
    span.end();
  }
}
