/**
 * The one place that knows the two shapes of the OpenTelemetry trace SDK.
 *
 * - SDK 3.x (and 2.9+) ships `@opentelemetry/sdk-trace`: the provider is
 *   `TracerProvider` and processors take an options object,
 *   `new SimpleSpanProcessor({ exporter })`.
 * - SDK 2.x ships `@opentelemetry/sdk-trace-base` (from 2.9 a shim over the
 *   former): `BasicTracerProvider`, `new SimpleSpanProcessor(exporter)`.
 *
 * Everything else the bootstrap uses (`@opentelemetry/sdk-node`,
 * `sdk-metrics`, `resources`, `core`, the exporters) has one shape across
 * both majors, and the SDK's interfaces (`ReadableSpan`, `SpanProcessor`,
 * `Sampler`…) are structural: the package's types name
 * `@opentelemetry/sdk-trace`.
 *
 * The trace SDK is loaded synchronously on first use, the first of
 * {@link TRACE_SDK_PACKAGES} that resolves from this package, through the
 * same module instance an `import` of it gets (so the classes are the ones
 * the application and `NodeSDK` use).
 *
 * @module
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type {
  BatchSpanProcessorOptions,
  InMemorySpanExporter,
  Sampler,
  SpanExporter,
  SpanProcessor,
  TracerProvider,
  TracerProviderOptions,
} from '@opentelemetry/sdk-trace';

/** The trace SDK packages, in the order they are looked for. */
export const TRACE_SDK_PACKAGES = ['@opentelemetry/sdk-trace', '@opentelemetry/sdk-trace-base'] as const;

/** One of {@link TRACE_SDK_PACKAGES}. */
export type TraceSdkPackage = (typeof TRACE_SDK_PACKAGES)[number];

/** Batch settings of {@link TraceSdk.batchSpanProcessor} (the same in both shapes). */
export type BatchSpanProcessorSettings = Omit<BatchSpanProcessorOptions, 'exporter'>;

/** A sampler wrapping others, per parent (`ParentBasedSampler`). */
export interface ParentBasedSamplerConfig {
  root: Sampler;
  remoteParentSampled?: Sampler;
  remoteParentNotSampled?: Sampler;
  localParentSampled?: Sampler;
  localParentNotSampled?: Sampler;
}

/** The trace SDK, whichever package it came from, with one set of constructors. */
export interface TraceSdk {
  /** The package the classes come from. */
  readonly packageName: TraceSdkPackage;
  /** A tracer provider (`TracerProvider`, or `BasicTracerProvider` of sdk-trace-base). */
  tracerProvider(options?: TracerProviderOptions): TracerProvider;
  /** A `SimpleSpanProcessor` exporting each span as it ends. */
  simpleSpanProcessor(exporter: SpanExporter): SpanProcessor;
  /** A `BatchSpanProcessor`. */
  batchSpanProcessor(exporter: SpanExporter, settings?: BatchSpanProcessorSettings): SpanProcessor;
  /** An in-memory exporter (same constructor in both). */
  inMemorySpanExporter(): InMemorySpanExporter;
  alwaysOnSampler(): Sampler;
  alwaysOffSampler(): Sampler;
  traceIdRatioBasedSampler(ratio: number): Sampler;
  parentBasedSampler(config: ParentBasedSamplerConfig): Sampler;
}

type Ctor<A extends unknown[] = never[]> = new (...args: A) => unknown;

/** The exports both packages have under the same name and constructor. */
interface CommonExports {
  SimpleSpanProcessor: Ctor<[unknown]>;
  BatchSpanProcessor: Ctor<[unknown, unknown?]>;
  InMemorySpanExporter: Ctor<[]>;
  AlwaysOnSampler: Ctor<[]>;
  AlwaysOffSampler: Ctor<[]>;
  TraceIdRatioBasedSampler: Ctor<[number]>;
  ParentBasedSampler: Ctor<[ParentBasedSamplerConfig]>;
}

