/**
 * The README stays short and true: at most 20 KB; its quick start is
 * examples/quick-start.ts, and the output it shows is what that program
 * prints (durations and the trace id aside); its install command names
 * exactly the package's peer dependencies, of which only the API is required.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runExample } from '../helpers/run-example.js';
import { codeBlocks, markdownSections, normalizeTree } from '../helpers/markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const sections = markdownSections(readme, 2);
const test = suite('README.md');

test('is at most 20 KB (20,480 bytes)', () => {
  const bytes = statSync(join(root, 'README.md')).size;
  assert.ok(bytes <= 20_480, `README.md is ${bytes} bytes; move reference material into docs/`);
});

test('has the sections a newcomer looks for', () => {
  for (const title of ['Try it', 'Install', 'Quick start', 'The data path of one guarded call', 'The patterns', 'Documentation']) {
    assert.ok(sections.has(title), `no "## ${title}" section`);
  }
  const commands = codeBlocks(sections.get('Try it')!).map(b => b.code).join('\n');
  assert.match(commands, /^npm install && npm run demo\b/m);
  assert.match(commands, /^npm test\b/m);
});

test('every Node.js version it names is a lower bound of engines.node in package.json', () => {
  const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const bounds = new Set([...engines.matchAll(/(?:\^|>=)\s*(\d+\.\d+)\.\d+/g)].map(m => m[1]));
  assert.ok(bounds.size >= 2, `engines.node ${engines}`);
  const named = [...readme.matchAll(/Node\.js (\d+\.\d+)\+?/g)].map(m => m[1]);
  assert.ok(named.length >= 2, 'the README says which Node.js versions it needs');
  for (const v of named) assert.ok(bounds.has(v), `the README names Node.js ${v}; engines.node is ${engines}`);
  const orNewer = /Node\.js [\d.]+ or newer/.exec(readme);
  assert.not.ok(orNewer, `"${orNewer?.[0]}": engines.node (${engines}) is not an open range`);
});

const quickStart = codeBlocks(sections.get('Quick start') ?? '');

test('the quick start is examples/quick-start.ts, importing the package by name', () => {
  const shown = quickStart.find(b => b.lang === 'ts');
  assert.ok(shown, 'a ts block in the quick start');
  const example = readFileSync(join(root, 'examples', 'quick-start.ts'), 'utf8')
    .replace(/^\/\*\*[\s\S]*?\*\/\n/, '')
    .replace("from '../src/bootstrap/index.js'", "from 'agent-safety-otel/bootstrap'")
    .replace("from '../src/index.js'", "from 'agent-safety-otel'");
  assert.fixture(shown.code.trim(), example.trim());
});

const runQuickStart = (cwd: string) => runExample('examples/quick-start.ts', cwd);

test('the output the quick start shows is what it prints, audit positions included', async () => {
  const shown = quickStart.find(b => b.lang === '' && b.code.includes('execute_tool'));
  assert.ok(shown, 'the printed tree is shown');
  const cwd = mkdtempSync(join(tmpdir(), 'aso-quick-start-'));
  try {
    const run = await runQuickStart(cwd);
    assert.is(run.code, 0, run.stderr);
    assert.fixture(normalizeTree(run.stdout), normalizeTree(shown.code));
    assert.match(shown.code, /audit#\d/);
    assert.ok(statSync(join(cwd, 'agent-safety-audit.jsonl')).size > 0, 'the audit file is where the README says');
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('the bootstrap install command names exactly the @opentelemetry peer dependencies; only @opentelemetry/api is required', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    peerDependencies: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  const install = codeBlocks(sections.get('Install') ?? '').find(b => b.lang === 'sh' && b.code.includes('@opentelemetry/sdk-node'));
  assert.ok(install, 'the install command for the bootstrap');
  const named = [...install.code.matchAll(/@opentelemetry\/[a-z0-9-]+/g)].map(m => m[0]);
  // The bootstrap's peers are the @opentelemetry ones; the frameworks are the adapters' peers.
  const otelPeers = Object.keys(pkg.peerDependencies).filter(n => n.startsWith('@opentelemetry/'));
  assert.equal([...new Set(named)].sort(), otelPeers.sort());
  assert.is(named.length, new Set(named).size, 'no package named twice');
  const required = Object.keys(pkg.peerDependencies).filter(n => pkg.peerDependenciesMeta?.[n]?.optional !== true);
  assert.equal(required, ['@opentelemetry/api']);
  assert.match(sections.get('Install')!, /`npm install agent-safety-otel @opentelemetry\/api`/);
});

test.run();
