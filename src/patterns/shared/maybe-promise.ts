/**
 * Values that are ready now or later. The guarded call's fast path stays
 * synchronous (no promise, no microtask) when every step can decide at once;
 * these helpers are the one way the code branches on "now or later".
 *
 * @module
 */

/** A value now, or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Whether `value` is a thenable (a promise, or any object with a `then` method). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * `next(value)` now when `value` is ready, else once it resolves. A throw of
 * `next` on the synchronous path is thrown; a rejection of `value` rejects
 * the result (without calling `next`).
 */
export function then<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value as T);
}
