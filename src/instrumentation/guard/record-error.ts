import { SpanStatusCode } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER } from '../shared/semconv.js';

/**
 * A low-cardinality `error.type` for anything thrown: a string `code` (such
 * as `ECONNREFUSED`) when present, else the error's `name` (such as
 * `CircuitOpenError`), else `_OTHER` (for thrown strings, `undefined` and
 * other non-errors). Never the message, which is unbounded.
 */
export function errorType(err: unknown): string {
  if (typeof err !== 'object' || err === null) return ERROR_TYPE_VALUE_OTHER;
  const { code, name } = err as { code?: unknown; name?: unknown };
  if (typeof code === 'string' && code.length > 0 && code.length <= 64 && /^[A-Za-z0-9_.-]+$/.test(code)) return code;
  if (typeof name === 'string' && name.length > 0 && name.length <= 64) return name;
  return ERROR_TYPE_VALUE_OTHER;
}

/** The message to put in a span status, for anything thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') {
    return (err as { message: string }).message;
  }
  return String(err);
}

/**
 * Records a failure on `span` the way the OpenTelemetry conventions ask:
 * the exception event, status ERROR with the message, and `error.type`.
 * Works for anything thrown, not only `Error`s. Returns `error.type`
 * (`type` when given, else {@link errorType}).
 */
export function recordError(span: Span, err: unknown, type: string = errorType(err)): string {
  const message = errorMessage(err);
  span.recordException(err instanceof Error ? err : { name: type, message });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.setAttribute(ATTR_ERROR_TYPE, type);
  return type;
}
