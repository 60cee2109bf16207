/**
 * The guarded action: the single data path every safety pattern plugs into.
 *
 * Each call of a guarded function is one span `execute_tool {tool}` (kind
 * INTERNAL) with the GenAI tool and agent attributes set at start. Inside it,
 * in a fixed order (DESIGN.md §2): the audit's admission (can it keep the
 * call's record?), breaker admission, policy, impact gate and review,
 * pre-action explanation, checkpoint, the action itself (with its timeout and
 * abort signal), breaker outcome, policy settlement (cost), post-action or
 * error explanation. Each step
 * is a {@link GuardStep} in the ordered list {@link GUARD_STEPS}: it returns
 * plain data and the recorder (`span-recorder.ts`) writes it onto the span.
 *
 * @module
 */
import { SpanKind, context, diag, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, SpanContext } from '@opentelemetry/api';
import { ToolTimeoutError, isAbortError } from '../../patterns/shared/errors.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import { captureValue } from '../../patterns/shared/redaction.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import {
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalString,
  rejectUnknownOptions,
  requireFunction,
  requireNonEmptyString,
  requireObject,
  requireOneOf,
} from '../../patterns/shared/validate.js';
import { BreakerStep, validateBreakerSource } from '../breaker/breaker-step.js';
import type { BreakerSource } from '../breaker/breaker-step.js';
import { admitAudit } from '../audit/audit-admission.js';
import { agentFromContext, withSignal } from './call-context.js';
import { CheckpointStep, validateGuardCheckpoint } from '../rollback/guard-checkpoint.js';
import type { GuardCheckpointOptions } from '../rollback/guard-checkpoint.js';
import type { CounterfactualEstimator } from '../gate/counterfactual-estimator.js';
import { Explainer, validateExplainOptions } from '../explain/explainer.js';
import type { GuardExplainOptions } from '../explain/explainability-hooks.js';
import { GateStep, validateGateOptions } from '../gate/guard-gate.js';
import type { ImpactDeclaration } from '../gate/guard-gate.js';
import type { Policy } from '../../patterns/policy/policy.js';
import { PolicyStep, validatePolicyOption } from '../policy/policy-step.js';
import type { ActionOutcome, GuardCall, GuardStep, GuardStepEntry, StepEntry, StepStop } from './guard-step.js';
import { recordCallStart, recordDecision, recordFailure, recordSuccess, writeDecision } from './span-recorder.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_DESCRIPTION,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
} from '../shared/semconv.js';
import { endContained, startContained } from '../shared/contained-span.js';
import { currentTracer, telemetry } from '../shared/telemetry.js';
import type { AgentIdentity } from '../shared/telemetry.js';
import { PACKAGE_NAME } from '../shared/version.js';
import { toolDurationHistogram } from './tool-metrics.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function, whatever its `this` and parameters
type AnyFunction = (this: any, ...args: any[]) => any;

/** The `gen_ai.tool.type` values of the GenAI conventions. */
export type ToolType = 'function' | 'extension' | 'datastore';

/**
 * Options of {@link guard}. `A` is the guarded function's parameter list,
 * `R` its awaited result.
 */
