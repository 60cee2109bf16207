/**
 * The package as a consumer installs it: `npm pack`, then a fresh project
 * that installs the tarball beside `@opentelemetry/api` and nothing else.
 * A guarded call must run there, and no SDK package may have come along.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

const test = suite('consumer install (packed tarball, @opentelemetry/api only)');

let dir = '';
let tarball = '';

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'aso-consumer-'));
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  tarball = join(dir, (JSON.parse(out) as Array<{ filename: string }>)[0].filename);
  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', tarball, '@opentelemetry/api'], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });
});

test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a guarded call runs with only @opentelemetry/api installed', () => {
  const app = join(dir, 'app');
  writeFileSync(
    join(app, 'main.js'),
    `import { guard, CircuitBreaker } from 'agent-safety-otel';
import { ATTR_GEN_AI_TOOL_NAME } from 'agent-safety-otel/semconv';
import { verifyAuditText } from 'agent-safety-otel/verify';
const breaker = new CircuitBreaker({ name: 'weather' });
const weather = guard(async ({ city }) => 'sunny in ' + city, { name: 'get_weather', breaker });
console.log(JSON.stringify({ result: await weather({ city: 'Oslo' }), key: ATTR_GEN_AI_TOOL_NAME, verify: typeof verifyAuditText }));
`,
  );
  const out = execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8' });
  assert.equal(JSON.parse(out), { result: 'sunny in Oslo', key: 'gen_ai.tool.name', verify: 'function' });
});

test('no @opentelemetry SDK package was installed, only the API', () => {
  const scope = join(dir, 'app', 'node_modules', '@opentelemetry');
  assert.ok(existsSync(scope));
  assert.equal(readdirSync(scope).sort(), ['api']);
  const top = readdirSync(join(dir, 'app', 'node_modules')).filter(n => !n.startsWith('.')).sort();
  assert.equal(top, ['@opentelemetry', 'agent-safety-otel']);
});

test.run();
