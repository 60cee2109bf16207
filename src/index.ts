/**
 * agent-safety-otel: the OpenTelemetry-native safety layer for AI agents.
 *
 * This entry point holds the patterns and the instrumentation; at run time it
 * needs only `@opentelemetry/api` and `@opentelemetry/instrumentation`.
 * The audit chain's span processor and sinks are in `agent-safety-otel/exporters`,
 * the SDK bootstrap in `agent-safety-otel/bootstrap` and `agent-safety-otel/register`.
 *
 * @packageDocumentation
 */

// ── The guarded action ─────────────────────────────────────────────────────
export { guard } from './instrumentation/guard.js';
export type { CallOptions, GuardOptions, GuardedFunction, ToolType } from './instrumentation/guard.js';
export { invokeAgent } from './instrumentation/invoke-agent.js';
export type { InvokeAgentOptions } from './instrumentation/invoke-agent.js';
export { currentSignal } from './instrumentation/call-context.js';
export { AgentSafetyInstrumentation } from './instrumentation/instrumentation.js';
export type { AgentSafetyInstrumentationConfig } from './instrumentation/instrumentation.js';
export type { AgentIdentity } from './instrumentation/telemetry.js';
export { errorType } from './instrumentation/record-error.js';
export { TOOL_DURATION_BUCKETS_S } from './instrumentation/tool-metrics.js';
export { PACKAGE_NAME, PACKAGE_VERSION } from './instrumentation/version.js';

// ── Circuit breaker ────────────────────────────────────────────────────────
export { CircuitBreaker } from './instrumentation/circuit-breaker.js';
export { CircuitBreakerRegistry } from './instrumentation/circuit-breaker-registry.js';
export type { CircuitBreakerRegistryOptions, CircuitBreakerRegistrySnapshot } from './instrumentation/circuit-breaker-registry.js';
export type { BreakerSource } from './instrumentation/breaker-step.js';
export type { CircuitBreakerStats, IsolationHandle } from './patterns/circuit-breaker-core.js';
export { CIRCUIT_BREAKER_DEFAULTS } from './patterns/circuit-breaker-options.js';
export type { CircuitBreakerOptions, CircuitBreakerSnapshot, StateChangeListener } from './patterns/circuit-breaker-options.js';
export { BREAKER_CALL_OUTCOMES, CIRCUIT_STATES, CIRCUIT_TRANSITIONS } from './patterns/circuit-state.js';
export type { BreakerCallOutcome, CallVerdict, CircuitState, Transition, TransitionReason } from './patterns/circuit-state.js';
export { CircuitOpenError, isCircuitOpenError } from './patterns/circuit-open-error.js';
export type { CircuitOpenDetails } from './patterns/circuit-open-error.js';
export { TRIP_DEFAULTS, consecutiveFailures, failureRate, slowCallRate } from './patterns/trip-strategies.js';
export type { FailureRateOptions, RateWindowOptions, SlowCallRateOptions, TripCounter, TripStrategy } from './patterns/trip-strategies.js';
export { exponentialCooldown } from './patterns/cooldown.js';
export type { CooldownFunction, ExponentialCooldownOptions } from './patterns/cooldown.js';

// ── Explainability hooks ───────────────────────────────────────────────────
export { EXPLAINABILITY_HOOK_DEFAULTS, ExplainabilityHookManager } from './instrumentation/explainability-hooks.js';
export type {
  ExplainabilityHookManagerOptions,
  ExplainWrapperOptions,
  ExplanationCallback,
  GuardExplainOptions,
} from './instrumentation/explainability-hooks.js';
export type { ExplainOptions } from './instrumentation/explainer.js';
export { ActionExplanation, EXPLANATION_PHASES } from './patterns/action-explanation.js';
export type {
  ActionExplanationFields,
  ActionExplanationJSON,
  ExplanationPhase,
  ExplanationQuery,
} from './patterns/action-explanation.js';
export { RingBuffer } from './patterns/ring-buffer.js';

