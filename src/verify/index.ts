/**
 * agent-safety-otel/verify: the audit chain's verifier, the library behind
 * `agent-safety-otel verify`. It imports no OpenTelemetry package: an
 * auditor can check a journal, rotated files or a Collector's OTLP-JSON
 * export with Node alone.
 *
 * @packageDocumentation
 */
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
export {
  openCheckpoint,
  verifierFromVkey,
  verifyConsistencyProofText,
  verifyJournalAgainstCheckpoint,
  verifyRecordProof,
  verifyTlogProof,
  verifyTlogTiles,
} from './tlog.js';
export type {
  NoteVerifier,
  OpenCheckpointOptions,
  OpenedCheckpoint,
  TlogFailureReason,
  TlogVerifyReport,
  VerifyJournalOptions,
  VerifyRecordProofOptions,
} from './tlog.js';