export interface GuardOptions<A extends unknown[] = unknown[], R = unknown> {
  /** The tool's name: the span is `execute_tool {name}` and `gen_ai.tool.name` is this. */
  name: string;
  /** What the tool does (`gen_ai.tool.description`). */
  description?: string;
  /** `gen_ai.tool.type`. @default undefined (not recorded) */
  type?: ToolType;
  /**
   * The acting agent. @default the enclosing `invokeAgent`'s agent, else the
   * instrumentation's `agent`
   */
  agent?: AgentIdentity;
  /**
   * Extracts the tool call id (`gen_ai.tool.call.id`) from the arguments,
   * e.g. `(input, opts) => opts.toolCallId` for an AI SDK tool.
   */
  callId?: (...args: A) => string | undefined;
  /**
   * Extracts the caller's abort signal from the arguments, e.g.
   * `(input, opts) => opts.abortSignal`. An aborted call rejects at once
   * with the signal's reason and is reported as aborted, not as a failure.
   */
  signal?: (...args: A) => AbortSignal | undefined;
  /**
   * Selects the tool's own input from the arguments, e.g.
   * `(input, opts) => input` for a framework tool whose second argument is
   * the framework's (conversation messages, run context). What it returns is
   * what `captureArguments` records, what the gate scores, hashes and shows
   * to reviewers, and what the explanation summarises; `impact` and
   * `explain.reasoningFn` functions then receive it as their only argument.
   * A throwing selector is reported through `diag` and the input is
   * `undefined` (the whole arguments are never used in its place).
   * @default undefined (all arguments: the first alone when there is one)
   */
  input?: (...args: A) => unknown;
  /**
   * Enrich mode: returns the span a framework already started for this very
   * tool call (e.g. the AI SDK's own tool span, active while the tool runs),
   * or `undefined`. When it returns a span, the guard writes its attributes
   * and events onto that span instead of starting a second one, and leaves
   * ending it to the framework. @default undefined (the guard starts its own span)
   */
  enrich?: (...args: A) => Span | undefined;
  /**
   * Rejects the call with a `ToolTimeoutError` (a failure of the tool) when
   * it has not settled in time, and aborts the signal given to the tool
   * through `currentSignal()`. @default undefined (no timeout)
   */
  timeoutMs?: number;
  /** Overrides the instrumentation's `captureArguments` for this tool. */
  captureArguments?: boolean;
  /** Overrides the instrumentation's `captureResult` for this tool. */
  captureResult?: boolean;
  /** Overrides the instrumentation's `redact` for this tool. */
  redact?: Redactor;
  /**
   * A circuit breaker for this tool, or a `CircuitBreakerRegistry` (each
   * agent then gets its own breaker for this tool, named after it). An open
   * breaker rejects the call with a `CircuitOpenError` before anything else
   * runs. @default undefined (no breaker)
   */
  breaker?: BreakerSource;
  /**
   * The policy (step 2, after the breaker): allow/deny rules, an authorizer
   * (Cedar), rate, concurrency and budget limits, the kill switch. A denial
   * rejects the call with a `PolicyDeniedError` and the tool never runs;
   * once the action settled, its cost is charged. @default undefined (no policy)
   */
  policy?: Policy;
  /**
   * Take a checkpoint in a `RollbackManager` before each call (step 5, just
   * before the action), so that a rollback can undo it with the hook
   * registered under the tool's name. @default undefined (no checkpoint)
   */
  checkpoint?: GuardCheckpointOptions<A, R>;
  /**
   * The counterfactual impact gate (step 3): each call is assessed before it
   * runs; a `block` verdict, or a review that is not approved, rejects the
   * call with an `ActionBlockedError` and the tool never runs.
   * @default undefined (no gate)
   */
  gate?: CounterfactualEstimator;
  /**
   * What this tool declares about its impact, read by the gate's models
   * (reversibility, scope, cost, environment, floor, inactionImpact), or a
   * function computing it from the call's arguments. Requires `gate`.
   * @default undefined
   */
  impact?: ImpactDeclaration<A>;
  /**
   * Why the agent calls this tool (steps 3 and 7): `reasoning` or
   * `reasoningFn`, `confidence`, `alternativesConsidered`, and the `hooks`
   * manager that keeps the records and calls back. Each call gets
   * `agent_safety.explanation` events: log records, or span events (the
   * instrumentation's `explanationEvents`).
   * @default undefined (no explanation)
   */
  explain?: GuardExplainOptions<A>;
}

/** Per-call options, given through {@link GuardedFunction.withOptions}. */
export interface CallOptions {
  /** The tool call id (`gen_ai.tool.call.id`); wins over the `callId` extractor. */
  callId?: string;
  /** The caller's abort signal; wins over the `signal` extractor. */
  signal?: AbortSignal;
  /** A timeout for this call; wins over the guard's `timeoutMs`. */
  timeoutMs?: number;
}

