/**
 * Attribute keys, span names, event names and metric names this package emits.
 *
 * The `gen_ai.*` keys are copied from the OpenTelemetry GenAI semantic
 * conventions (status: Development). The semconv package publishes them only
 * from its `/incubating` entry point, which libraries should not import at
 * run time, so they are copied here. Our own keys live under `agent_safety.*`
 * and never under `gen_ai.*`.
 *
 * Every name here is part of the public API: the README's telemetry table
 * lists them and the Collector routing rules and Prometheus alerts use them.
 *
 * @module
 */
import { AUDIT_KEYS, AUDIT_TLOG_NOTE_KEY, CHECKPOINT_SPAN_NAME, SEAL_SPAN_NAME } from '../../patterns/audit/audit-record.js';

// ── GenAI semantic conventions (copied, @experimental upstream) ───────────

/** @experimental The operation: `execute_tool` or `invoke_agent` here. */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
/** @experimental `gen_ai.operation.name` of a tool call. */
export const GEN_AI_OPERATION_NAME_VALUE_EXECUTE_TOOL = 'execute_tool';
/** @experimental `gen_ai.operation.name` of an agent run or step. */
export const GEN_AI_OPERATION_NAME_VALUE_INVOKE_AGENT = 'invoke_agent';
/** @experimental Name of the tool the agent calls. */
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name';
/** @experimental The tool call's id, as the model or framework assigned it. */
export const ATTR_GEN_AI_TOOL_CALL_ID = 'gen_ai.tool.call.id';
/** @experimental What the tool does. */
export const ATTR_GEN_AI_TOOL_DESCRIPTION = 'gen_ai.tool.description';
/** @experimental `function`, `extension` or `datastore`. */
export const ATTR_GEN_AI_TOOL_TYPE = 'gen_ai.tool.type';
/** @experimental Opt-in: the redacted arguments, as JSON. */
export const ATTR_GEN_AI_TOOL_CALL_ARGUMENTS = 'gen_ai.tool.call.arguments';
/** @experimental Opt-in: the redacted result, as JSON. */
export const ATTR_GEN_AI_TOOL_CALL_RESULT = 'gen_ai.tool.call.result';
/** @experimental The agent's stable id. */
export const ATTR_GEN_AI_AGENT_ID = 'gen_ai.agent.id';
/** @experimental The agent's human-readable name. */
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
/** @experimental The conversation or session the agent run belongs to. */
export const ATTR_GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id';
/** @experimental The agent's description, as the application gives it. */
export const ATTR_GEN_AI_AGENT_DESCRIPTION = 'gen_ai.agent.description';
/** @experimental The agent's version, as the application gives it. */
export const ATTR_GEN_AI_AGENT_VERSION = 'gen_ai.agent.version';
/**
 * @experimental The GenAI provider behind the agent, e.g. `openai`,
 * `anthropic`, `aws.bedrock` (required on `invoke_agent` by the conventions).
 */
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
/** @experimental The model the agent is configured with (when it has one). */
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
/** @experimental Histogram of tool call durations, in seconds. */
export const METRIC_GEN_AI_EXECUTE_TOOL_DURATION = 'gen_ai.execute_tool.duration';
/** @experimental Histogram of agent invocation durations (`invokeAgent` runs), in seconds. */
export const METRIC_GEN_AI_INVOKE_AGENT_DURATION = 'gen_ai.invoke_agent.duration';

/** Stable: a low-cardinality class of the error that ended the operation. */
export const ATTR_ERROR_TYPE = 'error.type';
/** Stable: `error.type` when nothing better is known. */
export const ERROR_TYPE_VALUE_OTHER = '_OTHER';

// ── agent_safety.*: the guarded call ──────────────────────────────────────

/**
 * How the guarded call ended: `success`, `error`, `timeout`, `aborted`
 * (by the caller: not a tool failure), `rejected` (breaker open),
 * `blocked` (impact gate) or `denied` (review denied or unanswered, or
 * the policy denied: `agent_safety.policy.decision` = `deny`).
 */
