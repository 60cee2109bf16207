/**
 * Diagnostic (not a suite): a plain guard, a guard with an empty policy and
 * one with a token bucket, interleaved, measured in process CPU time
 * (`process.cpuUsage`, all threads) and wall time, medians.
 *
 * `node --expose-gc --import tsx bench/diag-policy.ts [runs]`
 */
import { Policy, guard } from '../src/index.js';
import { median } from './lib.js';
import { benchTelemetry } from './telemetry.js';

const { provider } = benchTelemetry();
const tool = async (x: number) => x + 1;
const mk = (policy?: Policy) => guard(tool, { name: 'bench', agent: { id: 'bench-agent' }, policy });
const variants: Record<string, (x: number) => Promise<number>> = {
  ...(process.env.PLAIN_LAST ? {} : { plain: mk() }),
  empty: mk(new Policy()),
  bucket: mk(new Policy({ limits: [{ kind: 'token_bucket', name: 'rate', ratePerSecond: 1e9, burst: 1e9, per: ['agent', 'tool'] }] })),
  ...(process.env.PLAIN_LAST ? { plain: mk() } : {}),
};
const runs = Number(process.argv[2] ?? 21);
const n = 10_000;
const gc = process.env.NO_GC ? undefined : (globalThis as { gc?: () => void }).gc;
const only = process.env.VARIANTS?.split(',');
for (const k of Object.keys(variants)) if (only && !only.includes(k)) delete variants[k];
const loop = async (f: (x: number) => Promise<number>, k: number): Promise<void> => {
  for (let i = 0; i < k; i++) {
    await f(i);
    if ((i & 255) === 255) await Promise.resolve();
  }
};
for (const f of Object.values(variants)) await loop(f, n);
const cpu: Record<string, number[]> = {};
const wall: Record<string, number[]> = {};
for (let r = 0; r < runs; r++) {
  for (const [name, f] of Object.entries(variants)) {
    gc?.();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await loop(f, n);
    const t = Number(process.hrtime.bigint() - t0) / n;
    const c = process.cpuUsage(c0);
    (cpu[name] ??= []).push(((c.user + c.system) * 1000) / n);
    (wall[name] ??= []).push(t);
  }
}
const base = { cpu: median(cpu.plain), wall: median(wall.plain) };
for (const name of Object.keys(variants)) {
  const c = median(cpu[name]);
  const w = median(wall[name]);
  console.log(
    `${name.padEnd(7)} cpu ${Math.round(c)} ns (+${((c - base.cpu) / base.cpu).toFixed(3)})   wall ${Math.round(w)} ns (+${((w - base.wall) / base.wall).toFixed(3)})`,
  );
}
await provider.forceFlush();
process.exit(0);