/**
 * A guarded function by its parts: parameters `A`, the original's result
 * `R` (a promise of `Awaited<R>` is returned) and `this` type `This`. What
 * {@link guard} returns; written with the parts themselves (not a function
 * type) so that a contextual type (a framework's `execute` signature) flows
 * into the wrapped function's parameters.
 */
export interface Guarded<A extends unknown[], R, This = unknown> {
  (this: This, ...args: A): Promise<Awaited<R>>;
  /** The tool name given to {@link guard}. */
  readonly toolName: string;
  /** The same guarded function with per-call options (call id, signal, timeout). */
  withOptions(options: CallOptions): (this: This, ...args: A) => Promise<Awaited<R>>;
}

/**
 * A guarded function: same parameters (and `this`) as the original, returns
 * a promise of its result. Errors thrown by the original are rethrown
 * unchanged.
 */
export type GuardedFunction<F extends AnyFunction> = Guarded<Parameters<F>, ReturnType<F>, ThisParameterType<F>>;

/**
 * The safety steps of a guarded call, in their fixed order (DESIGN.md §2):
 * `breaker → policy → gate → explain → checkpoint → action`. A new step is
 * one entry here (and its option in {@link GuardOptions}).
 */
const GUARD_STEPS: readonly GuardStepEntry<GuardOptions>[] = [
  {
    keys: ['breaker'],
    validate: o => validateBreakerSource('breaker', o.breaker),
    create: o => (o.breaker === undefined ? undefined : new BreakerStep(o.breaker, o.name)),
  },
  {
    keys: ['policy'],
    validate: o => validatePolicyOption('policy', o.policy),
    create: o => (o.policy === undefined ? undefined : new PolicyStep(o.policy, o.name)),
  },
  {
    keys: ['gate', 'impact'],
    validate: o => validateGateOptions(o.gate, o.impact),
    create: o => (o.gate === undefined ? undefined : new GateStep(o.gate, o.name, o.impact as ImpactDeclaration<never[]>)),
  },
  {
    keys: ['explain'],
    validate: o => {
      if (o.explain === undefined) return;
      validateExplainOptions('explain', o.explain, ['hooks']);
      const hooks = o.explain.hooks;
      if (hooks !== undefined && typeof (hooks as { accept?: unknown })?.accept !== 'function') {
        throw new TypeError('explain.hooks must be an ExplainabilityHookManager');
      }
    },
    create: o => (o.explain === undefined ? undefined : new Explainer(o.name, o.explain as GuardExplainOptions<never[]>, o.explain.hooks, true)),
  },
  {
    keys: ['checkpoint'],
    validate: o => validateGuardCheckpoint('checkpoint', o.checkpoint),
    create: o => (o.checkpoint === undefined ? undefined : new CheckpointStep(o.checkpoint, o.name)),
  },
];

const GUARD_KEYS = [
  'name',
  'description',
  'type',
  'agent',
  'callId',
  'signal',
  'input',
  'enrich',
  'timeoutMs',
  'captureArguments',
  'captureResult',
  'redact',
  ...GUARD_STEPS.flatMap(step => step.keys),
] as const;

const MAX_TIMEOUT_MS = 2_147_483_647; // setTimeout's limit

function validateAgent(option: string, agent: unknown): void {
  if (agent === undefined) return;
  requireObject(option, agent);
  rejectUnknownOptions(option, agent as object, ['id', 'name']);
  optionalString(`${option}.id`, (agent as AgentIdentity).id);
  optionalString(`${option}.name`, (agent as AgentIdentity).name);
}

function validateTimeout(option: string, value: unknown): void {
  optionalNumber(option, value, { min: 0, minInclusive: false, max: MAX_TIMEOUT_MS });
}

