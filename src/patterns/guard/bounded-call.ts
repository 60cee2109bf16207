/**
 * Calls user code (a model, an approval hook) that may be synchronous or
 * asynchronous, never throws, and bounds the asynchronous case by a timeout.
 * A synchronous call returns synchronously: no promise, no timer.
 *
 * @module
 */

/** How a bounded call ended. */
export type BoundedResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly failure: 'error' | 'timeout' | 'aborted'; readonly error: unknown };

/**
 * A lazily created `AbortSignal` for one bounded call: nothing is allocated
 * unless the callee reads it.
 */
export class LazyAbort {
  private _controller: AbortController | undefined;
  private _reason: unknown;
  private _aborted = false;

  /** The signal the callee may observe. */
  get signal(): AbortSignal {
    if (this._controller === undefined) {
      this._controller = new AbortController();
      if (this._aborted) this._controller.abort(this._reason);
    }
    return this._controller.signal;
  }

  /** Aborts the signal (now, or when it is first read). */
  abort(reason: unknown): void {
    if (this._aborted) return;
    this._aborted = true;
    this._reason = reason;
    this._controller?.abort(reason);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** Thrown into `abort` when the time is up. */
export class BoundedCallTimeout extends Error {
  /** The limit that was exceeded, in ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`did not settle within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Runs `fn()`. A value or a throw is returned at once; a promise is awaited
 * for at most `timeoutMs` (then `abort` is aborted and the result is a
 * `timeout` failure) or until `signal` aborts (an `aborted` failure). A late
 * settlement is ignored and never becomes an unhandled rejection.
 */
export function boundedCall<T>(
  fn: () => T | PromiseLike<T>,
  timeoutMs: number,
  abort?: LazyAbort,
  signal?: AbortSignal,
): BoundedResult<T> | Promise<BoundedResult<T>> {
  let value: T | PromiseLike<T>;
  try {
    value = fn();
  } catch (error) {
    return { ok: false, failure: 'error', error };
  }
  if (!isThenable(value)) return { ok: true, value };
  const pending = value;
  return new Promise<BoundedResult<T>>(resolve => {
    let done = false;
    const finish = (result: BoundedResult<T>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = (): void => {
      abort?.abort(signal?.reason);
      finish({ ok: false, failure: 'aborted', error: signal?.reason });
    };
    const timer = setTimeout(() => {
      const error = new BoundedCallTimeout(timeoutMs);
      abort?.abort(error);
      finish({ ok: false, failure: 'timeout', error });
    }, timeoutMs);
    // Not unref'd: the caller is waiting for this decision, and the timer is
    // what guarantees it arrives.
    if (signal !== undefined) {
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
    }
    Promise.resolve(pending).then(
      v => finish({ ok: true, value: v }),
      error => finish({ ok: false, failure: 'error', error }),
    );
  });
}
