/**
 * The OpenTelemetry setup every suite measures against: an SDK tracer
 * provider with a BatchSpanProcessor in front of a no-op exporter (so export
 * costs nothing and nothing is dropped), an AsyncLocalStorage context manager
 * as `NodeSDK` installs, an idle metric reader, and the package's
 * instrumentation registered on both.
 */
import { context, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ReadableSpan, SpanExporter, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { AgentSafetyInstrumentation } from '../src/bootstrap/index.js';
import { traceSdk } from '../src/bootstrap/sdk-compat.js';
import type { AuditRecord } from '../src/exporters/audit/audit-sink.js';
import { AuditChain } from '../src/patterns/audit/audit-chain.js';

/** The trace SDK (3.x or 2.x), through the bootstrap's adapter. */
export const sdkTrace = traceSdk();

/** Counts what it is given and drops it. */
export class CountingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], cb: (r: { code: 0 }) => void): void {
    this.exported += spans.length;
    cb({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

class IdleReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface BenchTelemetry {
  provider: TracerProvider;
  meterProvider: MeterProvider;
  instrumentation: AgentSafetyInstrumentation;
  exporter: CountingExporter;
  /** A tracer of the same provider, for the bare-span baseline. */
  tracer: Tracer;
}

/** Sets up the providers (globally too) with `processors` before the batch processor. */
export function benchTelemetry(processors: SpanProcessor[] = []): BenchTelemetry {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new CountingExporter();
  const provider = sdkTrace.tracerProvider({
    spanProcessors: [
      ...processors,
      sdkTrace.batchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4096, scheduledDelayMillis: 50 }),
    ],
  });
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  trace.setGlobalTracerProvider(provider);
  const instrumentation = new AgentSafetyInstrumentation({ agent: { id: 'bench-agent' } });
  instrumentation.setTracerProvider(provider);
  instrumentation.setMeterProvider(meterProvider);
  return { provider, meterProvider, instrumentation, exporter, tracer: provider.getTracer('bench') };
}

/** One bare SDK span around `fn`: the baseline of the design's target. */
export function bareSpan<T>(tracer: Tracer, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan('execute_tool bench', async span => {
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
}

/** `count` chained records of realistic size (the sinks do not look inside them), from real SDK spans. */
export function chainedRecords(count: number): AuditRecord[] {
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({ spanProcessors: [sdkTrace.simpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('agent-safety-otel', '0.1.0');
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan('execute_tool search_web', {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'search_web',
        'gen_ai.agent.id': 'bench-agent',
        'agent_safety.decision': 'allow',
        'agent_safety.explanation': 'low impact read-only call within budget; breaker closed; '.repeat(8),
        'agent_safety.arguments.hash': 'a'.repeat(64),
        'test.i': i,
      },
    });
    span.addEvent('agent_safety.gate', { verdict: 'allow' });
    span.end();
  }
  const chain = new AuditChain({ chainId: 'bench-chain' });
  return exporter.getFinishedSpans().map(span => chain.append(span, { 'service.name': 'bench' }) as AuditRecord); // the chain's record carries its span
}

