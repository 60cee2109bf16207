/**
 * A poison batch among good ones: a real loopback receiver answers one
 * audit batch with HTTP 400 (a permanent error). That batch goes to the
 * dead-letter file (0600, the record lines verbatim), is counted, and later
 * records keep flowing; the Collector-style export plus the dead-letter file
 * verify as the whole chain. A 503 (transient) is retried, never
 * dead-lettered.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OtlpAuditSink } from '../../../src/exporters/audit/otlp-audit-sink.js';
import { verifyAuditFiles } from '../../../src/verify/audit-verify.js';
import { auditedTracer } from '../../helpers/audit-driver.js';
import { captureDiag } from '../../helpers/diag.js';
import { OtlpReceiver } from '../../helpers/otlp-receiver.js';

const test = suite('OTLP audit sink: dead letters');

async function until(predicate: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > 20_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 5));
  }
}

test('a batch refused with 400 goes to the dead-letter file; later records flow; export + dead letters verify', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'otlp-dead-letter-'));
  // Request 1 is refused for good, request 3 once with a 503 (retried).
  const receiver = await OtlpReceiver.start({ fail: ({ index }) => (index === 1 ? 400 : index === 3 ? 503 : undefined), maxLifetimeMs: 60_000 });
  const diag = captureDiag();
  const sink = new OtlpAuditSink({
    exporter: new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }),
    spoolDir: dir,
    maxBatchSize: 10,
    scheduledDelayMs: 1,
    backoff: { initialMs: 10, maxMs: 50 },
  });
  const t = auditedTracer([sink]);
  try {
    for (let i = 0; i < 5; i++) {
      t.produce(5, i * 5);
      await until(() => sink.backlog() === 0 || receiver.requests.length > i, 'a batch to go');
    }
    await until(() => sink.backlog() === 0, 'everything delivered or set aside');
    assert.is(sink.deadLetters, 10, 'one batch of 10 set aside');
    assert.is(receiver.spans.length, 40, 'every other record delivered');
    assert.ok(receiver.requests.some(r => r.status === 503), 'a transient error happened too');
    const dead = readFileSync(sink.deadLetterPath, 'utf8').split('\n').filter(Boolean);
    assert.is(dead.length, 10);
    assert.is(statSync(sink.deadLetterPath).mode & 0o777, 0o600);
    assert.ok(sink.deadLetterPath.endsWith('otlp-audit-spool.dead-letter.jsonl'));
    assert.ok(diag.messages.some(m => /refused 10 records for good \(HTTP 400\)/.test(m)), diag.messages.join(' | '));
    const exported = join(dir, 'export.jsonl');
    writeFileSync(exported, receiver.toOtlpJsonLines());
    const alone = await verifyAuditFiles([exported]);
    assert.not.ok(alone.valid, 'the export alone misses the dead letters');
    const verdict = await verifyAuditFiles([exported, sink.deadLetterPath]);
    assert.ok(verdict.valid, JSON.stringify(verdict.failures));
    assert.is(verdict.chains[0].records, 50, 'the export and the dead-letter file are the whole chain');
  } finally {
    diag.restore();
    await t.provider.shutdown();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
