/**
 * Crash safety of the file audit sink: a child process writing audited
 * spans (real SDK → AuditChainSpanProcessor → FileAuditSink, default fsync
 * policy, small rotation size) is killed with SIGKILL at random moments,
 * again and again. After each kill:
 * - the complete lines of all audit files (rotated, then active) check as
 *   one history (local check: hashes recompute, gap-free seqs, prev links,
 *   each chain's seq-0 `previous` = the record before it);
 * - every record the child reported durable (a completed forceFlush) is there;
 * - a torn last line, if any, is what the next writer reports and sets
 *   aside (side file holds exactly those bytes; the file is cut back);
 * - the restarted writer continues the history.
 * Every fourth run also appends a torn fragment itself (as a power cut
 * would leave), so the set-aside path is exercised whatever the kills hit.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileAuditSink, auditFiles } from '../../../src/exporters/audit/file-audit-sink.js';
import type { ChainHead } from '../../../src/patterns/audit/audit-record.js';
import { captureDiag } from '../../helpers/diag.js';
import { checkChainLines } from '../../helpers/audit-file-check.js';
import { verifyAuditFiles } from '../../../src/verify/audit-verify.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(root, 'test', 'fixtures', 'file-audit-writer.ts');
const KILLS = 24;
const MAX_BYTES = 400_000;

const test = suite('FileAuditSink crash safety (SIGKILL)');

interface Ready {
  chainId: string;
  recovery: { file?: string; previousHead?: ChainHead; tornBytes: number; tornPath?: string; problem?: string };
}

/** Runs the writer until `killAfterMs` after it is ready, then SIGKILLs it. */
function runAndKill(path: string, killAfterMs: number): Promise<{ ready: Ready; durable: ChainHead | undefined; signal: string | null }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, String(MAX_BYTES)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let ready: Ready | undefined;
    let durable: ChainHead | undefined;
    let stderr = '';
    child.stderr.on('data', d => (stderr += d));
    createInterface({ input: child.stdout }).on('line', line => {
      const msg = JSON.parse(line) as { ready?: Ready; durable?: ChainHead };
      if (msg.ready) {
        ready = msg.ready;
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
      if (msg.durable) durable = msg.durable;
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (!ready) return reject(new Error(`the writer exited before it was ready: ${stderr}`));
      resolvePromise({ ready, durable, signal });
    });
  });
}

/** What the files hold: complete lines in chain order, and the torn tail of the file the next writer will read. */
function readHistory(path: string): { lines: string[]; torn: Buffer; tailFile: string | undefined } {
  const files = auditFiles(path);
  const lines: string[] = [];
  let torn: Buffer = Buffer.alloc(0);
  const activeSize = files.includes(path) ? statSync(path).size : 0;
  const tailFile = activeSize > 0 ? path : files.filter(f => f !== path).pop();
  for (const file of files) {
    const buf = readFileSync(file);
    const end = buf.lastIndexOf(10) + 1;
    if (end < buf.length) {
      assert.is(file, tailFile, `only the last file may end in a torn line (${file})`);
      torn = buf.subarray(end);
    }
    const text = buf.subarray(0, end).toString('utf8');
    if (text) lines.push(...text.slice(0, -1).split('\n'));
  }
  return { lines, torn, tailFile };
}

