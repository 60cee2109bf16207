/**
 * Allow and deny rules as code: which agent may call which tool, with
 * constraints on the arguments. Deny overrides allow; when no rule matches,
 * the policy's default effect applies. A constraint that cannot be evaluated
 * (a number expected, something else found) is an evaluation error, and an
 * evaluation error denies: the policy fails closed.
 *
 * @module
 */
import { optionalFunction, rejectUnknownOptions, requireNonEmptyString, requireNumber, requireObject, requireOneOf } from '../shared/validate.js';

/** What a policy decides about: who calls which tool, with what, in which run. */
export interface PolicySubject {
  /** The acting agent's id, when known. */
  readonly agent: string | undefined;
  /** The tool's name. */
  readonly tool: string;
  /** The run (an `invokeAgent` span) the call belongs to, when known. */
  readonly run: string | undefined;
  /** The call's arguments, as given to the tool. */
  readonly args: readonly unknown[];
}

/**
 * A constraint on one argument value. Every field given must hold. `min`,
 * `max` need a number, `pattern` and `maxLength` a string (or array for
 * `maxLength`): anything else is an evaluation error.
 */
export interface ArgumentConstraint {
  /** The value equals this (`===`). */
  equals?: string | number | boolean | null;
  /** The value is one of these (`===`). */
  oneOf?: readonly (string | number | boolean | null)[];
  /** A number at least this. */
  min?: number;
  /** A number at most this. */
  max?: number;
  /** A string this pattern matches. */
  pattern?: RegExp;
  /** A string or array at most this long. */
  maxLength?: number;
  /** The value is present (not `undefined`) when true, absent when false. */
  present?: boolean;
}

/** One allow or deny rule. Every condition given must hold for the rule to match. */
export interface PolicyRule {
  /** Recorded as `agent_safety.policy.rule` when the rule decides. */
  name: string;
  /** What the rule does when it matches. */
  effect: 'allow' | 'deny';
  /** Agent ids it applies to. @default every agent */
  agents?: readonly string[];
  /** Tool names it applies to. @default every tool */
  tools?: readonly string[];
  /**
   * Constraints on the arguments, by path: `'to'`, `'payment.amount'`.
   * Paths start at the tool's only argument, or at the argument list when
   * it takes several (`'0'`, `'1.amount'`).
   */
  where?: Readonly<Record<string, ArgumentConstraint>>;
  /** A predicate on the call; a throw is an evaluation error (the call is denied). */
  when?: (subject: PolicySubject) => boolean;
}

/** The outcome of the rules for one call. */
export type RulesVerdict =
  | { readonly effect: 'allow' | 'deny'; readonly rule: string | undefined; readonly error?: undefined }
  | { readonly effect: 'error'; readonly rule: string; readonly error: string };

const RULE_KEYS = ['name', 'effect', 'agents', 'tools', 'where', 'when'] as const;
const CONSTRAINT_KEYS = ['equals', 'oneOf', 'min', 'max', 'pattern', 'maxLength', 'present'] as const;

function optionalStringList(option: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.length === 0) throw new TypeError(`${option} must be a non-empty array of strings`);
  value.forEach((v, i) => requireNonEmptyString(`${option}[${i}]`, v));
}

/** Throws naming the option when `rules` are not valid policy rules. */
export function validatePolicyRules(option: string, rules: unknown): void {
  if (!Array.isArray(rules)) throw new TypeError(`${option} must be an array of rules`);
  const names = new Set<string>();
  rules.forEach((rule, i) => {
    const at = `${option}[${i}]`;
    requireObject(at, rule);
    rejectUnknownOptions(at, rule as object, RULE_KEYS);
    const r = rule as PolicyRule;
    requireNonEmptyString(`${at}.name`, r.name);
    if (names.has(r.name)) throw new TypeError(`${at}.name ${JSON.stringify(r.name)} is used twice`);
    names.add(r.name);
    requireOneOf(`${at}.effect`, r.effect, ['allow', 'deny']);
    optionalStringList(`${at}.agents`, r.agents);
    optionalStringList(`${at}.tools`, r.tools);
    optionalFunction(`${at}.when`, r.when);
    if (r.where === undefined) return;
    requireObject(`${at}.where`, r.where);
    for (const [path, c] of Object.entries(r.where)) {
      const cat = `${at}.where[${JSON.stringify(path)}]`;
      if (path === '') throw new TypeError(`${at}.where has an empty path`);
      requireObject(cat, c);
      rejectUnknownOptions(cat, c, CONSTRAINT_KEYS);
      if (Object.keys(c).length === 0) throw new TypeError(`${cat} constrains nothing`);
      if (c.min !== undefined) requireNumber(`${cat}.min`, c.min);
      if (c.max !== undefined) requireNumber(`${cat}.max`, c.max);
      if (c.maxLength !== undefined) requireNumber(`${cat}.maxLength`, c.maxLength, { min: 0, integer: true });
      if (c.pattern !== undefined && !(c.pattern instanceof RegExp)) throw new TypeError(`${cat}.pattern must be a RegExp`);
      if (c.oneOf !== undefined && !Array.isArray(c.oneOf)) throw new TypeError(`${cat}.oneOf must be an array`);
      if (c.present !== undefined && typeof c.present !== 'boolean') throw new TypeError(`${cat}.present must be a boolean`);
    }
  });
}

