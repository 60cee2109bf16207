/**
 * The file audit sink's throughput: records per second from the first
 * `write` to a completed `forceFlush` (written and, unless 'never',
 * fdatasync'ed), records arriving in bursts of 256 between event-loop turns
 * as spans of a busy agent would. Records are ~1.3 KB lines chained from
 * real SDK spans. Rows for 'always' and 'never' give context; the figure is
 * the default policy. Files go to a temporary directory, removed at the end.
 * Key: file_sink_records_per_s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAuditSink } from '../../src/exporters/audit/file-audit-sink.js';
import type { FileAuditSinkOptions } from '../../src/exporters/audit/file-audit-sink.js';
import type { AuditRecord } from '../../src/exporters/audit/audit-sink.js';
import { DEFAULT_FSYNC_EVERY_MS } from '../../src/patterns/audit/audit-file.js';
import { formatRate, median } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { chainedRecords } from '../telemetry.js';

async function oneRun(path: string, options: Omit<FileAuditSinkOptions, 'path'>, records: readonly AuditRecord[], total: number): Promise<number> {
  rmSync(path, { force: true });
  const sink = new FileAuditSink({ path, ...options });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    sink.write(records[i % records.length]);
    if ((i & 255) === 255) await new Promise(resolve => setImmediate(resolve));
  }
  await sink.forceFlush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const left = sink.backlog();
  await sink.shutdown();
  if (left !== 0) throw new Error(`file sink bench: ${left} records not durable after forceFlush`);
  return total / seconds;
}

const suite: BenchSuite = {
  name: 'file audit sink',
  async run({ quick }) {
    const dir = mkdtempSync(join(tmpdir(), 'agent-safety-bench-file-sink-'));
    try {
      const records = chainedRecords(quick ? 500 : 5_000);
      const bytes = records.reduce((n, r) => n + Buffer.byteLength(r.line) + 1, 0) / records.length;
      const total = quick ? 2_000 : 100_000;
      const runs = quick ? 1 : 7;
      const defaultName = `default (fsync every ${DEFAULT_FSYNC_EVERY_MS} ms)`;
      const variants: Record<string, Omit<FileAuditSinkOptions, 'path'>> = {
        [defaultName]: {},
        "fsync 'always' (each batch)": { fsync: 'always' },
        "fsync 'never'": { fsync: 'never' },
      };
      const rates: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map(k => [k, []]));
      const path = join(dir, 'audit.jsonl');
      await oneRun(path, {}, records, Math.min(total, 5_000)); // warm-up
      for (let r = 0; r < runs; r++) {
        for (const [name, options] of Object.entries(variants)) rates[name].push(await oneRun(path, options, records, total));
      }
      const perSecond = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
      return {
        rows: Object.entries(perSecond).map(([name, rate]) => ({
          name,
          value: formatRate(rate, 'records'),
          note: `${Math.round((rate * bytes) / 1e6)} MB/s, ${Math.round(bytes)} B/record, ${total.toLocaleString('en-US')} records to a durable forceFlush`,
        })),
        figures: { file_sink_records_per_s: Math.round(perSecond[defaultName]) },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
