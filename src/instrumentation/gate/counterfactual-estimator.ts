/**
 * The counterfactual impact gate (the original's `CounterfactualEstimator`):
 * scores a proposed action against the impact of not acting, and enforces
 * the verdict: proceed, review by an approval hook, or block with an
 * {@link ActionBlockedError}. Every decision is written onto the action's
 * span and counted in `agent_safety.gate.decisions`.
 *
 * @module
 */
import { context, diag, trace } from '@opentelemetry/api';
import type { Attributes, Context } from '@opentelemetry/api';
import { ActionBlockedError } from '../../patterns/gate/action-blocked-error.js';
import { hashArguments } from '../../patterns/shared/arguments-hash.js';
import { systemClock } from '../../patterns/shared/clock.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { impactThresholds } from '../../patterns/gate/impact.js';
import type { AssessmentReason, GateEnforcement, GateVerdict, ImpactAssessment, ImpactThresholds } from '../../patterns/gate/impact.js';
import { ImpactAssessor } from '../../patterns/gate/impact-assessor.js';
import type { AssessOptions, AssessResult } from '../../patterns/gate/impact-assessor.js';
import type { ImpactModel } from '../../patterns/gate/impact-model.js';
import { declaredInactionImpact, rulesImpactModel, validateActionMetadata } from '../../patterns/gate/impact-rules.js';
import type { ActionMetadata } from '../../patterns/gate/impact-rules.js';
import { then } from '../../patterns/shared/maybe-promise.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import { REDACTED } from '../../patterns/shared/redaction.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import { runReview } from '../../patterns/gate/review.js';
import type { ApprovalHook, ReviewOutcome, ReviewReason } from '../../patterns/gate/review.js';
import {
  optionalFunction,
  optionalNumber,
  optionalString,
  rejectUnknownOptions,
  requireNonEmptyString,
  requireObject,
} from '../../patterns/shared/validate.js';
import { countGateDecision } from './gate-metrics.js';
import { reviewAnswerFor } from './review-answer.js';
import type { StepEntry } from '../guard/guard-step.js';
import { recordDecision } from '../guard/span-recorder.js';
import {
  ATTR_AGENT_SAFETY_IMPACT_CACHED,
  ATTR_AGENT_SAFETY_IMPACT_COUNTERFACTUAL,
  ATTR_AGENT_SAFETY_IMPACT_DELTA,
  ATTR_AGENT_SAFETY_IMPACT_ENFORCED,
  ATTR_AGENT_SAFETY_IMPACT_FACTOR_PREFIX,
  ATTR_AGENT_SAFETY_IMPACT_LEVEL,
  ATTR_AGENT_SAFETY_IMPACT_PROPOSED,
  ATTR_AGENT_SAFETY_IMPACT_REASON,
  ATTR_AGENT_SAFETY_IMPACT_VERDICT,
  ATTR_AGENT_SAFETY_REVIEW_ARGUMENTS_HASH,
  ATTR_AGENT_SAFETY_REVIEW_DECISION,
  ATTR_AGENT_SAFETY_REVIEW_REASON,
  ATTR_AGENT_SAFETY_REVIEW_REVIEWER,
  ATTR_AGENT_SAFETY_REVIEW_TIMEOUT_MS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  EVENT_AGENT_SAFETY_REVIEW_ANSWERED,
  EVENT_AGENT_SAFETY_REVIEW_REQUESTED,
} from '../shared/semconv.js';
import { telemetry } from '../shared/telemetry.js';
import { PACKAGE_NAME } from '../shared/version.js';

