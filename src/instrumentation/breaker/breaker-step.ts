/**
 * Steps 1 and 7 of a guarded call (DESIGN.md §2): breaker admission, and
 * recording the outcome, as a {@link GuardStep}. A guard without a breaker
 * has no such step and pays nothing.
 *
 * @module
 */
import type { Attributes } from '@opentelemetry/api';
import type { BreakerVerdict, CircuitState } from '../../patterns/breaker/circuit-state.js';
import { isCircuitOpenError } from '../../patterns/breaker/circuit-open-error.js';
import type { MaybePromise } from '../../patterns/shared/maybe-promise.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { CircuitBreakerRegistry } from './circuit-breaker-registry.js';
import type { ActionOutcome, GuardCall, GuardStep, StepDecision, StepEntry, StepEvent } from '../guard/guard-step.js';
import {
  ATTR_AGENT_SAFETY_BREAKER_FROM,
  ATTR_AGENT_SAFETY_BREAKER_NAME,
  ATTR_AGENT_SAFETY_BREAKER_REASON,
  ATTR_AGENT_SAFETY_BREAKER_STATE,
  ATTR_AGENT_SAFETY_BREAKER_TO,
  EVENT_AGENT_SAFETY_BREAKER_TRANSITION,
} from '../shared/semconv.js';
import type { AgentIdentity } from '../shared/telemetry.js';

/** What `guard({ breaker })` accepts: one breaker for the tool, or a registry (one per agent). */
export type BreakerSource = CircuitBreaker | CircuitBreakerRegistry;

/** Throws a TypeError unless `value` is a breaker or a registry. */
export function validateBreakerSource(option: string, value: unknown): void {
  if (value === undefined || value instanceof CircuitBreaker || value instanceof CircuitBreakerRegistry) return;
  throw new TypeError(`${option} must be a CircuitBreaker or a CircuitBreakerRegistry, got ${value === null ? 'null' : typeof value}`);
}

/** Picks the breaker of one guarded tool for each call; caches the last agent's. */
export class BreakerPicker {
  private readonly _source: BreakerSource;
  private readonly _tool: string;
  private _lastAgentId: string | undefined | null = null;
  private _last: CircuitBreaker | undefined;

  constructor(source: BreakerSource, tool: string) {
    this._source = source;
    this._tool = tool;
  }

  /** The breaker for a call by `agent`. */
  pick(agent: AgentIdentity | undefined): CircuitBreaker {
    const source = this._source;
    if (source instanceof CircuitBreaker) return source;
    const id = agent?.id;
    if (id === this._lastAgentId && this._last !== undefined) return this._last;
    this._lastAgentId = id;
    return (this._last = source.get(id, this._tool));
  }
}

/** The span events of the transitions `breaker` made since it had made `before`; undefined when none. */
function transitionEvents(breaker: CircuitBreaker, before: number): StepEvent[] | undefined {
  const count = breaker.transitionTotal - before;
  if (count <= 0) return undefined;
  return breaker.lastTransitions(count).map(t => ({
    name: EVENT_AGENT_SAFETY_BREAKER_TRANSITION,
    attributes: {
      [ATTR_AGENT_SAFETY_BREAKER_FROM]: t.from,
      [ATTR_AGENT_SAFETY_BREAKER_TO]: t.to,
      [ATTR_AGENT_SAFETY_BREAKER_REASON]: t.reason,
    },
  }));
}

/** What the breaker step keeps for one admitted call. */
export interface BreakerTicket {
  readonly breaker: CircuitBreaker;
  readonly ticket: number;
  /** The breaker clock's time when the action started; undefined while it has not. */
  started: number | undefined;
}

/**
 * The breaker's part in a guarded call: admission (step 1; a rejection
 * stops the call with the breaker's `CircuitOpenError`, outcome `rejected`,
 * no exception event), the start of the action (for slow-call timing), and
 * the outcome (step 7). Decides `agent_safety.breaker.name` and `.state`
 * and the transition events.
 */
export class BreakerStep implements GuardStep<BreakerTicket> {
  readonly name = 'breaker';
  private readonly _picker: BreakerPicker;
  /** `{ name, state }` attributes of the last breaker and state seen (usually the same for every call). */
  private _attrsBreaker: CircuitBreaker | undefined;
  private _attrsState: CircuitState | undefined;
  private _attrs: Attributes = {};

  constructor(source: BreakerSource, tool: string) {
    this._picker = new BreakerPicker(source, tool);
  }

  private _attributes(breaker: CircuitBreaker, state: CircuitState | undefined): Attributes {
    if (breaker === this._attrsBreaker && state === this._attrsState) return this._attrs;
    const attrs: Attributes = { [ATTR_AGENT_SAFETY_BREAKER_NAME]: breaker.name };
    if (state !== undefined) attrs[ATTR_AGENT_SAFETY_BREAKER_STATE] = state;
    this._attrsBreaker = breaker;
    this._attrsState = state;
    return (this._attrs = Object.freeze(attrs));
  }

  /** Step 1. A promise only when the call waits for a half-open verdict. */
  admit(call: GuardCall): MaybePromise<StepEntry<BreakerTicket>> {
    const breaker = this._picker.pick(call.agent);
    const before = breaker.transitionTotal;
    let ticket: number | Promise<number>;
    try {
      ticket = breaker.admit(call.signal);
    } catch (err) {
      return this._rejected(breaker, err, before);
    }
    if (typeof ticket === 'number') return this._admitted(breaker, ticket, before);
    return ticket.then(
      t => this._admitted(breaker, t, before),
      err => this._rejected(breaker, err, before),
    );
  }

  /** Marks the start of the action itself (step 6). */
  start(_call: GuardCall, state: BreakerTicket | undefined): void {
    if (state !== undefined) state.started = state.breaker.now();
  }

  /**
   * Step 7: records the outcome in the breaker. An abort by the caller, or
   * an error before the action started (e.g. a blocked call), counts as
   * `ignored`. Nothing for a call the breaker did not admit.
   */
  settle(_call: GuardCall, state: BreakerTicket | undefined, outcome: ActionOutcome): StepDecision | undefined {
    if (state === undefined) return undefined;
    const { breaker, started } = state;
    const verdict: BreakerVerdict = outcome.ok
      ? breaker.classifyResult(outcome.result)
      : outcome.aborted || started === undefined
        ? 'ignored'
        : breaker.classifyError(outcome.error);
    const before = breaker.transitionTotal;
    breaker.record(state.ticket, verdict, started === undefined ? 0 : breaker.now() - started);
    const events = transitionEvents(breaker, before);
    return events === undefined ? undefined : { events };
  }

  private _admitted(breaker: CircuitBreaker, ticket: number, before: number): StepEntry<BreakerTicket> {
    return {
      attributes: this._attributes(breaker, breaker.state),
      events: transitionEvents(breaker, before),
      state: { breaker, ticket, started: undefined },
    };
  }

  private _rejected(breaker: CircuitBreaker, err: unknown, before: number): StepEntry<BreakerTicket> {
    const events = transitionEvents(breaker, before);
    if (!isCircuitOpenError(err)) {
      // An abort while waiting for a verdict: the call fails like any error.
      return { attributes: this._attributes(breaker, undefined), events, stop: { error: err } };
    }
    return {
      attributes: this._attributes(breaker, err.state),
      events,
      stop: { error: err, outcome: 'rejected', exception: false, errorType: 'CircuitOpenError' },
    };
  }
}