// ── Counterfactual impact gate ─────────────────────────────────────────────
export { COUNTERFACTUAL_ESTIMATOR_DEFAULTS, CounterfactualEstimator } from './instrumentation/counterfactual-estimator.js';
export type {
  CounterfactualEstimatorOptions,
  GateCallOptions,
  GateDecision,
} from './instrumentation/counterfactual-estimator.js';
export type { ImpactDeclaration } from './instrumentation/guard-gate.js';
export {
  DEFAULT_BLOCK_THRESHOLD,
  DEFAULT_REVIEW_THRESHOLD,
  GATE_ENFORCEMENTS,
  GATE_VERDICTS,
  IMPACT_LEVELS,
  LOW_IMPACT_FROM,
  MODERATE_IMPACT_FROM,
  impactDelta,
  impactLevel,
  impactThresholds,
  impactVerdict,
} from './patterns/impact.js';
export type {
  AssessmentReason,
  GateEnforcement,
  GateVerdict,
  ImpactAssessment,
  ImpactLevel,
  ImpactThresholds,
} from './patterns/impact.js';
export type { ImpactModel, ImpactModelContext, ImpactModelResult, ImpactScore } from './patterns/impact-model.js';
export {
  ENVIRONMENT_SCORES,
  REVERSIBILITY_SCORES,
  RULES_IMPACT_MODEL_DEFAULTS,
  SCOPE_SCORES,
  declaredInactionImpact,
  rulesImpactModel,
  scoreActionMetadata,
} from './patterns/impact-rules.js';
export type {
  ActionMetadata,
  DeploymentEnvironment,
  ImpactScope,
  Reversibility,
  RulesFactors,
  RulesImpactModelOptions,
} from './patterns/impact-rules.js';
export type { ApprovalHook, ReviewAnswer, ReviewOutcome, ReviewReason, ReviewRequest } from './patterns/review.js';
export { canonicalJson, hashArguments } from './patterns/arguments-hash.js';

// ── Redaction ──────────────────────────────────────────────────────────────
export {
  DEFAULT_SECRET_KEY_PATTERN,
  REDACTED,
  UNSERIALIZABLE,
  captureValue,
  noRedaction,
  redactSecrets,
  safeStringify,
  secretRedactor,
} from './patterns/redaction.js';
export type { Redactor, SafeStringifyOptions, SecretRedactorOptions } from './patterns/redaction.js';

// ── Rollback ───────────────────────────────────────────────────────────────
export { RollbackManager } from './instrumentation/rollback-manager.js';
export { currentCheckpoint } from './instrumentation/rollback-context.js';
export type { GuardCheckpointOptions } from './instrumentation/guard-checkpoint.js';
export { ROLLBACK_DEFAULTS } from './patterns/rollback-engine.js';
export type {
  CheckpointOptions,
  CompleteOptions,
  HookFailurePolicy,
  HookRetryOptions,
  RollbackHook,
  RollbackHookContext,
  RollbackManagerOptions,
  RollbackOptions,
  SafePointEviction,
} from './patterns/rollback-engine.js';
export type {
  CompensationEntry,
  CompensationOutcome,
  RollbackMode,
  RollbackOutcome,
  RollbackReport,
} from './patterns/rollback-report.js';
export type { ActionStatus, Checkpoint, CheckpointRecord, EncodedSnapshot, SpanReference } from './patterns/checkpoint.js';
export { MemoryCheckpointStore } from './patterns/checkpoint-store.js';
export type { CheckpointStore } from './patterns/checkpoint-store.js';
export { FileCheckpointStore } from './patterns/file-checkpoint-store.js';
export type { FileCheckpointStoreOptions } from './patterns/file-checkpoint-store.js';
export type { SnapshotCodec, SnapshotMode } from './patterns/snapshot.js';
export {
  CheckpointLimitError,
  RollbackError,
  RollbackTargetError,
  SnapshotError,
  isCheckpointLimitError,
  isRollbackError,
  isRollbackTargetError,
  isSnapshotError,
} from './patterns/rollback-errors.js';
export type { SnapshotFailure } from './patterns/rollback-errors.js';

// ── Errors ─────────────────────────────────────────────────────────────────
export { ToolTimeoutError, isToolTimeoutError } from './patterns/errors.js';
export { ActionBlockedError, isActionBlockedError } from './patterns/action-blocked-error.js';

// ── Time ───────────────────────────────────────────────────────────────────
export { systemClock } from './patterns/clock.js';
export type { Clock } from './patterns/clock.js';

