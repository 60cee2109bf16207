/**
 * The design's headline targets, in one process, variants interleaved, the
 * loop awaiting each call and yielding to the event loop every
 * {@link YIELD_EVERY} calls (so the file sink's writes and syncs and the
 * batch processor's exports run inside the timing, as between an agent's
 * calls):
 * - full_guard_vs_bare_span: the full guarded call (span + breaker + impact
 *   gate + explanation + audit chain with the real `FileAuditSink`, default
 *   fsync, the bootstrap's default sink) ÷ one bare SDK span around the same
 *   async function (BatchSpanProcessor, no-op exporter). Target ≤ 4.
 * - full_guard_nosink_vs_bare_span: the same with a sink that only counts
 *   (the chain is computed and stamped; no I/O).
 * - handwritten_composite_vs_bare_span and full_guard_vs_handwritten: the
 *   hand-written equivalent (bench/handwritten.ts: span + cockatiel +
 *   histogram + JSON.stringify + SHA-256 + a file append). Target ≤ 1.0.
 * - full_guard_throughput_vs_bare_10k and full_guard_peak_rss_vs_bare_10k:
 *   10,000 calls in flight at once, each variant in its own child process
 *   (bench/inflight.ts) so that peak RSS is comparable. Targets ≥ 0.35, ≤ 2.
 * - heap_growth_mb_1m_calls: heap growth over 1,000,000 full guarded calls
 *   (real file sink), measured after a flush and a GC. Target < 10 MB
 *   (quick mode runs fewer calls: the number only means something in a
 *   full run).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CircuitBreaker, CounterfactualEstimator, guard } from '../../src/index.js';
import { AuditChainSpanProcessor, FileAuditSink, auditPackageSpans } from '../../src/exporters/index.js';
import type { AuditRecord, AuditSink } from '../../src/exporters/index.js';
import { CALL_FACTS, HandwrittenAuditFile, handwrittenGuard } from '../handwritten.js';
import { compare, formatNs, macrotask, median, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { bareSpan, benchTelemetry } from '../telemetry.js';

/** Calls between two yields to the event loop's macrotask queue. */
const YIELD_EVERY = 64;

/** Counts records: the chain is computed and stamped, no I/O. */
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

/** What bench/inflight.ts prints. */
interface InflightResult {
  callsPerS: number;
  maxRssMb: number;
}

const inflightScript = fileURLToPath(new URL('../inflight.ts', import.meta.url));

async function inflight(variant: 'bare' | 'full', calls: number, rounds: number, dir: string): Promise<InflightResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', inflightScript, variant, String(calls), String(rounds), dir], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as InflightResult;
}

const gc = (globalThis as { gc?: () => void }).gc;

