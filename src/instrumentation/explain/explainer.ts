/**
 * The explanation step of one action: works out the reasoning, decides the
 * `agent_safety.explanation` events (which the recorder writes as log records
 * or span events: `explanation-events.ts`) (and the pre-action reasoning and
 * confidence as span attributes), and, when a hook manager is attached,
 * builds the {@link ActionExplanation} records and hands them over.
 *
 * It observes only: a throwing `reasoningFn` or redactor is reported through
 * `diag` and the action goes on with its result unchanged.
 *
 * Used by `guard()` (steps 4 and 7 of the guarded call) and by the
 * `explain()` wrapper of {@link ExplainabilityHookManager}.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { ActionExplanation, summarizeError } from '../../patterns/explain/action-explanation.js';
import type { ExplanationPhase } from '../../patterns/explain/action-explanation.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { captureValue, redactString } from '../../patterns/shared/redaction.js';
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
  EVENT_AGENT_SAFETY_EXPLANATION,
} from '../shared/semconv.js';
import { PACKAGE_NAME } from '../shared/version.js';
import type { ActionOutcome, GuardCall, GuardStep, StepDecision, StepEntry } from '../guard/guard-step.js';

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

/** Each text through `redact` ({@link redactString}); the same array when nothing changed. */
function redactTexts(texts: readonly string[], redact: Redactor): readonly string[] {
  let out: string[] | undefined;
  for (let i = 0; i < texts.length; i++) {
    const r = redactString(texts[i], redact);
    if (r !== texts[i]) (out ??= [...texts])[i] = r;
  }
  return out === undefined ? texts : Object.freeze(out);
}

/** A static explanation made for one redactor. */
interface StaticExplanation {
  readonly redact: Redactor;
  readonly reasoning: string | undefined;
  readonly decisions: Record<ExplanationPhase, PhaseDecision>;
  /** The pre-action entry when no records are kept. */
  readonly entry: StepEntry<ExplanationTrail> | undefined;
}

function cut(text: string): string {
  return text.length > MAX_REASONING ? `${text.slice(0, MAX_REASONING)}…` : text;
}

const NO_ALTERNATIVES: readonly string[] = Object.freeze([]);

/** A trail for calls whose reasoning is static and that keep no records: shared, nothing allocated per call. */
const STATIC_TRAIL: ExplanationTrail = Object.freeze({ started: true, reasoning: undefined, startedAt: 0, input: undefined });

const NOTHING: StepDecision = Object.freeze({});