/** Options of {@link CounterfactualEstimator}. */
export interface CounterfactualEstimatorOptions {
  /**
   * Scores the impact of acting, 0..1 (the original's `impact_model`):
   * sync or async, e.g. an LLM judge, a regression or a rules engine.
   * @default rulesImpactModel(): deterministic rules over the tool's declared metadata
   */
  impactModel?: ImpactModel;
  /**
   * Scores the impact of *not* acting, 0..1 (the inaction baseline).
   * @default declaredInactionImpact: the tool's declared `inactionImpact`, else 0
   */
  counterfactualModel?: ImpactModel;
  /** A delta at or above it is blocked, 0..1. @default 0.75 */
  blockThreshold?: number;
  /** A delta at or above it (and below `blockThreshold`) goes to review, 0..1. @default 0.40 */
  reviewThreshold?: number;
  /** Time an asynchronous model gets before the gate blocks (fail closed), in ms. @default 5000 */
  modelTimeoutMs?: number;
  /**
   * Decides reviews: called with the assessment, the call id and the hashed,
   * redacted arguments. @default undefined: every review is denied (fail closed)
   */
  approve?: ApprovalHook;
  /** Time the approval hook gets before the review counts as denied, in ms. @default 60000 */
  reviewTimeoutMs?: number;
  /** Assessments kept by tool call id, so a resumed call is re-checked identically; 0 turns caching off. @default 1000 */
  cacheSize?: number;
  /** Applied to the arguments shown to reviewers and hashed. @default the guard's `redact`, else the instrumentation's */
  redact?: Redactor;
  /** Source of review deadlines. @default Date.now */
  now?: Clock;
}

/** Defaults of {@link CounterfactualEstimatorOptions}. */
export const COUNTERFACTUAL_ESTIMATOR_DEFAULTS = Object.freeze({
  blockThreshold: 0.75,
  reviewThreshold: 0.4,
  modelTimeoutMs: 5_000,
  reviewTimeoutMs: 60_000,
  cacheSize: 1_000,
});

/** Per-call options of {@link CounterfactualEstimator.estimate} and {@link CounterfactualEstimator.gate}. */
export interface GateCallOptions {
  /** The action's metadata (what `guard(fn, { impact })` declares for a guarded tool). */
  metadata?: ActionMetadata;
  /** The tool call id: assessments are cached by it. */
  callId?: string;
  /** Aborts a pending review (the call is then denied). */
  signal?: AbortSignal;
  /**
   * The acting agent, recorded as `gen_ai.agent.id` on the decisions metric.
   * @default the instrumentation's agent
   */
  agentId?: string;
}

/** What the gate decided about one call. */
export interface GateDecision {
  /** The assessment. */
  readonly assessment: ImpactAssessment;
  /** What the gate recommended (`assessment.recommendation`). */
  readonly verdict: GateVerdict;
  /** What happened. */
  readonly enforced: GateEnforcement;
  /** Why: the assessment's reason, or the review's after a review. */
  readonly reason: AssessmentReason | ReviewReason;
  /** The review, when there was one. */
  readonly review: ReviewOutcome | undefined;
  /** Whether the assessment was reused from the cache (same call id and arguments). */
  readonly cached: boolean;
}

const ESTIMATOR_KEYS = [
  'impactModel',
  'counterfactualModel',
  'blockThreshold',
  'reviewThreshold',
  'modelTimeoutMs',
  'approve',
  'reviewTimeoutMs',
  'cacheSize',
  'redact',
  'now',
] as const;

const MAX_TIMEOUT_MS = 2_147_483_647;

const factorKeys = new Map<string, string>();
function factorKey(name: string): string {
  let key = factorKeys.get(name);
  if (key === undefined) {
    key = ATTR_AGENT_SAFETY_IMPACT_FACTOR_PREFIX + name;
    if (factorKeys.size < 256) factorKeys.set(name, key);
  }
  return key;
}

/** The span attributes of an assessment. */
function assessmentAttributes(a: ImpactAssessment, cached: boolean): Attributes {
  const attrs: Attributes = {
    [ATTR_AGENT_SAFETY_IMPACT_PROPOSED]: a.proposedImpact,
    [ATTR_AGENT_SAFETY_IMPACT_COUNTERFACTUAL]: a.counterfactualImpact,
    [ATTR_AGENT_SAFETY_IMPACT_DELTA]: a.impactDelta,
    [ATTR_AGENT_SAFETY_IMPACT_LEVEL]: a.level,
    [ATTR_AGENT_SAFETY_IMPACT_VERDICT]: a.recommendation,
  };
  const factors = a.factors;
  for (const name in factors) attrs[factorKey(name)] = factors[name];
  if (cached) attrs[ATTR_AGENT_SAFETY_IMPACT_CACHED] = true;
  return attrs;
}

