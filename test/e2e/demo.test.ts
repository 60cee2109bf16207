/**
 * `npm run demo` as a new user runs it: exits 0 with no server, and tells
 * the story on the console.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { codeBlocks, markdownSections, normalizeTree } from '../helpers/markdown.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const auditDir = mkdtempSync(join(tmpdir(), 'agent-safety-demo-test-'));

const tsx = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href;

function spawnNode(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
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

let demoRun: ReturnType<typeof spawnNode> | undefined;
/** The demo, run once for every test of this file. */
const runDemo = (): ReturnType<typeof spawnNode> => (demoRun ??= spawnNode(['examples/safe-agent-demo.ts'], root, { AGENT_SAFETY_DEMO_AUDIT_DIR: auditDir }));

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
  // Act 6b: a cosigned checkpoint and one record's inclusion proof, verified offline.
  assert.match(run.stdout, /— witness\.demo\.example \S+/);
  assert.match(run.stdout, /c2sp\.org\/tlog-proof@v1\nextra .*\nindex 1\n/);
  assert.match(run.stdout, /proof verified offline: entry 1 of demo\.example\/agent-audit \(size \d+\), cosigned by witness\.demo\.example/);
  assert.match(run.stdout, /demo finished/);
});

/** The lines of the tree that starts with `first`, up to the next blank line. */
function treeFrom(stdout: string, first: string): string {
  const start = stdout.indexOf(first);
  assert.ok(start >= 0, `the demo printed ${first}`);
  const end = stdout.indexOf('\n\n', start);
  return stdout.slice(start, end === -1 ? undefined : end);
}

test('the trees and the verifier output the docs show are what the demo prints', async () => {
  const { stdout } = await runDemo();
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const rollback = readFileSync(join(root, 'docs', 'rollback.md'), 'utf8');

  // docs/rollback.md: act 4's whole tree.
  const act4 = codeBlocks(rollback).find(b => b.code.includes('invoke_agent digest-publisher'));
  assert.ok(act4, 'docs/rollback.md shows act 4');
  assert.fixture(normalizeTree(act4.code), normalizeTree(treeFrom(stdout, '✓ invoke_agent digest-publisher')));

  // README: an excerpt of act 3's tree; lines ending in "…" are cut there.
  const patterns = markdownSections(readme, 2).get('The patterns') ?? '';
  const act3 = codeBlocks(patterns).find(b => b.code.includes('notify_all_users'));
  assert.ok(act3, 'the README shows act 3');
  const printed = normalizeTree(stdout).split('\n');
  for (const line of normalizeTree(act3.code).split('\n')) {
    const shown = line.replace(/ {2}…$/, '');
    assert.ok(printed.some(p => p.startsWith(shown)), `the demo never printed: ${line}`);
  }

  // README: the verifier's verdict on the tampered copy the demo leaves behind.
  const verify = codeBlocks(patterns).find(b => b.code.startsWith('$ npx agent-safety-otel verify '));
  assert.ok(verify, 'the README shows the verifier at work');
  const [command, ...expected] = verify.code.split('\n');
  const file = command.split(' ').pop()!;
  const verdict = await spawnNode([join(root, 'src', 'cli', 'bin.ts'), 'verify', file], auditDir);
  assert.is(verdict.code, 1, verdict.stderr);
  assert.fixture(normalizeTree(verdict.stdout), normalizeTree(expected.join('\n')));
});

test.run();
