/**
 * The audit chain's metrics: records appended, records waiting per sink
 * (backlog) and failed export attempts per sink. Counted in plain numbers
 * where they happen and reported through observable instruments when the
 * SDK collects, so the span's end pays for an increment, not a metric call.
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, BatchObservableResult, Meter, ObservableCounter, ObservableGauge } from '@opentelemetry/api';
import {
  METRIC_AGENT_SAFETY_AUDIT_BACKLOG,
  METRIC_AGENT_SAFETY_AUDIT_DROPPED,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES,
  METRIC_AGENT_SAFETY_AUDIT_RECORDS,
  METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS,
  METRIC_ATTR_SINK,
} from '../../instrumentation/shared/semconv.js';
import { meterBound } from '../../instrumentation/shared/telemetry.js';

/** What one sink reports. */
interface SinkSource {
  readonly attrs: Attributes;
  backlog: () => number;
  /** Whose backlog `backlog` reads (the sink object), so that one sink is registered once. */
  owner: object | undefined;
  failures: number;
}

let records = 0;
let dropped = 0;
let refusedCalls = 0;
const sinks = new Map<string, SinkSource>();

/** Counts records not kept because the backlog was full (`agent_safety.audit.dropped`). */
export function countAuditDropped(n = 1): void {
  dropped += n;
}

/** Counts guarded calls refused because the audit could not accept their record (`agent_safety.audit.refused_calls`). */
export function countAuditRefusedCall(): void {
  refusedCalls++;
}

/** Counts records appended to any chain in this process. */
export function countAuditRecords(n = 1): void {
  records += n;
}

/**
 * Makes the sink named `name` report its backlog (records accepted, not yet
 * durable or delivered) and its export failures. Sinks of the same name
 * share one series; the last registered sink wins. `owner` is the sink
 * whose backlog `backlog` reads: a sink already registered under `name`
 * (the OTLP sink registers itself) is observed once, by the first
 * registration, and a later one for the same owner (the
 * `AuditChainSpanProcessor`'s) changes nothing. Returns a function that
 * stops the backlog reading, if this call started it (the failure count
 * stays).
 */
export function registerAuditSink(name: string, backlog: () => number, owner: object = backlog): () => void {
  const source = sourceOf(name);
  auditInstruments();
  if (source.owner === owner) return () => {};
  source.backlog = backlog;
  source.owner = owner;
  return () => {
    if (source.owner !== owner) return;
    source.backlog = () => 0;
    source.owner = undefined;
  };
}

/** Counts one failed export attempt of the sink named `name`. */
export function countAuditExportFailure(name: string): void {
  sourceOf(name).failures++;
  auditInstruments();
}

function sourceOf(name: string): SinkSource {
  let source = sinks.get(name);
  if (source === undefined) {
    source = { attrs: Object.freeze({ [METRIC_ATTR_SINK]: name }), backlog: () => 0, owner: undefined, failures: 0 };
    sinks.set(name, source);
  }
  return source;
}

interface AuditInstruments {
  records: ObservableCounter;
  dropped: ObservableCounter;
  refused: ObservableCounter;
  backlog: ObservableGauge;
  failures: ObservableCounter;
  report: (result: BatchObservableResult) => void;
}

/** The observable instruments on the current meter; touched by every processor and sink at creation. */
export const auditInstruments: () => AuditInstruments = meterBound(
  (meter: Meter): AuditInstruments => {
    const recordsCounter = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_RECORDS, {
      description: 'Records appended to audit chains by this process.',
      unit: '{record}',
      valueType: ValueType.INT,
    });
    const backlog = meter.createObservableGauge(METRIC_AGENT_SAFETY_AUDIT_BACKLOG, {
      description: 'Audit records accepted by a sink and not yet durable (file) or delivered (OTLP): in memory or in the spool.',
      unit: '{record}',
      valueType: ValueType.INT,
    });
    const failures = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, {
      description: 'Failed attempts of an audit sink to write or export records (they are retried, never dropped).',
      unit: '{failure}',
      valueType: ValueType.INT,
    });
    const droppedCounter = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_DROPPED, {
      description: 'Audit records not kept because the backlog was full; each run of them is named in the chain by a gap record.',
      unit: '{record}',
      valueType: ValueType.INT,
    });
    const refusedCounter = meter.createObservableCounter(METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS, {
      description: 'Guarded calls refused (AuditUnavailableError, the tool did not run) because the audit could not accept their record.',
      unit: '{call}',
      valueType: ValueType.INT,
    });
    const report = (result: BatchObservableResult): void => {
      result.observe(recordsCounter, records);
      result.observe(droppedCounter, dropped);
      result.observe(refusedCounter, refusedCalls);
      for (const source of sinks.values()) {
        let waiting = 0;
        try {
          waiting = source.backlog();
        } catch {
          waiting = 0;
        }
        result.observe(backlog, waiting, source.attrs);
        result.observe(failures, source.failures, source.attrs);
      }
    };
    meter.addBatchObservableCallback(report, [recordsCounter, droppedCounter, refusedCounter, backlog, failures]);
    return { records: recordsCounter, dropped: droppedCounter, refused: refusedCounter, backlog, failures, report };
  },
  (instruments, meter) =>
    meter.removeBatchObservableCallback(instruments.report, [
      instruments.records,
      instruments.dropped,
      instruments.refused,
      instruments.backlog,
      instruments.failures,
    ]),
);
