/**
 * The explanation record: why an agent acted, how sure it was, what it
 * considered instead, and what came of it. Pure data; the instrumentation
 * fills it in and writes it onto the action's span.
 *
 * @module
 */

/**
 * When a record was made: before the action ran, after it succeeded, or
 * after it failed (including being blocked before it could run).
 */
export type ExplanationPhase = 'pre_action' | 'post_action' | 'on_error';

/** The values of {@link ExplanationPhase}. */
export const EXPLANATION_PHASES: readonly ExplanationPhase[] = Object.freeze(['pre_action', 'post_action', 'on_error']);

/** The fields of an {@link ActionExplanation}. */
export interface ActionExplanationFields {
  /** When the record was made. */
  readonly phase: ExplanationPhase;
  /** The action (tool) explained. */
  readonly action: string;
  /** The agent that acted, when known. */
  readonly agentId: string | undefined;
  /** Why the agent acted, when given. */
  readonly reasoning: string | undefined;
  /** The agent's confidence in the action, 0..1, when given. */
  readonly confidence: number | undefined;
  /** Alternatives the agent considered. */
  readonly alternatives: readonly string[];
  /** The redacted, serialised arguments (cut to the summary length), when summaries are on. */
  readonly inputSummary: string | undefined;
  /** The redacted, serialised result (`post_action` only). */
  readonly outputSummary: string | undefined;
  /** `name: message` of what was thrown (`on_error` only). */
  readonly errorSummary: string | undefined;
  /** Milliseconds from the pre-action record to this one (`post_action`, `on_error`). */
  readonly durationMs: number | undefined;
  /** The tool call id, when known. */
  readonly callId: string | undefined;
  /** Trace id of the span the record was written onto, when there was one. */
  readonly traceId: string | undefined;
  /** Span id of that span. */
  readonly spanId: string | undefined;
  /** When the record was made, in milliseconds since the Unix epoch. */
  readonly timestamp: number;
}

/** The JSON form of an {@link ActionExplanation}: absent fields are omitted, the timestamp is ISO 8601. */
export interface ActionExplanationJSON {
  phase: ExplanationPhase;
  action: string;
  agentId?: string;
  reasoning?: string;
  confidence?: number;
  alternatives: string[];
  inputSummary?: string;
  outputSummary?: string;
  errorSummary?: string;
  durationMs?: number;
  callId?: string;
  traceId?: string;
  spanId?: string;
  timestamp: string;
}

/**
 * One explanation record, made at one phase of one action. Immutable.
 * `JSON.stringify(record)` gives its {@link ActionExplanationJSON} form.
 */
export class ActionExplanation implements ActionExplanationFields {
  readonly phase: ExplanationPhase;
  readonly action: string;
  readonly agentId: string | undefined;
  readonly reasoning: string | undefined;
  readonly confidence: number | undefined;
  readonly alternatives: readonly string[];
  readonly inputSummary: string | undefined;
  readonly outputSummary: string | undefined;
  readonly errorSummary: string | undefined;
  readonly durationMs: number | undefined;
  readonly callId: string | undefined;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  readonly timestamp: number;

  constructor(fields: ActionExplanationFields) {
    this.phase = fields.phase;
    this.action = fields.action;
    this.agentId = fields.agentId;
    this.reasoning = fields.reasoning;
    this.confidence = fields.confidence;
    this.alternatives = fields.alternatives;
    this.inputSummary = fields.inputSummary;
    this.outputSummary = fields.outputSummary;
    this.errorSummary = fields.errorSummary;
    this.durationMs = fields.durationMs;
    this.callId = fields.callId;
    this.traceId = fields.traceId;
    this.spanId = fields.spanId;
    this.timestamp = fields.timestamp;
    Object.freeze(this);
  }

  /** The record as plain JSON data (the original's `to_dict()`). */
  toJSON(): ActionExplanationJSON {
    const out: ActionExplanationJSON = { phase: this.phase, action: this.action, alternatives: [...this.alternatives], timestamp: '' };
    if (this.agentId !== undefined) out.agentId = this.agentId;
    if (this.reasoning !== undefined) out.reasoning = this.reasoning;
    if (this.confidence !== undefined) out.confidence = this.confidence;
    if (this.inputSummary !== undefined) out.inputSummary = this.inputSummary;
    if (this.outputSummary !== undefined) out.outputSummary = this.outputSummary;
    if (this.errorSummary !== undefined) out.errorSummary = this.errorSummary;
    if (this.durationMs !== undefined) out.durationMs = this.durationMs;
    if (this.callId !== undefined) out.callId = this.callId;
    if (this.traceId !== undefined) out.traceId = this.traceId;
    if (this.spanId !== undefined) out.spanId = this.spanId;
    out.timestamp = new Date(this.timestamp).toISOString();
    return out;
  }
}

/** Filter of `getExplanations`: every given field must match. */
export interface ExplanationQuery {
  /** Only records of this phase. */
  phase?: ExplanationPhase;
  /** Only records of this action. */
  action?: string;
  /** Only records made at or after this time (a `Date` or epoch milliseconds). */
  since?: Date | number;
}

/** A short, never-throwing `name: message` summary of anything thrown. */
export function summarizeError(err: unknown, maxLength: number): string {
  let text: string;
  try {
    if (err instanceof Error) text = `${err.name}: ${err.message}`;
    else if (typeof err === 'string') text = err;
    else if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
      const name = (err as { name?: unknown }).name;
      text = `${typeof name === 'string' ? name : 'Error'}: ${(err as { message: string }).message}`;
    } else text = String(err);
  } catch {
    text = '[unprintable error]';
  }
  return text.length > maxLength ? `${text.slice(0, maxLength)}…[truncated ${text.length - maxLength} chars]` : text;
}
