/**
 * The audit verifier on chains of real SDK spans: round trips, tampering
 * generated across every field of every record kind, deletions, insertions,
 * reorders, duplicates, truncation, forged chains, keys and signatures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AUDIT_KEYS, CHECKPOINT_SPAN_NAME, GENESIS_HASH, SEAL_SPAN_NAME, chainHash, encodeRecordOpen, lineFromOpen, signCheckpoint } from '../../src/patterns/audit/audit-record.js';
import type { AuditSpanLike } from '../../src/patterns/audit/audit-record.js';
import { AuditInputError, AuditVerifier, readLineChunks, verifyAuditFiles, verifyAuditLines, verifyAuditStream, verifyAuditText } from '../../src/verify/audit-verify.js';
import * as nodeCrypto from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { ScanPool, makeChunkScanner } from '../../src/verify/audit-verify-scan.js';
import type { ChunkScanner } from '../../src/verify/audit-verify-scan.js';
import type { AuditVerifyOptions, AuditVerifyReport } from '../../src/verify/audit-verify.js';
import { TEST_RESOURCE, auditFixture, ed25519, produceSpans } from '../helpers/audit-fixtures.js';
import { paths, rechain, relinked, reserialise, withLeafChanged, withMemberAdded, withMemberDeleted } from '../helpers/audit-tamper.js';

const test = suite('audit verifier');

const HMAC = Buffer.from('0123456789abcdef0123456789abcdef');
const KEYS = ed25519();
const PREVIOUS = { chainId: 'earlier-run', seq: 41, hash: 'ab'.repeat(32) };

/**
 * A keyed, signed chain continuing an earlier one (not in the input: its
 * predecessor is waived): every record kind (seq 0 with resource/key_id/
 * previous/format/seal_every, spans, seals), sealed at the end as at shutdown.
 */
function keyedChain(spans = 12) {
  const f = auditFixture({
    hmacKey: { id: 'hk1', key: HMAC },
    signingKey: { id: 'sk1', privateKey: KEYS.privateKey },
    seals: { everyRecords: 5 },
    previous: PREVIOUS,
  });
  produceSpans(f.tracer, spans);
  f.seal();
  return { f, lines: f.lines(), options: { hmacKey: HMAC, hmacKeyId: 'hk1', publicKey: KEYS.publicKey, allowMissingPredecessor: true } as AuditVerifyOptions };
}

/** A signed chain without an HMAC key, sealed at the end. */
function plainChain(spans = 12, chainId?: string) {
  const f = auditFixture({ signingKey: { id: 'sk1', privateKey: KEYS.privateKey }, seals: { everyRecords: 5 }, ...(chainId ? { chainId } : {}) });
  produceSpans(f.tracer, spans);
  f.seal();
  return { f, lines: f.lines(), options: { publicKey: KEYS.publicKey } as AuditVerifyOptions };
}

function fails(report: AuditVerifyReport, reason: string | string[], line?: number, what = ''): void {
  assert.not.ok(report.valid, `expected a failure ${what}`);
  const reasons = Array.isArray(reason) ? reason : [reason];
  assert.ok(reasons.includes(report.failure!.reason), `${what}: reason ${report.failure!.reason} (${report.failure!.detail}), expected ${reasons.join(' | ')}`);
  if (line !== undefined) assert.is(report.failure!.line, line, `${what}: line (${report.failure!.reason}: ${report.failure!.detail})`);
}

function kinds(lines: string[]): Record<string, number> {
  const parsed = lines.map(l => JSON.parse(l));
  return {
    'seq 0 (resource, key id, previous)': 0,
    'span with events and links': parsed.findIndex(r => r.seq > 0 && r.span.links.length > 0 && r.span.events.length > 0),
    'child span': parsed.findIndex(r => r.seq > 0 && r.span.parent_span_id !== ''),
    seal: parsed.findIndex(r => r.span.name === SEAL_SPAN_NAME),
    'last record (the final seal)': lines.length - 1,
    'last span': lines.length - 2,
  };
}

test('round trip: a keyed, signed chain of real SDK spans verifies, JSONL and OTLP JSON', () => {
  const { f, lines, options } = keyedChain();
  for (const [what, report] of [
    ['jsonl', verifyAuditLines(lines, options)],
    ['otlp', verifyAuditText(f.otlpJson(4), options)],
  ] as const) {
    assert.ok(report.valid, `${what}: ${JSON.stringify(report.failure)}`);
    assert.is(report.chains.length, 1);
    const c = report.chains[0];
    assert.is(c.records, lines.length);
    assert.is(c.firstSeq, 0);
    assert.is(c.lastSeq, lines.length - 1);
    assert.is(c.headHash, f.records[f.records.length - 1].hash);
    assert.is(c.keyId, 'hk1');
    assert.equal(c.previous, PREVIOUS);
    assert.ok(c.sealsVerified >= 2, `${what}: checkpoints ${c.sealsVerified}`);
    assert.is(c.sealsUnverified, 0);
  }
});

