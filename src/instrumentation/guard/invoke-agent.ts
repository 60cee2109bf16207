import { SpanKind, context, isSpanContextValid, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { endContained, startContained } from '../shared/contained-span.js';
import { optionalString, rejectUnknownOptions, requireFunction, requireNonEmptyString, requireObject } from '../../patterns/shared/validate.js';
import { agentDurationHistogram } from './agent-metrics.js';
import { withAgent, withRun } from './call-context.js';
import { recordError } from './record-error.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_DESCRIPTION,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_AGENT_VERSION,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
} from '../shared/semconv.js';
import { currentTracer } from '../shared/telemetry.js';
import type { AgentIdentity } from '../shared/telemetry.js';

const OPTIONAL_STRINGS = ['id', 'provider', 'description', 'version', 'model', 'conversationId'] as const;
const INVOKE_AGENT_KEYS = ['name', ...OPTIONAL_STRINGS, 'attributes'] as const;

let localRuns = 0;

/** Options of {@link invokeAgent}. */
export interface InvokeAgentOptions {
  /** The agent's name: the span is `invoke_agent {name}`. */
  name: string;
  /** The agent's stable id (`gen_ai.agent.id`). @default undefined (not recorded) */
  id?: string;
  /**
   * The GenAI provider the agent runs on, e.g. `openai`, `anthropic`,
   * `aws.bedrock`, `gcp.vertex_ai` (`gen_ai.provider.name`: one of the
   * conventions' well-known values when one applies). The GenAI
   * conventions require it on `invoke_agent`: give it whenever the agent
   * has one provider. @default undefined (not recorded)
   */
  provider?: string;
  /** What the agent does (`gen_ai.agent.description`). @default undefined (not recorded) */
  description?: string;
  /** The agent's version, e.g. `1.4.0` or `2025-05-01` (`gen_ai.agent.version`). @default undefined (not recorded) */
  version?: string;
  /**
   * The model the agent is configured with (`gen_ai.request.model`, on the
   * span and the duration metric). Give it only when the agent uses one
   * model. @default undefined (not recorded)
   */
  model?: string;
  /** The conversation or session this run belongs to (`gen_ai.conversation.id`). @default undefined (not recorded) */
  conversationId?: string;
  /** Extra attributes for the span (low-cardinality, no user content). */
  attributes?: Attributes;
}

/**
 * Runs an agent run or plan step as the span `invoke_agent {name}` (kind
 * INTERNAL) with the GenAI agent attributes set at start. Guarded tools
 * called inside it are its children and are attributed to this agent unless
 * their guard names another.
 *
 * The span ends when `fn` settles; an error is recorded (status ERROR,
 * `error.type`) and rethrown unchanged. Each run also records its duration
 * in the `gen_ai.invoke_agent.duration` histogram (seconds; attributes
 * `gen_ai.agent.name`, `gen_ai.request.model` when given, `error.type` on
 * failure).
 *
 * @example
 * ```ts
 * await invokeAgent({ name: 'content-ranker', id: 'content-ranker-v3', provider: 'openai', version: '3.1.0' }, async span => {
 *   const ranked = await rank('u1', ids);
 *   span.setAttribute('app.ranked', ranked.length);
 * });
 * ```
 */
export async function invokeAgent<T>(options: InvokeAgentOptions, fn: (span: Span) => T | PromiseLike<T>): Promise<Awaited<T>> {
  requireObject('invokeAgent options', options);
  rejectUnknownOptions('invokeAgent', options, INVOKE_AGENT_KEYS);
  requireNonEmptyString('name', options.name);
  for (const key of OPTIONAL_STRINGS) optionalString(key, options[key]);
  requireFunction('fn', fn);

  const attributes: Attributes = {
    ...options.attributes,
    [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
    [ATTR_GEN_AI_AGENT_NAME]: options.name,
  };
  if (options.provider !== undefined) attributes[ATTR_GEN_AI_PROVIDER_NAME] = options.provider;
  if (options.id !== undefined) attributes[ATTR_GEN_AI_AGENT_ID] = options.id;
  if (options.description !== undefined) attributes[ATTR_GEN_AI_AGENT_DESCRIPTION] = options.description;
  if (options.version !== undefined) attributes[ATTR_GEN_AI_AGENT_VERSION] = options.version;
  if (options.model !== undefined) attributes[ATTR_GEN_AI_REQUEST_MODEL] = options.model;
  if (options.conversationId !== undefined) attributes[ATTR_GEN_AI_CONVERSATION_ID] = options.conversationId;
  const metricAttributes: Attributes = { [ATTR_GEN_AI_AGENT_NAME]: options.name };
  if (options.model !== undefined) metricAttributes[ATTR_GEN_AI_REQUEST_MODEL] = options.model;

  const started = performance.now();

  const parent = context.active();
  // A span processor that throws as the span starts or ends is contained: the run goes on with its own result.
  const span = startContained(currentTracer(), `${GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT} ${options.name}`, { kind: SpanKind.INTERNAL, attributes }, parent);
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
    metricAttributes[ATTR_ERROR_TYPE] = recordError(span, err);
    throw err;
  } finally {
    endContained(span);
    agentDurationHistogram().record((performance.now() - started) / 1000, metricAttributes);
  }
}
