/**
 * Test helpers for the file audit sink: audited spans from a real SDK
 * tracer chained with `AuditChain`, and a small local chain check of JSONL
 * lines (splitLine + chainHash + prev links + `previous` on seq 0). The
 * real verifier is built elsewhere; this check is deliberately minimal.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { AuditChain } from '../../src/patterns/audit/audit-chain.js';
import { GENESIS_HASH, chainHash, splitLine } from '../../src/patterns/audit/audit-record.js';
import type { ChainHead } from '../../src/patterns/audit/audit-record.js';
import type { AuditRecord } from '../../src/exporters/audit/audit-sink.js';
import { sdkTrace } from './otel.js';

/** Finished spans from a real SDK tracer. */
export function realSpans(count: number, name = 'execute_tool search'): ReadableSpan[] {
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({ spanProcessors: [sdkTrace.simpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('agent-safety-otel-test', '0.0.0');
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan(name, { attributes: { 'gen_ai.tool.name': 'search', 'test.i': i, 'test.text': `q-${i} ünïcödé` } });
    span.addEvent('step', { n: i });
    span.end();
  }
  const spans = exporter.getFinishedSpans();
  void provider.shutdown();
  return spans;
}

/** Chains `spans` into sink records. */
export function chainSpans(chain: AuditChain, spans: readonly ReadableSpan[]): AuditRecord[] {
  return spans.map(span => chain.append(span, { 'service.name': 'test' }) as AuditRecord); // the chain's record carries its span
}

/** `count` records of a fresh chain (continuing `previous` when given). */
export function records(count: number, chainId = 'chain-a', previous?: ChainHead): AuditRecord[] {
  return chainSpans(new AuditChain({ chainId, previous }), realSpans(count));
}

export type ChainCheck =
  | { ok: true; records: number; chains: string[]; last: ChainHead | undefined; seq0: { chainId: string; previous: ChainHead | undefined; before: ChainHead | undefined }[] }
  | { ok: false; line: number; reason: string };

/**
 * Checks JSONL lines (in file order, rotated files first) as one history:
 * each line's hash recomputes, seqs are gap-free from 0 per chain with
 * prev_hash links, and each chain after the first starts with `previous`
 * equal to the record just before it.
 */
export function checkChainLines(lines: readonly string[]): ChainCheck {
  const heads = new Map<string, ChainHead>();
  let last: ChainHead | undefined;
  const seq0: { chainId: string; previous: ChainHead | undefined; before: ChainHead | undefined }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fail = (reason: string): ChainCheck => ({ ok: false, line: i + 1, reason });
    const split = splitLine(line);
    if (!split) return fail('not a record line');
    let body: { chain_id: string; seq: number; prev_hash: string; previous?: { chain_id: string; seq: number; hash: string } };
    try {
      body = JSON.parse(split.body);
    } catch {
      return fail('unparseable');
    }
    if (chainHash(body.prev_hash, split.body) !== split.hash) return fail('hash does not recompute');
    const head = heads.get(body.chain_id);
    if (head === undefined) {
      if (body.seq !== 0) return fail(`chain ${body.chain_id} starts at seq ${body.seq}`);
      if (body.prev_hash !== GENESIS_HASH) return fail('seq 0 without the genesis prev_hash');
      const previous = body.previous ? { chainId: body.previous.chain_id, seq: body.previous.seq, hash: body.previous.hash } : undefined;
      seq0.push({ chainId: body.chain_id, previous, before: last });
      if (last !== undefined && (previous === undefined || previous.chainId !== last.chainId || previous.seq !== last.seq || previous.hash !== last.hash)) {
        return fail(`chain ${body.chain_id} does not continue the record before it (${last.chainId}#${last.seq})`);
      }
    } else {
      if (body.seq !== head.seq + 1) return fail(`gap or reorder: seq ${body.seq} after ${head.seq}`);
      if (body.prev_hash !== head.hash) return fail('broken prev_hash link');
    }
    const now = { chainId: body.chain_id, seq: body.seq, hash: split.hash };
    heads.set(body.chain_id, now);
    last = now;
  }
  return { ok: true, records: lines.length, chains: [...heads.keys()], last, seq0 };
}
