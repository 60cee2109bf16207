/**
 * agent-safety-otel: the OpenTelemetry-native safety layer for AI agents.
 *
 * This entry point holds the patterns and the instrumentation; at run time it
 * needs only `@opentelemetry/api`. Telemetry names (attribute keys, span,
 * event and metric names) are in `agent-safety-otel/semconv`; the audit
 * chain's span processor and sinks in `agent-safety-otel/exporters`; the
 * verifier in `agent-safety-otel/verify`; the SDK bootstrap and the
 * `AgentSafetyInstrumentation` in `agent-safety-otel/bootstrap` and
 * `agent-safety-otel/register`.
 *
 * @packageDocumentation
 */

// ── The guarded action ─────────────────────────────────────────────────────
export { guard } from './instrumentation/guard/guard.js';
export type { CallOptions, Guarded, GuardOptions, GuardedFunction, ToolType } from './instrumentation/guard/guard.js';
export { invokeAgent } from './instrumentation/guard/invoke-agent.js';
export type { InvokeAgentOptions } from './instrumentation/guard/invoke-agent.js';
export { currentSignal } from './instrumentation/guard/call-context.js';
export type { AgentIdentity } from './instrumentation/shared/telemetry.js';
export { errorType } from './instrumentation/guard/record-error.js';

// ── Circuit breaker ────────────────────────────────────────────────────────
export { CircuitBreaker } from './instrumentation/breaker/circuit-breaker.js';
export { CircuitBreakerRegistry } from './instrumentation/breaker/circuit-breaker-registry.js';
export type { CircuitBreakerRegistryOptions, CircuitBreakerRegistrySnapshot } from './instrumentation/breaker/circuit-breaker-registry.js';
export type { BreakerSource } from './instrumentation/breaker/breaker-step.js';
export type { CircuitBreakerStats, IsolationHandle } from './patterns/breaker/circuit-breaker-core.js';
export { CIRCUIT_BREAKER_DEFAULTS } from './patterns/breaker/circuit-breaker-options.js';
export type { CircuitBreakerOptions, CircuitBreakerSnapshot, StateChangeListener } from './patterns/breaker/circuit-breaker-options.js';
export type { BreakerCallOutcome, BreakerVerdict, CallVerdict, CircuitState, Transition, TransitionReason } from './patterns/breaker/circuit-state.js';
export { CircuitOpenError, isCircuitOpenError } from './patterns/breaker/circuit-open-error.js';
export type { CircuitOpenDetails } from './patterns/breaker/circuit-open-error.js';
export { TRIP_DEFAULTS, consecutiveFailures, failureRate, slowCallRate } from './patterns/breaker/trip-strategies.js';
export type { FailureRateOptions, RateWindowOptions, SlowCallRateOptions, TripCounter, TripStrategy } from './patterns/breaker/trip-strategies.js';
export { exponentialCooldown } from './patterns/breaker/cooldown.js';
export type { CooldownFunction, ExponentialCooldownOptions } from './patterns/breaker/cooldown.js';

// ── Policy: rules, authorizer, rate, concurrency, budgets, kill switch ─────
export { POLICY_DEFAULTS, Policy, PolicyTicket, timerSleep } from './patterns/policy/policy.js';
export type { AuthorizerAnswer, PolicyAuthorizer, PolicyDecision, PolicyOptions, PolicySettlement, PolicySleep } from './patterns/policy/policy.js';
export type { ArgumentConstraint, PolicyRule, PolicySubject } from './patterns/policy/policy-rules.js';
export type { BudgetLimit, ConcurrencyLimit, PolicyDimension, PolicyLimit, PolicyLimitBase, SlidingWindowLimit, TokenBucketLimit } from './patterns/policy/policy-limits.js';
export { MEMORY_POLICY_STORE_DEFAULTS, MemoryPolicyStore } from './patterns/policy/policy-store.js';
export type { Admission, CounterCheck, KillTarget, MemoryPolicyStoreOptions, PolicyStore } from './patterns/policy/policy-store.js';
export type { MaybePromise } from './patterns/shared/maybe-promise.js';
export { CEDAR_AUTHORIZER_DEFAULTS, CedarAuthorizer, cedarAuthorizer } from './instrumentation/policy/cedar-authorizer.js';
export type { CedarAuthorizerOptions, CedarEntity, CedarValue } from './instrumentation/policy/cedar-authorizer.js';
export { POLICY_REASONS, PolicyDeniedError, isPolicyDeniedError } from './patterns/policy/policy-denied-error.js';
export type { PolicyDecisionValue, PolicyDenial, PolicyReason } from './patterns/policy/policy-denied-error.js';

// ── Explainability hooks ───────────────────────────────────────────────────
export { EXPLAINABILITY_HOOK_DEFAULTS, ExplainabilityHookManager } from './instrumentation/explain/explainability-hooks.js';
export type {
  ExplainabilityHookManagerOptions,
  ExplainWrapperOptions,
  ExplanationCallback,
  GuardExplainOptions,
} from './instrumentation/explain/explainability-hooks.js';
export type { ExplainOptions } from './instrumentation/explain/explainer.js';
export { ActionExplanation, EXPLANATION_PHASES } from './patterns/explain/action-explanation.js';
export type {
  ActionExplanationFields,
  ActionExplanationJSON,
  ExplanationPhase,
  ExplanationQuery,
} from './patterns/explain/action-explanation.js';

