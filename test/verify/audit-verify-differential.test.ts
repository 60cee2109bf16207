/**
 * Differential fuzz of the verifier's two paths: 12,000 seeded mutations of
 * record lines (duplicate members, whitespace, number spellings, escapes,
 * control characters, invalid UTF-8, reordered members, deep nesting,
 * garbage), each re-hashed over its new text so that the fast path's hash
 * check passes, are verified twice: as the verifier does (fast path first)
 * and with every line forced through the slow path (strict parse, RFC 8785,
 * hash). The two reports must be identical: the fast path never accepts
 * what the slow path rejects, nor the reverse. Three cases in four, the
 * fast path has first seen the unmutated lines, so that it checks the
 * mutated one against their shapes (as it does for most lines of a file).
 *
 * Seals too: whole keyed chains that seal themselves (every 3 records and a
 * closing seal; HMAC and signed, signed only, HMAC only) with one line
 * mutated (a seal line one time in two: its name, its attribute keys and
 * values, the mark hidden behind an escape, the mark planted in another
 * record), that line re-hashed and every line after it re-chained, are
 * verified both ways: seal detection (seals counted, checked, missing,
 * unsealed tails) must give the same report.
 */
import { createHash, createHmac } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditVerifier } from '../../src/verify/audit-verify.js';
import type { AuditVerifyOptions, AuditVerifyReport } from '../../src/verify/audit-verify.js';
import type { ChunkScan } from '../../src/verify/audit-verify-scan.js';
import { auditFixture, ed25519, produceSpans } from '../helpers/audit-fixtures.js';

const test = suite('audit verifier: fast and slow paths agree');

const HMAC = Buffer.from('differential-key-0123456789abcdef');
const CASES = 12_000;

/** A scan that sends every line to the slow path. */
function slowScan(chunk: Buffer): ChunkScan {
  const starts: number[] = [];
  const ends: number[] = [];
  let start = 0;
  for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
    starts.push(start);
    ends.push(nl);
    start = nl + 1;
  }
  const n = starts.length;
  return {
    n,
    status: new Uint8Array(n).fill(1),
    starts: Int32Array.from(starts),
    ends: Int32Array.from(ends),
    chainEnds: new Int32Array(n),
    seqs: new Float64Array(n),
    linked: new Uint8Array(n),
    shaped: 0,
  };
}

/**
 * Verifies `chunk` with a fresh verifier. With `warm`, its scanner first
 * scans those lines (result discarded), so that it knows their shapes and
 * checks the chunk's lines against them (the path most lines of a real file
 * take) rather than walking them.
 */
function verify(chunk: Buffer, options: AuditVerifyOptions, slow: boolean, warm?: Buffer): { report: AuditVerifyReport; fast: number; shaped: number } {
  const v = new AuditVerifier(options);
  v.beginFile('f');
  if (warm !== undefined && !slow) v.chunkScanner(Buffer.from(warm));
  const scan = slow ? slowScan(chunk) : v.chunkScanner(chunk);
  const fast = slow ? 0 : Array.from(scan.status.subarray(0, scan.n)).filter(s => s === 0).length;
  v.addScan(chunk, scan, 'f', 1);
  return { report: v.finish(), fast, shaped: scan.shaped };
}

/** A line rebuilt around a new body text, hashed over that text as the fast path hashes it. */
function rehashed(body: Buffer, prevHash: string, key: Buffer | undefined): Buffer {
  const h = key ? createHmac('sha256', key) : createHash('sha256');
  const digest = h.update(prevHash).update(body).update('}').digest('hex');
  return Buffer.concat([body, Buffer.from(`,"hash":"${digest}"}`)]);
}

let seed = 0x2545f491;
const rnd = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)];

/** Positions in `s` right after a quote that opens a member name (a `"` after `{` or `,`). */
function memberStarts(s: string): number[] {
  const out: number[] = [];
  for (let i = 1; i < s.length; i++) if (s[i] === '"' && (s[i - 1] === '{' || s[i - 1] === ',')) out.push(i);
  return out;
}