for (const [name, make] of [['keyed', keyedChain], ['plain', plainChain]] as const) {
  test(`${name} chain: every leaf of every record kind, changed, is caught at its line`, () => {
    const { lines, options } = make();
    let cases = 0;
    for (const [kind, k] of Object.entries(kinds(lines))) {
      if (k < 0) continue;
      const record = JSON.parse(lines[k]);
      for (const path of paths(record).leaves) {
        for (const variant of [0, 1]) {
          const tampered = [...lines];
          tampered[k] = JSON.stringify(withLeafChanged(record, path, variant));
          if (tampered[k] === lines[k]) continue;
          const expected = path.length === 1 && path[0] === 'key_id' ? ['wrong key', 'altered record'] : 'altered record';
          fails(verifyAuditLines(tampered, options), expected, k + 1, `${name} ${kind} ${path.join('.')}`);
          cases++;
        }
      }
    }
    assert.ok(cases > 250, `only ${cases} cases`);
  });

  test(`${name} chain: every member of every record kind, deleted or added to, is caught at its line`, () => {
    const { lines, options } = make();
    for (const [kind, k] of Object.entries(kinds(lines))) {
      if (k < 0) continue;
      const record = JSON.parse(lines[k]);
      const { members } = paths(record);
      for (const path of members) {
        const tampered = [...lines];
        tampered[k] = JSON.stringify(withMemberDeleted(record, path));
        fails(verifyAuditLines(tampered, options), ['altered record', 'malformed line', 'wrong key', 'missing key'], k + 1, `${name} ${kind} delete ${path.join('.')}`);
      }
      for (const path of [[], ['span'], ['span', 'attributes'], ['span', 'status'], ['span', 'scope']]) {
        const tampered = [...lines];
        tampered[k] = JSON.stringify(withMemberAdded(record, path));
        fails(verifyAuditLines(tampered, options), 'altered record', k + 1, `${name} ${kind} add to ${path.join('.')}`);
      }
    }
  });
}

test('deletions: a middle record is a gap, the first a missing start', () => {
  const { lines, options } = plainChain();
  for (let k = 1; k < lines.length - 1; k++) {
    const tampered = lines.filter((_, i) => i !== k);
    fails(verifyAuditLines(tampered, options), 'gap', k + 1, `delete ${k}`);
  }
  fails(verifyAuditLines(lines.slice(1), options), 'missing start', 1);
});

test('broken links: a record re-hashed after its prev_hash changed is caught at its line, whatever the line before', () => {
  const { lines, options } = plainChain(30);
  const afterCheckpoint = lines.findIndex((l, i) => i > 0 && JSON.parse(lines[i - 1]).span.name === SEAL_SPAN_NAME);
  for (const k of [1, 2, 17, afterCheckpoint, lines.length - 1]) {
    const t = [...lines];
    t[k] = relinked(t[k], 'cd'.repeat(32));
    fails(verifyAuditLines(t, options), 'broken link', k + 1, `line ${k + 1}`);
  }
});

test('anchors: a later segment alone verifies after its anchor; a wrong or early anchor, earlier records, a missing key are caught', () => {
  const { lines, options } = plainChain(30);
  const cut = 20;
  const head = JSON.parse(lines[cut - 1]) as { chain_id: string; seq: number; hash: string };
  const anchor = { chainId: head.chain_id, seq: head.seq, hash: head.hash };
  const segment = lines.slice(cut);
  fails(verifyAuditLines(segment, options), 'missing start');
  const ok = verifyAuditLines(segment, { ...options, anchors: [anchor] });
  assert.ok(ok.valid, JSON.stringify(ok.failure));
  const c = ok.chains[0];
  assert.equal([c.firstSeq, c.lastSeq, c.records], [cut, lines.length - 1, lines.length - cut]);
  assert.equal(c.anchor, anchor);
  assert.is(c.headHash, JSON.parse(lines[lines.length - 1]).hash);
  assert.ok(c.sealsVerified > 0, 'checkpoints in the segment are checked');
  fails(verifyAuditLines(segment, { ...options, anchors: [{ ...anchor, hash: 'cd'.repeat(32) }] }), 'broken link', 1);
  fails(verifyAuditLines(segment, { ...options, anchors: [{ ...anchor, seq: anchor.seq - 1 }] }), 'gap');
  fails(verifyAuditLines(lines.slice(cut - 1), { ...options, anchors: [anchor] }), 'reordered', 1);
  const altered = [...segment];
  altered[3] = JSON.stringify(withLeafChanged(JSON.parse(altered[3]), ['span', 'name']));
  fails(verifyAuditLines(altered, { ...options, anchors: [anchor] }), 'altered record', 4);
  // keyed: the key verifies the segment; without it the first record cannot verify (seq 0, which names the key, is not there)
  const keyed = keyedChain(30);
  const kHead = JSON.parse(keyed.lines[cut - 1]) as { chain_id: string; seq: number; hash: string };
  const kAnchor = { chainId: kHead.chain_id, seq: kHead.seq, hash: kHead.hash };
  assert.ok(verifyAuditLines(keyed.lines.slice(cut), { ...keyed.options, anchors: [kAnchor] }).valid);
  const noKey = verifyAuditLines(keyed.lines.slice(cut), { publicKey: KEYS.publicKey, anchors: [kAnchor] });
  fails(noKey, 'altered record', 1);
  assert.match(noKey.failure!.detail, 'give the HMAC key');
  // OTLP: the segment's spans, batched out of order
  const otlp = keyed.f.otlpJson(4, cut).split('\n').filter(Boolean).reverse().join('\n') + '\n';
  const fromOtlp = verifyAuditText(otlp, { ...keyed.options, anchors: [kAnchor] });
  assert.ok(fromOtlp.valid, JSON.stringify(fromOtlp.failure));
  assert.is(fromOtlp.chains[0].firstSeq, cut);
  // seq 0 binds the resource; without it the segment's records must agree with the first after the anchor
  const batches = otlp.split('\n').filter(Boolean);
  const evil = batches.map((l, i) => (i === 0 ? l.replace('"stringValue":"audit-test"', '"stringValue":"audit-evil"') : l));
  assert.not.equal(evil[0], batches[0]);
  fails(verifyAuditLines(evil, { ...keyed.options, anchors: [kAnchor] }), 'altered record', 1);
});

