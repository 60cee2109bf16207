/**
 * The tiles sink catches up after a crash: a child process (real SDK →
 * AuditChainSpanProcessor → FileAuditSink + TlogTilesSink) is SIGKILLed
 * after its records reached the journal but before the tiles did; a
 * restarted TlogTilesSink given the journal publishes the missing records
 * first and continues the tree from there, so the log's checkpoint covers
 * the journal exactly (verifyJournalAgainstCheckpoint) and the tiles check
 * (verifyTlogTiles). The same restart without the journal leaves the gap:
 * the checkpoint no longer covers the journal.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sdkTrace } from '../../helpers/otel.js';
import { AuditChainSpanProcessor, FileAuditSink, TlogTilesSink, auditAllSpans, auditFiles } from '../../../src/exporters/index.js';
import { SIG_ED25519, ed25519RawPublicKey, formatVkey, verifierFromVkey } from '../../../src/patterns/audit/signed-note.js';
import { verifyJournalAgainstCheckpoint, verifyTlogTiles } from '../../../src/verify/tlog.js';
import { ed25519, produceSpans } from '../../helpers/audit-fixtures.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(root, 'test', 'fixtures', 'tlog-tiles-writer.ts');
const test = suite('TlogTilesSink catches up from the journal after a SIGKILL');
const ORIGIN = 'example.com/catch-up';
const logKey = ed25519();
const logKeys = [verifierFromVkey(formatVkey(ORIGIN, SIG_ED25519, ed25519RawPublicKey(logKey.publicKey)))];
const tmp = mkdtempSync(join(tmpdir(), 'tlog-catch-up-'));
const keyFile = join(tmp, 'log.pem');
writeFileSync(keyFile, logKey.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });

test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs the writer until it is ready, then SIGKILLs it. */
function runAndKill(dir: string, journal: string, phase: 'flushed' | 'fresh'): Promise<{ published: number }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dir, journal, keyFile, ORIGIN, phase], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let ready: { published: number } | undefined;
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000); // never left running
    child.stderr.on('data', d => (stderr += d));
    createInterface({ input: child.stdout }).on('line', line => {
      ready = (JSON.parse(line) as { ready: { published: number } }).ready;
      child.kill('SIGKILL');
    });
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (ready && signal === 'SIGKILL') resolvePromise(ready);
      else reject(new Error(`the writer ended with ${signal ?? 'no signal'} before it was ready: ${stderr}`));
    });
  });
}

const recordLines = (journal: string): string[] =>
  auditFiles(journal)
    .flatMap(f => readFileSync(f, 'utf8').split('\n'))
    .filter(l => l.trim() !== '');

const state = (dir: string): { size: number; journalAfter?: string | null } => JSON.parse(readFileSync(join(dir, 'tlog-state.json'), 'utf8')) as { size: number };

/** The next process run: the journal, the tiles (with or without the journal), 10 spans, shutdown (its closing seal carries the checkpoint). */
async function restart(dir: string, journal: string, catchUp: boolean): Promise<number> {
  const tiles = new TlogTilesSink({ dir, origin: ORIGIN, journal: catchUp ? journal : undefined });
  const size = tiles.previousTree().tree.size;
  const processor = new AuditChainSpanProcessor({
    sinks: [new FileAuditSink({ path: journal, fsync: 'always' }), tiles],
    filter: auditAllSpans,
    signingKey: { id: 'k1', privateKey: logKey.privateKey },
    seals: { everyRecords: 10_000, everyMs: 600_000 },
  });
  const provider = sdkTrace.tracerProvider({ spanProcessors: [processor] });
  produceSpans(provider.getTracer('restart', '1.0.0'), 10, 9);
  await provider.shutdown();
  return size;
}

test('tiles written up to a point, then a kill: the restart publishes the journal\'s rest first', async () => {
  const dir = join(tmp, 'a');
  const journal = join(tmp, 'a.jsonl');
  const ready = await runAndKill(dir, journal, 'flushed');
  const journaled = recordLines(journal).length;
  const published = state(dir).size;
  assert.ok(published >= 20 && published === ready.published, `published ${published}, reported ${ready.published}`);
  assert.ok(journaled >= published + 15, `journal ${journaled}, tiles ${published}`);

  // Without the journal (a copy of both): the restart continues from the tiles and the gap stays.
  const dirNo = join(tmp, 'a-no');
  const journalNo = join(tmp, 'a-no.jsonl');
  cpSync(dir, dirNo, { recursive: true });
  copyFileSync(journal, journalNo);
  assert.is(await restart(dirNo, journalNo, false), published);
  const gap = await verifyJournalAgainstCheckpoint(auditFiles(journalNo), { checkpoint: readFileSync(join(dirNo, 'checkpoint'), 'utf8'), logKeys });
  assert.is(gap.valid, false);
  assert.is(gap.failure?.reason, 'root mismatch');

  // With the journal: the tree continues where the chain is.
  assert.is(await restart(dir, journal, true), journaled);
  const checkpoint = readFileSync(join(dir, 'checkpoint'), 'utf8');
  const all = recordLines(journal).length;
  assert.is(Number(checkpoint.split('\n')[1]), all - 1, 'the closing seal\'s note covers every record before it');
  const report = await verifyJournalAgainstCheckpoint(auditFiles(journal), { checkpoint, logKeys });
  assert.ok(report.valid, JSON.stringify(report.failure));
  assert.is(report.leaves, all - 1);
  const tilesReport = await verifyTlogTiles(dir, { checkpoint, logKeys });
  assert.ok(tilesReport.valid, JSON.stringify(tilesReport.failure));
  assert.is(state(dir).size, all);
});

test('a new log killed before its first tiles: the records before the log began stay out, the crashed run\'s go in', async () => {
  const dir = join(tmp, 'b');
  const journal = join(tmp, 'b.jsonl');
  // An earlier era: the journal was written without a tiles sink.
  const earlier = new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path: journal, fsync: 'always' })], filter: auditAllSpans });
  const provider = sdkTrace.tracerProvider({ spanProcessors: [earlier] });
  produceSpans(provider.getTracer('earlier', '1.0.0'), 12, 3);
  await provider.shutdown();
  const before = recordLines(journal);
  assert.ok(before.length >= 12);

  await runAndKill(dir, journal, 'fresh');
  const s = state(dir);
  assert.is(s.size, 0, 'no tile was written before the kill');
  assert.is(s.journalAfter, (JSON.parse(before[before.length - 1]) as { hash: string }).hash);
  const journaled = recordLines(journal).length;
  assert.ok(journaled >= before.length + 35);

  assert.is(await restart(dir, journal, true), journaled - before.length);
  const checkpoint = readFileSync(join(dir, 'checkpoint'), 'utf8');
  const logLines = recordLines(journal).slice(before.length);
  writeFileSync(join(tmp, 'b-log.jsonl'), logLines.join('\n') + '\n');
  const report = await verifyJournalAgainstCheckpoint([join(tmp, 'b-log.jsonl')], { checkpoint, logKeys });
  assert.ok(report.valid, JSON.stringify(report.failure));
  assert.is(report.leaves, logLines.length - 1);
  assert.ok((await verifyTlogTiles(dir, { checkpoint, logKeys })).valid);
});

test.run();
