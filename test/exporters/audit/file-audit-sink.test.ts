import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileAuditSink, auditFiles, nodeAuditFileIo } from '../../../src/exporters/audit/file-audit-sink.js';
import type { AuditFileIo } from '../../../src/exporters/audit/file-audit-sink.js';
import { AuditChain } from '../../../src/patterns/audit/audit-chain.js';
import { AuditChainSpanProcessor, auditAllSpans } from '../../../src/exporters/audit/audit-chain-span-processor.js';
import { captureDiag } from '../../helpers/diag.js';
import type { DiagCapture } from '../../helpers/diag.js';
import { chainSpans, checkChainLines, realSpans, records } from '../../helpers/audit-file-check.js';
import { setupTelemetry, sdkTrace } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';
import { METRIC_AGENT_SAFETY_AUDIT_BACKLOG, METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, METRIC_ATTR_SINK } from '../../../src/instrumentation/shared/semconv.js';

const test = suite('FileAuditSink');

let dir: string;
let diagLog: DiagCapture;
// The sink's sync and retry timers are unref'd (they must not keep an app alive); keep the test process alive while it waits for them.
let keepAlive: NodeJS.Timeout;
test.before(() => {
  keepAlive = setInterval(() => {}, 60_000);
});
test.after(() => clearInterval(keepAlive));
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'file-audit-sink-'));
  diagLog = captureDiag();
});
test.after.each(() => {
  diagLog.restore();
  rmSync(dir, { recursive: true, force: true });
});

const linesOf = (path: string): string[] => {
  const text = readFileSync(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), 'file ends with a newline');
  return text === '' ? [] : text.slice(0, -1).split('\n');
};
const allLines = (path: string): string[] => auditFiles(path).flatMap(linesOf);

/** `agent_safety.audit.export_failures` of the sink named `name`, as collected now (0 before its first report). */
/** The sink's `agent_safety.audit.backlog` reading, undefined without a series. */
async function backlogGauge(telemetry: TestTelemetry, name: string): Promise<number | undefined> {
  const points = (await telemetry.points(METRIC_AGENT_SAFETY_AUDIT_BACKLOG)).filter(p => p.attributes[METRIC_ATTR_SINK] === name);
  assert.ok(points.length <= 1, `one series per sink name, got ${points.length}`);
  return points[0]?.value;
}

async function exportFailures(telemetry: TestTelemetry, name: string): Promise<number> {
  const points = (await telemetry.points(METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES)).filter(p => p.attributes[METRIC_ATTR_SINK] === name);
  assert.ok(points.length <= 1, `one series per sink name, got ${points.length}`);
  return points[0]?.value ?? 0;
}

/** Polls `predicate`; fails the test if it does not hold within 5 s. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > 5_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 2));
  }
}

/** Wraps the real file operations, counting calls and letting a test hold or fail them. */
function spyIo() {
  const calls = { write: 0, fdatasync: 0 };
  let holdSync: Promise<void> | undefined;
  let failWrites = 0;
  let failSyncs = 0;
  let partialNext = false;
  const wrapped: Partial<AuditFileIo> = {};
  const io = nodeAuditFileIo;
  wrapped.write = async (fd, buf, off, len, pos) => {
    calls.write++;
    if (failWrites > 0) {
      if (partialNext) {
        partialNext = false;
        return io.write(fd, buf, off, Math.max(1, len >> 1), pos); // a short write before the failure
      }
      failWrites--;
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return io.write(fd, buf, off, len, pos);
  };
  wrapped.fdatasync = async fd => {
    calls.fdatasync++;
    if (holdSync) await holdSync;
    if (failSyncs > 0) {
      failSyncs--;
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    }
    return io.fdatasync(fd);
  };
  return {
    io: wrapped,
    calls,
    hold() {
      let release!: () => void;
      holdSync = new Promise<void>(r => (release = r));
      return () => {
        holdSync = undefined;
        release();
      };
    },
    failWrites(n: number, partialFirst = false) {
      failWrites = n;
      partialNext = partialFirst;
    },
    failSyncs(n: number) {
      failSyncs = n;
    },
  };
}

test('write returns at once; many records go out in one write, in order, one line each', async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  const sink = new FileAuditSink({ path, io: spy.io });
  const recs = records(200);
  for (const r of recs) sink.write(r);
  assert.not.ok(existsSync(path), 'nothing written synchronously (the file is created with the first write)');
  assert.is(sink.backlog(), 200);
  await sink.forceFlush();
  assert.is(sink.backlog(), 0);
  assert.is(spy.calls.write, 1, 'one write for the batch');
  assert.equal(linesOf(path), recs.map(r => r.line));
  const check = checkChainLines(linesOf(path));
  assert.ok(check.ok, JSON.stringify(check));
  assert.equal(sink.stats(), { accepted: 200, written: 200, durable: 200, writeErrors: 0, syncErrors: 0, rotations: 0, refused: 0 });
  await sink.shutdown();
});

