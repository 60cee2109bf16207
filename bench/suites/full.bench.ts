/**
 * The design's headline targets, in one process:
 * - the full guarded call (span + breaker + impact gate + explanation +
 *   audit stamp by the AuditChainSpanProcessor) against one bare SDK span
 *   around the same async function (BatchSpanProcessor, no-op exporter):
 *   key full_guard_vs_bare_span (target ≤ 1.5);
 * - heap growth over 1,000,000 full guarded calls, measured after a GC:
 *   key heap_growth_mb_1m_calls (target < 10 MB; quick mode runs fewer
 *   calls and scales nothing: the number is only meaningful in a full run).
 */
import { CircuitBreaker, CounterfactualEstimator, guard } from '../../src/index.js';
import { AuditChainSpanProcessor } from '../../src/exporters/index.js';
import type { AuditRecord, AuditSink } from '../../src/exporters/index.js';
import { compare, formatNs, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { bareSpan, benchTelemetry } from '../telemetry.js';

/** Counts records: the chain is computed and stamped, the sink's own I/O is not what is measured. */
class CountingSink implements AuditSink {
  count = 0;
  write(_record: AuditRecord): void {
    this.count++;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const gc = (globalThis as { gc?: () => void }).gc;

const suite: BenchSuite = {
  name: 'full guarded call (breaker + gate + explain + audit) vs bare span; heap over 1M calls',
  async run({ quick }) {
    const sink = new CountingSink();
    const { provider, tracer } = benchTelemetry([new AuditChainSpanProcessor({ sinks: [sink] })]);

    const tool = async (x: number) => x + 1;
    const full = guard(tool, {
      name: 'bench',
      breaker: new CircuitBreaker({ name: 'bench', agentId: 'bench-agent' }),
      gate: new CounterfactualEstimator(),
      impact: { reversibility: 'manual_undo', scope: 'user' },
      explain: { reasoning: 'Ranking content by engagement signals.', confidence: 0.91, alternativesConsidered: ['chronological sort'] },
    });
    const plain = guard(tool, { name: 'bench' });
    const bare = (x: number) => bareSpan(tracer, () => tool(x));

    const results = await compare(
      { 'bare SDK span (Batch)': () => bare(1), 'guard()': () => plain(1), 'guard() + breaker + gate + explain + audit': () => full(1) },
      quick ? { iterations: 2_000, runs: 3 } : { iterations: 50_000, runs: 9 },
    );
    await provider.forceFlush();
    const bareNs = results['bare SDK span (Batch)'].nsPerOp;
    const fullNs = results['guard() + breaker + gate + explain + audit'].nsPerOp;

    const calls = quick ? 20_000 : 1_000_000;
    gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < calls; i++) {
      await full(i);
      if ((i & 4095) === 4095) await new Promise(resolve => setImmediate(resolve)); // let the batch processor drain
    }
    await provider.forceFlush();
    gc?.();
    const growthMb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    return {
      rows: [
        ...Object.entries(results).map(([name, r]) => ({ name, value: formatNs(r.nsPerOp), note: `${round(r.nsPerOp / bareNs, 2).toFixed(2)}× bare span` })),
        { name: 'full ÷ bare span', value: round(fullNs / bareNs, 2).toFixed(2), note: 'target ≤ 1.5' },
        { name: `heap growth, ${calls.toLocaleString('en-US')} full calls`, value: `${growthMb.toFixed(1)} MB`, note: `target < 10 MB; ${sink.count.toLocaleString('en-US')} records chained` },
      ],
      figures: {
        full_guard_vs_bare_span: round(fullNs / bareNs, 3),
        heap_growth_mb_1m_calls: round(growthMb, 1),
      },
    };
  },
};

export default suite;
