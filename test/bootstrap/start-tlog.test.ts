/**
 * The transparency log from the bootstrap: `audit.tlog` (and
 * AGENT_SAFETY_AUDIT_TLOG_DIR / _ORIGIN) adds a TlogTilesSink beside the
 * audit file, with the audit file as its journal; the published log's
 * checkpoint covers the audit file and its tiles check.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { metrics, trace } from '@opentelemetry/api';
import { auditOptionsFromEnv, optionsFromEnv, startAgentSafety } from '../../src/bootstrap/index.js';
import { guard } from '../../src/index.js';
import { SIG_ED25519, ed25519RawPublicKey, formatVkey, verifierFromVkey } from '../../src/patterns/audit/signed-note.js';
import { verifyJournalAgainstCheckpoint, verifyTlogTiles } from '../../src/verify/tlog.js';
import { captureDiag } from '../helpers/diag.js';

const test = suite('startAgentSafety: the transparency log');
const dir = mkdtempSync(join(tmpdir(), 'start-tlog-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('AGENT_SAFETY_AUDIT_TLOG_DIR and _ORIGIN: the option; the directory without an origin is refused, an origin alone is reported', () => {
  assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_TLOG_DIR: '/srv/log', AGENT_SAFETY_AUDIT_TLOG_ORIGIN: 'example.com/agent' }), {
    tlog: { dir: '/srv/log', origin: 'example.com/agent' },
  });
  assert.throws(() => auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_TLOG_DIR: '/srv/log' }), (e: unknown) => e instanceof TypeError && /AGENT_SAFETY_AUDIT_TLOG_ORIGIN is required/.test(e.message));
  const diagLog = captureDiag();
  try {
    assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_TLOG_ORIGIN: 'example.com/agent' }), {});
    assert.ok(diagLog.messages.some(m => m.includes('AGENT_SAFETY_AUDIT_TLOG_ORIGIN is set without AGENT_SAFETY_AUDIT_TLOG_DIR')), diagLog.messages.join(' | '));
  } finally {
    diagLog.restore();
  }
});

test('started from the environment, the log is published beside the audit file and covers it', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'log.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const auditFile = join(dir, 'audit.jsonl');
  const logDir = join(dir, 'log');
  const origin = 'example.com/start-tlog';
  const options = optionsFromEnv(
    {
      AGENT_SAFETY_CONSOLE: 'false',
      AGENT_SAFETY_AUDIT_FILE: auditFile,
      AGENT_SAFETY_AUDIT_SIGNING_KEY_FILE: join(dir, 'log.pem'),
      AGENT_SAFETY_AUDIT_SIGNING_KEY_ID: 'log-1',
      AGENT_SAFETY_AUDIT_TLOG_DIR: logDir,
      AGENT_SAFETY_AUDIT_TLOG_ORIGIN: origin,
    },
    readFileSync,
  );
  const safety = startAgentSafety(options);
  try {
    // The tiles sink was given the audit file as its journal: a new log records where the journal stood.
    assert.equal(JSON.parse(readFileSync(join(logDir, 'tlog-state.json'), 'utf8')), { origin, size: 0, chains: [], witnessSizes: {}, journalAfter: null });
    for (let i = 0; i < 5; i++) await guard(async () => i, { name: 'tlog_call' })();
  } finally {
    await safety.shutdown();
    safety.instrumentation.unregister();
    trace.disable();
    metrics.disable();
  }
  assert.ok(existsSync(join(logDir, 'checkpoint')));
  const checkpoint = readFileSync(join(logDir, 'checkpoint'), 'utf8');
  const logKeys = [verifierFromVkey(formatVkey(origin, SIG_ED25519, ed25519RawPublicKey(publicKey)))];
  const records = readFileSync(auditFile, 'utf8').trim().split('\n').length;
  const report = await verifyJournalAgainstCheckpoint([auditFile], { checkpoint, logKeys });
  assert.ok(report.valid, JSON.stringify(report.failure));
  assert.is(report.leaves, records - 1, 'the closing seal carries the checkpoint of every record before it');
  assert.ok(records >= 6);
  assert.ok((await verifyTlogTiles(logDir, { checkpoint, logKeys })).valid);
});

test.run();
