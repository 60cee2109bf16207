/**
 * Act 6: the audit chain. Every guarded call of acts 1-5 (and every
 * rollback and compensation) was appended, as its span ended, to a
 * hash-chained JSONL file. After the SDK has shut down (flushing the file),
 * the demo verifies it, then makes a copy in which one record was edited
 * (the blocked `notify_all_users` call made to look as if it had gone
 * ahead) and shows the verifier naming the line and the reason.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { auditFiles } from '../../src/exporters/index.js';
import { verifyAuditFiles } from '../../src/verify/index.js';
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
