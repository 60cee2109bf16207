/** The package as users install it: version, exports map, entry points. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
    // @ai-sdk/otel (the AI SDK 7 leg) pins its own @opentelemetry/api 1.9.x: compatible 1.x copies share the API's global state.
    if (path === 'node_modules/@ai-sdk/otel/node_modules/@opentelemetry/api') continue;
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

/**
 * The CI matrix's SDK sets as this leg sees them: package.json's
 * devDependencies (the leg running), and each `.ci/<set>.json`'s versions.
 * A name a set removes (`null`) is the root set's (SDK 2.x) to test.
 */
function ciSets(): { sets: Record<string, Record<string, string>>; removed: Set<string> } {
  const sets: Record<string, Record<string, string>> = { 'package.json': pkg.devDependencies };
  const removed = new Set<string>();
  for (const name of readdirSync(resolve(root, '.ci')).filter(n => /^[a-z0-9-]+\.json$/.test(n))) {
    const overrides = JSON.parse(readFileSync(resolve(root, '.ci', name), 'utf8')) as { devDependencies: Record<string, string | null> };
    const set: Record<string, string> = {};
    for (const [dep, version] of Object.entries(overrides.devDependencies)) {
      if (version === null) removed.add(dep);
      else set[dep] = version;
    }
    sets[`.ci/${name}`] = set;
  }
  return { sets, removed };
}

/** Whether `version` (x.y.z) is in `range`, for the forms the peer ranges use: `^x.y.z`, `>=a <b`, joined by `||`. */
function satisfies(version: string, range: string): boolean {
  const parse = (v: string) => v.split('.').map(Number);
  const cmp = (a: number[], b: number[]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  const v = parse(version);
  return range.split('||').some(alternative =>
    alternative
      .trim()
      .split(/\s+/)
      .every(c => {
        const m = /^(\^|>=|<)(\d+\.\d+\.\d+)$/.exec(c);
        if (!m) throw new Error(`unsupported range ${JSON.stringify(c)} in ${JSON.stringify(range)}`);
        const bound = parse(m[2]);
        if (m[1] === '>=') return cmp(v, bound) >= 0;
        if (m[1] === '<') return cmp(v, bound) < 0;
        // ^: same major (or same minor for 0.x), not below
        return cmp(v, bound) >= 0 && (bound[0] > 0 ? v[0] === bound[0] : v[0] === 0 && v[1] === bound[1]);
      }),
  );
}

test('satisfies() reads the peer range forms', () => {
  assert.ok(satisfies('3.1.1', '^2.0.0 || ^3.0.0'));
  assert.not.ok(satisfies('4.0.0', '^2.0.0 || ^3.0.0'));
  assert.ok(satisfies('0.301.2', '>=0.200.0 <0.400.0'));
  assert.not.ok(satisfies('0.199.0', '>=0.200.0 <0.400.0'));
  assert.not.ok(satisfies('2.8.0', '^2.9.0'));
});

test('the Node running this leg is inside engines.node (each CI leg runs one end of the range)', () => {
  assert.ok(satisfies(process.versions.node, pkg.engines.node), `${process.versions.node} vs ${pkg.engines.node}`);
  assert.not.ok(satisfies('20.18.3', pkg.engines.node), 'below 20.19, require() of an ES module needs a flag');
  assert.not.ok(satisfies('22.11.0', pkg.engines.node), 'so it does on 22 before 22.12');
});

test('only @opentelemetry/api is a required peer; the SDK packages are optional peers, never dependencies', () => {
  assert.equal(Object.keys(pkg.dependencies ?? {}), []);
  const required = Object.keys(pkg.peerDependencies).filter(name => !pkg.peerDependenciesMeta?.[name]?.optional);
  assert.equal(required, ['@opentelemetry/api']);
});

test('every peer is tested by a CI leg, and every leg installs versions inside the peer ranges', () => {
  const { sets, removed } = ciSets();
  assert.ok(Object.keys(sets).length >= 2, 'the SDK 2.x set and at least one other');
  for (const [name, range] of Object.entries(pkg.peerDependencies as Record<string, string>)) {
    const legs = Object.entries(sets).filter(([, set]) => set[name] !== undefined);
    assert.ok(legs.length > 0 || removed.has(name), `${name} is a devDependency of some CI leg`);
    for (const [leg, set] of legs) assert.ok(satisfies(set[name], range), `${leg}: ${name}@${set[name]} is outside the peer range ${range}`);
  }
});

/** Every file under `dir`, recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

test('the shipped source maps carry their sources (src/ is not shipped), and no declaration map points at src/', () => {
  const files = walk(resolve(root, 'dist'));
  const maps = files.filter(f => f.endsWith('.map'));
  assert.ok(maps.length > 0, 'dist has source maps (run npm run build)');
  assert.equal(
    maps.filter(f => f.endsWith('.d.ts.map')),
    [],
    'declaration maps cannot embed their sources',
  );
  for (const map of maps) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
    assert.ok(
      sourcesContent?.length === sources.length && sourcesContent.every(c => typeof c === 'string' && c.length > 0),
      `${map}: sourcesContent for ${sources.join(', ')}`,
    );
  }
  assert.is(maps.length, files.filter(f => f.endsWith('.js')).length, 'one map per emitted .js');
});


test('nothing but the SDK adapter names sdk-trace-base: the SDK 3 leg does not install it', () => {
  const offenders: string[] = [];
  for (const dir of ['src', 'test', 'bench', 'examples']) {
    for (const file of walk(join(root, dir))) {
      if (!/\.(ts|mts|mjs)$/.test(file) || /sdk-compat\.ts$|consumer\.test\.ts$|package\.test\.ts$/.test(file)) continue;
      if (/from '@opentelemetry\/sdk-trace-base'/.test(readFileSync(file, 'utf8'))) offenders.push(file.slice(root.length + 1));
    }
  }
  assert.equal(offenders, [], 'build providers through sdkTrace (test/helpers/otel.ts, bench/telemetry.ts) or traceSdk() (src/bootstrap/sdk-compat.ts)');
});

test.run();
