/**
 * Starts an OpenTelemetry `NodeSDK` with this package wired in: the
 * instrumentation, the chosen exporters, and the embedded default (a readable
 * trace tree on the console) when no collector is configured.
 *
 * Used by `agent-safety-otel/register` (configured from the environment) and
 * by programs that prefer to start in code. Reads one environment setting
 * itself: with the audit on and no `sampler` given, the sampler of
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (which the SDK would
 * otherwise build, unwrapped). The SDK and the exporters it creates read
 * the other standard variables (`OTEL_SERVICE_NAME`,
 * `OTEL_EXPORTER_OTLP_*`…) for whatever is not given here.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { DiagConsoleLogger, DiagLogLevel, diag } from '@opentelemetry/api';
import { createRequire } from 'node:module';
import type * as SdkNode from '@opentelemetry/sdk-node';
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { ReadableSpan, Sampler, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Context } from '@opentelemetry/api';
import type * as SdkLogs from '@opentelemetry/sdk-logs';
import type { BatchLogRecordProcessorOptions, LogRecordProcessor } from '@opentelemetry/sdk-logs';
import type * as LogsOtlpHttp from '@opentelemetry/exporter-logs-otlp-http';
import type * as LogsOtlpProto from '@opentelemetry/exporter-logs-otlp-proto';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import type * as TraceOtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as TraceOtlpProto from '@opentelemetry/exporter-trace-otlp-proto';
import type * as MetricsOtlpHttp from '@opentelemetry/exporter-metrics-otlp-http';
import type * as MetricsOtlpProto from '@opentelemetry/exporter-metrics-otlp-proto';
import type * as ExporterPrometheus from '@opentelemetry/exporter-prometheus';
import type * as Resources from '@opentelemetry/resources';
import type { Attributes } from '@opentelemetry/api';
import { AgentSafetyInstrumentation } from '../instrumentation/shared/instrumentation.js';
import type { AgentSafetyInstrumentationConfig } from '../instrumentation/shared/instrumentation.js';
import { ConsoleTreeSpanExporter } from '../exporters/console/console-tree-exporter.js';
import type { ConsoleTreeSpanExporterOptions } from '../exporters/console/console-tree-exporter.js';
import { AuditChainSpanProcessor } from '../exporters/audit/audit-chain-span-processor.js';
import type { AuditSpanFilter, BacklogFullPolicy } from '../exporters/audit/audit-chain-span-processor.js';
import { AuditRecordingSampler } from '../exporters/audit/audit-recording-sampler.js';
import type { AuditSink } from '../exporters/audit/audit-sink.js';
import { FileAuditSink } from '../exporters/audit/file-audit-sink.js';
import type { TlogWitnessClient } from '../exporters/audit/tlog-witness-client.js';
import type { AuditHmacKey, AuditSigningKey, CheckpointPolicy, SealPolicy } from '../patterns/audit/audit-chain.js';
import type { FsyncPolicy } from '../patterns/audit/audit-file.js';
import { ATTR_AGENT_SAFETY_AUDIT_SEQ } from '../instrumentation/shared/semconv.js';
import { runLastChanceFlush } from '../exporters/audit/last-chance-flush.js';
import { reportCheckpointFileSkips } from '../instrumentation/rollback/checkpoint-skips.js';
import { samplerFromEnv } from './env.js';
import { optionalSink } from './optional-sinks.js';
import { traceSdk } from './sdk-compat.js';
import { callSite, claimStart } from './single-start.js';

/**
 * The SDK packages, loaded as `NodeSDK` loads them (`@opentelemetry/sdk-node`
 * is CommonJS only): `require` gives the very module instances NodeSDK
 * uses, where an `import` would load each package's ESM build a second time
 * (two copies of `sdk-logs`, `sdk-metrics`, `resources`… in one process,
 * and a slower start). Optional exporters load only when configured.
 */
