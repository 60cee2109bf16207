/**
 * Start-up cost of `node --import agent-safety-otel/register -e 0` (the
 * built package, resolved through its own name) against
 * `node --import bench/startup-nodesdk.mjs -e 0` (a bare `NodeSDK` started
 * with its defaults), wall time from spawn to exit, runs interleaved, each
 * in a fresh temporary working directory (the register's default audit
 * file goes there), with no `OTEL_*` or `AGENT_SAFETY_*` variables.
 * Key: register_startup_vs_nodesdk (median ÷ median; target ≤ 1.1).
 * Needs `npm run build` (which `npm run bench` does first).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';

/** Milliseconds from spawning `node --import <url> -e 0` in `cwd` to its exit. */
function startupMs(importUrl: string, cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ['--import', importUrl, '-e', '0'], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', code => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`node --import ${importUrl} -e 0 exited with ${code}: ${stderr}`));
      else resolve(ms);
    });
  });
}

const suite: BenchSuite = {
  name: 'start-up: --import agent-safety-otel/register vs a bare NodeSDK',
  async run({ quick }) {
    const register = import.meta.resolve('agent-safety-otel/register');
    if (!existsSync(fileURLToPath(register))) throw new Error(`${fileURLToPath(register)} is missing: run npm run build first`);
    const nodeSdk = new URL('../startup-nodesdk.mjs', import.meta.url).href;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('AGENT_SAFETY_')));
    const times: Record<'register' | 'nodesdk', number[]> = { register: [], nodesdk: [] };
    const runs = quick ? 3 : 15;
    for (let i = -1; i < runs; i++) {
      for (const [name, url] of [['register', register], ['nodesdk', nodeSdk]] as const) {
        const cwd = mkdtempSync(join(tmpdir(), 'agent-safety-bench-startup-'));
        try {
          const ms = await startupMs(url, cwd, env);
          if (i >= 0) times[name].push(ms); // the first pair warms the file cache
        } finally {
          rmSync(cwd, { recursive: true, force: true });
        }
      }
    }
    const reg = median(times.register);
    const sdk = median(times.nodesdk);
    return {
      rows: [
        { name: 'node --import agent-safety-otel/register -e 0', value: `${reg.toFixed(0)} ms`, note: `median of ${runs}` },
        { name: 'node --import (bare NodeSDK start) -e 0', value: `${sdk.toFixed(0)} ms`, note: `median of ${runs}` },
        { name: 'register ÷ bare NodeSDK', value: round(reg / sdk, 2).toFixed(2), note: 'target ≤ 1.1' },
      ],
      figures: { register_startup_vs_nodesdk: round(reg / sdk, 3) },
    };
  },
};
export default suite;
