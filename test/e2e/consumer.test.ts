/**
 * The package as a consumer installs it: `npm pack`, then fresh projects
 * that install the tarball.
 *
 * - `api-only`: beside `@opentelemetry/api` (the latest) and nothing else. A
 *   guarded call must run there, from `import` and from `require()`, the
 *   main entry's types must check, and no SDK package may have come along.
 * - `with-sdk`: beside `@opentelemetry/sdk-node` and the API at the versions
 *   this CI leg tests (SDK 2.x or 3.x). Every entry point must import, the
 *   register entry must start and audit a guarded call, and a consumer file
 *   using every entry point must type-check under `module: nodenext` (an
 *   ES module and a CommonJS one) and `moduleResolution: bundler`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
// The repository's own compiler: the consumers need no TypeScript install.
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const test = suite('consumer install (packed tarball)');

let dir = '';
let apiOnly = '';
let withSdk = '';

function project(name: string, packages: string[], tarball: string): string {
  const app = join(dir, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }));
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', tarball, ...packages], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
  });
  return app;
}

/**
 * Runs `tsc --noEmit` in `app` with `compilerOptions`; returns its output
 * (empty when the files check). Declaration files are checked too (ours,
 * the SDK's) unless `skipLibCheck` is given: the nodenext runs check them,
 * the others only resolve differently and skip that (slow) part.
 */
function typeCheck(app: string, name: string, compilerOptions: Record<string, unknown>, files: string[]): string {
  const config = `tsconfig.${name}.json`;
  writeFileSync(
    join(app, config),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'es2022',
        lib: ['es2023'],
        // Node's types from the repository; the consumer installs none
        typeRoots: [join(root, 'node_modules', '@types')],
        types: ['node'],
        ...compilerOptions,
      },
      files,
    }),
  );
  try {
    execFileSync(process.execPath, [tsc, '-p', config], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    return '';
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
  }
}

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'aso-consumer-'));
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const tarball = join(dir, (JSON.parse(out) as Array<{ filename: string }>)[0].filename);
  apiOnly = project('api-only', ['@opentelemetry/api'], tarball);
  const version = (name: string) => `${name}@${pkg.devDependencies[name]}`;
  withSdk = project('with-sdk', [version('@opentelemetry/api'), version('@opentelemetry/sdk-node')], tarball);
});

test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('api-only: a guarded call runs with only @opentelemetry/api installed', () => {
  writeFileSync(
    join(apiOnly, 'main.js'),
    `import { guard, CircuitBreaker } from 'agent-safety-otel';
import { ATTR_GEN_AI_TOOL_NAME } from 'agent-safety-otel/semconv';
import { verifyAuditText } from 'agent-safety-otel/verify';
const breaker = new CircuitBreaker({ name: 'weather' });
const weather = guard(async ({ city }) => 'sunny in ' + city, { name: 'get_weather', breaker });
console.log(JSON.stringify({ result: await weather({ city: 'Oslo' }), key: ATTR_GEN_AI_TOOL_NAME, verify: typeof verifyAuditText }));
`,
  );
  const out = execFileSync(process.execPath, ['main.js'], { cwd: apiOnly, encoding: 'utf8' });
  assert.equal(JSON.parse(out), { result: 'sunny in Oslo', key: 'gen_ai.tool.name', verify: 'function' });
});