const NUMBERS = ['1.0', '1e0', '1E0', '10e-1', '01', '-0', '0.0', '1e400', '-1e400', '1e-400', '12345678901234567891', '9007199254740993', '9007199254740992',
  '0.1000000000000000000001', '0.26000000000000000000', '1.5e+0', '2.6e-1', '+1', '.5', '5.', '0x10', 'NaN', 'Infinity', '123456789012345', '1234567890123456',
  '0.000001', '0.0000001', '0.00001234', '1e-7', '1e-6', '123456789012.345', '1234567890123.456', '12345678901234.56', '-0.5', '100.5', '0.10', '1e+21', '1e21', '100000000000000000000', '0.1', '0.30000000000000004'];
const ESCAPES = ['\\u0041', '\\/', '\\u00E9', '\\u00e9', '\\ud83d\\ude00', '\\ud800', '\\udc00x', '\\u001f', '\\u001F', '\\u000a', '\\n', '\\t', '\\u0008', '\\x41', '\\a', '\\u12'];
const RAW: Buffer[] = [Buffer.from([0x09]), Buffer.from([0x01]), Buffer.from([0x7f]), Buffer.from([0xc3, 0xa9]), Buffer.from([0xc3]), Buffer.from([0xff]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf0, 0x9f, 0x98, 0x80]), Buffer.from([0xe2, 0x80, 0xa8]), Buffer.from([0xc0, 0xaf])];

