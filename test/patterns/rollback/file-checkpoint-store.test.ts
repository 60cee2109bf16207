import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileCheckpointStore } from '../../../src/patterns/rollback/file-checkpoint-store.js';
import { RollbackEngine } from '../../../src/patterns/rollback/rollback-engine.js';
import type { RollbackHookContext } from '../../../src/patterns/rollback/rollback-engine.js';
import { rejection } from '../../helpers/otel.js';

const test = suite<{ dir: string }>('file checkpoint store', { dir: '' });
test.before.each(ctx => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'aso-checkpoints-'));
});
test.after.each(ctx => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

const origin = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };

test('a new manager over the same directory rolls back what the previous process did', async ({ dir }) => {
  // Process 1: a safe point, two actions, then "a crash" (the engine is dropped).
  const first = new RollbackEngine({ agentId: 'publisher', store: new FileCheckpointStore({ directory: dir }) });
  first.registerRollbackHook('upload', () => {});
  first.registerRollbackHook('notify', () => {});
  const state = { step: 0, seen: new Set(['a']), since: new Date(5_000), big: 7n };
  const safe = await first.checkpoint('before_publish', { state, isSafePoint: true });
  const upload = await first.checkpoint('upload', { pending: true, origin });
  await first.complete(upload.id, { environmentDelta: { draftId: 'd-1' } });
  await first.checkpoint('notify', { pending: true, origin: { ...origin, spanId: '00f067aa0ba902b7' } });
  state.step = 3; // mutations after the checkpoint change nothing

  // Process 2: a new engine, the hooks registered again.
  const second = new RollbackEngine({ agentId: 'publisher', store: new FileCheckpointStore({ directory: dir }) });
  const calls: Array<[string, unknown, string, string]> = [];
  const hook = (name: string, delta: unknown, ctx: RollbackHookContext) => void calls.push([name, delta, ctx.actionStatus, ctx.idempotencyKey]);
  second.registerRollbackHook('upload', hook);
  second.registerRollbackHook('notify', hook);
  const listed = await second.list();
  assert.equal(listed.map(c => c.name), ['before_publish', 'upload', 'notify']);
  assert.equal(listed[1].origin, origin, 'the span reference survives');
  assert.is(listed[1].actionStatus, 'completed');
  assert.is(listed[2].actionStatus, 'pending');

  const report = await second.rollbackTo(safe.id);
  assert.equal(calls, [
    ['notify', undefined, 'pending', listed[2].id],
    ['upload', { draftId: 'd-1' }, 'completed', upload.id],
  ]);
  assert.equal(report.state, { step: 0, seen: new Set(['a']), since: new Date(5_000), big: 7n });
  assert.equal(readdirSync(join(dir, 'publisher')), [], 'undone checkpoints are deleted from disk');

  // The next checkpoint continues the sequence.
  const next = await second.checkpoint('again');
  assert.ok(next.seq > listed[2].seq);
});

test('files are written whole: JSON named by id, no temporary left; json snapshots are readable text', async ({ dir }) => {
  const store = new FileCheckpointStore({ directory: dir });
  const engine = new RollbackEngine({ agentId: 'a', store, snapshot: 'json' });
  const cp = await engine.checkpoint('step', { state: { plan: ['x'] }, environmentDelta: { id: 1 } });
  const files = readdirSync(join(dir, 'a'));
  assert.equal(files, [`${cp.id}.json`]);
  const raw = JSON.parse(readFileSync(join(dir, 'a', files[0]), 'utf8'));
  assert.is(raw.format, 'agent-safety-otel/checkpoint');
  assert.is(raw.v, 1);
  assert.equal(raw.state, { codec: 'json', encoding: 'utf8', data: '{"plan":["x"]}', bytes: 14 });
  const got = await store.get('a', cp.id);
  assert.is(got?.name, 'step');
  assert.is(await store.get('a', '00000000-0000-0000-0000-000000000000'), undefined);
  await store.delete('a', [cp.id, 'unknown-id']);
  assert.equal(await store.list('a'), []);
});

