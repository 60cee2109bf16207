/**
 * Profiling target (not a suite): the policy step alone (admit, settle,
 * conclude of `PolicyStep` with one token bucket that never empties), no
 * span, no guard: what the step itself costs per call, in ns.
 *
 * `node --import tsx bench/micro-policy-step.ts [calls]`
 */
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { Policy } from '../src/patterns/policy/policy.js';
import { PolicyStep } from '../src/instrumentation/policy/policy-step.js';
import type { GuardCall } from '../src/instrumentation/guard/guard-step.js';
import { benchTelemetry } from './telemetry.js';

benchTelemetry();
const calls = Number(process.argv[2] ?? 2_000_000);
const policy = new Policy({ limits: [{ kind: 'token_bucket', name: 'rate', ratePerSecond: 1e9, burst: 1e9, per: ['agent', 'tool'] }] });
const step = new PolicyStep(policy, 'bench');
const args = [1];
const call: GuardCall = {
  tool: 'bench',
  args,
  input: args,
  callId: undefined,
  agent: { id: 'bench-agent' },
  redact: v => v,
  signal: undefined,
  parent: ROOT_CONTEXT,
  context: ROOT_CONTEXT,
  spanContext: undefined,
  recording: true,
};
const outcome = { ok: true as const, result: 2 };
let sink = 0;
const run = (n: number): number => {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const entry = step.admit(call) as { state?: unknown; attributes?: Record<string, unknown> };
    if (entry.attributes !== undefined) for (const k in entry.attributes) sink += k.length;
    step.settle(call, entry.state as never, outcome);
    void step.conclude(call, entry.state as never); // undefined on the in-memory store
  }
  return Number(process.hrtime.bigint() - t0) / n;
};
run(calls >> 2);
const results: number[] = [];
// No forced GC between runs: after one, the step runs at about twice its cost until re-optimized (see bench/lib.ts gcBetweenRuns).
for (let r = 0; r < 5; r++) results.push(run(calls));
results.sort((a, b) => a - b);
console.log(JSON.stringify({ calls, nsPerCall: Math.round(results[2]), runs: results.map(Math.round), sink: sink > 0 }));