function validateGuardOptions(options: unknown): asserts options is GuardOptions {
  requireObject('guard options', options);
  const o = options as GuardOptions;
  rejectUnknownOptions('guard', o, GUARD_KEYS);
  requireNonEmptyString('name', o.name);
  optionalString('description', o.description);
  if (o.type !== undefined) requireOneOf('type', o.type, ['function', 'extension', 'datastore']);
  validateAgent('agent', o.agent);
  optionalFunction('callId', o.callId);
  optionalFunction('signal', o.signal);
  optionalFunction('input', o.input);
  optionalFunction('enrich', o.enrich);
  validateTimeout('timeoutMs', o.timeoutMs);
  optionalBoolean('captureArguments', o.captureArguments);
  optionalBoolean('captureResult', o.captureResult);
  optionalFunction('redact', o.redact);
  for (const step of GUARD_STEPS) step.validate(o);
}

const noop = (): void => {};

/** Runs an extractor given by the user; a throwing one is reported and ignored. */
function extract<T>(what: string, tool: string, fn: ((...args: never[]) => T) | undefined, args: unknown[]): T | undefined {
  if (fn === undefined) return undefined;
  try {
    return (fn as (...a: unknown[]) => T)(...args);
  } catch (err) {
    diag.warn(`agent-safety-otel: the ${what} extractor of tool "${tool}" threw; ignored`, err);
    return undefined;
  }
}

/** One guarded call: the {@link GuardCall} its steps read, and what the pipeline keeps for it. */
class CallRun implements GuardCall {
  readonly tool: string;
  readonly args: readonly unknown[];
  readonly input: readonly unknown[];
  readonly callId: string | undefined;
  readonly agent: AgentIdentity | undefined;
  readonly redact: Redactor;
  readonly signal: AbortSignal | undefined;
  readonly parent: Context;
  context: Context;
  readonly spanContext: SpanContext;
  readonly recording: boolean;
  /** Each step's state, by its position; undefined for a step that has not admitted the call. */
  readonly states: unknown[];
  /** The stop of the step that refused the call, if one did. */
  stop: StepStop | undefined = undefined;

  constructor(
    tool: string,
    steps: number,
    args: readonly unknown[],
    input: readonly unknown[],
    callId: string | undefined,
    agent: AgentIdentity | undefined,
    redact: Redactor,
    signal: AbortSignal | undefined,
    parent: Context,
    ctx: Context,
    span: Span,
  ) {
    this.tool = tool;
    this.args = args;
    this.input = input;
    this.callId = callId;
    this.agent = agent;
    this.redact = redact;
    this.signal = signal;
    this.parent = parent;
    this.context = ctx;
    this.spanContext = span.spanContext();
    this.recording = span.isRecording();
    this.states = new Array<unknown>(steps);
  }
}

/** The state of one guarded tool, shared by all its calls. */
class ToolGuard {
  readonly name: string;
  readonly spanName: string;
  private readonly _fn: AnyFunction;
  private readonly _options: GuardOptions;
  /** Start attributes for the last agent seen (usually the only one). */
  private _attrsAgent: AgentIdentity | undefined | null = null;
  private _startAttrs: Attributes = {};
  private readonly _okMetricAttrs: Attributes;
  private readonly _errorMetricAttrs = new Map<string, Attributes>();
  /** The steps this tool uses, in {@link GUARD_STEPS} order. */
  private readonly _steps: readonly GuardStep[];