export const ATTR_AGENT_SAFETY_CALL_OUTCOME = 'agent_safety.call.outcome';
/** The values of {@link ATTR_AGENT_SAFETY_CALL_OUTCOME}. */
export type CallOutcome = 'success' | 'error' | 'timeout' | 'aborted' | 'rejected' | 'blocked' | 'denied';
/**
 * The trace id of the same tool call in a framework's own (non-OpenTelemetry)
 * tracing, e.g. the OpenAI Agents SDK's `trace_…`: links the two records.
 */
export const ATTR_AGENT_SAFETY_FRAMEWORK_TRACE_ID = 'agent_safety.framework.trace_id';
/** The span id of the same tool call in a framework's own tracing (e.g. its `function` span). */
export const ATTR_AGENT_SAFETY_FRAMEWORK_SPAN_ID = 'agent_safety.framework.span_id';

// ── Circuit breaker ────────────────────────────────────────────────────────

/** The breaker that guarded the call. */
export const ATTR_AGENT_SAFETY_BREAKER_NAME = 'agent_safety.breaker.name';
/** The breaker's state when the call was admitted or rejected. */
export const ATTR_AGENT_SAFETY_BREAKER_STATE = 'agent_safety.breaker.state';
/** Span event: the breaker changed state because of this call. */
export const EVENT_AGENT_SAFETY_BREAKER_TRANSITION = 'agent_safety.breaker.transition';
/** On {@link EVENT_AGENT_SAFETY_BREAKER_TRANSITION}: the state it left. */
export const ATTR_AGENT_SAFETY_BREAKER_FROM = 'agent_safety.breaker.from';
/** On {@link EVENT_AGENT_SAFETY_BREAKER_TRANSITION}: the state it entered. */
export const ATTR_AGENT_SAFETY_BREAKER_TO = 'agent_safety.breaker.to';
/**
 * On {@link EVENT_AGENT_SAFETY_BREAKER_TRANSITION}: why, e.g.
 * `consecutive_failures`, `failure_rate`, `cooldown_elapsed`, `probe_failed`.
 */
export const ATTR_AGENT_SAFETY_BREAKER_REASON = 'agent_safety.breaker.reason';
// Units of counts are curly-brace annotations (`{state}`, `{call}`, …): the
// Collector's Prometheus exporter then adds no unit suffix, so a metric has
// the same name scraped directly or through the Collector.

/** State metric (unit `{state}`): 1 for the current state, 0 for the others. */
export const METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE = 'agent_safety.circuit_breaker.state';
/** Counter of state transitions by `from` and `to` (unit `{transition}`). */
export const METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS = 'agent_safety.circuit_breaker.transitions';
/**
 * Counter of calls by `outcome` (unit `{call}`): `success`, `failure`,
 * `ignored`, `rejected` or `slow`; every call has exactly one.
 */
export const METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS = 'agent_safety.circuit_breaker.calls';

// ── Policy ─────────────────────────────────────────────────────────────────

/** What the policy decided: `allow` or `deny`. */
export const ATTR_AGENT_SAFETY_POLICY_DECISION = 'agent_safety.policy.decision';
/**
 * Why, low cardinality: `allowed`, `kill_switch`, `rule_denied`,
 * `not_allowed`, `authorizer_denied`, `evaluation_error`, `rate_limited`,
 * `concurrency_limited`, `budget_exhausted` or `store_error`.
 */
