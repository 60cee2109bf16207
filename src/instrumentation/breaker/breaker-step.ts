/**
 * Steps 1 and 6 of a guarded call (DESIGN.md §2): breaker admission, and
 * recording the outcome. The guard creates one {@link BreakerCall} per call
 * only when it has a breaker, so a guard without one pays nothing.
 *
 * @module
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { CallVerdict } from '../../patterns/breaker/circuit-state.js';
import { isCircuitOpenError } from '../../patterns/breaker/circuit-open-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { CircuitBreakerRegistry } from './circuit-breaker-registry.js';
import { errorMessage } from '../guard/record-error.js';
import {
  ATTR_AGENT_SAFETY_BREAKER_FROM,
  ATTR_AGENT_SAFETY_BREAKER_NAME,
  ATTR_AGENT_SAFETY_BREAKER_REASON,
  ATTR_AGENT_SAFETY_BREAKER_STATE,
  ATTR_AGENT_SAFETY_BREAKER_TO,
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_ERROR_TYPE,
  EVENT_AGENT_SAFETY_BREAKER_TRANSITION,
} from '../shared/semconv.js';
import type { CallOutcome } from '../shared/semconv.js';
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

/** Adds a span event for each transition `breaker` made since it had made `before`. */
function addTransitionEvents(span: Span, breaker: CircuitBreaker, before: number): void {
  const count = breaker.transitionTotal - before;
  if (count <= 0) return;
  for (const t of breaker.lastTransitions(count)) {
    span.addEvent(EVENT_AGENT_SAFETY_BREAKER_TRANSITION, {
      [ATTR_AGENT_SAFETY_BREAKER_FROM]: t.from,
      [ATTR_AGENT_SAFETY_BREAKER_TO]: t.to,
      [ATTR_AGENT_SAFETY_BREAKER_REASON]: t.reason,
    });
  }
}

/**
 * The breaker's part in one guarded call: admission (step 1), the start of
 * the action (for slow-call timing), and the outcome (step 6). Writes the
 * breaker's attributes and transition events onto the call's span.
 */
export class BreakerCall {
  /** True when the breaker rejected the call (the tool never ran). */
  rejected = false;
  private readonly _span: Span;
  private readonly _breaker: CircuitBreaker;
  private _ticket = 0;
  private _admitted = false;
  private _started: number | undefined;

  constructor(span: Span, breaker: CircuitBreaker) {
    this._span = span;
    this._breaker = breaker;
  }

  /**
   * Step 1. Sets `agent_safety.breaker.name` and `.state`; throws the
   * breaker's `CircuitOpenError` when it rejects the call. Returns a promise
   * only when the call waits for a half-open verdict.
   */
  admit(signal: AbortSignal | undefined): void | Promise<void> {
    const b = this._breaker;
    this._span.setAttribute(ATTR_AGENT_SAFETY_BREAKER_NAME, b.name);
    const before = b.transitionTotal;
    let ticket: number | Promise<number>;
    try {
      ticket = b.admit(signal);
    } catch (err) {
      this._onRejected(err, before);
      throw err;
    }
    if (typeof ticket === 'number') return this._onAdmitted(ticket, before);
    return ticket.then(
      t => this._onAdmitted(t, before),
      err => {
        this._onRejected(err, before);
        throw err;
      },
    );
  }

  /** Marks the start of the action itself (step 5). */
  start(): void {
    this._started = this._breaker.now();
  }

  /** Step 6 after the action returned `result`. */
  succeeded(result: unknown): void {
    if (this._admitted) this._record(this._breaker.classifyResult(result));
  }

  /**
   * Step 6 after `err`. An abort by the caller, or an error before the
   * action started (e.g. a blocked call), counts as `ignored`.
   */
  failed(err: unknown, aborted: boolean): void {
    if (!this._admitted) return;
    this._record(aborted || this._started === undefined ? 'ignored' : this._breaker.classifyError(err));
  }

  private _onAdmitted(ticket: number, before: number): void {
    this._ticket = ticket;
    this._admitted = true;
    this._span.setAttribute(ATTR_AGENT_SAFETY_BREAKER_STATE, this._breaker.state);
    addTransitionEvents(this._span, this._breaker, before);
  }

  private _onRejected(err: unknown, before: number): void {
    addTransitionEvents(this._span, this._breaker, before);
    if (!isCircuitOpenError(err)) return; // an abort while waiting for a verdict
    this.rejected = true;
    this._span.setAttribute(ATTR_AGENT_SAFETY_BREAKER_STATE, err.state);
  }

  private _record(verdict: CallVerdict): void {
    this._admitted = false;
    const b = this._breaker;
    const before = b.transitionTotal;
    b.record(this._ticket, verdict, this._started === undefined ? 0 : b.now() - this._started);
    addTransitionEvents(this._span, b, before);
  }
}

/**
 * Records a call the breaker rejected on its span: status ERROR with the
 * rejection's message, `error.type` = `CircuitOpenError`, outcome `rejected`.
 * No exception event: nothing ran, and rejections must stay cheap.
 * Returns `error.type`.
 */
export function recordRejection(span: Span, err: unknown): string {
  const type = 'CircuitOpenError';
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setAttribute(ATTR_AGENT_SAFETY_CALL_OUTCOME, 'rejected' satisfies CallOutcome);
  return type;
}
