/**
 * Test harness for the breaker's state machine: a hand-driven clock and a
 * tiny table language, so transition tables read as a story.
 */
import * as assert from 'uvu/assert';
import { CircuitBreakerCore } from '../../../src/patterns/breaker/circuit-breaker-core.js';
import type { CircuitBreakerOptions } from '../../../src/patterns/breaker/circuit-breaker-options.js';
import type { BreakerVerdict, CircuitState, Transition } from '../../../src/patterns/breaker/circuit-state.js';
import { isCircuitOpenError } from '../../../src/patterns/breaker/circuit-open-error.js';

/** A clock the test moves by hand. */
export class ManualClock {
  t: number;
  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A core breaker that keeps what it reports, and every transition. */
export class TestBreaker extends CircuitBreakerCore {
  // The base constructor may report (restoring a snapshot) before field
  // initialisers run: keep reports in a declared, lazily created field.
  declare private _reports: { message: string; error: unknown }[] | undefined;
  readonly transitions: Transition[] = [];
  get reports(): { message: string; error: unknown }[] {
    return (this._reports ??= []);
  }
  constructor(options: CircuitBreakerOptions) {
    super(options);
    this.onStateChange((_agent, _from, _to, t) => this.transitions.push(t));
  }
  protected override _reportError(message: string, error: unknown): void {
    (this._reports ??= []).push({ message, error });
  }
  /** Admits and records one call that takes `durationMs`; throws if rejected. */
  call(verdict: BreakerVerdict, clock: ManualClock, durationMs = 0): void {
    const ticket = this.admit();
    if (typeof ticket !== 'number') throw new Error('unexpected wait');
    clock.advance(durationMs);
    this.record(ticket, verdict, durationMs);
  }
  /** True when admission is rejected (nothing is recorded). */
  rejects(): boolean {
    try {
      const ticket = this.admit();
      if (typeof ticket !== 'number') throw new Error('unexpected wait');
      this.record(ticket, 'ignored');
      return false;
    } catch (err) {
      if (isCircuitOpenError(err)) return true;
      throw err;
    }
  }
}

/**
 * One row of a transition table:
 * - `['ok' | 'fail' | 'ignore', state]`: a call with that verdict, then the state;
 * - `['slow', ms, state]`: a successful call taking `ms`, then the state;
 * - `['slowfail', ms, state]`: a failed call taking `ms`, then the state;
 * - `['reject', state]`: a call is rejected (never runs), in that state;
 * - `['wait', ms, state]`: time passes, then the state (read lazily);
 * - `['reason', reason]`: the last transition's reason.
 */
export type Step =
  | readonly ['ok' | 'fail' | 'ignore', CircuitState]
  | readonly ['slow' | 'slowfail', number, CircuitState]
  | readonly ['reject', CircuitState]
  | readonly ['wait', number, CircuitState]
  | readonly ['reason', string];

const VERDICT = { ok: 'success', fail: 'failure', ignore: 'ignored' } as const;

/** Runs a table against a fresh breaker; returns it for further checks. */
export function runTable(options: CircuitBreakerOptions, steps: readonly Step[]): TestBreaker {
  const clock = new ManualClock();
  const breaker = new TestBreaker({ ...options, now: clock.now });
  steps.forEach((step, i) => {
    const where = `step ${i} ${JSON.stringify(step)}`;
    switch (step[0]) {
      case 'ok':
      case 'fail':
      case 'ignore':
        breaker.call(VERDICT[step[0]], clock);
        assert.is(breaker.state, step[1], where);
        break;
      case 'slow':
      case 'slowfail':
        breaker.call(step[0] === 'slow' ? 'success' : 'failure', clock, step[1]);
        assert.is(breaker.state, step[2], where);
        break;
      case 'reject':
        assert.ok(breaker.rejects(), `${where}: expected a rejection`);
        assert.is(breaker.state, step[1], where);
        break;
      case 'wait':
        clock.advance(step[1]);
        assert.is(breaker.state, step[2], where);
        break;
      case 'reason':
        assert.is(breaker.transitions.at(-1)?.reason, step[1], where);
        break;
    }
  });
  return breaker;
}