/** One mutation of a record body (the line before its `,"hash":` tail). */
function mutate(body: string): Buffer {
  const members = memberStarts(body);
  switch (rnd(14)) {
    case 0: {
      // a duplicate member: a copy of the member at p (same or another value), before or after it
      const p = pick(members);
      const end = body.indexOf('":', p) + 2;
      const name = body.slice(p, end);
      const value = pick(['{"x":1}', '"execute_tool transfer_funds"', '1', 'null', '[]', '{"name":"transfer_funds"}']);
      return Buffer.from(rnd(2) ? body.slice(0, p) + name + value + ',' + body.slice(p) : body.slice(0, end) + value + ',' + name + body.slice(end));
    }
    case 1: {
      const p = 1 + rnd(body.length - 1);
      return Buffer.from(body.slice(0, p) + pick([' ', '\t', '\r', '\n ', '  ']) + body.slice(p));
    }
    case 2: {
      // a number token swapped for another spelling
      const re = /(?<=[:[,])-?\d+(\.\d+)?([eE][+-]?\d+)?(?=[,}\]])/g;
      const all = [...body.matchAll(re)];
      if (all.length === 0) return Buffer.from(body);
      const m = pick(all);
      return Buffer.from(body.slice(0, m.index) + pick(NUMBERS) + body.slice(m.index! + m[0].length));
    }
    case 3: {
      // an escape inside a string (at a letter inside quotes, approximately)
      const letters = [...body.matchAll(/[a-z]/g)];
      const m = pick(letters);
      return Buffer.from(body.slice(0, m.index) + pick(ESCAPES) + body.slice(m.index! + 1));
    }
    case 4: {
      // raw bytes: control characters, DEL, valid and invalid UTF-8
      const p = 1 + rnd(body.length - 1);
      const b = Buffer.from(body);
      return Buffer.concat([b.subarray(0, p), pick(RAW), b.subarray(p)]);
    }
    case 5: {
      // two members of one object swapped (approximately: adjacent member starts)
      if (members.length < 3) return Buffer.from(body);
      const i = rnd(members.length - 1);
      const a = members[i];
      const b = members[i + 1];
      const c = body.indexOf(',', b) > 0 && body[b - 1] === ',' ? b - 1 : -1;
      if (c < 0) return Buffer.from(body);
      return Buffer.from(body.slice(0, a) + body.slice(b, b + (b - a)) + body.slice(a, c) + body.slice(b + (b - a)));
    }
    case 6: {
      // deep nesting inside an attribute value
      const depth = pick([10, 60, 63, 64, 65, 70, 200, 5000]);
      const p = body.indexOf('"attributes":{') + 14;
      return Buffer.from(body.slice(0, p) + '"deep":' + '['.repeat(depth) + ']'.repeat(depth) + ',' + body.slice(p));
    }
    case 7: {
      // garbage: a byte replaced, inserted or removed
      const p = 1 + rnd(body.length - 1);
      const ch = pick(['{', '}', '[', ']', ',', ':', '"', '\\', 'x', '0', "'", 'NaN']);
      const how = rnd(3);
      return Buffer.from(how === 0 ? body.slice(0, p) + ch + body.slice(p + 1) : how === 1 ? body.slice(0, p) + ch + body.slice(p) : body.slice(0, p) + body.slice(p + 1));
    }
    case 8: {
      // a member name with an escape or a non-ASCII character (sorted differently by bytes and by UTF-16)
      const p = pick(members);
      return Buffer.from(body.slice(0, p + 1) + pick(['\\u0061', 'é', '\uffff', '\u{1f600}', 'A', 'z', '\\"']) + body.slice(p + 1));
    }
    case 9: {
      // a trailing comma, an empty member name, literals
      const p = pick(members);
      return Buffer.from(body.slice(0, p) + pick(['"":1,', '"a":true,', '"a":tru,', '"a":nul,', '"a":[1,],', '"a":{},', '"a":[],', '"a":-,']) + body.slice(p));
    }
    case 10: {
      // the body cut short, or unbalanced
      const cut = 1 + rnd(body.length - 1);
      return Buffer.from(rnd(2) ? body.slice(0, cut) : body + pick(['}', ']', '}}', ',"z":1']));
    }
    case 11: {
      // an attribute value ({"stringValue":…} or {"intValue":…}) with a second member, sorted or not, or twice the same
      const all = [...body.matchAll(/\{"(stringValue|intValue)":"[^"]*"\}/g)];
      if (all.length === 0) return Buffer.from(body);
      const m = pick(all);
      const extra = pick([',"zz":1', ',"a":1', ',"stringValue":"x"', ',"intValue":"1"', ',"stringValuf":""', ' ', ',"stringValue":"other"']);
      const inner = m[0].slice(0, -1) + extra + '}';
      return Buffer.from(body.slice(0, m.index) + inner + body.slice(m.index! + m[0].length));
    }
    case 12: {
      // a literal (true, false, null) misspelt, or swapped for another value
      const all = [...body.matchAll(/(?<=[:[,])(true|false|null)(?=[,}\]])/g)];
      if (all.length === 0) return Buffer.from(body);
      const m = pick(all);
      const word = pick(['tru', 'truee', 'tXue', 'trUe', 'True', 'fals', 'fXlse', 'falsee', 'nul', 'nXll', 'nulll', 't', 'f', 'n', 'true', 'false', 'null', '0', '""', '"true"', 'true1', 'true"', '-']);
      return Buffer.from(body.slice(0, m.index) + word + body.slice(m.index! + m[0].length));
    }
    default: {
      // a duplicate member inside the span's attributes
      const p = body.indexOf('"attributes":{') + 14;
      const q = body.indexOf('"', p + 1);
      if (q < 0) return Buffer.from(body);
      const name = body.slice(p, q + 1);
      return Buffer.from(body.slice(0, p) + name + ':{"stringValue":"other"},' + body.slice(p));
    }
  }
}

function subject(keyed: boolean): { lines: string[]; options: AuditVerifyOptions; text: Buffer } {
  const f = auditFixture({ chainId: keyed ? 'diff-keyed' : 'diff-plain', hmacKey: keyed ? { id: 'hk', key: HMAC } : undefined });
  produceSpans(f.tracer, 6, keyed ? 11 : 7);
  f.tracer.startSpan('odd', { attributes: { u: 'é \u2028 \u{1f600} "q" \\ \t', n: 0.1, big: 2 ** 52, neg: -3, e: 1e21, tiny: 5e-7 } }).end();
  return { lines: f.lines(), options: { hmacKey: keyed ? HMAC : undefined, allowUnsealedTail: true }, text: Buffer.from(f.jsonl()) };
}

