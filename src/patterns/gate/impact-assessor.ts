/**
 * Runs the impact and counterfactual models for one proposed action and
 * turns their scores into an {@link ImpactAssessment}, failing closed on
 * anything unexpected, and caches assessments by tool call id so that a
 * paused and resumed run is re-checked identically. Pure: no OpenTelemetry.
 *
 * With synchronous models (the rules model, the declared counterfactual)
 * the assessment is returned synchronously: no promise, no timer.
 *
 * @module
 */
import { hashArguments } from '../shared/arguments-hash.js';
import { LazyAbort, boundedCall } from '../guard/bounded-call.js';
import type { BoundedResult } from '../guard/bounded-call.js';
import { assessImpact, failClosedAssessment } from './impact.js';
import type { AssessmentReason, ImpactAssessment, ImpactThresholds } from './impact.js';
import type { ImpactModel, ImpactModelContext, ImpactScore } from './impact-model.js';
import type { ActionMetadata } from './impact-rules.js';

/** What an assessment is about besides the action and its arguments. */
export interface AssessOptions {
  /** The tool's declared metadata, or a function computing it (a throw fails closed). */
  metadata?: ActionMetadata | (() => ActionMetadata);
  /** The tool call id: the cache key. */
  callId?: string;
}

/** The configuration of an {@link ImpactAssessor} (validated by its owner). */
export interface ImpactAssessorConfig {
  readonly impactModel: ImpactModel;
  readonly counterfactualModel: ImpactModel;
  readonly thresholds: ImpactThresholds;
  /** Time an asynchronous model gets, in ms. */
  readonly modelTimeoutMs: number;
  /** Assessments kept by call id; 0 turns the cache off. */
  readonly cacheSize: number;
}

/** An assessment and whether it came from the cache. */
export interface AssessResult {
  readonly assessment: ImpactAssessment;
  readonly cached: boolean;
}

const FACTOR_NAME = /^[a-z][a-z0-9_]{0,63}$/;
const NO_FACTORS: Readonly<Record<string, number>> = Object.freeze({});

type Scored = { readonly score: number; readonly factors: Readonly<Record<string, number>> } | { readonly invalid: string };

/** Checks a model's result: a number in 0..1 or an ImpactScore holding one with well-formed factors. */
function readScore(value: unknown): Scored {
  if (typeof value === 'number') {
    return value >= 0 && value <= 1 ? { score: value, factors: NO_FACTORS } : { invalid: `score ${value} is not in 0..1` };
  }
  if (typeof value !== 'object' || value === null) return { invalid: `returned ${describe(value)}, not a number in 0..1` };
  const { score, factors } = value as ImpactScore;
  if (typeof score !== 'number' || !(score >= 0 && score <= 1)) return { invalid: `score ${describe(score)} is not a number in 0..1` };
  if (factors === undefined) return { score, factors: NO_FACTORS };
  if (typeof factors !== 'object' || factors === null) return { invalid: `factors ${describe(factors)} is not an object` };
  for (const name in factors) {
    if (!Object.prototype.hasOwnProperty.call(factors, name)) continue;
    if (!goodNames.has(name)) {
      if (!FACTOR_NAME.test(name)) return { invalid: `factor name ${JSON.stringify(name)} is not snake_case` };
      if (goodNames.size < 1024) goodNames.add(name);
    }
    const f = factors[name];
    if (typeof f !== 'number' || !Number.isFinite(f)) return { invalid: `factor ${name} = ${describe(f)} is not a finite number` };
  }
  // Kept as given (no defensive copy: this runs on every gated call).
  return { score, factors };
}

/** Factor names already checked (low cardinality by design). */
const goodNames = new Set<string>();

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value;
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return 'unprintable error';
  }
}

/** The lazily created context a model sees. */
class ModelContext implements ImpactModelContext {
  readonly abort = new LazyAbort();
  readonly metadata: ActionMetadata | undefined;
  readonly callId: string | undefined;
  constructor(metadata: ActionMetadata | undefined, callId: string | undefined) {
    this.metadata = metadata;
    this.callId = callId;
  }
  get signal(): AbortSignal {
    return this.abort.signal;
  }
}

