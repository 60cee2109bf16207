/**
 * agent-safety-otel/verify: the audit chain's verifier, the library behind
 * `agent-safety-otel verify` and `agent-safety-otel head`. It imports no
 * OpenTelemetry package: an auditor can check a journal, rotated files or a
 * Collector's OTLP-JSON export with Node alone.
 *
 * @packageDocumentation
 */
export {
  AuditInputError,
  AuditVerifier,
  DEFAULT_MAX_RECORD_BYTES,
  MAX_LINE_FAILURES,
  readCheckpointFile,
  readSealFile,
  verifyAuditFiles,
  verifyAuditLines,
  verifyAuditStream,
  verifyAuditText,
} from './audit-verify.js';
export type {
  AuditChainReport,
  AuditFailure,
  AuditFailureReason,
  AuditInputStream,
  AuditTail,
  AuditVerifyOptions,
  AuditVerifyReport,
  ExternalCheckpoint,
  ExternalSeal,
  VerifyAuditFilesOptions,
} from './audit-verify.js';
export {
  openCheckpoint,
  verifierFromVkey,
  checkConsistencyProof,
  checkInclusionProof,
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
  ProofCheckOptions,
  ProofCheckReport,
  ProofCheckpointSummary,
  ProofFailureReason,
  TlogFailureReason,
  TlogVerifyReport,
  VerifyJournalOptions,
  VerifyRecordProofOptions,
} from './tlog.js';
