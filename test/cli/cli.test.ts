import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../src/cli/main.js';
import { captureIO } from '../helpers/cli-io.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

const test = suite('cli');

test('--version prints the package version', async () => {
  const io = captureIO();
  assert.is(await main(['--version'], io), 0);
  assert.is(io.stdout, `${pkg.version}\n`);
});

test('--help lists usage and exit codes; no arguments is a usage error', async () => {
  const io = captureIO();
  assert.is(await main(['--help'], io), 0);
  assert.match(io.stdout, 'Usage:');
  assert.match(io.stdout, 'Exit codes');
  const bare = captureIO();
  assert.is(await main([], bare), 2);
  assert.match(bare.stdout, 'Usage:');
});

test('an unknown command exits 2 and says so', async () => {
  const io = captureIO();
  assert.is(await main(['frobnicate'], io), 2);
  assert.match(io.stderr, 'unknown command "frobnicate"');
});

test('the built bin runs as a program', async () => {
  const bin = resolve(root, pkg.bin['agent-safety-otel']);
  const { stdout } = await promisify(execFile)(process.execPath, [bin, '--version']);
  assert.is(stdout.trim(), pkg.version);
  const first = readFileSync(bin, 'utf8').split('\n')[0];
  assert.is(first, '#!/usr/bin/env node');
});

test.run();