test(`${KILLS} SIGKILLs at random moments: the history verifies, torn lines are set aside, each writer continues it`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'file-audit-crash-'));
  const path = join(dir, 'audit.jsonl');
  let expectedHead: ChainHead | undefined;
  let expectedTorn: Buffer = Buffer.alloc(0);
  let tornSeen = 0;
  let killedMidLine = 0;
  const chains: string[] = [];
  try {
    for (let run = 0; run < KILLS; run++) {
      const killAfterMs = 30 + Math.floor(Math.random() * 270);
      const { ready, durable, signal } = await runAndKill(path, killAfterMs);
      assert.is(signal, 'SIGKILL', `run ${run} was killed`);
      chains.push(ready.chainId);

      // What this writer found when it started: exactly the previous head and the torn tail left before it.
      assert.equal(ready.recovery.previousHead, expectedHead, `run ${run}: previous head`);
      assert.is(ready.recovery.tornBytes, expectedTorn.length, `run ${run}: torn bytes reported`);
      assert.is(ready.recovery.problem, undefined);
      if (expectedTorn.length > 0) {
        tornSeen++;
        assert.ok(ready.recovery.tornPath, `run ${run}: a side file`);
        assert.equal(readFileSync(ready.recovery.tornPath!), expectedTorn, `run ${run}: the side file holds the torn bytes`);
      }

      // What it left: complete lines verify as one history up to the end.
      const { lines, torn, tailFile } = readHistory(path);
      const check = checkChainLines(lines);
      assert.ok(check.ok, `run ${run}: ${JSON.stringify(check)}`);
      // The real verifier agrees: the files verify, but for a torn last line the next writer will set aside
      // (and a first run killed before its first record left no record: empty, as expected).
      const verdict = await verifyAuditFiles(auditFiles(path), { allowEmpty: lines.length === 0 });
      assert.ok(
        verdict.valid || (torn.length > 0 && verdict.failures.length === 1 && verdict.failures[0].reason === 'torn line'),
        `run ${run}: ${JSON.stringify(verdict.failures)}`,
      );
      if (!check.ok) return;
      const mine = check.seq0.find(s => s.chainId === ready.chainId);
      if (mine) assert.equal(mine.previous, expectedHead, `run ${run}: the new chain's seq 0 records the previous head`);
      if (durable) {
        const present = lines.some(l => l.includes(`"chain_id":"${durable.chainId}"`) && l.includes(`"hash":"${durable.hash}"`));
        assert.ok(present, `run ${run}: record ${durable.seq} was reported durable and is in the file`);
      }
      if (torn.length > 0) killedMidLine++;
      expectedHead = check.last;
      expectedTorn = torn;

      // Every fourth run, also leave a torn fragment as a power cut would.
      if (run % 4 === 3 && tailFile) {
        const fragment = Buffer.from(`{"chain_id":"${ready.chainId}","prev_hash":"0123`);
        appendFileSync(tailFile, fragment);
        expectedTorn = Buffer.concat([expectedTorn, fragment]);
      }
    }

    // One last start in process: the same recovery, and the history is whole.
    const diagLog = captureDiag();
    try {
      const sink = new FileAuditSink({ path, maxBytes: MAX_BYTES });
      assert.equal(sink.previousHead(), expectedHead);
      assert.is(sink.recovery.tornBytes, expectedTorn.length);
      if (expectedTorn.length > 0) {
        tornSeen++;
        assert.ok(diagLog.messages.some(m => /torn line/.test(m)));
        assert.equal(readFileSync(sink.recovery.tornPath!), expectedTorn);
      }
      await sink.shutdown();
    } finally {
      diagLog.restore();
    }
    const final = readHistory(path);
    assert.is(final.torn.length, 0, 'no torn bytes left in the files');
    const check = checkChainLines(final.lines);
    assert.ok(check.ok, JSON.stringify(check));
    const verdict = await verifyAuditFiles(auditFiles(path));
    assert.ok(verdict.valid, JSON.stringify(verdict.failures));
    assert.is(verdict.chains.length, check.ok ? check.chains.length : -1, 'one verified chain per run that wrote');
    assert.ok(tornSeen >= Math.floor(KILLS / 4), `torn tails set aside: ${tornSeen}`);
    // Every run that wrote anything shows up as a chain of the one history.
    if (check.ok) for (const c of check.chains) assert.ok(chains.includes(c));
    if (process.env.FILE_SINK_CRASH_VERBOSE) {
      console.log(`records ${final.lines.length}, chains ${check.ok && check.chains.length}, kills mid-line ${killedMidLine}, torn set aside ${tornSeen}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
