/**
 * How OpenTelemetry metric and attribute names become Prometheus names, on
 * the two paths our metrics take:
 *
 * - `direct`: scraped from the app's `@opentelemetry/exporter-prometheus`
 *   endpoint. Invalid characters become `_`, counters get `_total`, and no
 *   unit suffix is added (checked against the real exporter by
 *   test/e2e/prometheus-live.test.ts).
 * - `collector`: through the Collector's `prometheus` exporter (and
 *   Prometheus's own OTLP receiver) with the default
 *   `UnderscoreEscapingWithSuffixes` strategy: the same, plus a unit suffix
 *   unless the unit is a curly-brace annotation (`{call}`), and `_ratio` for
 *   gauges of unit `1`. No Collector runs here, so this side follows the
 *   Collector's documented translation.
 *
 * Also the package's metric names, units and instrument kinds, in one table
 * built from the package's constants, so that a renamed metric changes what
 * the config tests expect.
 */
import { METRIC_AGENT_SAFETY_AUDIT_BACKLOG, METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, METRIC_AGENT_SAFETY_AUDIT_RECORDS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, METRIC_AGENT_SAFETY_GATE_DECISIONS, METRIC_AGENT_SAFETY_POLICY_DECISIONS, METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED, METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS, METRIC_AGENT_SAFETY_STORE_ERRORS, METRIC_AGENT_SAFETY_STORE_OPERATION_DURATION, METRIC_GEN_AI_EXECUTE_TOOL_DURATION, METRIC_GEN_AI_INVOKE_AGENT_DURATION } from '../../src/semconv.js';
import {
  METRIC_AGENT_SAFETY_AUDIT_DEAD_LETTERS,
  METRIC_AGENT_SAFETY_AUDIT_DROPPED,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES,
  METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS,
  METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINT_FILES_SKIPPED,
} from '../../src/instrumentation/shared/semconv.js';

/** The Prometheus type an OpenTelemetry instrument ends up as. */
export type PromKind = 'counter' | 'gauge' | 'histogram';
/** Which way the metric reached Prometheus. */
export type PromPath = 'direct' | 'collector';

/** A metric of the package: name, unit and how Prometheus types it. */
export interface PackageMetric {
  name: string;
  unit: string;
  /** counter: a monotonic sum (Counter, ObservableCounter); gauge: a non-monotonic sum or a gauge. */
  kind: PromKind;
}

/**
 * Every metric the package emits (or has reserved), as the instrumentation
 * creates it. The breaker state is an ObservableUpDownCounter (a
 * non-monotonic sum: a gauge to Prometheus); the audit backlog a level.
 */
export const PACKAGE_METRICS: readonly PackageMetric[] = [
  { name: METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, unit: '{state}', kind: 'gauge' },
  { name: METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, unit: '{transition}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, unit: '{call}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_GATE_DECISIONS, unit: '{decision}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_POLICY_DECISIONS, unit: '{decision}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_AUDIT_RECORDS, unit: '{record}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_AUDIT_BACKLOG, unit: '{record}', kind: 'gauge' },
  { name: METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, unit: '{failure}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES, unit: '{retry}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_AUDIT_DEAD_LETTERS, unit: '{record}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_AUDIT_DROPPED, unit: '{record}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS, unit: '{call}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS, unit: '{compensation}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED, unit: '{checkpoint}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINT_FILES_SKIPPED, unit: '{file}', kind: 'counter' },
  { name: METRIC_GEN_AI_EXECUTE_TOOL_DURATION, unit: 's', kind: 'histogram' },
  { name: METRIC_AGENT_SAFETY_STORE_ERRORS, unit: '{error}', kind: 'counter' },
  { name: METRIC_AGENT_SAFETY_STORE_OPERATION_DURATION, unit: 's', kind: 'histogram' },
  { name: METRIC_GEN_AI_INVOKE_AGENT_DURATION, unit: 's', kind: 'histogram' },
];

// The units the Collector spells out (a subset of its table: the ones that matter here).
const UNIT_WORDS: Record<string, string> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  min: 'minutes',
  h: 'hours',
  d: 'days',
  By: 'bytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  '%': 'percent',
};

/** An OpenTelemetry attribute key as a Prometheus label name (`gen_ai.agent.id` → `gen_ai_agent_id`). */
export function promLabel(key: string): string {
  const name = key.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/**
 * The base name Prometheus stores for a metric (for a histogram, without the
 * `_bucket` / `_sum` / `_count` suffix).
 */
export function promName(metric: PackageMetric, path: PromPath): string {
  let name = metric.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  if (path === 'collector') {
    const unit = metric.unit;
    if (unit !== '' && !/^\{.*\}$/.test(unit)) {
      const word = unit === '1' ? (metric.kind === 'gauge' ? 'ratio' : '') : (UNIT_WORDS[unit] ?? unit.replace(/[^a-zA-Z0-9_]/g, '_'));
      if (word && !name.endsWith(`_${word}`)) name += `_${word}`;
    }
  }
  if (metric.kind === 'counter' && !name.endsWith('_total')) name += '_total';
  return name;
}

/** The series names Prometheus stores for a metric (three for a histogram). */
export function promSeriesNames(metric: PackageMetric, path: PromPath): string[] {
  const base = promName(metric, path);
  return metric.kind === 'histogram' ? [`${base}_bucket`, `${base}_count`, `${base}_sum`] : [base];
}

/** Every series name of every package metric, on both paths. */
export function allPackageSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const metric of PACKAGE_METRICS) {
    for (const path of ['direct', 'collector'] as const) for (const n of promSeriesNames(metric, path)) names.add(n);
  }
  return names;
}
