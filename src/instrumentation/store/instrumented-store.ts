/**
 * Store metrics: every `SafetyStore` operation timed, every failure counted.
 * The classes that use a store (a fleet-shared `CircuitBreaker`,
 * `DurableApprovals`, policy limits) wrap it with {@link instrumentStore}, so
 * a user never has to.
 *
 * @module
 */
import { ValueType, diag } from '@opentelemetry/api';
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import type { SafetyStore } from '../../patterns/store/safety-store.js';
import { errorType } from '../guard/record-error.js';
import {
  ATTR_ERROR_TYPE,
  METRIC_AGENT_SAFETY_STORE_ERRORS,
  METRIC_AGENT_SAFETY_STORE_OPERATION_DURATION,
  METRIC_ATTR_OPERATION,
  METRIC_ATTR_STORE,
} from '../shared/semconv.js';
import { meterBound } from '../shared/telemetry.js';
import { PACKAGE_NAME } from '../shared/version.js';

/** Buckets in seconds: a loopback Redis answers in well under a millisecond; a sick one in seconds. */
const STORE_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const instruments: () => { duration: Histogram<Attributes>; errors: Counter<Attributes> } = meterBound(meter => ({
  duration: meter.createHistogram(METRIC_AGENT_SAFETY_STORE_OPERATION_DURATION, {
    description: 'Duration of SafetyStore operations (shared breakers, limits, approvals).',
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: STORE_BUCKETS_S },
  }),
  errors: meter.createCounter(METRIC_AGENT_SAFETY_STORE_ERRORS, {
    description: 'SafetyStore operations that failed: each ran its feature on the stated fallback.',
    unit: '{error}',
    valueType: ValueType.INT,
  }),
}));

const OPERATIONS: Readonly<Record<string, string>> = {
  breakerState: 'breaker_state',
  reportOpen: 'report_open',
  acquireProbe: 'acquire_probe',
  reportClosed: 'report_closed',
  forceOpen: 'force_open',
  releaseForced: 'release_forced',
  forcedReason: 'forced_reason',
  takeTokens: 'take_tokens',
  hitWindow: 'hit_window',
  charge: 'charge',
  requestApproval: 'request_approval',
  decideApproval: 'decide_approval',
  readApproval: 'read_approval',
  pendingApprovals: 'pending_approvals',
};

const INSTRUMENTED = Symbol.for('agent-safety-otel.store.instrumented');

/**
 * Wraps a store so that each operation is timed
 * (`agent_safety.store.operation.duration`) and each failure counted
 * (`agent_safety.store.errors`, and reported through `diag` at debug level).
 * Idempotent: an instrumented store is returned as it is.
 */
export function instrumentStore<S extends SafetyStore>(store: S): S {
  if ((store as unknown as Record<symbol, unknown>)[INSTRUMENTED] === true) return store;
  const attrs = new Map<string, Attributes>();
  const failed = new Map<string, Attributes>();
  const base = (operation: string): Attributes => {
    let a = attrs.get(operation);
    if (a === undefined) attrs.set(operation, (a = Object.freeze({ [METRIC_ATTR_STORE]: store.kind, [METRIC_ATTR_OPERATION]: operation })));
    return a;
  };
  const withError = (operation: string, err: unknown): Attributes => {
    const type = errorType(err);
    const key = `${operation}\u0000${type}`;
    let a = failed.get(key);
    if (a === undefined) {
      a = Object.freeze({ ...base(operation), [ATTR_ERROR_TYPE]: type });
      if (failed.size < 256) failed.set(key, a);
    }
    return a;
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === INSTRUMENTED) return true;
      const value = Reflect.get(target, prop, receiver) as unknown;
      const operation = typeof prop === 'string' ? OPERATIONS[prop] : undefined;
      if (operation === undefined || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          instruments().duration.record((performance.now() - started) / 1000, base(operation));
          return result;
        } catch (err) {
          const a = withError(operation, err);
          const i = instruments();
          i.duration.record((performance.now() - started) / 1000, a);
          i.errors.add(1, a);
          diag.debug(`${PACKAGE_NAME}: SafetyStore ${store.kind} ${operation} failed`, err);
          throw err;
        }
      };
    },
  });
}
