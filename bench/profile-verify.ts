/**
 * Profiles the verifier on one bench audit file (written once, kept):
 * `node --cpu-prof --import tsx bench/profile-verify.ts FILE [workers] [runs]`.
 * Prints per run: the hash limit (SHA-256 of the file), the verifier's time and their ratio.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { verifyAuditFiles } from '../src/verify/audit-verify.js';
import { writeAuditFile } from './suites/audit-verify.bench.js';

const [path = '/tmp/audit-verify-profile.jsonl', workersArg, runsArg] = process.argv.slice(2);
if (!existsSync(path)) writeAuditFile(path, 200_000);
const workers = workersArg === undefined || workersArg === 'default' ? undefined : Number(workersArg);

async function hashSeconds(): Promise<number> {
  const t0 = process.hrtime.bigint();
  const file = await open(path, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const hash = createHash('sha256');
  for (;;) {
    const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
  }
  hash.digest();
  await file.close();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

for (let run = 0; run < Number(runsArg ?? 3); run++) {
  const h = await hashSeconds();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const report = await verifyAuditFiles([path], { workers });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  if (!report.valid) throw new Error(JSON.stringify(report.failure));
  console.log(
    `hash ${(h * 1000).toFixed(0)} ms, verify ${(s * 1000).toFixed(0)} ms (${Math.round(report.records / s)} records/s), ratio ${(h / s).toFixed(2)}; ` +
      `CPU of the process (all threads) ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`,
  );
}
