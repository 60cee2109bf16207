/**
 * The attacks of issue 14, each on records the real processor wrote to a
 * real file (three runs in one HMAC-keyed, signed audit file, sealed every
 * 10 records): deleted runs, spliced chains, forks, cut tails, parser
 * tricks, stripped seals, empty input. Each was VALID before; each is
 * caught now, with the anchor that catches it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { sdkTrace } from '../helpers/otel.js';
import { AuditChainSpanProcessor, FileAuditSink, auditAllSpans } from '../../src/exporters/index.js';
import { verifyAuditFiles, verifyAuditLines } from '../../src/verify/audit-verify.js';
import type { AuditVerifyOptions, AuditVerifyReport } from '../../src/verify/audit-verify.js';
import { canonicalBody, chainHash } from '../../src/patterns/audit/audit-record.js';
import { produceSpans } from '../helpers/audit-fixtures.js';
import { rechain } from '../helpers/audit-tamper.js';
import { main } from '../../src/cli/main.js';
import { captureIO } from '../helpers/cli-io.js';

const test = suite('audit verifier: attacks');
const dir = mkdtempSync(join(tmpdir(), 'audit-attacks-'));
const HMAC = Buffer.from('attack-test-hmac-key-0123456789ab');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const KEYED: AuditVerifyOptions = { hmacKey: HMAC, hmacKeyId: 'hk', publicKey };

/** One process run: `spans` guarded-action spans written through the real processor to `path`, then shut down (closing seal). */
async function run(path: string, spans: number, seed: number, keys = true): Promise<string> {
  const processor = new AuditChainSpanProcessor({
    sinks: [new FileAuditSink({ path })],
    filter: auditAllSpans,
    hmacKey: keys ? { id: 'hk', key: HMAC } : undefined,
    signingKey: keys ? { id: 'sk', privateKey } : undefined,
    seals: { everyRecords: 10, everyMs: 3_600_000 },
  });
  const provider = sdkTrace.tracerProvider({ resource: resourceFromAttributes({ 'service.name': 'attack-test' }), spanProcessors: [processor] });
  produceSpans(provider.getTracer('agent-safety-otel', '0.1.0'), spans, seed);
  await provider.shutdown();
  return processor.chainId;
}

const lines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter(Boolean);
const chainOf = (line: string): string => (JSON.parse(line) as { chain_id: string }).chain_id;

function fails(report: AuditVerifyReport, reason: string, what: string): void {
  assert.not.ok(report.valid, `${what}: expected ${reason}, got VALID`);
  assert.is(report.failure!.reason, reason, `${what}: ${JSON.stringify(report.failure)}`);
}

const file = join(dir, 'audit.jsonl');
const runs: string[] = [];

test.before(async () => {
  for (let i = 0; i < 3; i++) runs.push(await run(file, 30, i + 1));
});

test('three runs in one keyed, signed file verify as one history', async () => {
  const r = await verifyAuditFiles([file], KEYED);
  assert.ok(r.valid, JSON.stringify(r.failure));
  assert.equal(r.chains.map(c => c.chainId), runs);
  assert.equal(r.chains.map(c => c.predecessor), [undefined, 'present', 'present']);
  assert.equal(r.chains.map(c => c.tail), ['sealed', 'sealed', 'sealed']);
  for (const c of r.chains) {
    assert.is(c.sealEvery, 10);
    assert.is(c.format, 2);
    assert.ok(c.sealsVerified >= 3);
  }
});

test('a run that died without its closing seal is covered by the next run, which names its last record', async () => {
  const crashed = join(dir, 'crashed.jsonl');
  const sink = new FileAuditSink({ path: crashed });
  const processor = new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans, hmacKey: { id: 'hk', key: HMAC }, signingKey: { id: 'sk', privateKey }, seals: { everyRecords: 10, everyMs: 3_600_000 } });
  const provider = sdkTrace.tracerProvider({ spanProcessors: [processor] });
  produceSpans(provider.getTracer('t'), 14);
  await processor.forceFlush(); // then the process dies: no shutdown, no closing seal
  await sink.shutdown();
  const alone = await verifyAuditFiles([crashed], KEYED);
  fails(alone, 'unsealed tail', 'the dead run alone');
  await run(crashed, 3, 7);
  const r = await verifyAuditFiles([crashed], KEYED);
  assert.ok(r.valid, JSON.stringify(r.failure));
  assert.equal(r.chains.map(c => c.tail), ['continued', 'sealed']);
});

