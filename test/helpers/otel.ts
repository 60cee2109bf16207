/**
 * Real OpenTelemetry SDK pieces for tests: a tracer provider with an
 * in-memory exporter, a meter provider with a reader collected on demand, and
 * the package's instrumentation registered against them.
 */
import * as api from '@opentelemetry/api';
import { context, metrics as metricsApi, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { logs as apiLogs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { InMemorySpanExporter, ReadableSpan, Span, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { MetricReader } from '@opentelemetry/sdk-metrics';
import { AgentSafetyInstrumentation } from '../../src/bootstrap/index.js';
import type { AgentSafetyInstrumentationConfig } from '../../src/bootstrap/index.js';
import { traceSdk } from '../../src/bootstrap/sdk-compat.js';

/**
 * The trace SDK of every test, through the bootstrap's adapter: the same
 * tests run on SDK 3.x (`@opentelemetry/sdk-trace`) and 2.x, and none names
 * a constructor whose shape differs between them.
 */
export const sdkTrace = traceSdk();

let contextManager: AsyncLocalStorageContextManager | undefined;

/** Installs an AsyncLocalStorage context manager once (as any Node SDK does). */
export function ensureContextManager(): void {
  if (contextManager) return;
  contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
}

/** Records the attributes a span had when it started (to test "set at start"). */
class StartAttributesProcessor implements SpanProcessor {
  readonly atStart = new Map<string, Attributes>();
  onStart(span: Span): void {
    this.atStart.set(span.spanContext().spanId, { ...span.attributes });
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface TestTelemetry {
  provider: TracerProvider;
  exporter: InMemorySpanExporter;
  meterProvider: MeterProvider;
  instrumentation: AgentSafetyInstrumentation;
  /** Finished spans so far. */
  spans(): ReadableSpan[];
  /** The one finished span named `name` (fails when there are none or several). */
  span(name: string): ReadableSpan;
  /** Attributes of a span at the moment it started. */
  startAttributes(span: ReadableSpan): Attributes;
  /** Collects metrics now. */
  collect(): Promise<MetricData[]>;
  /** Data points of the metric `name` (empty when not reported). */
  points(name: string): Promise<DataPoint<number>[]>;
  /** Histogram data points of the metric `name`. */
  histogram(name: string): Promise<DataPoint<Histogram>[]>;
  /** Forgets finished spans. */
  reset(): void;
  /** Shuts the providers down and unregisters the instrumentation. */
  shutdown(): Promise<void>;
}

/**
 * Fresh providers with the package's instrumentation registered against them
 * (not globally). Call `shutdown()` in an `after` hook.
 */
export function setupTelemetry(config: AgentSafetyInstrumentationConfig = {}, extraProcessors: SpanProcessor[] = []): TestTelemetry {
  ensureContextManager();
  // No global LoggerProvider left by an earlier test (NodeSDK registers one):
  // explanations then follow only what this test configures.
  resetGlobalLogs();
  const exporter = sdkTrace.inMemorySpanExporter();
  const starts = new StartAttributesProcessor();
  const provider = sdkTrace.tracerProvider({
    spanProcessors: [starts, ...extraProcessors, sdkTrace.simpleSpanProcessor(exporter)],
  });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = new AgentSafetyInstrumentation(config);
  instrumentation.setTracerProvider(provider);
  instrumentation.setMeterProvider(meterProvider);
  instrumentation.enable();

  const collect = async (): Promise<MetricData[]> => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length) throw errors[0];
    return resourceMetrics.scopeMetrics.flatMap(s => s.metrics);
  };
  return {
    provider,
    exporter,
    meterProvider,
    instrumentation,
    spans: () => exporter.getFinishedSpans(),
    span(name) {
      const found = exporter.getFinishedSpans().filter(s => s.name === name);
      if (found.length !== 1) {
        throw new Error(`expected one span named ${JSON.stringify(name)}, found ${found.length}: ${exporter.getFinishedSpans().map(s => s.name).join(', ')}`);
      }
      return found[0];
    },
    startAttributes: span => starts.atStart.get(span.spanContext().spanId) ?? {},
    collect,
    async points(name) {
      const metric = (await collect()).find(m => m.descriptor.name === name);
      return (metric?.dataPoints ?? []) as DataPoint<number>[];
    },
    async histogram(name) {
      const metric = (await collect()).find(m => m.descriptor.name === name);
      return (metric?.dataPoints ?? []) as DataPoint<Histogram>[];
    },
    reset: () => exporter.reset(),
    async shutdown() {
      instrumentation.unregister();
      await provider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Resets the global API providers (for tests of the no-instrumentation path). */
export function resetGlobals(): void {
  trace.disable();
  metricsApi.disable();
  resetGlobalLogs();
}

/** Removes the global LoggerProvider: `@opentelemetry/api-logs`' and, from `@opentelemetry/api` 1.10 on, the API's own. */
export function resetGlobalLogs(): void {
  apiLogs.disable();
  (api as unknown as { logs?: { disable(): void } }).logs?.disable();
}

/** A real SDK LoggerProvider whose records are kept in memory. */
export interface TestLogs {
  provider: LoggerProvider;
  exporter: InMemoryLogRecordExporter;
  /** Log records emitted so far. */
  records(): ReadableLogRecord[];
  shutdown(): Promise<void>;
}

/** A LoggerProvider with an in-memory exporter (not registered globally). */
export function testLogs(): TestLogs {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  return { provider, exporter, records: () => exporter.getFinishedLogRecords(), shutdown: () => provider.shutdown() };
}

/** A global meter provider with a periodic reader, for tests of the global path. */
export function globalMetrics(): { meterProvider: MeterProvider; exporter: InMemoryMetricExporter; reader: PeriodicExportingMetricReader } {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  metricsApi.setGlobalMeterProvider(meterProvider);
  return { meterProvider, exporter, reader };
}

/**
 * Awaits `promise` and returns what it rejected with; fails when it
 * resolves (uvu has no `rejects`).
 */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** Attribute value of `span`, typed loosely for assertions. */
export function attr(span: ReadableSpan, key: string): unknown {
  return span.attributes[key];
}