test('maxBatchBytes splits a burst into several writes', async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  const sink = new FileAuditSink({ path, io: spy.io, maxBatchBytes: 4096 });
  const recs = records(20);
  for (const r of recs) sink.write(r);
  await sink.forceFlush();
  const total = recs.reduce((n, r) => n + Buffer.byteLength(r.line) + 1, 0);
  assert.ok(spy.calls.write >= Math.ceil(total / 4096), `${spy.calls.write} writes for ${total} bytes`);
  assert.equal(linesOf(path), recs.map(r => r.line));
  await sink.shutdown();
});

test('a new file is created with mode 0600; an existing more permissive file is reported', async () => {
  const path = join(dir, 'sub', 'audit.jsonl');
  const idle = new FileAuditSink({ path });
  await idle.shutdown();
  assert.not.ok(existsSync(path), 'a sink that was given no record leaves no empty file');
  const sink = new FileAuditSink({ path });
  for (const r of records(1)) sink.write(r);
  await sink.forceFlush();
  assert.is(statSync(path).mode & 0o777, 0o600);
  assert.is(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  await sink.shutdown();
  assert.not.ok(diagLog.messages.some(m => /mode/.test(m)));
  const loose = join(dir, 'loose.jsonl');
  writeFileSync(loose, '');
  chmodSync(loose, 0o644);
  const sink2 = new FileAuditSink({ path: loose });
  await sink2.shutdown();
  assert.ok(diagLog.messages.some(m => /readable or writable by others \(mode 644\)/.test(m)), diagLog.messages.join('\n'));
});

test("fsync 'always': each batch is fdatasync'ed before it counts as durable", async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  const sink = new FileAuditSink({ path, io: spy.io, fsync: 'always' });
  const release = spy.hold();
  for (const r of records(10)) sink.write(r);
  const flushed = sink.forceFlush();
  while (spy.calls.fdatasync === 0) await new Promise(r => setImmediate(r));
  assert.is(linesOf(path).length, 10, 'written');
  assert.is(sink.backlog(), 10, 'but not durable until synced');
  assert.is(sink.stats().durable, 0);
  release();
  await flushed;
  assert.is(sink.backlog(), 0);
  assert.is(sink.stats().durable, 10);
  await sink.shutdown();
});

test("fsync { everyMs }: written records are synced by the timer without a flush", async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  let synced!: () => void;
  const done = new Promise<void>(r => (synced = r));
  const io = { ...spy.io, fdatasync: async (fd: number) => { await spy.io.fdatasync!(fd); synced(); } };
  const sink = new FileAuditSink({ path, io, fsync: { everyMs: 5 } });
  for (const r of records(5)) sink.write(r);
  await done; // the interval timer fired and synced (no flush called)
  while (sink.backlog() > 0) await new Promise(r => setImmediate(r));
  assert.is(sink.stats().durable, 5);
  assert.is(spy.calls.fdatasync, 1);
  await sink.shutdown();
});

test("fsync 'never': nothing is synced, written counts as durable", async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  const sink = new FileAuditSink({ path, io: spy.io, fsync: 'never' });
  for (const r of records(5)) sink.write(r);
  await sink.forceFlush();
  await sink.shutdown();
  assert.is(spy.calls.fdatasync, 0);
  assert.is(sink.stats().durable, 5);
  assert.is(linesOf(path).length, 5);
});

