/**
 * Where every part of the package gets its tracer, meter and settings.
 *
 * When an {@link AgentSafetyInstrumentation} is registered (through `NodeSDK`
 * or `registerInstrumentations`), its tracer, meter and configuration are
 * used; otherwise the global API providers and the defaults. The hot path
 * reads one module-level object: no lookup, no allocation.
 *
 * @module
 */
import { ProxyTracerProvider, createNoopMeter, diag, metrics, trace } from '@opentelemetry/api';
import type { Meter, MeterProvider, Tracer, TracerProvider } from '@opentelemetry/api';
import { redactSecrets } from '../../patterns/shared/redaction.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import { eventLogger } from './logs.js';
import type { EventLogger, EventLoggerProvider } from './logs.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** Who is acting: recorded as `gen_ai.agent.id` and `gen_ai.agent.name`. */
export interface AgentIdentity {
  /** Stable id of the agent, e.g. `content-ranker-v3`. */
  id?: string;
  /** Human-readable name of the agent. */
  name?: string;
}

/**
 * How explanations are emitted: `logs` as log-based events (`eventName`
 * `agent_safety.explanation`) when a LoggerProvider is available, else as
 * span events; `span-events` as span events only; `both`.
 */
export type ExplanationEvents = 'logs' | 'span-events' | 'both';

/** Settings every guarded call reads; the instrumentation's config sets them. */
export interface TelemetrySettings {
  /** The default agent identity. */
  readonly agent: AgentIdentity | undefined;
  /** Record redacted tool arguments (`gen_ai.tool.call.arguments`). */
  readonly captureArguments: boolean;
  /** Record redacted tool results (`gen_ai.tool.call.result`). */
  readonly captureResult: boolean;
  /** Applied to everything recorded from a call. */
  readonly redact: Redactor;
  /** False when the instrumentation is disabled: no spans or metrics, safety still enforced. */
  readonly enabled: boolean;
  /** How explanations are emitted. */
  readonly explanationEvents: ExplanationEvents;
}

/** The settings in force when no instrumentation is registered. */
export const DEFAULT_SETTINGS: TelemetrySettings = Object.freeze({
  agent: undefined,
  captureArguments: false,
  captureResult: false,
  redact: redactSecrets,
  enabled: true,
  explanationEvents: 'logs',
});

/** A source of telemetry: the registered instrumentation. */
export interface TelemetryProvider {
  readonly tracer: Tracer;
  readonly meter: Meter;
  readonly settings: TelemetrySettings;
  /** The LoggerProvider handed to the instrumentation; undefined: the global one. */
  readonly loggerProvider?: EventLoggerProvider | undefined;
}

interface TelemetryState {
  tracer: Tracer;
  settings: TelemetrySettings;
  /** Bumped whenever the tracer, meter or settings change. */
  generation: number;
}

const noopTracer = new ProxyTracerProvider().getTracer(PACKAGE_NAME);
const noopMeter = createNoopMeter();

/** Read on every guarded call. Do not replace; fields are updated in place. */
export const telemetry: TelemetryState = {
  tracer: noopTracer,
  settings: DEFAULT_SETTINGS,
  generation: 0,
};

let globalTracerProvider: TracerProvider | undefined;
let globalTracer: Tracer = noopTracer;

/**
 * The tracer to start spans with: the instrumentation's, or the global
 * provider's. The global provider is re-read (one lookup) because
 * `trace.disable()` replaces it.
 */
export function currentTracer(): Tracer {
  if (active) return telemetry.tracer;
  const provider = trace.getTracerProvider();
  if (provider !== globalTracerProvider) {
    globalTracerProvider = provider;
    globalTracer = provider.getTracer(PACKAGE_NAME, PACKAGE_VERSION);
  }
  return globalTracer;
}

let active: TelemetryProvider | undefined;

/**
 * The logger for log-based events: the instrumentation's LoggerProvider, or
 * the global one; undefined when there is neither (see `logs.ts`).
 */
