/**
 * What an audit sink that exports (the OTLP sink) reports, by sink name
 * (the low-cardinality `sink` attribute):
 * - `agent_safety.audit.backlog` and `agent_safety.audit.export_failures`,
 *   through the chain's own instruments (`audit-metrics.ts`);
 * - `agent_safety.audit.export_retries` (counter, `{retry}`), here: attempts
 *   that re-sent records an earlier attempt had failed to deliver (spooled
 *   records re-sent at the next start included).
 *
 * Counted in plain numbers, reported through observable instruments. Totals
 * are kept per sink name for the life of the process (a sink replaced by a
 * new one of the same name continues its counters).
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, Meter, ObservableCallback, ObservableCounter } from '@opentelemetry/api';
import { countAuditExportFailure, registerAuditSink } from './audit-metrics.js';
import { METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES, METRIC_ATTR_SINK } from '../../instrumentation/shared/semconv.js';
import { meterBound } from '../../instrumentation/shared/telemetry.js';

const retries = new Map<string, { attrs: Attributes; count: number }>();

function retriesOf(name: string): { attrs: Attributes; count: number } {
  let r = retries.get(name);
  if (r === undefined) {
    r = { attrs: Object.freeze({ [METRIC_ATTR_SINK]: name }), count: 0 };
    retries.set(name, r);
  }
  return r;
}

interface RetryInstruments {
  retries: ObservableCounter;
  report: ObservableCallback;
}

const retryInstruments: () => RetryInstruments = meterBound(
  (meter: Meter): RetryInstruments => {
    const counter = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES, {
      description: 'Audit export attempts that re-sent records an earlier attempt had failed to deliver.',
      unit: '{retry}',
      valueType: ValueType.INT,
    });
    const report: ObservableCallback = result => {
      for (const r of retries.values()) result.observe(r.count, r.attrs);
    };
    counter.addCallback(report);
    return { retries: counter, report };
  },
  i => i.retries.removeCallback(i.report),
);

/** What a sink reports through. */
export interface AuditSinkMeter {
  /** Counts one failed export attempt (`agent_safety.audit.export_failures`). */
  failure(): void;
  /** Counts one attempt that re-sends records (`agent_safety.audit.export_retries`). */
  retry(): void;
  /** Stops reporting this sink's backlog (its counters go on being reported). */
  close(): void;
}

/**
 * Registers the sink `owner`, named `name`: `backlog` is read at each
 * collection while the sink is open (`agent_safety.audit.backlog`), and an
 * `AuditChainSpanProcessor` given the same sink does not register it again.
 */
export function registerAuditSinkMetrics(name: string, backlog: () => number, owner: object): AuditSinkMeter {
  const stop = registerAuditSink(name, backlog, owner);
  const r = retriesOf(name);
  retryInstruments();
  return {
    failure: () => countAuditExportFailure(name),
    retry: () => {
      r.count++;
    },
    close: stop,
  };
}
