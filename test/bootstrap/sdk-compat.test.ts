/**
 * The trace SDK adapter: whichever of `@opentelemetry/sdk-trace` (SDK 3.x,
 * 2.9+) and `@opentelemetry/sdk-trace-base` (SDK 2.x) is installed, the same
 * calls build a working provider, processors and samplers. Each CI leg
 * installs its own set (the SDK 2.x leg both packages, the 3.x leg only
 * sdk-trace); every installed one is exercised with real spans.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TRACE_SDK_PACKAGES, adaptTraceSdk, loadTraceSdkPackage, traceSdk } from '../../src/bootstrap/sdk-compat.js';
import type { TraceSdk } from '../../src/bootstrap/sdk-compat.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

const test = suite('trace SDK adapter');

const installed = TRACE_SDK_PACKAGES.map(name => [name, loadTraceSdkPackage(name)] as const).filter((e): e is readonly [(typeof e)[0], TraceSdk] => e[1] !== undefined);

test('each trace SDK package of this leg\'s set is found, and only those', () => {
  assert.equal(
    installed.map(([name]) => name),
    TRACE_SDK_PACKAGES.filter(name => pkg.devDependencies[name] !== undefined),
  );
});

test('traceSdk() is the first package found, loaded once', () => {
  assert.is(traceSdk().packageName, installed[0][0]);
  assert.is(traceSdk(), traceSdk());
});

for (const [name, sdk] of installed) {
  test(`${name}: provider, simple and batch processors export real spans`, async () => {
    const simple = sdk.inMemorySpanExporter();
    const batched = sdk.inMemorySpanExporter();
    const provider = sdk.tracerProvider({
      spanProcessors: [sdk.simpleSpanProcessor(simple), sdk.batchSpanProcessor(batched, { scheduledDelayMillis: 60_000, maxExportBatchSize: 8 })],
    });
    provider.getTracer('adapter-test').startSpan('one', { kind: SpanKind.INTERNAL }).end();
    assert.equal(simple.getFinishedSpans().map(s => s.name), ['one'], 'the simple processor exports as the span ends');
    assert.equal(batched.getFinishedSpans(), [], 'the batch processor waits (settings passed through)');
    await provider.forceFlush();
    assert.equal(batched.getFinishedSpans().map(s => s.name), ['one']);
    await provider.shutdown();
  });

  test(`${name}: samplers`, async () => {
    const exporter = sdk.inMemorySpanExporter();
    const decide = (sampler: ReturnType<TraceSdk['alwaysOnSampler']>, parentSampled?: boolean) => {
      const provider = sdk.tracerProvider({ sampler, spanProcessors: [sdk.simpleSpanProcessor(exporter)] });
      const parent =
        parentSampled === undefined
          ? ROOT_CONTEXT
          : trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: parentSampled ? 1 : 0 });
      const span = provider.getTracer('adapter-test').startSpan('s', {}, parent);
      const recording = span.isRecording();
      span.end();
      return recording;
    };
    assert.is(decide(sdk.alwaysOnSampler()), true);
    assert.is(decide(sdk.alwaysOffSampler()), false);
    assert.is(decide(sdk.traceIdRatioBasedSampler(0)), false);
    assert.is(decide(sdk.traceIdRatioBasedSampler(1)), true);
    assert.is(decide(sdk.parentBasedSampler({ root: sdk.alwaysOnSampler() }), false), false, 'follows an unsampled parent');
    assert.is(decide(sdk.parentBasedSampler({ root: sdk.alwaysOffSampler() })), false, 'root decision');
    assert.is(String(sdk.parentBasedSampler({ root: sdk.alwaysOnSampler() })).startsWith('ParentBased{root=AlwaysOnSampler'), true);
  });
}

test('a module without the expected constructors is refused, naming the export', () => {
  assert.throws(() => adaptTraceSdk('@opentelemetry/sdk-trace', { BasicTracerProvider: class {} }), /@opentelemetry\/sdk-trace has no TracerProvider export/);
  assert.throws(() => adaptTraceSdk('@opentelemetry/sdk-trace-base', { TracerProvider: class {} }), /@opentelemetry\/sdk-trace-base has no BasicTracerProvider export/);
});

test('built and loaded as an ES module, the adapter hands out the classes an `import` of the package gets (one module instance)', () => {
  const script = `
import { traceSdk } from ${JSON.stringify(resolve(root, 'dist/bootstrap/sdk-compat.js'))};
const sdk = traceSdk();
const mod = await import(sdk.packageName);
const exporter = sdk.inMemorySpanExporter();
console.log(JSON.stringify({
  packageName: sdk.packageName,
  exporter: exporter instanceof mod.InMemorySpanExporter,
  processor: sdk.simpleSpanProcessor(exporter) instanceof mod.SimpleSpanProcessor,
}));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(JSON.parse(out), { packageName: installed[0][0], exporter: true, processor: true });
});

test.run();