const requireSdk = createRequire(import.meta.url);
const sdkNode = (): typeof SdkNode => requireSdk('@opentelemetry/sdk-node') as typeof SdkNode;
const sdkLogs = (): typeof SdkLogs => requireSdk('@opentelemetry/sdk-logs') as typeof SdkLogs;
const sdkMetrics = (): typeof SdkMetrics => requireSdk('@opentelemetry/sdk-metrics') as typeof SdkMetrics;
const resources = (): typeof Resources => requireSdk('@opentelemetry/resources') as typeof Resources;

/** OTLP/HTTP export of traces, metrics and log records. */
export interface OtlpOptions {
  /**
   * Base URL of the receiver (a Collector), e.g. `http://127.0.0.1:4318`;
   * `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended.
   * @default the exporters' own default: `OTEL_EXPORTER_OTLP_*` or http://localhost:4318
   */
  endpoint?: string;
  /** Wire encoding. @default 'http/protobuf' */
  protocol?: 'http/protobuf' | 'http/json';
  /** Extra HTTP headers (e.g. authentication). */
  headers?: Record<string, string>;
  /** Export traces. @default true */
  traces?: boolean;
  /** Export metrics. @default true */
  metrics?: boolean;
  /**
   * Export log records: the explanations, as log-based events
   * (`agent_safety.explanation`). A LoggerProvider is then registered and
   * the instrumentation's `explanationEvents` defaults to `logs`.
   * @default true
   */
  logs?: boolean;
  /** How often metrics are exported, in ms. @default 60000 */
  metricsIntervalMs?: number;
}

