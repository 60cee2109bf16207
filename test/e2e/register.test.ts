/**
 * `node --import agent-safety-otel/register app.mjs` in a child process:
 * the embedded default (a trace tree on the console, no server), OTLP over
 * HTTP to a real receiver on 127.0.0.1 in both encodings, flushed at exit
 * and on SIGTERM, and a sampler from OTEL_TRACES_SAMPLER that does not thin
 * the audit.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';
import { verifyAuditFiles } from '../../src/verify/audit-verify.js';
import { SIG_ED25519, ed25519RawPublicKey, formatVkey, verifierFromVkey } from '../../src/patterns/audit/signed-note.js';
import { verifyJournalAgainstCheckpoint, verifyTlogTiles } from '../../src/verify/tlog.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const app = 'test/fixtures/register-app.mjs';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A temporary directory per run for the audit file and spool; removed when the suite ends. */
const scratch = mkdtempSync(join(tmpdir(), 'agent-safety-register-'));
let runs = 0;

/**
 * Runs the fixture app under the register entry; kills it after `timeoutMs`
 * whatever happens. The audit file and spool go to a fresh temporary
 * directory (`AGENT_SAFETY_AUDIT_FILE`, `AGENT_SAFETY_AUDIT_SPOOL`) unless
 * `env` says otherwise.
 */
function runApp(env: Record<string, string>, args: string[] = [], onStdout?: (text: string, child: ReturnType<typeof spawn>) => void, timeoutMs = 20_000): Promise<Run> {
  const dir = join(scratch, String(++runs));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'agent-safety-otel/register', app, ...args], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        NO_COLOR: '1',
        OTEL_LOG_LEVEL: 'error',
        AGENT_SAFETY_AUDIT_FILE: join(dir, 'audit.jsonl'),
        AGENT_SAFETY_AUDIT_SPOOL: join(dir, 'audit.spool.jsonl'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', chunk => {
      stdout += chunk;
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', chunk => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

const test = suite('register entry (child process)');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('without an endpoint: the embedded default prints the trace tree and needs no server', async () => {
  const run = await runApp({ AGENT_SAFETY_AGENT_ID: 'env-agent' });
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /✓ invoke_agent fixture-agent/);
  assert.match(run.stdout, /├─ ✓ execute_tool lookup/);
  assert.match(run.stdout, /└─ ✗ execute_tool broken_tool .* RangeError: downstream said no/);
});

test('AGENT_SAFETY_CONSOLE=false silences the tree', async () => {
  const run = await runApp({ AGENT_SAFETY_CONSOLE: 'false' });
  assert.is(run.code, 0, run.stderr);
  assert.not.match(run.stdout, /execute_tool/);
});

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  test(`with OTEL_EXPORTER_OTLP_ENDPOINT (${protocol}): traces and metrics arrive over OTLP/HTTP at exit`, async () => {
    const receiver = await OtlpReceiver.start();
    try {
      const run = await runApp({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_SERVICE_NAME: 'register-fixture',
        AGENT_SAFETY_AGENT_ID: 'env-agent',
      });
      assert.is(run.code, 0, run.stderr);
      assert.not.match(run.stdout, /execute_tool/, 'no console tree when exporting over OTLP');
      const contentType = protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
      assert.ok(receiver.requests.every(r => r.contentType === contentType), `all requests were ${contentType}`);
      const names = receiver.spans.map(s => s.name).sort();
      assert.equal(names, ['execute_tool broken_tool', 'execute_tool lookup', 'invoke_agent fixture-agent']);
      const lookup = receiver.spans.find(s => s.name === 'execute_tool lookup')!;
      const agent = receiver.spans.find(s => s.name === 'invoke_agent fixture-agent')!;
      assert.is(lookup.parentSpanId, agent.spanId);
      assert.is(lookup.kind, 1, 'INTERNAL');
      assert.is(lookup.attributes['gen_ai.tool.name'], 'lookup');
      assert.is(lookup.attributes['gen_ai.tool.description'], 'Looks things up');
      assert.is(lookup.resource['service.name'], 'register-fixture');
      assert.is(lookup.scope.name, 'agent-safety-otel');
      const broken = receiver.spans.find(s => s.name === 'execute_tool broken_tool')!;
      assert.is(broken.status.code, 2, 'ERROR');
      assert.is(broken.attributes['error.type'], 'RangeError');
      assert.ok(broken.events.some(e => e.name === 'exception'));
      const durations = receiver.points.filter(p => p.metric === 'gen_ai.execute_tool.duration');
      assert.ok(durations.length >= 2, `duration points: ${durations.length}`);
      assert.is(durations[0].unit, 's');
      assert.ok(durations.some(p => p.attributes['gen_ai.tool.name'] === 'lookup' && p.count === 1));
    } finally {
      await receiver.close();
    }
  });
}