  constructor(fn: AnyFunction, options: GuardOptions) {
    this._fn = fn;
    this._options = options;
    this.name = options.name;
    this._steps = GUARD_STEPS.map(entry => entry.create(options)).filter((step): step is GuardStep => step !== undefined);
    this.spanName = `${GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL} ${options.name}`;
    this._okMetricAttrs = Object.freeze({
      [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
      [ATTR_GEN_AI_TOOL_NAME]: options.name,
    });
  }

  /** Span start attributes for `agent`, cached while the agent stays the same. */
  private _attributesFor(agent: AgentIdentity | undefined): Attributes {
    if (agent === this._attrsAgent) return this._startAttrs;
    const o = this._options;
    const attrs: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
      [ATTR_GEN_AI_TOOL_NAME]: o.name,
    };
    if (o.description !== undefined) attrs[ATTR_GEN_AI_TOOL_DESCRIPTION] = o.description;
    if (o.type !== undefined) attrs[ATTR_GEN_AI_TOOL_TYPE] = o.type;
    if (agent?.id !== undefined) attrs[ATTR_GEN_AI_AGENT_ID] = agent.id;
    if (agent?.name !== undefined) attrs[ATTR_GEN_AI_AGENT_NAME] = agent.name;
    this._attrsAgent = agent;
    this._startAttrs = Object.freeze(attrs);
    return this._startAttrs;
  }

  private _metricAttrs(errType: string | undefined): Attributes {
    if (errType === undefined) return this._okMetricAttrs;
    let attrs = this._errorMetricAttrs.get(errType);
    if (attrs === undefined) {
      attrs = Object.freeze({ ...this._okMetricAttrs, [ATTR_ERROR_TYPE]: errType });
      // error.type is low-cardinality by construction; the cap is a backstop.
      if (this._errorMetricAttrs.size < 64) this._errorMetricAttrs.set(errType, attrs);
    }
    return attrs;
  }

  async run(thisArg: unknown, args: unknown[], options: CallOptions | undefined): Promise<unknown> {
    const o = this._options;
    const settings = telemetry.settings;
    const parent = context.active();
    const agent = o.agent ?? agentFromContext(parent) ?? settings.agent;
    // Enrich mode: the framework's own span for this call, written onto, not ended here.
    const framework = o.enrich === undefined ? undefined : extract('enrich', this.name, o.enrich, args);
    // A span processor that throws as the span starts (or ends) is contained: the call goes on.
    const span =
      framework ??
      startContained(currentTracer(), this.spanName, { kind: SpanKind.INTERNAL, attributes: this._attributesFor(agent) }, parent);
    if (framework !== undefined) framework.setAttributes(this._attributesFor(agent));
    // What the safety steps see of the arguments: the tool's own input when selected.
    const input = o.input === undefined ? args : [extract('input', this.name, o.input, args)];
    const started = performance.now();
    const redact = o.redact ?? settings.redact;
    let signal: AbortSignal | undefined;
    let errType: string | undefined;
    let aborted = false;
    let call: CallRun | undefined;
    try {
      const callId = options?.callId ?? extract('callId', this.name, o.callId, args);
      const capture = o.captureArguments ?? settings.captureArguments;
      recordCallStart(span, callId, capture ? captureValue(input.length === 1 ? input[0] : input, redact) : undefined);
      signal = options?.signal ?? extract('signal', this.name, o.signal, args);
      // 0. the audit can take this call's record (else AuditUnavailableError, before any step or the tool runs)
      const accepted = admitAudit();
      if (accepted !== undefined) await accepted;
      let ctx = trace.setSpan(parent, span);
      if (this._steps.length > 0) {
        call = new CallRun(this.name, this._steps.length, args, input, callId, agent, redact, signal, parent, ctx, span);
        const admitted = this._admit(span, call, 0); // steps 1–5: breaker, policy, gate, explanation, checkpoint
        if (admitted !== undefined) await admitted;
        this._start(call);
        ctx = call.context;
      }
      // 6. the action
      const timeoutMs = options?.timeoutMs ?? o.timeoutMs;
      const result =
        signal === undefined && timeoutMs === undefined
          ? await context.with(ctx, this._fn, thisArg, ...args)
          : await this._runControlled(ctx, thisArg, args, signal, timeoutMs);
      const outcome: ActionOutcome | undefined = call && { ok: true, result };
      if (call !== undefined) this._settle(span, call, outcome!); // 7. breaker records the outcome, policy charges the cost
      recordSuccess(span, (o.captureResult ?? settings.captureResult) ? captureValue(result, redact) : undefined);
      if (call !== undefined) {
        const concluded = this._conclude(span, call, outcome!, 0); // 7. post-action explanation, checkpoint, policy settlement the store answers later
        if (concluded !== undefined) await concluded;
      }
      return result;
    } catch (err) {
      aborted = signal?.aborted === true && (err === signal.reason || isAbortError(err));
      const outcome: ActionOutcome | undefined = call && { ok: false, error: err, aborted };
      if (call !== undefined) this._settle(span, call, outcome!);
      errType = recordFailure(span, err, aborted, call?.stop);
      if (call !== undefined) {
        const concluded = this._conclude(span, call, outcome!, 0); // 7. on-error explanation (also for a refused call), checkpoint
        if (concluded !== undefined) await concluded;
      }
      throw err;
    } finally {
      if (framework === undefined) endContained(span); // the framework ends its own span
      if (!aborted) toolDurationHistogram().record((performance.now() - started) / 1000, this._metricAttrs(errType));
    }
  }