test('reorders: two records swapped, or one moved, are caught at the first out of place', () => {
  const { lines, options } = plainChain();
  for (let k = 0; k < lines.length - 1; k++) {
    const t = [...lines];
    [t[k], t[k + 1]] = [t[k + 1], t[k]];
    fails(verifyAuditLines(t, options), k === 0 ? ['reordered', 'missing start'] : 'reordered', k + 1, `swap ${k}`);
  }
  const moved = [...lines];
  const [x] = moved.splice(2, 1);
  moved.push(x);
  fails(verifyAuditLines(moved, options), 'reordered', 3);
});

test('duplicates: an exact copy is caught, or skipped with allowDuplicates', () => {
  const { lines, options } = plainChain();
  for (const k of [0, 3, lines.length - 1]) {
    const t = [...lines];
    t.splice(k + 1, 0, lines[k]);
    fails(verifyAuditLines(t, options), 'duplicate', k + 2, `duplicate ${k}`);
    const later = [...lines, lines[k]];
    fails(verifyAuditLines(later, options), 'duplicate', lines.length + 1);
    const ok = verifyAuditLines(t, { ...options, allowDuplicates: true });
    assert.ok(ok.valid);
    assert.is(ok.chains[0].duplicatesIgnored, 1);
    assert.is(ok.chains[0].records, lines.length);
  }
});

test('insertions: a forged record with a seq already taken is caught, wherever it is put', () => {
  const { lines, options } = plainChain();
  const k = 4;
  const forged = rechain([...lines.slice(0, k), JSON.stringify(withLeafChanged(JSON.parse(lines[k]), ['span', 'name']))], k)[k];
  const after = [...lines];
  after.splice(k + 1, 0, forged);
  // it follows seq k - 1 as the real one does: two histories
  fails(verifyAuditLines(after, options), 'fork', k + 2);
  const before = [...lines];
  before.splice(k, 0, forged);
  fails(verifyAuditLines(before, options), 'fork', k + 2);
  // one that does not link
  const stray = relinked(forged, 'cd'.repeat(32));
  fails(verifyAuditLines([...lines.slice(0, k + 1), stray, ...lines.slice(k + 1)], options), 'inserted', k + 2);
  // a line from another chain's middle: a chain without its start
  const other = plainChain(6, 'other-chain').lines;
  fails(verifyAuditLines([...lines.slice(0, 3), other[3], ...lines.slice(3)], options), 'missing start', 4);
});

