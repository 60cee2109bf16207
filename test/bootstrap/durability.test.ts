/**
 * The bootstrap keeps the audit whatever the rest of the telemetry does:
 * - span processors of others that throw in onStart, onEnding or onEnd are
 *   contained: the call returns its own result or its own error, the tool
 *   runs once, the audit still records it (and guard contains them too in
 *   an SDK built by hand);
 * - under `register`, start-up warnings (a torn audit file) are printed on
 *   stderr (the diag logger is installed first, warn by default);
 * - shutdown with the collector down keeps its deadline: it writes the
 *   journal, prints how many records are left and where, and returns;
 *   the journal holds them;
 * - the same with a journal the disk refuses (/dev/full): calls are refused
 *   at the backlog cap, and the message says which records could not be
 *   written rather than claim they are kept.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { metrics, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { startAgentSafety } from '../../src/bootstrap/index.js';
import { RollbackManager, guard, invokeAgent } from '../../src/index.js';
import { verifyAuditFiles } from '../../src/verify/audit-verify.js';
import { captureDiag } from '../helpers/diag.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';
import { setupTelemetry } from '../helpers/otel.js';
import { reportCheckpointFileSkips } from '../../src/instrumentation/rollback/checkpoint-skips.js';
import { FileCheckpointStore } from '../../src/patterns/rollback/file-checkpoint-store.js';
import { RollbackEngine } from '../../src/patterns/rollback/rollback-engine.js';
import { METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINT_FILES_SKIPPED } from '../../src/semconv.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const test = suite('bootstrap durability');
const dir = mkdtempSync(join(tmpdir(), 'bootstrap-durability-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

class ThrowingProcessor implements SpanProcessor {
  private readonly _where: 'onStart' | 'onEnding' | 'onEnd';
  constructor(where: 'onStart' | 'onEnding' | 'onEnd') {
    this._where = where;
  }
  onStart(_span: Span, _ctx: Context): void {
    if (this._where === 'onStart') throw new Error('processor onStart broke');
  }
  onEnding(_span: Span): void {
    if (this._where === 'onEnding') throw new Error('processor onEnding broke');
  }
  onEnd(_span: ReadableSpan): void {
    if (this._where === 'onEnd') throw new Error('processor onEnd broke');
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    throw new Error('processor shutdown broke');
  }
}

for (const where of ['onStart', 'onEnding', 'onEnd'] as const) {
  test(`a span processor that throws in ${where} is contained: own result, own error, the audit records both`, async () => {
    const file = join(dir, `contained-${where}.jsonl`);
    const diag = captureDiag();
    const safety = startAgentSafety({ console: false, audit: { file }, spanProcessors: [new ThrowingProcessor(where)] });
    try {
      let runs = 0;
      const ok = guard(async (x: number) => (runs++, x * 2), { name: 'ok_tool' });
      const bad = guard(
        async () => {
          runs++;
          throw new RangeError('the tool itself failed');
        },
        { name: 'bad_tool' },
      );
      assert.is(await ok(21), 42, 'the call returns its own result');
      const err = await bad().catch(e => e);
      assert.instance(err, RangeError, 'and its own error');
      assert.is(runs, 2, 'each tool ran once');
      await safety.shutdown();
      assert.ok(diag.messages.some(m => new RegExp(`threw in ${where}`).test(m)), diag.messages.join(' | '));
      const verdict = await verifyAuditFiles([file]);
      assert.ok(verdict.valid);
      assert.is(verdict.chains[0].records, 2, 'both calls audited');
    } finally {
      diag.restore();
      await safety.shutdown();
      trace.disable();
      metrics.disable();
    }
  });
}

for (const where of ['onStart', 'onEnding', 'onEnd'] as const) {
  test(`guard alone (an SDK built by hand, nothing wrapped): a processor throwing in ${where} never reaches the call`, async () => {
    const t = setupTelemetry({}, [new ThrowingProcessor(where)]);
    const diag = captureDiag();
    try {
      let runs = 0;
      const ok = guard(async (x: number) => (runs++, x + 1), { name: 'ok_tool' });
      const bad = guard(
        async () => {
          runs++;
          throw new TypeError('own error');
        },
        { name: 'bad_tool' },
      );
      assert.is(await ok(1), 2);
      assert.instance(await bad().catch(e => e), TypeError);
      assert.is(runs, 2);
      assert.ok(diag.messages.some(m => /a span threw/.test(m)), diag.messages.join(' | '));
    } finally {
      diag.restore();
      await t.shutdown().catch(() => {});
    }
  });
}

for (const where of ['onStart', 'onEnding', 'onEnd'] as const) {
  test(`invokeAgent, a rollback and its compensations: a processor throwing in ${where} never reaches the run`, async () => {
    const t = setupTelemetry({}, [new ThrowingProcessor(where)]);
    const diag = captureDiag();
    try {
      const undone: string[] = [];
      const manager = new RollbackManager({ agentId: 'publisher', delay: async () => {} });
      manager.registerRollbackHook('publish', async () => void undone.push('publish'));
      const result = await invokeAgent({ name: 'writer' }, async () => {
        await manager.checkpoint('start', { isSafePoint: true });
        await manager.checkpoint('publish', { environmentDelta: { post: 1 } });
        const report = await manager.rollbackToLastSafePoint({ reason: 'test' });
        return report.outcome;
      });
      assert.is(result, 'complete', "the run's own result, through a rollback that ran its compensation");
      assert.equal(undone, ['publish']);
      const failed = await invokeAgent({ name: 'writer' }, async () => {
        throw new RangeError('own error');
      }).catch((e: unknown) => e);
      assert.instance(failed, RangeError, "and the run's own error");
      assert.ok(diag.messages.some(m => /a span threw/.test(m)), diag.messages.join(' | '));
    } finally {
      diag.restore();
      await t.shutdown().catch(() => {});
    }
  });
}

test('a skipped checkpoint file is reported through diag and agent_safety.rollback.checkpoint_files_skipped (as the bootstrap installs it)', async () => {
  const t = setupTelemetry();
  const diag = captureDiag();
  const stop = reportCheckpointFileSkips();
  try {
    const store = new FileCheckpointStore({ directory: join(dir, 'checkpoints') });
    const engine = new RollbackEngine({ agentId: 'skipper', store });
    await engine.checkpoint('kept');
    writeFileSync(join(dir, 'checkpoints', 'skipper', 'notes.json'), '{}');
    assert.equal((await store.list('skipper')).map(r => r.name), ['kept']);
    assert.ok(diag.messages.some(m => /notes\.json was skipped \(not a checkpoint file\)/.test(m)), diag.messages.join(' | '));
    const points = await t.points(METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINT_FILES_SKIPPED);
    assert.equal(points.map(p => [p.attributes['gen_ai.agent.id'], p.value]), [['skipper', 1]]);
  } finally {
    stop();
    diag.restore();
    await t.shutdown();
  }
});

test('under register, a torn audit file is reported on stderr at warn level (no OTEL_LOG_LEVEL needed)', () => {
  const file = join(dir, 'torn.jsonl');
  writeFileSync(file, '');
  appendFileSync(file, '{"chain_id":"torn","seq":0,"prev_ha');
  const run = spawnSync(process.execPath, ['--import', 'agent-safety-otel/register', '-e', '0'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', AGENT_SAFETY_AUDIT_FILE: file, AGENT_SAFETY_CONSOLE: 'false' },
  });
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stderr, /torn line/);
  assert.match(run.stderr, /moved to .*torn\.jsonl\.torn-/);
});

test('shutdown with the collector down keeps its deadline: the journal holds every record, and what is left is printed with its path', async () => {
  const receiver = await OtlpReceiver.start({ fail: () => 503, maxLifetimeMs: 60_000 });
  const sub = mkdtempSync(join(dir, 'deadline-'));
  try {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'fixtures', 'deadline-app.ts'), sub, receiver.url], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.is(run.status, 0, run.stderr);
    assert.match(run.stdout, /shut down/, 'shutdown() returned');
    const journal = join(sub, 'audit.spool.jsonl');
    assert.match(run.stderr, /shutdown did not finish within 1000 ms/);
    assert.match(run.stderr, new RegExp(`50 records of sink otlp in ${journal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    const records = readFileSync(journal, 'utf8').split('\n').filter(l => l.startsWith('{"type":"record"'));
    assert.is(records.length, 50, 'the journal holds them for the next start');
  } finally {
    await receiver.close();
  }
});

test('shutdown with the collector down and a full disk: the message names the records the disk refused, never as kept', async () => {
  const receiver = await OtlpReceiver.start({ fail: () => 503, maxLifetimeMs: 60_000 });
  const sub = mkdtempSync(join(dir, 'full-'));
  const journal = join(sub, 'audit.spool.jsonl');
  symlinkSync('/dev/full', journal); // every write fails with ENOSPC, for root too
  try {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'fixtures', 'full-disk-deadline-app.ts'), journal, receiver.url], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '' },
    });
    assert.is(run.status, 0, run.stderr);
    const calls = JSON.parse(run.stdout.trim()) as { ran: number; refused: number };
    assert.is(calls.ran + calls.refused, 50);
    assert.ok(calls.refused > 0, 'at the cap, calls are refused before their tool runs');
    assert.match(run.stderr, /ENOSPC/, 'the failed writes are reported');
    const message = run.stderr.split('\n').find(l => l.includes('shutdown did not finish within 1000 ms')) ?? '';
    const path = journal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    assert.match(message, new RegExp(`audit records the disk refused \\(held in memory, lost when the process ends\\): \\d+ records of sink otlp, not written to ${path}`), message);
    assert.not.match(message, /undelivered audit records are kept/, message);
  } finally {
    await receiver.close();
  }
});

test.run();
