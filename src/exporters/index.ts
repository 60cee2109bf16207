/**
 * agent-safety-otel/exporters: span processors, exporters and sinks that
 * need the OpenTelemetry SDK (the audit chain, the console tree).
 *
 * @packageDocumentation
 */
export { ConsoleTreeSpanExporter } from './console/console-tree-exporter.js';
export type { ConsoleTreeSpanExporterOptions } from './console/console-tree-exporter.js';
export { AuditChainSpanProcessor, auditAllSpans, auditPackageSpans } from './audit/audit-chain-span-processor.js';
export type { AuditChainSpanProcessorOptions, AuditSpanFilter, BacklogFullPolicy } from './audit/audit-chain-span-processor.js';
export { InMemoryAuditSink } from './audit/audit-sink.js';
export type { AuditRecord, AuditSink, InMemoryAuditSinkOptions } from './audit/audit-sink.js';
export type { AuditHmacKey, AuditSigningKey, CheckpointPolicy, ChainedRecord, MadeSeal, SealPolicy } from '../patterns/audit/audit-chain.js';
export type { ChainHead, CheckpointClaim, SealClaim } from '../patterns/audit/audit-record.js';
export { canonicalize, encodeAnyValue } from '../patterns/audit/audit-canonical.js';
export { AUDIT_FORMAT_VERSION, GENESIS_HASH, chainHash, checkpointPayload, sealPayload, verifyCheckpoint, verifySeal } from '../patterns/audit/audit-record.js';
export { AuditRecordingSampler, isPackageSpanName } from './audit/audit-recording-sampler.js';
export type { AuditSpanMatcher } from './audit/audit-recording-sampler.js';
export { FileAuditSink, auditFiles } from './audit/file-audit-sink.js';
export type { AuditFileIo, FileAuditRecovery, FileAuditSinkOptions, FileAuditSinkStats } from './audit/file-audit-sink.js';
export type { FsyncPolicy } from '../patterns/audit/audit-file.js';
export { OtlpAuditSink, deadLetterPathOf } from './audit/otlp-audit-sink.js';
export type { OtlpAuditSinkOptions } from './audit/otlp-audit-sink.js';
export type { BackoffOptions } from '../patterns/shared/backoff.js';
export { auditResource, rebuildAuditSpan } from './audit/audit-span-rebuild.js';
export { AuditRecordShapeError, decodeRecord } from '../patterns/audit/audit-span-decode.js';
export type { DecodedAuditRecord } from '../patterns/audit/audit-span-decode.js';
export { AuditRecordFormatError, rebuildRecord, recordsFromOtlpJson } from '../patterns/audit/audit-otlp-json.js';
export type { CheckpointAttributes, RebuildProblem, RebuiltRecord, SealAttributes } from '../patterns/audit/audit-otlp-json.js';
export { TlogTilesSink } from './audit/tlog-tiles-sink.js';
export type { TlogTilesSinkOptions } from './audit/tlog-tiles-sink.js';
export { TlogWitnessClient } from './audit/tlog-witness-client.js';
export type { ConsistencyProver, TlogWitnessClientOptions, WitnessResult } from './audit/tlog-witness-client.js';
export type { AuditTreeState } from '../patterns/audit/audit-tlog.js';