const suite: BenchSuite = {
  name: 'full guarded call (breaker + gate + explain + audit to the file sink) vs bare span and hand-written; 10k in flight; heap over 1M calls',
  async run({ quick }) {
    const dir = mkdtempSync(join(tmpdir(), 'agent-safety-bench-full-'));
    try {
      return await measure(quick, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

async function measure(quick: boolean, dir: string) {
  // Two chains side by side, each taking the package's spans only while its variant runs.
  let mode: 'file' | 'nosink' | 'off' = 'off';
  const counting = new CountingSink();
  const fileSink = new FileAuditSink({ path: join(dir, 'audit.jsonl') });
  const fileChain = new AuditChainSpanProcessor({ sinks: [fileSink], filter: span => mode === 'file' && auditPackageSpans(span) });
  const countingChain = new AuditChainSpanProcessor({ sinks: [counting], filter: span => mode === 'nosink' && auditPackageSpans(span) });
  const { provider, meterProvider, tracer } = benchTelemetry([fileChain, countingChain]);
  const handFile = new HandwrittenAuditFile(join(dir, 'handwritten.jsonl'));

  const tool = async (x: number) => x + 1;
  const full = guard(tool, {
    name: 'bench',
    breaker: new CircuitBreaker({ name: 'bench', agentId: 'bench-agent' }),
    gate: new CounterfactualEstimator(),
    impact: CALL_FACTS.impact,
    explain: { reasoning: CALL_FACTS.reasoning, confidence: CALL_FACTS.confidence, alternativesConsidered: [...CALL_FACTS.alternativesConsidered] },
  });
  const plain = guard(tool, { name: 'bench' });
  const bare = (x: number) => bareSpan(tracer, () => tool(x));
  const hand = handwrittenGuard(tool, { name: 'bench', agentId: 'bench-agent', tracer, meter: meterProvider.getMeter('bench'), file: handFile });

  const BARE = 'bare SDK span (Batch)';
  const FULL = 'full: guard + breaker + gate + explain + audit → FileAuditSink';
  const NOSINK = 'full, audit → counting sink (no I/O)';
  const HAND = 'hand-written: span + cockatiel + histogram + stringify + SHA-256 + append';
  const results = await compare(
    {
      [BARE]: () => ((mode = 'off'), bare(1)),
      'guard()': () => ((mode = 'off'), plain(1)),
      [NOSINK]: () => ((mode = 'nosink'), full(1)),
      [FULL]: () => ((mode = 'file'), full(1)),
      [HAND]: () => ((mode = 'off'), hand(1)),
    },
    quick ? { iterations: 1_000, runs: 3, yieldEvery: YIELD_EVERY } : { iterations: 50_000, runs: 9, yieldEvery: YIELD_EVERY },
  );
  mode = 'file';
  await provider.forceFlush();
  await handFile.flush();
  const ns = (name: string) => results[name].nsPerOp;
  const bareNs = ns(BARE);

  // Heap over many full calls, the real file sink taking every record.
  const calls = quick ? 5_000 : 1_000_000;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < calls; i++) {
    await full(i);
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await macrotask(); // as in the timed loops (an agent between calls): the sink keeps up
  }
  await provider.forceFlush();
  gc?.();
  const growthMb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  const written = fileChain.head.seq + 1;
  await handFile.close();
  await provider.shutdown();

  // 10,000 calls in flight, each variant in its own process, alternating.
  const inflightCalls = quick ? 1_000 : 10_000;
  const throughputs: Record<'bare' | 'full', number[]> = { bare: [], full: [] };
  const rss: Record<'bare' | 'full', number[]> = { bare: [], full: [] };
  for (let pair = 0; pair < (quick ? 1 : 3); pair++) {
    for (const variant of ['bare', 'full'] as const) {
      const r = await inflight(variant, inflightCalls, quick ? 1 : 5, dir);
      throughputs[variant].push(r.callsPerS);
      rss[variant].push(r.maxRssMb);
    }
  }
  const tput = { bare: median(throughputs.bare), full: median(throughputs.full) };
  const peak = { bare: median(rss.bare), full: median(rss.full) };
  const k = `${(inflightCalls / 1000).toFixed(0)}k`;

  const ratio = (x: number) => round(x, 2).toFixed(2);
  return {
    rows: [
      ...Object.entries(results).map(([name, r]) => ({ name, value: formatNs(r.nsPerOp), note: `${ratio(r.nsPerOp / bareNs)}× bare span` })),
      { name: 'full (file sink) ÷ bare span', value: ratio(ns(FULL) / bareNs), note: `target ≤ 4; loop yields every ${YIELD_EVERY} calls` },
      { name: 'full (counting sink) ÷ bare span', value: ratio(ns(NOSINK) / bareNs) },
      { name: 'hand-written ÷ bare span', value: ratio(ns(HAND) / bareNs) },
      { name: 'full (file sink) ÷ hand-written', value: ratio(ns(FULL) / ns(HAND)), note: 'target ≤ 1.0' },
      { name: `${k} in flight: bare span`, value: `${Math.round(tput.bare).toLocaleString('en-US')} calls/s`, note: `peak RSS ${peak.bare.toFixed(0)} MB` },
      { name: `${k} in flight: full (file sink)`, value: `${Math.round(tput.full).toLocaleString('en-US')} calls/s`, note: `peak RSS ${peak.full.toFixed(0)} MB` },
      { name: `${k} in flight: full ÷ bare throughput`, value: ratio(tput.full / tput.bare), note: 'target ≥ 0.35' },
      { name: `${k} in flight: full ÷ bare peak RSS`, value: ratio(peak.full / peak.bare), note: 'target ≤ 2' },
      {
        name: `heap growth, ${calls.toLocaleString('en-US')} full calls`,
        value: `${growthMb.toFixed(1)} MB`,
        note: `target < 10 MB; ${written.toLocaleString('en-US')} records in the file, ${counting.count.toLocaleString('en-US')} counted`,
      },
    ],
    figures: {
      full_guard_vs_bare_span: round(ns(FULL) / bareNs, 3),
      full_guard_nosink_vs_bare_span: round(ns(NOSINK) / bareNs, 3),
      handwritten_composite_vs_bare_span: round(ns(HAND) / bareNs, 3),
      full_guard_vs_handwritten: round(ns(FULL) / ns(HAND), 3),
      full_guard_throughput_vs_bare_10k: round(tput.full / tput.bare, 3),
      full_guard_peak_rss_vs_bare_10k: round(peak.full / peak.bare, 3),
      heap_growth_mb_1m_calls: round(growthMb, 1),
    },
  };
}

export default suite;