test('the default policy syncs on forceFlush', async () => {
  const spy = spyIo();
  const sink = new FileAuditSink({ path: join(dir, 'audit.jsonl'), io: spy.io });
  for (const r of records(3)) sink.write(r);
  await sink.forceFlush();
  assert.is(spy.calls.fdatasync, 1);
  assert.is(sink.backlog(), 0);
  await sink.shutdown();
});

test('rotation by size: files in chain order by name, each within maxBytes, the chain continues across them and across a restart', async () => {
  const path = join(dir, 'audit.jsonl');
  const recs = records(30);
  const lineBytes = Buffer.byteLength(recs[1].line) + 1;
  const maxBytes = lineBytes * 4;
  const sink = new FileAuditSink({ path, maxBytes });
  for (const r of recs.slice(0, 10)) sink.write(r);
  await sink.forceFlush();
  for (const r of recs.slice(10, 20)) {
    sink.write(r);
    await sink.forceFlush(); // one batch per record
  }
  await sink.shutdown();
  const names = readdirSync(dir).sort();
  assert.ok(names.length >= 5, names.join(' '));
  assert.is(names[names.length - 1], 'audit.jsonl', 'the active file sorts last');
  assert.equal(names.slice(0, -1), names.slice(0, -1).map((_, i) => `audit.${String(i + 1).padStart(6, '0')}.jsonl`));
  for (const n of names) assert.ok(statSync(join(dir, n)).size <= maxBytes + lineBytes, `${n} size`);
  assert.equal(auditFiles(path), names.map(n => join(dir, n)));
  assert.equal(allLines(path), recs.slice(0, 20).map(r => r.line));
  assert.is(sink.stats().rotations, names.length - 1);

  // A restart continues the history and the rotation numbering.
  const sink2 = new FileAuditSink({ path, maxBytes });
  assert.equal(sink2.previousHead(), { chainId: recs[19].chainId, seq: 19, hash: recs[19].hash });
  const next = chainSpans(new AuditChain({ chainId: 'chain-b', previous: sink2.previousHead() }), realSpans(10));
  for (const r of next) sink2.write(r);
  await sink2.shutdown();
  const check = checkChainLines(allLines(path));
  assert.ok(check.ok, JSON.stringify(check));
  assert.is(check.ok && check.records, 30);
  assert.equal(check.ok && check.chains, ['chain-a', 'chain-b']);
});

test('when the active file is empty (a crash right after rotating), the head comes from the newest rotated file', async () => {
  const path = join(dir, 'audit.jsonl');
  const recs = records(6);
  writeFileSync(join(dir, 'audit.000001.jsonl'), recs.slice(0, 3).map(r => `${r.line}\n`).join(''));
  writeFileSync(join(dir, 'audit.000002.jsonl'), recs.slice(3).map(r => `${r.line}\n`).join('') + recs[0].line.slice(0, 30));
  const sink = new FileAuditSink({ path });
  assert.equal(sink.previousHead(), { chainId: 'chain-a', seq: 5, hash: recs[5].hash });
  assert.is(sink.recovery.file, join(dir, 'audit.000002.jsonl'));
  assert.is(sink.recovery.tornBytes, 30, 'a torn tail there is set aside too');
  await sink.shutdown();
});

