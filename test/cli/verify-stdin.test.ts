/**
 * `agent-safety-otel verify -`: standard input read from descriptor 0 in
 * large blocks on a thread of its own (a pipe, a pipe already in
 * non-blocking mode, a redirected file), through the built bin in child
 * processes, gives the file's verdict; and the block reader alone.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFdBlocks } from '../../src/verify/audit-verify-read.js';
import { auditFixture, produceSpans } from '../helpers/audit-fixtures.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bin = resolve(root, pkg.bin['agent-safety-otel']);

const test = suite('cli verify: standard input');
const dir = mkdtempSync(join(tmpdir(), 'cli-verify-stdin-'));
const f = auditFixture({ chainId: 'stdin-chain' });
produceSpans(f.tracer, 3_000);
const lines = f.lines();
const file = join(dir, 'audit.jsonl');
writeFileSync(file, lines.join('\n') + '\n');
const tampered = join(dir, 'tampered.jsonl');
const t = [...lines];
t[1234] = t[1234].replace('"kind":1', '"kind":2');
writeFileSync(tampered, t.join('\n') + '\n');
// a record far over --max-record-size, and a last line cut short
const hostile = join(dir, 'hostile.jsonl');
writeFileSync(hostile, lines.slice(0, 100).join('\n') + '\n' + '{"x":"' + 'a'.repeat(300_000) + '"}\n' + lines.slice(100, 200).join('\n') + '\n' + lines[200].slice(0, 50));

interface Run {
  code: number | null;
  report: { valid: boolean; records: number; lines: number; failure?: { reason: string; file: string; line: number }; chains: Array<{ records: number }> };
  stderr: string;
}

/** Runs the bin with `args`; standard input is `stdin` (a descriptor, or a file written into a pipe); `touchStdin` makes process.stdin first (a pipe in non-blocking mode). */
function run(args: string[], stdin: { fd: number } | { pipe: string } | 'none', touchStdin = false): Promise<Run> {
  return new Promise((done, fail) => {
    const argv = touchStdin
      ? ['--input-type=module', '-e', `process.stdin; process.argv.splice(1, process.argv.length, ${JSON.stringify(bin)}, ...${JSON.stringify(args)}); await import(${JSON.stringify(pathToFileURL(bin).href)});`]
      : [bin, ...args];
    const child = spawn(process.execPath, argv, { stdio: [stdin === 'none' ? 'ignore' : 'fd' in stdin ? stdin.fd : 'pipe', 'pipe', 'pipe'] });
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', d => (stdout += d));
    child.stderr!.on('data', d => (stderr += d));
    child.on('error', fail);
    child.on('close', code => {
      clearTimeout(kill);
      try {
        done({ code, report: JSON.parse(stdout), stderr });
      } catch {
        fail(new Error(`no JSON report (exit ${code}): ${stdout.slice(0, 500)} ${stderr.slice(0, 500)}`));
      }
    });
    if (stdin !== 'none' && 'pipe' in stdin) {
      // written in pieces, as a producer would
      const bytes = readFileSync(stdin.pipe);
      let at = 0;
      const more = (): void => {
        while (at < bytes.length) {
          const piece = bytes.subarray(at, (at += 100_000));
          if (!child.stdin!.write(piece)) return void child.stdin!.once('drain', more);
        }
        child.stdin!.end();
      };
      child.stdin!.on('error', () => undefined);
      more();
    }
  });
}

/** The parts of a report that do not name the input. */
function verdict(r: Run): unknown {
  return { code: r.code, valid: r.report.valid, records: r.report.records, lines: r.report.lines, reason: r.report.failure?.reason, line: r.report.failure?.line, chains: r.report.chains.map(c => c.records) };
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a pipe, a pipe already in non-blocking mode and a redirected file give the file\'s verdict', async () => {
  for (const input of [file, tampered, hostile]) {
    const args = ['verify', '--json', '--max-record-size', '64K'];
    const byPath = await run([...args, input], 'none');
    const piped = await run([...args, '-'], { pipe: input });
    const nonBlocking = await run([...args, '-'], { pipe: input }, true);
    const fd = openSync(input, 'r');
    let redirected: Run;
    try {
      redirected = await run([...args, '-'], { fd });
    } finally {
      closeSync(fd);
    }
    assert.equal(verdict(piped), verdict(byPath), `${input}: pipe`);
    assert.equal(verdict(nonBlocking), verdict(byPath), `${input}: non-blocking pipe`);
    assert.equal(verdict(redirected), verdict(byPath), `${input}: redirected`);
    if (input !== file) assert.is(piped.report.failure?.file, '(stdin)');
  }
  const [ok, bad, worse] = await Promise.all([file, tampered, hostile].map(i => run(['verify', '--json', '--max-record-size', '64K', '-'], { pipe: i })));
  assert.is(ok.report.valid, true);
  assert.is(ok.report.records, lines.length);
  assert.equal([bad.code, bad.report.failure?.reason, bad.report.failure?.line], [1, 'altered record', 1235]);
  assert.equal([worse.code, worse.report.failure?.reason, worse.report.failure?.line], [1, 'oversized record', 101]);
});

test('the block reader: whole lines per block, a line longer than a block passed in parts, every byte once, in order', async () => {
  const text = Buffer.from(['short', 'x'.repeat(2_500), 'y'.repeat(999), 'z'.repeat(1_000), '', 'end'].join('\n') + '\n' + 'torn');
  const path = join(dir, 'blocks.txt');
  writeFileSync(path, text);
  const fd = openSync(path, 'r');
  const blocks: Array<{ chunk: Buffer; whole: boolean }> = [];
  try {
    for await (const b of readFdBlocks(fd, 1_000, 1)) blocks.push({ chunk: Buffer.from(b.chunk), whole: b.whole });
  } finally {
    closeSync(fd);
  }
  assert.equal(Buffer.concat(blocks.map(b => b.chunk)), text);
  for (const b of blocks) {
    assert.ok(b.chunk.length <= 2_000, `a block of ${b.chunk.length} bytes`);
    assert.is(b.whole, b.chunk[b.chunk.length - 1] === 10);
  }
  assert.ok(blocks.some(b => !b.whole && b.chunk.includes('xxx')), 'the long line in parts');
  assert.ok(blocks[blocks.length - 1].chunk.toString().endsWith('\nend\ntorn'));
  // an unreadable descriptor: an error when read, not a hang
  let failed: unknown;
  try {
    for await (const _ of readFdBlocks(987_654)) void _;
  } catch (err) {
    failed = err;
  }
  assert.is((failed as { code?: string } | undefined)?.code, 'EBADF');
});

test('the block reader lets the event loop turn between blocks while the reader keeps ahead (timers, a scan worker\'s start and results are seen)', async () => {
  const fd = openSync(file, 'r');
  let ticks = 0;
  let taken = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    for await (const b of readFdBlocks(fd, 65_536, 3)) {
      assert.ok(b.chunk.length > 0);
      taken++;
      // work on the block for a while: the reader is ahead again when it ends
      const until = Date.now() + 3;
      while (Date.now() <= until) void 0;
    }
  } finally {
    clearInterval(timer);
    closeSync(fd);
  }
  assert.ok(taken >= 20, `${taken} blocks`);
  assert.ok(ticks >= taken / 2, `a 1 ms timer fired ${ticks} times while ${taken} blocks were worked on for 3 ms each`);
});

test.run();
