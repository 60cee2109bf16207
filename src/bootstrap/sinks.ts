/**
 * Loads the optional audit sinks with the bootstrap entry, whose
 * `startAgentSafety` is synchronous (the register entry imports them only
 * when its settings name them: see `optional-sinks.ts`).
 *
 * @module
 */
import { OtlpAuditSink } from '../exporters/audit/otlp-audit-sink.js';
import { TlogTilesSink } from '../exporters/audit/tlog-tiles-sink.js';
import { provideOptionalSinks } from './optional-sinks.js';

provideOptionalSinks({ OtlpAuditSink, TlogTilesSink });
