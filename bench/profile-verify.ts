/**
 * Profiles the verifier on one bench audit file (written once, kept):
 * `node --cpu-prof --import tsx bench/profile-verify.ts FILE [workers] [runs]`.
 * Prints per run: the hash limit (SHA-256 of the file), the verifier's time and their ratio.
 */
import { existsSync } from 'node:fs';
import { verifyAuditFiles } from '../src/verify/audit-verify.js';
import { hashLimitSeconds, writeAuditFile } from './suites/audit-verify.bench.js';

const [path = '/tmp/audit-verify-profile.jsonl', workersArg, runsArg] = process.argv.slice(2);
if (!existsSync(path)) writeAuditFile(path, 200_000);
const workers = workersArg === undefined || workersArg === 'default' ? undefined : Number(workersArg);

for (let run = 0; run < Number(runsArg ?? 3); run++) {
  const h = await hashLimitSeconds(path);
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
