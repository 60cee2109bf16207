/**
 * Child process of the full suite: `rounds` rounds of `calls` calls started
 * at once (all in flight together: the tool waits one event-loop turn), of
 * one variant, in a fresh process so that its peak RSS is its own.
 *
 * `node --import tsx bench/inflight.ts <bare|full> <calls> <rounds> <dir>`
 *
 * - bare: one SDK span around the tool (BatchSpanProcessor, no-op exporter);
 * - full: guard + breaker + gate + explanation + the audit chain writing to
 *   a real `FileAuditSink` (default fsync) in `dir`.
 *
 * A round ends when every call has settled and the provider's forceFlush
 * (the batch processor's export; for full, the file written and synced) is
 * done. Prints {"callsPerS": median over rounds, "maxRssMb": peak RSS}.
 */
import { join } from 'node:path';
import { CircuitBreaker, CounterfactualEstimator, guard } from '../src/index.js';
import { AuditChainSpanProcessor, FileAuditSink } from '../src/exporters/index.js';
import { CALL_FACTS } from './handwritten.js';
import { macrotask, median } from './lib.js';
import { bareSpan, benchTelemetry } from './telemetry.js';

const [variant, callsArg, roundsArg, dir] = process.argv.slice(2);
const calls = Number(callsArg);
const rounds = Number(roundsArg);
if ((variant !== 'bare' && variant !== 'full') || !(calls > 0) || !(rounds > 0) || !dir) {
  console.error('usage: inflight.ts <bare|full> <calls> <rounds> <dir>');
  process.exit(2);
}

const processors =
  variant === 'full' ? [new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path: join(dir, `inflight-${process.pid}.jsonl`) })] })] : [];
const { provider, tracer } = benchTelemetry(processors);
const tool = async (x: number) => {
  await macrotask();
  return x + 1;
};
const call: (x: number) => Promise<number> =
  variant === 'full'
    ? guard(tool, {
        name: 'bench',
        breaker: new CircuitBreaker({ name: 'bench', agentId: 'bench-agent' }),
        gate: new CounterfactualEstimator(),
        impact: CALL_FACTS.impact,
        explain: { reasoning: CALL_FACTS.reasoning, confidence: CALL_FACTS.confidence, alternativesConsidered: [...CALL_FACTS.alternativesConsidered] },
      })
    : (x: number) => bareSpan(tracer, () => tool(x));

async function round(n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const pending: Promise<number>[] = new Array(n);
  for (let i = 0; i < n; i++) pending[i] = call(i);
  await Promise.all(pending);
  await provider.forceFlush();
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

await round(Math.min(calls, 1_000)); // warm-up
const rates: number[] = [];
for (let r = 0; r < rounds; r++) rates.push(await round(calls));
const maxRssMb = process.resourceUsage().maxRSS / 1024;
await provider.shutdown();
process.stdout.write(`${JSON.stringify({ callsPerS: median(rates), maxRssMb })}\n`);
process.exit(0);
