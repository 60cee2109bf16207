/**
 * The guarded action: the single data path every safety pattern plugs into.
 *
 * Each call of a guarded function is one span `execute_tool {tool}` (kind
 * INTERNAL) with the GenAI tool and agent attributes set at start. Inside it,
 * in a fixed order (DESIGN.md §2): breaker admission, impact gate and review,
 * pre-action explanation, checkpoint, the action itself (with its timeout and
 * abort signal), breaker outcome, post-action or error explanation. Each step
 * returns plain data and this module writes it onto the span.
 *
 * @module
 */
import { SpanKind, context, diag, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span } from '@opentelemetry/api';
import { ToolTimeoutError, isToolTimeoutError } from '../../patterns/shared/errors.js';
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
import { BreakerCall, BreakerPicker, recordRejection, validateBreakerSource } from '../breaker/breaker-step.js';
import type { BreakerSource } from '../breaker/breaker-step.js';
import { agentFromContext, withSignal } from './call-context.js';
import { takeGuardCheckpoint, validateGuardCheckpoint } from '../rollback/guard-checkpoint.js';
import type { GuardCheckpoint, GuardCheckpointOptions } from '../rollback/guard-checkpoint.js';
import type { CounterfactualEstimator } from '../gate/counterfactual-estimator.js';
import { Explainer, validateExplainOptions } from '../explain/explainer.js';
import type { ExplanationTrail } from '../explain/explainer.js';
import type { GuardExplainOptions } from '../explain/explainability-hooks.js';
import { GuardGate, refusalOutcome, validateGateOptions } from '../gate/guard-gate.js';
import type { ImpactDeclaration } from '../gate/guard-gate.js';
import { recordError } from './record-error.js';
import { admitAudit } from '../audit/audit-admission.js';
import { endContained, startContained } from '../shared/contained-span.js';
import {
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
  ATTR_GEN_AI_TOOL_DESCRIPTION,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
} from '../shared/semconv.js';
import type { CallOutcome } from '../shared/semconv.js';
import { currentTracer, telemetry } from '../shared/telemetry.js';
import type { AgentIdentity } from '../shared/telemetry.js';
import { toolDurationHistogram } from './tool-metrics.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
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
   * Take a checkpoint in a `RollbackManager` before each call (step 4, just
   * before the action), so that a rollback can undo it with the hook
   * registered under the tool's name. @default undefined (no checkpoint)
   */
  checkpoint?: GuardCheckpointOptions<A, R>;
  /**
   * The counterfactual impact gate (step 2): each call is assessed before it
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
   * `agent_safety.explanation` span events.
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
 * A guarded function: same parameters (and `this`) as the original, returns
 * a promise of its result. Errors thrown by the original are rethrown
 * unchanged.
 */
