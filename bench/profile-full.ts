/**
 * Profiling target (not a suite): N full guarded calls (breaker + gate +
 * explanation + audit chain to a real FileAuditSink, default fsync), the
 * loop yielding every 64 calls as in the full suite. Run under a profiler:
 *
 * `node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile-full.ts [calls] [file|nosink|bare]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CircuitBreaker, CounterfactualEstimator, guard } from '../src/index.js';
import { AuditChainSpanProcessor, FileAuditSink } from '../src/exporters/index.js';
import type { AuditSink } from '../src/exporters/index.js';
import { CALL_FACTS } from './handwritten.js';
import { macrotask } from './lib.js';
import { bareSpan, benchTelemetry } from './telemetry.js';

const calls = Number(process.argv[2] ?? 200_000);
const variant = process.argv[3] ?? 'file';
const dir = mkdtempSync(join(tmpdir(), 'agent-safety-profile-'));
const nosink: AuditSink = { write: () => {}, forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
const sink = variant === 'file' ? new FileAuditSink({ path: join(dir, 'audit.jsonl') }) : nosink;
const { provider, tracer } = benchTelemetry(variant === 'bare' ? [] : [new AuditChainSpanProcessor({ sinks: [sink] })]);
const tool = async (x: number) => x + 1;
const call =
  variant === 'bare'
    ? (x: number) => bareSpan(tracer, () => tool(x))
    : guard(tool, {
        name: 'bench',
        breaker: new CircuitBreaker({ name: 'bench', agentId: 'bench-agent' }),
        gate: new CounterfactualEstimator(),
        impact: CALL_FACTS.impact,
        explain: { reasoning: CALL_FACTS.reasoning, confidence: CALL_FACTS.confidence, alternativesConsidered: [...CALL_FACTS.alternativesConsidered] },
      });
const t0 = process.hrtime.bigint();
for (let i = 0; i < calls; i++) {
  await call(i);
  if (i % 64 === 63) await macrotask();
}
await provider.forceFlush();
const ns = Number(process.hrtime.bigint() - t0) / calls;
await provider.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ variant, calls, nsPerCall: Math.round(ns) }));
