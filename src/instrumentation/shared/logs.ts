/**
 * The Logs API, reached without importing it.
 *
 * Explanations are log-based events (OTEP 4430: the Logs API's
 * `emit({ eventName, attributes, context })` replaces span events). The main
 * entry needs only `@opentelemetry/api`, so the logger comes from one of:
 *
 * 1. a `LoggerProvider` handed to the `AgentSafetyInstrumentation` (its
 *    `loggerProvider` option, or the SDK's through `setLoggerProvider`);
 * 2. the global `LoggerProvider`, read from the registration slot the Logs
 *    API itself uses so that every copy of it agrees: the `logs` member of
 *    the API's global object (`@opentelemetry/api` ≥ 1.10, the 3.x SDKs),
 *    or the versioned getter of `@opentelemetry/api-logs` (0.2xx, the 2.x
 *    SDKs). Both are read lazily, because `NodeSDK` registers its
 *    LoggerProvider after its instrumentations.
 *
 * When neither exists there is no logger, and explanations stay span events.
 *
 * The types here are structural: `@opentelemetry/api-logs`' and
 * `@opentelemetry/api`'s `LoggerProvider` both satisfy them.
 *
 * @module
 */
import type { Attributes, Context } from '@opentelemetry/api';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** The log record this package emits (a subset of the Logs API's `LogRecord`). */
export interface EventLogRecord {
  /** The event's name, e.g. `agent_safety.explanation`. */
  eventName: string;
  /** The Logs API's `SeverityNumber` (9 = INFO). */
  severityNumber?: number;
  severityText?: string;
  attributes?: Attributes;
  /** The context whose span the record belongs to (its trace and span ids). */
  context?: Context;
}

/** A Logs API `Logger`, structurally. */
export interface EventLogger {
  emit(record: EventLogRecord): void;
}

/** A Logs API `LoggerProvider`, structurally. */
export interface EventLoggerProvider {
  getLogger(name: string, version?: string): EventLogger;
}

/** Where the instrumentation's logger comes from, when it has one. */
export interface LoggerSource {
  /** The provider handed to the instrumentation, or undefined (then the global one is used). */
  readonly loggerProvider?: EventLoggerProvider | undefined;
}

type GlobalSlots = Record<symbol, unknown>;
/** `@opentelemetry/api`'s global object (major version 1): `logs` from 1.10 on. */
const API_KEY = Symbol.for('opentelemetry.js.api.1');
/** `@opentelemetry/api-logs`' global getter, called with its compatibility version 1. */
const API_LOGS_KEY = Symbol.for('io.opentelemetry.js.api.logs');

function isProvider(value: unknown): value is EventLoggerProvider {
  return typeof value === 'object' && value !== null && typeof (value as EventLoggerProvider).getLogger === 'function';
}

/**
 * The globally registered LoggerProvider, or undefined when none is
 * registered (a no-op provider counts as none).
 */
export function globalLoggerProvider(): EventLoggerProvider | undefined {
  const slots = globalThis as unknown as GlobalSlots;
  const api = slots[API_KEY] as { logs?: unknown } | undefined;
  let provider: unknown = api?.logs;
  if (!isProvider(provider)) {
    const getter = slots[API_LOGS_KEY];
    provider = typeof getter === 'function' ? (getter as (version: number) => unknown)(1) : undefined;
  }
  if (!isProvider(provider) || provider.constructor?.name === 'NoopLoggerProvider') return undefined;
  return provider;
}

let cachedProvider: EventLoggerProvider | undefined;
let cachedLogger: EventLogger | undefined;

/**
 * The logger explanations are emitted with: from `source`'s provider when
 * it has one, else from the global provider; undefined when there is none.
 * One logger per provider, created on first use.
 */
export function eventLogger(source: LoggerSource | undefined): EventLogger | undefined {
  const provider = source?.loggerProvider ?? globalLoggerProvider();
  if (provider === undefined) return undefined;
  if (provider !== cachedProvider) {
    cachedLogger = provider.getLogger(PACKAGE_NAME, PACKAGE_VERSION);
    cachedProvider = provider;
  }
  return cachedLogger;
}
