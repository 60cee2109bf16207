/**
 * Cedar policies as a policy's authorizer, through the official
 * `@cedar-policy/cedar-wasm` package (an optional peer dependency, loaded
 * only when {@link cedarAuthorizer} is called: the main entry point does not
 * need it).
 *
 * Each call is one Cedar request:
 * - principal `Agent::"<agent id>"` (`""` when no agent is known),
 * - action `Action::"<tool name>"`,
 * - resource `Run::"<run id>"` (`""` outside any `invokeAgent`),
 * - context `{ tool, arguments, run? , agent? }`: `arguments` is the tool's
 *   only argument when it is an object, else a record of the arguments by
 *   position (`"0"`, `"1"`…). Integers are Cedar longs, other numbers
 *   `decimal` values (4 decimal places), arrays sets, objects records;
 *   `undefined`, functions, symbols and bigints are left out.
 *
 * An evaluation error in any policy (Cedar skips such a policy and may
 * still allow) denies the call here: the policy fails closed. So does a
 * request Cedar cannot take (a value out of range).
 *
 * @module
 */
import type { AuthorizerAnswer, PolicyAuthorizer } from '../../patterns/policy/policy.js';
import type { PolicySubject } from '../../patterns/policy/policy-rules.js';
import { optionalFunction, optionalString, rejectUnknownOptions, requireObject } from '../../patterns/shared/validate.js';

/** A Cedar value in its JSON form. */
export type CedarValue = boolean | number | string | CedarValue[] | { [key: string]: CedarValue } | { __entity: { type: string; id: string } } | { __extn: { fn: string; arg: string } };

/** A Cedar entity in its JSON form (for `entities`). */
export interface CedarEntity {
  uid: { type: string; id: string };
  attrs: Record<string, CedarValue>;
  parents: { type: string; id: string }[];
}

/** Options of {@link cedarAuthorizer}. */
export interface CedarAuthorizerOptions {
  /**
   * The Cedar policies: one text (each policy named by its `@id("…")`
   * annotation, else `policy0`, `policy1`… in order), or texts by name.
   */
  policies: string | Readonly<Record<string, string>>;
  /** Entities the policies may refer to (groups, attributes of agents). @default [] */
  entities?: readonly CedarEntity[];
  /** More context for a call, merged under `context` (e.g. the time, a tenant). A throw denies the call. */
  context?: (subject: PolicySubject) => Record<string, unknown>;
  /** @default 'Agent' */
  principalType?: string;
  /** @default 'Action' */
  actionType?: string;
  /** @default 'Run' */
  resourceType?: string;
}

/** Defaults of {@link CedarAuthorizerOptions}. */
export const CEDAR_AUTHORIZER_DEFAULTS = Object.freeze({ principalType: 'Agent', actionType: 'Action', resourceType: 'Run' });

/** The part of `@cedar-policy/cedar-wasm` used here. */
interface CedarModule {
  checkParsePolicySet(policies: { staticPolicies: string | Record<string, string> }): { type: 'success' } | { type: 'failure'; errors: { message: string }[] };
  preparsePolicySet(id: string, policies: { staticPolicies: string | Record<string, string> }): { type: 'success' } | { type: 'failure'; errors: { message: string }[] };
  policySetTextToParts(text: string): { type: 'success'; policies: string[] } | { type: 'failure'; errors: { message: string }[] };
  statefulIsAuthorized(call: {
    principal: { type: string; id: string };
    action: { type: string; id: string };
    resource: { type: string; id: string };
    context: Record<string, unknown>;
    preparsedPolicySetId: string;
    entities: readonly CedarEntity[];
  }):
    | { type: 'success'; response: { decision: 'allow' | 'deny'; diagnostics: { reason: string[]; errors: { policyId: string; error: { message: string } }[] } } }
    | { type: 'failure'; errors: { message: string }[] };
  getCedarVersion(): string;
}

// Kept in a constant so that the specifier is one place to change; the import is dynamic (lazy).
const CEDAR_PACKAGE = '@cedar-policy/cedar-wasm/nodejs';
let loaded: Promise<CedarModule> | undefined;

/** Loads the Cedar package once. */
function loadCedar(): Promise<CedarModule> {
  loaded ??= import('@cedar-policy/cedar-wasm/nodejs').then(
    m => ((m as { default?: CedarModule }).default ?? m) as CedarModule,
    (err: unknown) => {
      loaded = undefined;
      throw new Error(`cedarAuthorizer needs the package ${CEDAR_PACKAGE.replace('/nodejs', '')} (npm install @cedar-policy/cedar-wasm): ${err instanceof Error ? err.message : String(err)}`);
    },
  );
  return loaded;
}

let policySets = 0;

const ID_ANNOTATION = /@id\s*\(\s*"((?:[^"\\]|\\.)*)"\s*\)/;

/** Cedar JSON of a JS value; `undefined` when it has none. */
function toCedar(value: unknown, depth = 0): CedarValue | undefined {
  if (depth > 32) return undefined;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isSafeInteger(value)) return value;
      if (!Number.isFinite(value)) return undefined;
      return { __extn: { fn: 'decimal', arg: value.toFixed(4) } };
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        const out: CedarValue[] = [];
        for (const v of value) {
          const c = toCedar(v, depth + 1);
          if (c !== undefined) out.push(c);
        }
        return out;
      }
      if (value instanceof Date) return value.toISOString();
      const out: Record<string, CedarValue> = {};
      for (const key of Object.keys(value)) {
        const c = toCedar((value as Record<string, unknown>)[key], depth + 1);
        if (c !== undefined) out[key] = c;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** The `arguments` record of a call. */
function argumentsRecord(args: readonly unknown[]): CedarValue {
  if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])) return toCedar(args[0]) ?? {};
  const out: Record<string, CedarValue> = {};
  args.forEach((a, i) => {
    const c = toCedar(a);
    if (c !== undefined) out[String(i)] = c;
  });
  return out;
}

