/**
 * `npm run bench` must keep working: run every suite in quick mode and check
 * that the last line is the JSON object of named figures. No timing is
 * asserted (numbers from quick mode mean nothing; see `npm run bench`).
 */
import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const test = suite('bench harness');

test('every suite runs and reports its figures as the last JSON line', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--quick'], {
    cwd: root,
    timeout: 300_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const figures = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
  for (const key of ['guard_vs_bare_span', 'breaker_vs_cockatiel', 'breaker_vs_opossum', 'gate_explain_vs_guard', 'checkpoint_vs_guard', 'file_sink_records_per_s', 'audit_vs_raw_limit', 'verify_records_per_s', 'full_guard_vs_bare_span', 'merkle_vs_chain', 'merkle_vs_append', 'inclusion_verify_us',
    'full_guard_nosink_vs_bare_span', 'handwritten_composite_vs_bare_span', 'full_guard_vs_handwritten', 'full_guard_throughput_vs_bare_10k',
    'full_guard_peak_rss_vs_bare_10k', 'breaker_defaults_vs_cockatiel', 'verify_vs_hash_limit', 'register_startup_vs_nodesdk', 'policy_vs_guard', 'cedar_eval_us', 'store_decision_us']) {
    assert.type(figures[key], 'number', key);
    assert.ok(Number.isFinite(figures[key]) && figures[key] > 0, `${key} = ${figures[key]}`);
  }
  assert.match(stdout, /## guarded call vs bare span/);
});

test.run();
