import { brandOf, hasBrand } from './brand.js';

const TOOL_TIMEOUT = brandOf('ToolTimeoutError');

/**
 * Thrown by a guarded call that did not settle within its `timeoutMs`.
 *
 * A timeout is a failure of the tool (it was too slow), unlike an abort by
 * the caller, which is reported as an abort.
 */
export class ToolTimeoutError extends Error {
  /** The tool that timed out. */
  readonly toolName: string;
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number;
  declare readonly [TOOL_TIMEOUT]: true;

  constructor(toolName: string, timeoutMs: number) {
    super(`tool "${toolName}" did not finish within ${timeoutMs} ms`);
    this.name = 'ToolTimeoutError';
    this.toolName = toolName;
    this.timeoutMs = timeoutMs;
    Object.defineProperty(this, TOOL_TIMEOUT, { value: true });
  }
}

/** True when `e` is a {@link ToolTimeoutError}, from any copy of this package. */
export function isToolTimeoutError(e: unknown): e is ToolTimeoutError {
  return hasBrand(e, TOOL_TIMEOUT);
}

/**
 * True when `err` is an abort (its `name` is `AbortError`, as for
 * `AbortSignal.abort()`'s default reason and aborted `fetch` calls), from
 * any realm.
 */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}
