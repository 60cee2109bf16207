/**
 * The step interface of the guarded call (DESIGN.md §2). Each safety
 * pattern that acts inside a guarded call (breaker, policy, gate,
 * explanation, checkpoint) is a {@link GuardStep}: it reads a per-call
 * {@link GuardCall} (plain data) and answers with {@link StepDecision}s
 * (plain data). It never sees the span: the guard's one recorder
 * (`span-recorder.ts`) writes every decision onto it, in order.
 *
 * Adding a step is one {@link GuardStepEntry} in the guard's ordered list
 * `GUARD_STEPS` (guard.ts): `breaker → policy → gate → explain → checkpoint
 * → action`.
 *
 * @module
 */
import type { Attributes, Context, Exception, SpanContext } from '@opentelemetry/api';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import type { CallOutcome } from '../shared/semconv.js';
import type { AgentIdentity } from '../shared/telemetry.js';

/** What a step knows about the call it acts in. Plain data, read only. */
export interface GuardCall {
  /** The tool's name (`gen_ai.tool.name`). */
  readonly tool: string;
  /** The call's arguments, as given to the guarded function (what a checkpoint sees). */
  readonly args: readonly unknown[];
  /**
   * What the safety steps judge and record: the tool's own input when the
   * guard's `input` option selects it (as a one-element list), else `args`.
   */
  readonly input: readonly unknown[];
  /** The tool call id, when known. */
  readonly callId: string | undefined;
  /** The acting agent, when known. */
  readonly agent: AgentIdentity | undefined;
  /** The redactor in force for this call. */
  readonly redact: Redactor;
  /** The caller's abort signal, when given. */
  readonly signal: AbortSignal | undefined;
  /** The context the guarded function was called in (before its span). */
  readonly parent: Context;
  /**
   * The call's context: the call's span is active in it, and steps may have
   * extended it (the checkpoint does). Run user code that may make spans
   * (models, hooks) in it, so their spans are children of the call's span.
   */
  readonly context: Context;
  /** The ids of the call's span (for records that point back at it), when there is one. */
  readonly spanContext: SpanContext | undefined;
  /** Whether the call's span records: when false, a step may skip building attributes and events. */
  readonly recording: boolean;
}

/** A span event a step asks for. */
export interface StepEvent {
  readonly name: string;
  readonly attributes?: Attributes;
  /**
   * What the event carries when it is written on the span itself (a span
   * event, or the span's copy of a log record), when that is less than
   * `attributes` because the span's own attributes already say the rest
   * (a guarded call's explanation: its reasoning, confidence and
   * alternatives are span attributes, its events name the phase).
   * @default attributes
   */
  readonly spanAttributes?: Attributes;
}

/** How a step stops the call before its action runs. */
export interface StepStop {
  /** Thrown to the caller, unchanged. */
  readonly error: unknown;
  /**
   * The call's `agent_safety.call.outcome` when the step refused it
   * (`rejected`, `blocked`, `denied`). @default undefined: the call failed
   * like any error (outcome `error`, `timeout` or `aborted`)
   */
  readonly outcome?: CallOutcome;
  /** Whether the refusal gets an `exception` event. @default true */
  readonly exception?: boolean;
  /** `error.type` of the refusal. @default errorType(error) */
  readonly errorType?: string;
}

/**
 * What a step decided, as plain data for the recorder. Written in this
 * order: attributes, events, exceptions; then `next` runs.
 */
export interface StepDecision {
  /** Attributes to set on the call's span. */
  readonly attributes?: Attributes;
  /** Span events to add, in order. */
  readonly events?: readonly StepEvent[];
  /** Exceptions to record as `exception` events; the call goes on (e.g. a checkpoint that could not be settled). */
  readonly exceptions?: readonly Exception[];
  /** Stops the call: the recorder writes this decision, then the guard throws `stop.error`. */
  readonly stop?: StepStop;
  /**
   * The rest of the step, run once this decision is on the span (so an event
   * marks the moment before a wait: a review requested before the reviewer
   * is asked). Its decision is recorded in turn.
   */
  readonly next?: () => MaybePromise<StepDecision>;
}

/** What a step's {@link GuardStep.admit} returns: its decision, what it keeps for later, and the context for the rest of the call. */
export interface StepEntry<S = unknown> extends StepDecision {
  /** Given back to the step's `start`, `settle` and `conclude` for this call. */
  readonly state?: S;
  /** The call's context from here on (later steps and the action run in it). */
  readonly context?: Context;
}

/** How the action ended, as seen by `settle` and `conclude`. */
export type ActionOutcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      /** What the call threw: the action's error, or an earlier step's refusal. */
      readonly error: unknown;
      /** The caller aborted the call. */
      readonly aborted: boolean;
    };

/**
 * One safety step of a guarded call. The guard calls, for each call:
 *
 * 1. `admit` of every step, in list order, before the action. A step stops
 *    the call with a decision's `stop` (or by throwing: the call then fails
 *    with that error, fail closed). Later steps and the action do not run.
 * 2. `start` of every step, just before the action runs.
 * 3. the action.
 * 4. `settle` of every step, in list order, as soon as the action has
 *    settled (or a step stopped the call), before the call's outcome is on
 *    the span: accounting such as the breaker's outcome or a policy's cost.
 * 5. the call's outcome (status, `error.type`, `agent_safety.call.outcome`).
 * 6. `conclude` of every step, in list order: observations of the outcome
 *    (post-action or on-error explanation) and settlements that may wait
 *    (the rollback checkpoint). The guarded call settles after them.
 *
 * `settle` and `conclude` run for every step, also when the call stopped
 * before the step's `admit` completed: `state` is then `undefined`. They
 * observe only: a throw there is reported through `diag` and ignored.
 *
 * A step that can decide at once returns its decision, not a promise: the
 * call then stays on the synchronous path.
 *
 * @example
 * ```ts
 * const audit: GuardStep<number> = {
 *   name: 'timer',
 *   admit: () => ({ state: Date.now() }),
 *   conclude: (call, started, outcome) =>
 *     started === undefined ? undefined : { attributes: { 'example.ms': Date.now() - started, 'example.ok': outcome.ok } },
 * };
 * ```
 */
export interface GuardStep<S = unknown> {
  /** A short name (`breaker`, `gate`, …), for diagnostics. */
  readonly name: string;
  /** Decides before the action; returns `undefined` when there is nothing to record or keep. */
  admit(call: GuardCall): MaybePromise<StepEntry<S> | undefined>;
  /** Just before the action runs. */
  start?(call: GuardCall, state: S | undefined): void;
  /** As soon as the action settled, before the call's outcome is recorded. */
  settle?(call: GuardCall, state: S | undefined, outcome: ActionOutcome): StepDecision | undefined;
  /** After the call's outcome is recorded; the guarded call waits for it. */
  conclude?(call: GuardCall, state: S | undefined, outcome: ActionOutcome): MaybePromise<StepDecision | undefined>;
}

/**
 * One entry of the guard's ordered step list: the options it reads, their
 * validation, and the step it makes for a guarded tool. `O` is the guard's
 * options type.
 */
export interface GuardStepEntry<O> {
  /** The guard options this step reads (accepted by `guard()`'s unknown-option check). */
  readonly keys: readonly string[];
  /** Throws TypeError / RangeError naming the option when the step's options are invalid. */
  validate(options: O): void;
  /** The step for one guarded tool, or `undefined` when the tool does not use it. */
  create(options: O): GuardStep | undefined;
}
