/**
 * Bounded memory with a stated policy: a FileAuditSink whose writes block
 * (a stuck disk) or fail (`/dev/full`), behind the real SDK, chain processor
 * and guard. The cap holds; with `fail-actions` (the default) a guarded call
 * whose record cannot be accepted is rejected with AuditUnavailableError
 * before its tool runs; `block-actions` waits for room; `drop-with-gap-record`
 * lets calls go on. Records left out are counted and, once the backlog
 * drains, named by a gap record; the file verifies.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditChainSpanProcessor } from '../../../src/exporters/audit/audit-chain-span-processor.js';
import type { AuditChainSpanProcessorOptions } from '../../../src/exporters/audit/audit-chain-span-processor.js';
import { FileAuditSink, auditFiles, nodeAuditFileIo } from '../../../src/exporters/audit/file-audit-sink.js';
import { guard, isAuditUnavailableError } from '../../../src/index.js';
import {
  METRIC_AGENT_SAFETY_AUDIT_DROPPED,
  METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS,
  SPAN_AGENT_SAFETY_AUDIT_GAP,
} from '../../../src/semconv.js';
import { verifyAuditFiles } from '../../../src/verify/audit-verify.js';
import { captureDiag } from '../../helpers/diag.js';
import { setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite('audit backlog policy (stuck and full disks)');

let dir = '';
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'audit-backlog-'));
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A disk whose writes block until released. */
function stuckDisk(): { io: { write: typeof nodeAuditFileIo.write }; release(): void } {
  let release!: () => void;
  const gate = new Promise<void>(r => (release = r));
  return {
    io: { write: async (...args) => (await gate, nodeAuditFileIo.write(...args)) },
    release: () => release(),
  };
}

interface Rig {
  t: TestTelemetry;
  sink: FileAuditSink;
  processor: AuditChainSpanProcessor;
  runs: { n: number };
  tool: (i: number) => Promise<number>;
  close(): Promise<void>;
}

function rig(sink: FileAuditSink, options: Partial<AuditChainSpanProcessorOptions>): Rig {
  const processor = new AuditChainSpanProcessor({ sinks: [sink], ...options });
  const t = setupTelemetry({}, [processor]);
  const runs = { n: 0 };
  const tool = guard(
    async (i: number) => {
      runs.n++;
      return i;
    },
    { name: 'side_effect' },
  );
  return { t, sink, processor, runs, tool, close: () => t.shutdown() };
}

async function counter(t: TestTelemetry, name: string): Promise<number> {
  return (await t.points(name)).reduce((n, p) => n + p.value, 0);
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > 10_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 5));
  }
}

function gapRecords(path: string): { records: number }[] {
  return auditFiles(path)
    .flatMap(f => readFileSync(f, 'utf8').split('\n').filter(Boolean))
    .map(l => JSON.parse(l) as { span: { name: string; attributes: Record<string, { intValue?: string }> } })
    .filter(r => r.span.name === SPAN_AGENT_SAFETY_AUDIT_GAP)
    .map(r => ({ records: Number(r.span.attributes['agent_safety.audit_gap.records'].intValue) }));
}

test('fail-actions (default), stuck disk: at the cap calls are refused before the tool runs; memory stays at the cap; a gap record names what was left out', async () => {
  const path = join(dir, 'audit.jsonl');
  const disk = stuckDisk();
  const r = rig(new FileAuditSink({ path, io: disk.io }), { maxBacklog: 50 });
  const diag = captureDiag();
  try {
    const dropped0 = await counter(r.t, METRIC_AGENT_SAFETY_AUDIT_DROPPED);
    const refused0 = await counter(r.t, METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS);
    let refused = 0;
    let maxHeld = 0;
    for (let i = 0; i < 200; i++) {
      try {
        await r.tool(i);
      } catch (err) {
        assert.ok(isAuditUnavailableError(err), String(err));
        assert.is((err as Error).name, 'AuditUnavailableError');
        refused++;
      }
      maxHeld = Math.max(maxHeld, r.sink.held());
    }
    assert.is(r.runs.n, 50, 'the tool ran only while the audit could take its record');
    assert.is(refused, 150);
    assert.ok(maxHeld <= 50, `held at most the cap: ${maxHeld}`);
    assert.is((await counter(r.t, METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS)) - refused0, 150);
    assert.is((await counter(r.t, METRIC_AGENT_SAFETY_AUDIT_DROPPED)) - dropped0, 150, "the refused calls' records were left out, counted");
    assert.ok(diag.messages.some(m => /backlog is full/.test(m)), 'reported');
    const refusedSpan = r.t.spans().filter(s => s.name === 'execute_tool side_effect').at(-1)!;
    assert.is(refusedSpan.attributes['error.type'], 'AuditUnavailableError');

    disk.release();
    await until(() => r.sink.held() === 0, 'the disk to drain');
    await r.tool(1000);
    assert.is(r.runs.n, 51, 'calls go on once there is room');
    await r.processor.forceFlush();
    assert.equal(gapRecords(path), [{ records: 150 }]);
    const verdict = await verifyAuditFiles(auditFiles(path));
    assert.ok(verdict.valid, JSON.stringify(verdict.failures));
    assert.is(verdict.chains[0].records, 52, '50 + the gap record + 1');
  } finally {
    diag.restore();
    disk.release();
    await r.close();
  }
});

