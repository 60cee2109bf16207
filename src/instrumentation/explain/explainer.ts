/**
 * The explanation step of one action: works out the reasoning, writes the
 * `agent_safety.explanation` events (log records or span events: see
 * `explanation-events.ts`) (and the pre-action reasoning and
 * confidence as span attributes), and, when a hook manager is attached,
 * builds the {@link ActionExplanation} records and hands them over.
 *
 * It observes only: a throwing `reasoningFn` or redactor is reported through
 * `diag` and the action goes on with its result unchanged.
 *
 * Used by `guard()` (steps 3 and 7 of the guarded call) and by the
 * `explain()` wrapper of {@link ExplainabilityHookManager}.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { ActionExplanation, summarizeError } from '../../patterns/explain/action-explanation.js';
import type { ExplanationPhase } from '../../patterns/explain/action-explanation.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { captureValue } from '../../patterns/shared/redaction.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import {
  optionalFunction,
  optionalNumber,
  optionalString,
  rejectUnknownOptions,
  requireNonEmptyString,
  requireObject,
} from '../../patterns/shared/validate.js';
import {
  ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES,
  ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE,
  ATTR_AGENT_SAFETY_EXPLANATION_PHASE,
  ATTR_AGENT_SAFETY_EXPLANATION_REASONING,
} from '../shared/semconv.js';
import { PACKAGE_NAME } from '../shared/version.js';
import { writeExplanation } from './explanation-events.js';

/**
 * What the agent says about an action (the original's `explain(...)`
 * arguments). `A` is the action's parameter list.
 */
export interface ExplainOptions<A extends unknown[] = unknown[]> {
  /** Why the agent takes this action. Give this or `reasoningFn`. @default undefined */
  reasoning?: string;
  /**
   * Works out the reasoning from the call's arguments (the same arguments as
   * the action). A throw is reported through `diag` and the record has no
   * reasoning; the action still runs. @default undefined
   */
  reasoningFn?: (...args: A) => string;
  /** The agent's confidence in the action, 0..1. @default undefined */
  confidence?: number;
  /** What else the agent considered. @default [] */
  alternativesConsidered?: readonly string[];
}

/** Where records go: an {@link ExplainabilityHookManager}. */
export interface ExplanationSink {
  /** The agent id recorded on records, when the manager has one. */
  readonly agentId: string | undefined;
  /** Whether records carry input/output summaries. */
  readonly summaries: boolean;
  /** The longest summary. */
  readonly summaryMaxLength: number;
  /** The manager's redactor, when it has its own. */
  readonly redact: Redactor | undefined;
  /** The manager's clock. */
  readonly now: Clock;
  /** Stores a record and schedules its callbacks; never throws, never blocks. */
  accept(record: ActionExplanation): void;
}

/** What one call of the action carries from the pre-action step to the post/error step. */
export interface ExplanationTrail {
  /** Whether the pre-action step ran. */
  readonly started: boolean;
  readonly reasoning: string | undefined;
  readonly startedAt: number;
  readonly input: string | undefined;
}

/** Reasoning longer than this is cut: it is a span attribute. */
const MAX_REASONING = 4096;

const EXPLAIN_KEYS = ['reasoning', 'reasoningFn', 'confidence', 'alternativesConsidered'] as const;

/**
 * Validates explanation options at construction, naming the option under
 * `where` (e.g. `explain.confidence`). `extraKeys` are allowed too (the
 * guard's `hooks`).
 */
export function validateExplainOptions(where: string, options: unknown, extraKeys: readonly string[] = []): void {
  requireObject(where, options);
  const o = options as ExplainOptions;
  rejectUnknownOptions(where, o, [...EXPLAIN_KEYS, ...extraKeys]);
  if (o.reasoning !== undefined) requireNonEmptyString(`${where}.reasoning`, o.reasoning);
  optionalFunction(`${where}.reasoningFn`, o.reasoningFn);
  if (o.reasoning !== undefined && o.reasoningFn !== undefined) {
    throw new TypeError(`${where}: give reasoning or reasoningFn, not both`);
  }
  optionalNumber(`${where}.confidence`, o.confidence, { min: 0, max: 1 });
  if (o.alternativesConsidered !== undefined) {
    if (!Array.isArray(o.alternativesConsidered)) {
      throw new TypeError(`${where}.alternativesConsidered must be an array of strings, got ${typeof o.alternativesConsidered}`);
    }
    o.alternativesConsidered.forEach((alt, i) => optionalString(`${where}.alternativesConsidered[${i}]`, alt));
  }
}

