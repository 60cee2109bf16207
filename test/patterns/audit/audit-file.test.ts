import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelay, backoffPolicy } from '../../../src/patterns/shared/backoff.js';
import {
  DEFAULT_FSYNC_EVERY_MS,
  normalizeFsyncPolicy,
  parseChainHead,
  planBatch,
  rotatedPath,
  rotationIndexOf,
  scanAuditTail,
  syncAfterWrite,
  syncDelayMs,
  tornSidePath,
} from '../../../src/patterns/audit/audit-file.js';
import { records } from '../../helpers/audit-file-check.js';

const test = suite('audit file: tail scan, rotation names, batches, fsync policy');

const recs = records(4);
const lines = recs.map(r => r.line);
const bytes = (s: string) => Buffer.from(s, 'utf8');
const headOf = (i: number) => ({ chainId: recs[i].chainId, seq: recs[i].seq, hash: recs[i].hash });

test('a clean file: the last line is the head, nothing torn', () => {
  const text = lines.map(l => `${l}\n`).join('');
  const scan = scanAuditTail(bytes(text), 0);
  assert.equal(scan, { kind: 'ok', head: headOf(3), keepBytes: Buffer.byteLength(text), tornBytes: 0, tornReason: undefined });
});

test('an empty file: no head, nothing torn', () => {
  assert.equal(scanAuditTail(new Uint8Array(0), 0), { kind: 'ok', head: undefined, keepBytes: 0, tornBytes: 0, tornReason: undefined });
});

test('a last line without a newline is torn, at every cut point of the line', () => {
  const complete = lines.slice(0, 3).map(l => `${l}\n`).join('');
  const keep = Buffer.byteLength(complete);
  for (const cut of [1, 10, lines[3].length - 1, lines[3].length]) {
    const scan = scanAuditTail(bytes(complete + lines[3].slice(0, cut)), 0);
    assert.equal(scan, { kind: 'ok', head: headOf(2), keepBytes: keep, tornBytes: Buffer.byteLength(lines[3].slice(0, cut)), tornReason: 'no-newline' }, `cut ${cut}`);
  }
});

test('trailing NUL bytes (a power cut) are torn', () => {
  const complete = `${lines[0]}\n`;
  const chunk = Buffer.concat([bytes(complete), Buffer.alloc(100)]);
  const scan = scanAuditTail(chunk, 0);
  assert.equal(scan, { kind: 'ok', head: headOf(0), keepBytes: Buffer.byteLength(complete), tornBytes: 100, tornReason: 'no-newline' });
});

test('an unparseable newline-terminated last line is torn when the line before is a record', () => {
  const complete = `${lines[0]}\n${lines[1]}\n`;
  const garbled = `${lines[2].slice(0, 50)}\n`;
  const scan = scanAuditTail(bytes(complete + garbled), 0);
  assert.equal(scan, { kind: 'ok', head: headOf(1), keepBytes: Buffer.byteLength(complete), tornBytes: Buffer.byteLength(garbled), tornReason: 'unparseable-line' });
  // …and a torn line after it goes with it.
  const both = scanAuditTail(bytes(`${complete}${garbled}{"chain`), 0);
  assert.equal(both, { kind: 'ok', head: headOf(1), keepBytes: Buffer.byteLength(complete), tornBytes: Buffer.byteLength(garbled) + 7, tornReason: 'unparseable-line' });
});

test('a single garbled first line is torn whole', () => {
  const scan = scanAuditTail(bytes('{"chain_id":"x"\n'), 0);
  assert.equal(scan, { kind: 'ok', head: undefined, keepBytes: 0, tornBytes: 16, tornReason: 'unparseable-line' });
});

test('a file whose last two lines are not records is foreign (left alone)', () => {
  const scan = scanAuditTail(bytes('hello\nworld\n'), 0);
  assert.is(scan.kind, 'foreign');
});

test('a chunk that starts mid-file asks for more until it holds the last complete line', () => {
  const text = lines.map(l => `${l}\n`).join('') + 'torn';
  const all = bytes(text);
  // Only the torn part, or the last line without the newline before it: need more.
  assert.equal(scanAuditTail(all.subarray(all.length - 4), all.length - 4), { kind: 'need-more' });
  const lastLineStart = all.length - 4 - Buffer.byteLength(lines[3]) - 1;
  assert.equal(scanAuditTail(all.subarray(lastLineStart), lastLineStart), { kind: 'need-more' });
  // From the newline before the last line: enough.
  const from = lastLineStart - 1;
  assert.equal(scanAuditTail(all.subarray(from), from), { kind: 'ok', head: headOf(3), keepBytes: all.length - 4, tornBytes: 4, tornReason: 'no-newline' });
});

