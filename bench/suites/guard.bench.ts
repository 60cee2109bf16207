/**
 * The cost of one guarded call against one bare SDK span around the same
 * async function (BatchSpanProcessor, no-op exporter, AsyncLocalStorage
 * context manager), in the same process. Key: guard_vs_bare_span.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { AgentSafetyInstrumentation, guard } from '../../src/index.js';
import { compare, formatNs, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';

class CountingExporter implements SpanExporter {
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

const suite: BenchSuite = {
  name: 'guarded call vs bare span',
  async run({ quick }) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const exporter = new CountingExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4096, scheduledDelayMillis: 50 })],
    });
    const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
    trace.setGlobalTracerProvider(provider);
    const instrumentation = new AgentSafetyInstrumentation({ agent: { id: 'bench-agent' } });
    instrumentation.setTracerProvider(provider);
    instrumentation.setMeterProvider(meterProvider);

    const tool = async (x: number) => x + 1;
    const tracer = provider.getTracer('bench');
    const bare = (x: number) =>
      tracer.startActiveSpan('execute_tool bench', async span => {
        try {
          return await tool(x);
        } finally {
          span.end();
        }
      });
    const guarded = guard(tool, { name: 'bench' });
    const results = await compare(
      { 'bare SDK span (Batch)': () => bare(1), 'guard()': () => guarded(1), 'plain await': () => tool(1) },
      quick ? { iterations: 2_000, runs: 3 } : { iterations: 100_000, runs: 9 },
    );
    const ratio = results['guard()'].nsPerOp / results['bare SDK span (Batch)'].nsPerOp;
    await provider.forceFlush();
    return {
      rows: [
        ...Object.entries(results).map(([name, r]) => ({ name, value: formatNs(r.nsPerOp) })),
        { name: 'guard ÷ bare span', value: round(ratio, 2).toFixed(2), note: 'target ≤ 1.5 with every pattern on' },
      ],
      figures: { guard_vs_bare_span: round(ratio, 3) },
    };
  },
};
export default suite;
