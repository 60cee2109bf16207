/**
 * Turns environment variables into {@link AgentSafetyOptions}. Pure: it is
 * given the environment as an object; only `register.ts` passes
 * `process.env`.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import type { AgentSafetyOptions } from './start.js';

/** An environment: `process.env` or a plain object in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Every variable of ours that {@link optionsFromEnv} reads, with its meaning. */
export const AGENT_SAFETY_ENV = {
  AGENT_SAFETY_AGENT_ID: 'Default gen_ai.agent.id of guarded calls.',
  AGENT_SAFETY_AGENT_NAME: 'Default gen_ai.agent.name of guarded calls.',
  AGENT_SAFETY_CAPTURE_ARGUMENTS: 'true to record redacted tool arguments (gen_ai.tool.call.arguments). Default false.',
  AGENT_SAFETY_CAPTURE_RESULT: 'true to record redacted tool results (gen_ai.tool.call.result). Default false.',
  AGENT_SAFETY_CONSOLE: 'true/false: print finished traces as a tree. Default true when no OTLP endpoint is set.',
} as const;

function flag(env: Env, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  diag.warn(`agent-safety-otel: ${name}=${JSON.stringify(env[name])} is not a boolean; ignored`);
  return undefined;
}

function text(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map(s => s.trim().toLowerCase())
    .filter(Boolean);
}

/**
 * Options for `startAgentSafety` from the standard `OTEL_*` variables and
 * ours (`AGENT_SAFETY_*`, see {@link AGENT_SAFETY_ENV}).
 *
 * - An OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the per-signal
 *   `…_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`) turns on OTLP/HTTP export
 *   (`OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` by default, or
 *   `http/json`). The exporters read the endpoints and headers themselves.
 * - Without one: the embedded default, a trace tree on the console.
 * - `OTEL_TRACES_EXPORTER=none` / `OTEL_METRICS_EXPORTER=none` turn a signal
 *   off; `OTEL_METRICS_EXPORTER=prometheus` serves a scrape endpoint on
 *   `OTEL_EXPORTER_PROMETHEUS_HOST`:`OTEL_EXPORTER_PROMETHEUS_PORT`
 *   (default 127.0.0.1:9464).
 * - `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` are applied by the SDK.
 */
export function optionsFromEnv(env: Env): AgentSafetyOptions {
  const tracesEndpoint = text(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const metricsEndpoint = text(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') ?? text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const tracesExporters = list(env, 'OTEL_TRACES_EXPORTER');
  const metricsExporters = list(env, 'OTEL_METRICS_EXPORTER');
  const tracesOff = tracesExporters.includes('none');
  const metricsOff = metricsExporters.includes('none');

  const protocol = (text(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? text(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf').toLowerCase();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    diag.warn(`agent-safety-otel: OTLP protocol ${JSON.stringify(protocol)} is not supported here; using http/protobuf`);
  }

  const otlpTraces = tracesEndpoint !== undefined && !tracesOff;
  const otlpMetrics = metricsEndpoint !== undefined && !metricsOff && (metricsExporters.length === 0 || metricsExporters.includes('otlp'));
  const options: AgentSafetyOptions = {
    instrumentation: {
      agent:
        text(env, 'AGENT_SAFETY_AGENT_ID') || text(env, 'AGENT_SAFETY_AGENT_NAME')
          ? { id: text(env, 'AGENT_SAFETY_AGENT_ID'), name: text(env, 'AGENT_SAFETY_AGENT_NAME') }
          : undefined,
      captureArguments: flag(env, 'AGENT_SAFETY_CAPTURE_ARGUMENTS'),
      captureResult: flag(env, 'AGENT_SAFETY_CAPTURE_RESULT'),
    },
    shutdownOnExit: true,
  };
  if (otlpTraces || otlpMetrics) {
    options.otlp = {
      protocol: protocol === 'http/json' ? 'http/json' : 'http/protobuf',
      traces: otlpTraces,
      metrics: otlpMetrics,
    };
  }
  const consoleFlag = flag(env, 'AGENT_SAFETY_CONSOLE');
  options.console = !tracesOff && (consoleFlag ?? (!otlpTraces || tracesExporters.includes('console')));
  if (metricsExporters.includes('prometheus')) {
    const port = Number(text(env, 'OTEL_EXPORTER_PROMETHEUS_PORT') ?? 9464);
    options.prometheus = { host: text(env, 'OTEL_EXPORTER_PROMETHEUS_HOST') ?? '127.0.0.1', port };
  }
  return options;
}