/** The span event of a phase when the span's attributes say the rest. */
const PHASE_ONLY: Readonly<Record<ExplanationPhase, Attributes>> = Object.freeze({
  pre_action: Object.freeze({ [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: 'pre_action' }),
  post_action: Object.freeze({ [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: 'post_action' }),
  on_error: Object.freeze({ [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: 'on_error' }),
});
/** The entry of a call whose span does not record, with static reasoning and no records. */
const STATIC_ENTRY: StepEntry<ExplanationTrail> = Object.freeze({ state: STATIC_TRAIL });

/** What one phase of an explanation decides on the span. */
interface PhaseDecision {
  readonly first: StepDecision;
  readonly later: StepDecision;
}

/**
 * The explanation step for one action (one guarded tool, or one wrapped
 * function): steps 4 (pre-action, `admit`) and 7 (post-action or on-error,
 * `conclude`) of a guarded call. Immutable; shared by all its calls.
 */
export class Explainer implements GuardStep<ExplanationTrail> {
  readonly name = 'explain';
  readonly action: string;
  private readonly _reasoning: string | undefined;
  private readonly _reasoningFn: ((...args: unknown[]) => string) | undefined;
  private readonly _confidence: number | undefined;
  private readonly _alternatives: readonly string[];
  private readonly _sink: ExplanationSink | undefined;
  /**
   * When the reasoning is static: its decisions per phase, the pre-action
   * entry when no records are kept, and the reasoning, all redacted with
   * `redact` (reused by every call redacting with it; a call with another
   * redactor remakes them).
   */
  private _static: StaticExplanation | undefined;
  /** The alternatives redacted with the last redactor seen. */
  private _redactedAlternatives: { redact: Redactor; alternatives: readonly string[] } | undefined;

  /** Each call has a span of its own that this step alone explains (a guarded call): see {@link Explainer}'s constructor. */
  private readonly _ownSpan: boolean;

  /**
   * `options` must have passed {@link validateExplainOptions}. With
   * `ownSpan` (a guarded call: one span per call, explained by this step
   * alone) the span's attributes carry the reasoning, confidence and
   * alternatives once, and the events written on the span carry only their
   * phase (log records stay whole). Without it (the `explain()` wrapper,
   * which writes on whatever span is active, possibly shared, a guarded
   * call's among them), each event carries everything and the span's
   * explanation attributes are left to the span's owner.
   */
  constructor(action: string, options: ExplainOptions<never[]>, sink: ExplanationSink | undefined, ownSpan = false) {
    this.action = action;
    this._ownSpan = ownSpan;
    this._reasoning = options.reasoning === undefined ? undefined : cut(options.reasoning);
    this._reasoningFn = options.reasoningFn as ((...args: unknown[]) => string) | undefined;
    this._confidence = options.confidence;
    this._alternatives = options.alternativesConsidered ? Object.freeze([...options.alternativesConsidered]) : NO_ALTERNATIVES;
    this._sink = sink;
  }

  /** The redactor of the explanation's texts: the manager's own, else the call's. */
  private _redactor(call: GuardCall): Redactor {
    return this._sink?.redact ?? call.redact;
  }

  /** The static explanation's decisions and reasoning redacted with `redact` (made once per redactor). */
  private _staticFor(redact: Redactor): StaticExplanation {
    const known = this._static;
    if (known !== undefined && known.redact === redact) return known;
    const reasoning = this._reasoning === undefined ? undefined : redactString(this._reasoning, redact);
    const alternatives = this._alternativesFor(redact);
    const phase = (p: ExplanationPhase): PhaseDecision => ({
      first: this._decision(p, reasoning, alternatives, true),
      later: this._decision(p, reasoning, alternatives, false),
    });
    const decisions = { pre_action: phase('pre_action'), post_action: phase('post_action'), on_error: phase('on_error') };
    const entry = this._sink === undefined ? Object.freeze({ ...decisions.pre_action.first, state: STATIC_TRAIL }) : undefined;
    return (this._static = { redact, reasoning, decisions, entry });
  }

  /** The alternatives redacted with `redact` (made once per redactor). */
  private _alternativesFor(redact: Redactor): readonly string[] {
    if (this._alternatives.length === 0) return NO_ALTERNATIVES;
    const known = this._redactedAlternatives;
    if (known !== undefined && known.redact === redact) return known.alternatives;
    const alternatives = redactTexts(this._alternatives, redact);
    this._redactedAlternatives = { redact, alternatives };
    return alternatives;
  }

  /** Writes the reasoning, confidence and alternatives (those known) into `attrs`, and freezes it. */
  private _facts(attrs: Attributes, reasoning: string | undefined, alternatives: readonly string[]): Attributes {
    if (reasoning !== undefined) attrs[ATTR_AGENT_SAFETY_EXPLANATION_REASONING] = reasoning;
    if (this._confidence !== undefined) attrs[ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE] = this._confidence;
    if (alternatives.length > 0) attrs[ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES] = alternatives as string[];
    return Object.freeze(attrs);
  }

  /**
   * The span's part of a phase: the event; with `ownSpan`, for the first
   * record of a call, the reasoning, confidence and alternatives as span
   * attributes (and the event on the span names only its phase).
   */
  private _decision(phase: ExplanationPhase, reasoning: string | undefined, alternatives: readonly string[], first: boolean): StepDecision {
    const own = this._ownSpan;
    let attributes: Attributes | undefined;
    // Only on a span of its own: on a shared span (another step's, a guarded call's) the span's
    // explanation attributes belong to its owner, and this step's events carry everything.
    if (own && first && (reasoning !== undefined || this._confidence !== undefined || alternatives.length > 0)) {
      attributes = this._facts({}, reasoning, alternatives);
    }
    const whole = this._facts({ [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: phase }, reasoning, alternatives);
    const event = own
      ? { name: EVENT_AGENT_SAFETY_EXPLANATION, attributes: whole, spanAttributes: PHASE_ONLY[phase] }
      : { name: EVENT_AGENT_SAFETY_EXPLANATION, attributes: whole };
    return Object.freeze({ attributes, events: Object.freeze([Object.freeze(event)]) });
  }

  /** `reasoning` is redacted already (or static: then the static decisions, redacted, are used). */
  private _spanDecision(call: GuardCall, phase: ExplanationPhase, reasoning: string | undefined, first: boolean): StepDecision {
    if (!call.recording) return NOTHING;
    const redact = this._redactor(call);
    if (this._reasoningFn === undefined) {
      const fixed = this._staticFor(redact).decisions[phase];
      return first ? fixed.first : fixed.later;
    }
    return this._decision(phase, reasoning, this._alternativesFor(redact), first);
  }

  /** The call's reasoning, redacted with `redact` (it may quote the arguments). */
  private _reason(args: readonly unknown[], redact: Redactor): string | undefined {
    const fn = this._reasoningFn;
    if (fn === undefined) return this._reasoning === undefined ? undefined : this._staticFor(redact).reasoning;
    try {
      const text = fn(...args);
      if (typeof text === 'string') return cut(redactString(text, redact));
      diag.warn(`${PACKAGE_NAME}: the reasoningFn of "${this.action}" returned ${typeof text}, not a string; ignored`);
    } catch (err) {
      diag.warn(`${PACKAGE_NAME}: the reasoningFn of "${this.action}" threw; the action goes on without reasoning`, err);
    }
    return undefined;
  }

  /** Step 4: the pre-action record. Never throws. */
  admit(call: GuardCall): StepEntry<ExplanationTrail> {
    try {
      const redact = this._redactor(call);
      if (this._reasoningFn === undefined && this._sink === undefined) return call.recording ? this._staticFor(redact).entry! : STATIC_ENTRY;
      const args = call.input;
      const reasoning = this._reason(args, redact);
      const decision = this._spanDecision(call, 'pre_action', reasoning, true);
      const sink = this._sink;
      if (sink === undefined) return { ...decision, state: { started: true, reasoning, startedAt: 0, input: undefined } };
      const trail: ExplanationTrail = { started: true, reasoning, startedAt: sink.now(), input: this._summary(sink, args.length === 1 ? args[0] : args, call.redact) };
      this._emit(sink, call, 'pre_action', trail, trail.startedAt, undefined, undefined);
      return { ...decision, state: trail };
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: recording the pre-action explanation of "${this.action}" failed`, err);
      return STATIC_ENTRY;
    }
  }

  /** Step 7: the post-action or on-error record. Never throws. */
  conclude(call: GuardCall, trail: ExplanationTrail | undefined, outcome: ActionOutcome): StepDecision | undefined {
    return outcome.ok ? this._after(call, trail!, outcome.result) : this._error(call, trail, outcome.error);
  }

  /** Step 7 on success: the post-action record. */
  private _after(call: GuardCall, trail: ExplanationTrail, result: unknown): StepDecision | undefined {
    try {
      const reasoning = this._reasoningFn === undefined ? this._reason(call.input, this._redactor(call)) : trail.reasoning;
      const decision = this._spanDecision(call, 'post_action', reasoning, false);
      const sink = this._sink;
      if (sink === undefined) return decision;
      const now = sink.now();
      this._emit(sink, call, 'post_action', trail, now, this._summary(sink, result, call.redact), undefined);
      return decision;
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: recording the post-action explanation of "${this.action}" failed`, err);
      return undefined;
    }
  }

  /**
   * Step 7 on failure: the on-error record. `trail` is undefined when the
   * call failed before the pre-action step (breaker rejection, gate block):
   * the reasoning is then worked out here, so a refused action still says
   * why the agent wanted it.
   */
  private _error(call: GuardCall, trail: ExplanationTrail | undefined, err: unknown): StepDecision | undefined {
    try {
      const first = trail === undefined;
      const args = call.input;
      const reasoning = first || this._reasoningFn === undefined ? this._reason(args, this._redactor(call)) : trail.reasoning;
      const decision = this._spanDecision(call, 'on_error', reasoning, first);
      const sink = this._sink;
      if (sink === undefined) return decision;
      const now = sink.now();
      const t: ExplanationTrail = trail ?? { started: false, reasoning, startedAt: now, input: this._summary(sink, args.length === 1 ? args[0] : args, call.redact) };
      this._emit(sink, call, 'on_error', t, now, undefined, this._errorSummary(sink, err, call.redact));
      return decision;
    } catch (e) {
      diag.error(`${PACKAGE_NAME}: recording the on-error explanation of "${this.action}" failed`, e);
      return undefined;
    }
  }

  private _summary(sink: ExplanationSink, value: unknown, redact: Redactor): string | undefined {
    if (!sink.summaries) return undefined;
    return captureValue(value, sink.redact ?? redact, { maxLength: sink.summaryMaxLength });
  }

  private _errorSummary(sink: ExplanationSink, err: unknown, redact: Redactor): string {
    return redactString(summarizeError(err, sink.summaryMaxLength), sink.redact ?? redact);
  }

  private _emit(
    sink: ExplanationSink,
    call: GuardCall,
    phase: ExplanationPhase,
    trail: ExplanationTrail,
    now: number,
    output: string | undefined,
    error: string | undefined,
  ): void {
    const ctx = call.spanContext;
    const valid = ctx !== undefined && ctx.traceId !== '00000000000000000000000000000000';
    const agent = call.agent;
    sink.accept(
      new ActionExplanation({
        phase,
        action: this.action,
        agentId: sink.agentId ?? agent?.id ?? agent?.name,
        reasoning: trail.reasoning,
        confidence: this._confidence,
        alternatives: this._alternativesFor(this._redactor(call)),
        inputSummary: trail.input,
        outputSummary: output,
        errorSummary: error,
        durationMs: phase === 'pre_action' || !trail.started ? undefined : Math.max(0, now - trail.startedAt),
        callId: call.callId,
        traceId: valid ? ctx.traceId : undefined,
        spanId: valid ? ctx.spanId : undefined,
        timestamp: now,
      }),
    );
  }
}