/**
 * The gate's decision about one call as plain data for the recorder: the
 * span attributes and review events, the {@link GateDecision} once made,
 * and a stop (`ActionBlockedError`) when the call is refused.
 * @internal
 */
export interface GateRecord extends StepEntry<undefined> {
  /** The decision, on the last record of the chain. */
  readonly decision?: GateDecision;
  readonly next?: () => MaybePromise<GateRecord>;
}

function safeRedact(redact: Redactor, value: unknown): unknown {
  try {
    return redact(value);
  } catch (err) {
    diag.warn(`${PACKAGE_NAME}: the redactor threw on review arguments; the reviewer sees a placeholder`, err);
    return REDACTED;
  }
}

function validateCallOptions(options: GateCallOptions | undefined): void {
  if (options === undefined) return;
  requireObject('gate call options', options);
  rejectUnknownOptions('gate call options', options, ['metadata', 'callId', 'signal', 'agentId']);
  if (options.metadata !== undefined) validateActionMetadata('metadata', options.metadata);
  optionalString('callId', options.callId);
  optionalString('agentId', options.agentId);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal');
}

/**
 * The counterfactual impact gate.
 *
 * `proposed` is the impact model's score of acting, `counterfactual` the
 * counterfactual model's score of not acting, and the gate works on the
 * **signed** delta `proposed − counterfactual`: an action that does less
 * harm than doing nothing is never gated. (The Python original gated on
 * `|proposed − counterfactual|`.) At or above `blockThreshold` the action
 * is blocked; at or above `reviewThreshold` it goes to the approval hook;
 * below, it proceeds.
 *
 * It fails closed: a model that throws, answers anything but a number in
 * 0..1, or exceeds `modelTimeoutMs` blocks the action, and a review that is
 * not answered with a clear approval within `reviewTimeoutMs` (or has no
 * hook) denies it.
 *
 * Give it to `guard(fn, { gate, impact })`, or call {@link gate} yourself.
 *
 * @example
 * ```ts
 * const estimator = new CounterfactualEstimator({
 *   approve: async request => slack.askForApproval(request), // true / false / { approved, reviewer }
 * });
 * const notifyAll = guard(sendToEveryone, {
 *   name: 'notify_all_users',
 *   gate: estimator,
 *   impact: { reversibility: 'irreversible_external', scope: 'global' },
 * });
 * ```
 */
export class CounterfactualEstimator {
  /** The thresholds in force. */
  readonly thresholds: ImpactThresholds;
  /** Time the approval hook gets, in ms. */
  readonly reviewTimeoutMs: number;
  private readonly _assessor: ImpactAssessor;
  private readonly _approve: ApprovalHook | undefined;
  private readonly _redact: Redactor | undefined;
  private readonly _now: Clock;
  /** Whether a model is user code (which may make spans of its own). */
  private readonly _customModels: boolean;