  // The pipeline. These methods are the one place where a step's answer
  // being ready now or later matters: a step that answers at once keeps the
  // call on the synchronous path (no promise, no microtask).

  /** Each step's `admit`, from step `from` on, in order; a promise only when a step answers with one. */
  private _admit(span: Span, call: CallRun, from: number): MaybePromise<void> {
    const steps = this._steps;
    for (let i = from; i < steps.length; i++) {
      const entry = steps[i]!.admit(call);
      const entered = entry instanceof Promise ? entry.then(e => this._enter(span, call, i, e)) : this._enter(span, call, i, entry);
      if (entered !== undefined) return entered.then(() => this._admit(span, call, i + 1));
    }
    return undefined;
  }

  /** Records step `i`'s entry (and its `next`s); keeps its state and context, or throws its stop. */
  private _enter(span: Span, call: CallRun, i: number, entry: StepEntry | undefined): MaybePromise<void> {
    if (entry === undefined) return undefined;
    const last = recordDecision(span, entry);
    if (last instanceof Promise) return last.then(d => this._admitted(call, i, entry, d.stop));
    this._admitted(call, i, entry, last.stop);
    return undefined;
  }

  private _admitted(call: CallRun, i: number, entry: StepEntry, stop: StepStop | undefined): void {
    if (stop !== undefined) {
      call.stop = stop;
      throw stop.error;
    }
    call.states[i] = entry.state;
    if (entry.context !== undefined) call.context = entry.context;
  }

  /** Each step's `start`, just before the action. */
  private _start(call: CallRun): void {
    const steps = this._steps;
    for (let i = 0; i < steps.length; i++) steps[i]!.start?.(call, call.states[i]);
  }