export const ATTR_AGENT_SAFETY_POLICY_REASON = 'agent_safety.policy.reason';
/** The rule, or the authorizer's (Cedar) policies, that decided; `kill_switch:…` for the kill switch. */
export const ATTR_AGENT_SAFETY_POLICY_RULE = 'agent_safety.policy.rule';
/** The limit or budget that denied the call; when allowed, the one closest to exhaustion. */
export const ATTR_AGENT_SAFETY_POLICY_LIMIT = 'agent_safety.policy.limit';
/** What is left of {@link ATTR_AGENT_SAFETY_POLICY_LIMIT} after this call's admission (tokens, calls, slots, budget units). */
export const ATTR_AGENT_SAFETY_POLICY_REMAINING = 'agent_safety.policy.remaining';
/** On a denial: milliseconds until a retry could pass, when known. */
export const ATTR_AGENT_SAFETY_POLICY_RETRY_AFTER_MS = 'agent_safety.policy.retry_after_ms';
/** How long the call waited for room under a rate or concurrency limit (only when it waited). */
export const ATTR_AGENT_SAFETY_POLICY_WAITED_MS = 'agent_safety.policy.waited_ms';
/** After the call: the budget charged that is closest to exhaustion. */
export const ATTR_AGENT_SAFETY_POLICY_BUDGET_NAME = 'agent_safety.policy.budget.name';
/** After the call: the cost charged to that budget. */
export const ATTR_AGENT_SAFETY_POLICY_BUDGET_COST = 'agent_safety.policy.budget.cost';
/** After the call: what is left of that budget (negative when calls in flight overspent it). */
export const ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING = 'agent_safety.policy.budget.remaining';
/** Counter of policy decisions by `decision`, `reason`, agent and tool (unit `{decision}`). */
export const METRIC_AGENT_SAFETY_POLICY_DECISIONS = 'agent_safety.policy.decisions';

// ── Explanations ───────────────────────────────────────────────────────────

/**
 * Event name of one explanation (phase, reasoning, confidence, alternatives):
 * the `eventName` of a log record, or the name of a span event.
 */
export const EVENT_AGENT_SAFETY_EXPLANATION = 'agent_safety.explanation';
/** `pre_action`, `post_action` or `on_error`. */
export const ATTR_AGENT_SAFETY_EXPLANATION_PHASE = 'agent_safety.explanation.phase';
/** Why the agent acted (pre-action reasoning is also a span attribute). */
export const ATTR_AGENT_SAFETY_EXPLANATION_REASONING = 'agent_safety.explanation.reasoning';
/** The agent's confidence in 0..1. */
export const ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE = 'agent_safety.explanation.confidence';
/** Alternatives the agent considered. */
export const ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES = 'agent_safety.explanation.alternatives';
/**
 * On the action's span when explanations are emitted as log records only:
 * each explanation log record's attributes, as canonical JSON, in the order
 * they were emitted. Keeps every explanation in the audit chain, which
 * chains spans.
 */
export const ATTR_AGENT_SAFETY_EXPLANATION_EVENTS = 'agent_safety.explanation.events';

// ── Impact gate ────────────────────────────────────────────────────────────

/** Estimated impact of acting, 0..1. */
export const ATTR_AGENT_SAFETY_IMPACT_PROPOSED = 'agent_safety.impact.proposed';
/** Estimated impact of not acting, 0..1. */
export const ATTR_AGENT_SAFETY_IMPACT_COUNTERFACTUAL = 'agent_safety.impact.counterfactual';
/** `proposed − counterfactual` (signed). */
export const ATTR_AGENT_SAFETY_IMPACT_DELTA = 'agent_safety.impact.delta';
/** `NEGLIGIBLE`, `LOW`, `MODERATE`, `HIGH` or `CRITICAL`. */
export const ATTR_AGENT_SAFETY_IMPACT_LEVEL = 'agent_safety.impact.level';
/** What the gate recommended: `proceed`, `review` or `block`. */
export const ATTR_AGENT_SAFETY_IMPACT_VERDICT = 'agent_safety.impact.verdict';
/** What happened: `proceeded`, `approved`, `denied` or `blocked`. */
export const ATTR_AGENT_SAFETY_IMPACT_ENFORCED = 'agent_safety.impact.enforced';
/**
 * Why the gate enforced what it did, low cardinality, no user content: the
 * assessment's reason (`below_review_threshold`, `review_threshold_reached`,
 * `block_threshold_reached`, `impact_model_error|timeout|invalid`,
 * `counterfactual_model_error|timeout|invalid`, `impact_metadata_error`),
 * or after a review the review's reason (see {@link ATTR_AGENT_SAFETY_REVIEW_REASON}).
 */