test('a torn last line is reported, moved to a side file and cut off; the next chain links to the last complete record', async () => {
  const path = join(dir, 'audit.jsonl');
  const recs = records(5);
  const complete = recs.slice(0, 4).map(r => `${r.line}\n`).join('');
  const torn = recs[4].line.slice(0, 100);
  writeFileSync(path, complete + torn, { mode: 0o600 });
  let now = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  const sink = new FileAuditSink({ path, clock: () => now });
  const rec = sink.recovery;
  assert.equal(sink.previousHead(), { chainId: 'chain-a', seq: 3, hash: recs[3].hash });
  assert.is(rec.tornBytes, 100);
  assert.is(rec.tornReason, 'no-newline');
  assert.is(rec.tornPath, `${path}.torn-20260102T030405006Z`);
  assert.is(readFileSync(rec.tornPath!, 'utf8'), torn, 'the torn bytes are kept, not deleted');
  assert.is(statSync(rec.tornPath!).mode & 0o777, 0o600);
  assert.is(readFileSync(path, 'utf8'), complete, 'the file is cut back to its last complete line');
  assert.ok(diagLog.messages.some(m => /torn line/.test(m) && m.includes(rec.tornPath!)), diagLog.messages.join('\n'));
  const next = records(3, 'chain-b', sink.previousHead());
  for (const r of next) sink.write(r);
  await sink.shutdown();
  const check = checkChainLines(linesOf(path));
  assert.ok(check.ok, JSON.stringify(check));
  assert.is(check.ok && check.records, 7);

  // A second torn tail at the same millisecond gets its own side file.
  writeFileSync(path, readFileSync(path, 'utf8') + '{"chain_id"', { flag: 'w' });
  const sink2 = new FileAuditSink({ path, clock: () => now });
  assert.is(sink2.recovery.tornPath, `${path}.torn-20260102T030405006Z-1`);
  assert.is(readFileSync(`${path}.torn-20260102T030405006Z`, 'utf8'), torn, 'the first side file is untouched');
  now += 1;
  await sink2.shutdown();
});

test('an unparseable newline-terminated last line is set aside as well', async () => {
  const path = join(dir, 'audit.jsonl');
  const recs = records(3);
  const garbled = `${recs[2].line.slice(0, 40)}\n`;
  writeFileSync(path, `${recs[0].line}\n${recs[1].line}\n${garbled}`);
  const sink = new FileAuditSink({ path });
  assert.is(sink.recovery.tornReason, 'unparseable-line');
  assert.is(readFileSync(sink.recovery.tornPath!, 'utf8'), garbled);
  assert.is(sink.previousHead()?.seq, 1);
  await sink.shutdown();
});

test('a clean file: no torn bytes, no side file, the head is the last record', async () => {
  const path = join(dir, 'audit.jsonl');
  const recs = records(3);
  writeFileSync(path, recs.map(r => `${r.line}\n`).join(''), { mode: 0o600 });
  const sink = new FileAuditSink({ path });
  assert.equal(sink.recovery, { file: path, previousHead: { chainId: 'chain-a', seq: 2, hash: recs[2].hash }, tornBytes: 0, tornReason: undefined, tornPath: undefined, problem: undefined });
  await sink.shutdown();
  assert.equal(readdirSync(dir).filter(n => n.startsWith('audit')), ['audit.jsonl']);
  assert.is(diagLog.messages.length, 0, diagLog.messages.join('\n'));
});

test('a tail longer than the first read window is found by reading further back', async () => {
  const path = join(dir, 'audit.jsonl');
  const chain = new AuditChain({ chainId: 'big' });
  const spans = realSpans(3).map(s => Object.assign(Object.create(Object.getPrototypeOf(s)), s, { attributes: { ...s.attributes, big: 'x'.repeat(200_000) } }));
  const recs = chainSpans(chain, spans);
  writeFileSync(path, `${recs[0].line}\n${recs[1].line}\n${recs[2].line.slice(0, 150_000)}`);
  const sink = new FileAuditSink({ path });
  assert.equal(sink.previousHead(), { chainId: 'big', seq: 1, hash: recs[1].hash });
  assert.is(sink.recovery.tornBytes, 150_000);
  await sink.shutdown();
});

test('a file that does not end in audit records is left alone and reported', async () => {
  const path = join(dir, 'notes.jsonl');
  writeFileSync(path, 'hello\nworld\n');
  const sink = new FileAuditSink({ path });
  assert.match(sink.recovery.problem ?? '', /does not end in audit records/);
  assert.is(sink.previousHead(), undefined);
  assert.is(readFileSync(path, 'utf8'), 'hello\nworld\n');
  assert.ok(diagLog.messages.some(m => /does not end in audit records/.test(m)));
  await sink.shutdown();
});