// ── Counterfactual impact gate ─────────────────────────────────────────────
export { COUNTERFACTUAL_ESTIMATOR_DEFAULTS, CounterfactualEstimator } from './instrumentation/gate/counterfactual-estimator.js';
export type {
  CounterfactualEstimatorOptions,
  GateCallOptions,
  GateDecision,
} from './instrumentation/gate/counterfactual-estimator.js';
export type { ImpactDeclaration } from './instrumentation/gate/guard-gate.js';
export { withReviewAnswer } from './instrumentation/gate/review-answer.js';
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
} from './patterns/gate/impact.js';
export type {
  AssessmentReason,
  GateEnforcement,
  GateVerdict,
  ImpactAssessment,
  ImpactLevel,
  ImpactThresholds,
} from './patterns/gate/impact.js';
export type { ImpactModel, ImpactModelContext, ImpactModelResult, ImpactScore } from './patterns/gate/impact-model.js';
export {
  ENVIRONMENT_SCORES,
  REVERSIBILITY_SCORES,
  RULES_IMPACT_MODEL_DEFAULTS,
  SCOPE_SCORES,
  declaredInactionImpact,
  rulesImpactModel,
  scoreActionMetadata,
} from './patterns/gate/impact-rules.js';
export type {
  ActionMetadata,
  DeploymentEnvironment,
  ImpactScope,
  Reversibility,
  RulesFactors,
  RulesImpactModelOptions,
} from './patterns/gate/impact-rules.js';
export type { ApprovalHook, ReviewAnswer, ReviewOutcome, ReviewReason, ReviewRequest } from './patterns/gate/review.js';
export { canonicalJson, canonicalizeArguments, hashArguments } from './patterns/shared/arguments-hash.js';

// ── Redaction ──────────────────────────────────────────────────────────────
export {
  DEFAULT_SECRET_KEY_PATTERN,
  REDACTED,
  UNSERIALIZABLE,
  captureValue,
  noRedaction,
  redactSecrets,
  redactText,
  safeStringify,
  secretRedactor,
} from './patterns/shared/redaction.js';
export type { Redactor, SafeStringifyOptions, SecretRedactorOptions } from './patterns/shared/redaction.js';

// ── Rollback ───────────────────────────────────────────────────────────────
export { RollbackManager } from './instrumentation/rollback/rollback-manager.js';
export { currentCheckpoint } from './instrumentation/rollback/rollback-context.js';
export type { GuardCheckpointOptions } from './instrumentation/rollback/guard-checkpoint.js';
export { ROLLBACK_DEFAULTS } from './patterns/rollback/rollback-engine.js';
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
} from './patterns/rollback/rollback-engine.js';
export type {
  CompensationEntry,
  CompensationOutcome,
  RollbackMode,
  RollbackOutcome,
  RollbackReport,
} from './patterns/rollback/rollback-report.js';
export type { ActionStatus, Checkpoint, CheckpointRecord, EncodedSnapshot, SpanReference } from './patterns/rollback/checkpoint.js';
export { MemoryCheckpointStore } from './patterns/rollback/checkpoint-store.js';
export type { CheckpointStore } from './patterns/rollback/checkpoint-store.js';
export { FileCheckpointStore } from './patterns/rollback/file-checkpoint-store.js';
export type { FileCheckpointStoreOptions } from './patterns/rollback/file-checkpoint-store.js';
export type { SnapshotCodec, SnapshotMode } from './patterns/rollback/snapshot.js';
export {
  CheckpointLimitError,
  RollbackError,
  RollbackTargetError,
  SnapshotError,
  isCheckpointLimitError,
  isRollbackError,
  isRollbackTargetError,
  isSnapshotError,
} from './patterns/rollback/rollback-errors.js';
export type { SnapshotFailure } from './patterns/rollback/rollback-errors.js';

// ── A fleet: shared breakers, limits, approvals, kill switch ──────────────
export { MemorySafetyStore } from './patterns/store/memory-safety-store.js';
export { RedisSafetyStore } from './patterns/store/redis-safety-store.js';
export type { RedisClientLike, RedisSafetyStoreOptions } from './patterns/store/redis-safety-store.js';
export type { RedisPolicyStore, RedisPolicyStoreOptions } from './patterns/store/redis-policy-store.js';
export type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalRequestRecord,
  ApprovalState,
  ChargeMode,
  DecideResult,
  FleetBreakerState,
  LimitDecision,
  ReportOpen,
  SafetyStore,
} from './patterns/store/safety-store.js';
export { BREAKER_FLEET_DEFAULTS } from './patterns/store/store-breaker-fleet.js';
export type { BreakerFleetOptions, StoreBreakerFleet } from './patterns/store/store-breaker-fleet.js';
export { DurableApprovals } from './instrumentation/store/durable-approvals.js';
export { approvalId } from './patterns/store/durable-approvals.js';
export type { ApprovalReviewer, DurableApprovalsOptions } from './patterns/store/durable-approvals.js';
export { instrumentStore } from './instrumentation/store/instrumented-store.js';

// ── Errors ─────────────────────────────────────────────────────────────────
export { ToolTimeoutError, isToolTimeoutError } from './patterns/shared/errors.js';
export { ActionBlockedError, isActionBlockedError } from './patterns/gate/action-blocked-error.js';
export { AuditUnavailableError, isAuditUnavailableError } from './patterns/audit/audit-unavailable-error.js';
export type { AuditUnavailableDetails, AuditUnavailableReason } from './patterns/audit/audit-unavailable-error.js';

// ── Time ───────────────────────────────────────────────────────────────────
export { systemClock } from './patterns/shared/clock.js';
export type { Clock } from './patterns/shared/clock.js';

// ── Audit events ───────────────────────────────────────────────────────────
export { AuditLogger, auditLog, recordAuditEvent } from './instrumentation/audit/audit-log.js';
export type { AuditEventDetails, AuditEventName } from './instrumentation/audit/audit-log.js';
export type { CallOutcome } from './instrumentation/shared/semconv.js';