test(`${CASES.toLocaleString('en-US')} mutated, re-hashed records: the fast path and the slow path give the same report`, () => {
  let disagreements = 0;
  let fastAccepted = 0;
  let fastAcceptedWarm = 0;
  let accepted = 0;
  let rejected = 0;
  const firstDisagreements: string[] = [];
  const subjects = [subject(false), subject(true)];
  for (let i = 0; i < CASES; i++) {
    const { lines, options, text } = subjects[i % 2];
    // three cases in four: the scanner has seen the unmutated lines (their shapes) first
    const warm = i % 4 !== 0 ? text : undefined;
    const k = 1 + rnd(lines.length - 1);
    const line = lines[k];
    const tail = line.length - 75;
    const { prev_hash: prevHash, chain_id: chainId } = JSON.parse(line) as { prev_hash: string; chain_id: string };
    const mutated = rehashed(mutate(line.slice(0, tail)), prevHash, options.hmacKey as Buffer | undefined);
    // the line alone, after an anchor at the record before it (so only it is checked)
    const chunk = Buffer.concat([mutated, Buffer.from('\n')]);
    const anchored = { ...options, anchors: [{ chainId, seq: k - 1, hash: prevHash }] };
    const fast = verify(chunk, anchored, false, warm);
    const slow = verify(chunk, anchored, true);
    const a = JSON.stringify(fast.report);
    const b = JSON.stringify(slow.report);
    if (a !== b) {
      disagreements++;
      if (firstDisagreements.length < 3) firstDisagreements.push(`${mutated.toString('latin1').slice(0, 300)}\n fast: ${JSON.stringify(fast.report.failure)}\n slow: ${JSON.stringify(slow.report.failure)}`);
    }
    if (fast.fast === 1) fastAccepted++;
    if (fast.shaped === 1) fastAcceptedWarm++;
    if (slow.report.valid) accepted++;
    else rejected++;
  }
  assert.is(disagreements, 0, firstDisagreements.join('\n\n'));
  // both sides of the oracle are exercised
  assert.ok(rejected > CASES / 2, `rejected ${rejected}`);
  assert.ok(accepted > CASES / 20, `accepted ${accepted} (mutations whose text is still canonical)`);
  assert.ok(fastAccepted > CASES / 20, `accepted by the fast path ${fastAccepted}`);
  assert.ok(fastAcceptedWarm > CASES / 40, `accepted by the fast path through a known shape ${fastAcceptedWarm}`);
});

const SEAL_CASES = 3_000;
const SEAL_NAME = 'agent_safety.audit.seal';

/** A keyed chain that seals itself every 3 records and closes with a final seal. */
function sealedSubject(kind: 'hmac+signed' | 'signed' | 'hmac'): { lines: string[]; options: AuditVerifyOptions } {
  const { privateKey, publicKey } = ed25519();
  const hmac = kind !== 'signed';
  const signed = kind !== 'hmac';
  const f = auditFixture({
    chainId: `diff-sealed-${kind}`,
    hmacKey: hmac ? { id: 'hk', key: HMAC } : undefined,
    signingKey: signed ? { id: 'sk', privateKey } : undefined,
    seals: { everyRecords: 3 },
  });
  produceSpans(f.tracer, 9, kind.length);
  f.seal();
  return { lines: f.lines(), options: { hmacKey: hmac ? HMAC : undefined, publicKey: signed ? publicKey : undefined } };
}

