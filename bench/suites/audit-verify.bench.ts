/**
 * The audit verifier's throughput: records per second checked by
 * `verifyAuditFiles` on a JSONL audit file of realistic records (real SDK
 * spans of guarded tool calls: ~12 attributes, events, links, some errors,
 * child rollback spans), chained by `AuditChain` and written to a temporary
 * file. Key: verify_records_per_s (target ≥ 200,000 on the 2-core machine).
 *
 * Against the hash limit: verify_vs_hash_limit is the time Node's own
 * SHA-256 takes over the same file's bytes (read in 1 MiB chunks, one
 * digest) ÷ the verifier's time (default: worker threads for large input),
 * so higher is better; target ≥ 0.7. verify_single_thread_vs_hash_limit is
 * the same for the verifier on one thread.
 *
 * Memory: the peak heap growth while verifying (sampled as the file is
 * read) is reported against the file size (verify_heap_growth_mb); it stays
 * flat in the input size (a few MB whatever the file's size).
 *
 * Also: the same file through a stream of 64 KiB pieces (an AsyncIterable
 * given to verifyAuditFiles; verify_stream_vs_file), the CLI on the file
 * piped to its standard input against the CLI on the file by path, both in
 * child processes (verify_stdin_vs_file, target about 1), and a file of many
 * one-record chains (verify_chains_per_s: 1,000,000 chains in seconds,
 * time linear in their number).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AuditChain } from '../../src/patterns/audit/audit-chain.js';
import { verifyAuditFiles } from '../../src/verify/audit-verify.js';
import { formatRate, median, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { produceSpans } from '../../test/helpers/audit-fixtures.js';
import { sdkTrace } from '../telemetry.js';

/** Chains each ended span and appends its line to a file (buffered, synchronous writes). */
class FileChainProcessor implements SpanProcessor {
  private _pending: string[] = [];
  private _size = 0;
  count = 0;
  private readonly _chain: AuditChain;
  private readonly _fd: number;
  constructor(chain: AuditChain, fd: number) {
    this._chain = chain;
    this._fd = fd;
  }
  onStart(_span: Span): void {}
  onEnd(span: ReadableSpan): void {
    const line = this._chain.append(span, span.resource.attributes).line + '\n';
    this._pending.push(line);
    this._size += line.length;
    this.count++;
    if (this._size > 1 << 20) this.flush();
  }
  flush(): void {
    if (this._pending.length) writeSync(this._fd, this._pending.join(''));
    this._pending = [];
    this._size = 0;
  }
  forceFlush(): Promise<void> {
    this.flush();
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return this.forceFlush();
  }
}

export function writeAuditFile(path: string, spans: number): number {
  const fd = openSync(path, 'w', 0o600);
  const processor = new FileChainProcessor(new AuditChain({ chainId: 'b3c1e6a0-1f2e-4d3c-8b4a-000000000bench' }), fd);
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-agent', 'service.version': '1.0.0', 'deployment.environment.name': 'bench' }),
    spanProcessors: [processor],
  });
  produceSpans(provider.getTracer('agent-safety-otel', '0.1.0'), spans);
  processor.flush();
  closeSync(fd);
  return processor.count;
}

/** `count` chains of one minimal, valid record each (as a fleet's merged export could hold). */
function writeChainsFile(path: string, count: number): void {
  const fd = openSync(path, 'w', 0o600);
  const genesis = '0'.repeat(64);
  let batch = '';
  for (let i = 0; i < count; i++) {
    const body = `{"chain_id":"chain-${i}","format":2,"prev_hash":"${genesis}","resource":{},"seq":0,"span":{}}`;
    const hash = createHash('sha256').update(genesis).update(body).digest('hex');
    batch += body.slice(0, -1) + `,"hash":"${hash}"}\n`;
    if (batch.length > 1 << 20) {
      writeSync(fd, batch);
      batch = '';
    }
  }
  writeSync(fd, batch);
  closeSync(fd);
}

const gc = (globalThis as { gc?: () => void }).gc;

/** The built bin (npm run bench builds it first). */
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'bin.js');

/**
 * Wall seconds of `agent-safety-otel verify` in a child process, on the file
 * by path or (`piped`) through a pipe to its standard input, written by
 * `cat` as a user's `cat … | verify -` would be (this process only starts
 * them: it does not copy the bytes itself).
 */