test('the path is a directory: reported, records kept, and written once the path is usable', async () => {
  const path = join(dir, 'audit.jsonl');
  mkdirSync(path);
  const sink = new FileAuditSink({ path, retry: { initialMs: 5, maxMs: 20 } });
  assert.match(sink.recovery.problem ?? '', /not a regular file/);
  const recs = records(50);
  for (const r of recs) sink.write(r);
  await diagLog.waitFor(/cannot open the audit file/);
  assert.is(sink.backlog(), 50, 'nothing accepted is dropped');
  assert.ok(sink.stats().writeErrors >= 1);
  rmdirSync(path);
  await diagLog.waitFor(/writing again after \d+ failed attempts; nothing accepted was lost/);
  await sink.forceFlush();
  assert.is(sink.backlog(), 0);
  assert.equal(linesOf(path), recs.map(r => r.line));
  assert.is(statSync(path).mode & 0o777, 0o600);
  await sink.shutdown();
});

test('a full disk mid-batch (a short write, then ENOSPC): reported, retried, every record written exactly once', async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  const sink = new FileAuditSink({ path, io: spy.io, retry: { initialMs: 2, maxMs: 10 } });
  const recs = records(100);
  for (const r of recs.slice(0, 10)) sink.write(r);
  await sink.forceFlush();
  spy.failWrites(3, true);
  for (const r of recs.slice(10)) sink.write(r);
  await sink.forceFlush(); // resolves after the failed attempt: never hangs, never throws
  assert.ok(sink.backlog() > 0, 'records still queued');
  await diagLog.waitFor(/ENOSPC/);
  await diagLog.waitFor(/writing again after/);
  await sink.forceFlush();
  assert.is(sink.backlog(), 0);
  assert.equal(linesOf(path), recs.map(r => r.line));
  assert.is(sink.stats().writeErrors, 3);
  const check = checkChainLines(linesOf(path));
  assert.ok(check.ok, JSON.stringify(check));
  await sink.shutdown();
});

test('a failed fdatasync is reported and retried; the records count as durable only after a sync succeeds', async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  const telemetry = setupTelemetry();
  const sink = new FileAuditSink({ path, name: 'file-sync-check', io: spy.io, fsync: 'always', retry: { initialMs: 2, maxMs: 10 } });
  try {
    spy.failSyncs(2);
    for (const r of records(5)) sink.write(r);
    await diagLog.waitFor(/fdatasync failed with 5 records written but not synced/);
    assert.is(sink.stats().durable, 0);
    await diagLog.waitFor(/writing again after/);
    await sink.forceFlush();
    assert.is(sink.stats().durable, 5);
    assert.is(sink.stats().syncErrors, 2);
    assert.is(sink.backlog(), 0);
    assert.is(await exportFailures(telemetry, 'file-sync-check'), 2, 'each failed sync is counted as an export failure');
  } finally {
    await sink.shutdown();
    await telemetry.shutdown();
  }
});

test('a disk that is really full (the audit path is a link to /dev/full): each failed attempt counts in agent_safety.audit.export_failures{sink="file"}', async () => {
  const path = join(dir, 'audit.jsonl');
  symlinkSync('/dev/full', path); // writes to /dev/full fail with ENOSPC, for root too
  const telemetry = setupTelemetry();
  try {
    // Counters live for the process: measure this sink's share from here.
    const before = await exportFailures(telemetry, 'file');
    const sink = new FileAuditSink({ path, retry: { initialMs: 2, maxMs: 10 } });
    assert.is(sink.name, 'file');
    for (const r of records(5)) sink.write(r);
    await diagLog.waitFor(/write failed after 0 of \d+ bytes of a batch: ENOSPC/);
    await until(() => sink.stats().writeErrors >= 3, 'three failed writes');
    assert.is(await backlogGauge(telemetry, 'file'), 5, 'the sink reports its own backlog, without a processor');
    await sink.shutdown(); // one last attempt; no retry after it
    assert.is(await backlogGauge(telemetry, 'file'), 5, 'records lost at shutdown stay visible');
    const stats = sink.stats();
    assert.is(stats.written, 0);
    assert.is(sink.backlog(), 5, 'nothing was written');
    assert.ok(stats.writeErrors >= 3);
    assert.is((await exportFailures(telemetry, 'file')) - before, stats.writeErrors + stats.syncErrors, 'one failure per failed attempt');
    assert.ok(diagLog.messages.some(m => /shut down with 5 records not written or not synced/.test(m)));
  } finally {
    await telemetry.shutdown();
  }
});

