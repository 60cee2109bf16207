/**
 * The policy step's added cost on a guarded call: a token bucket (never
 * empty) against the same guard without a policy, in the same process
 * (BatchSpanProcessor, no-op exporter, AsyncLocalStorage context manager).
 * Key: policy_vs_guard = (guard + policy − guard) ÷ guard (target ≤ 0.2),
 * the median over the rounds of each round's own ratio: the two variants of
 * a round run one after the other, so load that drifts on a shared machine
 * moves both (a ratio of the two medians mixes rounds measured under
 * different loads; it is printed too).
 * No forced GC between runs: it deoptimizes the guard's shared call path
 * after each round's first variant (bench/lib.ts `gcBetweenRuns`).
 * And one Cedar evaluation (three policies, a record of arguments), in µs:
 * cedar_eval_us.
 */
import { Policy, cedarAuthorizer, guard } from '../../src/index.js';
import type { PolicySubject } from '../../src/index.js';
import { compare, formatNs, median, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { benchTelemetry } from '../telemetry.js';

const suite: BenchSuite = {
  name: 'policy on a guarded call, and Cedar',
  async run({ quick }) {
    const { provider } = benchTelemetry();

    const tool = async (x: number) => x + 1;
    const bucket = new Policy({ limits: [{ kind: 'token_bucket', name: 'rate', ratePerSecond: 1e9, burst: 1e9, per: ['agent', 'tool'] }] });
    const budget = new Policy({
      limits: [
        { kind: 'token_bucket', name: 'rate', ratePerSecond: 1e9, burst: 1e9 },
        { kind: 'budget', name: 'usd', limit: 1e12, cost: () => 0.001 },
      ],
    });
    const plain = guard(tool, { name: 'bench', agent: { id: 'bench-agent' } });
    const limited = guard(tool, { name: 'bench', agent: { id: 'bench-agent' }, policy: bucket });
    const charged = guard(tool, { name: 'bench', agent: { id: 'bench-agent' }, policy: budget });

    const results = await compare(
      { 'guard()': () => plain(1), 'guard() + token bucket': () => limited(1), 'guard() + bucket + budget': () => charged(1) },
      // Many short runs, interleaved: the median then resists the load drifting on a shared machine.
      quick ? { iterations: 2_000, runs: 3, gcBetweenRuns: false } : { iterations: 10_000, runs: 31, gcBetweenRuns: false },
    );
    await provider.forceFlush();
    const base = results['guard()'].nsPerOp;
    const plainRuns = results['guard()'].runs;
    const added = median(results['guard() + token bucket'].runs.map((ns, r) => (ns - plainRuns[r]) / plainRuns[r]));
    const addedOfMedians = (results['guard() + token bucket'].nsPerOp - base) / base;

    const cedar = await cedarAuthorizer({
      policies: `
        @id("all") permit(principal, action, resource);
        @id("no-intern-delete") forbid(principal == Agent::"intern", action == Action::"delete", resource);
        @id("cap") forbid(principal, action == Action::"pay", resource) when { context.arguments.amount > 100 };`,
    });
    const subject: PolicySubject = { agent: 'billing', tool: 'pay', run: 'r1', args: [{ amount: 42, currency: 'EUR', memo: 'invoice 17' }] };
    const evals = quick ? 200 : 20_000;
    for (let i = 0; i < evals >> 2; i++) cedar.authorize(subject);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < evals; i++) cedar.authorize(subject);
    const cedarUs = Number(process.hrtime.bigint() - t0) / evals / 1000;

    return {
      rows: [
        ...Object.entries(results).map(([name, r]) => ({
          name,
          value: formatNs(r.nsPerOp),
          note: name.startsWith('guard() +') ? `+${formatNs(r.nsPerOp - base)} over guard()` : undefined,
        })),
        { name: 'policy (token bucket) added ÷ guard', value: round(added, 3).toFixed(3), note: 'median of the rounds\' ratios; target ≤ 0.2' },
        { name: 'the same, ratio of the medians', value: round(addedOfMedians, 3).toFixed(3) },
        { name: 'one Cedar evaluation', value: `${round(cedarUs, 1)} µs`, note: 'three policies, arguments as a record' },
      ],
      figures: { policy_vs_guard: round(Math.max(added, 0.001), 3), cedar_eval_us: round(cedarUs, 1) },
    };
  },
};
export default suite;
