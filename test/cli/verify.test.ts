/**
 * `agent-safety-otel verify`: through `main()` and once through the built bin.
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { gzipSync, createGunzip } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/main.js';
import { captureIO } from '../helpers/cli-io.js';
import { auditFixture, ed25519, produceSpans } from '../helpers/audit-fixtures.js';
import { withLeafChanged } from '../helpers/audit-tamper.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };

const test = suite('cli verify');
const dir = mkdtempSync(join(tmpdir(), 'cli-verify-'));
const HMAC = 'cli-test-hmac-key-0123456789abcdef';
const keys = ed25519();
const f = auditFixture({
  chainId: 'cli-chain',
  hmacKey: { id: 'hk1', key: Buffer.from(HMAC) },
  signingKey: { id: 'sk1', privateKey: keys.privateKey },
  seals: { everyRecords: 5 },
});
produceSpans(f.tracer, 20);
f.seal(); // as the processor does at shutdown
const lines = f.lines();
const file = join(dir, 'audit.jsonl');
writeFileSync(file, lines.join('\n') + '\n');
const keyFile = join(dir, 'hmac.key');
writeFileSync(keyFile, HMAC + '\n');
const pubFile = join(dir, 'pub.pem');
writeFileSync(pubFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
const tampered = join(dir, 'tampered.jsonl');
const t = [...lines];
t[7] = JSON.stringify(withLeafChanged(JSON.parse(t[7]), ['span', 'name']));
writeFileSync(tampered, t.join('\n') + '\n');
const otlp = join(dir, 'otlp.json');
writeFileSync(otlp, f.otlpJson(6));
const last = JSON.parse(lines[lines.length - 1]) as { seq: number; hash: string };
const keyArgs = ['--hmac-key-file', keyFile, '--hmac-key-id', 'hk1', '--public-key', pubFile];

test('a valid file: exit 0, per-chain summary', async () => {
  const io = captureIO();
  assert.is(await main(['verify', file, ...keyArgs], io), 0, io.stderr);
  assert.match(io.stdout, 'VALID: every chain verified');
  assert.match(io.stdout, `ok   chain cli-chain: seq 0…${last.seq} (${lines.length} records)`);
  assert.match(io.stdout, /seals \d+ verified/);
  assert.match(io.stdout, 'HMAC key hk1');
});

test('OTLP JSON and JSONL together, --expect-head, --json', async () => {
  const io = captureIO();
  const code = await main(['verify', otlp, ...keyArgs, '--allow-duplicates', '--expect-head', `cli-chain:${last.seq}:${last.hash}`, '--json'], io);
  assert.is(code, 0, io.stdout);
  const report = JSON.parse(io.stdout);
  assert.is(report.valid, true);
  assert.is(report.chains[0].records, lines.length);
  assert.is(report.chains[0].externalVerified, 1);
  const both = captureIO();
  assert.is(await main(['verify', file, otlp, ...keyArgs, '--allow-duplicates'], both), 0, both.stdout);
  assert.match(both.stdout, `${lines.length} duplicates skipped`);
});

test('a tampered file: exit 1 with file, line and reason', async () => {
  const io = captureIO();
  assert.is(await main(['verify', tampered, ...keyArgs], io), 1);
  assert.match(io.stdout, `TAMPERED OR INCOMPLETE: ${tampered}:8: altered record (chain cli-chain, seq 7)`);
  assert.match(io.stdout, `first bad record: ${tampered}:8: altered record`);
  const json = captureIO();
  assert.is(await main(['verify', tampered, ...keyArgs, '--json'], json), 1);
  const report = JSON.parse(json.stdout);
  assert.equal([report.failure.reason, report.failure.line, report.failure.file], ['altered record', 8, tampered]);
});

test('standard input: - reads a stream (here a gzipped archive, decompressed), alone or between files', async () => {
  const gz = join(dir, 'audit.jsonl.gz');
  writeFileSync(gz, gzipSync(readFileSync(tampered)));
  const bad = captureIO();
  bad.stdin = createReadStream(gz).pipe(createGunzip());
  assert.is(await main(['verify', '-', ...keyArgs], bad), 1, bad.stderr);
  assert.match(bad.stdout, 'TAMPERED OR INCOMPLETE: (stdin):8: altered record (chain cli-chain, seq 7)');
  // the first half of the chain from a file, the rest from standard input: one history
  const head = join(dir, 'head.jsonl');
  writeFileSync(head, lines.slice(0, 10).join('\n') + '\n');
  const split = captureIO();
  split.stdin = (async function* () {
    yield lines.slice(10, 15).join('\n') + '\n' + lines[15].slice(0, 40); // cut mid-line
    yield lines[15].slice(40) + '\n' + lines.slice(16).join('\n') + '\n';
  })();
  assert.is(await main(['verify', head, '-', ...keyArgs], split), 0, split.stdout + split.stderr);
  assert.match(split.stdout, `2 files, ${lines.length} lines`);
  const twice = captureIO();
  twice.stdin = createReadStream(file);
  assert.is(await main(['verify', '-', '-'], twice), 2);
  assert.match(twice.stderr, '- (standard input) can be given once');
  const none = captureIO();
  assert.is(await main(['verify', '-'], none), 2);
  assert.match(none.stderr, 'no standard input');
});

test('--after: a later rotated file verifies alone after its anchor; without it, missing start', async () => {
  const later = join(dir, 'audit.later.jsonl');
  writeFileSync(later, lines.slice(12).join('\n') + '\n');
  const before = JSON.parse(lines[11]) as { seq: number; hash: string };
  const alone = captureIO();
  assert.is(await main(['verify', later, ...keyArgs], alone), 1);
  assert.match(alone.stdout, 'missing start');
  const anchored = captureIO();
  assert.is(await main(['verify', later, ...keyArgs, '--after', `cli-chain:${before.seq}:${before.hash}`], anchored), 0, anchored.stdout);
  assert.match(anchored.stdout, `seq 12…${last.seq} (${lines.length - 12} records)`);
  assert.match(anchored.stdout, `after the anchor at seq 11`);
  const wrong = captureIO();
  assert.is(await main(['verify', later, ...keyArgs, '--after', `cli-chain:${before.seq}:${'0'.repeat(64)}`], wrong), 1);
  assert.match(wrong.stdout, `${later}:1: broken link`);
  const bad = captureIO();
  assert.is(await main(['verify', later, '--after', 'cli-chain:11:abc'], bad), 2);
  assert.match(bad.stderr, '--after wants CHAIN:SEQ:HASH');
});

test('keys: missing key, wrong key, truncated before an expected head: exit 1', async () => {
  const noKey = captureIO();
  assert.is(await main(['verify', file], noKey), 1);
  assert.match(noKey.stdout, 'missing key');
  const wrongKey = join(dir, 'wrong.key');
  writeFileSync(wrongKey, 'not the key');
  const wrong = captureIO();
  assert.is(await main(['verify', file, '--hmac-key-file', wrongKey], wrong), 1);
  assert.match(wrong.stdout, 'wrong key');
  const truncated = join(dir, 'truncated.jsonl');
  writeFileSync(truncated, lines.slice(0, -4).join('\n') + '\n');
  const cut = captureIO();
  assert.is(await main(['verify', truncated, ...keyArgs, '--expect-head', `cli-chain:${last.seq}:${last.hash}`], cut), 1);
  assert.match(cut.stdout, 'truncated');
  // alone, the cut shows as a tail after the last seal; a live file may have one
  const alone = captureIO();
  assert.is(await main(['verify', truncated, ...keyArgs], alone), 1);
  assert.match(alone.stdout, 'unsealed tail');
  const liveFile = captureIO();
  assert.is(await main(['verify', truncated, ...keyArgs, '--allow-unsealed-tail'], liveFile), 0, liveFile.stdout);
  assert.match(liveFile.stdout, /\d+ records after the last seal/);
  // seals held elsewhere prove the cut (--checkpoints is the old name of --seals)
  const cps = join(dir, 'seals.jsonl');
  writeFileSync(cps, lines.filter(l => l.includes('"agent_safety.audit.seal"')).join('\n') + '\n');
  for (const option of ['--seals', '--checkpoints']) {
    const byCp = captureIO();
    assert.is(await main(['verify', truncated, ...keyArgs, '--allow-unsealed-tail', option, cps], byCp), 1);
    assert.match(byCp.stdout, 'truncated');
    const full = captureIO();
    assert.is(await main(['verify', file, ...keyArgs, option, cps], full), 0, full.stdout);
  }
});

test('usage errors and unreadable input: exit 2', async () => {
  for (const args of [
    ['verify'],
    ['verify', file, '--frobnicate'],
    ['verify', file, '--expect-head', 'nope'],
    ['verify', file, '--hmac-key-id', 'x'],
    ['verify', file, '--checkpoints', file],
    ['verify', file, '--public-key', keyFile],
    ['verify', file, '--workers', 'many'],
  ]) {
    const io = captureIO();
    assert.is(await main(args, io), 2, args.join(' '));
    assert.match(io.stderr, 'verify:');
  }
  for (const args of [['verify', join(dir, 'nope.jsonl')], ['verify', dir], ['verify', file, '--hmac-key-file', join(dir, 'nope.key')]]) {
    const io = captureIO();
    assert.is(await main(args, io), 2, args.join(' '));
  }
  const help = captureIO();
  assert.is(await main(['verify', '--help'], help), 0);
  assert.match(help.stdout, 'Exit codes: 0 every chain verified');
  const list = captureIO();
  await main(['--help'], list);
  assert.match(list.stdout, /verify\s+verify audit chains/);
});

test('a progress bar on a terminal stderr for large input, none otherwise', async () => {
  const big = join(dir, 'big.jsonl');
  const g = auditFixture({ chainId: 'big-chain' });
  produceSpans(g.tracer, 23_000);
  writeFileSync(big, g.jsonl());
  const tty = captureIO(true);
  assert.is(await main(['verify', big, '--workers', '0'], tty), 0, tty.stdout);
  assert.match(tty.stderr, /\[#+\.*\] \d+%/);
  const pipe = captureIO(false);
  assert.is(await main(['verify', big, '--workers', '0'], pipe), 0);
  assert.is(pipe.stderr, '');
});

test('the built bin: exit codes and output', async () => {
  const bin = resolve(root, pkg.bin['agent-safety-otel']);
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string }>(done => {
      execFile(process.execPath, [bin, ...args], (err, stdout) => done({ code: err ? Number((err as { code?: number }).code) : 0, stdout }));
    });
  const ok = await run(['verify', file, ...keyArgs]);
  assert.is(ok.code, 0);
  assert.match(ok.stdout, 'VALID');
  const bad = await run(['verify', tampered, ...keyArgs, '--json']);
  assert.is(bad.code, 1);
  assert.is(JSON.parse(bad.stdout).failure.reason, 'altered record');
  assert.is((await run(['verify'])).code, 2);
  // standard input through the bin
  const piped = await new Promise<{ code: number | null; stdout: string }>(done => {
    const child = spawn(process.execPath, [bin, 'verify', '-', ...keyArgs], { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', d => (stdout += d));
    child.on('close', code => done({ code, stdout }));
    createReadStream(file).pipe(child.stdin);
  });
  assert.is(piped.code, 0, piped.stdout);
  assert.match(piped.stdout, 'VALID');
});

test('head: prints each verified chain\'s head, CHAIN:SEQ:HASH; nothing for a failing chain, exit 1', async () => {
  const io = captureIO();
  assert.is(await main(['head', file, ...keyArgs], io), 0, io.stderr);
  assert.is(io.stdout, `cli-chain:${last.seq}:${last.hash}\n`);
  // what it prints is an --expect-head, and a manifest line
  const again = captureIO();
  assert.is(await main(['verify', file, ...keyArgs, '--expect-head', io.stdout.trim()], again), 0, again.stdout);
  const json = captureIO();
  assert.is(await main(['head', file, ...keyArgs, '--json'], json), 0);
  assert.equal(JSON.parse(json.stdout), [{ chainId: 'cli-chain', seq: last.seq, hash: last.hash }]);
  // a live file (cut after a seal): head still prints (unsealed tails are allowed there)
  const live = join(dir, 'live.jsonl');
  writeFileSync(live, lines.slice(0, -3).join('\n') + '\n');
  const liveHead = captureIO();
  assert.is(await main(['head', live, ...keyArgs], liveHead), 0, liveHead.stderr);
  assert.match(liveHead.stdout, `cli-chain:${last.seq - 3}:`);
  const bad = captureIO();
  assert.is(await main(['head', tampered, ...keyArgs], bad), 1);
  assert.is(bad.stdout, '');
  assert.match(bad.stderr, `${tampered}:8: altered record`);
  const usage = captureIO();
  assert.is(await main(['head'], usage), 2);
  assert.match(usage.stderr, 'no files to read');
  const list = captureIO();
  await main(['--help'], list);
  assert.match(list.stdout, /head\s+verify audit files and print each chain's head/);
});

test('--json is streamed chain by chain and is the report; a line over --max-record-size is reported, not read', async () => {
  const many = join(dir, 'many.jsonl');
  const g = auditFixture({ chainId: 'many-0' });
  produceSpans(g.tracer, 3);
  const chained = [g.jsonl()];
  for (let i = 1; i < 200; i++) {
    const h = auditFixture({ chainId: `many-${i}` });
    produceSpans(h.tracer, 2, i);
    chained.push(h.jsonl());
  }
  writeFileSync(many, chained.join(''));
  const io = captureIO();
  let writes = 0;
  const out = io.out;
  io.out = text => (writes++, out(text));
  assert.is(await main(['verify', many, '--json'], io), 0, io.stdout.slice(0, 500));
  const report = JSON.parse(io.stdout);
  assert.is(report.chains.length, 200);
  assert.ok(writes > 1, `streamed in pieces (${writes} write)`);
  const { verifyAuditFiles } = await import('../../src/verify/audit-verify.js');
  assert.equal(report, JSON.parse(JSON.stringify(await verifyAuditFiles([many]))));
  assert.is(io.stdout, JSON.stringify(report, null, 2) + '\n', 'the same text as one JSON.stringify');
  const small = captureIO();
  assert.is(await main(['verify', file, ...keyArgs, '--max-record-size', '1K'], small), 1);
  assert.match(small.stdout, 'oversized record', small.stdout);
  assert.match(small.stdout, /:\d+: oversized record/);
  for (const bad of ['12', 'lots', '1T']) {
    const u = captureIO();
    assert.is(await main(['verify', file, '--max-record-size', bad], u), 2, bad);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
