/**
 * Starts an OpenTelemetry `NodeSDK` with this package wired in: the
 * instrumentation, the chosen exporters, and the embedded default (a readable
 * trace tree on the console) when no collector is configured.
 *
 * Used by `agent-safety-otel/register` (configured from the environment) and
 * by programs that prefer to start in code. Reads no environment variable
 * itself, though the OpenTelemetry exporters it creates read the standard
 * `OTEL_EXPORTER_OTLP_*` variables for whatever is not given here.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter as OTLPTraceExporterJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPTraceExporterProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPMetricExporter as OTLPMetricExporterJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPMetricExporterProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Attributes } from '@opentelemetry/api';
import { AgentSafetyInstrumentation } from '../instrumentation/instrumentation.js';
import type { AgentSafetyInstrumentationConfig } from '../instrumentation/instrumentation.js';
import { ConsoleTreeSpanExporter } from '../exporters/console-tree-exporter.js';
import type { ConsoleTreeSpanExporterOptions } from '../exporters/console-tree-exporter.js';

/** OTLP/HTTP export of traces and metrics. */
export interface OtlpOptions {
  /**
   * Base URL of the receiver (a Collector), e.g. `http://127.0.0.1:4318`;
   * `/v1/traces` and `/v1/metrics` are appended.
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
   * Shut down (flushing everything pending) on SIGINT and SIGTERM, then let
   * the signal take its course; and when the event loop empties.
   * @default false
   */
  shutdownOnExit?: boolean;
}

/** What {@link startAgentSafety} started. */
export interface AgentSafetyHandle {
  readonly sdk: NodeSDK;
  readonly instrumentation: AgentSafetyInstrumentation;
  /** Flushes and stops everything; safe to call more than once. */
  shutdown(): Promise<void>;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/**
 * Starts the OpenTelemetry SDK with the package's instrumentation and the
 * requested exporters. Returns a handle whose `shutdown()` flushes
 * everything.
 *
 * @example
 * ```ts
 * const safety = startAgentSafety({ serviceName: 'ranker', instrumentation: { agent: { id: 'ranker-v3' } } });
 * // ... run the agent ...
 * await safety.shutdown();
 * ```
 */
export function startAgentSafety(options: AgentSafetyOptions = {}): AgentSafetyHandle {
  const instrumentation = new AgentSafetyInstrumentation(options.instrumentation);
  const spanProcessors: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  const metricReaders: MetricReader[] = [...(options.metricReaders ?? [])];
  const otlp = options.otlp;

  if (otlp) {
    const json = otlp.protocol === 'http/json';
    const headers = otlp.headers;
    if (otlp.traces !== false) {
      const url = otlp.endpoint ? joinUrl(otlp.endpoint, '/v1/traces') : undefined;
      const exporter = json ? new OTLPTraceExporterJson({ url, headers }) : new OTLPTraceExporterProto({ url, headers });
      spanProcessors.push(new BatchSpanProcessor(exporter));
    }
    if (otlp.metrics !== false) {
      const url = otlp.endpoint ? joinUrl(otlp.endpoint, '/v1/metrics') : undefined;
      const exporter = json ? new OTLPMetricExporterJson({ url, headers }) : new OTLPMetricExporterProto({ url, headers });
      metricReaders.push(
        new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: otlp.metricsIntervalMs ?? 60_000 }),
      );
    }
  }
  const consoleOption = options.console ?? !otlp;
  if (consoleOption) {
    const exporter = new ConsoleTreeSpanExporter(typeof consoleOption === 'object' ? consoleOption : {});
    spanProcessors.push(new SimpleSpanProcessor(exporter));
  }
  if (options.prometheus) {
    const { port = 9464, host = '127.0.0.1' } = options.prometheus;
    metricReaders.push(new PrometheusExporter({ port, host }));
  }

  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    resource: options.resourceAttributes ? resourceFromAttributes(options.resourceAttributes) : undefined,
    instrumentations: [instrumentation],
    spanProcessors,
    metricReaders,
  });
  sdk.start();

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    // Flush first: SimpleSpanProcessor defers exports until async resource
    // detection settles, and a span exporter shut down before that drops them.
    stopping ??= Promise.allSettled(spanProcessors.map(p => p.forceFlush()))
      .then(() => sdk.shutdown())
      .catch(err => {
        diag.error('agent-safety-otel: SDK shutdown failed', err);
      });
    return stopping;
  };

  if (options.shutdownOnExit) {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      void shutdown().finally(() => process.kill(process.pid, signal));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.once('beforeExit', () => void shutdown());
  }

  return { sdk, instrumentation, shutdown };
}
