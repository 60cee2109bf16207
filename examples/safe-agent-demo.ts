/**
 * The end-to-end demo: a content-ranking agent whose tools call a fake
 * downstream service with injected failures, with the safety patterns
 * composing around each call. It needs no server: finished traces are
 * printed as trees on the console, and the audit chain is written to a file
 * in a temporary directory (or AGENT_SAFETY_DEMO_AUDIT_DIR), verified at the
 * end (act 6).
 *
 *   npm run demo
 *
 * With OTEL_EXPORTER_OTLP_ENDPOINT set (as in collector-config/docker-compose.yaml),
 * traces and metrics also go over OTLP/HTTP to that Collector.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgentSafety } from '../src/bootstrap/index.js';
import { act1Ranking } from './demo/act-1-ranking.js';
import { act2Breaker } from './demo/act-2-breaker.js';
import { act3Gate } from './demo/act-3-gate.js';
import { act4Rollback } from './demo/act-4-rollback.js';
import { act5Policy } from './demo/act-5-policy.js';
import { act6Audit, act6Transparency } from './demo/act-6-audit.js';
import { RankingService } from './demo/fake-services.js';

const otlpEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
const auditDir = process.env.AGENT_SAFETY_DEMO_AUDIT_DIR ?? mkdtempSync(join(tmpdir(), 'agent-safety-demo-'));
mkdirSync(auditDir, { recursive: true });
const auditFile = join(auditDir, 'audit.jsonl');
const safety = startAgentSafety({
  serviceName: 'safe-agent-demo',
  instrumentation: { agent: { id: 'content-ranker-v3', name: 'content-ranker' } },
  console: true,
  otlp: otlpEndpoint ? { endpoint: otlpEndpoint } : undefined,
  // The audit chain: to this file, and over OTLP too when an endpoint is set.
  audit: { file: auditFile },
});

const ranking = new RankingService();
try {
  await act1Ranking(ranking);
  await act2Breaker(ranking);
  await act3Gate();
  await act4Rollback();
  await act5Policy();
} finally {
  await safety.shutdown(); // flushes the traces and the audit file
}
const audit = await act6Audit(auditFile);
const transparency = await act6Transparency(auditDir);
console.log('demo finished');
if (!audit.valid || !audit.tamperedDetected || !transparency.cosigned || !transparency.proofVerified) process.exitCode = 1;
