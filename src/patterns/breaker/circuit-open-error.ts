import { brandOf, hasBrand } from '../shared/brand.js';
import type { CircuitState } from './circuit-state.js';

const CIRCUIT_OPEN = brandOf('CircuitOpenError');

/** What a {@link CircuitOpenError} says about the breaker that rejected the call. */
export interface CircuitOpenDetails {
  /** The breaker's name. */
  breakerName: string;
  /** The agent the breaker belongs to, when it has one. */
  agentId: string | undefined;
  /** `open`, or `half_open` when every probe slot was taken. */
  state: Exclude<CircuitState, 'closed'>;
  /** When the breaker last opened (ms since the epoch, the breaker's clock). */
  openedAt: number;
  /**
   * When the breaker will let a probe through (ms since the epoch), or
   * `undefined` when that is not known: it is isolated by hand, or half-open
   * with its probes in flight.
   */
  retryAt: number | undefined;
  /** True when the breaker is held open by `isolate()`. */
  isolated: boolean;
}

function when(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

/**
 * Thrown instead of calling the tool when its circuit breaker is open (or
 * half-open with every probe slot taken). The tool did not run.
 *
 * Check for it with {@link isCircuitOpenError}, which works across copies
 * of this package.
 */
export class CircuitOpenError extends Error implements CircuitOpenDetails {
  /** The breaker's name. */
  readonly breakerName: string;
  /** The agent the breaker belongs to, when it has one. */
  readonly agentId: string | undefined;
  /** `open`, or `half_open` when every probe slot was taken. */
  readonly state: Exclude<CircuitState, 'closed'>;
  /** When the breaker last opened (ms since the epoch). */
  readonly openedAt: number;
  /** When it will let a probe through (ms since the epoch); `undefined` while isolated or probing. */
  readonly retryAt: number | undefined;
  /** True when `isolate()` holds it open. */
  readonly isolated: boolean;
  declare readonly [CIRCUIT_OPEN]: true;

  constructor(details: CircuitOpenDetails) {
    // Most useful first: log lines and trace views cut long messages.
    const next = details.isolated
      ? 'isolated until released'
      : details.retryAt === undefined
        ? 'its probe calls are in flight'
        : `next probe after ${when(details.retryAt)}`;
    const agent = details.agentId === undefined ? '' : `, agent "${details.agentId}"`;
    super(
      `circuit breaker "${details.breakerName}" is ${details.state === 'open' ? 'open' : 'half-open'}; ${next} (open since ${when(details.openedAt)}${agent})`,
    );
    this.name = 'CircuitOpenError';
    this.breakerName = details.breakerName;
    this.agentId = details.agentId;
    this.state = details.state;
    this.openedAt = details.openedAt;
    this.retryAt = details.retryAt;
    this.isolated = details.isolated;
    Object.defineProperty(this, CIRCUIT_OPEN, { value: true });
  }
}

/** True when `e` is a {@link CircuitOpenError}, from any copy of this package. */
export function isCircuitOpenError(e: unknown): e is CircuitOpenError {
  return hasBrand(e, CIRCUIT_OPEN);
}
