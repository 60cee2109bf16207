/**
 * `npm run demo` as a new user runs it: exits 0 with no server, and tells
 * the story on the console.
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/safe-agent-demo.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
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

test('npm run demo exits 0 without any server and prints the trace trees', async () => {
  const run = await runDemo();
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /Act 1/);
  assert.match(run.stdout, /✓ invoke_agent content-ranker/);
  assert.match(run.stdout, /execute_tool rank_content/);
  assert.match(run.stdout, /demo finished/);
});

test.run();
