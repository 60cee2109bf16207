/**
 * The cost of the OTLP sink's write-ahead journal: every record is appended
 * to the journal (and fdatasync'ed every 200 ms) before it counts as
 * accepted. Measured with an exporter that accepts at once (the network is
 * not what is measured), records in bursts of 256 between event-loop turns,
 * ~1.3 KB lines from real SDK spans:
 * - `otlp_journal_records_per_s`: from the first `write` to a completed
 *   `forceFlush` (delivered, and the journal written and synced);
 * - `otlp_journal_write_vs_file_write`: the hot-path cost of
 *   `OtlpAuditSink.write` (journal append queued) over `FileAuditSink.write`
 *   (line queued), per record, same records.
 * Files go to a temporary directory, removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { FileAuditSink } from '../../src/exporters/audit/file-audit-sink.js';
import { OtlpAuditSink } from '../../src/exporters/audit/otlp-audit-sink.js';
import type { AuditRecord, AuditSink } from '../../src/exporters/audit/audit-sink.js';
import { formatRate, median } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { chainedRecords } from '../telemetry.js';


const accepting: SpanExporter = {
  export(_spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    setImmediate(() => done({ code: ExportResultCode.SUCCESS }));
  },
  shutdown: () => Promise.resolve(),
};

async function throughput(spoolPath: string, records: readonly AuditRecord[], total: number): Promise<number> {
  rmSync(spoolPath, { force: true });
  rmSync(`${spoolPath}.ack`, { force: true });
  const sink = new OtlpAuditSink({ exporter: accepting, spoolPath, scheduledDelayMs: 0 });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    sink.write(records[i % records.length]);
    if ((i & 255) === 255) await new Promise(resolve => setImmediate(resolve));
  }
  await sink.forceFlush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const left = sink.backlog() + sink.held();
  await sink.shutdown();
  if (left !== 0) throw new Error(`otlp journal bench: ${left} records not delivered after forceFlush`);
  return total / seconds;
}

/** ns per `write` of 256-record bursts, the sink's background work left to run between bursts (not timed). */
async function writeCost(sink: AuditSink, records: readonly AuditRecord[], total: number): Promise<number> {
  let ns = 0n;
  for (let i = 0; i < total; i += 256) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < 256; k++) sink.write(records[(i + k) % records.length]);
    ns += process.hrtime.bigint() - t0;
    await new Promise(resolve => setImmediate(resolve));
  }
  await sink.shutdown();
  return Number(ns) / total;
}

const suite: BenchSuite = {
  name: 'OTLP audit journal',
  async run({ quick }) {
    const dir = mkdtempSync(join(tmpdir(), 'agent-safety-bench-journal-'));
    try {
      const records = chainedRecords(quick ? 500 : 5_000);
      const total = quick ? 2_000 : 100_000;
      const runs = quick ? 1 : 5;
      const spoolPath = join(dir, 'journal.jsonl');
      await throughput(spoolPath, records, Math.min(total, 5_000)); // warm-up
      const rates: number[] = [];
      const otlpNs: number[] = [];
      const fileNs: number[] = [];
      for (let r = 0; r < runs; r++) {
        rates.push(await throughput(spoolPath, records, total));
        rmSync(spoolPath, { force: true });
        otlpNs.push(await writeCost(new OtlpAuditSink({ exporter: accepting, spoolPath, scheduledDelayMs: 0 }), records, total));
        rmSync(join(dir, 'audit.jsonl'), { force: true });
        fileNs.push(await writeCost(new FileAuditSink({ path: join(dir, 'audit.jsonl') }), records, total));
      }
      const rate = median(rates);
      const ratio = median(otlpNs) / median(fileNs);
      return {
        rows: [
          { name: 'journaled and delivered (fsync every 200 ms)', value: formatRate(rate, 'records'), note: `${total.toLocaleString('en-US')} records to a completed forceFlush, exporter accepting at once` },
          { name: 'OtlpAuditSink.write (journal append queued)', value: `${median(otlpNs).toFixed(0)} ns/record`, note: 'hot path' },
          { name: 'FileAuditSink.write (line queued)', value: `${median(fileNs).toFixed(0)} ns/record`, note: `ratio ${ratio.toFixed(2)}` },
        ],
        figures: { otlp_journal_records_per_s: Math.round(rate), otlp_journal_write_vs_file_write: Number(ratio.toFixed(2)) },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
