/**
 * Hostile input (test/verify/hostile-corpus.ts, generated here): every case
 * runs the built CLI in a child process with a small V8 heap
 * (`--max-old-space-size`); the test measures the child's peak RSS and wall
 * time against the case's bounds, and checks that it got a verdict (exit 1
 * with file, line and reason, or 0 where the input is valid), never a
 * crash (exit 2 or a signal). Needs `npm run build` (npm test runs it).
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeHostileCorpus } from './hostile-corpus.js';
import type { HostileCase } from './hostile-corpus.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wrapper = join(root, 'test', 'fixtures', 'verify-measured.mjs');
const test = suite('audit verifier: hostile input');
const dir = mkdtempSync(join(tmpdir(), 'audit-hostile-'));

interface Measured {
  code: number | null;
  signal: NodeJS.Signals | null;
  maxRssMb: number;
  seconds: number;
  stdoutFile: string;
  stderr: string;
}

function runCase(c: HostileCase, i: number): Promise<Measured> {
  const stdoutFile = join(dir, `out-${i}.txt`);
  const out = openSync(stdoutFile, 'w');
  const args = [`--max-old-space-size=${c.heapMb}`, wrapper, 'verify', c.stdin ? '-' : c.file, '--workers', '0', ...(c.args ?? ['--json'])];
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { stdio: [c.stdin ? 'pipe' : 'ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', d => (stderr += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), c.maxSeconds * 2 * 1000);
    if (c.stdin) createReadStream(c.file).pipe(child.stdin!).on('error', () => undefined);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      closeSync(out);
      const m = /@@measure (\{.*\})/.exec(stderr);
      const measured = m ? (JSON.parse(m[1]) as { maxRssMb: number; seconds: number }) : { maxRssMb: NaN, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
      done({ code, signal, maxRssMb: measured.maxRssMb, seconds: measured.seconds, stdoutFile, stderr });
    });
  });
}

// Half the issue's sizes in npm test (a 100 MB line, 100,000 chains, …); the full ones: writeHostileCorpus(dir, 1).
const cases = writeHostileCorpus(dir, 0.5);

cases.forEach((c, i) => {
  test(`${c.name}: ${c.code === 0 ? 'valid' : `exit 1, ${c.reason}`}, under ${c.maxRssMb} MB and ${c.maxSeconds} s`, async () => {
    const r = await runCase(c, i);
    const what = `${c.name} (${(statSync(c.file).size / 2 ** 20).toFixed(1)} MB): exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}, ${r.maxRssMb} MB, ${r.seconds.toFixed(1)} s\n${r.stderr.slice(0, 2000)}`;
    assert.is(r.signal, null, what);
    assert.is(r.code, c.code, what);
    assert.ok(r.maxRssMb <= c.maxRssMb, `peak RSS ${r.maxRssMb} MB over ${c.maxRssMb} MB: ${what}`);
    assert.ok(r.seconds <= c.maxSeconds, `${r.seconds.toFixed(1)} s over ${c.maxSeconds} s: ${what}`);
    const text = readFileSync(r.stdoutFile, 'utf8');
    if (c.args !== undefined && !c.args.includes('--json')) {
      // the human report: its last line names the verdict
      if (c.code === 1) assert.match(text, `${c.file}:${c.line}: ${c.reason}`);
      else assert.match(text, 'VALID: every chain verified');
      if (c.chains !== undefined) assert.match(text, `${c.chains.toLocaleString('en-US')} chains`);
      return;
    }
    const report = JSON.parse(text) as { valid: boolean; chains: unknown[]; failure?: { reason: string; line: number; file: string } };
    assert.is(report.valid, c.code === 0, what);
    if (c.chains !== undefined) assert.is(report.chains.length, c.chains, what);
    if (c.reason !== undefined) {
      assert.is(report.failure?.reason, c.reason, `${what}\n${JSON.stringify(report.failure)}`);
      assert.is(report.failure?.line, c.line, `${what}\n${JSON.stringify(report.failure)}`);
      assert.is(report.failure?.file, c.stdin ? '(stdin)' : c.file);
    }
  });
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
