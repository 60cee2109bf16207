/**
 * Captures what the package reports through the OpenTelemetry `diag` logger,
 * so that tests can check that a swallowed failure was reported.
 */
import { DiagLogLevel, diag } from '@opentelemetry/api';

export interface DiagCapture {
  /** Messages logged at warn level or above, in order. */
  readonly messages: string[];
  /** Resolves when a message matching `re` has been logged (rejects after 5 s, so a broken test fails instead of hanging). */
  waitFor(re: RegExp): Promise<string>;
  /** Stops capturing. */
  restore(): void;
}

/** Starts capturing `diag` messages (warn and above). */
export function captureDiag(): DiagCapture {
  const messages: string[] = [];
  const waiters: { re: RegExp; resolve: (m: string) => void }[] = [];
  const log = (message: string): void => {
    messages.push(message);
    for (const w of [...waiters]) {
      if (w.re.test(message)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  };
  diag.setLogger(
    { error: log, warn: log, info: () => {}, debug: () => {}, verbose: () => {} },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  return {
    messages,
    waitFor(re) {
      const found = messages.find(m => re.test(m));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no diag message matching ${re}; got: ${messages.join(' | ')}`)), 5_000);
        timer.unref();
        waiters.push({
          re,
          resolve: m => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    restore: () => diag.disable(),
  };
}
