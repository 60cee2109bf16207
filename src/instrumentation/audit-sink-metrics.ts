/**
 * The audit sinks' metrics, by sink name (a low-cardinality `sink`
 * attribute):
 * - `agent_safety.audit.backlog` (observable gauge, `{record}`): records
 *   accepted and not yet delivered or durable (memory plus spool), read
 *   from each live sink at collection time;
 * - `agent_safety.audit.export_failures` (counter, `{failure}`): failed
 *   export attempts;
 * - `agent_safety.audit.export_retries` (counter, `{retry}`): attempts that
 *   re-sent records an earlier attempt had failed to deliver (spooled
 *   records re-sent at the next start included).
 *
 * Counts are kept here in plain numbers and reported through observable
 * instruments, so a failure costs an increment. Totals are kept per sink
 * name for the life of the process (a sink replaced by a new one of the same
 * name continues its counters rather than resetting them).
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, BatchObservableResult, Meter, ObservableCounter, ObservableGauge } from '@opentelemetry/api';
import {
  METRIC_AGENT_SAFETY_AUDIT_BACKLOG,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES,
  METRIC_ATTR_SINK,
} from './semconv.js';
import { meterBound } from './telemetry.js';

interface SinkTotals {
  readonly attrs: Attributes;
  failures: number;
  retries: number;
  /** The live sinks of this name (usually one), each reporting its backlog. */
  readonly backlogs: Set<() => number>;
}

const totals = new Map<string, SinkTotals>();

function totalsOf(name: string): SinkTotals {
  let t = totals.get(name);
  if (t === undefined) {
    t = { attrs: Object.freeze({ [METRIC_ATTR_SINK]: name }), failures: 0, retries: 0, backlogs: new Set() };
    totals.set(name, t);
  }
  return t;
}

interface AuditSinkInstruments {
  backlog: ObservableGauge;
  failures: ObservableCounter;
  retries: ObservableCounter;
  report: (result: BatchObservableResult) => void;
}

const instruments: () => AuditSinkInstruments = meterBound(
  (meter: Meter): AuditSinkInstruments => {
    const backlog = meter.createObservableGauge(METRIC_AGENT_SAFETY_AUDIT_BACKLOG, {
      description: 'Audit records accepted by a sink and not yet delivered or durable (in memory or in the disk spool).',
      unit: '{record}',
      valueType: ValueType.INT,
    });
    const failures = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, {
      description: 'Failed audit export attempts (the records are kept and retried, never dropped).',
      unit: '{failure}',
      valueType: ValueType.INT,
    });
    const retries = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES, {
      description: 'Audit export attempts that re-sent records an earlier attempt had failed to deliver.',
      unit: '{retry}',
      valueType: ValueType.INT,
    });
    const report = (result: BatchObservableResult): void => {
      for (const t of totals.values()) {
        if (t.backlogs.size > 0) {
          let waiting = 0;
          for (const read of t.backlogs) waiting += read();
          result.observe(backlog, waiting, t.attrs);
        }
        result.observe(failures, t.failures, t.attrs);
        result.observe(retries, t.retries, t.attrs);
      }
    };
    meter.addBatchObservableCallback(report, [backlog, failures, retries]);
    return { backlog, failures, retries, report };
  },
  (i, meter) => meter.removeBatchObservableCallback(i.report, [i.backlog, i.failures, i.retries]),
);

/** What a sink reports through. */
export interface AuditSinkMeter {
  /** Counts one failed export attempt. */
  failure(): void;
  /** Counts one attempt that re-sends records. */
  retry(): void;
  /** Stops reporting this sink's backlog (its counters go on being reported). */
  close(): void;
}

/**
 * Registers a sink named `name` (the `sink` attribute): `backlog` is read at
 * each collection while the sink is open.
 */
export function registerAuditSinkMetrics(name: string, backlog: () => number): AuditSinkMeter {
  const t = totalsOf(name);
  t.backlogs.add(backlog);
  instruments();
  return {
    failure: () => {
      t.failures++;
    },
    retry: () => {
      t.retries++;
    },
    close: () => {
      t.backlogs.delete(backlog);
    },
  };
}
