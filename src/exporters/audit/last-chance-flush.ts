/**
 * The last-chance flush: when the process is about to end without a
 * shutdown (`process.exit()`, an uncaught exception, an unhandled
 * rejection, SIGINT/SIGTERM/SIGHUP), every registered audit journal writes
 * what it holds in memory synchronously (`writeSync`, `fsyncSync`) before
 * the process goes.
 *
 * It never changes how the process would otherwise end:
 * - `exit`: a listener that only writes;
 * - uncaught exceptions and unhandled rejections: `uncaughtExceptionMonitor`
 *   (no `uncaughtException` or `unhandledRejection` listener is added, so
 *   Node's own handling, its error output and exit code stay as they are;
 *   under the default `--unhandled-rejections=throw` a rejection reaches the
 *   monitor as well);
 * - signals: a listener flushes; when it is the only listener of that
 *   signal it removes itself and raises the signal again, so the default
 *   action (termination by that signal) takes place. With other listeners
 *   (the application's, or the bootstrap's shutdown) it only flushes: they
 *   decide what happens.
 *
 * Before the journals write, when the process is certainly ending (the
 * `exit` event, which also follows a fatal exception or rejection, or a
 * signal this module re-raises), the audit chains close: a keyed chain
 * appends its closing seal, so that a run ended by `process.exit()`, a
 * crash or a signal verifies without `--allow-unsealed-tail` (a signal
 * other listeners handle, or an exception a handler catches, may not end
 * the process: then the chains stay open).
 *
 * The hooks are installed with the first registration and removed with the
 * last one. This is the only place of the package with synchronous I/O
 * after start-up, and it runs only when the process is ending.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';

/** Why the last-chance flush ran. */
export type LastChanceReason = 'exit' | 'uncaughtException' | 'unhandledRejection' | 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'deadline';

/** Writes, synchronously, whatever is held in memory. Must not throw (a throw is reported and the others still run). */
export type LastChanceFlush = (reason: LastChanceReason) => void;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type HookedSignal = (typeof SIGNALS)[number];

const flushes = new Set<LastChanceFlush>();
const closers = new Set<LastChanceFlush>();
let installed = false;

/**
 * Runs every registered flush now (also used by a shutdown that ran out of
 * time); with `ending` (the process is certainly ending), the registered
 * closers first.
 */
export function runLastChanceFlush(reason: LastChanceReason, ending = false): void {
  for (const flush of ending ? [...closers, ...flushes] : [...flushes]) {
    try {
      flush(reason);
    } catch (err) {
      try {
        diag.error(`agent-safety-otel: last-chance audit flush (${reason}) failed`, err);
      } catch {
        // nothing left to report with
      }
    }
  }
}

const onExit = (): void => runLastChanceFlush('exit', true);
const onMonitor = (_err: unknown, origin: string): void =>
  runLastChanceFlush(origin === 'unhandledRejection' ? 'unhandledRejection' : 'uncaughtException');
const onSignal = (signal: NodeJS.Signals): void => {
  // Ours the only listener: the signal's default action was to end the process. Let it.
  const alone = process.listenerCount(signal) === 1 && process.listeners(signal)[0] === onSignal;
  runLastChanceFlush(signal as HookedSignal, alone);
  if (alone) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
};

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  process.on('uncaughtExceptionMonitor', onMonitor);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', onExit);
  process.removeListener('uncaughtExceptionMonitor', onMonitor);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/**
 * Registers `flush` to run when the process ends without a shutdown.
 * Returns the function that unregisters it (call it once the journal is
 * closed). @internal
 */
export function onLastChance(flush: LastChanceFlush): () => void {
  return register(flushes, flush);
}

/**
 * Registers `close` to run, before the journals' flushes, when the process
 * is certainly ending without a shutdown (the audit chain's closing seal).
 * It must only append to the journals, synchronously. Returns the function
 * that unregisters it. @internal
 */
export function onLastChanceClose(close: LastChanceFlush): () => void {
  return register(closers, close);
}

/** Adds `fn` to `set`, hooking the process; the returned function removes it, unhooking after the last one. */
function register(set: Set<LastChanceFlush>, fn: LastChanceFlush): () => void {
  set.add(fn);
  install();
  return () => {
    set.delete(fn);
    if (flushes.size === 0 && closers.size === 0) uninstall();
  };
}

/** Journals currently registered (tests). @internal */
export function lastChanceJournals(): number {
  return flushes.size;
}