test('parseChainHead accepts record lines and rejects near misses', () => {
  assert.equal(parseChainHead(lines[1]), headOf(1));
  assert.is(parseChainHead(lines[1].slice(0, -1)), undefined);
  assert.is(parseChainHead('{"chain_id":"a","seq":-1,"hash":"' + 'a'.repeat(64) + '"}'), undefined);
  assert.is(parseChainHead('{"chain_id":"a","seq":1,"hash":"' + 'A'.repeat(64) + '"}'), undefined);
  assert.is(parseChainHead('{"chain_id":"","seq":1,"hash":"' + 'a'.repeat(64) + '"}'), undefined);
  assert.equal(parseChainHead('{"chain_id":"a","seq":1,"hash":"' + 'a'.repeat(64) + '"}'), { chainId: 'a', seq: 1, hash: 'a'.repeat(64) });
  assert.is(parseChainHead('[1]'), undefined);
  assert.is(parseChainHead(''), undefined);
});

test('rotated names put the index before the extension and sort before the active file in chain order', () => {
  assert.is(rotatedPath('/var/log/audit.jsonl', 1), '/var/log/audit.000001.jsonl');
  assert.is(rotatedPath('/var/log/audit.jsonl', 12), '/var/log/audit.000012.jsonl');
  assert.is(rotatedPath('/var/log/audit', 3), '/var/log/audit.000003');
  const names = [10, 2, 1, 100].map(i => rotatedPath('audit.jsonl', i)).concat(['audit.jsonl']);
  assert.equal([...names].sort(), ['audit.000001.jsonl', 'audit.000002.jsonl', 'audit.000010.jsonl', 'audit.000100.jsonl', 'audit.jsonl']);
  assert.is(rotationIndexOf('/d/audit.jsonl', 'audit.000007.jsonl'), 7);
  assert.is(rotationIndexOf('/d/audit.jsonl', 'audit.jsonl'), undefined);
  assert.is(rotationIndexOf('/d/audit.jsonl', 'audit.jsonl.torn-20260101T000000000Z'), undefined);
  assert.is(rotationIndexOf('/d/audit.jsonl', 'audit.12.jsonl'), undefined);
  assert.is(rotationIndexOf('/d/audit.jsonl', 'other.000001.jsonl'), undefined);
  assert.is(rotationIndexOf('/d/audit', 'audit.000002'), 2);
});

test('torn side files are named after the audit file and the UTC time', () => {
  assert.is(tornSidePath('/d/audit.jsonl', Date.UTC(2026, 10, 28, 20, 15, 30, 123)), '/d/audit.jsonl.torn-20261128T201530123Z');
});

test('planBatch: many lines per write, capped by maxBatchBytes, never past maxBytes', () => {
  const ten = (i: number) => [10, 10, 10, 10, 10][i];
  assert.equal(planBatch(5, ten, 0, 1000, 1000), { count: 5, bytes: 50, rotateFirst: false });
  assert.equal(planBatch(5, ten, 0, 1000, 25), { count: 2, bytes: 20, rotateFirst: false });
  assert.equal(planBatch(5, ten, 0, 1000, 5), { count: 1, bytes: 10, rotateFirst: false }, 'at least one line');
  assert.equal(planBatch(5, ten, 70, 100, 1000), { count: 3, bytes: 30, rotateFirst: false }, 'fills the file');
  assert.equal(planBatch(5, ten, 95, 100, 1000), { count: 5, bytes: 50, rotateFirst: true }, 'rotates first, then fills the new file');
  assert.equal(planBatch(5, ten, 0, 5, 1000), { count: 1, bytes: 10, rotateFirst: false }, 'an empty file takes an oversized line');
  assert.equal(planBatch(0, ten, 0, 5, 1000), { count: 0, bytes: 0, rotateFirst: false });
  assert.equal(planBatch(5, ten, 0, Infinity, 1000), { count: 5, bytes: 50, rotateFirst: false });
});

test('fsync policies: default, validation and what follows a write', () => {
  assert.equal(normalizeFsyncPolicy(undefined), { everyMs: DEFAULT_FSYNC_EVERY_MS });
  assert.is(normalizeFsyncPolicy('always'), 'always');
  assert.is(normalizeFsyncPolicy('never'), 'never');
  assert.equal(normalizeFsyncPolicy({ everyMs: 50 }), { everyMs: 50 });
  assert.throws(() => normalizeFsyncPolicy('sometimes'), /fsync must be/);
  assert.throws(() => normalizeFsyncPolicy({ everyMs: 0 }), /everyMs/);
  assert.throws(() => normalizeFsyncPolicy({ everyMS: 10 }), /fsync must be/);
  assert.is(syncAfterWrite('always'), 'now');
  assert.is(syncAfterWrite('never'), 'none');
  assert.is(syncAfterWrite({ everyMs: 10 }), 'later');
  assert.is(syncDelayMs(200, 1000, 1050), 150);
  assert.is(syncDelayMs(200, 1000, 1300), 0);
});

test('retry backoff doubles up to its cap', () => {
  const policy = backoffPolicy({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 });
  assert.equal([0, 1, 2, 3, 4, 10, 100].map(n => backoffDelay(n, policy)), [0, 100, 200, 400, 800, 1000, 1000]);
});

test.run();
