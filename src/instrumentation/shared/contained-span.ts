/**
 * Telemetry never breaks the call: starting or ending a span runs every
 * span processor of the SDK, some of them other people's. What they throw
 * is contained here and reported through `diag`; the call goes on with its
 * own result or its own error.
 *
 * @module
 */
import { INVALID_SPAN_CONTEXT, diag, trace } from '@opentelemetry/api';
import type { Context, Span, SpanOptions, Tracer } from '@opentelemetry/api';

/** Starts a span; if that throws (a span processor's `onStart`), reports it and returns a non-recording span. */
export function startContained(tracer: Tracer, name: string, options: SpanOptions, parent: Context): Span {
  try {
    return tracer.startSpan(name, options, parent);
  } catch (err) {
    diag.error('agent-safety-otel: starting a span threw (a span processor?); contained, the call goes on', err);
    return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  }
}

/** Ends a span; if that throws (a span processor's `onEnding` or `onEnd`), reports it. */
export function endContained(span: Span): void {
  try {
    span.end();
  } catch (err) {
    diag.error('agent-safety-otel: ending a span threw (a span processor?); contained, the call keeps its own result', err);
  }
}
