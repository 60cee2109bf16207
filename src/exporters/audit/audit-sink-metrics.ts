/**
 * What an audit sink that exports (the OTLP sink) reports, by sink name
 * (the low-cardinality `sink` attribute):
 * - `agent_safety.audit.backlog` and `agent_safety.audit.export_failures`,
 *   through the chain's own instruments (`audit-metrics.ts`);
 * - `agent_safety.audit.export_retries` (counter, `{retry}`), here: attempts
 *   that re-sent records an earlier attempt had failed to deliver (journaled
 *   records re-sent at the next start included);
 * - `agent_safety.audit.dead_letters` (counter, `{record}`), here: records
 *   the receiver refused for good, set aside in the dead-letter file.
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
import {
  METRIC_AGENT_SAFETY_AUDIT_DEAD_LETTERS,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES,
  METRIC_ATTR_SINK,
} from '../../instrumentation/shared/semconv.js';
import { meterBound } from '../../instrumentation/shared/telemetry.js';

interface SinkCounts {
  attrs: Attributes;
  count: number;
  deadLetters: number;
}

const retries = new Map<string, SinkCounts>();

function retriesOf(name: string): SinkCounts {
  let r = retries.get(name);
  if (r === undefined) {
    r = { attrs: Object.freeze({ [METRIC_ATTR_SINK]: name }), count: 0, deadLetters: 0 };
    retries.set(name, r);
  }
  return r;
}

interface RetryInstruments {
  retries: ObservableCounter;
  deadLetters: ObservableCounter;
  report: ObservableCallback;
  reportDead: ObservableCallback;
}

const retryInstruments: () => RetryInstruments = meterBound(
  (meter: Meter): RetryInstruments => {
    const counter = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES, {
      description: 'Audit export attempts that re-sent records an earlier attempt had failed to deliver.',
      unit: '{retry}',
      valueType: ValueType.INT,
    });
    const dead = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_DEAD_LETTERS, {
      description: 'Audit records the receiver refused for good (HTTP 4xx other than 408/429), set aside in the dead-letter file.',
      unit: '{record}',
      valueType: ValueType.INT,
    });
    const report: ObservableCallback = result => {
      for (const r of retries.values()) result.observe(r.count, r.attrs);
    };
    const reportDead: ObservableCallback = result => {
      for (const r of retries.values()) result.observe(r.deadLetters, r.attrs);
    };
    counter.addCallback(report);
    dead.addCallback(reportDead);
    return { retries: counter, deadLetters: dead, report, reportDead };
  },
  i => {
    i.retries.removeCallback(i.report);
    i.deadLetters.removeCallback(i.reportDead);
  },
);

/** What a sink reports through. */
export interface AuditSinkMeter {
  /** Counts one failed export attempt (`agent_safety.audit.export_failures`). */
  failure(): void;
  /** Counts one attempt that re-sends records (`agent_safety.audit.export_retries`). */
  retry(): void;
  /** Counts records set aside in the dead-letter file (`agent_safety.audit.dead_letters`). */
  deadLetters(n: number): void;
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
    deadLetters: (n: number) => {
      r.deadLetters += n;
    },
    close: stop,
  };
}
