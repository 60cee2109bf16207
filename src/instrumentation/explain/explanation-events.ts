/**
 * Writes one explanation: a log-based event (OTEP 4430), a span event, or
 * both, as the instrumentation's `explanationEvents` setting says.
 *
 * - `logs` (the default): a log record `{ eventName:
 *   'agent_safety.explanation', attributes, context }` when a LoggerProvider
 *   is available (the instrumentation's, else the global one), so that it
 *   carries the action span's trace and span ids. The span then keeps a copy
 *   of each record's attributes in `agent_safety.explanation.events`
 *   (canonical JSON, in order): the audit chain chains spans, and this is
 *   how it still holds every explanation. Without a LoggerProvider, or when
 *   emitting throws, a span event instead: an explanation is never dropped.
 * - `span-events`: a span event `agent_safety.explanation` only.
 * - `both`: the log record and the span event (no copy: the event is on the span).
 *
 * @module
 */
import { context, diag, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { ATTR_AGENT_SAFETY_EXPLANATION_EVENTS, EVENT_AGENT_SAFETY_EXPLANATION } from '../shared/semconv.js';
import { currentEventLogger, telemetry } from '../shared/telemetry.js';
import { PACKAGE_NAME } from '../shared/version.js';

/** The Logs API's `SeverityNumber.INFO`. */
const SEVERITY_INFO = 9;

/** Copies already on a span (only spans whose explanations went to logs alone). */
const copies = new WeakMap<Span, string[]>();
/** Canonical JSON of attribute sets that are reused (a guard's static reasoning). */
const encoded = new WeakMap<Attributes, string>();

/**
 * Canonical JSON of explanation attributes: keys sorted, values as JSON
 * (strings, numbers, string arrays). The form of each entry of
 * `agent_safety.explanation.events`.
 */
export function explanationJson(attributes: Attributes): string {
  let text = encoded.get(attributes);
  if (text !== undefined) return text;
  text = '{';
  for (const key of Object.keys(attributes).sort()) {
    const value = attributes[key];
    if (value === undefined) continue;
    if (text.length > 1) text += ',';
    text += JSON.stringify(key) + ':' + JSON.stringify(value);
  }
  text += '}';
  if (Object.isFrozen(attributes)) encoded.set(attributes, text);
  return text;
}

/**
 * Writes the explanation `attributes` of the action whose span is `span`
 * (recording). A log record carries `attributes`; a span event, or the
 * span's copy of a log record, carries `onSpan` (what the span's own
 * attributes do not already say).
 */
export function writeExplanation(span: Span, attributes: Attributes, onSpan: Attributes = attributes): void {
  const mode = telemetry.settings.explanationEvents;
  if (mode !== 'span-events') {
    const logger = currentEventLogger();
    if (logger !== undefined) {
      try {
        logger.emit({
          eventName: EVENT_AGENT_SAFETY_EXPLANATION,
          severityNumber: SEVERITY_INFO,
          severityText: 'INFO',
          attributes,
          context: trace.setSpan(context.active(), span),
        });
        if (mode === 'logs') {
          keepCopy(span, onSpan);
          return;
        }
      } catch (err) {
        diag.warn(`${PACKAGE_NAME}: emitting an explanation log record failed; it is written as a span event instead`, err);
      }
    }
  }
  span.addEvent(EVENT_AGENT_SAFETY_EXPLANATION, onSpan);
}

function keepCopy(span: Span, attributes: Attributes): void {
  let list = copies.get(span);
  if (list === undefined) {
    list = [];
    copies.set(span, list);
  }
  list.push(explanationJson(attributes));
  span.setAttribute(ATTR_AGENT_SAFETY_EXPLANATION_EVENTS, list.slice());
}
