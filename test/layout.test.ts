/**
 * The dependency direction of DESIGN.md §3, enforced by reading imports:
 * patterns ← instrumentation ← exporters ← bootstrap / register / cli.
 * `src/patterns` imports no @opentelemetry package at all, and the main
 * entry point needs only @opentelemetry/api at run time.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  from: string;
  specifier: string;
  typeOnly: boolean;
  /** `import('…')`: loaded only when the code runs, not when the module loads. */
  dynamic: boolean;
}

/**
 * Optional peer packages that instrumentation may load lazily (a dynamic
 * `import()` when a feature is first used), never statically: the main
 * entry point works without them. Each must be an optional peer in package.json.
 */
const LAZY_OPTIONAL_PEERS = ['@cedar-policy/cedar-wasm/nodejs'];
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

/** Static and dynamic imports and re-exports of a TypeScript file. */
export function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  const re = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) {
    const specifier = m[3] ?? m[4];
    out.push({ from: file, specifier, typeOnly: Boolean(m[2]), dynamic: m[4] !== undefined });
  }
  return out;
}

/** The layer of a file under src/, by its first directory. */
function layer(file: string): string {
  const rel = relative(src, file).split('/');
  if (rel.length === 1) return rel[0] === 'index.ts' ? 'index' : 'entry';
  return rel[0];
}

// Which layers each layer may import from (itself included).
const ALLOWED: Record<string, string[]> = {
  patterns: ['patterns'],
  instrumentation: ['patterns', 'instrumentation'],
  verify: ['patterns', 'verify'],
  exporters: ['patterns', 'instrumentation', 'exporters'],
  bootstrap: ['patterns', 'instrumentation', 'exporters', 'bootstrap'],
  cli: ['patterns', 'instrumentation', 'exporters', 'verify', 'bootstrap', 'cli'],
  // Framework adapters sit on top; nothing imports them.
  adapters: ['patterns', 'instrumentation', 'exporters', 'adapters'],
  index: ['patterns', 'instrumentation'],
  entry: ['patterns', 'instrumentation', 'exporters', 'verify', 'bootstrap', 'cli'],
};

const test = suite('layout and dependency direction');

test('every layer imports only from the layers below it', () => {
  const violations: string[] = [];
  for (const file of files(src)) {
    for (const imp of importsOf(file)) {
      if (!imp.specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), imp.specifier.replace(/\.js$/, '.ts'));
      const to = layer(target);
      if (!ALLOWED[layer(file)].includes(to)) {
        violations.push(`${relative(root, file)} imports ${imp.specifier} (${layer(file)} → ${to})`);
      }
    }
  }
  assert.equal(violations, []);
});

test('src/patterns imports no @opentelemetry package and no node module but crypto, fs, path, os, util, events, v8', () => {
  // node:v8 gives the structured-clone serializer used for state snapshots.
  const allowedNode = ['node:crypto', 'node:fs', 'node:fs/promises', 'node:path', 'node:os', 'node:util', 'node:events', 'node:v8'];
  const violations = files(join(src, 'patterns')).flatMap(file =>
    importsOf(file)
      .filter(i => !i.specifier.startsWith('.') && !allowedNode.includes(i.specifier))
      .map(i => `${relative(root, file)} imports ${i.specifier}`),
  );
  assert.equal(violations, []);
});

test('instrumentation imports only @opentelemetry/api from outside at run time (@opentelemetry/instrumentation for types; optional peers lazily)', () => {
  const allowed = ['@opentelemetry/api'];
  const violations = files(join(src, 'instrumentation')).flatMap(file =>
    importsOf(file)
      .filter(i => !i.specifier.startsWith('.') && !i.specifier.startsWith('node:') && !allowed.includes(i.specifier))
      .filter(i => !(i.typeOnly && i.specifier === '@opentelemetry/instrumentation'))
      .filter(i => !(i.dynamic && LAZY_OPTIONAL_PEERS.includes(i.specifier)))
      .map(i => `${relative(root, file)} imports ${i.specifier}`),
  );
  assert.equal(violations, []);
});

test('exporters import SDK packages for types only (runtime: api and core)', () => {
  const runtimeAllowed = ['@opentelemetry/api', '@opentelemetry/core'];
  const violations = files(join(src, 'exporters')).flatMap(file =>
    importsOf(file)
      .filter(i => i.specifier.startsWith('@opentelemetry/') && !i.typeOnly && !runtimeAllowed.includes(i.specifier))
      .map(i => `${relative(root, file)} imports ${i.specifier} at run time`),
  );
  assert.equal(violations, []);
});

/** The packages a file reaches at run time, following relative imports (lazily loaded optional peers aside). */
function runtimeExternals(entry: string): string[] {
  const seen = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imp of importsOf(file)) {
      if (imp.typeOnly) continue;
      if (imp.specifier.startsWith('.')) visit(resolve(dirname(file), imp.specifier.replace(/\.js$/, '.ts')));
      else if (imp.dynamic && LAZY_OPTIONAL_PEERS.includes(imp.specifier)) continue;
      else if (!imp.specifier.startsWith('node:')) external.add(imp.specifier);
    }
  };
  visit(entry);
  return [...external].sort();
}

