/**
 * One start per process. A second `startAgentSafety()` (or one after
 * `--import agent-safety-otel/register`) would register a second SDK whose
 * spans nobody produces into: its audit file would stay empty, silently. So
 * it throws {@link AgentSafetyAlreadyStartedError} naming the first start;
 * after the first one's `shutdown()` has finished, starting again is fine.
 *
 * The claim lives in a global-registry symbol, so that two copies of the
 * package (ESM and CommonJS, or two installs) see each other.
 *
 * @module
 */
import { brandOf, hasBrand } from '../patterns/shared/brand.js';

const ALREADY_STARTED = brandOf('AgentSafetyAlreadyStartedError');
const STARTED = Symbol.for('agent-safety-otel/started');

/**
 * Thrown by `startAgentSafety()` when the package is already started in
 * this process. `firstStart` names the first start (`node --import
 * agent-safety-otel/register`, or `startAgentSafety()` with its call site).
 * Check for it with {@link isAgentSafetyAlreadyStartedError}.
 */
export class AgentSafetyAlreadyStartedError extends Error {
  /** The first start: `node --import agent-safety-otel/register`, or `startAgentSafety() at <call site>`. */
  readonly firstStart: string;
  declare readonly [ALREADY_STARTED]: true;

  constructor(firstStart: string) {
    super(
      `agent-safety-otel is already started in this process, by ${firstStart}; start it once ` +
        '(either --import agent-safety-otel/register, configured by the environment, or startAgentSafety() in code), ' +
        'or await the first handle\'s shutdown() before starting again (a shutdown that ran out of its time leaves the first ' +
        'start in place until its SDK has really stopped)',
    );
    this.name = 'AgentSafetyAlreadyStartedError';
    this.firstStart = firstStart;
    Object.defineProperty(this, ALREADY_STARTED, { value: true });
  }
}

/** True when `e` is an {@link AgentSafetyAlreadyStartedError}, from any copy of this package. */
export function isAgentSafetyAlreadyStartedError(e: unknown): e is AgentSafetyAlreadyStartedError {
  return hasBrand(e, ALREADY_STARTED);
}

/** The process-wide slot: the first start's description while it runs. */
type Slot = { [STARTED]?: string };

/**
 * Claims the process for a start described by `origin`; returns the release
 * (idempotent). Throws {@link AgentSafetyAlreadyStartedError} when a start
 * holds it.
 */
export function claimStart(origin: string): () => void {
  const slot = globalThis as Slot;
  const first = slot[STARTED];
  if (first !== undefined) throw new AgentSafetyAlreadyStartedError(first);
  slot[STARTED] = origin;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (slot[STARTED] === origin) delete slot[STARTED];
  };
}

/** `startAgentSafety() at <the caller's frame>`, from a stack captured above `above`. */
export function callSite(above: (...args: never[]) => unknown): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, above);
  const frame = holder.stack?.split('\n')[1]?.trim().replace(/^at /, '');
  return frame ? `startAgentSafety() at ${frame}` : 'startAgentSafety()';
}
