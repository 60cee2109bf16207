/**
 * The circuit breakers' metrics: three observable instruments read every
 * live breaker's counters at collection time. A call pays nothing for them
 * (it increments a plain field inside the breaker), and a lazily due
 * transition (open → half_open) is applied by the read, so the state series
 * is never stale.
 *
 * Breakers are tracked weakly: a breaker nobody references is garbage
 * collected and leaves the metrics on its own (a FinalizationRegistry
 * retires its entry); `dispose()` retires it at once. A retired breaker
 * reports 0 for every state for a few more collections before it stops:
 * a cumulative exporter (Prometheus) keeps a series that is no longer
 * observed at its last value, and a dropped breaker must not look stuck open.
 *
 * @module
 */
import { ValueType, diag } from '@opentelemetry/api';
import type { Attributes, BatchObservableResult, Observable } from '@opentelemetry/api';
import type { CircuitBreakerCore } from '../../patterns/breaker/circuit-breaker-core.js';
import { BREAKER_CALL_OUTCOMES, CIRCUIT_STATES, CIRCUIT_TRANSITIONS } from '../../patterns/breaker/circuit-state.js';
import {
  ATTR_AGENT_SAFETY_BREAKER_NAME,
  ATTR_GEN_AI_AGENT_ID,
  METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS,
  METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE,
  METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS,
  METRIC_ATTR_FROM,
  METRIC_ATTR_OUTCOME,
  METRIC_ATTR_STATE,
  METRIC_ATTR_TO,
} from '../shared/semconv.js';
import { meterBound } from '../shared/telemetry.js';
import { PACKAGE_NAME } from '../shared/version.js';

/** One tracked breaker: a weak reference and its attribute sets, built once. */
interface Entry {
  readonly ref: WeakRef<CircuitBreakerCore>;
  readonly states: readonly Attributes[];
  readonly transitions: readonly Attributes[];
  readonly calls: readonly Attributes[];
  /** -1 while the breaker is tracked; after, the collections left that report its states as 0. */
  tombstone: number;
}

/** Collections a retired breaker still reports (as 0 in every state). */
const TOMBSTONE_COLLECTIONS = 5;
/** Most retired breakers kept waiting for those collections (the oldest go first). */
const MAX_TOMBSTONES = 1_000;

const entries = new Set<Entry>();
let tombstones = 0;
const byBreaker = new WeakMap<CircuitBreakerCore, Entry>();
const finalizer = new FinalizationRegistry<Entry>(retire);

function retire(entry: Entry): void {
  if (entry.tombstone >= 0 || !entries.has(entry)) return;
  entry.tombstone = TOMBSTONE_COLLECTIONS;
  if (++tombstones <= MAX_TOMBSTONES) return;
  for (const oldest of entries) {
    if (oldest.tombstone >= 0) {
      drop(oldest);
      return;
    }
  }
}

function drop(entry: Entry): void {
  if (entries.delete(entry) && entry.tombstone >= 0) tombstones--;
}

function entryFor(breaker: CircuitBreakerCore): Entry {
  const base: Attributes = { [ATTR_AGENT_SAFETY_BREAKER_NAME]: breaker.name };
  if (breaker.agentId !== undefined) base[ATTR_GEN_AI_AGENT_ID] = breaker.agentId;
  return {
    ref: new WeakRef(breaker),
    states: CIRCUIT_STATES.map(state => Object.freeze({ ...base, [METRIC_ATTR_STATE]: state })),
    transitions: CIRCUIT_TRANSITIONS.map(([from, to]) =>
      Object.freeze({ ...base, [METRIC_ATTR_FROM]: from, [METRIC_ATTR_TO]: to }),
    ),
    calls: BREAKER_CALL_OUTCOMES.map(outcome => Object.freeze({ ...base, [METRIC_ATTR_OUTCOME]: outcome })),
    tombstone: -1,
  };
}

interface BreakerInstruments {
  state: Observable;
  transitions: Observable;
  calls: Observable;
  callback: (result: BatchObservableResult) => void;
}

function observeAll(result: BatchObservableResult, i: BreakerInstruments): void {
  for (const entry of entries) {
    const breaker = entry.tombstone >= 0 ? undefined : entry.ref.deref();
    if (breaker === undefined) {
      retire(entry);
      for (const attributes of entry.states) result.observe(i.state, 0, attributes);
      if (--entry.tombstone <= 0) drop(entry);
      continue;
    }
    try {
      const stats = breaker.stats(); // applies a due transition first
      CIRCUIT_STATES.forEach((state, k) => result.observe(i.state, stats.state === state ? 1 : 0, entry.states[k]));
      stats.transitions.forEach((t, k) => result.observe(i.transitions, t.count, entry.transitions[k]));
      BREAKER_CALL_OUTCOMES.forEach((outcome, k) => result.observe(i.calls, stats.calls[outcome], entry.calls[k]));
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: reading circuit breaker "${breaker.name}" for metrics failed`, err);
    }
  }
}

/** The breaker instruments on the current meter (recreated when it changes). */
export const breakerInstruments: () => BreakerInstruments = meterBound(
  meter => {
    const i: BreakerInstruments = {
      state: meter.createObservableUpDownCounter(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, {
        description: 'Circuit breaker state: 1 for the current state, 0 for the others.',
        unit: '{state}',
        valueType: ValueType.INT,
      }),
      transitions: meter.createObservableCounter(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, {
        description: 'Circuit breaker state transitions, by the state left and the state entered.',
        unit: '{transition}',
        valueType: ValueType.INT,
      }),
      calls: meter.createObservableCounter(METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, {
        description: 'Calls through a circuit breaker, by outcome: success, failure, ignored, rejected or slow.',
        unit: '{call}',
        valueType: ValueType.INT,
      }),
      callback: result => observeAll(result, i),
    };
    meter.addBatchObservableCallback(i.callback, [i.state, i.transitions, i.calls]);
    return i;
  },
  (i, meter) => meter.removeBatchObservableCallback(i.callback, [i.state, i.transitions, i.calls]),
);

/** Reports `breaker`'s metrics until it is garbage collected or {@link untrackBreaker} is called. */
export function trackBreaker(breaker: CircuitBreakerCore): void {
  if (byBreaker.has(breaker)) return;
  const entry = entryFor(breaker);
  entries.add(entry);
  byBreaker.set(breaker, entry);
  finalizer.register(breaker, entry, entry);
  breakerInstruments(); // make sure the instruments exist on the current meter
}

/** Stops reporting `breaker`'s metrics (after its states have read 0 for a few collections). */
export function untrackBreaker(breaker: CircuitBreakerCore): void {
  const entry = byBreaker.get(breaker);
  if (entry === undefined) return;
  byBreaker.delete(breaker);
  finalizer.unregister(entry);
  retire(entry);
}

/** How many live breakers are tracked now (for tests). */
export function trackedBreakerCount(): number {
  let n = 0;
  for (const entry of entries) if (entry.tombstone < 0 && entry.ref.deref() !== undefined) n++;
  return n;
}
