/**
 * Profiling target (not a suite): N guarded calls of one variant of the
 * policy suite, the loop yielding a microtask every 256 calls as the suite's
 * does. Run under a profiler:
 *
 * `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile-policy.ts [calls] [plain|bucket|empty|budget]`
 *
 * Prints wall and process CPU time (all threads) per call.
 *
 * `empty` is a policy without rules or limits: the step pipeline and the
 * policy's decision with nothing to count.
 */
import { Policy, guard } from '../src/index.js';
import { benchTelemetry } from './telemetry.js';

const calls = Number(process.argv[2] ?? 500_000);
const variant = process.argv[3] ?? 'bucket';
const { provider } = benchTelemetry();
const tool = async (x: number) => x + 1;
const policies: Record<string, Policy | undefined> = {
  plain: undefined,
  empty: new Policy(),
  bucket: new Policy({ limits: [{ kind: 'token_bucket', name: 'rate', ratePerSecond: 1e9, burst: 1e9, per: ['agent', 'tool'] }] }),
  budget: new Policy({
    limits: [
      { kind: 'token_bucket', name: 'rate', ratePerSecond: 1e9, burst: 1e9 },
      { kind: 'budget', name: 'usd', limit: 1e12, cost: () => 0.001 },
    ],
  }),
};
if (!(variant in policies)) throw new RangeError(`variant must be one of ${Object.keys(policies).join(', ')}, got ${variant}`);
const call = guard(tool, { name: 'bench', agent: { id: 'bench-agent' }, policy: policies[variant] });
let cpuNs = 0;
const run = async (n: number): Promise<number> => {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await call(i);
    if ((i & 255) === 255) await Promise.resolve();
  }
  const c = process.cpuUsage(c0);
  cpuNs = ((c.user + c.system) * 1000) / n;
  return Number(process.hrtime.bigint() - t0) / n;
};
await run(calls >> 2);
const ns = await run(calls);
await provider.forceFlush();
await provider.shutdown();
console.log(JSON.stringify({ variant, calls, nsPerCall: Math.round(ns), cpuNsPerCall: Math.round(cpuNs) }));
process.exit(0);