test('api-only: require() of the main entry from CommonJS', () => {
  writeFileSync(
    join(apiOnly, 'main.cjs'),
    `const { guard } = require('agent-safety-otel');
const weather = guard(async ({ city }) => 'sunny in ' + city, { name: 'get_weather' });
weather({ city: 'Oslo' }).then(result => console.log(JSON.stringify({ result, toolName: weather.toolName })));
`,
  );
  const out = execFileSync(process.execPath, ['main.cjs'], { cwd: apiOnly, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(JSON.parse(out), { result: 'sunny in Oslo', toolName: 'get_weather' });
});

test('api-only: the main, semconv and verify entries type-check against the API alone (nodenext, bundler)', () => {
  writeFileSync(
    join(apiOnly, 'consumer.ts'),
    `import { guard } from 'agent-safety-otel';
import type { GuardedFunction } from 'agent-safety-otel';
import { ATTR_GEN_AI_TOOL_NAME } from 'agent-safety-otel/semconv';
import { verifyAuditText } from 'agent-safety-otel/verify';
const tool: { execute: (input: { city: string }) => Promise<string> } = { execute: guard(async ({ city }) => city, { name: ATTR_GEN_AI_TOOL_NAME }) };
export const typed: GuardedFunction<(city: string) => string> = guard((city: string) => city, { name: 'c' });
export { tool, verifyAuditText };
`,
  );
  assert.is(typeCheck(apiOnly, 'nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, ['consumer.ts']), '');
  assert.is(typeCheck(apiOnly, 'bundler', { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true }, ['consumer.ts']), '');
});

test('api-only: no @opentelemetry SDK package was installed, only the API', () => {
  const scope = join(apiOnly, 'node_modules', '@opentelemetry');
  assert.ok(existsSync(scope));
  assert.equal(readdirSync(scope).sort(), ['api']);
  const top = readdirSync(join(apiOnly, 'node_modules')).filter(n => !n.startsWith('.')).sort();
  assert.equal(top, ['@opentelemetry', 'agent-safety-otel']);
});

test('with-sdk: every entry point imports (ESM), and the register entry starts the SDK and audits a guarded call', () => {
  writeFileSync(
    join(withSdk, 'main.js'),
    `import * as main from 'agent-safety-otel';
import * as semconv from 'agent-safety-otel/semconv';
import * as exporters from 'agent-safety-otel/exporters';
import * as verify from 'agent-safety-otel/verify';
import * as bootstrap from 'agent-safety-otel/bootstrap';
import * as register from 'agent-safety-otel/register';
const weather = main.guard(async ({ city }) => 'sunny in ' + city, { name: 'get_weather' });
const result = await weather({ city: 'Oslo' });
await register.shutdown();
const report = await verify.verifyAuditFiles([process.env.AGENT_SAFETY_AUDIT_FILE]);
console.log(JSON.stringify({
  result,
  entries: [main.guard, semconv.ATTR_GEN_AI_TOOL_NAME, exporters.AuditChainSpanProcessor, verify.verifyAuditFiles, bootstrap.startAgentSafety, register.sdk].map(x => typeof x),
  audit: { valid: report.valid, records: report.records },
}));
`,
  );
  const audit = join(withSdk, 'audit.jsonl');
  const out = execFileSync(process.execPath, ['--import', 'agent-safety-otel/register', 'main.js'], {
    cwd: withSdk,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', AGENT_SAFETY_CONSOLE: 'false', AGENT_SAFETY_AUDIT_FILE: audit, OTEL_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  assert.equal(JSON.parse(out), {
    result: 'sunny in Oslo',
    entries: ['function', 'string', 'function', 'function', 'function', 'object'],
    audit: { valid: true, records: 1 },
  });
  assert.match(readFileSync(audit, 'utf8'), '"name":"execute_tool get_weather"');
});

test('with-sdk: a consumer of every entry point type-checks under nodenext (ESM and CommonJS) and bundler, library types included', () => {
  // The SDK's SpanProcessor, from the package sdk-node brings (sdk-trace; sdk-trace-base before 2.9).
  const traceSdk = existsSync(join(withSdk, 'node_modules', '@opentelemetry', 'sdk-trace')) ? '@opentelemetry/sdk-trace' : '@opentelemetry/sdk-trace-base';
  const imports = `import { guard } from 'agent-safety-otel';
import { ATTR_GEN_AI_TOOL_NAME } from 'agent-safety-otel/semconv';
import { AuditChainSpanProcessor } from 'agent-safety-otel/exporters';
import { verifyAuditText } from 'agent-safety-otel/verify';
import { startAgentSafety } from 'agent-safety-otel/bootstrap';
import type { AgentSafetyHandle, AgentSafetyOptions } from 'agent-safety-otel/bootstrap';
import type { SpanProcessor } from '${traceSdk}';
`;
  const uses = `const tool: { execute: (input: { city: string }) => Promise<string> } = {
  execute: guard(async ({ city }) => city, { name: ATTR_GEN_AI_TOOL_NAME }),
};
const processor: SpanProcessor = new AuditChainSpanProcessor({ sinks: [] });
const start: (options?: AgentSafetyOptions) => AgentSafetyHandle = startAgentSafety;
`;
  writeFileSync(
    join(withSdk, 'consumer.ts'),
    `${imports}import type { shutdown } from 'agent-safety-otel/register';\n${uses}export { tool, processor, start, verifyAuditText };\nexport type Shutdown = typeof shutdown;\n`,
  );
  writeFileSync(join(withSdk, 'consumer-cjs.cts'), `${imports}${uses}export { tool, processor, start, verifyAuditText };\n`);
  assert.is(typeCheck(withSdk, 'nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, ['consumer.ts', 'consumer-cjs.cts']), '');
  assert.is(typeCheck(withSdk, 'bundler', { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true }, ['consumer.ts']), '');
});

test('with-sdk: the type check fails on a misuse (it is not vacuous)', () => {
  writeFileSync(
    join(withSdk, 'misuse.ts'),
    `import { guard } from 'agent-safety-otel';
export const tool: { execute: (input: { city: string }) => Promise<string> } = { execute: guard(async ({ town }) => town, { name: 'w' }) };
`,
  );
  assert.match(typeCheck(withSdk, 'misuse', { module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true }, ['misuse.ts']), /Property 'town' does not exist/);
});

test.run();