export const ATTR_AGENT_SAFETY_IMPACT_REASON = 'agent_safety.impact.reason';
/** Prefix of per-factor scores, e.g. `agent_safety.impact.factor.reversibility`. */
export const ATTR_AGENT_SAFETY_IMPACT_FACTOR_PREFIX = 'agent_safety.impact.factor.';
/** `true` when the assessment was reused from the cache for this tool call id (a resumed call). Absent otherwise. */
export const ATTR_AGENT_SAFETY_IMPACT_CACHED = 'agent_safety.impact.cached';
/** Span event: a review was requested. */
export const EVENT_AGENT_SAFETY_REVIEW_REQUESTED = 'agent_safety.review.requested';
/** Span event: a review was answered (or timed out). */
export const EVENT_AGENT_SAFETY_REVIEW_ANSWERED = 'agent_safety.review.answered';
/** On `agent_safety.review.requested`: hex SHA-256 of the canonical JSON of the redacted arguments. */
export const ATTR_AGENT_SAFETY_REVIEW_ARGUMENTS_HASH = 'agent_safety.review.arguments_hash';
/** On `agent_safety.review.requested`: how long the reviewer has, in milliseconds. */
export const ATTR_AGENT_SAFETY_REVIEW_TIMEOUT_MS = 'agent_safety.review.timeout_ms';
/** On `agent_safety.review.answered`: `approved` or `denied`. */
export const ATTR_AGENT_SAFETY_REVIEW_DECISION = 'agent_safety.review.decision';
/**
 * On `agent_safety.review.answered`: why, low cardinality: `reviewer_approved`,
 * `reviewer_denied`, `review_timeout`, `review_error`, `review_aborted`,
 * `invalid_review_answer` or `no_approval_hook`.
 */
export const ATTR_AGENT_SAFETY_REVIEW_REASON = 'agent_safety.review.reason';
/** On `agent_safety.review.answered`: who decided, when the answer said so. */
export const ATTR_AGENT_SAFETY_REVIEW_REVIEWER = 'agent_safety.review.reviewer';
/** Counter of gate decisions by `verdict` and `enforced` (unit `{decision}`). */
export const METRIC_AGENT_SAFETY_GATE_DECISIONS = 'agent_safety.gate.decisions';

// ── Checkpoints, rollback, compensation ────────────────────────────────────

/**
 * The checkpoint taken inside this guarded call (or in the span active when
 * it was taken by hand). On a `compensate` span, its link and the eviction
 * event: the checkpoint undone or evicted.
 */
export const ATTR_AGENT_SAFETY_CHECKPOINT_ID = 'agent_safety.checkpoint.id';
/** Whether that checkpoint is a safe point. */
export const ATTR_AGENT_SAFETY_CHECKPOINT_SAFE_POINT = 'agent_safety.checkpoint.safe_point';
/** Counter of compensations (undo hooks run) by `outcome` (unit `{compensation}`). */
export const METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS = 'agent_safety.rollback.compensations';
/** Counter of checkpoints evicted at the depth limit (unit `{checkpoint}`). */
export const METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED = 'agent_safety.rollback.checkpoints_evicted';
/** Counter of files a `FileCheckpointStore` skipped because they are not its checkpoints or are corrupt (unit `{file}`). */
export const METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINT_FILES_SKIPPED = 'agent_safety.rollback.checkpoint_files_skipped';
/** Span name of a rollback. */
export const SPAN_AGENT_SAFETY_ROLLBACK = 'agent_safety.rollback';
/** Link attribute naming the link's meaning. */
export const ATTR_AGENT_SAFETY_LINK_TYPE = 'agent_safety.link.type';
/** {@link ATTR_AGENT_SAFETY_LINK_TYPE} on a compensation span's link to the undone span. */
export const AGENT_SAFETY_LINK_TYPE_VALUE_COMPENSATES = 'compensates';
/** Trace id of the undone span (Jaeger drops link attributes, so it is copied here). */
export const ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID = 'agent_safety.compensated.trace_id';
/** Span id of the undone span. */
export const ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID = 'agent_safety.compensated.span_id';
/** Name of the checkpoint: the action it precedes, under which its undo hook is registered. */
export const ATTR_AGENT_SAFETY_CHECKPOINT_NAME = 'agent_safety.checkpoint.name';
/**
 * Span event on the span that took a checkpoint: an older checkpoint was
 * evicted at the depth limit to make room (attributes: its id, name,
 * `safe_point`, and `last_safe_point`).
 */