test('a deleted run (the middle one, or the first) is a missing predecessor, unless anchored or waived', () => {
  const all = lines(file);
  const [a, b, c] = runs;
  const middle = all.filter(l => chainOf(l) !== b);
  const r = verifyAuditLines(middle, KEYED, 'audit.jsonl');
  fails(r, 'missing predecessor', 'middle run deleted');
  assert.is(r.failure!.chainId, c);
  assert.is(r.failure!.seq, 0);
  assert.match(r.failure!.detail, `continues chain ${b}`);
  const first = all.filter(l => chainOf(l) !== a);
  fails(verifyAuditLines(first, KEYED), 'missing predecessor', 'first run deleted');
  // waived, or anchored by the head the later run names (kept elsewhere)
  const waived = verifyAuditLines(first, { ...KEYED, allowMissingPredecessor: true });
  assert.ok(waived.valid, JSON.stringify(waived.failure));
  assert.is(waived.chains[0].predecessor, 'waived');
  const prev = (JSON.parse(first[0]) as { previous: { chain_id: string; seq: number; hash: string } }).previous;
  const anchored = verifyAuditLines(first, { ...KEYED, anchors: [{ chainId: prev.chain_id, seq: prev.seq, hash: prev.hash }] });
  assert.ok(anchored.valid, JSON.stringify(anchored.failure));
  assert.is(anchored.chains[0].predecessor, 'anchored');
});

test('a spliced chain from another process verifies alone; a manifest (the head command, kept elsewhere) reports it', async () => {
  const other = join(dir, 'other.jsonl');
  const stranger = await run(other, 12, 9);
  const spliced = [...lines(file), ...lines(other)];
  const splicedFile = join(dir, 'spliced.jsonl');
  writeFileSync(splicedFile, spliced.join('\n') + '\n');
  // valid with every key: nothing in the file says the stranger does not belong
  assert.ok((await verifyAuditFiles([splicedFile], KEYED)).valid);
  // heads taken before the splice, kept elsewhere
  const heads = captureIO();
  assert.is(await main(['head', file, '--hmac-key-file', writeKey(), '--public-key', writePub()], heads), 0, heads.stderr);
  assert.equal(heads.stdout.trim().split('\n').map(l => l.split(':')[0]), runs);
  const manifest = join(dir, 'heads.txt');
  writeFileSync(manifest, '# heads kept elsewhere\n' + heads.stdout);
  const io = captureIO();
  assert.is(await main(['verify', splicedFile, '--hmac-key-file', writeKey(), '--public-key', writePub(), '--manifest', manifest], io), 1);
  assert.match(io.stdout, `unexpected chain`);
  assert.match(io.stdout, `chain ${stranger} is not in the manifest`);
  const byIds = captureIO();
  assert.is(await main(['verify', splicedFile, '--hmac-key-file', writeKey(), '--public-key', writePub(), '--expect-chains', runs.join(',')], byIds), 1);
  assert.match(byIds.stdout, 'unexpected chain');
  // a later run continuing a listed chain is expected (it descends from the manifest)
  const grown = join(dir, 'grown.jsonl');
  writeFileSync(grown, readFileSync(file));
  const fourth = await run(grown, 5, 4);
  const later = captureIO();
  assert.is(await main(['verify', grown, '--hmac-key-file', writeKey(), '--public-key', writePub(), '--manifest', manifest], later), 0, later.stdout);
  assert.match(later.stdout, `chain ${fourth}`);
  // a listed chain that is gone
  const gone = captureIO();
  assert.is(await main(['verify', other, '--hmac-key-file', writeKey(), '--public-key', writePub(), '--manifest', manifest, '--allow-missing-predecessor'], gone), 1);
  assert.match(gone.stdout, 'missing chain');
});