/** A policy authorizer backed by Cedar. Make one with {@link cedarAuthorizer}. */
export class CedarAuthorizer implements PolicyAuthorizer {
  /** The policy names, in order. */
  readonly policyIds: readonly string[];
  private readonly _cedar: CedarModule;
  private readonly _setId: string;
  private readonly _entities: readonly CedarEntity[];
  private readonly _context: ((subject: PolicySubject) => Record<string, unknown>) | undefined;
  private readonly _types: { principal: string; action: string; resource: string };

  /** @internal use {@link cedarAuthorizer} */
  constructor(cedar: CedarModule, setId: string, policyIds: readonly string[], options: CedarAuthorizerOptions) {
    this._cedar = cedar;
    this._setId = setId;
    this.policyIds = Object.freeze([...policyIds]);
    this._entities = options.entities ?? [];
    this._context = options.context;
    this._types = {
      principal: options.principalType ?? CEDAR_AUTHORIZER_DEFAULTS.principalType,
      action: options.actionType ?? CEDAR_AUTHORIZER_DEFAULTS.actionType,
      resource: options.resourceType ?? CEDAR_AUTHORIZER_DEFAULTS.resourceType,
    };
  }

  /** The Cedar version in use. */
  get cedarVersion(): string {
    return this._cedar.getCedarVersion();
  }

  /** One Cedar request for `subject`. Errors of any kind answer `error` (the call is denied). */
  authorize(subject: PolicySubject): AuthorizerAnswer {
    const context: Record<string, unknown> = { tool: subject.tool, arguments: argumentsRecord(subject.args) };
    if (subject.run !== undefined) context.run = subject.run;
    if (subject.agent !== undefined) context.agent = subject.agent;
    if (this._context !== undefined) {
      const extra = toCedar(this._context(subject));
      if (extra !== undefined && typeof extra === 'object' && !Array.isArray(extra)) Object.assign(context, extra);
    }
    const answer = this._cedar.statefulIsAuthorized({
      principal: { type: this._types.principal, id: subject.agent ?? '' },
      action: { type: this._types.action, id: subject.tool },
      resource: { type: this._types.resource, id: subject.run ?? '' },
      context,
      preparsedPolicySetId: this._setId,
      entities: this._entities,
    });
    if (answer.type === 'failure') return { decision: 'error', policies: [], error: answer.errors.map(e => e.message).join('; ') };
    const { decision, diagnostics } = answer.response;
    if (diagnostics.errors.length > 0) {
      return {
        decision: 'error',
        policies: diagnostics.errors.map(e => e.policyId),
        error: diagnostics.errors.map(e => `${e.policyId}: ${e.error.message}`).join('; '),
      };
    }
    return { decision, policies: diagnostics.reason };
  }
}

/**
 * Loads Cedar and prepares `options.policies`: the authorizer for a
 * `Policy`. Throws when the package is not installed or a policy does not
 * parse, naming the problem.
 *
 * @example
 * ```ts
 * const policy = new Policy({
 *   authorizer: await cedarAuthorizer({
 *     policies: `
 *       @id("everyone-reads") permit(principal, action == Action::"search", resource);
 *       @id("only-mailer-sends") permit(principal == Agent::"mailer", action == Action::"send_email", resource)
 *         when { context.arguments.to like "*@example.com" };`,
 *   }),
 * });
 * ```
 */
export async function cedarAuthorizer(options: CedarAuthorizerOptions): Promise<CedarAuthorizer> {
  requireObject('cedarAuthorizer options', options);
  rejectUnknownOptions('cedarAuthorizer', options, ['policies', 'entities', 'context', 'principalType', 'actionType', 'resourceType']);
  const { policies } = options;
  if (typeof policies !== 'string') {
    requireObject('policies', policies);
    for (const [name, text] of Object.entries(policies)) {
      if (typeof text !== 'string') throw new TypeError(`policies[${JSON.stringify(name)}] must be a string (a Cedar policy)`);
    }
  }
  if (options.entities !== undefined && !Array.isArray(options.entities)) throw new TypeError('entities must be an array of Cedar entities');
  optionalFunction('context', options.context);
  optionalString('principalType', options.principalType);
  optionalString('actionType', options.actionType);
  optionalString('resourceType', options.resourceType);

  const cedar = await loadCedar();
  let named: Record<string, string>;
  if (typeof policies === 'string') {
    const parts = cedar.policySetTextToParts(policies);
    if (parts.type === 'failure') throw new TypeError(`policies do not parse: ${parts.errors.map(e => e.message).join('; ')}`);
    named = {};
    parts.policies.forEach((text, i) => {
      const id = ID_ANNOTATION.exec(text)?.[1] ?? `policy${i}`;
      if (id in named) throw new TypeError(`policies: the id ${JSON.stringify(id)} is used twice`);
      named[id] = text;
    });
  } else {
    named = { ...policies };
  }
  const set = { staticPolicies: named };
  const checked = cedar.checkParsePolicySet(set);
  if (checked.type === 'failure') throw new TypeError(`policies do not parse: ${checked.errors.map(e => e.message).join('; ')}`);
  const setId = `agent-safety-otel/${++policySets}`;
  const prepared = cedar.preparsePolicySet(setId, set);
  if (prepared.type === 'failure') throw new TypeError(`policies do not parse: ${prepared.errors.map(e => e.message).join('; ')}`);
  return new CedarAuthorizer(cedar, setId, Object.keys(named), options);
}