export const EVENT_AGENT_SAFETY_CHECKPOINT_EVICTED = 'agent_safety.checkpoint.evicted';
/** On {@link EVENT_AGENT_SAFETY_CHECKPOINT_EVICTED}: true when the last safe point was evicted. */
export const ATTR_AGENT_SAFETY_CHECKPOINT_LAST_SAFE_POINT = 'agent_safety.checkpoint.last_safe_point';
/** How a rollback named its target: `checkpoint_id`, `last_safe_point` or `steps`. */
export const ATTR_AGENT_SAFETY_ROLLBACK_MODE = 'agent_safety.rollback.mode';
/** Id of the checkpoint rolled back to (the oldest one undone). */
export const ATTR_AGENT_SAFETY_ROLLBACK_TARGET_ID = 'agent_safety.rollback.target.id';
/** Name of the checkpoint rolled back to. */
export const ATTR_AGENT_SAFETY_ROLLBACK_TARGET_NAME = 'agent_safety.rollback.target.name';
/** Number of checkpoints in the rollback's range (the target and every newer one). */
export const ATTR_AGENT_SAFETY_ROLLBACK_STEPS = 'agent_safety.rollback.steps';
/** False when the rollback only restored state without running undo hooks. */
export const ATTR_AGENT_SAFETY_ROLLBACK_EXECUTE_HOOKS = 'agent_safety.rollback.execute_hooks';
/** How the rollback ended: `complete`, `partial` or `failed`. */
export const ATTR_AGENT_SAFETY_ROLLBACK_OUTCOME = 'agent_safety.rollback.outcome';
/** Why the rollback was run, as its caller said (short, low-cardinality text). */
export const ATTR_AGENT_SAFETY_ROLLBACK_REASON = 'agent_safety.rollback.reason';
/** Whether the target's state was restored. */
export const ATTR_AGENT_SAFETY_ROLLBACK_STATE_RESTORED = 'agent_safety.rollback.state_restored';
/** Checkpoints whose undo hook succeeded. */
export const ATTR_AGENT_SAFETY_ROLLBACK_UNDONE_COUNT = 'agent_safety.rollback.undone_count';
/** Checkpoints with no hook to run (or hooks not requested): state only. */
export const ATTR_AGENT_SAFETY_ROLLBACK_RESTORED_COUNT = 'agent_safety.rollback.restored_count';
/** Checkpoints whose undo hook failed on every attempt. */
export const ATTR_AGENT_SAFETY_ROLLBACK_FAILED_COUNT = 'agent_safety.rollback.failed_count';
/** Checkpoints not attempted because the rollback stopped at a failure. */
export const ATTR_AGENT_SAFETY_ROLLBACK_SKIPPED_COUNT = 'agent_safety.rollback.skipped_count';
/** First word of a compensation span's name: the span is `compensate {checkpoint name}`. */
export const SPAN_AGENT_SAFETY_COMPENSATE_PREFIX = 'compensate';
/** How the undo hook ended: `undone` or `failed`. */
export const ATTR_AGENT_SAFETY_COMPENSATION_OUTCOME = 'agent_safety.compensation.outcome';
/** How many times the undo hook was called (retries included). */
export const ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPTS = 'agent_safety.compensation.attempts';
/** What was known of the undone action: `completed`, `failed` or `pending` (never reported back). */
export const ATTR_AGENT_SAFETY_COMPENSATION_ACTION_STATUS = 'agent_safety.compensation.action_status';
/** Span event on a compensation span: an attempt failed and will be retried (`attempt`, `error.type`). */
export const EVENT_AGENT_SAFETY_COMPENSATION_RETRY = 'agent_safety.compensation.retry';
/** On {@link EVENT_AGENT_SAFETY_COMPENSATION_RETRY}: the attempt that failed, from 1. */
export const ATTR_AGENT_SAFETY_COMPENSATION_ATTEMPT = 'agent_safety.compensation.attempt';

