/**
 * The transparency log's costs.
 *
 * - merkle_vs_chain (target ≤ 0.1): the tree's upkeep per record — the
 *   leaf hash of the record's chain hash and the frontier's merges
 *   (`AuditLogTree.appendRecordHash`, what the processor adds per record) —
 *   against the chain's step per record as a user runs it: the audit
 *   processor (`AuditChainSpanProcessor.onEnd` of the realistic spans,
 *   already ended: redaction, canonical encoding, SHA-256, stamps,
 *   delivery; one copy of the attributes more than the `onEnding` path an
 *   SDK that has it takes) writing to the real
 *   `FileAuditSink` with its default fsync, the loop yielding every 64
 *   records so that the sink's writes are inside the timing; the median of
 *   the runs' ratios (each run of the tree right after one of the chain).
 * - merkle_vs_append: the same upkeep against `AuditChain.append` alone
 *   (encoding and hashing, no processor, no I/O): the stricter figure.
 * - inclusion_verify_us (target < 1000): verifying one record's inclusion
 *   proof in a log of a million records (20 hashes), median over random
 *   records. The proofs are made from the log's tiles, as `prove` does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sdkTrace } from '../telemetry.js';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AuditChain } from '../../src/patterns/audit/audit-chain.js';
import { AuditChainSpanProcessor, FileAuditSink, auditAllSpans } from '../../src/exporters/index.js';
import { AuditLogTree } from '../../src/patterns/audit/audit-tlog.js';
import { inclusionProof, leafHash, verifyInclusion } from '../../src/patterns/audit/merkle.js';
import { TileBuilder, tileNodeSource } from '../../src/patterns/audit/tlog-tiles.js';
import { compare, formatNs, median, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { produceSpans } from '../../test/helpers/audit-fixtures.js';

class Collect implements SpanProcessor {
  spans: ReadableSpan[] = [];
  onStart(_span: Span): void {}
  onEnd(span: ReadableSpan): void {
    this.spans.push(span);
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const suite: BenchSuite = {
  name: 'transparency log (Merkle tree)',
  async run({ quick }) {
    // Realistic spans, and their chain hashes (the tree's entries).
    const collect = new Collect();
    const provider = sdkTrace.tracerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench' }), spanProcessors: [collect] });
    produceSpans(provider.getTracer('agent-safety-otel', '0.1.0'), quick ? 300 : 2_000, 5);
    await provider.shutdown();
    const spans = collect.spans;
    const n = spans.length;
    const chain = new AuditChain({ chainId: 'bench' });
    const hashes = spans.map(s => chain.append(s, s.resource.attributes).hash);

    const newTree = (): AuditLogTree => new AuditLogTree({ origin: 'bench.example/log', tree: { size: 0, peaks: [] }, chains: [] });
    let tree = newTree();
    const benchChain = new AuditChain({ chainId: 'bench-2' });
    const dir = mkdtempSync(join(tmpdir(), 'agent-safety-merkle-bench-'));
    const processor = new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path: join(dir, 'audit.jsonl') })], filter: auditAllSpans });
    let i = 0;
    let j = 0;
    let k = 0;
    const STEP = 'chain step (processor → FileAuditSink)';
    const APPEND = 'AuditChain.append alone';
    const TREE = 'tree upkeep (AuditLogTree.appendRecordHash)';
    let results: Awaited<ReturnType<typeof compare>>;
    try {
      results = await compare(
        {
          [STEP]: () => {
            processor.onEnd(spans[k++ % n]);
          },
          [APPEND]: () => {
            benchChain.append(spans[i++ % n], undefined);
          },
          [TREE]: () => {
            tree.appendRecordHash(hashes[j++ % n]);
            if (j % 1_000_000 === 0) tree = newTree();
          },
        },
        quick ? { iterations: 2_000, runs: 3, yieldEvery: 64 } : { iterations: 20_000, runs: 9, yieldEvery: 64 },
      );
      await processor.shutdown();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const stepNs = results[STEP].nsPerOp;
    const chainNs = results[APPEND].nsPerOp;
    const treeNs = results[TREE].nsPerOp;
    // The ratio of each run's pair (measured one after the other), median over
    // the runs: on a shared machine the load drifts between runs, and a pair
    // sees nearly the same load, where the two medians may come from different runs.
    const pairRatio = (base: string): number => median(results[TREE].runs.map((t, r) => t / results[base].runs[r]));
    const ratio = pairRatio(STEP);
    const appendRatio = pairRatio(APPEND);

    // A log of a million records (2^20, or 2^14 in quick mode), published as tiles in memory.
    const size = quick ? 1 << 14 : 1 << 20;
    const files = new Map<string, Buffer>();
    const builder = new TileBuilder();
    const entry = Buffer.alloc(32);
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < size; k++) {
      entry.writeUInt32BE(k, 0);
      for (const f of builder.append(entry)) files.set(f.path, f.data);
    }
    for (const f of builder.partials()) files.set(f.path, f.data);
    const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const root = builder.root();
    const source = tileNodeSource(size, p => files.get(p));
    const samples = quick ? 200 : 2_000;
    const proofs = Array.from({ length: samples }, (_, s) => {
      const index = Math.floor(((s * 2654435761) % 4294967296) / 4294967296 * size);
      const e = Buffer.alloc(32);
      e.writeUInt32BE(index, 0);
      return { index, leaf: leafHash(e), proof: inclusionProof(index, size, source) };
    });
    const perRun: number[] = [];
    for (let run = 0; run < (quick ? 3 : 9); run++) {
      const start = process.hrtime.bigint();
      for (const p of proofs) {
        if (!verifyInclusion(p.leaf, p.index, size, p.proof, root)) throw new Error(`proof of ${p.index} does not verify`);
      }
      perRun.push(Number(process.hrtime.bigint() - start) / samples / 1000);
    }
    const verifyUs = median(perRun);

    return {
      rows: [
        { name: 'chain step', value: formatNs(stepNs), note: 'the audit processor per record, real FileAuditSink' },
        { name: 'AuditChain.append alone', value: formatNs(chainNs), note: 'encoding and SHA-256 of a guarded-call span, no I/O' },
        { name: 'tree upkeep', value: formatNs(treeNs), note: 'leaf hash + frontier merges' },
        { name: 'tree ÷ chain step', value: round(ratio, 3).toFixed(3), note: 'median of per-run ratios; target ≤ 0.1' },
        { name: 'tree ÷ AuditChain.append', value: round(appendRatio, 3).toFixed(3), note: 'the stricter figure' },
        { name: `inclusion proof at ${size.toLocaleString('en-US')}`, value: `${verifyUs.toFixed(1)} µs/verify`, note: `${proofs[0].proof.length} hashes (${proofs[0].proof.length * 32} B); target < 1000 µs` },
        { name: 'tiles built', value: `${Math.round(size / (buildMs / 1000)).toLocaleString('en-US')} leaves/s`, note: `${files.size} files` },
      ],
      figures: {
        merkle_vs_chain: round(ratio, 3),
        merkle_vs_append: round(appendRatio, 3),
        inclusion_verify_us: round(verifyUs, 1),
      },
    };
  },
};

export default suite;
