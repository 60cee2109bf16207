/**
 * What every adapter shares: the safety options a framework tool accepts
 * (the framework supplies the name, call id, signal and input), the gate's
 * verdict asked ahead of a framework's approval step, and the reason shown
 * to the human.
 *
 * @module
 */
import { guard } from '../../instrumentation/guard/guard.js';
import type { GuardOptions, GuardedFunction } from '../../instrumentation/guard/guard.js';
import type { CounterfactualEstimator } from '../../instrumentation/gate/counterfactual-estimator.js';
import type { ImpactAssessment } from '../../patterns/gate/impact.js';
import type { ActionMetadata } from '../../patterns/gate/impact-rules.js';
import { rejectUnknownOptions, requireObject } from '../../patterns/shared/validate.js';

/**
 * The safety options of one framework tool: {@link GuardOptions} without
 * what the framework supplies (name, call id, signal, input selection, enrich).
 * `impact` and `explain.reasoningFn` receive the tool's input only.
 */
export type ToolSafetyOptions<I = unknown> = Omit<GuardOptions<[I]>, 'name' | 'callId' | 'signal' | 'input' | 'enrich'>;

/** The option keys of {@link ToolSafetyOptions}. */
export const TOOL_SAFETY_KEYS = [
  'description',
  'type',
  'agent',
  'timeoutMs',
  'captureArguments',
  'captureResult',
  'redact',
  'breaker',
  'policy',
  'checkpoint',
  'gate',
  'impact',
  'explain',
] as const;

/** Throws naming the option when `options` holds anything but safety options (plus `extra` keys). */
export function validateToolSafety(where: string, options: unknown, extra: readonly string[] = []): void {
  if (options === undefined) return;
  requireObject(where, options);
  rejectUnknownOptions(where, options as object, [...TOOL_SAFETY_KEYS, ...extra]);
}

/** How a framework hands its tool arguments over. */
export interface FrameworkCall<A extends unknown[]> {
  /** The tool's own input. */
  input: (...args: A) => unknown;
  /** The tool call id. */
  callId: (...args: A) => string | undefined;
  /** The caller's abort signal. */
  signal?: (...args: A) => AbortSignal | undefined;
  /** The framework's own span of this call (enrich mode). */
  enrich?: GuardOptions<A>['enrich'];
}

/**
 * Guards a framework tool function named `name`: the guard sees only the
 * tool's input; call id and signal come from the framework's arguments.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the wrapped function keeps whatever signature the framework gives it
export function guardFrameworkTool<F extends (...args: any[]) => any>(
  fn: F,
  name: string,
  safety: ToolSafetyOptions | undefined,
  call: FrameworkCall<Parameters<F>>,
): GuardedFunction<F> {
  const options = { ...(safety ?? {}), name, ...call } as GuardOptions<Parameters<F>, Awaited<ReturnType<F>>>;
  if (options.enrich === undefined) delete options.enrich;
  if (options.signal === undefined) delete options.signal;
  return guard(fn, options);
}

/** The gate's verdict for a call, asked before the framework decides whether a human must approve it. */
export interface ApprovalVerdict {
  /** `proceed`: no approval needed; `review`: a human decides; `block`: refused. */
  readonly verdict: 'proceed' | 'review' | 'block';
  /** For the human (or the model, when blocked): the assessment in one sentence. */
  readonly reason: string;
  /** The assessment (cached by call id, so the guarded call is judged identically). */
  readonly assessment: ImpactAssessment | undefined;
}

const PROCEED: ApprovalVerdict = Object.freeze({ verdict: 'proceed', reason: 'no gate', assessment: undefined });

/**
 * Asks the gate of a tool (without enforcing or recording anything) what it
 * thinks of this call. Fails closed: an impact function that throws blocks.
 */
export async function approvalVerdict(
  safety: ToolSafetyOptions | undefined,
  tool: string,
  input: unknown,
  callId: string | undefined,
): Promise<ApprovalVerdict> {
  const gate = safety?.gate as CounterfactualEstimator | undefined;
  if (gate === undefined) return PROCEED;
  let metadata: ActionMetadata | undefined;
  try {
    const impact = safety?.impact;
    metadata = typeof impact === 'function' ? (impact as (i: unknown) => ActionMetadata)(input) : impact;
  } catch (err) {
    return { verdict: 'block', reason: `the impact declaration of "${tool}" threw: ${err instanceof Error ? err.message : String(err)}`, assessment: undefined };
  }
  const assessment = await gate.estimate(tool, input, { metadata, callId });
  return { verdict: assessment.recommendation, reason: describeAssessment(assessment), assessment };
}

/** One sentence about an assessment, for the human asked to approve. */
export function describeAssessment(a: ImpactAssessment): string {
  if (a.failClosed) return `impact could not be estimated (${a.reason}); blocked`;
  const what = a.recommendation === 'block' ? `block threshold ${a.thresholds.block}` : `review threshold ${a.thresholds.review}`;
  const factors = Object.entries(a.factors)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
  return `${a.action}: impact ${a.level}, delta ${a.impactDelta.toFixed(2)} (${what})${factors === '' ? '' : `; ${factors}`}`;
}