test('tail truncation: a cut after the last seal is an unsealed tail; an expected head or a seal held elsewhere also proves what was cut', () => {
  const { f, lines, options } = plainChain(20);
  const parsed = lines.map(l => JSON.parse(l));
  for (const n of [1, 2, 3, 10]) {
    const truncated = lines.slice(0, lines.length - n);
    const r = verifyAuditLines(truncated, options);
    // also a cut right after an interval seal: only the closing seal ends a chain
    fails(r, 'unsealed tail', truncated.length, `cut ${n}`);
    if (JSON.parse(truncated[truncated.length - 1]).span.name === SEAL_SPAN_NAME) assert.match(r.failure!.detail, 'at an interval seal');
    // a live file: the tail may follow the last seal
    assert.ok(verifyAuditLines(truncated, { ...options, allowUnsealedTail: true }).valid, `cut ${n}, live`);
  }
  const cutAt = lines.length - 3;
  const truncated = lines.slice(0, cutAt);
  const head = { chainId: f.chain.chainId, seq: lines.length - 1, hash: parsed[lines.length - 1].hash };
  fails(verifyAuditLines(truncated, { ...options, allowUnsealedTail: true, expectedHeads: [head] }), 'truncated', cutAt);
  assert.ok(verifyAuditLines(lines, { ...options, expectedHeads: [head] }).valid);
  assert.is(verifyAuditLines(lines, { ...options, expectedHeads: [head] }).chains[0].externalVerified, 1);
  // a seal record kept elsewhere (the last one before the final seal)
  const seals = parsed.map((r, i) => (r.span.name === SEAL_SPAN_NAME ? i : -1)).filter(i => i >= 0);
  const cpIndex = seals[seals.length - 2];
  const cp = parsed[cpIndex].span.attributes;
  const external = {
    claim: {
      chainId: f.chain.chainId,
      headSeq: Number(cp['agent_safety.audit.seal.head_seq'].intValue),
      headHash: cp['agent_safety.audit.seal.head_hash'].stringValue,
      timeUnixNano: cp['agent_safety.audit.seal.time_unix_nano'].stringValue,
      keyId: cp['agent_safety.audit.seal.key_id'].stringValue,
    },
    signature: cp['agent_safety.audit.seal.signature'].stringValue,
  };
  const beforeSeal = lines.slice(0, external.claim.headSeq - 1);
  assert.ok(verifyAuditLines(beforeSeal, { ...options, allowUnsealedTail: true }).valid, 'cut before the seal, a live file alone verifies');
  fails(verifyAuditLines(beforeSeal, { ...options, allowUnsealedTail: true, seals: [external] }), 'truncated', beforeSeal.length);
  assert.ok(verifyAuditLines(lines, { ...options, seals: [external] }).valid);
  // a forged external seal
  const forgedCp = { ...external, claim: { ...external.claim, headSeq: external.claim.headSeq + 1 } };
  fails(verifyAuditLines(lines, { ...options, seals: [forgedCp] }), 'bad signature');
  // an expected chain that is not there at all
  fails(verifyAuditLines(lines, { expectedHeads: [{ chainId: 'gone', seq: 3, hash: 'cd'.repeat(32) }] }), 'missing chain');
});

test('forged chains: a recomputed chain passes a plain check (undetectable), and is caught by HMAC, checkpoints or an expected head', () => {
  // plain chain, no checkpoints, no anchors: undetectable, as documented
  const bare = auditFixture();
  produceSpans(bare.tracer, 10);
  const k = 3;
  const change = (lines: string[]): string[] => {
    const t = [...lines];
    t[k] = JSON.stringify(withLeafChanged(JSON.parse(t[k]), ['span', 'attributes', 'gen_ai.tool.name', 'stringValue']));
    return t;
  };
  assert.ok(verifyAuditLines(rechain(change(bare.lines()), k)).valid, 'without keys or signatures a recomputed chain cannot be told apart');
  // with checkpoints, the next checkpoint's claimed head no longer matches (with or without the public key)
  const plain = plainChain(20);
  const forged = rechain(change(plain.lines), k);
  fails(verifyAuditLines(forged, plain.options), 'head mismatch');
  fails(verifyAuditLines(forged), 'head mismatch');
  // the forger also rewrites the claimed heads: the signature fails
  let forged2 = forged;
  let firstCp = -1;
  for (let i = k + 1; i < forged2.length; i++) {
    const r = JSON.parse(forged2[i]);
    if (r.span.name !== SEAL_SPAN_NAME) continue;
    if (firstCp < 0) firstCp = i;
    const headSeq = Number(r.span.attributes['agent_safety.audit.seal.head_seq'].intValue);
    r.span.attributes['agent_safety.audit.seal.head_hash'].stringValue = JSON.parse(forged2[headSeq]).hash;
    forged2 = rechain([...forged2.slice(0, i), JSON.stringify(r), ...forged2.slice(i + 1)], i);
  }
  fails(verifyAuditLines(forged2, plain.options), 'bad signature', firstCp + 1);
  assert.ok(verifyAuditLines(forged2).valid, 'without the public key the signature cannot be checked');
  // the last span, just before the final seal: the seal's head no longer matches
  const last = plain.lines.length - 2;
  const tail = [...plain.lines];
  tail[last] = JSON.stringify(withLeafChanged(JSON.parse(tail[last]), ['span', 'name']));
  fails(verifyAuditLines(rechain(tail, last), plain.options), 'head mismatch', last + 2);
  // …and with the final seal dropped, an unsealed tail
  fails(verifyAuditLines(rechain(tail, last).slice(0, -1), plain.options), 'unsealed tail', last + 1);
  // on a live file (unsealed tails allowed), only an anchor held elsewhere helps
  const forgedTail = rechain(tail, last).slice(0, -1);
  const live = { ...plain.options, allowUnsealedTail: true };
  assert.ok(verifyAuditLines(forgedTail, live).valid);
  const head = { chainId: plain.f.chain.chainId, seq: last, hash: JSON.parse(plain.lines[last]).hash };
  fails(verifyAuditLines(forgedTail, { ...live, expectedHeads: [head] }), 'head mismatch', last + 1);

  // keyed chain: a forger without the key
  const keyed = keyedChain(20);
  const kAltered = [...keyed.lines];
  kAltered[k] = JSON.stringify(withLeafChanged(JSON.parse(kAltered[k]), ['span', 'name']));
  fails(verifyAuditLines(rechain(kAltered, k), keyed.options), 'altered record', k + 1);
  fails(verifyAuditLines(rechain(kAltered, k, Buffer.from('a guessed key')), keyed.options), 'altered record', k + 1);
  // …who strips the key id and recomputes everything as a plain chain
  const stripped = keyed.lines.map((l, i) => {
    const r = JSON.parse(l);
    if (i === 0) delete r.key_id;
    return JSON.stringify(r);
  });
  fails(verifyAuditLines(rechain(stripped, 0), keyed.options), 'wrong key', 1);
});

