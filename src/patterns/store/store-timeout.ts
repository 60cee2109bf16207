/**
 * A store operation bounded in time: a store that is down or hung must not
 * hold a decision (the caller then fails closed, or works on its own).
 *
 * @module
 */

/** `promise`, or a rejection (`name` `TimeoutError`) once `ms` have passed; the timer never keeps the process alive. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} took longer than ${ms} ms`), { name: 'TimeoutError' })), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