export function currentEventLogger(): EventLogger | undefined {
  return eventLogger(active);
}

let activeMeter: Meter | undefined;
let globalMeterProvider: MeterProvider | undefined;
let globalMeter: Meter | undefined;
const meterListeners = new Set<() => void>();

/**
 * Makes `provider` the source of telemetry (called by the instrumentation
 * when it is enabled, and again when its providers or config change).
 */
export function activateTelemetry(provider: TelemetryProvider): void {
  const meter = provider.settings.enabled ? provider.meter : noopMeter;
  const meterChanged = activeMeter !== meter;
  active = provider;
  activeMeter = meter;
  telemetry.settings = provider.settings;
  telemetry.tracer = provider.settings.enabled ? provider.tracer : noopTracer;
  telemetry.generation++;
  if (meterChanged) notifyMeterChange();
}

/** Returns to the global providers and default settings if `provider` is the active one. */
export function deactivateTelemetry(provider: TelemetryProvider): void {
  if (active !== provider) return;
  active = undefined;
  activeMeter = undefined;
  telemetry.settings = DEFAULT_SETTINGS;
  telemetry.tracer = noopTracer;
  telemetry.generation++;
  notifyMeterChange();
}

/** True when `provider` is the one in force. */
export function isActiveProvider(provider: TelemetryProvider): boolean {
  return active === provider;
}

/** True when a registered instrumentation supplies the telemetry. */
export function hasActiveInstrumentation(): boolean {
  return active !== undefined;
}

/**
 * The meter to create instruments on: the instrumentation's, or the global
 * provider's. The global API has no proxy meter (a meter taken before the SDK
 * starts stays a no-op forever), so the global provider is re-read here and
 * a change is announced to {@link onMeterChange} listeners.
 */
export function currentMeter(): Meter {
  if (activeMeter) return activeMeter;
  const provider = metrics.getMeterProvider();
  if (provider !== globalMeterProvider || !globalMeter) {
    const first = globalMeter === undefined;
    globalMeterProvider = provider;
    globalMeter = provider.getMeter(PACKAGE_NAME, PACKAGE_VERSION);
    if (!first) notifyMeterChange();
  }
  return globalMeter;
}

/** Calls `listener` when the meter returned by {@link currentMeter} changes. Returns an unsubscribe function. */
export function onMeterChange(listener: () => void): () => void {
  meterListeners.add(listener);
  return () => meterListeners.delete(listener);
}

function notifyMeterChange(): void {
  for (const listener of [...meterListeners]) {
    try {
      listener();
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: recreating metric instruments failed`, err);
    }
  }
}

/**
 * A set of instruments bound to the current meter: created on first use,
 * recreated (and the old set disposed, e.g. its observable callbacks removed)
 * when the meter changes. Returns an accessor that is cheap to call per use.
 *
 * @example
 * ```ts
 * const instruments = meterBound(meter => ({ calls: meter.createCounter('x') }));
 * instruments().calls.add(1);
 * ```
 */
export function meterBound<T>(create: (meter: Meter) => T, dispose?: (instruments: T, meter: Meter) => void): () => T {
  let meter: Meter | undefined;
  let instruments: T | undefined;
  const rebuild = (next: Meter): T => {
    if (instruments !== undefined && meter !== undefined && dispose) {
      try {
        dispose(instruments, meter);
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: disposing metric instruments failed`, err);
      }
    }
    meter = next;
    instruments = create(next);
    return instruments;
  };
  // Eager rebuild when the meter changes, so observable instruments report
  // through the new meter without waiting for the next call.
  onMeterChange(() => {
    if (instruments === undefined) return;
    const next = currentMeter();
    if (next !== meter) rebuild(next);
  });
  return () => {
    const next = currentMeter();
    return instruments !== undefined && meter === next ? instruments : rebuild(next);
  };
}
