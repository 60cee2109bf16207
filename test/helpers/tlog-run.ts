/**
 * One process run of an agent publishing a transparency log: real SDK spans
 * chained by an `AuditChainSpanProcessor` (signed seals) into a journal
 * (`FileAuditSink`, synced on every write) and a `TlogTilesSink`, then the
 * provider shut down (the closing seal, the tiles written, the witnesses
 * answered). A new run appends a new chain to the same log.
 */
import type { KeyObject } from 'node:crypto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AuditChainSpanProcessor, FileAuditSink, TlogTilesSink, TlogWitnessClient, auditAllSpans } from '../../src/exporters/index.js';
import { produceSpans } from './audit-fixtures.js';
import { sdkTrace } from './otel.js';

export interface TlogRun {
  /** The journal (JSONL audit file). */
  journal: string;
  /** The tiles directory. */
  tiles: string;
  origin: string;
  /** The log's (and the seals') Ed25519 key and its id. */
  key: { id: string; privateKey: KeyObject };
  /** Seal every this many records. */
  sealEvery: number;
  witnesses?: Array<{ url: string; vkey: string }>;
  /** The tiles sink's flush interval. */
  flushMs?: number;
  /** How long the tiles sink waits for a witness. */
  witnessTimeoutMs?: number;
  serviceName?: string;
}

/** Chains `count` spans (`produceSpans` with `seed`) into the journal and the log, then shuts down. */
export async function produceTlogRun(run: TlogRun, count: number, seed: number): Promise<void> {
  const witnesses = (run.witnesses ?? []).map(w => new TlogWitnessClient({ url: w.url, vkey: w.vkey, timeoutMs: run.witnessTimeoutMs }));
  const processor = new AuditChainSpanProcessor({
    sinks: [
      new FileAuditSink({ path: run.journal, fsync: 'always' }),
      new TlogTilesSink({ dir: run.tiles, origin: run.origin, flushMs: run.flushMs, witnesses }),
    ],
    filter: auditAllSpans,
    signingKey: run.key,
    seals: { everyRecords: run.sealEvery, everyMs: 60_000 },
  });
  const provider = sdkTrace.tracerProvider({ resource: resourceFromAttributes({ 'service.name': run.serviceName ?? 'tlog-run' }), spanProcessors: [processor] });
  produceSpans(provider.getTracer('agent-safety-otel', '0.1.0'), count, seed);
  await provider.shutdown();
}