function cut(text: string): string {
  return text.length > MAX_REASONING ? `${text.slice(0, MAX_REASONING)}…` : text;
}

const NO_ALTERNATIVES: readonly string[] = Object.freeze([]);

/** A trail for calls whose reasoning is static and that keep no records: shared, nothing allocated per call. */
const STATIC_TRAIL: ExplanationTrail = Object.freeze({ started: true, reasoning: undefined, startedAt: 0, input: undefined });

/**
 * The explanation step for one action (one guarded tool, or one wrapped
 * function). Immutable; shared by all its calls.
 */
export class Explainer {
  readonly action: string;
  private readonly _reasoning: string | undefined;
  private readonly _reasoningFn: ((...args: unknown[]) => string) | undefined;
  private readonly _confidence: number | undefined;
  private readonly _alternatives: readonly string[];
  private readonly _sink: ExplanationSink | undefined;
  /** Event attributes per phase when the reasoning is static (reused by every call). */
  private readonly _static: Record<ExplanationPhase, Attributes> | undefined;

  /** `options` must have passed {@link validateExplainOptions}. */
  constructor(action: string, options: ExplainOptions<never[]>, sink: ExplanationSink | undefined) {
    this.action = action;
    this._reasoning = options.reasoning === undefined ? undefined : cut(options.reasoning);
    this._reasoningFn = options.reasoningFn as ((...args: unknown[]) => string) | undefined;
    this._confidence = options.confidence;
    this._alternatives = options.alternativesConsidered ? Object.freeze([...options.alternativesConsidered]) : NO_ALTERNATIVES;
    this._sink = sink;
    this._static =
      this._reasoningFn === undefined
        ? {
            pre_action: this._eventAttributes('pre_action', this._reasoning),
            post_action: this._eventAttributes('post_action', this._reasoning),
            on_error: this._eventAttributes('on_error', this._reasoning),
          }
        : undefined;
  }

  private _eventAttributes(phase: ExplanationPhase, reasoning: string | undefined): Attributes {
    const attrs: Attributes = { [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: phase };
    if (reasoning !== undefined) attrs[ATTR_AGENT_SAFETY_EXPLANATION_REASONING] = reasoning;
    if (this._confidence !== undefined) attrs[ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE] = this._confidence;
    if (this._alternatives.length > 0) attrs[ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES] = this._alternatives as string[];
    return Object.freeze(attrs);
  }

  private _reason(args: readonly unknown[]): string | undefined {
    const fn = this._reasoningFn;
    if (fn === undefined) return this._reasoning;
    try {
      const text = fn(...args);
      if (typeof text === 'string') return cut(text);
      diag.warn(`${PACKAGE_NAME}: the reasoningFn of "${this.action}" returned ${typeof text}, not a string; ignored`);
    } catch (err) {
      diag.warn(`${PACKAGE_NAME}: the reasoningFn of "${this.action}" threw; the action goes on without reasoning`, err);
    }
    return undefined;
  }

  private _write(span: Span | undefined, phase: ExplanationPhase, reasoning: string | undefined, first: boolean): void {
    if (span === undefined || !span.isRecording()) return;
    if (first) {
      if (reasoning !== undefined) span.setAttribute(ATTR_AGENT_SAFETY_EXPLANATION_REASONING, reasoning);
      if (this._confidence !== undefined) span.setAttribute(ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE, this._confidence);
    }
    writeExplanation(span, this._static !== undefined ? this._static[phase] : this._eventAttributes(phase, reasoning));
  }

  /** Step 3: the pre-action record. `args` are the action's arguments. */
  before(span: Span | undefined, args: readonly unknown[], callId: string | undefined, agentId: string | undefined, redact: Redactor): ExplanationTrail {
    try {
      const reasoning = this._reason(args);
      this._write(span, 'pre_action', reasoning, true);
      const sink = this._sink;
      if (sink === undefined) return this._reasoningFn === undefined ? STATIC_TRAIL : { started: true, reasoning, startedAt: 0, input: undefined };
      const trail: ExplanationTrail = { started: true, reasoning, startedAt: sink.now(), input: this._summary(sink, args.length === 1 ? args[0] : args, redact) };
      this._emit(sink, span, 'pre_action', trail, callId, agentId, trail.startedAt, undefined, undefined);
      return trail;
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: recording the pre-action explanation of "${this.action}" failed`, err);
      return STATIC_TRAIL;
    }
  }

  /** Step 7 on success: the post-action record. */
  after(span: Span | undefined, trail: ExplanationTrail, result: unknown, callId: string | undefined, agentId: string | undefined, redact: Redactor): void {
    try {
      const reasoning = this._reasoningFn === undefined ? this._reasoning : trail.reasoning;
      this._write(span, 'post_action', reasoning, false);
      const sink = this._sink;
      if (sink === undefined) return;
      const now = sink.now();
      this._emit(sink, span, 'post_action', trail, callId, agentId, now, this._summary(sink, result, redact), undefined);
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: recording the post-action explanation of "${this.action}" failed`, err);
    }
  }