/** A Prometheus scrape endpoint for the metrics. */
export interface PrometheusOptions {
  /** @default 9464 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

/** The audit chain of {@link startAgentSafety}. */
export interface AuditOptions {
  /**
   * The JSONL audit file (a `FileAuditSink`), or `false` for none.
   * @default 'agent-safety-audit.jsonl' in the working directory unless
   * the chain goes over OTLP (`otlp`, on by default with `otlp.traces`)
   */
  file?: string | false;
  /** fsync policy of the audit file. @default { everyMs: 200 } */
  fsync?: FsyncPolicy;
  /**
   * Deliver the audit chain over OTLP (to `otlp.endpoint`, the Collector's
   * audit route) through an `OtlpAuditSink` that never drops a record.
   * The regular trace exporter then leaves audited spans to it, so each
   * span is sent once. @default true when `otlp.traces` is on
   */
  otlp?: boolean;
  /**
   * The OTLP sink's disk spool.
   * @default next to the audit file (`<file>.spool.jsonl`), else
   * `agent-safety-audit.spool.jsonl` in the working directory
   */
  spoolPath?: string;
  /** More sinks (Kafka, Redis Streams…). */
  sinks?: AuditSink[];
  /**
   * Publish the audit log as a C2SP tiled transparency log (a
   * `TlogTilesSink`, given the audit file as its journal so that it
   * catches up after a crash). Its checkpoints need `signingKey`.
   * @default none
   */
  tlog?: AuditTlogOptions;
  /** Key the chain with HMAC-SHA-256. */
  hmacKey?: AuditHmacKey;
  /** Sign the chain's seals with Ed25519. */
  signingKey?: AuditSigningKey;
  /** When a keyed chain seals itself (and at shutdown). @default every 1000 records or 10 s */
  seals?: SealPolicy;
  /** @deprecated The old name of `seals` (used when `seals` is not given). */
  checkpoints?: CheckpointPolicy;
  /** Which spans are chained. @default the package's own spans */
  filter?: AuditSpanFilter;
  /** Records held in memory before `onBacklogFull` applies. @default 20000 */
  maxBacklog?: number;
  /** What happens when the audit cannot keep up. @default 'fail-actions' */
  onBacklogFull?: BacklogFullPolicy;
}

/** The transparency log of {@link AuditOptions}: see `TlogTilesSinkOptions`. */
export interface AuditTlogOptions {
  /** The directory the log is published in (created if missing; one writer per directory). */
  dir: string;
  /** The log's origin: its checkpoints' first line and its key's name, e.g. `example.com/agent-audit`. */
  origin: string;
  /** Witnesses asked to cosign each checkpoint. @default none */
  witnesses?: TlogWitnessClient[];
}

/** Options of {@link startAgentSafety}. */
export interface AgentSafetyOptions {
  /** `service.name` of the resource. @default the SDK's (OTEL_SERVICE_NAME, else unknown_service) */
  serviceName?: string;
  /** Extra resource attributes. */
  resourceAttributes?: Attributes;
  /** Configuration of the {@link AgentSafetyInstrumentation} created. */
  instrumentation?: AgentSafetyInstrumentationConfig;
  /** Send traces and metrics over OTLP/HTTP. @default undefined (no OTLP) */
  otlp?: OtlpOptions;
  /**
   * Print each finished trace as a tree. @default true when `otlp` is not
   * given (the embedded default), false otherwise
   */
  console?: boolean | ConsoleTreeSpanExporterOptions;
  /** Serve metrics for Prometheus to scrape. @default undefined */
  prometheus?: PrometheusOptions;
  /**
   * Span processors to run before the exporting ones, e.g. an
   * `AuditChainSpanProcessor` (it must come first so that every exporter
   * sees the audit attributes it stamps).
   */
  spanProcessors?: SpanProcessor[];
  /** Additional metric readers. */
  metricReaders?: MetricReader[];
  /**
   * Log record processors (e.g. a `BatchLogRecordProcessor` with your
   * exporter), beside the OTLP one of `otlp.logs`. With at least one, a
   * LoggerProvider is registered and explanations become log records (the
   * instrumentation's `explanationEvents` defaults to `logs`); without any,
   * to span events (`span-events`), which the console tree shows.
   */
  logRecordProcessors?: LogRecordProcessor[];
  /**
   * The audit chain: an `AuditChainSpanProcessor` placed before every
   * exporting processor, with a file and/or OTLP sink. `false` turns it off.
   * @default on (see {@link AuditOptions} for the default sinks)
   */
  audit?: AuditOptions | false;
  /**
   * The trace sampler. With the audit on it is wrapped in an
   * `AuditRecordingSampler`, so the audit never depends on sampling: the
   * package's spans are recorded (hence chained) even when the sampler
   * drops them, and exporters still see only what it samples.
   * @default the one `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` name
   * (the specification's values; unset or unknown: `parentbased_always_on`),
   * built here and wrapped as well when the audit is on (see
   * `samplerFromEnv`); left to the SDK when it is off
   */
  sampler?: Sampler;
  /**
   * Shut down (flushing everything pending) on SIGINT, SIGTERM and SIGHUP,
   * then let the signal take its course; and when the event loop empties.
   * (Without it the audit journals are still written synchronously when the
   * process ends: the last-chance flush.)
   * @default false
   */
  shutdownOnExit?: boolean;
  /**
   * How long `shutdown()` may take, in ms. When the time is up (a collector
   * that does not answer, a stuck disk) the audit journals are written
   * synchronously, what is left and where it is is printed on stderr, and
   * `shutdown()` resolves; undelivered records stay in the journal for the
   * next start. @default 5000
   */
  shutdownTimeoutMs?: number;
  /**
   * Install a console `diag` logger at this level before anything else is
   * created, so that start-up reports (a torn audit file, a bad setting) are
   * seen. `register` sets it from `OTEL_LOG_LEVEL` (default warn).
   * @default undefined (the diag logger is left as it is)
   */
  diagLogLevel?: DiagLogLevel;
}

/**
 * Installs the console `diag` logger at `level` (`DiagLogLevel.NONE`
 * installs none). Done first by `register`, before anything that may
 * report.
 */
export function installDiagLogger(level: DiagLogLevel): void {
  if (level === DiagLogLevel.NONE) return;
  diag.setLogger(new DiagConsoleLogger(), { logLevel: level, suppressOverrideMessage: true });
}

/**
 * Forwards to a span processor of someone else's (or one we compose), and
 * contains what it throws: the call keeps its own result or its own error.
 * Each processor's first failure (and every thousandth after it) is
 * reported through `diag`.
 */
export class ContainedSpanProcessor implements SpanProcessor {
  private readonly _delegate: SpanProcessor;
  private _failures = 0;
  constructor(delegate: SpanProcessor) {
    this._delegate = delegate;
  }
  private _report(where: string, err: unknown): void {
    if (this._failures++ % 1000 !== 0) return;
    diag.error(
      `agent-safety-otel: span processor ${this._delegate.constructor?.name ?? 'unknown'} threw in ${where} (${this._failures} so far); contained, the call goes on`,
      err,
    );
  }
  onStart(span: Span, parentContext: Context): void {
    try {
      this._delegate.onStart(span, parentContext);
    } catch (err) {
      this._report('onStart', err);
    }
  }
  onEnding(span: Span): void {
    try {
      (this._delegate as { onEnding?: (span: Span) => void }).onEnding?.(span);
    } catch (err) {
      this._report('onEnding', err);
    }
  }
  onEnd(span: ReadableSpan): void {
    try {
      this._delegate.onEnd(span);
    } catch (err) {
      this._report('onEnd', err);
    }
  }
  forceFlush(): Promise<void> {
    return settleSafely(() => this._delegate.forceFlush());
  }
  shutdown(): Promise<void> {
    return settleSafely(() => this._delegate.shutdown());
  }
}

function settleSafely(fn: () => Promise<void>): Promise<void> {
  try {
    return Promise.resolve(fn()).catch(err => diag.error('agent-safety-otel: a span processor failed to flush or shut down', err));
  } catch (err) {
    diag.error('agent-safety-otel: a span processor failed to flush or shut down', err);
    return Promise.resolve();
  }
}

/** What {@link startAgentSafety} started. */
export interface AgentSafetyHandle {
  readonly sdk: NodeSDK;
  readonly instrumentation: AgentSafetyInstrumentation;
  /** The audit chain's processor, when the audit is on. */
  readonly audit: AuditChainSpanProcessor | undefined;
  /** The audit file, when there is one (rotated files sit beside it; see `auditFiles()`). */
  readonly auditFile: string | undefined;
  /** Flushes and stops everything; safe to call more than once. */
  shutdown(): Promise<void>;
}

/** Forwards to `delegate` only the spans the audit chain did not stamp (those go out through the audit sink). */
class UnauditedSpanProcessor implements SpanProcessor {
  private readonly _delegate: SpanProcessor;
  constructor(delegate: SpanProcessor) {
    this._delegate = delegate;
  }
  onStart(span: Span, parentContext: Context): void {
    this._delegate.onStart(span, parentContext);
  }
  onEnd(span: ReadableSpan): void {
    if (span.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ] === undefined) this._delegate.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this._delegate.forceFlush();
  }
  shutdown(): Promise<void> {
    return this._delegate.shutdown();
  }
}