// ── Audit chain ────────────────────────────────────────────────────────────
// The format's own module (patterns/audit-record) holds these names; they are listed here with the others.

/** The chain (one per process run) this span was appended to. */
export const ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID = AUDIT_KEYS.chainId; // 'agent_safety.audit.chain_id'
/** Gap-free position in the chain, from 0. */
export const ATTR_AGENT_SAFETY_AUDIT_SEQ = AUDIT_KEYS.seq; // 'agent_safety.audit.seq'
/** Hash of the previous record (hex). */
export const ATTR_AGENT_SAFETY_AUDIT_PREV_HASH = AUDIT_KEYS.prevHash; // 'agent_safety.audit.prev_hash'
/** Hash of this record (hex). */
export const ATTR_AGENT_SAFETY_AUDIT_HASH = AUDIT_KEYS.hash; // 'agent_safety.audit.hash'
/** On a chain's first record (seq 0): id of the HMAC key the chain is keyed with. */
export const ATTR_AGENT_SAFETY_AUDIT_KEY_ID = AUDIT_KEYS.keyId; // 'agent_safety.audit.key_id'
/** On a chain's first record: the chain id of the earlier chain it continues (e.g. the previous run's, in the same file). */
export const ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_CHAIN_ID = AUDIT_KEYS.previousChainId; // 'agent_safety.audit.previous.chain_id'
/** On a chain's first record: the last seq of the chain it continues. */
export const ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_SEQ = AUDIT_KEYS.previousSeq; // 'agent_safety.audit.previous.seq'
/** On a chain's first record: the head hash of the chain it continues. */
export const ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH = AUDIT_KEYS.previousHash; // 'agent_safety.audit.previous.hash'
/** On a chain's first record (format 2): the audit record format version. */
export const ATTR_AGENT_SAFETY_AUDIT_FORMAT = AUDIT_KEYS.format; // 'agent_safety.audit.format'
/** On a keyed chain's first record: a seal follows at most this many records. */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_EVERY = AUDIT_KEYS.sealEvery; // 'agent_safety.audit.seal_every'
/** Span name of a seal of an audit chain (its head, signed with an Ed25519 key when one is set). */
export const SPAN_AGENT_SAFETY_AUDIT_SEAL = SEAL_SPAN_NAME; // 'agent_safety.audit.seal'
/** On a seal span: seq of the last record the seal covers. */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_HEAD_SEQ = AUDIT_KEYS.sealHeadSeq; // 'agent_safety.audit.seal.head_seq'
/** On a seal span: hash of that record. */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_HEAD_HASH = AUDIT_KEYS.sealHeadHash; // 'agent_safety.audit.seal.head_hash'
/** On a seal span: when it was made (unix nanoseconds, decimal string). */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_TIME = AUDIT_KEYS.sealTime; // 'agent_safety.audit.seal.time_unix_nano'
/** On a signed seal span: id of the Ed25519 signing key. */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_KEY_ID = AUDIT_KEYS.sealKeyId; // 'agent_safety.audit.seal.key_id'
/** On a signed seal span: the Ed25519 signature (base64) of the claim. */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_SIGNATURE = AUDIT_KEYS.sealSignature; // 'agent_safety.audit.seal.signature'
/** On the seal made at shutdown: true (the chain ends there). */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_FINAL = AUDIT_KEYS.sealFinal; // 'agent_safety.audit.seal.final'
/** On a seal span, with a transparency log and a signing key: the log's C2SP signed checkpoint note of the tree of the records before it (docs/transparency.md). */
export const ATTR_AGENT_SAFETY_AUDIT_SEAL_NOTE = AUDIT_TLOG_NOTE_KEY; // 'agent_safety.audit.seal.note'
/** @deprecated Format 1 (read, no longer written): span name of a signed checkpoint; see {@link SPAN_AGENT_SAFETY_AUDIT_SEAL}. */
export const SPAN_AGENT_SAFETY_AUDIT_CHECKPOINT = CHECKPOINT_SPAN_NAME; // 'agent_safety.audit.checkpoint'
/** @deprecated Format 1: on a checkpoint span: seq of the last record the checkpoint covers. */
export const ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_SEQ = AUDIT_KEYS.checkpointHeadSeq; // 'agent_safety.audit.checkpoint.head_seq'
/** @deprecated Format 1: on a checkpoint span: hash of that record. */
export const ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_HASH = AUDIT_KEYS.checkpointHeadHash; // 'agent_safety.audit.checkpoint.head_hash'
/** @deprecated Format 1: on a checkpoint span: when it was signed (unix nanoseconds, decimal string). */
export const ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_TIME = AUDIT_KEYS.checkpointTime; // 'agent_safety.audit.checkpoint.time_unix_nano'
/** @deprecated Format 1: on a checkpoint span: id of the Ed25519 signing key. */
export const ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_KEY_ID = AUDIT_KEYS.checkpointKeyId; // 'agent_safety.audit.checkpoint.key_id'
/** @deprecated Format 1: on a checkpoint span: the Ed25519 signature (base64) of the claim. */
export const ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_SIGNATURE = AUDIT_KEYS.checkpointSignature; // 'agent_safety.audit.checkpoint.signature'
/** Audit event (span event, or span name when no span is active): the agent proposes an action. */
export const EVENT_AGENT_SAFETY_ACTION_PROPOSED = 'agent_safety.action.proposed';
/** Audit event: the action ran. */
export const EVENT_AGENT_SAFETY_ACTION_EXECUTED = 'agent_safety.action.executed';
/** Audit event: the action was stopped. */
export const EVENT_AGENT_SAFETY_ACTION_BLOCKED = 'agent_safety.action.blocked';
/** Audit event: a policy was violated. */
export const EVENT_AGENT_SAFETY_POLICY_VIOLATION = 'agent_safety.policy.violation';
/** On audit events: the action concerned. */
export const ATTR_AGENT_SAFETY_ACTION_NAME = 'agent_safety.action.name';
/** On audit events: why (blocked actions, violations). */
export const ATTR_AGENT_SAFETY_ACTION_REASON = 'agent_safety.action.reason';
/** On audit events: further details, redacted, as JSON. */
export const ATTR_AGENT_SAFETY_ACTION_DETAILS = 'agent_safety.action.details';
/**
 * A record of the chain that names records not kept (the backlog was full):
 * its span is `agent_safety.audit_gap`, from the first to the last record
 * left out. Outside `agent_safety.audit.*` so that its attributes are hashed.
 */
