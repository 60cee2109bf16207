/**
 * The audit sinks the bootstrap builds only when they are configured: the
 * OTLP audit sink with its journal, and the transparency log's tiles. They
 * stay out of the register entry's start-up (a dozen modules nobody asked
 * for): `agent-safety-otel/bootstrap` loads them with itself, since its
 * `startAgentSafety` is synchronous (see `sinks.ts`), and
 * `agent-safety-otel/register` imports those its settings name before it
 * starts ({@link loadOptionalSinks}).
 *
 * @module
 */
import type { OtlpAuditSink } from '../exporters/audit/otlp-audit-sink.js';
import type { TlogTilesSink } from '../exporters/audit/tlog-tiles-sink.js';
import type { AgentSafetyOptions } from './start.js';

/** The sink classes loaded on demand. */
export interface OptionalSinks {
  readonly OtlpAuditSink: typeof OtlpAuditSink;
  readonly TlogTilesSink: typeof TlogTilesSink;
}

const loaded: { -readonly [K in keyof OptionalSinks]?: OptionalSinks[K] } = {};

/** Makes sink classes available to the start (the bootstrap entry gives all of them). */
export function provideOptionalSinks(sinks: Partial<OptionalSinks>): void {
  Object.assign(loaded, sinks);
}

/** A sink class the start needs; throws when nobody loaded it (a start that bypassed both entry points). */
export function optionalSink<K extends keyof OptionalSinks>(name: K): OptionalSinks[K] {
  const sink = loaded[name];
  if (sink === undefined) {
    throw new Error(`agent-safety-otel: ${name} is not loaded; start through agent-safety-otel/bootstrap or agent-safety-otel/register`);
  }
  return sink as OptionalSinks[K];
}

/**
 * Imports the sinks `options` may need (a superset: the OTLP sink whenever
 * OTLP is configured and the audit is on; the tiles sink with `audit.tlog`).
 */
export async function loadOptionalSinks(options: AgentSafetyOptions): Promise<void> {
  const audit = options.audit === false ? undefined : (options.audit ?? {});
  if (audit === undefined) return;
  if (options.otlp !== undefined && audit.otlp !== false && loaded.OtlpAuditSink === undefined) {
    loaded.OtlpAuditSink = (await import('../exporters/audit/otlp-audit-sink.js')).OtlpAuditSink;
  }
  if (audit.tlog !== undefined && loaded.TlogTilesSink === undefined) {
    loaded.TlogTilesSink = (await import('../exporters/audit/tlog-tiles-sink.js')).TlogTilesSink;
  }
}
