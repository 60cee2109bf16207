/**
 * `npm run bench`: runs every suite in bench/suites in its own process
 * (fresh globals, fresh JIT), prints a table per suite, and as the last line
 * one JSON object of named figures, e.g. {"guard_vs_bare_span": 1.23}.
 *
 * `--quick` (or BENCH_QUICK=1) runs few iterations: for checking that the
 * benchmark still works, not for numbers. `--only <name>` runs one suite.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './lib.js';

const dir = fileURLToPath(new URL('./suites/', import.meta.url));
const runner = fileURLToPath(new URL('./run-suite.ts', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;

const files = readdirSync(dir)
  .filter(f => f.endsWith('.bench.ts'))
  .filter(f => !only || f === `${only}.bench.ts`)
  .sort();
if (files.length === 0) {
  console.error(`no benchmark suites found${only ? ` named ${only}` : ''}`);
  process.exit(2);
}

console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}${quick ? ' (quick mode: numbers are not meaningful)' : ''}\n`);
const figures: Record<string, number> = {};
for (const file of files) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', runner, `${dir}${file}`, quick ? '--quick' : ''], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const last = out.trim().split('\n').pop() ?? '{}';
  const { name, report } = JSON.parse(last) as { name: string; report: BenchReport };
  console.log(`## ${name}`);
  const width = Math.max(...report.rows.map(r => r.name.length), 8);
  for (const row of report.rows) {
    console.log(`  ${row.name.padEnd(width)}  ${row.value.padStart(20)}${row.note ? `  ${row.note}` : ''}`);
  }
  console.log('');
  Object.assign(figures, report.figures);
}
console.log(JSON.stringify(figures));