  /** @throws TypeError or RangeError for bad options (thresholds outside 0..1, review above block, …), naming the option and value. */
  constructor(options: CounterfactualEstimatorOptions = {}) {
    requireObject('CounterfactualEstimator options', options);
    rejectUnknownOptions('CounterfactualEstimator', options, ESTIMATOR_KEYS);
    optionalFunction('impactModel', options.impactModel);
    optionalFunction('counterfactualModel', options.counterfactualModel);
    this.thresholds = impactThresholds(options);
    optionalNumber('modelTimeoutMs', options.modelTimeoutMs, { min: 0, minInclusive: false, max: MAX_TIMEOUT_MS });
    optionalFunction('approve', options.approve);
    optionalNumber('reviewTimeoutMs', options.reviewTimeoutMs, { min: 0, minInclusive: false, max: MAX_TIMEOUT_MS });
    optionalNumber('cacheSize', options.cacheSize, { min: 0, integer: true });
    optionalFunction('redact', options.redact);
    optionalFunction('now', options.now);
    this.reviewTimeoutMs = options.reviewTimeoutMs ?? COUNTERFACTUAL_ESTIMATOR_DEFAULTS.reviewTimeoutMs;
    this._approve = options.approve;
    this._redact = options.redact;
    this._now = options.now ?? systemClock;
    this._customModels = options.impactModel !== undefined || options.counterfactualModel !== undefined;
    this._assessor = new ImpactAssessor({
      impactModel: options.impactModel ?? rulesImpactModel(),
      counterfactualModel: options.counterfactualModel ?? declaredInactionImpact,
      thresholds: this.thresholds,
      modelTimeoutMs: options.modelTimeoutMs ?? COUNTERFACTUAL_ESTIMATOR_DEFAULTS.modelTimeoutMs,
      cacheSize: options.cacheSize ?? COUNTERFACTUAL_ESTIMATOR_DEFAULTS.cacheSize,
    });
  }

  /** Assessments cached by call id now. */
  get cachedAssessments(): number {
    return this._assessor.cacheSize;
  }

  /** Forgets every cached assessment. */
  clearCache(): void {
    this._assessor.clearCache();
  }

  /**
   * Assesses `action` called with `args` without enforcing anything (the
   * original's `estimate`): no review, no error, nothing recorded. Never
   * rejects for a failing model: the assessment is then a fail-closed block.
   *
   * @example
   * ```ts
   * const a = await estimator.estimate('send_push', { userId: 'u1' }, { metadata: { reversibility: 'irreversible_external', scope: 'user' } });
   * a.level;          // 'LOW'
   * a.recommendation; // 'proceed'
   * ```
   */
  async estimate(action: string, args: unknown, options?: GateCallOptions): Promise<ImpactAssessment> {
    requireNonEmptyString('action', action);
    validateCallOptions(options);
    return (await this._assessor.assess(action, args, options)).assessment;
  }

  /**
   * Assesses and enforces (the original's `gate`): resolves with the decision
   * when the action may run (`proceeded` or `approved`), rejects with an
   * {@link ActionBlockedError} when it is `blocked` or `denied`. The
   * decision is written onto the active span, if any, and counted.
   */
  async gate(action: string, args: unknown, options?: GateCallOptions): Promise<GateDecision> {
    requireNonEmptyString('action', action);
    validateCallOptions(options);
    const agentId = options?.agentId ?? telemetry.settings.agent?.id;
    const span = trace.getActiveSpan();
    const recording = span !== undefined && span.isRecording();
    const decided = this.decide(action, args, options, telemetry.settings.redact, options?.signal, undefined, agentId, recording);
    const last = await recordDecision(recording ? span : undefined, await decided);
    if (last.stop !== undefined) throw last.stop.error;
    return last.decision!;
  }

  /**
   * @internal The gate step of a guarded call: assess, ask for a review when
   * the verdict says so, count; answer with the attributes and events to
   * record (only when `recording`) and, when refused, a stop with an
   * {@link ActionBlockedError}. Synchronous with synchronous models and no
   * review. `ctx` (the guarded call's context) is made active around user
   * models and the approval hook, so the spans they make are children of
   * the call's span.
   */
  decide(
    action: string,
    args: unknown,
    options: AssessOptions | undefined,
    redact: Redactor,
    signal: AbortSignal | undefined,
    ctx: Context | undefined,
    agentId: string | undefined,
    recording: boolean,
  ): MaybePromise<GateRecord> {
    const result =
      ctx !== undefined && this._customModels
        ? context.with(ctx, () => this._assessor.assess(action, args, options))
        : this._assessor.assess(action, args, options);
    return then(result, r => this._enforce(r, args, redact, signal, ctx, agentId, recording));
  }

