/**
 * Values carried in the OpenTelemetry context of a guarded call: the agent
 * that acts (set by `invokeAgent`) and the call's abort signal (read by the
 * tool through {@link currentSignal}). They ride in the context the span is
 * already activated with, so they cost nothing extra per call.
 *
 * @module
 */
import { context, createContextKey } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { AgentIdentity } from '../shared/telemetry.js';

const AGENT_KEY = createContextKey('agent-safety-otel/agent');
const SIGNAL_KEY = createContextKey('agent-safety-otel/signal');
const RUN_KEY = createContextKey('agent-safety-otel/run');

/** The agent identity set by an enclosing `invokeAgent`, if any. */
export function agentFromContext(ctx: Context): AgentIdentity | undefined {
  return ctx.getValue(AGENT_KEY) as AgentIdentity | undefined;
}

/** `ctx` with `agent` as the acting agent. */
export function withAgent(ctx: Context, agent: AgentIdentity): Context {
  return ctx.setValue(AGENT_KEY, agent);
}

/** The id of the enclosing `invokeAgent` run (its span id), if any: what a policy keeps per-run limits by. */
export function runFromContext(ctx: Context): string | undefined {
  return ctx.getValue(RUN_KEY) as string | undefined;
}

/** `ctx` inside the run `runId`. */
export function withRun(ctx: Context, runId: string): Context {
  return ctx.setValue(RUN_KEY, runId);
}

/** `ctx` carrying the guarded call's abort signal. */
export function withSignal(ctx: Context, signal: AbortSignal): Context {
  return ctx.setValue(SIGNAL_KEY, signal);
}

/**
 * The abort signal of the innermost guarded call running now: aborted when
 * the caller aborts or the call's timeout expires. A tool passes it on to
 * `fetch` and friends so that abandoned work actually stops.
 *
 * Requires a context manager (any OpenTelemetry SDK registers one); without
 * one it returns `undefined` and timeouts still reject the call.
 *
 * @example
 * ```ts
 * const search = guard(async (q: string) => {
 *   const res = await fetch(url(q), { signal: currentSignal() });
 *   return res.json();
 * }, { name: 'web_search', timeoutMs: 5_000 });
 * ```
 */
export function currentSignal(): AbortSignal | undefined {
  return context.active().getValue(SIGNAL_KEY) as AbortSignal | undefined;
}
