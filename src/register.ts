/**
 * `node --import agent-safety-otel/register app.js`
 *
 * Starts the OpenTelemetry SDK with this package's instrumentation before the
 * application loads, configured by the standard `OTEL_*` environment
 * variables and ours (`AGENT_SAFETY_*`). With an OTLP endpoint, traces and
 * metrics go over OTLP/HTTP; without one, finished traces are printed as a
 * tree on the console and nothing needs a server. Everything is flushed on
 * exit and on SIGINT/SIGTERM/SIGHUP (shutdown bounded by
 * `AGENT_SAFETY_SHUTDOWN_TIMEOUT_MS`, default 5 s). A console `diag` logger
 * at `OTEL_LOG_LEVEL` (default warn) is installed before anything else.
 *
 * This is the only module of the package that reads environment variables,
 * with `startAgentSafety`, which reads `OTEL_TRACES_SAMPLER` and
 * `OTEL_TRACES_SAMPLER_ARG` to wrap the sampler for the audit.
 * The application may import `shutdown` from here to flush before calling
 * `process.exit()` itself.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { diagLevelFromEnv, optionsFromEnv } from './bootstrap/env.js';
import { loadOptionalSinks } from './bootstrap/optional-sinks.js';
import { installDiagLogger, startAgentSafetyAs } from './bootstrap/start.js';
import type { AgentSafetyHandle } from './bootstrap/start.js';

// First, so that everything after it (reading the settings, opening the audit journal) can report.
installDiagLogger(diagLevelFromEnv(process.env));
const options = optionsFromEnv(process.env, readFileSync);
// Only the audit sinks the settings name are loaded (the OTLP journal, the tiles).
await loadOptionalSinks(options);
// A later startAgentSafety() in the same process throws, naming this start.
const handle: AgentSafetyHandle = startAgentSafetyAs('agent-safety-otel/register', options);

/** The running SDK. */
export const sdk = handle.sdk;
/** The registered instrumentation. */
export const instrumentation = handle.instrumentation;
/** Flushes and stops the SDK (also done automatically on exit). */
export const shutdown: () => Promise<void> = handle.shutdown;