// ── Telemetry names (attribute keys, span, event and metric names) ────────
export {
  AGENT_SAFETY_LINK_TYPE_VALUE_COMPENSATES,
  ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID,
  ATTR_AGENT_SAFETY_ACTION_DETAILS,
  ATTR_AGENT_SAFETY_ACTION_NAME,
  ATTR_AGENT_SAFETY_ACTION_REASON,
  EVENT_AGENT_SAFETY_ACTION_BLOCKED,
  EVENT_AGENT_SAFETY_ACTION_EXECUTED,
  EVENT_AGENT_SAFETY_ACTION_PROPOSED,
  EVENT_AGENT_SAFETY_POLICY_VIOLATION,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_HASH,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_SEQ,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_KEY_ID,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_SIGNATURE,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_TIME,
  ATTR_AGENT_SAFETY_AUDIT_HASH,
  ATTR_AGENT_SAFETY_AUDIT_KEY_ID,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_CHAIN_ID,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_SEQ,
  ATTR_AGENT_SAFETY_AUDIT_PREV_HASH,
  ATTR_AGENT_SAFETY_AUDIT_SEQ,
  ATTR_AGENT_SAFETY_BREAKER_FROM,
  ATTR_AGENT_SAFETY_BREAKER_NAME,
  ATTR_AGENT_SAFETY_BREAKER_REASON,
  ATTR_AGENT_SAFETY_BREAKER_STATE,
  ATTR_AGENT_SAFETY_BREAKER_TO,
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_CHECKPOINT_ID,
  ATTR_AGENT_SAFETY_CHECKPOINT_LAST_SAFE_POINT,
  ATTR_AGENT_SAFETY_CHECKPOINT_NAME,
  ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT,
  ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID,
  ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID,
  ATTR_AGENT_SAFETY_COMPENSATION_ACTION_STATUS,
  ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPT,
  ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPTS,
  ATTR_AGENT_SAFETY_COMPENSATION_OUTCOME,
  ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES,
  ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE,
  ATTR_AGENT_SAFETY_EXPLANATION_PHASE,
  ATTR_AGENT_SAFETY_EXPLANATION_REASONING,
  ATTR_AGENT_SAFETY_IMPACT_CACHED,
  ATTR_AGENT_SAFETY_IMPACT_COUNTERFACTUAL,
  ATTR_AGENT_SAFETY_IMPACT_DELTA,
  ATTR_AGENT_SAFETY_IMPACT_ENFORCED,
  ATTR_AGENT_SAFETY_IMPACT_FACTOR_PREFIX,
  ATTR_AGENT_SAFETY_IMPACT_LEVEL,
  ATTR_AGENT_SAFETY_IMPACT_PROPOSED,
  ATTR_AGENT_SAFETY_IMPACT_REASON,
  ATTR_AGENT_SAFETY_IMPACT_VERDICT,
  ATTR_AGENT_SAFETY_LINK_TYPE,
  ATTR_AGENT_SAFETY_REVIEW_ARGUMENTS_HASH,
  ATTR_AGENT_SAFETY_REVIEW_DECISION,
  ATTR_AGENT_SAFETY_REVIEW_REASON,
  ATTR_AGENT_SAFETY_REVIEW_REVIEWER,
  ATTR_AGENT_SAFETY_REVIEW_TIMEOUT_MS,
  ATTR_AGENT_SAFETY_ROLLBACK_EXECUTE_HOOKS,
  ATTR_AGENT_SAFETY_ROLLBACK_FAILED_COUNT,
  ATTR_AGENT_SAFETY_ROLLBACK_MODE,
  ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME,
  ATTR_AGENT_SAFETY_ROLLBACK_REASON,
  ATTR_AGENT_SAFETY_ROLLBACK_RESTORED_COUNT,
  ATTR_AGENT_SAFETY_ROLLBACK_SKIPPED_COUNT,
  ATTR_AGENT_SAFETY_ROLLBACK_STATE_RESTORED,
  ATTR_AGENT_SAFETY_ROLLBACK_STEPS,
  ATTR_AGENT_SAFETY_ROLLBACK_TARGET_ID,
  ATTR_AGENT_SAFETY_ROLLBACK_TARGET_NAME,
  ATTR_AGENT_SAFETY_ROLLBACK_UNDONE_COUNT,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
  ATTR_GEN_AI_TOOL_DESCRIPTION,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
  ERROR_TYPE_VALUE_OTHER,
  EVENT_AGENT_SAFETY_BREAKER_TRANSITION,
  EVENT_AGENT_SAFETY_CHECKPOINT_EVICTED,
  EVENT_AGENT_SAFETY_COMPENSATION_RETRY,
  EVENT_AGENT_SAFETY_EXPLANATION,
  EVENT_AGENT_SAFETY_REVIEW_ANSWERED,
  EVENT_AGENT_SAFETY_REVIEW_REQUESTED,
  GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL,
  GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT,
  METRIC_AGENT_SAFETY_AUDIT_BACKLOG,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES,
  METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES,
  METRIC_AGENT_SAFETY_AUDIT_RECORDS,
  METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS,
  METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE,
  METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS,
  METRIC_AGENT_SAFETY_GATE_DECISIONS,
  METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED,
  METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS,
  METRIC_ATTR_ENFORCED,
  METRIC_ATTR_SINK,
  SPAN_AGENT_SAFETY_AUDIT_CHECKPOINT,
  METRIC_ATTR_FROM,
  METRIC_ATTR_OUTCOME,
  METRIC_ATTR_SAFE_POINT,
  METRIC_ATTR_STATE,
  METRIC_ATTR_TO,
  METRIC_ATTR_VERDICT,
  METRIC_GEN_AI_EXECUTE_TOOL_DURATION,
  SPAN_AGENT_SAFETY_COMPENSATE_PREFIX,
  SPAN_AGENT_SAFETY_ROLLBACK,
} from './instrumentation/semconv.js';
export type { CallOutcome } from './instrumentation/semconv.js';

// ── Audit events ───────────────────────────────────────────────────────────
export { AuditLogger, auditLog, recordAuditEvent } from './instrumentation/audit-log.js';
export type { AuditEventDetails, AuditEventName } from './instrumentation/audit-log.js';