  /** Each step's `settle`, in order. Never throws. */
  private _settle(span: Span, call: CallRun, outcome: ActionOutcome): void {
    const steps = this._steps;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.settle === undefined) continue;
      try {
        const decision = step.settle(call, call.states[i], outcome);
        if (decision !== undefined) writeDecision(span, decision);
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: the ${step.name} step of tool "${this.name}" failed to settle; ignored`, err);
      }
    }
  }

  /** Each step's `conclude`, from step `from` on, in order; a promise only when one waits. Never throws or rejects. */
  private _conclude(span: Span, call: CallRun, outcome: ActionOutcome, from: number): MaybePromise<void> {
    const steps = this._steps;
    for (let i = from; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.conclude === undefined) continue;
      let done: MaybePromise<unknown>;
      try {
        const decision = step.conclude(call, call.states[i], outcome);
        done =
          decision instanceof Promise
            ? decision.then(d => (d === undefined ? undefined : recordDecision(span, d)))
            : decision === undefined
              ? undefined
              : recordDecision(span, decision);
      } catch (err) {
        this._concludeFailed(step, err);
        continue;
      }
      if (done instanceof Promise) {
        return done.then(undefined, (err: unknown) => this._concludeFailed(step, err)).then(() => this._conclude(span, call, outcome, i + 1));
      }
    }
    return undefined;
  }

  private _concludeFailed(step: GuardStep, err: unknown): void {
    diag.error(`${PACKAGE_NAME}: the ${step.name} step of tool "${this.name}" failed to conclude; ignored`, err);
  }

  /** The action with an abort signal and/or a timeout: rejects as soon as either fires. */
  private async _runControlled(
    ctx: Context,
    thisArg: unknown,
    args: unknown[],
    callerSignal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<unknown> {
    if (callerSignal?.aborted) throw callerSignal.reason;
    const controller = new AbortController();
    const stop = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => controller.abort(new ToolTimeoutError(this.name, timeoutMs)), timeoutMs);
      timer.unref?.();
    }
    try {
      const pending = Promise.resolve(context.with(withSignal(ctx, controller.signal), this._fn, thisArg, ...args));
      pending.catch(noop); // it may settle after we stopped waiting: never an unhandled rejection
      return await Promise.race([pending, stop]);
    } catch (err) {
      // A rejection caused by the caller's abort is an abort, whatever the
      // tool threw while honouring the signal.
      if (callerSignal?.aborted && err !== controller.signal.reason && isAbortError(err)) throw callerSignal.reason;
      throw err;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }
  }
}

/**
 * Wraps a tool (any sync or async function) so that each call is one
 * `execute_tool {name}` span and passes through the safety patterns
 * configured for it.
 *
 * The guarded function keeps the original's parameters and `this`, returns
 * a promise of its result, and rethrows its errors unchanged.
 *
 * @throws TypeError or RangeError at wrap time when `fn` is not a function
 *   or an option is invalid, naming the option and the value.
 *
 * @example
 * ```ts
 * const rank = guard(async (userId: string, ids: string[]) => rankingApi.rank(userId, ids), {
 *   name: 'rank_content',
 *   description: 'Ranks candidate posts for a user',
 *   timeoutMs: 2_000,
 * });
 * const ranked = await rank('u1', ['p1', 'p2']);
 * ```
 *
 * Written inline where a function type is expected (a framework's tool
 * `execute`), the wrapped function's parameters take their types from it.
 */
export function guard<A extends unknown[], R, This = unknown>(
  fn: (this: This, ...args: A) => R,
  options: GuardOptions<A, Awaited<R>>,
): Guarded<A, R, This>;
export function guard<F extends AnyFunction>(
  fn: F,
  options: GuardOptions<Parameters<F>, Awaited<ReturnType<F>>>,
): GuardedFunction<F> {
  requireFunction('fn (the function to guard)', fn);
  validateGuardOptions(options);
  const tool = new ToolGuard(fn, { ...options } as GuardOptions);
  const guarded = function (this: ThisParameterType<F>, ...args: Parameters<F>) {
    return tool.run(this, args, undefined);
  } as GuardedFunction<F>;
  Object.defineProperty(guarded, 'name', { value: `guarded ${fn.name || options.name}` });
  Object.defineProperty(guarded, 'toolName', { value: options.name, enumerable: true });
  Object.defineProperty(guarded, 'withOptions', {
    value(call: CallOptions) {
      requireObject('call options', call);
      rejectUnknownOptions('withOptions', call, ['callId', 'signal', 'timeoutMs']);
      optionalString('callId', call.callId);
      validateTimeout('timeoutMs', call.timeoutMs);
      if (call.signal !== undefined && !(call.signal instanceof AbortSignal)) {
        throw new TypeError('signal must be an AbortSignal');
      }
      const frozen = { ...call };
      return function (this: ThisParameterType<F>, ...args: Parameters<F>) {
        return tool.run(this, args, frozen);
      };
    },
  });
  return guarded;
}
