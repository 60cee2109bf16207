/** The package as users install it: version, exports map, entry points. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../src/semconv.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));

const test = suite('package');

test('version.ts matches package.json', () => {
  assert.is(PACKAGE_NAME, pkg.name);
  assert.is(PACKAGE_VERSION, pkg.version);
});

test('@opentelemetry/api is a peer dependency, not a dependency', () => {
  assert.ok(pkg.peerDependencies['@opentelemetry/api']);
  assert.is(pkg.dependencies?.['@opentelemetry/api'], undefined);
});

test('the SDK packages resolve to one copy each (sdk-node pins exact versions)', () => {
  const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  const copies = new Map<string, Set<string>>();
  for (const [path, info] of Object.entries(lock.packages)) {
    const m = /node_modules\/(@opentelemetry\/[^/]+)$/.exec(path);
    if (!m) continue;
    if (!copies.has(m[1])) copies.set(m[1], new Set());
    copies.get(m[1])!.add(info.version);
  }
  const duplicated = [...copies].filter(([, versions]) => versions.size > 1).map(([name, v]) => `${name}: ${[...v].join(', ')}`);
  assert.equal(duplicated, []);
});

test('every exports entry points at a built file, types included', () => {
  for (const [subpath, target] of Object.entries(pkg.exports as Record<string, string | { types: string; default: string }>)) {
    const files = typeof target === 'string' ? [target] : [target.types, target.default];
    for (const file of files) assert.ok(existsSync(resolve(root, file)), `${subpath} → ${file} (run npm run build)`);
  }
});

test('the entry points load through the package name (self-reference)', async () => {
  // Through a variable: the type checker must not need dist/ to exist.
  const load = (specifier: string) => import(specifier) as Promise<Record<string, unknown>>;
  const main = await load(pkg.name);
  assert.type(main.guard, 'function');
  const semconv = await load(`${pkg.name}/semconv`);
  assert.is(semconv.ATTR_GEN_AI_TOOL_NAME, 'gen_ai.tool.name');
  const exporters = await load(`${pkg.name}/exporters`);
  assert.type(exporters.ConsoleTreeSpanExporter, 'function');
  const verify = await load(`${pkg.name}/verify`);
  assert.type(verify.verifyAuditFiles, 'function');
  const bootstrap = await load(`${pkg.name}/bootstrap`);
  assert.type(bootstrap.startAgentSafety, 'function');
  assert.type(bootstrap.AgentSafetyInstrumentation, 'function');
});

test('only @opentelemetry/api is a required peer; the SDK packages are optional peers, never dependencies', () => {
  assert.equal(Object.keys(pkg.dependencies ?? {}), []);
  const required = Object.keys(pkg.peerDependencies).filter(name => !pkg.peerDependenciesMeta?.[name]?.optional);
  assert.equal(required, ['@opentelemetry/api']);
  for (const name of Object.keys(pkg.peerDependencies)) {
    if (name !== '@opentelemetry/api') assert.ok(pkg.devDependencies[name], `${name} is tested: it is a devDependency`);
  }
});

test.run();
