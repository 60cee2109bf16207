/**
 * The tiles sink under a write fault, with real files: the path of the first
 * full tile is blocked (a directory stands where the tile's rename must
 * land, so the write fails as on a full or read-only disk, without root),
 * while records and seals with checkpoint notes keep arriving. The failure
 * is reported through `diag`; once the path is usable again, the next flush
 * writes what was left, so the last checkpoint covers every record and the
 * tiles verify against it. Before, one failed write dropped the queued
 * leaves and publishing stopped for the rest of the run.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AuditChainSpanProcessor, FileAuditSink, TlogTilesSink, auditAllSpans } from '../../../src/exporters/index.js';
import { SIG_ED25519, ed25519RawPublicKey, formatVkey, verifierFromVkey } from '../../../src/patterns/audit/signed-note.js';
import { verifyJournalAgainstCheckpoint, verifyTlogTiles } from '../../../src/verify/tlog.js';
import { ed25519, produceSpans } from '../../helpers/audit-fixtures.js';
import { captureDiag } from '../../helpers/diag.js';
import { sdkTrace } from '../../helpers/otel.js';

const test = suite('TlogTilesSink under a write fault');
const ORIGIN = 'example.com/tiles-fault';
const logKey = ed25519();
const logKeys = [verifierFromVkey(formatVkey(ORIGIN, SIG_ED25519, ed25519RawPublicKey(logKey.publicKey)))];
const dir = mkdtempSync(join(tmpdir(), 'tlog-tiles-fault-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Every file under `root`, relative. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter(e => e.isFile())
    .map(e => join(e.parentPath, e.name).slice(root.length + 1));
}

test('a tile write that fails is reported and written at a later flush; the last checkpoint covers every record and verifies', async () => {
  const journal = join(dir, 'audit.jsonl');
  const tiles = join(dir, 'log');
  const blocker = join(tiles, 'tile', '0', '000');
  mkdirSync(join(blocker, 'in-the-way'), { recursive: true });
  const diag = captureDiag();
  try {
    const processor = new AuditChainSpanProcessor({
      sinks: [new FileAuditSink({ path: journal, fsync: 'always' }), new TlogTilesSink({ dir: tiles, origin: ORIGIN, flushMs: 20 })],
      filter: auditAllSpans,
      signingKey: { id: 'k1', privateKey: logKey.privateKey },
      seals: { everyRecords: 64, everyMs: 600_000 },
    });
    const provider = sdkTrace.tracerProvider({ resource: resourceFromAttributes({ 'service.name': 'tiles-fault' }), spanProcessors: [processor] });
    const tracer = provider.getTracer('agent-safety-otel', '0.1.0');
    produceSpans(tracer, 300, 1); // past the first full tile (256 leaves), with seals every 64 records
    await diag.waitFor(/could not publish to /);
    rmSync(blocker, { recursive: true, force: true }); // the disk is usable again
    produceSpans(tracer, 100, 2);
    await provider.shutdown(); // the closing seal carries the last checkpoint

    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    const checkpoint = readFileSync(join(tiles, 'checkpoint'), 'utf8');
    const trust = { checkpoint, logKeys, origin: ORIGIN };
    const published = await verifyTlogTiles(tiles, trust);
    assert.ok(published.valid, JSON.stringify(published.failure));
    assert.is(published.leaves, lines.length - 1, 'every record but the closing seal (which carries the checkpoint) is in the log');
    const covered = await verifyJournalAgainstCheckpoint([journal], trust);
    assert.ok(covered.valid, JSON.stringify(covered.failure));
    assert.not.ok(diag.messages.some(m => /publishing stops/.test(m)), diag.messages.join(' | '));
    assert.equal(
      filesUnder(tiles).filter(f => f.includes('.tmp-')),
      [],
      'no temporary file is left behind',
    );
  } finally {
    diag.restore();
  }
});

test.run();
