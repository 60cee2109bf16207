/**
 * The default impact model: deterministic, explainable rules over the
 * metadata a tool declares about itself. Pure: no OpenTelemetry, no I/O.
 *
 * ```
 * proposed = environment · max(reversibility · scope, cost, floor)
 * ```
 *
 * | Factor | Scoring |
 * |---|---|
 * | reversibility | read_only 0 · compensated 0.2 · manual_undo 0.5 · irreversible_internal 0.8 · irreversible_external 1 |
 * | scope | record 0.2 · user 0.3 · cohort 0.3 + 0.5·log10(n)/log10(population) · global 1 |
 * | cost | min(1, ln(1 + cost) / ln(1 + costCap)) |
 * | environment | prod 1 · staging 0.3 · sandbox 0.1 |
 *
 * An undeclared reversibility or scope counts as its worst value
 * (irreversible_external, global): what the tool does not say can only
 * raise its score.
 *
 * @module
 */
import type { ImpactModel, ImpactScore } from './impact-model.js';
import { optionalNumber, rejectUnknownOptions, requireNumber, requireObject, requireOneOf } from '../shared/validate.js';

/** How far an action can be undone. */
export type Reversibility = 'read_only' | 'compensated' | 'manual_undo' | 'irreversible_internal' | 'irreversible_external';
/** How many subjects an action touches. */
export type ImpactScope = 'record' | 'user' | 'cohort' | 'global';
/** Where the action runs. */
export type DeploymentEnvironment = 'prod' | 'staging' | 'sandbox';

/** Reversibility scores: read-only 0 … irreversible outside the system (money moved, message sent, post published) 1. */
export const REVERSIBILITY_SCORES: Readonly<Record<Reversibility, number>> = Object.freeze({
  read_only: 0,
  compensated: 0.2,
  manual_undo: 0.5,
  irreversible_internal: 0.8,
  irreversible_external: 1,
});

/** Scope scores of the fixed scopes (a cohort scales with its size). */
export const SCOPE_SCORES: Readonly<Record<Exclude<ImpactScope, 'cohort'>, number>> = Object.freeze({ record: 0.2, user: 0.3, global: 1 });

/** Environment multipliers. */
export const ENVIRONMENT_SCORES: Readonly<Record<DeploymentEnvironment, number>> = Object.freeze({ prod: 1, staging: 0.3, sandbox: 0.1 });

const REVERSIBILITIES = Object.keys(REVERSIBILITY_SCORES) as Reversibility[];
const SCOPES: ImpactScope[] = ['record', 'user', 'cohort', 'global'];
const ENVIRONMENTS = Object.keys(ENVIRONMENT_SCORES) as DeploymentEnvironment[];

/**
 * What a tool declares about its own impact, once, where it is guarded
 * (`guard(fn, { impact })`). Read by the rules model; the counterfactual
 * default reads `inactionImpact`. Custom models receive it too.
 */
export interface ActionMetadata {
  /** How far the action can be undone. @default 'irreversible_external' (the worst) */
  reversibility?: Reversibility;
  /** How many subjects it touches. @default 'global' (the worst) */
  scope?: ImpactScope;
  /** With `scope: 'cohort'`: how many subjects (an integer ≥ 1). Required for a cohort. */
  cohortSize?: number;
  /** Money (or another cost, in the unit of the model's `costCap`) the action spends. @default 0 */
  cost?: number;
  /** Where it runs; overrides the rules model's `environment`. */
  environment?: DeploymentEnvironment;
  /** A policy floor: the least impact this action is ever scored at, 0..1. @default 0 */
  floor?: number;
  /**
   * The impact of *not* acting, 0..1 (e.g. a deadline is missed): the
   * default counterfactual model returns it. @default 0
   */
  inactionImpact?: number;
}

const METADATA_KEYS = ['reversibility', 'scope', 'cohortSize', 'cost', 'environment', 'floor', 'inactionImpact'] as const;

/**
 * Throws a `TypeError`/`RangeError` naming the field (prefixed by `option`)
 * when `metadata` is not valid {@link ActionMetadata}.
 */
export function validateActionMetadata(option: string, metadata: unknown): asserts metadata is ActionMetadata {
  if (validated.has(metadata as object)) return;
  requireObject(option, metadata);
  const m = metadata as ActionMetadata;
  rejectUnknownOptions(option, m, METADATA_KEYS);
  if (m.reversibility !== undefined) requireOneOf(`${option}.reversibility`, m.reversibility, REVERSIBILITIES);
  if (m.scope !== undefined) requireOneOf(`${option}.scope`, m.scope, SCOPES);
  if (m.scope === 'cohort') requireNumber(`${option}.cohortSize`, m.cohortSize, { min: 1, integer: true });
  else optionalNumber(`${option}.cohortSize`, m.cohortSize, { min: 1, integer: true });
  optionalNumber(`${option}.cost`, m.cost, { min: 0 });
  if (m.environment !== undefined) requireOneOf(`${option}.environment`, m.environment, ENVIRONMENTS);
  optionalNumber(`${option}.floor`, m.floor, { min: 0, max: 1 });
  optionalNumber(`${option}.inactionImpact`, m.inactionImpact, { min: 0, max: 1 });
  // A frozen object cannot change after it passed: skip it next time (hot path).
  if (Object.isFrozen(m)) validated.add(m);
}

