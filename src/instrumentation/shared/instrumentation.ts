import { metrics, trace } from '@opentelemetry/api';
import type { Instrumentation, InstrumentationConfig } from '@opentelemetry/instrumentation';
import type { Meter, MeterProvider, Tracer, TracerProvider } from '@opentelemetry/api';
import type { Redactor } from '../../patterns/shared/redaction.js';
import { optionalBoolean, optionalFunction, optionalString, rejectUnknownOptions, requireObject, requireOneOf } from '../../patterns/shared/validate.js';
import type { EventLoggerProvider } from './logs.js';
import { DEFAULT_SETTINGS, activateTelemetry, deactivateTelemetry, isActiveProvider } from './telemetry.js';
import type { AgentIdentity, ExplanationEvents, TelemetryProvider, TelemetrySettings } from './telemetry.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** Configuration of {@link AgentSafetyInstrumentation}. */
export interface AgentSafetyInstrumentationConfig extends InstrumentationConfig {
  /**
   * The agent this process runs, recorded on every guarded call as
   * `gen_ai.agent.id` / `gen_ai.agent.name` unless the guard or an enclosing
   * `invokeAgent` names another.
   */
  agent?: AgentIdentity;
  /**
   * Record tool arguments as `gen_ai.tool.call.arguments`, after `redact`:
   * the tool's own input, as the guard's `input` option selects it (without
   * one, all arguments, the first alone when there is one). They may
   * contain personal data: opt in knowingly.
   * @default false
   */
  captureArguments?: boolean;
  /**
   * Record tool results as `gen_ai.tool.call.result`, after `redact`: the
   * tool's own return value.
   * @default false
   */
  captureResult?: boolean;
  /**
   * Applied to arguments, results and explanation summaries before they are
   * recorded. Must not mutate its input; a throwing redactor records a
   * placeholder, never the raw value.
   * @default redactSecrets (drops values of password/token/api key/authorization/cookie/secret keys)
   */
  redact?: Redactor;
  /**
   * How explanations are emitted. `logs`: as log-based events (the Logs
   * API's `emit`, `eventName` `agent_safety.explanation`, OTEP 4430) when a
   * LoggerProvider is available (`loggerProvider`, the SDK's, or the global
   * one), and as span events when none is, so that an explanation is never
   * dropped; the span then keeps a copy of each record's attributes
   * (`agent_safety.explanation.events`), which the audit chain holds.
   * `span-events`: span events only (the behaviour before OTEP 4430).
   * `both`: log records and span events.
   * @default 'logs' (span events are being deprecated in favour of log-based events)
   */
  explanationEvents?: ExplanationEvents;
  /**
   * The LoggerProvider for explanation log records, e.g. an
   * `@opentelemetry/sdk-logs` `LoggerProvider` that is not registered
   * globally. @default the one the SDK hands the instrumentation, else the
   * global LoggerProvider
   */
  loggerProvider?: EventLoggerProvider;
}

const CONFIG_KEYS = ['enabled', 'agent', 'captureArguments', 'captureResult', 'redact', 'explanationEvents', 'loggerProvider'] as const;
const EXPLANATION_EVENTS: readonly ExplanationEvents[] = ['logs', 'span-events', 'both'];

function validate(config: AgentSafetyInstrumentationConfig): void {
  requireObject('AgentSafetyInstrumentation config', config);
  rejectUnknownOptions('AgentSafetyInstrumentation', config, CONFIG_KEYS);
  optionalBoolean('enabled', config.enabled);
  optionalBoolean('captureArguments', config.captureArguments);
  optionalBoolean('captureResult', config.captureResult);
  optionalFunction('redact', config.redact);
  if (config.explanationEvents !== undefined) requireOneOf('explanationEvents', config.explanationEvents, EXPLANATION_EVENTS);
  if (config.loggerProvider !== undefined && typeof (config.loggerProvider as { getLogger?: unknown })?.getLogger !== 'function') {
    throw new TypeError(`loggerProvider must be a LoggerProvider (with getLogger), got ${typeof config.loggerProvider}`);
  }
  if (config.agent !== undefined) {
    requireObject('agent', config.agent);
    rejectUnknownOptions('agent', config.agent, ['id', 'name']);
    optionalString('agent.id', config.agent.id);
    optionalString('agent.name', config.agent.name);
  }
}

function settingsOf(config: AgentSafetyInstrumentationConfig, enabled: boolean): TelemetrySettings {
  return Object.freeze({
    agent: config.agent ? Object.freeze({ ...config.agent }) : undefined,
    captureArguments: config.captureArguments ?? DEFAULT_SETTINGS.captureArguments,
    captureResult: config.captureResult ?? DEFAULT_SETTINGS.captureResult,
    redact: config.redact ?? DEFAULT_SETTINGS.redact,
    enabled,
    explanationEvents: config.explanationEvents ?? DEFAULT_SETTINGS.explanationEvents,
  });
}