test('keys: a keyed chain without the key is never valid; a wrong key or key id is reported', () => {
  const { lines, options } = keyedChain();
  fails(verifyAuditLines(lines, { publicKey: KEYS.publicKey }), 'missing key', 1);
  fails(verifyAuditLines(lines, { ...options, hmacKey: Buffer.from('not the key') }), 'wrong key', 1);
  fails(verifyAuditLines(lines, { ...options, hmacKeyId: 'hk2' }), 'wrong key', 1);
  assert.ok(verifyAuditLines(lines, { ...options, hmacKeyId: undefined }).valid);
  // a plain chain verified with a key: refused (it could be a stripped, recomputed one)
  fails(verifyAuditLines(plainChain().lines, options), 'wrong key', 1);
  // seals without the public key: counted as unverified, not failed
  const r = verifyAuditLines(lines, { hmacKey: HMAC, allowMissingPredecessor: true });
  assert.ok(r.valid);
  assert.is(r.chains[0].sealsVerified, 0);
  assert.ok(r.chains[0].sealsUnverified >= 2);
  // a signature by another key
  fails(verifyAuditLines(lines, { ...options, publicKey: ed25519().publicKey }), 'bad signature');
});

test('re-serialised but equal files verify (key order, whitespace, escapes); JSONL and OTLP', () => {
  const { f, lines, options } = keyedChain();
  const r = verifyAuditLines(lines.map(reserialise), options);
  assert.ok(r.valid, JSON.stringify(r.failure));
  assert.is(r.chains[0].sealsVerified, verifyAuditLines(lines, options).chains[0].sealsVerified);
  const otlp = f.otlpJson(3).trim().split('\n').map(reserialise);
  assert.ok(verifyAuditLines(otlp, options).valid);
  // CRLF line ends
  assert.ok(verifyAuditText(lines.join('\r\n') + '\r\n', options).valid);
});

test('torn and malformed lines', () => {
  const { lines, options } = plainChain();
  const text = lines.join('\n') + '\n';
  const torn = text.slice(0, text.length - 40);
  fails(verifyAuditText(torn, options), 'torn line', lines.length);
  // the final seal was torn: the chain is valid as a live (or crashed) one
  const r = verifyAuditText(torn, { ...options, allowUnsealedTail: true });
  fails(r, 'torn line', lines.length);
  assert.ok(r.chains[0].valid, 'the records before the torn line verify');
  assert.is(r.chains[0].records, lines.length - 1);
  // a complete last record without its newline is fine
  assert.ok(verifyAuditText(text.slice(0, -1), options).valid);
  fails(verifyAuditText(lines[0] + '\nnot json\n' + lines.slice(1).join('\n') + '\n', options), 'malformed line', 2);
  fails(verifyAuditText(lines[0] + '\n{"hello":1}\n' + lines.slice(1).join('\n') + '\n', options), 'malformed line', 2);
  assert.ok(verifyAuditText(text + '\n\n', options).valid, 'blank lines are ignored');
});

test('interleaved chains, continued chains', () => {
  const a = plainChain(10, 'chain-a');
  const b = plainChain(8, 'chain-b');
  const mixed: string[] = [];
  for (let i = 0; i < Math.max(a.lines.length, b.lines.length); i++) {
    if (a.lines[i]) mixed.push(a.lines[i]);
    if (b.lines[i]) mixed.push(b.lines[i]);
  }
  const r = verifyAuditLines(mixed, a.options);
  assert.ok(r.valid);
  assert.equal(r.chains.map(c => c.chainId).sort(), ['chain-a', 'chain-b']);
  // a later run continuing chain-a from its head
  const headA = { chainId: 'chain-a', seq: a.lines.length - 1, hash: JSON.parse(a.lines[a.lines.length - 1]).hash };
  const c = auditFixture({ chainId: 'chain-c', previous: headA });
  produceSpans(c.tracer, 3);
  assert.ok(verifyAuditLines([...a.lines, ...c.lines()]).valid);
  assert.ok(verifyAuditLines([...c.lines(), ...a.lines]).valid, 'whatever the file order');
  fails(verifyAuditLines([...a.lines.slice(0, -2), ...c.lines()]), 'truncated');
  const d = auditFixture({ chainId: 'chain-d', previous: { ...headA, hash: 'ef'.repeat(32) } });
  produceSpans(d.tracer, 2);
  fails(verifyAuditLines([...a.lines, ...d.lines()]), ['broken link', 'head mismatch']);
});