const validated = new WeakSet<object>();

/** Options of {@link rulesImpactModel}. */
export interface RulesImpactModelOptions {
  /** The environment of this process, unless a tool declares its own. @default 'prod' */
  environment?: DeploymentEnvironment;
  /** The whole population a cohort is a part of (a cohort of this size scores 0.8). @default 1_000_000 */
  population?: number;
  /** The cost that scores 1. @default 1_000 */
  costCap?: number;
}

/** Defaults of {@link RulesImpactModelOptions}. */
export const RULES_IMPACT_MODEL_DEFAULTS: Readonly<Required<RulesImpactModelOptions>> = Object.freeze({
  environment: 'prod',
  population: 1_000_000,
  costCap: 1_000,
});

/** The rules model's factors for one action, each in 0..1 (`floor` only when the tool declared one). */
export type RulesFactors = Readonly<Record<'reversibility' | 'scope' | 'cost' | 'environment', number>> & { readonly floor?: number };

/**
 * The rules model's score of `metadata`, with every factor. Validates the
 * metadata (throws naming the field when it is invalid).
 */
export function scoreActionMetadata(metadata: ActionMetadata, options: Required<RulesImpactModelOptions>): { score: number; factors: RulesFactors } {
  validateActionMetadata('impact', metadata);
  const reversibility = REVERSIBILITY_SCORES[metadata.reversibility ?? 'irreversible_external'];
  const scopeKind = metadata.scope ?? 'global';
  let scope: number;
  if (scopeKind === 'cohort') {
    const n = Math.min(metadata.cohortSize as number, options.population);
    scope = options.population > 1 ? 0.3 + (0.5 * Math.log10(n)) / Math.log10(options.population) : 0.8;
  } else {
    scope = SCOPE_SCORES[scopeKind];
  }
  const cost = Math.min(1, Math.log1p(metadata.cost ?? 0) / Math.log1p(options.costCap));
  const environment = ENVIRONMENT_SCORES[metadata.environment ?? options.environment];
  const floor = metadata.floor;
  const score = Math.min(1, environment * Math.max(reversibility * scope, cost, floor ?? 0));
  // The floor is a policy, not a factor: reported only when declared.
  return { score, factors: floor === undefined ? { reversibility, scope, cost, environment } : { reversibility, scope, cost, environment, floor } };
}

/**
 * The default impact model: scores the tool's declared {@link ActionMetadata}
 * with the rules above and reports each factor. A tool that declared no
 * metadata makes it throw, so the gate blocks it (fail closed) and says why.
 *
 * @throws TypeError or RangeError at creation for bad options, naming them.
 *
 * @example
 * ```ts
 * const estimator = new CounterfactualEstimator({ impactModel: rulesImpactModel({ environment: 'staging' }) });
 * ```
 */
export function rulesImpactModel(options: RulesImpactModelOptions = {}): ImpactModel {
  requireObject('rulesImpactModel options', options);
  rejectUnknownOptions('rulesImpactModel', options, ['environment', 'population', 'costCap']);
  if (options.environment !== undefined) requireOneOf('environment', options.environment, ENVIRONMENTS);
  optionalNumber('population', options.population, { min: 1 });
  optionalNumber('costCap', options.costCap, { min: 0, minInclusive: false });
  const resolved: Required<RulesImpactModelOptions> = { ...RULES_IMPACT_MODEL_DEFAULTS, ...definedOnly(options) };
  const model: ImpactModel = (action, _args, context): ImpactScore => {
    if (context.metadata === undefined) {
      throw new TypeError(`the rules impact model needs the metadata of "${action}": declare \`impact\` where the tool is guarded`);
    }
    const { score, factors } = scoreActionMetadata(context.metadata, resolved);
    return { score, factors };
  };
  return model;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(o) as (keyof T)[]) if (o[key] !== undefined) out[key] = o[key];
  return out;
}

/**
 * The default counterfactual model: the impact of not acting is what the
 * tool declared as `inactionImpact`, else 0.
 */
export const declaredInactionImpact: ImpactModel = (_action, _args, context) => context.metadata?.inactionImpact ?? 0;
