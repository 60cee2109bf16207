/**
 * `npm run demo` as a new user runs it: exits 0 with no server, and tells
 * the story on the console.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const auditDir = mkdtempSync(join(tmpdir(), 'agent-safety-demo-test-'));

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/safe-agent-demo.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', AGENT_SAFETY_DEMO_AUDIT_DIR: auditDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', c => (stdout += c));
    child.stderr.on('data', c => (stderr += c));
    child.on('error', reject);
    child.on('close', code => {
      clearTimeout(killer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const test = suite('demo');
test.after(() => rmSync(auditDir, { recursive: true, force: true }));

test('npm run demo exits 0 without any server and prints the trace trees', async () => {
  const run = await runDemo();
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /Act 1/);
  assert.match(run.stdout, /✓ invoke_agent content-ranker/);
  assert.match(run.stdout, /execute_tool rank_content/);
  // Act 2: the breaker opens, rejects without calling the tool, probes and closes.
  assert.match(run.stdout, /• breaker closed → open \(consecutive_failures\)/);
  assert.match(run.stdout, /✗ execute_tool rank_content .*CircuitOpenError/);
  assert.match(run.stdout, /• breaker half_open → closed \(probes_succeeded\)/);
  // Act 3: the gate blocks a CRITICAL action and a reviewed one is approved; explanations everywhere.
  assert.match(run.stdout, /✗ execute_tool notify_all_users .*ActionBlockedError.*impact CRITICAL Δ1\.00 block→blocked/);
  assert.match(run.stdout, /✓ execute_tool notify_cohort .*impact HIGH .* review→approved/);
  assert.match(run.stdout, /• review approved by /);
  assert.match(run.stdout, /• explanation pre_action/);
  // Act 4: the failed publish is rolled back: one compensation span per undone step, linked.
  assert.match(run.stdout, /✓ agent_safety\.rollback .*rollback to before_publish \(last_safe_point\): complete/);
  const compensations = run.stdout.match(/compensate (publish_digest|email_preview|upload_draft)/g) ?? [];
  assert.equal(compensations, ['compensate publish_digest', 'compensate email_preview', 'compensate upload_draft'], 'newest first');
  assert.match(run.stdout, /↪ compensates span [0-9a-f]{16} of trace [0-9a-f]{32}/);
  // Act 5: the policy: a rate limit (the agent backs off), then the run's budget; Cedar denies delete_post to one agent only.
  assert.match(run.stdout, /Act 5/);
  assert.match(run.stdout, /call \d+: denied, rate limited by summarize-rate; the agent backs off \d+ ms/);
  assert.match(run.stdout, /✗ execute_tool summarize_post .*PolicyDeniedError.*policy deny rate_limited by summarize-rate, retry after \d+ ms/);
  assert.match(run.stdout, /call \d+: denied, budget_exhausted \(run-budget-usd/);
  assert.match(run.stdout, /✓ execute_tool summarize_post .*budget run-budget-usd: cost 0\.012, /);
  assert.match(run.stdout, /✗ execute_tool delete_post .*policy deny authorizer_denied by only-moderators-delete/);
  assert.match(run.stdout, /moderator-1: deleted p9/);
  // Act 6: the audit file verifies; the tampered copy fails at the edited line.
  assert.match(run.stdout, /Act 6/);
  assert.match(run.stdout, /chain [0-9a-f-]{36}: \d+ records, seq 0\.\.\d+/);
  assert.match(run.stdout, /verdict: VALID/);
  const edited = /line (\d+) edited: enforced blocked → proceeded/.exec(run.stdout);
  assert.ok(edited, 'the demo edits one line');
  assert.match(run.stdout, new RegExp(`verdict: TAMPERED: altered record at .*audit\\.tampered\\.jsonl:${edited![1]} `));
  assert.ok(existsSync(join(auditDir, 'audit.jsonl')), 'the audit file is where the demo said');
  assert.match(run.stdout, /demo finished/);
});

test.run();