  private _enforce(
    { assessment, cached }: AssessResult,
    args: unknown,
    redact: Redactor,
    signal: AbortSignal | undefined,
    ctx: Context | undefined,
    agentId: string | undefined,
    recording: boolean,
  ): GateRecord {
    const attributes = recording ? assessmentAttributes(assessment, cached) : undefined;
    const verdict = assessment.recommendation;
    if (verdict === 'review') {
      const shown = safeRedact(this._redact ?? redact, args);
      const argumentsHash = hashArguments(shown);
      let events: GateRecord['events'];
      if (recording) {
        const requested: Attributes = {
          [ATTR_AGENT_SAFETY_REVIEW_ARGUMENTS_HASH]: argumentsHash,
          [ATTR_AGENT_SAFETY_IMPACT_LEVEL]: assessment.level,
          [ATTR_AGENT_SAFETY_IMPACT_DELTA]: assessment.impactDelta,
          [ATTR_AGENT_SAFETY_REVIEW_TIMEOUT_MS]: this.reviewTimeoutMs,
        };
        if (assessment.callId !== undefined) requested[ATTR_GEN_AI_TOOL_CALL_ID] = assessment.callId;
        events = [{ name: EVENT_AGENT_SAFETY_REVIEW_REQUESTED, attributes: requested }];
      }
      // The review starts once the request is on the span.
      return { attributes, events, next: () => this._review(assessment, cached, shown, argumentsHash, signal, ctx, agentId, recording) };
    }
    const decision: GateDecision = {
      assessment,
      verdict,
      enforced: verdict === 'proceed' ? 'proceeded' : 'blocked',
      reason: assessment.reason,
      review: undefined,
      cached,
    };
    countGateDecision(decision.verdict, decision.enforced, agentId);
    if (attributes !== undefined) {
      attributes[ATTR_AGENT_SAFETY_IMPACT_ENFORCED] = decision.enforced;
      attributes[ATTR_AGENT_SAFETY_IMPACT_REASON] = decision.reason;
    }
    if (decision.enforced === 'blocked') {
      return { attributes, decision, stop: { error: new ActionBlockedError(assessment), outcome: 'blocked' } };
    }
    return { attributes, decision };
  }

  private async _review(
    assessment: ImpactAssessment,
    cached: boolean,
    shown: unknown,
    argumentsHash: string,
    signal: AbortSignal | undefined,
    ctx: Context | undefined,
    agentId: string | undefined,
    recording: boolean,
  ): Promise<GateRecord> {
    // An answer the framework's approval flow already collected for this call wins over the hook.
    const given = reviewAnswerFor(ctx ?? context.active(), assessment.callId);
    const hook: ApprovalHook | undefined = given !== undefined ? () => given : this._approve;
    const review = await runReview(
      hook === undefined || ctx === undefined ? hook : request => context.with(ctx, hook, undefined, request),
      { action: assessment.action, callId: assessment.callId, argumentsHash, arguments: shown, assessment },
      this.reviewTimeoutMs,
      this._now(),
      signal,
    );
    const decision: GateDecision = {
      assessment,
      verdict: 'review',
      enforced: review.approved ? 'approved' : 'denied',
      reason: review.reason,
      review,
      cached,
    };
    countGateDecision(decision.verdict, decision.enforced, agentId);
    let events: GateRecord['events'];
    let attributes: Attributes | undefined;
    if (recording) {
      const answered: Attributes = {
        [ATTR_AGENT_SAFETY_REVIEW_DECISION]: review.approved ? 'approved' : 'denied',
        [ATTR_AGENT_SAFETY_REVIEW_REASON]: review.reason,
      };
      if (review.reviewer !== undefined) answered[ATTR_AGENT_SAFETY_REVIEW_REVIEWER] = review.reviewer;
      events = [{ name: EVENT_AGENT_SAFETY_REVIEW_ANSWERED, attributes: answered }];
      attributes = { [ATTR_AGENT_SAFETY_IMPACT_ENFORCED]: decision.enforced, [ATTR_AGENT_SAFETY_IMPACT_REASON]: decision.reason };
    }
    if (!review.approved) {
      return { attributes, events, decision, stop: { error: new ActionBlockedError(assessment, review), outcome: 'denied' } };
    }
    return { attributes, events, decision };
  }
}
