/**
 * The audit event API, after the original library's `log_action_proposed /
 * executed / blocked / policy_violation`: a decision of the agent (or of a
 * policy around it) recorded as a span event on the active span (normally
 * the guarded action), or as a short span of its own when no span is
 * active. Either way it is one of the package's spans, so the
 * `AuditChainSpanProcessor` chains it like everything else.
 *
 * @module
 */
import { context, diag, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import {
  ATTR_AGENT_SAFETY_ACTION_DETAILS,
  ATTR_AGENT_SAFETY_ACTION_NAME,
  ATTR_AGENT_SAFETY_ACTION_REASON,
  ATTR_GEN_AI_AGENT_ID,
  EVENT_AGENT_SAFETY_ACTION_BLOCKED,
  EVENT_AGENT_SAFETY_ACTION_EXECUTED,
  EVENT_AGENT_SAFETY_ACTION_PROPOSED,
  EVENT_AGENT_SAFETY_POLICY_VIOLATION,
} from '../shared/semconv.js';
import { redactString } from '../../patterns/shared/redaction.js';
import { currentTracer, telemetry } from '../shared/telemetry.js';
import { PACKAGE_NAME } from '../shared/version.js';

/** What an audit event says. */
export interface AuditEventDetails {
  /** The agent (`gen_ai.agent.id`). @default the instrumentation's default agent */
  agentId?: string;
  /** Why (for blocked actions and violations). */
  reason?: string;
  /**
   * Anything else worth keeping, recorded as redacted JSON in
   * `agent_safety.action.details` (the instrumentation's redactor applies).
   */
  details?: Record<string, unknown>;
}

/** The kinds of audit event. */
export type AuditEventName =
  | typeof EVENT_AGENT_SAFETY_ACTION_PROPOSED
  | typeof EVENT_AGENT_SAFETY_ACTION_EXECUTED
  | typeof EVENT_AGENT_SAFETY_ACTION_BLOCKED
  | typeof EVENT_AGENT_SAFETY_POLICY_VIOLATION;

const AUDIT_EVENT_NAMES: ReadonlySet<string> = new Set<AuditEventName>([
  EVENT_AGENT_SAFETY_ACTION_PROPOSED,
  EVENT_AGENT_SAFETY_ACTION_EXECUTED,
  EVENT_AGENT_SAFETY_ACTION_BLOCKED,
  EVENT_AGENT_SAFETY_POLICY_VIOLATION,
]);

function attributesOf(action: string, info: AuditEventDetails | undefined): Attributes {
  const attributes: Attributes = { [ATTR_AGENT_SAFETY_ACTION_NAME]: action };
  const agentId = info?.agentId ?? telemetry.settings.agent?.id;
  if (agentId !== undefined) attributes[ATTR_GEN_AI_AGENT_ID] = agentId;
  // The reason may quote what the agent saw: redacted like the details (it can be a span's attribute, which no processor redacts).
  if (info?.reason !== undefined) attributes[ATTR_AGENT_SAFETY_ACTION_REASON] = redactString(String(info.reason), telemetry.settings.redact);
  if (info?.details !== undefined) {
    try {
      attributes[ATTR_AGENT_SAFETY_ACTION_DETAILS] = JSON.stringify(telemetry.settings.redact(info.details));
    } catch (err) {
      diag.warn(`${PACKAGE_NAME}: audit event details for ${action} could not be serialised; left out`, err);
      attributes[ATTR_AGENT_SAFETY_ACTION_DETAILS] = '[unserialisable]';
    }
  }
  return attributes;
}

/**
 * Records an audit event. On the active recording span when there is one,
 * else as a span named after the event. Never throws: a name that is not
 * one of the four `AuditEventName`s, or an empty action, is reported through
 * `diag` and nothing is recorded.
 */
export function recordAuditEvent(name: AuditEventName, action: string, info?: AuditEventDetails): void {
  try {
    // Only the four events: any other name would put a span of the caller's naming (say `execute_tool pay`) into the audit chain.
    if (!AUDIT_EVENT_NAMES.has(name)) throw new TypeError(`name must be one of ${[...AUDIT_EVENT_NAMES].join(', ')}, got ${JSON.stringify(name)}`);
    if (typeof action !== 'string' || action === '') throw new TypeError('action must be a non-empty string');
    const attributes = attributesOf(action, info);
    const active: Span | undefined = trace.getSpan(context.active());
    if (active !== undefined && active.isRecording()) {
      active.addEvent(name, attributes);
      return;
    }
    const span = currentTracer().startSpan(name, { attributes });
    span.addEvent(name, attributes);
    span.end();
  } catch (err) {
    diag.error(`${PACKAGE_NAME}: audit event ${name} was not recorded`, err);
  }
}

/**
 * The original library's audit calls, as span events that the audit chain
 * records.
 *
 * @example
 * ```ts
 * auditLog.actionProposed('publish_post', { details: { postId: 'p1' } });
 * auditLog.actionBlocked('delete_user', { reason: 'impact CRITICAL' });
 * ```
 */
export const auditLog = Object.freeze({
  /** The agent proposes an action (before deciding to run it). */
  actionProposed: (action: string, info?: AuditEventDetails) => recordAuditEvent(EVENT_AGENT_SAFETY_ACTION_PROPOSED, action, info),
  /** The action ran. */
  actionExecuted: (action: string, info?: AuditEventDetails) => recordAuditEvent(EVENT_AGENT_SAFETY_ACTION_EXECUTED, action, info),
  /** The action was stopped (by a gate, a breaker, a human). */
  actionBlocked: (action: string, info?: AuditEventDetails) => recordAuditEvent(EVENT_AGENT_SAFETY_ACTION_BLOCKED, action, info),
  /** A policy was violated; `action` names what did it. */
  policyViolation: (action: string, info?: AuditEventDetails) => recordAuditEvent(EVENT_AGENT_SAFETY_POLICY_VIOLATION, action, info),
});

/**
 * The original library's `AuditLogger`, bound to one agent: each method
 * records an audit event (see {@link auditLog}) with this agent's id. The
 * events are chained by the `AuditChainSpanProcessor`, whose sinks replace
 * the original's per-logger sinks.
 *
 * @example
 * ```ts
 * const audit = new AuditLogger({ agentId: 'planner-v2' });
 * audit.logActionProposed('write_db', { query: 'INSERT INTO ...', userId: 'u123' });
 * audit.logPolicyViolation('write_db', 'PII_ACCESS_RESTRICTED');
 * ```
 */
export class AuditLogger {
  readonly agentId: string | undefined;

  constructor(options: { agentId?: string } | string = {}) {
    this.agentId = typeof options === 'string' ? options : options?.agentId;
    if (this.agentId !== undefined && (typeof this.agentId !== 'string' || this.agentId === '')) {
      throw new TypeError('AuditLogger: agentId must be a non-empty string');
    }
  }

  /** The agent proposes `action`; `details` are redacted and kept as JSON. */
  logActionProposed(action: string, details?: Record<string, unknown>): void {
    recordAuditEvent(EVENT_AGENT_SAFETY_ACTION_PROPOSED, action, { agentId: this.agentId, details });
  }

  /** `action` ran. */
  logActionExecuted(action: string, details?: Record<string, unknown>): void {
    recordAuditEvent(EVENT_AGENT_SAFETY_ACTION_EXECUTED, action, { agentId: this.agentId, details });
  }

  /** `action` was stopped, because `reason`. */
  logActionBlocked(action: string, reason: string, details?: Record<string, unknown>): void {
    recordAuditEvent(EVENT_AGENT_SAFETY_ACTION_BLOCKED, action, { agentId: this.agentId, reason, details });
  }

  /** `action` violated `policy` (recorded as the reason). */
  logPolicyViolation(action: string, policy: string, details?: Record<string, unknown>): void {
    recordAuditEvent(EVENT_AGENT_SAFETY_POLICY_VIOLATION, action, { agentId: this.agentId, reason: policy, details });
  }
}