async function cliSeconds(path: string, piped: boolean): Promise<number> {
  const t0 = process.hrtime.bigint();
  const writer = piped ? spawn('cat', [path], { stdio: ['ignore', 'pipe', 'inherit'] }) : undefined;
  if (writer !== undefined) await new Promise<void>((ready, fail) => writer.once('spawn', ready).once('error', fail));
  const child = spawn(process.execPath, [BIN, 'verify', piped ? '-' : path], { stdio: [writer?.stdout ?? 'ignore', 'ignore', 'inherit'] });
  // the child holds the pipe's read end now: this process lets go of its copy
  writer?.stdout?.destroy();
  const exited = (p: ReturnType<typeof spawn>, what: string): Promise<void> =>
    new Promise((done, fail) => {
      p.on('error', fail);
      p.on('close', code => (code === 0 ? done() : fail(new Error(`${what} exited with ${code}`))));
    });
  await Promise.all([exited(child, 'verify'), ...(writer === undefined ? [] : [exited(writer, 'cat')])]);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Seconds to read `path` in 1 MiB chunks and SHA-256 all of it (one digest): the hash limit. */
export async function hashLimitSeconds(path: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    const hash = createHash('sha256');
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
    hash.digest();
  } finally {
    await file.close();
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const suite: BenchSuite = {
  name: 'audit verifier',
  async run({ quick }) {
    const dir = mkdtempSync(join(tmpdir(), 'audit-verify-bench-'));
    try {
      const path = join(dir, 'audit.jsonl');
      // produceSpans adds a child rollback span every 10 calls: 1.1 records per call.
      const records = writeAuditFile(path, quick ? 5_000 : 200_000);
      const bytes = statSync(path).size;
      const poolSize = bytes > 16 * 2 ** 20 ? Math.min(4, availableParallelism() - 1) : 0;
      const rates: number[] = [];
      const singleRates: number[] = [];
      const hashSeconds: number[] = [];
      const verifySeconds: number[] = [];
      const singleSeconds: number[] = [];
      let peakGrowth = 0;
      for (let run = 0; run < (quick ? 1 : 5); run++) {
        gc?.();
        hashSeconds.push(await hashLimitSeconds(path));
        // interleaved: the hash limit, the default (worker threads for large input) and one thread
        for (const workers of [undefined, 0]) {
          gc?.();
          const before = process.memoryUsage().heapUsed;
          let peak = before;
          const t0 = process.hrtime.bigint();
          const report = await verifyAuditFiles([path], {
            workers,
            onProgress: () => {
              const h = process.memoryUsage().heapUsed;
              if (h > peak) peak = h;
            },
          });
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          if (!report.valid || report.records !== records) throw new Error(`the bench file did not verify: ${JSON.stringify(report.failure)}`);
          (workers === 0 ? singleRates : rates).push(records / s);
          (workers === 0 ? singleSeconds : verifySeconds).push(s);
          peakGrowth = Math.max(peakGrowth, peak - before);
        }
      }
      // the same bytes through a stream of 64 KiB pieces, as standard input gives them
      const streamRates: number[] = [];
      for (let run = 0; run < (quick ? 1 : 3); run++) {
        const t0 = process.hrtime.bigint();
        const report = await verifyAuditFiles([{ name: '(stdin)', stream: createReadStream(path, { highWaterMark: 1 << 16 }) }]);
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        if (!report.valid || report.records !== records) throw new Error(`the streamed bench file did not verify: ${JSON.stringify(report.failure)}`);
        streamRates.push(records / s);
      }
      // the CLI in a child process: the file by path, and piped to standard input (as `zcat … | verify -`)
      const cliFile: number[] = [];
      const cliPipe: number[] = [];
      for (let run = 0; run < (quick ? 1 : 3); run++) {
        cliFile.push(await cliSeconds(path, false));
        cliPipe.push(await cliSeconds(path, true));
      }
      // many chains of one record each
      const chains = quick ? 20_000 : 1_000_000;
      const chainsPath = join(dir, 'chains.jsonl');
      writeChainsFile(chainsPath, chains);
      const t1 = process.hrtime.bigint();
      const chainsReport = await verifyAuditFiles([chainsPath]);
      const chainSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
      if (!chainsReport.valid || chainsReport.chains.length !== chains) throw new Error(`the chains file did not verify: ${JSON.stringify(chainsReport.failure)}`);
      const rate = median(rates);
      const single = median(singleRates);
      const stream = median(streamRates);
      const growthMb = peakGrowth / 2 ** 20;
      const hashS = median(hashSeconds);
      const vsHash = hashS / median(verifySeconds);
      const singleVsHash = hashS / median(singleSeconds);
      return {
        rows: [
          { name: 'records in file', value: records.toLocaleString('en-US'), note: `${(bytes / 2 ** 20).toFixed(0)} MB, ${Math.round(bytes / records)} bytes/record` },
          { name: 'verifyAuditFiles (JSONL), default', value: formatRate(rate, 'records'), note: `target ≥ 200,000; hashing on ${poolSize} worker thread(s) and the main one` },
          { name: 'verifyAuditFiles (JSONL), one thread', value: formatRate(single, 'records') },
          { name: 'hash limit: SHA-256 of the file (1 MiB reads)', value: `${((bytes / 2 ** 20) / hashS).toFixed(0)} MB/s`, note: `${(hashS * 1000).toFixed(0)} ms` },
          { name: 'hash limit ÷ verifier time, default', value: round(vsHash, 2).toFixed(2), note: 'target ≥ 0.7 (higher is better)' },
          { name: 'hash limit ÷ verifier time, one thread', value: round(singleVsHash, 2).toFixed(2) },
          { name: 'peak heap growth while verifying', value: `${growthMb.toFixed(1)} MB`, note: `file ${(bytes / 2 ** 20).toFixed(0)} MB: flat if ≪ file size` },
          { name: 'the same, streamed in 64 KiB pieces (stdin)', value: formatRate(stream, 'records'), note: `${round(stream / rate, 2)} × the file` },
          { name: 'CLI, piped to standard input', value: `${median(cliPipe).toFixed(2)} s`, note: `${round(median(cliFile) / median(cliPipe), 2)} × the speed of the file by path (${median(cliFile).toFixed(2)} s)` },
          { name: `${chains.toLocaleString('en-US')} one-record chains`, value: `${chainSeconds.toFixed(1)} s`, note: formatRate(chains / chainSeconds, 'chains') },
        ],
        figures: {
          verify_records_per_s: Math.round(rate),
          verify_single_thread_records_per_s: Math.round(single),
          verify_vs_hash_limit: round(vsHash, 3),
          verify_single_thread_vs_hash_limit: round(singleVsHash, 3),
          verify_heap_growth_mb: round(growthMb, 1),
          verify_stream_vs_file: round(stream / rate, 2),
          verify_stdin_vs_file: round(median(cliFile) / median(cliPipe), 2),
          verify_chains_per_s: Math.round(chains / chainSeconds),
        },
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default suite;