  /**
   * Step 7 on failure: the on-error record. `trail` is undefined when the
   * call failed before the pre-action step (breaker rejection, gate block):
   * the reasoning is then worked out here, so a refused action still says
   * why the agent wanted it.
   */
  error(
    span: Span | undefined,
    trail: ExplanationTrail | undefined,
    err: unknown,
    args: readonly unknown[],
    callId: string | undefined,
    agentId: string | undefined,
    redact: Redactor,
  ): void {
    try {
      const first = trail === undefined;
      const reasoning = first ? this._reason(args) : this._reasoningFn === undefined ? this._reasoning : trail.reasoning;
      this._write(span, 'on_error', reasoning, first);
      const sink = this._sink;
      if (sink === undefined) return;
      const now = sink.now();
      const t: ExplanationTrail = trail ?? { started: false, reasoning, startedAt: now, input: this._summary(sink, args.length === 1 ? args[0] : args, redact) };
      this._emit(sink, span, 'on_error', t, callId, agentId, now, undefined, this._errorSummary(sink, err, redact));
    } catch (e) {
      diag.error(`${PACKAGE_NAME}: recording the on-error explanation of "${this.action}" failed`, e);
    }
  }

  private _summary(sink: ExplanationSink, value: unknown, redact: Redactor): string | undefined {
    if (!sink.summaries) return undefined;
    return captureValue(value, sink.redact ?? redact, { maxLength: sink.summaryMaxLength });
  }

  private _errorSummary(sink: ExplanationSink, err: unknown, redact: Redactor): string {
    const text = summarizeError(err, sink.summaryMaxLength);
    try {
      const redacted = (sink.redact ?? redact)(text);
      return typeof redacted === 'string' ? redacted : '[redacted]';
    } catch {
      return '[redaction failed]';
    }
  }

  private _emit(
    sink: ExplanationSink,
    span: Span | undefined,
    phase: ExplanationPhase,
    trail: ExplanationTrail,
    callId: string | undefined,
    agentId: string | undefined,
    now: number,
    output: string | undefined,
    error: string | undefined,
  ): void {
    const ctx = span?.spanContext();
    const valid = ctx !== undefined && ctx.traceId !== '00000000000000000000000000000000';
    sink.accept(
      new ActionExplanation({
        phase,
        action: this.action,
        agentId: sink.agentId ?? agentId,
        reasoning: trail.reasoning,
        confidence: this._confidence,
        alternatives: this._alternatives,
        inputSummary: trail.input,
        outputSummary: output,
        errorSummary: error,
        durationMs: phase === 'pre_action' || !trail.started ? undefined : Math.max(0, now - trail.startedAt),
        callId,
        traceId: valid ? ctx.traceId : undefined,
        spanId: valid ? ctx.spanId : undefined,
        timestamp: now,
      }),
    );
  }
}
