/**
 * agent-safety-otel/exporters: span processors, exporters and sinks that
 * need the OpenTelemetry SDK (the audit chain, the console tree).
 *
 * @packageDocumentation
 */
export { ConsoleTreeSpanExporter } from './console-tree-exporter.js';
export type { ConsoleTreeSpanExporterOptions } from './console-tree-exporter.js';
export { AuditChainSpanProcessor, auditAllSpans, auditPackageSpans } from './audit-chain-span-processor.js';
export type { AuditChainSpanProcessorOptions, AuditSpanFilter } from './audit-chain-span-processor.js';
export { InMemoryAuditSink } from './audit-sink.js';
export type { AuditRecord, AuditSink, InMemoryAuditSinkOptions } from './audit-sink.js';
export type { AuditHmacKey, AuditSigningKey, CheckpointPolicy, ChainedRecord } from '../patterns/audit-chain.js';
export type { ChainHead, CheckpointClaim } from '../patterns/audit-record.js';
export { canonicalize, encodeAnyValue } from '../patterns/audit-canonical.js';
export { GENESIS_HASH, chainHash, checkpointPayload, verifyCheckpoint } from '../patterns/audit-record.js';
export { AuditRecordingSampler, isPackageSpanName } from './audit-recording-sampler.js';
export type { AuditSpanMatcher } from './audit-recording-sampler.js';
export { FileAuditSink, auditFiles } from './file-audit-sink.js';
export type { AuditFileIo, FileAuditRecovery, FileAuditSinkOptions, FileAuditSinkStats } from './file-audit-sink.js';
export type { FsyncPolicy } from '../patterns/audit-file.js';
export { OtlpAuditSink } from './otlp-audit-sink.js';
export type { OtlpAuditSinkOptions } from './otlp-audit-sink.js';
export type { BackoffOptions } from '../patterns/audit-delivery.js';
export { auditResource, rebuildAuditSpan } from './audit-span-rebuild.js';
export { AuditRecordShapeError, decodeRecord } from '../patterns/audit-span-decode.js';
export type { DecodedAuditRecord } from '../patterns/audit-span-decode.js';
export { AuditInputError, AuditVerifier, readCheckpointFile, verifyAuditFiles, verifyAuditLines, verifyAuditStream, verifyAuditText } from './audit-verify.js';
export type {
  AuditChainReport,
  AuditFailure,
  AuditFailureReason,
  AuditInputStream,
  AuditVerifyOptions,
  AuditVerifyReport,
  ExternalCheckpoint,
  VerifyAuditFilesOptions,
} from './audit-verify.js';
export { AuditRecordFormatError, rebuildRecord, recordsFromOtlpJson } from '../patterns/audit-otlp-json.js';
export type { CheckpointAttributes, RebuildProblem, RebuiltRecord } from '../patterns/audit-otlp-json.js';
