/**
 * The cost of the impact gate (synchronous rules model) and a static
 * explanation on a guarded call, against the same guard without them, in
 * the same process (BatchSpanProcessor, no-op exporter, AsyncLocalStorage
 * context manager). Keys: gate_explain_vs_guard, gate_explain_hooks_vs_guard,
 * and gate_explain_vs_bare_span (the DESIGN target compares the full guarded
 * call with one bare SDK span around the same function).
 */
import { CounterfactualEstimator, ExplainabilityHookManager, guard } from '../../src/index.js';
import { compare, formatNs, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { bareSpan, benchTelemetry } from '../telemetry.js';

const suite: BenchSuite = {
  name: 'impact gate and explanation on a guarded call',
  async run({ quick }) {
    const { provider, tracer } = benchTelemetry();

    const tool = async (x: number) => x + 1;
    const gate = new CounterfactualEstimator();
    const impact = { reversibility: 'manual_undo', scope: 'user' } as const;
    const explain = {
      reasoning: 'Ranking content by engagement signals and safety classifier output.',
      confidence: 0.91,
      alternativesConsidered: ['chronological sort', 'diversity-reranked'],
    };
    const hooks = new ExplainabilityHookManager({ agentId: 'bench-agent' });
    const plain = guard(tool, { name: 'bench' });
    const gated = guard(tool, { name: 'bench', gate, impact, explain });
    const recorded = guard(tool, { name: 'bench', gate, impact, explain: { ...explain, hooks } });
    const gateOnly = guard(tool, { name: 'bench', gate, impact });
    const explainOnly = guard(tool, { name: 'bench', explain });
    const bare = (x: number) => bareSpan(tracer, () => tool(x));

    const results = await compare(
      {
        'bare SDK span (Batch)': () => bare(1),
        'guard()': () => plain(1),
        'guard() + gate': () => gateOnly(1),
        'guard() + explain': () => explainOnly(1),
        'guard() + gate + explain': () => gated(1),
        'guard() + gate + explain + hooks': () => recorded(1),
      },
      quick ? { iterations: 2_000, runs: 3 } : { iterations: 50_000, runs: 9 },
    );
    await provider.forceFlush();
    const base = results['guard()'].nsPerOp;
    const ratio = results['guard() + gate + explain'].nsPerOp / base;
    const hooksRatio = results['guard() + gate + explain + hooks'].nsPerOp / base;
    const bareRatio = results['guard() + gate + explain'].nsPerOp / results['bare SDK span (Batch)'].nsPerOp;
    return {
      rows: [
        ...Object.entries(results).map(([name, r]) => ({
          name,
          value: formatNs(r.nsPerOp),
          note: name.startsWith('guard() +') ? `+${formatNs(r.nsPerOp - base)} over guard()` : undefined,
        })),
        { name: 'gate + explain ÷ guard', value: round(ratio, 2).toFixed(2) },
        { name: 'gate + explain + hooks ÷ guard', value: round(hooksRatio, 2).toFixed(2), note: 'records kept in the ring buffer' },
        { name: 'guard + gate + explain ÷ bare span', value: round(bareRatio, 2).toFixed(2) },
      ],
      figures: {
        gate_explain_vs_guard: round(ratio, 3),
        gate_explain_hooks_vs_guard: round(hooksRatio, 3),
        gate_explain_vs_bare_span: round(bareRatio, 3),
      },
    };
  },
};
export default suite;