test('OTLP JSON: out-of-order batches verify; duplicates, gaps, changed resources are caught', () => {
  const { f, options } = keyedChain(30);
  const batches = f.otlpJson(4).trim().split('\n');
  const shuffled = [...batches].reverse();
  const r = verifyAuditLines(shuffled, options);
  assert.ok(r.valid, JSON.stringify(r.failure));
  assert.is(r.chains[0].records, f.records.length);
  const dup = [...batches.slice(0, 3), batches[1], ...batches.slice(3)];
  fails(verifyAuditLines(dup, options), 'duplicate', 4);
  assert.ok(verifyAuditLines(dup, { ...options, allowDuplicates: true }).valid);
  fails(verifyAuditLines(batches.filter((_, i) => i !== 2), options), 'gap');
  fails(verifyAuditLines(batches.slice(1), options), 'missing start');
  // a resource attribute changed in a later batch (bound by seq 0 only in the body)
  const changed = batches.map((l, i) => (i === 3 ? l.replace('"stringValue":"audit-test"', '"stringValue":"audit-evil"') : l));
  assert.not.equal(changed[3], batches[3]);
  fails(verifyAuditLines(changed, options), 'altered record', 4);
  // a span attribute changed in OTLP
  const attr = batches.map((l, i) => (i === 2 ? l.replace('"stringValue":"execute_tool"', '"stringValue":"execute_toal"') : l));
  fails(verifyAuditLines(attr, options), 'altered record', 3);
  // a gap in OTLP input longer than the buffer bound fails early, memory stays bounded
  fails(verifyAuditLines(batches.slice(1), { ...options, maxBuffered: 5 }), 'missing start');
});

test('chunk scanner: seals, seq 0 and strings starting with the mark take the slow path; other valid lines the fast one', () => {
  const f = auditFixture({ signingKey: { id: 'sk1', privateKey: KEYS.privateKey }, seals: { everyRecords: 5 } });
  for (let i = 0; i < 60; i++) {
    produceSpans(f.tracer, 1, i + 1);
    // near misses of the mark (fast path: inside a string, after an escaped quote, or a prefix of it),
    // and the mark starting a value or a key (slow path, still verified)
    if (i % 3 === 0) f.tracer.startSpan('execute_tool notes', { attributes: { note: 'at the safety.audit.seal', step: 'y.audit.', quoted: `"${SEAL_SPAN_NAME}"`, short: 'agent_safety.audi' } }).end();
    if (i % 7 === 0) f.tracer.startSpan('execute_tool notes', { attributes: { note: SEAL_SPAN_NAME } }).end();
    if (i % 11 === 0) f.tracer.startSpan('execute_tool notes', { attributes: { 'agent_safety.audit.note': 'x' } }).end();
  }
  f.seal();
  const lines = f.lines();
  // lines in several orders so that window edges fall inside every kind of line
  const order = [...lines, ...lines.slice(7), ...lines.slice(3), ...lines.slice(1)];
  const text = order.join('\n') + '\n';
  const slow = order.map(l => {
    const r = JSON.parse(l);
    return r.seq === 0 || r.span.name === SEAL_SPAN_NAME || r.span.attributes.note?.stringValue === SEAL_SPAN_NAME || 'agent_safety.audit.note' in r.span.attributes;
  });
  assert.ok(slow.filter(Boolean).length > 40, 'enough seals');
  assert.ok(order.filter(l => l.includes('the safety.audit.seal"') && l.includes(`\\"${SEAL_SPAN_NAME}`)).length > 40, 'enough near misses');
  assert.ok(verifyAuditLines(lines, { publicKey: KEYS.publicKey }).valid);
  const scan = makeChunkScanner(nodeCrypto, isUtf8, undefined, 'agent_safety.audit.')(Buffer.from(text));
  assert.is(scan.n, order.length);
  for (let i = 0; i < order.length; i++) assert.is(scan.status[i], slow[i] ? 1 : 0, `line ${i + 1}`);
});

