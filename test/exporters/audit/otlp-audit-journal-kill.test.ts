/**
 * The OTLP sink's write-ahead journal under SIGKILL: a child process writes
 * audited spans through the real SDK, chain processor and OtlpAuditSink to
 * a real OTLP/HTTP receiver on 127.0.0.1, and is killed at random moments,
 * 20 times; the receiver is down (503) in most runs and up in the others.
 * Then a last sink on the same journal delivers what is left. Every record
 * a child reported as journaled must have reached the receiver, and the
 * receiver's export must verify with the real verifier (duplicates allowed:
 * delivery is at least once), each run's chain linking to the one before.
 * The child runs the built package (`npm run build`, done by `npm test`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OtlpAuditSink } from '../../../src/exporters/audit/otlp-audit-sink.js';
import type { ChainHead } from '../../../src/patterns/audit/audit-record.js';
import { verifyAuditFiles } from '../../../src/verify/audit-verify.js';
import { OtlpReceiver } from '../../helpers/otlp-receiver.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(root, 'test', 'fixtures', 'otlp-journal-writer.mjs');
const KILLS = 20;

const test = suite('OTLP audit journal: SIGKILL during an outage');

interface Ready {
  chainId: string;
  previous: ChainHead | null;
  restored: number;
}

function runAndKill(spoolPath: string, url: string, killAfterMs: number): Promise<{ ready: Ready; journaled: ChainHead | undefined; signal: string | null }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [fixture, spoolPath, url], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let ready: Ready | undefined;
    let journaled: ChainHead | undefined;
    let stderr = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr.on('data', d => (stderr += d));
    createInterface({ input: child.stdout }).on('line', line => {
      const msg = JSON.parse(line) as { ready?: Ready; journaled?: ChainHead };
      if (msg.ready) {
        ready = msg.ready;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
      if (msg.journaled) journaled = msg.journaled;
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(guard);
      if (!ready) return reject(new Error(`the writer exited before it was ready: ${stderr}`));
      resolveRun({ ready, journaled, signal });
    });
  });
}

test(`${KILLS} SIGKILLs, mostly during an outage: every journaled record is delivered and the export verifies`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otlp-journal-kill-'));
  const spoolPath = join(dir, 'audit.spool.jsonl');
  const receiver = await OtlpReceiver.start({ maxLifetimeMs: 120_000 });
  const journaled = new Map<string, number>();
  let last: ChainHead | undefined;
  let restoredSeen = 0;
  try {
    for (let run = 0; run < KILLS; run++) {
      const up = run % 4 === 3;
      receiver.setFailurePolicy(up ? undefined : () => 503);
      const { ready, journaled: head, signal } = await runAndKill(spoolPath, receiver.url, 40 + Math.floor(Math.random() * 160));
      assert.is(signal, 'SIGKILL');
      if (ready.restored > 0) restoredSeen++;
      // The new chain continues at least from the last head the previous runs reported journaled.
      if (last !== undefined) {
        assert.ok(ready.previous !== null, `run ${run}: continues a head`);
        if (ready.previous.chainId === last.chainId) assert.ok(ready.previous.seq >= last.seq, `run ${run}: previous ${ready.previous.seq} >= journaled ${last.seq}`);
      }
      if (head !== undefined) {
        journaled.set(head.chainId, head.seq);
        last = head;
      }
    }
    assert.ok(restoredSeen >= KILLS / 2, `runs that found undelivered records: ${restoredSeen}`);

    // The collector is back: a last sink on the same journal delivers everything left.
    receiver.setFailurePolicy(undefined);
    const sink = new OtlpAuditSink({
      exporter: new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }),
      spoolPath,
      scheduledDelayMs: 1,
      backoff: { initialMs: 10, maxMs: 50 },
    });
    const deadline = Date.now() + 15_000;
    while (sink.backlog() > 0 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20));
    assert.is(sink.backlog(), 0, 'everything delivered');
    await sink.shutdown();

    const exported = join(dir, 'export.jsonl');
    writeFileSync(exported, receiver.toOtlpJsonLines());
    const verdict = await verifyAuditFiles([exported], { allowDuplicates: true });
    assert.ok(verdict.valid, JSON.stringify(verdict.failures.slice(0, 3)));
    for (const [chainId, seq] of journaled) {
      const chain = verdict.chains.find(c => c.chainId === chainId);
      assert.ok(chain, `chain ${chainId} was delivered`);
      assert.ok(chain.lastSeq >= seq, `chain ${chainId}: delivered up to ${chain.lastSeq}, journaled ${seq}`);
    }
    assert.ok(journaled.size >= KILLS / 2, `runs that journaled records: ${journaled.size}`);
  } finally {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