test('a fork: two runs continuing one head, or two records of one chain after the same record', async () => {
  const base = join(dir, 'fork-base.jsonl');
  await run(base, 8, 1);
  const left = join(dir, 'fork-left.jsonl');
  const right = join(dir, 'fork-right.jsonl');
  writeFileSync(left, readFileSync(base));
  writeFileSync(right, readFileSync(base));
  await run(left, 4, 2);
  await run(right, 4, 3);
  const both = [...lines(left), ...lines(right).slice(lines(base).length)];
  fails(verifyAuditLines(both, KEYED), 'fork', 'two runs continue one head');
  // one chain id, two histories: a second record at seq 5 that follows seq 4 (with the key: an insider)
  const l = lines(base);
  const forged = rechain([...l.slice(0, 5), l[5].replace('"execute_tool tool_', '"execute_tool evil_')], 5, HMAC)[5];
  fails(verifyAuditLines([...l.slice(0, 6), forged, ...l.slice(6)], KEYED), 'fork', 'same chain, two histories');
});

test('cut tails: the last 1, 3, 10 or 30 records of a closed run (seals every 10) fail by default', () => {
  const last = lines(file);
  for (const n of [1, 3, 10, 11, 30]) {
    const cut = last.slice(0, -n);
    const r = verifyAuditLines(cut, KEYED);
    fails(r, 'unsealed tail', `cut ${n}`);
    assert.is(r.failure!.line, cut.length, `cut ${n}: reported at the last line left`);
    // a live file (the run still writing) may end after its last seal: then only a head kept elsewhere tells
    assert.ok(verifyAuditLines(cut, { ...KEYED, allowUnsealedTail: true }).valid, `cut ${n}, live`);
    const lastRecord = JSON.parse(last[last.length - 1]) as { chain_id: string; seq: number; hash: string };
    fails(verifyAuditLines(cut, { ...KEYED, allowUnsealedTail: true, expectedHeads: [{ chainId: lastRecord.chain_id, seq: lastRecord.seq, hash: lastRecord.hash }] }), 'truncated', `cut ${n}, expected head`);
  }
  // the whole last run gone: no successor names it; only a head or a manifest kept elsewhere tells
  const [, , c] = runs;
  const withoutLast = last.filter(l => chainOf(l) !== c);
  assert.ok(verifyAuditLines(withoutLast, KEYED).valid, 'a deleted last run is a clean cut: the documented limit');
  fails(verifyAuditLines(withoutLast, { ...KEYED, expectedChains: runs }), 'missing chain', 'last run deleted, manifest');
});

test('parser tricks: a duplicate member before the real one, a hash-valid line that is not JSON, numbers parsers read differently', () => {
  const l = lines(file);
  const k = 5;
  const rec = JSON.parse(l[k]) as Record<string, unknown>;
  // {"span": <transfer_funds>, …, "span": <real>}: JSON.parse keeps the last, other parsers the first
  const evilSpan = JSON.stringify({ ...(rec.span as object), name: 'execute_tool transfer_funds' });
  const dup = l[k].replace('"span":', `"span":${evilSpan},"span":`);
  assert.is(canonicalBody(JSON.parse(dup)), canonicalBody(rec), 'the hash still verifies (JSON.parse sees the real span)');
  const r = verifyAuditLines([...l.slice(0, k), dup, ...l.slice(k + 1)], KEYED);
  fails(r, 'malformed line', 'duplicate span');
  assert.is(r.failure!.line, k + 1);
  assert.match(r.failure!.detail, 'the member "span" appears twice');
  // a plain chain: lines that hash right over their text but are not JSON (or not strict JSON)
  const plain = join(dir, 'plain.jsonl');
  return run(plain, 6, 5, false).then(() => {
    const p = lines(plain);
    const retext = (line: string, body: string): string => {
      const prev = (JSON.parse(line) as { prev_hash: string }).prev_hash;
      return body + ',"hash":"' + chainHash(prev, body + '}') + '"}';
    };
    const bodyOf = (line: string): string => line.slice(0, line.length - 75);
    for (const [what, body] of [
      ['not JSON', bodyOf(p[3]).replace('"kind":', '"kind":01,"x":')],
      ['a stray comma', bodyOf(p[3]).replace('"links":[', '"links":[,')],
      ['a number out of range', bodyOf(p[3]).replace('"dropped_links_count":0', '"dropped_links_count":1e400')],
      ['an integer parsers read differently', bodyOf(p[3]).replace('"dropped_links_count":0', '"dropped_links_count":12345678901234567891')],
      ['a raw control character', bodyOf(p[3]).replace('"execute_tool', '"\u0001execute_tool')],
      ['a duplicate attribute', bodyOf(p[3]).replace('"attributes":{', '"attributes":{"gen_ai.tool.name":{"stringValue":"x"},')],
    ] as const) {
      const t = [...p];
      t[3] = retext(p[3], body);
      const report = verifyAuditLines(t, { allowUnsealedTail: true });
      assert.not.ok(report.valid, what);
      assert.ok(['malformed line', 'altered record'].includes(report.failure!.reason), `${what}: ${report.failure!.reason}`);
      assert.is(report.failure!.line, 4, what);
    }
  });
});

