/**
 * `prove` and `witness` from the command line: the witness runs as a real
 * process (tsx src/cli/bin.ts witness) on 127.0.0.1; the log posts to it;
 * `prove --record` makes a record's tlog-proof that `prove --check` verifies
 * offline with the log's and the witness's verifier keys alone.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
const test = suite('cli prove and witness');
const ORIGIN = 'example.com/cli-audit';
const logKey = ed25519();
const logVkey = formatVkey(ORIGIN, SIG_ED25519, ed25519RawPublicKey(logKey.publicKey));
const dir = mkdtempSync(join(tmpdir(), 'prove-cli-'));
let child: ChildProcess | undefined;

test.after(() => {
  child?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `witness` as a process; resolves with the URL and vkey it prints. */
function startWitnessProcess(): Promise<{ url: string; vkey: string }> {
  const witnessKey = ed25519();
  writeFileSync(join(dir, 'witness.pem'), witnessKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
  writeFileSync(join(dir, 'log.vkey'), logVkey + '\n');
  child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/bin.ts'), 'witness', '--name', 'witness.example/cli', '--key', join(dir, 'witness.pem'), '--log', `@${join(dir, 'log.vkey')}`, '--state', join(dir, 'witness.json')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`witness did not start: ${out}`)), 30_000);
    child!.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const url = /listening on (\S+)/.exec(out)?.[1];
      const vkey = /^vkey (\S+)$/m.exec(out)?.[1];
      if (url && vkey) {
        clearTimeout(timer);
        resolvePromise({ url, vkey });
      }
    });
    child!.on('exit', code => reject(new Error(`witness exited with ${code}: ${out}`)));
  });
}

function produceLog(witness: { url: string; vkey: string }, count: number, seed: number): Promise<void> {
  const run = { journal: join(dir, 'audit.jsonl'), tiles: join(dir, 'log'), origin: ORIGIN, key: { id: 'k1', privateKey: logKey.privateKey }, sealEvery: 25, witnesses: [witness], serviceName: 'cli' };
  return produceTlogRun(run, count, seed);
}

test('a record\'s proof made by prove --record verifies offline with prove --check; a doctored one does not', async () => {
  const witness = await startWitnessProcess();
  await produceLog(witness, 40, 1);
  copyFileSync(join(dir, 'log', 'checkpoint'), join(dir, 'old-checkpoint'));
  await produceLog(witness, 30, 2); // a second process run: a new chain, the same log

  const io = captureIO();
  assert.is(await main(['prove', '--tiles', join(dir, 'log'), '--record', '7', '--journal', join(dir, 'audit.jsonl')], io), 0, io.stderr);
  assert.match(io.stdout, /^c2sp\.org\/tlog-proof@v1\nextra \S+\nindex \d+\n/);
  const proofFile = join(dir, 'record.tlog-proof');
  writeFileSync(proofFile, io.stdout);

  const ok = captureIO();
  assert.is(await main(['prove', '--check', proofFile, '--log-key', logVkey, '--witness-key', witness.vkey, '--quorum', '1'], ok), 0, ok.stderr);
  assert.match(ok.stdout, /^ok: record \S+\/7 is entry \d+ of example\.com\/cli-audit .*cosigned by witness\.example\/cli/);

  // The record in the proof edited: it no longer matches its hash.
  const extra = /^extra (\S+)$/m.exec(io.stdout)![1];
  const line = Buffer.from(extra, 'base64').toString().replace('"stringValue":"execute_tool"', '"stringValue":"execute_tooI"');
  writeFileSync(join(dir, 'doctored.tlog-proof'), io.stdout.replace(extra, Buffer.from(line).toString('base64')));
  const bad = captureIO();
  assert.is(await main(['prove', '--check', join(dir, 'doctored.tlog-proof'), '--log-key', logVkey], bad), 1);
  assert.match(bad.stderr, /NOT VERIFIED/);
  // Another index: the path does not lead to the root.
  writeFileSync(join(dir, 'moved.tlog-proof'), io.stdout.replace(/^index (\d+)$/m, (_m, n: string) => `index ${Number(n) + 1}`));
  const moved = captureIO();
  assert.is(await main(['prove', '--check', join(dir, 'moved.tlog-proof'), '--log-key', logVkey], moved), 1);
  // Without the witness's cosignature a quorum of 1 cannot be met.
  const noWitness = captureIO();
  assert.is(await main(['prove', '--check', proofFile, '--log-key', logVkey, '--witness-key', formatVkey('other.example', 4, Buffer.alloc(32, 1)), '--quorum', '1'], noWitness), 1);
  // A quorum larger than the witness keys given can never be met: a usage error (exit 2), as verify says.
  const tooFew = captureIO();
  assert.is(await main(['prove', '--check', proofFile, '--log-key', logVkey, '--witness-key', witness.vkey, '--quorum', '2'], tooFew), 2);
  assert.match(tooFew.stderr, /--quorum 2 needs at least as many --witness-key/);

  // Consistency between the first run's checkpoint and the latest.
  const cons = captureIO();
  assert.is(await main(['prove', '--tiles', join(dir, 'log'), '--consistency', join(dir, 'old-checkpoint'), '-'], cons), 0, cons.stderr);
  writeFileSync(join(dir, 'cons.proof'), cons.stdout);
  const consOk = captureIO();
  assert.is(await main(['prove', '--check', join(dir, 'cons.proof'), '--log-key', logVkey, '--witness-key', witness.vkey, '--quorum', '1'], consOk), 0, consOk.stderr);
  assert.match(consOk.stdout, /^ok: example\.com\/cli-audit at size \d+ is a prefix of size \d+/);

  // --vkey prints the log's verifier key from its public key.
  writeFileSync(join(dir, 'log.pub.pem'), logKey.publicKey.export({ format: 'pem', type: 'spki' }) as string);
  const vk = captureIO();
  assert.is(await main(['prove', '--vkey', '--name', ORIGIN, '--public-key', join(dir, 'log.pub.pem')], vk), 0);
  assert.is(vk.stdout, `${logVkey}\n`);
});

test('usage errors exit 2', async () => {
  const io = captureIO();
  assert.is(await main(['prove', '--record', 'x'], io), 2);
  assert.is(await main(['witness', '--name', 'w'], captureIO()), 2);
  assert.is(await main(['prove'], captureIO()), 2);
});

test.run();
