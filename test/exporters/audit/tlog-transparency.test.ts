/**
 * The audit log as a transparency log, end to end with real parts: the SDK,
 * the processor, the journal (FileAuditSink), the tiles (TlogTilesSink), a
 * witness over real HTTP on 127.0.0.1 with its state file. After the
 * witness cosigned a checkpoint, each attack on the journal is caught by
 * the verifier given only that cosigned checkpoint; the witness refuses an
 * inconsistent checkpoint, also after a restart.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyAuditText, verifyJournalAgainstCheckpoint, verifyTlogTiles } from '../../../src/verify/index.js';
import { SIG_ED25519, ed25519NoteSigner, formatVkey, ed25519RawPublicKey, verifierFromVkey } from '../../../src/patterns/audit/signed-note.js';
import { MerkleFrontier, consistencyProof, leafHashOfHex, MemoryMerkleTree } from '../../../src/patterns/audit/merkle.js';
import { openCheckpoint, peekCheckpoint, signCheckpoint } from '../../../src/patterns/audit/tlog-checkpoint.js';
import { formatAddCheckpoint } from '../../../src/patterns/audit/tlog-proof.js';
import { startWitness } from '../../../src/cli/witness.js';
import type { RunningWitness } from '../../../src/cli/witness.js';
import { ed25519 } from '../../helpers/audit-fixtures.js';
import { produceTlogRun } from '../../helpers/tlog-run.js';
import { rechain } from '../../helpers/audit-tamper.js';

const test = suite('transparency log: tiles, witness, verifier (real SDK, files, HTTP)');

const ORIGIN = 'example.com/agent-audit';
const logKey = ed25519();
const witnessKey = ed25519();
const logVkey = formatVkey(ORIGIN, SIG_ED25519, ed25519RawPublicKey(logKey.publicKey));

interface Run {
  dir: string;
  journal: string;
  tiles: string;
  witnessState: string;
  witness: RunningWitness;
  cosigned: string;
  lines: string[];
}

let run: Run | undefined;
const cleanups: Array<() => Promise<void> | void> = [];

function produceLog(dir: string, witness: RunningWitness, count: number, seed = 1): Promise<void> {
  // the closing seal (with the last checkpoint note), the journal synced, the tiles written, the witness answered
  const run = { journal: join(dir, 'audit.jsonl'), tiles: join(dir, 'log'), origin: ORIGIN, key: { id: 'log-key-1', privateKey: logKey.privateKey }, sealEvery: 16 };
  return produceTlogRun({ ...run, witnesses: [witness], flushMs: 50, witnessTimeoutMs: 5000, serviceName: 'tlog-test' }, count, seed);
}

async function setup(): Promise<Run> {
  if (run) return run;
  const dir = mkdtempSync(join(tmpdir(), 'tlog-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const witnessState = join(dir, 'witness-state.json');
  const witness = await startWitness({ name: 'witness.example/w1', privateKey: witnessKey.privateKey, logVkeys: [logVkey], statePath: witnessState });
  cleanups.push(() => witness.close());
  await produceLog(dir, witness, 70);
  const cosigned = readFileSync(join(dir, 'log', 'checkpoint'), 'utf8');
  const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
  run = { dir, journal: join(dir, 'audit.jsonl'), tiles: join(dir, 'log'), witnessState, witness, cosigned, lines };
  return run;
}

test.after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const trust = (r: Run) => ({
  checkpoint: r.cosigned,
  logKeys: [verifierFromVkey(logVkey)],
  witnessKeys: [verifierFromVkey(r.witness.vkey)],
  quorum: 1,
  origin: ORIGIN,
});

test('the witness cosigned the last checkpoint; journal and tiles verify against it', async () => {
  const r = await setup();
  const cp = openCheckpoint(r.cosigned, trust(r));
  assert.equal(cp.witnesses, ['witness.example/w1']);
  // The last checkpoint (made at shutdown) covers every record but itself.
  assert.is(r.lines.length, cp.size + 1);
  const journal = await verifyJournalAgainstCheckpoint([r.journal], trust(r));
  assert.ok(journal.valid, JSON.stringify(journal.failure));
  assert.is(journal.leaves, cp.size);
  const tiles = await verifyTlogTiles(r.tiles, trust(r));
  assert.ok(tiles.valid, JSON.stringify(tiles.failure));
  // Every seal's checkpoint note in the chain is the tree of the records before it.
  const notes = r.lines.filter(l => l.includes('agent_safety.audit.seal.note'));
  assert.ok(notes.length >= 4, `${notes.length} notes`);
  const frontier = new MerkleFrontier();
  for (const line of r.lines) {
    const rec = JSON.parse(line) as { hash: string; span: { attributes: Record<string, { stringValue?: string }> } };
    const note = rec.span.attributes['agent_safety.audit.seal.note']?.stringValue;
    if (note !== undefined) {
      const c = peekCheckpoint(note);
      assert.is(c.size, frontier.size);
      assert.ok(c.root.equals(frontier.root()));
    }
    frontier.appendLeafHash(leafHashOfHex(rec.hash));
  }
  // The witness keeps the latest size it cosigned, served to monitors.
  const state = JSON.parse(readFileSync(r.witnessState, 'utf8')) as { logs: Record<string, { size: number }> };
  assert.is(state.logs[ORIGIN].size, cp.size);
});

async function attack(r: Run, name: string, lines: string[]) {
  const file = join(r.dir, `${name}.jsonl`);
  writeFileSync(file, lines.join('\n') + '\n');
  return verifyJournalAgainstCheckpoint([file], trust(r));
}

test('cut the tail: caught (truncated)', async () => {
  const r = await setup();
  const report = await attack(r, 'cut', r.lines.slice(0, -6));
  assert.not.ok(report.valid);
  assert.is(report.failure!.reason, 'truncated');
  // The linear chain sees it too when the run was closed (its closing seal is gone: an unsealed tail)…
  const cut = r.lines.slice(0, -6).join('\n') + '\n';
  assert.is(verifyAuditText(cut).failure?.reason, 'unsealed tail');
  // …but not in a live file, whose tail is unsealed anyway: there the witness's checkpoint is what counts.
  assert.ok(verifyAuditText(cut, { allowUnsealedTail: true }).valid);
});

test('replace a run (re-hashed so the chain links): caught (root mismatch)', async () => {
  const r = await setup();
  const forged = r.lines.map(l => l);
  for (let i = 20; i < 25; i++) forged[i] = forged[i].replace('"agent_safety.gate.decision":{"stringValue":"allow"}', '"agent_safety.gate.decision":{"stringValue":"block"}').replace('"gen_ai.tool.name":{"stringValue":"tool_', '"gen_ai.tool.name":{"stringValue":"tool_x');
  const rechained = rechain(forged, 20);
  const report = await attack(r, 'run', rechained);
  assert.is(report.failure?.reason, 'root mismatch');
});

test('rewrite one record and re-hash everything after it: caught (root mismatch)', async () => {
  const r = await setup();
  const forged = [...r.lines];
  const at = forged.findIndex((l, i) => i >= 30 && l.includes('"agent_safety.action.id"'));
  forged[at] = forged[at].replace(/"agent_safety.action.id":\{"stringValue":"act-(\d+)"\}/, '"agent_safety.action.id":{"stringValue":"act-9$1"}');
  assert.is.not(forged[at], r.lines[at]);
  const rechained = rechain(forged, at);
  const report = await attack(r, 'rewrite', rechained);
  assert.is(report.failure?.reason, 'root mismatch'); // every record matches its hash and links: only the tree tells
  // Without re-hashing, the record itself no longer matches its hash.
  const plain = await attack(r, 'edit', forged);
  assert.is(plain.failure?.reason, 'altered record');
  assert.is(plain.failure?.line, at + 1);
});

test('fork the log (the log key signs another history): the verifier and the witness both refuse it', async () => {
  const r = await setup();
  const cp = peekCheckpoint(r.cosigned);
  // The forger holds the log's signing key: rewrites from record 10 on, appends, and signs a new checkpoint.
  const forked = rechain([...r.lines.slice(0, 10), ...r.lines.slice(11)], 10);
  const tree = new MemoryMerkleTree();
  for (const l of forked) tree.appendLeafHash(leafHashOfHex((JSON.parse(l) as { hash: string }).hash));
  const forkedNote = signCheckpoint({ origin: ORIGIN, size: tree.size, root: tree.root() }, [ed25519NoteSigner(ORIGIN, logKey.privateKey)]);
  // Given the cosigned checkpoint, the forked journal does not verify.
  const report = await attack(r, 'fork', forked);
  assert.is(report.failure?.reason, 'root mismatch');
  // The forged checkpoint verifies with the log key alone, but carries no cosignature: a quorum of 1 refuses it.
  assert.throws(() => openCheckpoint(forkedNote, { ...trust(r), quorum: 1 }), /witness cosignature/);
  // And the witness will not cosign it: not consistent with what it cosigned (proof from its size).
  const res = await fetch(`${r.witness.url}/add-checkpoint`, {
    method: 'POST',
    body: formatAddCheckpoint({ oldSize: cp.size, proof: consistencyProof(Math.min(cp.size, tree.size), tree.size, tree.node), checkpoint: forkedNote }),
  });
  assert.ok(res.status === 422 || res.status === 400, `status ${res.status}: ${await res.text()}`);
});

/** The status of a POST of `body` (sent in pieces, as a client would): answered before the body is all sent. */
function postedStatus(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-length': body.length } }, res => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
    req.end();
  });
}

