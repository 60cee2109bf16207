/**
 * The last-chance flush, with real child processes (the real bootstrap,
 * SDK, guard, chain and FileAuditSink) that end without a shutdown. After
 * each, the real verifier checks the audit file and every record is there:
 * - process.exit(7) after 100 calls: 100 of 100 records, exit code 7 kept;
 * - an unhandled rejection and an uncaught exception after 2,000 I/O-bound
 *   calls: 2,001 records, the last one the crashing call's own (error
 *   status), Node's own error output and exit code 1 kept;
 * - SIGTERM and SIGHUP while the process makes bursts of calls, with no
 *   listener of the application's: every record up to the last head it
 *   printed (and more), and the process still dies by that signal;
 * - SIGTERM with the application's own listener: the same records, and the
 *   application decides (it exits with 0 after printing);
 * - a keyed chain (it seals itself) ended by process.exit(), an uncaught
 *   exception, SIGINT with no listener, or the application's own exit after
 *   its SIGTERM listener: the run closes with its closing seal, so the file
 *   verifies as closed, without allowUnsealedTail.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { auditFiles } from '../../../src/exporters/audit/file-audit-sink.js';
import { verifyAuditFiles } from '../../../src/verify/audit-verify.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(root, 'test', 'fixtures', 'audit-exit-app.ts');

const test = suite('last-chance flush (real processes, no shutdown)');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(mode: string, file: string, calls: number, signal?: NodeJS.Signals, keyed = false): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode, file, String(calls), signal ?? 'SIGTERM', keyed ? 'keyed' : 'plain'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', d => {
      const first = !stdout.includes('ready\n');
      stdout += d;
      if (signal !== undefined && first && stdout.includes('ready\n')) setTimeout(() => child.kill(signal), 150 + Math.random() * 150);
    });
    child.stderr.on('data', d => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearTimeout(killer);
      resolveRun({ code, signal: sig, stdout, stderr });
    });
  });
}

async function verified(file: string): Promise<{ records: number; lines: string[] }> {
  const files = auditFiles(file);
  const verdict = await verifyAuditFiles(files);
  assert.ok(verdict.valid, JSON.stringify(verdict.failures));
  assert.is(verdict.chains.length, 1, 'one chain');
  const lines = files.flatMap(f => readFileSync(f, 'utf8').split('\n').filter(Boolean));
  return { records: verdict.chains[0].records, lines };
}

/** The last chain head seq the child printed before it was signalled. */
function lastHead(stdout: string): number {
  const heads = [...stdout.matchAll(/^head (\d+)$/gm)].map(m => Number(m[1]));
  assert.ok(heads.length > 0, `the child printed heads: ${stdout.slice(0, 200)}`);
  return heads[heads.length - 1];
}

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'last-chance-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'process.exit() without shutdown: 100 of 100 records, exit code kept',
  withDir(async dir => {
    const file = join(dir, 'audit.jsonl');
    const r = await run('exit', file, 100);
    assert.is(r.code, 7, r.stderr);
    const { records } = await verified(file);
    assert.is(records, 100);
  }),
);

for (const mode of ['reject', 'throw'] as const) {
  test(
    `${mode === 'reject' ? 'an unhandled rejection' : 'an uncaught exception'} after 2,000 I/O-bound calls: every record, the crashing call's own last; Node's exit kept`,
    withDir(async dir => {
      const file = join(dir, 'audit.jsonl');
      const r = await run(mode, file, 2000);
      assert.is(r.code, 1, 'exit code 1, as Node sets it');
      assert.is(r.signal, null);
      assert.match(r.stderr, /crash-marker: the tool failed/, "Node's own error output");
      const { records, lines } = await verified(file);
      assert.is(records, 2001);
      const last = JSON.parse(lines[lines.length - 1]) as { span: { name: string; status: { code: number } } };
      assert.is(last.span.name, 'execute_tool crashing_call');
      assert.is(last.span.status.code, 2, 'the crashing call, recorded as an error');
    }),
  );
}

for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
  test(
    `${sig} with no listener of the application's: every record, and the process still dies by ${sig}`,
    withDir(async dir => {
      const file = join(dir, 'audit.jsonl');
      const r = await run('signal', file, 300, sig);
      assert.is(r.signal, sig, `killed by ${sig} (code ${r.code}, ${r.stderr})`);
      const { records } = await verified(file);
      assert.ok(records >= lastHead(r.stdout) + 1, `${records} records, the last head printed ${lastHead(r.stdout)}`);
    }),
  );
}

test(
  "SIGTERM with the application's own listener: every record, and the application decides how it ends",
  withDir(async dir => {
    const file = join(dir, 'audit.jsonl');
    const r = await run('app-signal', file, 300, 'SIGTERM');
    assert.is(r.signal, null, 'not re-raised: the application handles it');
    assert.is(r.code, 0);
    assert.match(r.stdout, /app-handled/);
    const { records } = await verified(file);
    assert.ok(records >= lastHead(r.stdout) + 1, `${records} records, the last head printed ${lastHead(r.stdout)}`);
  }),
);

for (const [mode, signal] of [['exit'], ['throw'], ['signal', 'SIGINT'], ['app-signal', 'SIGTERM']] as const) {
  test(
    `a keyed chain ended by ${mode === 'exit' ? 'process.exit()' : mode === 'throw' ? 'an uncaught exception' : mode === 'signal' ? `${signal} with no listener` : `the application after its ${signal} listener`}: closed by its closing seal, it verifies as closed`,
    withDir(async dir => {
      const file = join(dir, 'audit.jsonl');
      const r = await run(mode, file, 50, signal, true);
      if (mode === 'signal') assert.is(r.signal, signal, `still killed by ${signal} (code ${r.code}, ${r.stderr})`);
      else assert.is(r.code, mode === 'exit' ? 7 : mode === 'throw' ? 1 : 0, r.stderr);
      const files = auditFiles(file);
      const verdict = await verifyAuditFiles(files, { hmacKey: Buffer.from('exit-app key') });
      assert.ok(verdict.valid, JSON.stringify(verdict.failures));
      assert.is(verdict.chains.length, 1);
      assert.is(verdict.chains[0].tail, 'sealed');
      const lines = files.flatMap(f => readFileSync(f, 'utf8').split('\n').filter(Boolean));
      const last = JSON.parse(lines[lines.length - 1]) as { span: { name: string; attributes: Record<string, { boolValue?: boolean }> } };
      assert.is(last.span.name, 'agent_safety.audit.seal');
      assert.is(last.span.attributes['agent_safety.audit.seal.final']?.boolValue, true, 'the closing seal');
      if (mode === 'signal' || mode === 'app-signal') assert.ok(verdict.chains[0].records >= lastHead(r.stdout) + 2, 'every record up to the last head printed, and the seal');
    }),
  );
}

test.run();