test('a temporary file left by a crash mid-write is ignored and removed', async ({ dir }) => {
  const store = new FileCheckpointStore({ directory: dir, fsync: false });
  const engine = new RollbackEngine({ agentId: 'a', store });
  await engine.checkpoint('kept');
  const torn = join(dir, 'a', '.1234.5678.tmp');
  writeFileSync(torn, '{"format":"agent-safety-otel/checkp');
  const records = await store.list('a');
  assert.equal(records.map(r => r.name), ['kept']);
  assert.not.ok(existsSync(torn));
});

test('a stray file and a corrupt checkpoint are skipped and reported; the others are recovered and rolled back', async ({ dir }) => {
  const skipped: { file: string; reason: string }[] = [];
  const store = new FileCheckpointStore({ directory: dir, onSkip: s => skipped.push({ file: s.file, reason: s.reason }) });
  const engine = new RollbackEngine({ agentId: 'a', store });
  const undone: string[] = [];
  const hook = (name: string, _delta: unknown, _ctx: RollbackHookContext) => void undone.push(name);
  await engine.checkpoint('start', { isSafePoint: true });
  const broken = await engine.checkpoint('step');
  await engine.checkpoint('step', { environmentDelta: 'kept' });
  writeFileSync(join(dir, 'a', 'notes.json'), '{"todo":"not a checkpoint"}');
  writeFileSync(join(dir, 'a', `${broken.id}.json`), 'not json');
  const listed = await store.list('a');
  assert.equal(listed.map(r => r.name), ['start', 'step']);
  assert.is(store.skippedFiles, 2);
  assert.equal(skipped.map(s => s.file.split('/').pop()).sort(), [`${broken.id}.json`, 'notes.json'].sort());
  assert.ok(skipped.some(s => /invalid JSON/.test(s.reason)));
  assert.ok(skipped.some(s => /not a checkpoint file/.test(s.reason)));
  // After a restart, the rollback undoes what it can read.
  const restarted = new RollbackEngine({ agentId: 'a', store });
  restarted.registerRollbackHook('step', hook);
  await restarted.rollbackToLastSafePoint();
  assert.equal(undone, ['step']);
});

test('agent ids cannot escape the directory', async ({ dir }) => {
  const store = new FileCheckpointStore({ directory: join(dir, 'store') });
  for (const agentId of ['..', '../outside', 'a/b', '.']) {
    await new RollbackEngine({ agentId, store }).checkpoint('x');
  }
  assert.equal(readdirSync(dir), ['store']);
  assert.is(readdirSync(join(dir, 'store')).length, 4);
  assert.equal((await store.list('../outside')).map(r => r.agentId), ['../outside']);
});

test('records written with a codec the new manager lacks fail at load, with a clear error', async ({ dir }) => {
  const codec = { name: 'custom', encode: (v: unknown) => JSON.stringify(v), decode: (d: string | Uint8Array) => JSON.parse(String(d)) };
  await new RollbackEngine({ agentId: 'a', store: new FileCheckpointStore({ directory: dir }), snapshot: codec }).checkpoint('x', { state: 1 });
  const err = await rejection(new RollbackEngine({ agentId: 'a', store: new FileCheckpointStore({ directory: dir }) }).list());
  assert.match(String(err), /saved with the snapshot codec "custom", which this manager does not have/);
  const ok = new RollbackEngine({ agentId: 'a', store: new FileCheckpointStore({ directory: dir }), snapshot: codec });
  assert.is((await ok.rollbackSteps(1)).state, 1);
});

test('bad options throw naming the option; by-reference snapshots are refused', ({ dir }) => {
  assert.throws(() => new FileCheckpointStore({} as never), /directory must be a non-empty string/);
  assert.throws(() => new FileCheckpointStore({ directory: dir, fsync: 'yes' } as never), /fsync must be a boolean/);
  assert.throws(() => new FileCheckpointStore({ directory: dir, dir } as never), /unknown option "dir"/);
  const store = new FileCheckpointStore({ directory: dir });
  assert.throws(() => new RollbackEngine({ agentId: 'a', store, snapshot: 'reference' }), /snapshot must not be "reference"/);
});

test.run();