export const SPAN_AGENT_SAFETY_AUDIT_GAP = 'agent_safety.audit_gap';
/** On a gap record: how many records were left out. */
export const ATTR_AGENT_SAFETY_AUDIT_GAP_RECORDS = 'agent_safety.audit_gap.records';
/** On a gap record: why (`backlog-full`). */
export const ATTR_AGENT_SAFETY_AUDIT_GAP_REASON = 'agent_safety.audit_gap.reason';
/** Counter of records appended to audit chains (unit `{record}`). */
export const METRIC_AGENT_SAFETY_AUDIT_RECORDS = 'agent_safety.audit.records';
/** Records waiting to be delivered to an audit sink (unit `{record}`). */
export const METRIC_AGENT_SAFETY_AUDIT_BACKLOG = 'agent_safety.audit.backlog';
/** Counter of failed audit export attempts (unit `{failure}`). */
export const METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES = 'agent_safety.audit.export_failures';
/** Counter of audit export attempts that re-send records an earlier attempt failed to deliver (unit `{retry}`). */
export const METRIC_AGENT_SAFETY_AUDIT_EXPORT_RETRIES = 'agent_safety.audit.export_retries';
/** Counter of audit records the receiver refused for good (HTTP 4xx), set aside in the dead-letter file (unit `{record}`). */
export const METRIC_AGENT_SAFETY_AUDIT_DEAD_LETTERS = 'agent_safety.audit.dead_letters';
/** Counter of audit records not kept because the backlog was full (each run of them is named by a gap record) (unit `{record}`). */
export const METRIC_AGENT_SAFETY_AUDIT_DROPPED = 'agent_safety.audit.dropped';
/** Counter of guarded calls refused (or timed out waiting) because the audit could not accept their record (unit `{call}`). */
export const METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS = 'agent_safety.audit.refused_calls';