export interface GuardedFunction<F extends AnyFunction> {
  (this: ThisParameterType<F>, ...args: Parameters<F>): Promise<Awaited<ReturnType<F>>>;
  /** The tool name given to {@link guard}. */
  readonly toolName: string;
  /** The same guarded function with per-call options (call id, signal, timeout). */
  withOptions(options: CallOptions): (this: ThisParameterType<F>, ...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>>;
}

const GUARD_KEYS = [
  'name',
  'description',
  'type',
  'agent',
  'callId',
  'signal',
  'timeoutMs',
  'captureArguments',
  'captureResult',
  'redact',
  'breaker',
  'checkpoint',
  'gate',
  'impact',
  'explain',
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
  validateTimeout('timeoutMs', o.timeoutMs);
  optionalBoolean('captureArguments', o.captureArguments);
  optionalBoolean('captureResult', o.captureResult);
  optionalFunction('redact', o.redact);
  validateBreakerSource('breaker', o.breaker);
  validateGuardCheckpoint('checkpoint', o.checkpoint);
  validateGateOptions(o.gate, o.impact);
  if (o.explain !== undefined) {
    validateExplainOptions('explain', o.explain, ['hooks']);
    const hooks = o.explain.hooks;
    if (hooks !== undefined && typeof (hooks as { accept?: unknown })?.accept !== 'function') {
      throw new TypeError('explain.hooks must be an ExplainabilityHookManager');
    }
  }
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

function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
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
  private readonly _breakers: BreakerPicker | undefined;
  private readonly _gate: GuardGate | undefined;
  private readonly _explainer: Explainer | undefined;

  constructor(fn: AnyFunction, options: GuardOptions) {
    this._fn = fn;
    this._options = options;
    this.name = options.name;
    this._breakers = options.breaker === undefined ? undefined : new BreakerPicker(options.breaker, options.name);
    this._gate = options.gate && new GuardGate(options.gate, options.name, options.impact as ImpactDeclaration<never[]>);
    this._explainer = options.explain && new Explainer(options.name, options.explain as GuardExplainOptions<never[]>, options.explain.hooks);
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

  async run(thisArg: unknown, args: unknown[], call: CallOptions | undefined): Promise<unknown> {
    const o = this._options;
    const settings = telemetry.settings;
    const parent = context.active();
    const agent = o.agent ?? agentFromContext(parent) ?? settings.agent;
    const span = startContained(currentTracer(), this.spanName, { kind: SpanKind.INTERNAL, attributes: this._attributesFor(agent) }, parent);
    const started = performance.now();
    let breaker: BreakerCall | undefined;
    let signal: AbortSignal | undefined;
    let errType: string | undefined;
    let aborted = false;
    let checkpoint: GuardCheckpoint | undefined;
    let callId: string | undefined;
    let trail: ExplanationTrail | undefined;
    let gated = this._gate === undefined;
    const redact = o.redact ?? settings.redact;
    try {
      const admitted = admitAudit(); // 0. the audit can take this call's record, else AuditUnavailableError
      if (admitted !== undefined) await admitted;
      callId = call?.callId ?? extract('callId', this.name, o.callId, args);
      if (callId !== undefined) span.setAttribute(ATTR_GEN_AI_TOOL_CALL_ID, String(callId));
      if (o.captureArguments ?? settings.captureArguments) {
        span.setAttribute(ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, captureValue(args.length === 1 ? args[0] : args, redact));
      }
      signal = call?.signal ?? extract('signal', this.name, o.signal, args);
      if (this._breakers !== undefined) {
        breaker = new BreakerCall(span, this._breakers.pick(agent));
        const waiting = breaker.admit(signal); // 1. breaker admission
        if (waiting !== undefined) await waiting;
      }
      const timeoutMs = call?.timeoutMs ?? o.timeoutMs;
      let ctx = trace.setSpan(parent, span);
      // 2. impact gate and review: a refusal throws ActionBlockedError
      if (!gated) {
        const pending = this._gate!.enforce(span, args, callId, redact, signal, ctx, agent?.id);
        if (pending !== undefined) await pending;
        gated = true;
      }
      // 3. pre-action explanation (observes only)
      if (this._explainer !== undefined) trail = this._explainer.before(span, args, callId, agent?.id ?? agent?.name, redact);
      // 4. checkpoint
      if (o.checkpoint !== undefined) {
        const taken = takeGuardCheckpoint(o.checkpoint, this.name, span, parent, args);
        checkpoint = taken instanceof Promise ? await taken : taken;
        if (checkpoint !== undefined) ctx = checkpoint.context(ctx);
      }

      // 5. the action
      breaker?.start();
      const result =
        signal === undefined && timeoutMs === undefined
          ? await context.with(ctx, this._fn, thisArg, ...args)
          : await this._runControlled(ctx, thisArg, args, signal, timeoutMs);
      breaker?.succeeded(result); // 6. breaker records the outcome

      if (o.captureResult ?? settings.captureResult) {
        span.setAttribute(ATTR_GEN_AI_TOOL_CALL_RESULT, captureValue(result, redact));
      }
      // 7. post-action explanation
      if (this._explainer !== undefined) this._explainer.after(span, trail!, result, callId, agent?.id ?? agent?.name, redact);
      span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, 'success' satisfies CallOutcome);
      const settled = checkpoint?.succeeded(span, result, args);
      if (settled !== undefined) await settled;
      return result;
    } catch (err) {
      aborted = signal?.aborted === true && (err === signal.reason || isAbortError(err));
      breaker?.failed(err, aborted);
      if (aborted) span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, 'aborted' satisfies CallOutcome);
      else if (breaker?.rejected) errType = recordRejection(span, err);
      else errType = recordFailure(span, err, gated ? undefined : refusalOutcome(err));
      // 7. on-error explanation (also for a call refused before it ran)
      if (this._explainer !== undefined) this._explainer.error(span, trail, err, args, callId, agent?.id ?? agent?.name, redact);
      const settled = checkpoint?.failed(span, err, aborted);
      if (settled !== undefined) await settled;
      throw err;
    } finally {
      endContained(span);
      if (!aborted) toolDurationHistogram().record((performance.now() - started) / 1000, this._metricAttrs(errType));
    }
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
 * Records a failure of the call (not an abort) on `span`; returns `error.type`.
 * `refused` is the outcome when this call's own gate refused it.
 */
function recordFailure(span: Span, err: unknown, refused?: CallOutcome): string {
  const type = recordError(span, err);
  span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, refused ?? ((isToolTimeoutError(err) ? 'timeout' : 'error') satisfies CallOutcome));
  return type;
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
 */
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