/**
 * Connects the package to an OpenTelemetry SDK. It patches no module: it
 * hands its tracer, meter and configuration to every guard, breaker, gate and
 * rollback the package creates. Without it, the global API providers and the
 * defaults are used.
 *
 * Register it once at bootstrap. Only one instance is in force at a time: the
 * one most recently enabled.
 *
 * `disable()` turns the package's telemetry off (no spans, no metrics) while
 * every safety decision is still enforced; `enable()` turns it back on.
 *
 * @example
 * ```ts
 * const sdk = new NodeSDK({
 *   instrumentations: [new AgentSafetyInstrumentation({ agent: { id: 'planner-v2' } })],
 *   spanProcessors: [new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path: 'audit.jsonl' })] })],
 * });
 * sdk.start();
 * ```
 */
export class AgentSafetyInstrumentation implements Instrumentation<AgentSafetyInstrumentationConfig>, TelemetryProvider {
  readonly instrumentationName: string = PACKAGE_NAME;
  readonly instrumentationVersion: string = PACKAGE_VERSION;
  private _config: AgentSafetyInstrumentationConfig;
  private _enabled = false;
  private _tracer: Tracer;
  private _meter: Meter;
  /** The LoggerProvider the SDK handed over through `setLoggerProvider` (not the API's placeholder). */
  private _sdkLoggerProvider: EventLoggerProvider | undefined;

  constructor(config: AgentSafetyInstrumentationConfig = {}) {
    validate(config);
    this._config = { enabled: true, ...config };
    this._tracer = trace.getTracer(PACKAGE_NAME, PACKAGE_VERSION);
    this._meter = metrics.getMeter(PACKAGE_NAME, PACKAGE_VERSION);
    // Enabled unless `enabled` is false; even then the package is ours to
    // configure (redaction, agent), just silent.
    if (this._config.enabled !== false) this.enable();
    else activateTelemetry(this);
  }

  /** The tracer of the provider this instrumentation was given (the global one's until then). */
  get tracer(): Tracer {
    return this._tracer;
  }

  /** The meter of the provider this instrumentation was given (the global one's until then). */
  get meter(): Meter {
    return this._meter;
  }

  /** Whether the package's telemetry is on. */
  isEnabled(): boolean {
    return this._enabled;
  }

  /** The settings every guarded call reads. */
  get settings(): TelemetrySettings {
    return settingsOf(this._config, this.isEnabled());
  }

  enable(): void {
    this._enabled = true;
    activateTelemetry(this);
  }

  disable(): void {
    this._enabled = false;
    activateTelemetry(this);
  }

  /**
   * Stops this instance from supplying telemetry at all: the package falls
   * back to the global providers and default settings.
   */
  unregister(): void {
    this._enabled = false;
    deactivateTelemetry(this);
  }

  /** The configuration (`enabled` true unless set false). */
  getConfig(): AgentSafetyInstrumentationConfig {
    return this._config;
  }

  setConfig(config: AgentSafetyInstrumentationConfig = {}): void {
    validate(config);
    this._config = { enabled: true, ...config };
    this._publish();
  }

  setTracerProvider(tracerProvider: TracerProvider): void {
    this._tracer = tracerProvider.getTracer(PACKAGE_NAME, PACKAGE_VERSION);
    this._publish();
  }

  setMeterProvider(meterProvider: MeterProvider): void {
    this._meter = meterProvider.getMeter(PACKAGE_NAME, PACKAGE_VERSION);
    this._publish();
  }

  /**
   * Takes the LoggerProvider the SDK hands every instrumentation. The Logs
   * API's `ProxyLoggerProvider` (what `registerInstrumentations` hands over
   * when no LoggerProvider is registered yet, as `NodeSDK` does before it
   * registers its own) is not kept: the global provider is then read when
   * an explanation is written.
   */
  setLoggerProvider(loggerProvider: Parameters<NonNullable<Instrumentation['setLoggerProvider']>>[0]): void {
    const placeholder = (loggerProvider as object | undefined)?.constructor?.name === 'ProxyLoggerProvider';
    this._sdkLoggerProvider = placeholder ? undefined : (loggerProvider as unknown as EventLoggerProvider);
  }

  /** The LoggerProvider explanations go to: the `loggerProvider` option, else the SDK's; undefined: the global one. */
  get loggerProvider(): EventLoggerProvider | undefined {
    return this._config.loggerProvider ?? this._sdkLoggerProvider;
  }

  /** Republishes tracer, meter and settings when this instance is in force. */
  private _publish(): void {
    if (isActiveProvider(this)) activateTelemetry(this);
  }
}
