#!/usr/bin/env node
// The SDK sets of the CI matrix. The root package.json / package-lock.json
// are the SDK 2.x set; `.ci/<set>.json` lists the devDependencies another set
// replaces, and `.ci/<set>.package-lock.json` is that set's lock.
//
//   node .ci/sdk-set.mjs apply <set> <dir>   write <dir>/package.json and
//                                            <dir>/package-lock.json for <set>
//   node .ci/sdk-set.mjs lock <set>          regenerate .ci/<set>.package-lock.json
//                                            (npm install --package-lock-only)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [command, set, dir] = process.argv.slice(2);
if (!/^[a-z0-9-]+$/.test(set ?? '') || !['apply', 'lock'].includes(command) || (command === 'apply' && !dir)) {
  console.error('usage: node .ci/sdk-set.mjs apply <set> <dir> | lock <set>');
  process.exit(2);
}
const overrides = JSON.parse(readFileSync(join(root, '.ci', `${set}.json`), 'utf8'));
const lockFile = join(root, '.ci', `${set}.package-lock.json`);

/** The root package.json with the set's devDependencies, in the root's key order. */
function manifest() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dev = { ...pkg.devDependencies };
  for (const [name, version] of Object.entries(overrides.devDependencies)) {
    if (version === null) delete dev[name];
    else dev[name] = version;
  }
  pkg.devDependencies = Object.fromEntries(Object.entries(dev).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

if (command === 'apply') {
  writeFileSync(join(dir, 'package.json'), manifest());
  copyFileSync(lockFile, join(dir, 'package-lock.json'));
} else {
  const tmp = mkdtempSync(join(tmpdir(), `aso-${set}-lock-`));
  try {
    writeFileSync(join(tmp, 'package.json'), manifest());
    execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: tmp, stdio: 'inherit' });
    copyFileSync(join(tmp, 'package-lock.json'), lockFile);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`wrote ${lockFile}`);
}