test('block-actions: a call waits for room, then runs; without room in time it is refused', async () => {
  const path = join(dir, 'audit.jsonl');
  const disk = stuckDisk();
  const r = rig(new FileAuditSink({ path, io: disk.io }), { maxBacklog: 5, onBacklogFull: 'block-actions', blockTimeoutMs: 200 });
  try {
    for (let i = 0; i < 5; i++) await r.tool(i);
    const timedOut = await r.tool(5).catch(e => e);
    assert.ok(isAuditUnavailableError(timedOut));
    assert.is(timedOut.reason, 'timeout');
    assert.is(r.runs.n, 5);
    const waiting = r.tool(6);
    await new Promise(res => setTimeout(res, 50));
    assert.is(r.runs.n, 5, 'waiting, the tool has not run');
    disk.release();
    assert.is(await waiting, 6);
    assert.is(r.runs.n, 6);
  } finally {
    disk.release();
    await r.close();
  }
});

test('drop-with-gap-record: calls go on, records beyond the cap are left out and named', async () => {
  const path = join(dir, 'audit.jsonl');
  const disk = stuckDisk();
  const r = rig(new FileAuditSink({ path, io: disk.io }), { maxBacklog: 10, onBacklogFull: 'drop-with-gap-record' });
  const diag = captureDiag();
  try {
    for (let i = 0; i < 100; i++) await r.tool(i);
    assert.is(r.runs.n, 100);
    assert.ok(r.sink.held() <= 10);
    disk.release();
    await until(() => r.sink.held() === 0, 'the disk to drain');
    await r.tool(100);
    await r.processor.forceFlush();
    assert.equal(gapRecords(path), [{ records: 90 }]);
    const verdict = await verifyAuditFiles(auditFiles(path));
    assert.ok(verdict.valid, JSON.stringify(verdict.failures));
  } finally {
    diag.restore();
    disk.release();
    await r.close();
  }
});

test('a full disk (/dev/full): 2,000 calls, memory never beyond the cap, calls refused', async () => {
  const path = join(dir, 'audit.jsonl');
  symlinkSync('/dev/full', path);
  const r = rig(new FileAuditSink({ path, retry: { initialMs: 1, maxMs: 5 } }), { maxBacklog: 100 });
  const diag = captureDiag();
  try {
    let refused = 0;
    let maxHeld = 0;
    for (let i = 0; i < 2000; i++) {
      await r.tool(i).catch(e => {
        assert.ok(isAuditUnavailableError(e));
        refused++;
      });
      maxHeld = Math.max(maxHeld, r.sink.held());
    }
    assert.ok(maxHeld <= 100, `held ${maxHeld}`);
    assert.is(r.runs.n, 100);
    assert.is(refused, 1900);
  } finally {
    diag.restore();
    await r.close();
  }
});

test('bad options name the option', () => {
  const sink = new FileAuditSink({ path: join(dir, 'a.jsonl') });
  assert.throws(() => new AuditChainSpanProcessor({ sinks: [sink], maxBacklog: 0 }), /maxBacklog/);
  assert.throws(() => new AuditChainSpanProcessor({ sinks: [sink], onBacklogFull: 'panic' as never }), /onBacklogFull/);
  assert.throws(() => new AuditChainSpanProcessor({ sinks: [sink], blockTimeoutMs: -1 }), /blockTimeoutMs/);
  return sink.shutdown();
});

test.run();
