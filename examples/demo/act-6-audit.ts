/**
 * Act 6: the audit chain. Every guarded call of acts 1-5 (and every
 * rollback and compensation) was appended, as its span ended, to a
 * hash-chained JSONL file. After the SDK has shut down (flushing the file),
 * the demo verifies it, then makes a copy in which one record was edited
 * (the blocked `notify_all_users` call made to look as if it had gone
 * ahead) and shows the verifier naming the line and the reason.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { traceSdk } from '../../src/bootstrap/sdk-compat.js';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AuditChainSpanProcessor, FileAuditSink, TlogTilesSink, TlogWitnessClient, auditAllSpans, auditFiles } from '../../src/exporters/index.js';
import { verifierFromVkey, verifyAuditFiles, verifyRecordProof } from '../../src/verify/index.js';
import { SIG_ED25519, ed25519RawPublicKey, formatVkey } from '../../src/patterns/audit/signed-note.js';
import { startWitness } from '../../src/cli/witness.js';
import { main } from '../../src/cli/main.js';
import type { AuditVerifyReport } from '../../src/verify/index.js';
import { heading } from './fake-services.js';

function describe(report: AuditVerifyReport): string {
  const chains = report.chains
    .map(c => `  chain ${c.chainId}: ${c.records} records, seq ${c.firstSeq}..${c.lastSeq}, head ${c.headHash.slice(0, 16)}…`)
    .join('\n');
  if (report.valid) return `${chains}\n  verdict: VALID`;
  const f = report.failure!;
  return `${chains}\n  verdict: TAMPERED: ${f.reason} at ${f.file}:${f.line}${f.seq !== undefined ? ` (seq ${f.seq})` : ''}\n  ${f.detail}`;
}

export async function act6Audit(auditFile: string): Promise<{ valid: boolean; tamperedDetected: boolean }> {
  heading('Act 6: the audit chain is verified; a tampered copy is caught');
  const files = auditFiles(auditFile);
  const report = await verifyAuditFiles(files);
  console.log(`audit file ${auditFile}`);
  console.log(describe(report));

  // Someone edits the record of the blocked call so that it reads as if it had gone ahead.
  const text = readFileSync(auditFile, 'utf8');
  const lines = text.split('\n');
  const index = lines.findIndex(l => l.includes('"execute_tool notify_all_users"'));
  const tamperedFile = auditFile.replace(/\.jsonl$/, '') + '.tampered.jsonl';
  lines[index] = lines[index].replace('"agent_safety.impact.enforced":{"stringValue":"blocked"}', '"agent_safety.impact.enforced":{"stringValue":"proceeded"}');
  writeFileSync(tamperedFile, lines.join('\n'), { mode: 0o600 });
  const tampered = await verifyAuditFiles([tamperedFile]);
  console.log(`\ntampered copy ${tamperedFile} (line ${index + 1} edited: enforced blocked → proceeded)`);
  console.log(describe(tampered));
  console.log(`\nverify it yourself: npx tsx src/cli/bin.ts verify ${auditFile}`);
  console.log('(where the package is installed: npx agent-safety-otel verify <files…>)');
  return { valid: report.valid, tamperedDetected: !tampered.valid };
}

/**
 * Act 6, continued: outsiders can check the log. A small run is published
 * as a transparency log (tiles beside the journal); a witness (here in
 * process, on 127.0.0.1) cosigns its checkpoint; `prove --record` gives one
 * record's inclusion proof, which anyone checks offline with the log's and
 * the witness's verifier keys.
 */
export async function act6Transparency(dir: string): Promise<{ cosigned: boolean; proofVerified: boolean }> {
  heading('Act 6b: a witness cosigns the checkpoint; one record is proven');
  const origin = 'demo.example/agent-audit';
  const log = generateKeyPairSync('ed25519');
  const logVkey = formatVkey(origin, SIG_ED25519, ed25519RawPublicKey(log.publicKey));
  const witness = await startWitness({ name: 'witness.demo.example', privateKey: generateKeyPairSync('ed25519').privateKey, logVkeys: [logVkey], statePath: join(dir, 'witness-state.json') });
  const journal = join(dir, 'tlog-audit.jsonl');
  const tiles = join(dir, 'tlog');
  try {
    const processor = new AuditChainSpanProcessor({
      sinks: [new FileAuditSink({ path: journal }), new TlogTilesSink({ dir: tiles, origin, witnesses: [new TlogWitnessClient({ url: witness.url, vkey: witness.vkey })] })],
      signingKey: { id: 'demo-log', privateKey: log.privateKey },
      filter: auditAllSpans,
    });
    const provider = traceSdk().tracerProvider({ resource: resourceFromAttributes({ 'service.name': 'demo-agent' }), spanProcessors: [processor] });
    const tracer = provider.getTracer('agent-safety-otel');
    for (const tool of ['rank_content', 'notify_cohort', 'publish_digest']) {
      tracer.startSpan(`execute_tool ${tool}`, { attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': tool } }).end();
    }
    await provider.shutdown(); // the last checkpoint: written as tiles/checkpoint, cosigned by the witness
  } finally {
    await witness.close();
  }
  const checkpoint = readFileSync(join(tiles, 'checkpoint'), 'utf8');
  console.log(`checkpoint (${tiles}/checkpoint), signed by the log and cosigned by the witness:\n\n${checkpoint}`);
  const out: string[] = [];
  const io = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t), isTTY: false };
  await main(['prove', '--tiles', tiles, '--record', '1', '--journal', journal], io);
  const proof = out.join('');
  console.log(`inclusion proof of record 1 (agent-safety-otel prove --tiles ${tiles} --record 1 --journal ${journal}):\n`);
  console.log(proof.replace(/^extra (.{60}).*$/m, 'extra $1… (the record itself)'));
  let proofVerified = false;
  try {
    const r = verifyRecordProof(proof, { logKeys: [verifierFromVkey(logVkey)], witnessKeys: [verifierFromVkey(witness.vkey)], quorum: 1 });
    proofVerified = true;
    console.log(`proof verified offline: entry ${r.index} of ${r.checkpoint.origin} (size ${r.checkpoint.size}), cosigned by ${r.checkpoint.witnesses.join(', ')}`);
  } catch (err) {
    console.log(`proof NOT verified: ${(err as Error).message}`);
  }
  return { cosigned: checkpoint.includes('— witness.demo.example '), proofVerified };
}
