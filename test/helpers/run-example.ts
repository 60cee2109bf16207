/**
 * Runs an example program as a user would (`npx tsx <file>`): a child Node
 * with tsx, a bare environment (PATH only, NO_COLOR), killed after a minute.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href;

export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `file` (relative to the repository) in `cwd` (default: the repository). */
export function runExample(file: string, cwd = root): Promise<ExampleRun> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, join(root, file)], {
      cwd,
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
      done({ code, stdout, stderr });
    });
  });
}