// ── Metric attribute keys ──────────────────────────────────────────────────
// Attributes of the agent_safety.* metrics that are not span attributes.
// Short and unprefixed: each is scoped by its metric, as in the OpenTelemetry
// state-metric pattern. As Prometheus labels they keep their names; the
// alert rules in collector-config/prometheus/ use them.

/** On {@link METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE}: `closed`, `open` or `half_open`. */
export const METRIC_ATTR_STATE = 'state';
/** On {@link METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS}: the state left. */
export const METRIC_ATTR_FROM = 'from';
/** On {@link METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS}: the state entered. */
export const METRIC_ATTR_TO = 'to';
/**
 * On {@link METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS} (`success`, `failure`,
 * `ignored`, `rejected`, `slow`) and {@link METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS}
 * (`undone`, `failed`, `skipped`).
 */
export const METRIC_ATTR_OUTCOME = 'outcome';
/** On {@link METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED}: whether the evicted checkpoint was a safe point. */
export const METRIC_ATTR_SAFE_POINT = 'safe_point';
/** On {@link METRIC_AGENT_SAFETY_GATE_DECISIONS}: what the gate recommended (`proceed`, `review`, `block`). */
export const METRIC_ATTR_VERDICT = 'verdict';
/** On {@link METRIC_AGENT_SAFETY_GATE_DECISIONS}: what happened (`proceeded`, `approved`, `denied`, `blocked`). */
export const METRIC_ATTR_ENFORCED = 'enforced';
/** On {@link METRIC_AGENT_SAFETY_POLICY_DECISIONS}: `allow` or `deny`. */
export const METRIC_ATTR_DECISION = 'decision';
/** On {@link METRIC_AGENT_SAFETY_POLICY_DECISIONS}: the decision's reason (see {@link ATTR_AGENT_SAFETY_POLICY_REASON}). */
export const METRIC_ATTR_REASON = 'reason';
/** On audit backlog and export failures: which sink (`file`, `otlp`, or a user sink's name). */
export const METRIC_ATTR_SINK = 'sink';

// ── Fleet store (SafetyStore) ──────────────────────────────────────────────

/**
 * Histogram of `SafetyStore` operation durations by `store` and `operation`,
 * with `error.type` when the operation failed (unit `s`).
 */
export const METRIC_AGENT_SAFETY_STORE_OPERATION_DURATION = 'agent_safety.store.operation.duration';
/**
 * Counter of failed `SafetyStore` operations by `store`, `operation` and
 * `error.type` (unit `{error}`): the store down, slow or refusing. Each
 * failure means a feature ran on its stated fallback (breaker: local only;
 * approvals: denied; limits: as configured).
 */
export const METRIC_AGENT_SAFETY_STORE_ERRORS = 'agent_safety.store.errors';
/** On store metrics: the store's kind (`memory`, `redis`). */
export const METRIC_ATTR_STORE = 'store';
/** On store metrics: the operation (`breaker_state`, `report_open`, `acquire_probe`, `report_closed`, `force_open`, `release_forced`, `forced_reason`, `take_tokens`, `hit_window`, `charge`, `request_approval`, `decide_approval`, `read_approval`, `pending_approvals`). */
export const METRIC_ATTR_OPERATION = 'operation';