test('the main entry point and ./semconv reach at run time only @opentelemetry/api', () => {
  assert.equal(runtimeExternals(join(src, 'index.ts')), ['@opentelemetry/api']);
  assert.equal(runtimeExternals(join(src, 'semconv.ts')), ['@opentelemetry/api']);
});

test('each adapter reaches at run time only @opentelemetry/api and its own framework package', () => {
  const adapters = join(src, 'adapters');
  assert.equal(runtimeExternals(join(adapters, 'ai-sdk', 'index.ts')), ['@opentelemetry/api']);
  assert.equal(runtimeExternals(join(adapters, 'langchain', 'index.ts')), ['@opentelemetry/api']);
  assert.equal(runtimeExternals(join(adapters, 'mcp', 'index.ts')), ['@opentelemetry/api']);
  assert.equal(runtimeExternals(join(adapters, 'openai-agents', 'index.ts')), ['@openai/agents-core', '@opentelemetry/api']);
  // No adapter imports another adapter's framework, even for types.
  const frameworks: Record<string, string[]> = {
    'ai-sdk': ['ai'],
    langchain: ['@langchain/core', '@langchain/langgraph'],
    mcp: ['@modelcontextprotocol/sdk'],
    'openai-agents': ['@openai/agents-core'],
    shared: [],
  };
  const all = Object.values(frameworks).flat();
  const violations = files(adapters).flatMap(file => {
    const room = relative(adapters, file).split('/')[0];
    return importsOf(file)
      .filter(i => all.some(f => i.specifier === f || i.specifier.startsWith(`${f}/`)) && !frameworks[room].some(f => i.specifier === f || i.specifier.startsWith(`${f}/`)))
      .map(i => `${relative(root, file)} imports ${i.specifier}`);
  });
  assert.equal(violations, []);
});

test('lazily loaded packages are optional peers, and only ever imported dynamically', () => {
  for (const specifier of LAZY_OPTIONAL_PEERS) {
    const name = specifier.split('/').slice(0, 2).join('/');
    assert.ok(packageJson.peerDependencies[name], `${name} is a peer dependency`);
    assert.is(packageJson.peerDependenciesMeta[name]?.optional, true, `${name} is optional`);
  }
  const staticImports = files(src).flatMap(f => importsOf(f)).filter(i => !i.dynamic && !i.typeOnly && LAZY_OPTIONAL_PEERS.some(p => i.specifier.startsWith(p.split('/').slice(0, 2).join('/'))));
  assert.equal(staticImports.map(i => `${relative(root, i.from)} imports ${i.specifier}`), []);
});

test('the verifier (./verify) imports no package at all: Node alone checks a journal', () => {
  assert.equal(runtimeExternals(join(src, 'verify', 'index.ts')), []);
  const typeImports = files(join(src, 'verify')).flatMap(f => importsOf(f)).filter(i => i.specifier.startsWith('@'));
  assert.equal(typeImports, []);
});

test('every file sits in a feature room: src/<layer>/<feature>/<file>.ts', () => {
  const flat = new Set(['index.ts', 'register.ts', 'semconv.ts']);
  const rooms: Record<string, string[]> = {
    patterns: ['audit', 'breaker', 'explain', 'gate', 'guard', 'policy', 'rollback', 'shared', 'store'],
    instrumentation: ['audit', 'breaker', 'explain', 'gate', 'guard', 'policy', 'rollback', 'shared', 'store'],
    exporters: ['audit', 'console'],
    adapters: ['ai-sdk', 'langchain', 'mcp', 'openai-agents', 'shared'],
  };
  const misplaced = files(src).filter(file => {
    const rel = relative(src, file).split('/');
    if (rel.length === 1) return !flat.has(rel[0]);
    const allowed = rooms[rel[0]];
    if (!allowed) return false;
    if (rel.length === 2) return rel[1] !== 'index.ts';
    return rel.length !== 3 || !allowed.includes(rel[1]);
  });
  assert.equal(misplaced.map(f => relative(root, f)), []);
});

test('the checker catches a wrong arrow (self-test on a fixture)', () => {
  const fake = importsOf(join(root, 'test', 'fixtures', 'bad-pattern.ts.txt'));
  assert.ok(fake.some(i => i.specifier === '@opentelemetry/api'), 'an OpenTelemetry import in a pattern is seen');
  assert.ok(fake.some(i => i.specifier === '../instrumentation/guard.js'), 'an upward relative import is seen');
  assert.ok(!ALLOWED.patterns.includes(layer(resolve(src, 'instrumentation/guard.ts'))), 'and it is not allowed');
});

test('index.ts names every export (no export *)', () => {
  const adapterEntries = ['ai-sdk', 'langchain', 'mcp', 'openai-agents'].map(a => join(src, 'adapters', a, 'index.ts'));
  for (const file of [join(src, 'index.ts'), join(src, 'semconv.ts'), join(src, 'exporters', 'index.ts'), join(src, 'verify', 'index.ts'), join(src, 'bootstrap', 'index.ts'), ...adapterEntries]) {
    assert.not.match(readFileSync(file, 'utf8'), /export\s+\*/, relative(root, file));
  }
});

test.run();