test('the witness refuses an inconsistent checkpoint after a restart (state file), and still accepts a consistent one', async () => {
  const r = await setup();
  const cp = peekCheckpoint(r.cosigned);
  await r.witness.close();
  const again = await startWitness({ name: 'witness.example/w1', privateKey: witnessKey.privateKey, logVkeys: [logVkey], statePath: r.witnessState });
  cleanups.push(() => again.close());
  // Old size 0: the restarted witness remembers the size it cosigned (409 Conflict, with that size).
  const fresh = signCheckpoint({ origin: ORIGIN, size: 3, root: Buffer.alloc(32, 7) }, [ed25519NoteSigner(ORIGIN, logKey.privateKey)]);
  const conflict = await fetch(`${again.url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpoint({ oldSize: 0, proof: [], checkpoint: fresh }) });
  assert.is(conflict.status, 409);
  assert.is(conflict.headers.get('content-type'), 'text/x.tlog.size');
  assert.is(await conflict.text(), `${cp.size}\n`);
  // Same size, another root (a rewritten history): 422.
  const rewritten = signCheckpoint({ origin: ORIGIN, size: cp.size, root: Buffer.alloc(32, 9) }, [ed25519NoteSigner(ORIGIN, logKey.privateKey)]);
  const refused = await fetch(`${again.url}/add-checkpoint`, { method: 'POST', body: formatAddCheckpoint({ oldSize: cp.size, proof: [], checkpoint: rewritten }) });
  assert.is(refused.status, 422);
  // A request over 64 KiB is refused before it is read whole: 413.
  assert.is(await postedStatus(`${again.url}/add-checkpoint`, Buffer.alloc(1024 * 1024, 0x78)), 413);
  // The log goes on (a new process run continues the tree from the tiles): the restarted witness cosigns the consistent checkpoint.
  await produceLog(r.dir, again, 20, 7);
  const next = openCheckpoint(readFileSync(join(r.tiles, 'checkpoint'), 'utf8'), { ...trust(r), witnessKeys: [verifierFromVkey(again.vkey)] });
  assert.ok(next.size > cp.size);
  const lines = readFileSync(r.journal, 'utf8').trim().split('\n');
  assert.is(lines.length, next.size + 1);
  const both = await verifyJournalAgainstCheckpoint([r.journal], { ...trust(r), checkpoint: next.note, witnessKeys: [verifierFromVkey(again.vkey)] });
  assert.ok(both.valid, JSON.stringify(both.failure));
  // The witness's monitoring endpoint serves the cosigned checkpoint.
  const { originHash } = await import('../../../src/patterns/audit/tlog-witness.js');
  const served = await (await fetch(`${again.url}/${originHash(ORIGIN)}/checkpoint`)).text();
  assert.is(peekCheckpoint(served).size, next.size);
});

test.run();