test('worker pool: chunks scanned by the workers and by this thread, in any mix, give the one-thread verdict', async () => {
  for (const [name, make] of [['keyed', keyedChain], ['plain', plainChain]] as const) {
    const { lines, options } = make(400);
    const altered = [...lines];
    altered[333] = JSON.stringify(withLeafChanged(JSON.parse(altered[333]), ['span', 'name']));
    const unlinked = [...lines];
    unlinked[333] = relinked(unlinked[333], 'cd'.repeat(32), options.hmacKey);
    for (const [what, input, reason] of [['good', lines, ''], ['altered', altered, 'altered record'], ['unlinked', unlinked, 'broken link']] as const) {
      const text = input.join('\n') + '\n';
      const single = verifyAuditText(text, options, 'audit.jsonl');
      const pool = new ScanPool(2, options.hmacKey);
      try {
        await pool.whenReady();
        // count the chunks this thread scans itself (while both workers have two pending)
        const verifier = new AuditVerifier(options);
        const own = verifier.chunkScanner;
        let here = 0;
        const counting: ChunkScanner = chunk => (here++, own(chunk));
        Object.defineProperty(verifier, 'chunkScanner', { get: () => counting });
        async function* pieces(): AsyncGenerator<Buffer> {
          const bytes = Buffer.from(text);
          for (let i = 0; i < bytes.length; i += 7001) yield bytes.subarray(i, i + 7001); // cut mid-line
        }
        await verifyAuditStream(pieces(), 'audit.jsonl', verifier, undefined, pool, undefined, 20_000);
        const report = verifier.finish();
        assert.ok(pool.dispatched > 0 && here > 0, `${name} ${what}: workers scanned ${pool.dispatched}, this thread ${here}`);
        assert.equal(report, single, `${name} ${what}`);
        if (what === 'good') assert.ok(report.valid, JSON.stringify(report.failure));
        else fails(report, reason, 334, `${name} ${what}`);
      } finally {
        await pool.close();
      }
    }
  }
});

test('worker pool: a worker that dies with chunks pending fails them, saying how to verify on one thread', async () => {
  const { lines } = plainChain(60);
  const text = Buffer.from(lines.join('\n') + '\n');
  const big = Buffer.concat(Array.from({ length: Math.ceil((64 << 20) / text.length) }, () => text)); // a tenth of a second of hashing or more
  const pool = new ScanPool(1, undefined);
  await pool.whenReady();
  const pending = pool.scan(big).then(
    () => undefined,
    (err: unknown) => err,
  );
  await pool.close(); // while the chunk is pending (sent, or being hashed)
  const err = await pending;
  assert.instance(err, Error);
  assert.match((err as Error).message, /exited \(code \d+\) with 1 chunk\(s\) unscanned; --workers 0/);
  try {
    await pool.scan(text);
    assert.unreachable('a failed pool takes no more chunks');
  } catch (e) {
    assert.is(e, err);
  }
});

