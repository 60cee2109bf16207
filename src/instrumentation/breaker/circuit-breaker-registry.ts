import { diag } from '@opentelemetry/api';
import { resolveBreakerOptions, validateSnapshot } from '../../patterns/breaker/circuit-breaker-options.js';
import type { CircuitBreakerOptions, CircuitBreakerSnapshot } from '../../patterns/breaker/circuit-breaker-options.js';
import { rejectUnknownOptions, requireNonEmptyString, requireObject } from '../../patterns/shared/validate.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { PACKAGE_NAME } from '../shared/version.js';

/** Options of {@link CircuitBreakerRegistry}: those of every breaker it creates. */
export interface CircuitBreakerRegistryOptions extends Omit<CircuitBreakerOptions, 'name' | 'agentId' | 'initialState'> {
  /** Breakers saved by the registry's `toJSON()`, restored as they are first asked for. @default none */
  initialState?: CircuitBreakerRegistrySnapshot;
}

/** The registry's state as `toJSON()` returns it. */
export interface CircuitBreakerRegistrySnapshot {
  version: 1;
  breakers: { agentId?: string; name: string; state: CircuitBreakerSnapshot }[];
}

const NO_AGENT = '';

/**
 * One circuit breaker per agent and tool, created on first use with the
 * same options: give it to `guard({ breaker })` and each agent gets its own
 * breaker for each tool, named after the tool, without bookkeeping.
 *
 * @example
 * ```ts
 * const breakers = new CircuitBreakerRegistry({ failureThreshold: 3, cooldownMs: 10_000 });
 * const rank = guard(rankFn, { name: 'rank_content', breaker: breakers });
 * breakers.get('content-ranker-v3', 'rank_content').state; // 'closed'
 * ```
 */
export class CircuitBreakerRegistry {
  private readonly _options: Omit<CircuitBreakerRegistryOptions, 'initialState'>;
  private readonly _byAgent = new Map<string, Map<string, CircuitBreaker>>();
  private readonly _saved = new Map<string, CircuitBreakerSnapshot>();

  /**
   * @throws TypeError or RangeError naming a bad option and its value.
   */
  constructor(options: CircuitBreakerRegistryOptions = {}) {
    requireObject('circuit breaker registry options', options);
    for (const key of ['name', 'agentId'] as const) {
      if (key in options) throw new TypeError(`CircuitBreakerRegistry: ${key} is set per breaker by get(agentId, name), not as an option`);
    }
    const { initialState, ...rest } = options;
    resolveBreakerOptions(rest); // validate once, now
    this._options = { ...rest };
    if (initialState !== undefined) {
      requireObject('initialState', initialState);
      rejectUnknownOptions('initialState', initialState, ['version', 'breakers']);
      if (initialState.version !== 1) throw new TypeError(`initialState.version must be 1, got ${JSON.stringify(initialState.version)}`);
      if (!Array.isArray(initialState.breakers)) throw new TypeError('initialState.breakers must be an array');
      initialState.breakers.forEach((b, i) => {
        requireObject(`initialState.breakers[${i}]`, b);
        requireNonEmptyString(`initialState.breakers[${i}].name`, b.name);
        validateSnapshot(`initialState.breakers[${i}].state`, b.state);
        this._saved.set(key(b.agentId, b.name), b.state);
      });
    }
  }

  /** The breaker of `agentId` (or of no agent) for the tool `name`, created on first use. */
  get(agentId: string | undefined, name: string): CircuitBreaker {
    const tools = this._byAgent.get(agentId ?? NO_AGENT);
    const found = tools?.get(name);
    return found ?? this._create(agentId, name);
  }

  /** True when the breaker of `agentId` for `name` exists. */
  has(agentId: string | undefined, name: string): boolean {
    return this._byAgent.get(agentId ?? NO_AGENT)?.has(name) === true;
  }

  /** Forgets (and disposes) the breaker of `agentId` for `name`; returns whether there was one. */
  delete(agentId: string | undefined, name: string): boolean {
    const tools = this._byAgent.get(agentId ?? NO_AGENT);
    const breaker = tools?.get(name);
    if (tools === undefined || breaker === undefined) return false;
    breaker.dispose();
    tools.delete(name);
    if (tools.size === 0) this._byAgent.delete(agentId ?? NO_AGENT);
    return true;
  }

  /** Every breaker created so far. */
  breakers(): CircuitBreaker[] {
    return [...this._byAgent.values()].flatMap(tools => [...tools.values()]);
  }

  /** Resets every breaker (see `CircuitBreaker.reset`). */
  reset(): void {
    for (const breaker of this.breakers()) breaker.reset();
  }

  /** Every breaker's state, JSON-safe; pass it back as `initialState` after a restart. */
  toJSON(): CircuitBreakerRegistrySnapshot {
    return {
      version: 1,
      breakers: this.breakers().map(b => ({ ...(b.agentId === undefined ? {} : { agentId: b.agentId }), name: b.name, state: b.toJSON() })),
    };
  }

  private _create(agentId: string | undefined, name: string): CircuitBreaker {
    requireNonEmptyString('name', name);
    if (agentId !== undefined) requireNonEmptyString('agentId', agentId);
    const k = key(agentId, name);
    const saved = this._saved.get(k);
    this._saved.delete(k);
    let breaker: CircuitBreaker;
    try {
      breaker = new CircuitBreaker({ ...this._options, name, agentId, initialState: saved });
    } catch (err) {
      if (saved === undefined) throw err;
      diag.warn(`${PACKAGE_NAME}: saved state of circuit breaker "${name}" could not be restored; starting closed`, err);
      breaker = new CircuitBreaker({ ...this._options, name, agentId });
    }
    let tools = this._byAgent.get(agentId ?? NO_AGENT);
    if (tools === undefined) this._byAgent.set(agentId ?? NO_AGENT, (tools = new Map()));
    tools.set(name, breaker);
    return breaker;
  }
}

function key(agentId: string | undefined, name: string): string {
  return `${agentId ?? NO_AGENT}\u0000${name}`;
}