/** A mutation aimed at seal detection (of a seal line or of another record), else a generic one. */
function mutateSealish(body: string, isSeal: boolean): Buffer {
  const swaps: Array<[string | RegExp, string]> = isSeal
    ? [
        [`"name":"${SEAL_NAME}"`, `"name":"agent_safety.audit.seaL"`],
        [`"name":"${SEAL_NAME}"`, `"name":"agent_safety\\u002eaudit.seal"`],
        [`"name":"${SEAL_NAME}"`, `"name":"\\u0061gent_safety.audit.seal"`],
        [`"name":"${SEAL_NAME}"`, `"name":"xagent_safety.audit.seal"`],
        [`"name":"${SEAL_NAME}"`, `"name":"execute_tool transfer_funds"`],
        ['"agent_safety.audit.seal.head_seq"', '"agent_safety\\u002eaudit.seal.head_seq"'],
        ['"agent_safety.audit.seal.head_seq"', '"agent_safety.audit.seal.head_seq_"'],
        ['"agent_safety.audit.seal.head_hash"', '"agent_safety.audit.seal.head_hasH"'],
        ['"agent_safety.audit.seal.final":{"boolValue":true}', '"agent_safety.audit.seal.final":{"boolValue":false}'],
        [/"agent_safety\.audit\.seal\.final":\{"boolValue":true\},?/, ''],
        ['"agent_safety.audit.seal.head_hash"', '"agent_safety.audit.seal.final":{"boolValue":true},"agent_safety.audit.seal.head_hash"'],
        [/"agent_safety\.audit\.seal\.head_seq":\{"intValue":"(\d+)"\}/, '"agent_safety.audit.seal.head_seq":{"intValue":"7"}'],
        [/"agent_safety\.audit\.seal\.time_unix_nano":\{"stringValue":"(\d)/, '"agent_safety.audit.seal.time_unix_nano":{"stringValue":"2'],
        [/"agent_safety\.audit\.seal\.signature":\{"stringValue":"./, '"agent_safety.audit.seal.signature":{"stringValue":"A'],
        [/"agent_safety\.audit\.seal\.key_id":\{"stringValue":"[^"]*"\},?/, ''],
      ]
    : [
        // the span's name (the one before parent_span_id; events have names too)
        [/"name":"[^"]*","parent_span_id"/, `"name":"${SEAL_NAME}","parent_span_id"`],
        [/"name":"[^"]*","parent_span_id"/, `"name":"${SEAL_NAME}.x","parent_span_id"`],
        [/"name":"[^"]*","parent_span_id"/, `"name":"${SEAL_NAME.slice(0, -1)}","parent_span_id"`],
        [/"name":"[^"]*"/, `"name":"${SEAL_NAME}"`],
        ['"attributes":{"', '"attributes":{"agent_safety.audit.seal.head_seq":{"intValue":"1"},"'],
        ['"attributes":{"', '"attributes":{"agent_safety.audit.":{"stringValue":"x"},"'],
        [/\{"stringValue":"[^"]*"\}/, `{"stringValue":"${SEAL_NAME}"}`],
        [/\{"stringValue":"[^"]*"\}/, '{"stringValue":"agent_safety.audit"}'],
        [/"kind":\d/, '"kind":"agent_safety.audit.seal"'],
      ];
  if (rnd(3) === 0) return mutate(body);
  const [from, to] = pick(swaps);
  return Buffer.from(body.replace(from, to));
}

/** Replaces line `k` with `body` (re-hashed) and re-chains every line after it. */
function rechained(lines: readonly string[], k: number, body: Buffer, key: Buffer | undefined): Buffer {
  const out: Buffer[] = lines.slice(0, k).map(l => Buffer.from(l + '\n'));
  const prevOf = (line: string): string => (JSON.parse(line) as { prev_hash: string }).prev_hash;
  let line = rehashed(body, k === 0 ? '0'.repeat(64) : prevOf(lines[k]), key);
  out.push(line, Buffer.from('\n'));
  for (let j = k + 1; j < lines.length; j++) {
    const text = lines[j];
    const hash = line.toString('latin1').slice(-66, -2);
    const p = text.indexOf('"prev_hash":"') + 13;
    line = rehashed(Buffer.from(text.slice(0, p) + hash + text.slice(p + 64, -75)), hash, key);
    out.push(line, Buffer.from('\n'));
  }
  return Buffer.concat(out);
}

test(`${SEAL_CASES.toLocaleString('en-US')} sealing chains with one line mutated (seals first): the fast path and the slow path give the same report`, () => {
  let disagreements = 0;
  let valid = 0;
  let invalid = 0;
  let sealLines = 0;
  let shaped = 0;
  const reasons = new Set<string>();
  const firstDisagreements: string[] = [];
  const subjects = [sealedSubject('hmac+signed'), sealedSubject('signed'), sealedSubject('hmac')];
  for (const { lines } of subjects) assert.ok(lines.filter(l => l.includes(`"name":"${SEAL_NAME}"`)).length >= 4, 'seals in the subject');
  for (let i = 0; i < SEAL_CASES; i++) {
    const { lines, options } = subjects[i % 3];
    const seals = lines.map((l, j) => (l.includes(`"name":"${SEAL_NAME}"`) ? j : -1)).filter(j => j >= 0);
    // a seal line one time in two, the closing seal often, else any line (seq 0 too); one case in ten unmutated
    const k = rnd(2) === 0 ? pick(seals) : rnd(4) === 0 ? lines.length - 1 : rnd(lines.length);
    const line = lines[k];
    const isSeal = seals.includes(k);
    if (isSeal) sealLines++;
    const body = line.slice(0, line.length - 75);
    const mutated = rnd(10) === 0 ? Buffer.from(body) : mutateSealish(body, isSeal);
    const chunk = rechained(lines, k, mutated, options.hmacKey as Buffer | undefined);
    const fast = verify(chunk, options, false);
    const slow = verify(chunk, options, true);
    shaped += fast.shaped;
    const a = JSON.stringify(fast.report);
    const b = JSON.stringify(slow.report);
    if (a !== b) {
      disagreements++;
      if (firstDisagreements.length < 3) firstDisagreements.push(`line ${k}: ${mutated.toString('latin1').slice(0, 400)}\n fast: ${a.slice(0, 600)}\n slow: ${b.slice(0, 600)}`);
    }
    if (slow.report.valid) valid++;
    else {
      invalid++;
      reasons.add(slow.report.failure!.reason);
    }
  }
  assert.is(disagreements, 0, firstDisagreements.join('\n\n'));
  assert.ok(sealLines > SEAL_CASES / 3, `seal lines mutated ${sealLines}`);
  assert.ok(valid > SEAL_CASES / 20 && invalid > SEAL_CASES / 2, `valid ${valid}, invalid ${invalid}`);
  // seal detection itself was exercised: seals found bad, missing or absent at the end
  for (const reason of ['bad seal', 'missing seal', 'unsealed tail', 'bad signature', 'altered record']) assert.ok(reasons.has(reason), `${reason} among ${[...reasons].join(', ')}`);
  assert.ok(shaped > SEAL_CASES, `lines accepted through a known shape ${shaped}`);
});

test('a lower depth limit holds on both paths (the fast one takes no line deeper than maxDepth)', () => {
  const { lines } = subject(false);
  const line = lines[2];
  const prevHash = (JSON.parse(line) as { prev_hash: string }).prev_hash;
  const chainId = (JSON.parse(line) as { chain_id: string }).chain_id;
  const p = line.indexOf('"attributes":{') + 14;
  const body = line.slice(0, p) + '"aaa_deep":' + '['.repeat(12) + ']'.repeat(12) + ',' + line.slice(p, line.length - 75);
  const chunk = Buffer.concat([rehashed(Buffer.from(body), prevHash, undefined), Buffer.from('\n')]);
  for (const maxDepth of [8, 16, 64]) {
    const options = { anchors: [{ chainId, seq: 1, hash: prevHash }], allowUnsealedTail: true, maxDepth };
    const fast = verify(chunk, options, false);
    const slow = verify(chunk, options, true);
    assert.equal(fast.report, slow.report, `maxDepth ${maxDepth}`);
    assert.is(slow.report.valid, maxDepth >= 16, `maxDepth ${maxDepth}: ${JSON.stringify(slow.report.failure)}`);
  }
});

test.run();