test('files read in many chunks (moved to started workers and back, buffers reused, lines cut across reads) give the one-thread verdict', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-verify-test-'));
  const { lines, options } = keyedChain(400);
  const unlinked = [...lines];
  unlinked[250] = relinked(unlinked[250], 'cd'.repeat(32), options.hmacKey);
  const pool = new ScanPool(2, options.hmacKey);
  try {
    await pool.whenReady();
    for (const [what, input] of [['good', lines], ['unlinked', unlinked]] as const) {
      const path = join(dir, `${what}.jsonl`);
      const text = input.join('\n') + '\n';
      writeFileSync(path, text);
      const single = verifyAuditText(text, options, path);
      for (const size of [1000, 20_000, 65_536]) {
        const verifier = new AuditVerifier(options);
        const spare: ArrayBuffer[] = [];
        const before = pool.dispatched;
        await verifyAuditStream(readLineChunks(path, undefined, size, spare), path, verifier, undefined, pool, spare);
        assert.ok(pool.dispatched > before, 'the workers scanned chunks');
        assert.ok(spare.length > 0, 'read buffers came back for reuse');
        assert.equal(verifier.finish(), single, `${what}, ${size}-byte reads`);
      }
    }
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: workers on and off give the same verdict; unreadable input is an input error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-verify-test-'));
  try {
    const { lines, options } = plainChain(300);
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, lines.join('\n') + '\n');
    const bad = join(dir, 'bad.jsonl');
    const t = [...lines];
    t[200] = JSON.stringify(withLeafChanged(JSON.parse(t[200]), ['span', 'name']));
    writeFileSync(bad, t.join('\n') + '\n');
    for (const workers of [0, 2]) {
      const ok = await verifyAuditFiles([good], { ...options, workers });
      assert.ok(ok.valid, `workers ${workers}: ${JSON.stringify(ok.failure)}`);
      assert.is(ok.chains[0].records, lines.length);
      const nok = await verifyAuditFiles([bad], { ...options, workers });
      fails(nok, 'altered record', 201, `workers ${workers}`);
      assert.is(nok.failure!.file, bad);
    }
    // interleaved chains through the worker path
    const other = plainChain(120, 'other-chain').lines;
    const mixed: string[] = [];
    for (let i = 0; i < lines.length; i++) mixed.push(lines[i], ...(i < other.length && i % 2 === 0 ? [other[i], other[i + 1]] : []));
    const mixedFile = join(dir, 'mixed.jsonl');
    writeFileSync(mixedFile, mixed.filter(Boolean).join('\n') + '\n');
    for (const workers of [0, 2]) {
      const r = await verifyAuditFiles([mixedFile], { ...options, workers });
      assert.ok(r.valid, JSON.stringify(r.failure));
      assert.equal(r.chains.map(c => c.records).sort((a, b) => a - b), [other.length, lines.length]);
    }
    // a file split in two (rotation): verified in order as one history
    const part1 = join(dir, 'audit.1.jsonl');
    const part2 = join(dir, 'audit.2.jsonl');
    writeFileSync(part1, lines.slice(0, 100).join('\n') + '\n');
    writeFileSync(part2, lines.slice(100).join('\n') + '\n');
    assert.ok((await verifyAuditFiles([part1, part2], options)).valid);
    let progress = 0;
    await verifyAuditFiles([good], { ...options, onProgress: (read, total) => (progress = read / total) });
    assert.is(progress, 1);
    try {
      await verifyAuditFiles([join(dir, 'missing.jsonl')]);
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, AuditInputError);
    }
    try {
      await verifyAuditFiles([dir]);
      assert.unreachable('should throw');
    } catch (err) {
      assert.instance(err, AuditInputError);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


test('format 1 files (no format member, signed checkpoints, the whole resource) still verify', () => {
  const f = auditFixture({ chainId: 'format-1' });
  produceSpans(f.tracer, 8);
  const spans = f.stampedSpans;
  const lines: string[] = [];
  let prev = GENESIS_HASH;
  let seq = 0;
  const push = (span: AuditSpanLike): void => {
    const open = encodeRecordOpen({ chainId: 'format-1', seq, prevHash: prev, resource: seq === 0 ? { ...TEST_RESOURCE, 'process.command_args': ['node', 'a.js'] } : undefined }, span);
    prev = chainHash(prev, open + '}');
    lines.push(lineFromOpen(open, prev));
    seq++;
  };
  const checkpoint = (): void => {
    const claim = { chainId: 'format-1', headSeq: seq - 1, headHash: prev, timeUnixNano: '1764547200000000000', keyId: 'old-key' };
    const attributes = {
      [AUDIT_KEYS.checkpointHeadSeq]: claim.headSeq,
      [AUDIT_KEYS.checkpointHeadHash]: claim.headHash,
      [AUDIT_KEYS.checkpointTime]: claim.timeUnixNano,
      [AUDIT_KEYS.checkpointKeyId]: claim.keyId,
      [AUDIT_KEYS.checkpointSignature]: signCheckpoint(claim, KEYS.privateKey),
    };
    const ctx = { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8) };
    push({
      name: CHECKPOINT_SPAN_NAME, kind: 0, spanContext: () => ctx, parentSpanContext: undefined, startTime: [1764547200, 0], endTime: [1764547200, 0],
      status: { code: 0 }, attributes, events: [], links: [], droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
      instrumentationScope: { name: 'agent-safety-otel', version: '0.1.0' },
    });
  };
  spans.forEach((s, i) => {
    push(s);
    if (i % 3 === 2) checkpoint();
  });
  checkpoint();
  const r = verifyAuditLines(lines, { publicKey: KEYS.publicKey });
  assert.ok(r.valid, JSON.stringify(r.failure));
  assert.is(r.chains[0].format, 1);
  assert.ok(r.chains[0].sealsVerified >= 3);
  assert.is(r.chains[0].tail, 'sealed');
  assert.ok(lines[0].includes('process.command_args'), 'format 1 chained the whole resource');
  // a change is caught; a forged checkpoint signature too
  const t = [...lines];
  t[4] = JSON.stringify(withLeafChanged(JSON.parse(t[4]), ['span', 'name']));
  fails(verifyAuditLines(t, { publicKey: KEYS.publicKey }), 'altered record', 5);
  fails(verifyAuditLines(lines, { publicKey: ed25519().publicKey }), 'bad signature');
  // the honest limit of format 1: a cut right after a checkpoint cannot be told (a checkpoint could not say it closed the chain)
  const atCheckpoint = lines.findIndex(l => l.includes(CHECKPOINT_SPAN_NAME));
  assert.ok(verifyAuditLines(lines.slice(0, atCheckpoint + 1), { publicKey: KEYS.publicKey }).valid);
});

test('a format this verifier does not know (a later one, or not an integer) is unsupported format, never read as format 1 or 2', () => {
  const { lines } = plainChain(6);
  for (const format of [3, 0, '2', 2.5, null]) {
    const seq0 = JSON.parse(lines[0]) as Record<string, unknown>;
    seq0.format = format;
    const forged = rechain([JSON.stringify(seq0), ...lines.slice(1)]);
    fails(verifyAuditLines(forged, { publicKey: KEYS.publicKey }), 'unsupported format', 1, `format ${JSON.stringify(format)}`);
  }
  // The same rechaining with format 2 kept gives the very lines back, which verify: only the format was at fault above.
  assert.equal(rechain(lines.slice()), lines);
  assert.ok(verifyAuditLines(lines, { publicKey: KEYS.publicKey }).valid);
});

test.run();
