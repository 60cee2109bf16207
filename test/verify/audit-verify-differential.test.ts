/**
 * Differential fuzz of the verifier's two paths: 12,000 seeded mutations of
 * record lines (duplicate members, whitespace, number spellings, escapes,
 * control characters, invalid UTF-8, reordered members, deep nesting,
 * garbage), each re-hashed over its new text so that the fast path's hash
 * check passes, are verified twice: as the verifier does (fast path first)
 * and with every line forced through the slow path (strict parse, RFC 8785,
 * hash). The two reports must be identical: the fast path never accepts
 * what the slow path rejects, nor the reverse.
 */
import { createHash, createHmac } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditVerifier } from '../../src/verify/audit-verify.js';
import type { AuditVerifyOptions, AuditVerifyReport } from '../../src/verify/audit-verify.js';
import type { ChunkScan } from '../../src/verify/audit-verify-scan.js';
import { auditFixture, produceSpans } from '../helpers/audit-fixtures.js';

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
  };
}

function verify(chunk: Buffer, options: AuditVerifyOptions, slow: boolean): { report: AuditVerifyReport; fast: number } {
  const v = new AuditVerifier(options);
  v.beginFile('f');
  const scan = slow ? slowScan(chunk) : v.chunkScanner(chunk);
  const fast = slow ? 0 : Array.from(scan.status.subarray(0, scan.n)).filter(s => s === 0).length;
  v.addScan(chunk, scan, 'f', 1);
  return { report: v.finish(), fast };
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
  switch (rnd(13)) {
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

function subject(keyed: boolean): { lines: string[]; options: AuditVerifyOptions } {
  const f = auditFixture({ chainId: keyed ? 'diff-keyed' : 'diff-plain', hmacKey: keyed ? { id: 'hk', key: HMAC } : undefined });
  produceSpans(f.tracer, 6, keyed ? 11 : 7);
  f.tracer.startSpan('odd', { attributes: { u: 'é \u2028 \u{1f600} "q" \\ \t', n: 0.1, big: 2 ** 52, neg: -3, e: 1e21, tiny: 5e-7 } }).end();
  return { lines: f.lines(), options: { hmacKey: keyed ? HMAC : undefined, allowUnsealedTail: true } };
}

test(`${CASES.toLocaleString('en-US')} mutated, re-hashed records: the fast path and the slow path give the same report`, () => {
  let disagreements = 0;
  let fastAccepted = 0;
  let accepted = 0;
  let rejected = 0;
  const firstDisagreements: string[] = [];
  const subjects = [subject(false), subject(true)];
  for (let i = 0; i < CASES; i++) {
    const { lines, options } = subjects[i % 2];
    const k = 1 + rnd(lines.length - 1);
    const line = lines[k];
    const tail = line.length - 75;
    const { prev_hash: prevHash, chain_id: chainId } = JSON.parse(line) as { prev_hash: string; chain_id: string };
    const mutated = rehashed(mutate(line.slice(0, tail)), prevHash, options.hmacKey as Buffer | undefined);
    // the line alone, after an anchor at the record before it (so only it is checked)
    const chunk = Buffer.concat([mutated, Buffer.from('\n')]);
    const anchored = { ...options, anchors: [{ chainId, seq: k - 1, hash: prevHash }] };
    const fast = verify(chunk, anchored, false);
    const slow = verify(chunk, anchored, true);
    const a = JSON.stringify(fast.report);
    const b = JSON.stringify(slow.report);
    if (a !== b) {
      disagreements++;
      if (firstDisagreements.length < 3) firstDisagreements.push(`${mutated.toString('latin1').slice(0, 300)}\n fast: ${JSON.stringify(fast.report.failure)}\n slow: ${JSON.stringify(slow.report.failure)}`);
    }
    if (fast.fast === 1) fastAccepted++;
    if (slow.report.valid) accepted++;
    else rejected++;
  }
  assert.is(disagreements, 0, firstDisagreements.join('\n\n'));
  // both sides of the oracle are exercised
  assert.ok(rejected > CASES / 2, `rejected ${rejected}`);
  assert.ok(accepted > CASES / 20, `accepted ${accepted} (mutations whose text is still canonical)`);
  assert.ok(fastAccepted > CASES / 20, `accepted by the fast path ${fastAccepted}`);
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