/** Adapts a loaded module of `packageName` to {@link TraceSdk}. */
export function adaptTraceSdk(packageName: TraceSdkPackage, module: Record<string, unknown>): TraceSdk {
  // sdk-trace takes `{ exporter, ...settings }`; sdk-trace-base `(exporter, settings)`.
  const optionsObject = packageName === '@opentelemetry/sdk-trace';
  const providerName = optionsObject ? 'TracerProvider' : 'BasicTracerProvider';
  for (const name of [providerName, 'SimpleSpanProcessor', 'BatchSpanProcessor', 'InMemorySpanExporter', 'ParentBasedSampler']) {
    if (typeof module[name] !== 'function') throw new TypeError(`agent-safety-otel: ${packageName} has no ${name} export`);
  }
  const m = module as unknown as CommonExports;
  const Provider = module[providerName] as Ctor<[TracerProviderOptions?]>;
  return {
    packageName,
    tracerProvider: options => new Provider(options) as TracerProvider,
    simpleSpanProcessor: exporter => new m.SimpleSpanProcessor(optionsObject ? { exporter } : exporter) as SpanProcessor,
    batchSpanProcessor: (exporter, settings) =>
      (optionsObject ? new m.BatchSpanProcessor({ ...settings, exporter }) : new m.BatchSpanProcessor(exporter, settings)) as SpanProcessor,
    inMemorySpanExporter: () => new m.InMemorySpanExporter() as InMemorySpanExporter,
    alwaysOnSampler: () => new m.AlwaysOnSampler() as Sampler,
    alwaysOffSampler: () => new m.AlwaysOffSampler() as Sampler,
    traceIdRatioBasedSampler: ratio => new m.TraceIdRatioBasedSampler(ratio) as Sampler,
    parentBasedSampler: config => new m.ParentBasedSampler(config) as Sampler,
  };
}

const requireHere = createRequire(import.meta.url);

/**
 * How a package is resolved: as `import` resolves it (the ESM build of a
 * dual package: what an ESM program that builds its own provider shares),
 * or as `require` does (the CommonJS build: what `NodeSDK`, CommonJS only,
 * loads, so that the bootstrap adds no second copy of the SDK to it).
 */
export type ResolveAs = 'import' | 'require';

/** Where `packageName` resolves from this package, or `undefined` when it is not installed. */
function locate(packageName: TraceSdkPackage, as: ResolveAs): string | undefined {
  try {
    // `import.meta.resolve` is missing only when this module was transpiled
    // to CommonJS (a test runner's require hook): then `require` is how
    // everything around it loads, and resolving as `require` does is right.
    if (as === 'require' || typeof import.meta.resolve !== 'function') return requireHere.resolve(packageName);
    const url = import.meta.resolve(packageName);
    return url.startsWith('file:') ? fileURLToPath(url) : url;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/**
 * Loads `packageName` as seen from this package, or `undefined` when it is
 * not installed. Resolved as `import` resolves it (the ESM build of a dual
 * package) and loaded with `require`, which returns the very module
 * instance an `import` gets (require(esm), Node ≥ 20.19 / 22.12).
 */
export function loadTraceSdkPackage(packageName: TraceSdkPackage, as: ResolveAs = 'import'): TraceSdk | undefined {
  const path = locate(packageName, as);
  return path === undefined ? undefined : adaptTraceSdk(packageName, requireHere(path) as Record<string, unknown>);
}

const loaded: Partial<Record<ResolveAs, TraceSdk>> = {};

/**
 * The installed trace SDK (the first of {@link TRACE_SDK_PACKAGES} found),
 * loaded once (per {@link ResolveAs}; the bootstrap asks for `'require'`, the
 * copy `NodeSDK` runs on). Throws an `Error` naming both packages when neither is
 * installed.
 */
export function traceSdk(as: ResolveAs = 'import'): TraceSdk {
  const known = loaded[as];
  if (known) return known;
  for (const name of TRACE_SDK_PACKAGES) {
    const sdk = loadTraceSdkPackage(name, as);
    if (sdk) return (loaded[as] = sdk);
  }
  throw new Error(
    `agent-safety-otel: no OpenTelemetry trace SDK found; install ${TRACE_SDK_PACKAGES[0]} (SDK 3.x, or 2.9+) or ${TRACE_SDK_PACKAGES[1]} (SDK 2.x)`,
  );
}