/** A rule prepared for evaluation: paths split once. */
interface CompiledRule {
  rule: PolicyRule;
  agents: ReadonlySet<string> | undefined;
  tools: ReadonlySet<string> | undefined;
  where: readonly { path: string; keys: readonly string[]; c: ArgumentConstraint }[];
}

/** Thrown inside evaluation for a constraint that cannot be evaluated. */
class ConstraintError extends Error {}

function valueAt(root: unknown, keys: readonly string[]): unknown {
  let v = root;
  for (const k of keys) {
    if (v === null || typeof v !== 'object') return undefined;
    v = Object.prototype.hasOwnProperty.call(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  }
  return v;
}

function holds(path: string, c: ArgumentConstraint, v: unknown): boolean {
  if (c.present !== undefined && (v !== undefined) !== c.present) return false;
  if (c.equals !== undefined && v !== c.equals) return false;
  if (c.oneOf !== undefined && !c.oneOf.includes(v as never)) return false;
  if (c.min !== undefined || c.max !== undefined) {
    if (typeof v !== 'number' || Number.isNaN(v)) throw new ConstraintError(`${path} is not a number`);
    if (c.min !== undefined && v < c.min) return false;
    if (c.max !== undefined && v > c.max) return false;
  }
  if (c.pattern !== undefined) {
    if (typeof v !== 'string') throw new ConstraintError(`${path} is not a string`);
    c.pattern.lastIndex = 0;
    if (!c.pattern.test(v)) return false;
  }
  if (c.maxLength !== undefined) {
    if (typeof v !== 'string' && !Array.isArray(v)) throw new ConstraintError(`${path} has no length`);
    if (v.length > c.maxLength) return false;
  }
  return true;
}

/** The rules of a policy, compiled once. */
export class PolicyRules {
  private readonly _rules: readonly CompiledRule[];
  private readonly _default: 'allow' | 'deny';

  constructor(rules: readonly PolicyRule[], defaultEffect: 'allow' | 'deny') {
    this._default = defaultEffect;
    this._rules = rules.map(rule => ({
      rule,
      agents: rule.agents && new Set(rule.agents),
      tools: rule.tools && new Set(rule.tools),
      where: Object.entries(rule.where ?? {}).map(([path, c]) => ({ path, keys: path.split('.'), c })),
    }));
  }

  /** True when there is nothing to evaluate (no rule, default allow). */
  get empty(): boolean {
    return this._rules.length === 0 && this._default === 'allow';
  }

  /** Evaluates every rule: a matching deny wins, then a matching allow, then the default. */
  evaluate(subject: PolicySubject): RulesVerdict {
    let allowedBy: string | undefined;
    const root = subject.args.length === 1 ? subject.args[0] : subject.args;
    for (const { rule, agents, tools, where } of this._rules) {
      if (tools !== undefined && !tools.has(subject.tool)) continue;
      if (agents !== undefined && (subject.agent === undefined || !agents.has(subject.agent))) continue;
      if (rule.effect === 'allow' && allowedBy !== undefined) continue; // one allow is enough; denies are still checked
      let matches: boolean;
      try {
        matches = where.every(w => holds(w.path, w.c, valueAt(root, w.keys)));
        if (matches && rule.when !== undefined) matches = rule.when(subject) === true;
      } catch (err) {
        return { effect: 'error', rule: rule.name, error: err instanceof Error ? err.message : String(err) };
      }
      if (!matches) continue;
      if (rule.effect === 'deny') return { effect: 'deny', rule: rule.name };
      allowedBy = rule.name;
    }
    if (allowedBy !== undefined) return { effect: 'allow', rule: allowedBy };
    return { effect: this._default, rule: undefined };
  }
}