test('shutdown flushes and syncs, is idempotent, and a write afterwards is refused and reported', async () => {
  const path = join(dir, 'audit.jsonl');
  const spy = spyIo();
  const sink = new FileAuditSink({ path, io: spy.io });
  const recs = records(4);
  for (const r of recs.slice(0, 3)) sink.write(r);
  const a = sink.shutdown();
  const b = sink.shutdown();
  assert.is(a, b);
  await a;
  await sink.shutdown();
  assert.equal(linesOf(path), recs.slice(0, 3).map(r => r.line));
  assert.is(spy.calls.fdatasync, 1);
  sink.write(recs[3]);
  assert.is(sink.stats().refused, 1);
  assert.ok(diagLog.messages.some(m => /arrived after shutdown/.test(m)));
  assert.is(linesOf(path).length, 3);
});

test('with AuditChainSpanProcessor: a second process run picks up the file head by itself and the file reads as one history', async () => {
  const path = join(dir, 'audit.jsonl');
  const heads: string[] = [];
  for (let runNo = 0; runNo < 2; runNo++) {
    const sink = new FileAuditSink({ path });
    const processor = new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans });
    heads.push(processor.chainId);
    const provider = sdkTrace.tracerProvider({ spanProcessors: [processor] });
    const tracer = provider.getTracer('file-sink-test');
    for (let i = 0; i < 25; i++) tracer.startSpan(`execute_tool t${i}`, { attributes: { i } }).end();
    await provider.shutdown(); // shuts the processor and the sink down
    assert.is(sink.backlog(), 0);
  }
  const check = checkChainLines(linesOf(path));
  assert.ok(check.ok, JSON.stringify(check));
  if (!check.ok) return;
  assert.equal(check.chains, heads);
  assert.is(check.records, 50);
  assert.equal(check.seq0[1].previous, { chainId: heads[0], seq: 24, hash: check.seq0[1].before!.hash });
});

test('backlog gauge: behind a processor a healthy sink is one series, read while records wait, 0 once shut down', async () => {
  const path = join(dir, 'audit.jsonl');
  const telemetry = setupTelemetry();
  try {
    const spy = spyIo();
    const sink = new FileAuditSink({ path, name: 'file-gauge', io: spy.io });
    const processor = new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans });
    const provider = sdkTrace.tracerProvider({ spanProcessors: [processor] });
    const tracer = provider.getTracer('file-sink-test');
    const release = spy.hold(); // no record is durable until the sync is let through
    for (let i = 0; i < 7; i++) tracer.startSpan(`execute_tool t${i}`).end();
    assert.is(await backlogGauge(telemetry, 'file-gauge'), 7, 'accepted, not yet durable');
    release();
    await provider.shutdown();
    assert.is(sink.backlog(), 0);
    assert.is(await backlogGauge(telemetry, 'file-gauge'), 0);
  } finally {
    await telemetry.shutdown();
  }
});

test('options are validated', () => {
  const path = join(dir, 'audit.jsonl');
  assert.throws(() => new FileAuditSink({ path: '' }), /path/);
  assert.throws(() => new FileAuditSink({ path, fsync: 'sometimes' as never }), /fsync/);
  assert.throws(() => new FileAuditSink({ path, maxBytes: 0 }), /maxBytes/);
  assert.throws(() => new FileAuditSink({ path, maxBatchBytes: 1.5 }), /maxBatchBytes/);
  assert.throws(() => new FileAuditSink({ path, fsnyc: 'always' } as never), /unknown option "fsnyc"/);
  assert.not.ok(existsSync(path), 'nothing created by a rejected configuration');
});

test.run();
