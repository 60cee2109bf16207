/**
 * The shape of a pluggable impact model: anything that scores an action in
 * 0..1, synchronously or not (a rules engine, a regression, an LLM judge).
 *
 * @module
 */
import type { ActionMetadata } from './impact-rules.js';

/** A score with the factors that produced it, so that the decision can be explained. */
export interface ImpactScore {
  /** The impact, 0..1. */
  score: number;
  /**
   * Per-factor scores, recorded as `agent_safety.impact.factor.<name>`.
   * Names are lower-case `snake_case`; values finite numbers.
   */
  factors?: Readonly<Record<string, number>>;
}

/** What a model may return: a number in 0..1 or an {@link ImpactScore}, directly or as a promise. */
export type ImpactModelResult = number | ImpactScore | PromiseLike<number | ImpactScore>;

/** What a model is told besides the action and its arguments. */
export interface ImpactModelContext {
  /** The metadata the tool declared where it was guarded (or was given to `estimate`/`gate`). */
  readonly metadata: ActionMetadata | undefined;
  /** The tool call id, when known. */
  readonly callId: string | undefined;
  /**
   * Aborted when the model's time is up: pass it to `fetch` (an LLM judge)
   * so abandoned work stops. Created on first access.
   */
  readonly signal: AbortSignal;
}

/**
 * Scores an action (the original's `impact_model(action_name, args)`).
 * It receives the raw arguments (not redacted): a model that sends them
 * elsewhere (an LLM judge) should redact them itself. From a guarded tool,
 * `args` is the single argument, or the array of arguments when there are
 * several (as `gen_ai.tool.call.arguments` records them).
 *
 * A model that throws, returns anything but a number in 0..1 (or an
 * {@link ImpactScore} holding one) or does not settle within the gate's
 * `modelTimeoutMs` makes the gate block: it fails closed.
 */
export type ImpactModel = (action: string, args: unknown, context: ImpactModelContext) => ImpactModelResult;
