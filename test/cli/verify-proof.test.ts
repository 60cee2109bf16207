/**
 * `verify --inclusion-proof / --consistency-proof` run as a process
 * (tsx src/cli/bin.ts): proofs made by `prove` from a real log (processor,
 * journal, tiles) verify against the checkpoint they were made for; a
 * tampered proof, a proof against another checkpoint and a wrong log key
 * exit 1 with the reason; usage errors exit 2.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SIG_ED25519, ed25519RawPublicKey, formatVkey } from '../../src/patterns/audit/signed-note.js';
import { main } from '../../src/cli/main.js';
import { captureIO } from '../helpers/cli-io.js';
import { ed25519 } from '../helpers/audit-fixtures.js';
import { produceTlogRun } from '../helpers/tlog-run.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const test = suite('cli verify: transparency-log proofs');
const ORIGIN = 'example.com/verify-proofs';
const logKey = ed25519();
const logVkey = formatVkey(ORIGIN, SIG_ED25519, ed25519RawPublicKey(logKey.publicKey));
const dir = mkdtempSync(join(tmpdir(), 'verify-proof-cli-'));
const log = join(dir, 'log');
const f = (name: string): string => join(dir, name);

test.after(() => rmSync(dir, { recursive: true, force: true }));

/** `agent-safety-otel verify …` as a child process. */
function verify(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(done => {
    execFile(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'verify', ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

/** One process run of the agent: a new chain, the same log. */
function produceLog(count: number, seed: number): Promise<void> {
  return produceTlogRun({ journal: f('audit.jsonl'), tiles: log, origin: ORIGIN, key: { id: 'k1', privateKey: logKey.privateKey }, sealEvery: 25, serviceName: 'cli' }, count, seed);
}

async function prove(...args: string[]): Promise<string> {
  const io = captureIO();
  assert.is(await main(['prove', '--tiles', log, ...args], io), 0, io.stderr);
  return io.stdout;
}

/** Flips one bit of the first hash line after the line matching `after`. */
function tamper(text: string, after: RegExp): string {
  const lines = text.split('\n');
  const i = lines.findIndex(l => after.test(l)) + 1;
  const bytes = Buffer.from(lines[i], 'base64');
  bytes[5] ^= 0x10;
  lines[i] = bytes.toString('base64');
  return lines.join('\n');
}

test('valid proofs verify against the checkpoint given; tampered ones, proofs against another checkpoint and a wrong log key do not', async () => {
  await produceLog(40, 1);
  copyFileSync(join(log, 'checkpoint'), f('cp1'));
  await produceLog(30, 2);
  copyFileSync(join(log, 'checkpoint'), f('cp2'));
  writeFileSync(f('record.tlog-proof'), await prove('--record', '7', '--journal', f('audit.jsonl'), '--checkpoint', f('cp2')));
  writeFileSync(f('cons.proof'), await prove('--consistency', f('cp1'), f('cp2')));
  await produceLog(20, 3);
  copyFileSync(join(log, 'checkpoint'), f('cp3'));
  writeFileSync(f('log.vkey'), logVkey + '\n');
  const sizeOf = (file: string): number => Number(readFileSync(f(file), 'utf8').split('\n')[1]);
  const [s1, s2, s3] = [sizeOf('cp1'), sizeOf('cp2'), sizeOf('cp3')];
  assert.ok(s1 > 40 && s2 > s1 + 30 && s3 > s2 + 20, `${s1} ${s2} ${s3}`); // the records and their seals
  const state = JSON.parse(readFileSync(join(log, 'tlog-state.json'), 'utf8')) as { chains: Array<{ start: number }> };
  const entry = state.chains[1].start + 7;

  // Both proofs, against the checkpoint they were made for (cp2 is the newer end of the consistency proof).
  const ok = await verify('--inclusion-proof', f('record.tlog-proof'), '--consistency-proof', f('cons.proof'), '--log-key', `@${f('log.vkey')}`, '--checkpoint', f('cp2'));
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^2 proofs, against the checkpoint given\n/);
  assert.match(ok.stdout, new RegExp(String.raw`^ok {3}inclusion proof \S+record\.tlog-proof: record \S+/7, entry ${entry} of example\.com\/verify-proofs \(size ${s2}\)$`, 'm'));
  assert.match(ok.stdout, new RegExp(String.raw`^ok {3}consistency proof \S+cons\.proof: example\.com/verify-proofs, size ${s1} → ${s2} \(the checkpoint given is the newer\)$`, 'm'));
  assert.match(ok.stdout, /\nVALID: every proof verified\n$/);
  // The older end held instead: the log grew from it.
  const older = await verify('--consistency-proof', f('cons.proof'), '--log-key', logVkey, '--checkpoint', f('cp1'));
  assert.is(older.code, 0, older.stdout + older.stderr);
  assert.match(older.stdout, /\(the checkpoint given is the older\)/);
  // Without --checkpoint: against the proof's own (signed) checkpoint.
  assert.is((await verify('--inclusion-proof', f('record.tlog-proof'), '--log-key', logVkey)).code, 0);

  // A tampered proof: one bit of a hash flipped.
  writeFileSync(f('tampered.tlog-proof'), tamper(readFileSync(f('record.tlog-proof'), 'utf8'), /^index /));
  const bad = await verify('--inclusion-proof', f('tampered.tlog-proof'), '--log-key', logVkey, '--checkpoint', f('cp2'));
  assert.is(bad.code, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, new RegExp(String.raw`^FAIL inclusion proof \S+: record \S+/7, entry ${entry} of example\.com/verify-proofs \(size ${s2}\)\n {5}not included: `, 'm'));
  assert.match(bad.stdout, /\nNOT VERIFIED: \S+tampered\.tlog-proof: not included\n$/);
  writeFileSync(f('tampered.proof'), tamper(readFileSync(f('cons.proof'), 'utf8'), /^new /));
  const badCons = await verify('--consistency-proof', f('tampered.proof'), '--log-key', logVkey, '--checkpoint', f('cp2'));
  assert.is(badCons.code, 1, badCons.stdout);
  assert.match(badCons.stdout, /\n {5}inconsistent: /);
  // The record in the proof's extra line edited: it no longer matches its hash.
  const proofText = readFileSync(f('record.tlog-proof'), 'utf8');
  const extra = /^extra (\S+)$/m.exec(proofText)![1];
  const edited = Buffer.from(Buffer.from(extra, 'base64').toString().replace('"stringValue":"execute_tool"', '"stringValue":"execute_tooI"')).toString('base64');
  writeFileSync(f('edited.tlog-proof'), proofText.replace(extra, edited));
  const badRecord = await verify('--inclusion-proof', f('edited.tlog-proof'), '--log-key', logVkey, '--json');
  assert.is(badRecord.code, 1);
  const json = JSON.parse(badRecord.stdout) as { valid: boolean; proofs: Array<{ valid: boolean; kind: string; failure: { reason: string } }> };
  assert.is(json.valid, false);
  assert.equal([json.proofs[0].kind, json.proofs[0].failure.reason], ['inclusion', 'bad record']);

  // Valid proofs against another checkpoint of the same log: the inclusion proof is for size s2, not s3;
  // the consistency proof runs s1 → s2, and s3 is neither end.
  const wrong = await verify('--inclusion-proof', f('record.tlog-proof'), '--log-key', logVkey, '--checkpoint', f('cp3'));
  assert.is(wrong.code, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stdout, new RegExp(String.raw`\n {5}wrong checkpoint: the proof is against example\.com/verify-proofs size ${s2} root \S+, not the checkpoint given \(example\.com/verify-proofs size ${s3} `));
  assert.match(wrong.stdout, /NOT VERIFIED: \S+: wrong checkpoint\n$/);
  const wrongCons = await verify('--consistency-proof', f('cons.proof'), '--log-key', logVkey, '--checkpoint', f('cp3'), '--json');
  assert.is(wrongCons.code, 1);
  assert.is((JSON.parse(wrongCons.stdout) as { proofs: Array<{ failure: { reason: string } }> }).proofs[0].failure.reason, 'wrong checkpoint');

  // Another log's key: the checkpoints are not this log's.
  const other = formatVkey(ORIGIN, SIG_ED25519, ed25519RawPublicKey(ed25519().publicKey));
  const forged = await verify('--inclusion-proof', f('record.tlog-proof'), '--log-key', other);
  assert.is(forged.code, 1);
  assert.match(forged.stdout, /\n {5}bad checkpoint: /);
  // A quorum the checkpoint cannot meet (no witness cosigned it).
  const w = formatVkey('witness.example/w', 4, Buffer.alloc(32, 7));
  const quorum = await verify('--inclusion-proof', f('record.tlog-proof'), '--log-key', logVkey, '--witness-key', w, '--quorum', '1');
  assert.is(quorum.code, 1);
  assert.match(quorum.stdout, /bad checkpoint/);
});

test('usage errors and unreadable input exit 2', async () => {
  const noKey = await verify('--inclusion-proof', f('record.tlog-proof'));
  assert.is(noKey.code, 2);
  assert.match(noKey.stderr, /--log-key/);
  const withFiles = await verify('audit.jsonl', '--inclusion-proof', f('record.tlog-proof'), '--log-key', logVkey);
  assert.is(withFiles.code, 2);
  assert.match(withFiles.stderr, /take no files/);
  const missing = await verify('--inclusion-proof', f('nope'), '--log-key', logVkey);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /cannot read the inclusion proof/);
  assert.is((await verify('--consistency-proof', f('cons.proof'), '--log-key', 'not-a-vkey')).code, 2);
});

test.run();