/** The span names in an audit file, in chain order, after checking that the chain verifies. */
async function auditedNames(file: string): Promise<string[]> {
  const report = await verifyAuditFiles([file]);
  assert.ok(report.valid, JSON.stringify(report.failures));
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(line => line !== '')
    .map(line => (JSON.parse(line) as { span: { name: string } }).span.name);
}

test('AGENT_SAFETY_AUDIT_TLOG_DIR: the tiles sink (loaded only when configured) publishes a signed log that covers the audit file', async () => {
  const dir = join(scratch, 'tlog');
  mkdirSync(dir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'log.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const origin = 'example.com/register-tlog';
  const auditFile = join(dir, 'audit.jsonl');
  const run = await runApp({
    AGENT_SAFETY_CONSOLE: 'false',
    AGENT_SAFETY_AUDIT_FILE: auditFile,
    AGENT_SAFETY_AUDIT_SIGNING_KEY_FILE: join(dir, 'log.pem'),
    AGENT_SAFETY_AUDIT_SIGNING_KEY_ID: 'log-1',
    AGENT_SAFETY_AUDIT_TLOG_DIR: join(dir, 'log'),
    AGENT_SAFETY_AUDIT_TLOG_ORIGIN: origin,
  });
  assert.is(run.code, 0, run.stderr);
  const checkpoint = readFileSync(join(dir, 'log', 'checkpoint'), 'utf8');
  const logKeys = [verifierFromVkey(formatVkey(origin, SIG_ED25519, ed25519RawPublicKey(publicKey)))];
  const report = await verifyJournalAgainstCheckpoint([auditFile], { checkpoint, logKeys });
  assert.ok(report.valid, JSON.stringify(report.failure));
  assert.ok(report.leaves >= 3, `${report.leaves} leaves`);
  assert.ok((await verifyTlogTiles(join(dir, 'log'), { checkpoint, logKeys })).valid);
});

test('OTEL_TRACES_SAMPLER=traceidratio with ratio 0: the guarded calls are still audited, while the sampler drops the app\'s own span', async () => {
  const file = join(scratch, 'sampling-off', 'audit.jsonl');
  const run = await runApp({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0', AGENT_SAFETY_AUDIT_FILE: file }, ['--plain-span']);
  assert.is(run.code, 0, run.stderr);
  assert.equal(JSON.parse(run.stdout.trim().split('\n').at(-1)!), { plain: { recording: false, sampled: false } }, 'the sampler drops spans that are not the package\'s');
  assert.not.match(run.stdout, /execute_tool|invoke_agent/, 'exporters (the console tree) still see only what the sampler samples');
  assert.equal(await auditedNames(file), ['execute_tool lookup', 'execute_tool broken_tool', 'invoke_agent fixture-agent']);

  // The same app with everything sampled: the plain span is kept and the tree printed, the audit is the same.
  const sampledFile = join(scratch, 'sampling-on', 'audit.jsonl');
  const sampled = await runApp({ OTEL_TRACES_SAMPLER: 'always_on', AGENT_SAFETY_AUDIT_FILE: sampledFile }, ['--plain-span']);
  assert.is(sampled.code, 0, sampled.stderr);
  assert.match(sampled.stdout, /\{"plain":\{"recording":true,"sampled":true\}\}/);
  assert.match(sampled.stdout, /├─ ✓ execute_tool lookup/);
  assert.equal(await auditedNames(sampledFile), ['execute_tool lookup', 'execute_tool broken_tool', 'invoke_agent fixture-agent']);
});

test('a second start in the process (startAgentSafety() after --import …/register) throws, naming the first; the first keeps working', async () => {
  const file = join(scratch, 'double-start', 'audit.jsonl');
  const run = await runApp({ AGENT_SAFETY_AUDIT_FILE: file }, ['--start-again']);
  assert.is(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout.trim().split('\n').find(line => line.startsWith('{"secondStart"'))!) as Record<string, unknown>;
  assert.is(report.secondStart, 'AgentSafetyAlreadyStartedError');
  assert.is(report.branded, true);
  assert.is(report.firstStart, 'agent-safety-otel/register');
  assert.match(String(report.message), 'already started in this process, by agent-safety-otel/register');
  assert.match(run.stdout, /├─ ✓ execute_tool lookup/, 'the first start still prints its tree');
  assert.equal(await auditedNames(file), ['execute_tool lookup', 'execute_tool broken_tool', 'invoke_agent fixture-agent'], 'and writes its audit');
});

test('SIGTERM: pending telemetry is flushed, then the process ends by the signal', async () => {
  const receiver = await OtlpReceiver.start();
  try {
    let signalled = false;
    const run = await runApp({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, ['--wait'], (out, child) => {
      if (!signalled && out.includes('ready')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    assert.is(run.signal, 'SIGTERM', `exit: code ${run.code} signal ${run.signal}; stderr: ${run.stderr}`);
    assert.is(receiver.spans.length, 3, 'the spans were flushed before the process died');
  } finally {
    await receiver.close();
  }
});

test.run();