/** Resolves when `work` does, or after `ms` (then `onTimeout` runs first; `work` goes on in the background). */
function withDeadline(work: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(() => {
      try {
        onTimeout();
      } finally {
        resolve();
      }
    }, ms);
    timer.unref();
    void work.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/**
 * The argument of a log record processor's constructor, for every supported
 * `@opentelemetry/sdk-logs`: before 0.220 it takes the exporter itself, from
 * 0.220 on (and in 3.x) `{ exporter }`. The exporter, given an `exporter`
 * member that is itself, is both.
 */
function logProcessorArgument<E extends object>(exporter: E): BatchLogRecordProcessorOptions {
  return Object.assign(exporter, { exporter }) as unknown as BatchLogRecordProcessorOptions;
}

/**
 * The resource attributes with a `service.instance.id` when neither the
 * options nor `OTEL_RESOURCE_ATTRIBUTES` give one (SDK 3.x adds one itself):
 * replicas of one service must be told apart in the breaker, policy and
 * store metrics a fleet shares.
 */
function withInstanceId(attributes: Attributes | undefined): Attributes {
  if (attributes?.['service.instance.id'] !== undefined) return attributes;
  if (/(^|,)\s*service\.instance\.id\s*=/.test(process.env.OTEL_RESOURCE_ATTRIBUTES ?? '')) return attributes ?? {};
  return { ...attributes, 'service.instance.id': randomUUID() };
}

/**
 * Starts the OpenTelemetry SDK with the package's instrumentation and the
 * requested exporters. Returns a handle whose `shutdown()` flushes
 * everything.
 *
 * Once per process: while a start runs (this one, or
 * `--import agent-safety-otel/register`), another throws
 * `AgentSafetyAlreadyStartedError` naming the first; after the first
 * handle's `shutdown()` has finished, starting again is allowed.
 *
 * @example
 * ```ts
 * const safety = startAgentSafety({ serviceName: 'ranker', instrumentation: { agent: { id: 'ranker-v3' } } });
 * // ... run the agent ...
 * await safety.shutdown();
 * ```
 */
export function startAgentSafety(options: AgentSafetyOptions = {}): AgentSafetyHandle {
  return startAgentSafetyAs(callSite(startAgentSafety), options);
}

/**
 * {@link startAgentSafety} for a start described as `origin` in the error a
 * second start gets (`agent-safety-otel/register` uses it). Not exported
 * from the package.
 *
 * @throws AgentSafetyAlreadyStartedError while another start runs (until
 *   its `shutdown()` has finished).
 */
export function startAgentSafetyAs(origin: string, options: AgentSafetyOptions): AgentSafetyHandle {
  const release = claimStart(origin);
  try {
    return start(options, release);
  } catch (err) {
    release();
    throw err;
  }
}

function start(options: AgentSafetyOptions, release: () => void): AgentSafetyHandle {
  if (options.diagLogLevel !== undefined) installDiagLogger(options.diagLogLevel);
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
  if (!Number.isFinite(shutdownTimeoutMs) || shutdownTimeoutMs < 0) {
    throw new RangeError(`shutdownTimeoutMs must be a number of ms ≥ 0, got ${String(shutdownTimeoutMs)}`);
  }
  reportCheckpointFileSkips();
  // Others' processors are contained: what they throw never reaches the call.
  const spanProcessors: SpanProcessor[] = (options.spanProcessors ?? []).map(p => new ContainedSpanProcessor(p));
  const metricReaders: MetricReader[] = [...(options.metricReaders ?? [])];
  const logRecordProcessors: LogRecordProcessor[] = [...(options.logRecordProcessors ?? [])];
  const otlp = options.otlp;
  const otlpTraces = otlp !== undefined && otlp.traces !== false;
  if (otlp !== undefined && otlp.logs !== false) {
    const url = otlp.endpoint ? joinUrl(otlp.endpoint, '/v1/logs') : undefined;
    const headers = otlp.headers;
    const exporter =
      otlp.protocol === 'http/json'
        ? new (requireSdk('@opentelemetry/exporter-logs-otlp-http') as typeof LogsOtlpHttp).OTLPLogExporter({ url, headers })
        : new (requireSdk('@opentelemetry/exporter-logs-otlp-proto') as typeof LogsOtlpProto).OTLPLogExporter({ url, headers });
    logRecordProcessors.push(new (sdkLogs().BatchLogRecordProcessor)(logProcessorArgument(exporter)));
  }
  // Explanations go where someone reads them: log records when we register a
  // LoggerProvider, else span events (the console tree shows them). Without
  // log record processors the SDK would still register its own OTLP
  // LoggerProvider from OTEL_LOGS_EXPORTER's default, to an endpoint nobody
  // configured, so the instrumentation is told explicitly.
  const instrumentation = new AgentSafetyInstrumentation({
    ...options.instrumentation,
    explanationEvents: options.instrumentation?.explanationEvents ?? (logRecordProcessors.length > 0 ? 'logs' : 'span-events'),
  });
  const traceExporter = () => {
    const url = otlp?.endpoint ? joinUrl(otlp.endpoint, '/v1/traces') : undefined;
    const headers = otlp?.headers;
    return otlp?.protocol === 'http/json'
      ? new (requireSdk('@opentelemetry/exporter-trace-otlp-http') as typeof TraceOtlpHttp).OTLPTraceExporter({ url, headers })
      : new (requireSdk('@opentelemetry/exporter-trace-otlp-proto') as typeof TraceOtlpProto).OTLPTraceExporter({ url, headers });
  };

  // The audit chain comes first, so that every exporter sees its stamps.
  let audit: AuditChainSpanProcessor | undefined;
  let auditFile: string | undefined;
  let auditOverOtlp = false;
  /** Where undelivered audit records are, for the shutdown deadline's message. */
  const journals: { name: string; where: string; backlog: () => number; held: () => number }[] = [];
  if (options.audit !== false) {
    const a = options.audit ?? {};
    const sinks: AuditSink[] = [];
    auditOverOtlp = (a.otlp ?? otlpTraces) && otlp !== undefined;
    // The default file unless the chain goes over OTLP: an OTLP set-up that does not carry the audit
    // (metrics only, traces off, audit.otlp false) must not leave the audit with nowhere to go.
    auditFile = a.file === false ? undefined : (a.file ?? (auditOverOtlp ? undefined : 'agent-safety-audit.jsonl'));
    if (auditFile !== undefined) {
      const file = new FileAuditSink({ path: auditFile, fsync: a.fsync });
      sinks.push(file);
      journals.push({ name: file.name, where: file.path, backlog: () => file.backlog(), held: () => file.held() });
    }
    if (auditOverOtlp) {
      const spoolPath = a.spoolPath ?? (auditFile !== undefined ? `${auditFile}.spool.jsonl` : 'agent-safety-audit.spool.jsonl');
      const otlpSink = new (optionalSink('OtlpAuditSink'))({ exporter: traceExporter(), spoolPath, fsync: a.fsync, flushTimeoutMs: shutdownTimeoutMs });
      sinks.push(otlpSink);
      journals.push({ name: otlpSink.name, where: otlpSink.spoolPath, backlog: () => otlpSink.backlog(), held: () => otlpSink.held() });
    }
    if (a.tlog !== undefined) {
      if (a.signingKey === undefined) diag.warn(`agent-safety-otel: audit.tlog without audit.signingKey: the tiles are published, but no checkpoint is signed`);
      sinks.push(new (optionalSink('TlogTilesSink'))({ dir: a.tlog.dir, origin: a.tlog.origin, witnesses: a.tlog.witnesses, journal: auditFile }));
    }
    sinks.push(...(a.sinks ?? []));
    if (sinks.length > 0) {
      audit = new AuditChainSpanProcessor({
        sinks,
        hmacKey: a.hmacKey,
        signingKey: a.signingKey,
        seals: a.seals ?? a.checkpoints,
        filter: a.filter,
        maxBacklog: a.maxBacklog,
        onBacklogFull: a.onBacklogFull,
      });
      spanProcessors.unshift(audit);
    } else {
      diag.warn('agent-safety-otel: the audit is on but has no sink (audit.file false, not over OTLP, no sinks): nothing is audited; say audit: false (AGENT_SAFETY_AUDIT=false) to turn it off knowingly');
    }
  }

  if (otlp) {
    const json = otlp.protocol === 'http/json';
    const headers = otlp.headers;
    if (otlpTraces) {
      const batch = traceSdk('require').batchSpanProcessor(traceExporter());
      spanProcessors.push(new ContainedSpanProcessor(auditOverOtlp ? new UnauditedSpanProcessor(batch) : batch));
    }
    if (otlp.metrics !== false) {
      const url = otlp.endpoint ? joinUrl(otlp.endpoint, '/v1/metrics') : undefined;
      const exporter = json
        ? new (requireSdk('@opentelemetry/exporter-metrics-otlp-http') as typeof MetricsOtlpHttp).OTLPMetricExporter({ url, headers })
        : new (requireSdk('@opentelemetry/exporter-metrics-otlp-proto') as typeof MetricsOtlpProto).OTLPMetricExporter({ url, headers });
      metricReaders.push(
        new (sdkMetrics().PeriodicExportingMetricReader)({ exporter, exportIntervalMillis: otlp.metricsIntervalMs ?? 60_000 }),
      );
    }
  }
  const consoleOption = options.console ?? !otlp;
  if (consoleOption) {
    // NO_COLOR (https://no-color.org) is read here, in the bootstrap, not by the exporter
    const color = process.stdout.isTTY === true && !('NO_COLOR' in process.env);
    const exporter = new ConsoleTreeSpanExporter({ color, ...(typeof consoleOption === 'object' ? consoleOption : {}) });
    spanProcessors.push(new ContainedSpanProcessor(traceSdk('require').simpleSpanProcessor(exporter)));
  }
  if (options.prometheus) {
    const { port = 9464, host = '127.0.0.1' } = options.prometheus;
    metricReaders.push(new (requireSdk('@opentelemetry/exporter-prometheus') as typeof ExporterPrometheus).PrometheusExporter({ port, host }));
  }

  // With the audit on, the sampler is always ours to wrap: the one given, or
  // the one the SDK would have built from OTEL_TRACES_SAMPLER (unwrapped).
  const sampler = audit ? new AuditRecordingSampler(options.sampler ?? samplerFromEnv(process.env)) : options.sampler;
  const sdk = new (sdkNode().NodeSDK)({
    serviceName: options.serviceName,
    sampler,
    resource: resources().resourceFromAttributes(withInstanceId(options.resourceAttributes)),
    instrumentations: [instrumentation],
    spanProcessors,
    metricReaders,
    logRecordProcessors: logRecordProcessors.length > 0 ? logRecordProcessors : undefined,
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    // Flush span processors first: they may still be waiting (e.g. for async
    // resource attributes) and the SDK's shutdown alone would drop what they
    // hold. Metric readers export once more on their own shutdown.
    stopping ??= withDeadline(
      Promise.allSettled(spanProcessors.map(p => p.forceFlush()))
        .then(() => sdk.shutdown())
        .catch(err => {
          diag.error('agent-safety-otel: SDK shutdown failed', err);
        })
        // Another start is allowed once this SDK has really shut down (also when the deadline passed first).
        .finally(release),
      shutdownTimeoutMs,
      () => {
        // Out of time: the journals are written now, and the user is told what is left and where.
        runLastChanceFlush('deadline');
        // Records the journal could not take even now (a full or read-only disk) are not "kept": say so.
        const counts = journals.map(j => ({ j, held: j.held(), kept: Math.max(0, j.backlog() - j.held()) }));
        const left = counts.filter(c => c.kept > 0).map(c => `${c.kept} records of sink ${c.j.name} in ${c.j.where}`);
        const lost = counts.filter(c => c.held > 0).map(c => `${c.held} records of sink ${c.j.name}, not written to ${c.j.where}`);
        process.stderr.write(
          `agent-safety-otel: shutdown did not finish within ${shutdownTimeoutMs} ms (a collector or disk that does not answer); ` +
            (left.length > 0 ? `undelivered audit records are kept: ${left.join('; ')}; they are sent at the next start` : 'no journaled audit record is waiting') +
            (lost.length > 0 ? `; audit records the disk refused (held in memory, lost when the process ends): ${lost.join('; ')}\n` : '\n'),
        );
      },
    );
    return stopping;
  };

  if (options.shutdownOnExit) {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const s of signals) process.removeListener(s, onSignal);
      void shutdown().finally(() => process.kill(process.pid, signal));
    };
    for (const s of signals) process.on(s, onSignal);
    process.once('beforeExit', () => void shutdown());
  }

  return { sdk, instrumentation, audit, auditFile, shutdown };
}