/**
 * The gate's estimator core (see module docs). One per gate; safe to share
 * between tools and concurrent calls.
 */
export class ImpactAssessor {
  private readonly _config: ImpactAssessorConfig;
  private readonly _cache = new Map<string, { hash: string; assessment: ImpactAssessment }>();

  constructor(config: ImpactAssessorConfig) {
    this._config = config;
  }

  /** Cached assessments held now. */
  get cacheSize(): number {
    return this._cache.size;
  }

  /** Forgets every cached assessment. */
  clearCache(): void {
    this._cache.clear();
  }

  /**
   * Assesses `action` called with `args`. Never throws: a failing model,
   * metadata function or invalid score yields a fail-closed `block`.
   */
  assess(action: string, args: unknown, options: AssessOptions | undefined): AssessResult | Promise<AssessResult> {
    const callId = options?.callId;
    let key: string | undefined;
    let hash: string | undefined;
    if (callId !== undefined && this._config.cacheSize > 0) {
      key = `${action}\u0000${callId}`;
      hash = hashArguments(args);
      const hit = this._cache.get(key);
      if (hit !== undefined && hit.hash === hash) return { assessment: hit.assessment, cached: true };
    }

    let metadata: ActionMetadata | undefined;
    const declared = options?.metadata;
    if (typeof declared === 'function') {
      try {
        metadata = declared();
      } catch (err) {
        return this._failed(action, callId, 'impact_metadata_error', `computing the impact metadata threw: ${message(err)}`);
      }
    } else {
      metadata = declared;
    }

    const context = new ModelContext(metadata, callId);
    const { impactModel, counterfactualModel, modelTimeoutMs } = this._config;
    const proposed = boundedCall(() => impactModel(action, args, context), modelTimeoutMs, context.abort);
    const baseline = boundedCall(() => counterfactualModel(action, args, context), modelTimeoutMs, context.abort);
    if (!(proposed instanceof Promise) && !(baseline instanceof Promise)) {
      return this._conclude(action, callId, key, hash, proposed, baseline);
    }
    return Promise.all([proposed, baseline]).then(([p, b]) => this._conclude(action, callId, key, hash, p, b));
  }

  private _conclude(
    action: string,
    callId: string | undefined,
    key: string | undefined,
    hash: string | undefined,
    proposed: BoundedResult<unknown>,
    baseline: BoundedResult<unknown>,
  ): AssessResult {
    const p = this._read('impact_model', proposed);
    if ('reason' in p) return this._failed(action, callId, p.reason, `impact model: ${p.detail}`);
    const b = this._read('counterfactual_model', baseline);
    if ('reason' in b) return this._failed(action, callId, b.reason, `counterfactual model: ${b.detail}`);
    const assessment = assessImpact(action, callId, p.score, b.score, p.factors, this._config.thresholds);
    if (key !== undefined && hash !== undefined) this._remember(key, hash, assessment);
    return { assessment, cached: false };
  }

  private _read(
    which: 'impact_model' | 'counterfactual_model',
    result: BoundedResult<unknown>,
  ): { score: number; factors: Readonly<Record<string, number>> } | { reason: AssessmentReason; detail: string } {
    if (!result.ok) {
      return result.failure === 'timeout'
        ? { reason: `${which}_timeout`, detail: `did not answer within ${this._config.modelTimeoutMs} ms` }
        : { reason: `${which}_error`, detail: `threw: ${message(result.error)}` };
    }
    const scored = readScore(result.value);
    return 'invalid' in scored ? { reason: `${which}_invalid`, detail: scored.invalid } : { score: scored.score, factors: scored.factors };
  }

  /** A fail-closed assessment. Not cached: a retry gets a fresh chance (and blocking is the safe side). */
  private _failed(action: string, callId: string | undefined, reason: AssessmentReason, detail: string): AssessResult {
    return { assessment: failClosedAssessment(action, callId, reason, detail, this._config.thresholds), cached: false };
  }

  private _remember(key: string, hash: string, assessment: ImpactAssessment): void {
    this._cache.delete(key);
    if (this._cache.size >= this._config.cacheSize) {
      const oldest = this._cache.keys().next().value as string;
      this._cache.delete(oldest);
    }
    this._cache.set(key, { hash, assessment });
  }
}