test('stripped seals: a promised seal missing is a failure; a chain without any, when a public key is given', () => {
  const all = lines(file);
  const [a] = runs;
  const runA = all.filter(l => chainOf(l) === a);
  const noSeals = renumbered(runA.filter(l => !l.includes('"name":"agent_safety.audit.seal"')));
  // an insider with the HMAC key (not the signing key) drops the seals and recomputes
  const keyed = verifyAuditLines(rechain(noSeals, 0, HMAC), KEYED);
  fails(keyed, 'missing seal', 'seals dropped, HMAC recomputed');
  assert.match(keyed.failure!.detail, 'promises one at least every 10');
  // a plain signed chain stripped of its seals and its policy, recomputed: caught with the public key
  const plainSigned = join(dir, 'plain-signed.jsonl');
  const processor = new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path: plainSigned })], filter: auditAllSpans, signingKey: { id: 'sk', privateKey }, seals: { everyRecords: 5 } });
  const provider = sdkTrace.tracerProvider({ spanProcessors: [processor] });
  produceSpans(provider.getTracer('t'), 12);
  return provider.shutdown().then(() => {
    const p = lines(plainSigned);
    assert.ok(verifyAuditLines(p, { publicKey }).valid);
    const stripped = p
      .filter(l => !l.includes('"name":"agent_safety.audit.seal"'))
      .map((l, i) => {
        const r = JSON.parse(l) as Record<string, unknown>;
        if (i === 0) delete r.seal_every;
        return JSON.stringify(r);
      });
    const forged = rechain(renumbered(stripped), 0);
    fails(verifyAuditLines(forged, { publicKey }), 'missing seal', 'stripped and recomputed, with the public key');
    assert.ok(verifyAuditLines(forged, {}).valid, 'without keys a recomputed plain chain cannot be told apart (documented)');
  });
});

test('empty input: exit 1 "no audit record" unless --allow-empty', async () => {
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  fails(await verifyAuditFiles([empty]), 'no audit record', 'empty file');
  assert.ok((await verifyAuditFiles([empty], { allowEmpty: true })).valid);
  const io = captureIO();
  assert.is(await main(['verify', empty], io), 1);
  assert.match(io.stdout, 'NO AUDIT RECORD');
  const ok = captureIO();
  assert.is(await main(['verify', empty, '--allow-empty'], ok), 0);
  const stdin = captureIO();
  stdin.stdin = (async function* () {})();
  assert.is(await main(['verify', '-'], stdin), 1);
  assert.match(stdin.stdout, 'no audit record');
  // blank lines and OTLP JSON without audit spans are no records either
  writeFileSync(empty, '\n\n{"resourceSpans":[]}\n');
  fails(await verifyAuditFiles([empty]), 'no audit record', 'no audit span');
});

/** Records given consecutive seqs again (as a forger who removed some would). */
function renumbered(ls: string[]): string[] {
  return ls.map((l, i) => JSON.stringify({ ...(JSON.parse(l) as object), seq: i }));
}

let keyPath: string | undefined;
let pubPath: string | undefined;
function writeKey(): string {
  keyPath ??= join(dir, 'hmac.key');
  writeFileSync(keyPath, HMAC);
  return keyPath;
}
function writePub(): string {
  pubPath ??= join(dir, 'pub.pem');
  writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
  return pubPath;
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
