/**
 * The cost of one guarded call against one bare SDK span around the same
 * async function (BatchSpanProcessor, no-op exporter, AsyncLocalStorage
 * context manager), in the same process. Key: guard_vs_bare_span.
 */
import { guard } from '../../src/index.js';
import { compare, formatNs, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { bareSpan, benchTelemetry } from '../telemetry.js';

const suite: BenchSuite = {
  name: 'guarded call vs bare span',
  async run({ quick }) {
    const { provider, tracer } = benchTelemetry();

    const tool = async (x: number) => x + 1;
    const bare = (x: number) => bareSpan(tracer, () => tool(x));
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
        { name: 'guard ÷ bare span', value: round(ratio, 2).toFixed(2), note: 'target ≤ 1.3 (the guard alone, no pattern configured)' },
      ],
      figures: { guard_vs_bare_span: round(ratio, 3) },
    };
  },
};
export default suite;
