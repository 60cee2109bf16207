/**
 * The MCP TypeScript SDK adapter: a server wrapper that guards every tool
 * registered on an `McpServer`, and a client wrapper that sends the tool
 * call id and the trace context with each `tools/call`, so one tool call
 * keeps one trace across processes.
 *
 * MCP has no tool call id: the client puts one in the request's `_meta`
 * under `gen_ai.tool.call.id` (the server falls back to the JSON-RPC request
 * id), and the W3C trace context under `traceparent` / `tracestate`, through
 * the global OpenTelemetry propagator (any Node SDK registers W3C trace context).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { TextMapGetter } from '@opentelemetry/api';
import { ATTR_GEN_AI_TOOL_CALL_ID } from '../../instrumentation/shared/semconv.js';
import { optionalFunction, rejectUnknownOptions, requireObject } from '../../patterns/shared/validate.js';
import { TOOL_SAFETY_KEYS, guardFrameworkTool, validateToolSafety } from '../shared/tool-safety.js';
import type { ToolSafetyOptions } from '../shared/tool-safety.js';

/** The `_meta` key carrying the tool call id: `gen_ai.tool.call.id`. */
export const MCP_META_CALL_ID = ATTR_GEN_AI_TOOL_CALL_ID;

/** What the MCP SDK passes a tool handler as `extra` (the part we read). */
export interface McpHandlerExtra {
  signal?: AbortSignal;
  requestId?: string | number;
  _meta?: Record<string, unknown>;
}

/** Options of {@link guardServer}: safety for every tool, with per-tool overrides. */
export interface GuardServerOptions extends ToolSafetyOptions {
  /** Per-tool safety options, merged over the server's, by tool name. */
  tools?: Record<string, ToolSafetyOptions>;
}

/** An `McpServer` as far as the adapter needs it. */
interface McpServerLike {
  _registeredTools?: Record<string, unknown>;
  _createRegisteredTool?: (...args: unknown[]) => unknown;
}

const metaGetter: TextMapGetter<Record<string, unknown>> = {
  keys: carrier => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

/** A call id the client may give: 1–128 visible ASCII characters (no space, no control). */
const CLIENT_CALL_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The call id of a `tools/call`: `_meta['gen_ai.tool.call.id']` when it is
 * a plausible id (1–128 visible ASCII characters), else the JSON-RPC
 * request id. The client chooses it, and it goes on the span and into the
 * audit chain unredacted: a megabyte or a secret there is refused.
 */
export function mcpCallId(extra: McpHandlerExtra | undefined): string | undefined {
  const fromMeta = extra?._meta?.[MCP_META_CALL_ID];
  if (typeof fromMeta === 'string' && CLIENT_CALL_ID.test(fromMeta)) return fromMeta;
  return extra?.requestId === undefined ? undefined : String(extra.requestId).slice(0, 128);
}

/**
 * Guards every tool registered on `server` from now on (through
 * `registerTool` or the deprecated `tool`): each `tools/call` is one guarded
 * call named after the tool, with the call id from `_meta` (else the
 * JSON-RPC id), the trace context from `_meta.traceparent` (the call's span
 * continues the client's trace), the abort signal from `extra.signal` (a
 * client's cancellation aborts it), and only the tool's arguments reaching
 * capture, gate and explanation. A refused call returns an MCP tool error
 * (`isError: true`) with the refusal's message.
 *
 * Call it before registering tools. A handler replaced later through
 * `RegisteredTool.update({ callback })` is not guarded.
 *
 * @returns the same server.
 * @throws TypeError when tools are already registered, the SDK is not one this adapter knows, or for bad options.
 *
 * @example
 * ```ts
 * const server = guardServer(new McpServer({ name: 'files', version: '1.0.0' }), { timeoutMs: 10_000, tools: { rm: { gate, impact } } });
 * server.registerTool('rm', { inputSchema: { path: z.string() } }, async ({ path }) => ...);
 * ```
 */
export function guardServer<S extends object>(server: S, options?: GuardServerOptions): S {
  const s = server as McpServerLike;
  if (typeof s?._createRegisteredTool !== 'function') {
    throw new TypeError('server must be an McpServer of @modelcontextprotocol/sdk 1.x');
  }
  if (s._registeredTools !== undefined && Object.keys(s._registeredTools).length > 0) {
    throw new TypeError(`guardServer must be called before tools are registered (already: ${Object.keys(s._registeredTools).join(', ')})`);
  }
  if (options !== undefined) {
    requireObject('guardServer options', options);
    rejectUnknownOptions('guardServer', options, [...TOOL_SAFETY_KEYS, 'tools']);
    if (options.tools !== undefined) {
      requireObject('tools', options.tools);
      for (const [name, per] of Object.entries(options.tools)) validateToolSafety(`tools.${name}`, per);
    }
  }
  const { tools: perTool, ...shared } = options ?? {};
  const create = s._createRegisteredTool.bind(server);
  // (name, title, description, inputSchema, outputSchema, annotations, execution, _meta, handler)
  s._createRegisteredTool = (...args: unknown[]) => {
    const name = args[0] as string;
    const description = args[2];
    const inputSchema = args[3];
    const handler = args[8];
    if (typeof handler !== 'function') return create(...args); // task handlers ({ createTask }) pass unguarded
    const safety = { ...shared, ...(perTool?.[name] ?? {}) } as ToolSafetyOptions;
    if (safety.description === undefined && typeof description === 'string' && description !== '') safety.description = description;
    const withInput = inputSchema !== undefined;
    const run = withInput
      ? (input: unknown, extra: McpHandlerExtra) => (handler as (a: unknown, e: unknown) => unknown)(input, extra)
      : (_input: unknown, extra: McpHandlerExtra) => (handler as (e: unknown) => unknown)(extra);
    const guarded = guardFrameworkTool(run, name, safety, {
      input: input => input,
      callId: (_input, extra) => mcpCallId(extra),
      signal: (_input, extra) => extra?.signal,
    });
    const inTrace = (extra: McpHandlerExtra, input: unknown) => {
      const meta = extra?._meta;
      if (meta === undefined || typeof meta.traceparent !== 'string') return guarded(input, extra);
      return context.with(propagation.extract(context.active(), meta, metaGetter), () => guarded(input, extra));
    };
    const wrapped = withInput ? (input: unknown, extra: McpHandlerExtra) => inTrace(extra, input) : (extra: McpHandlerExtra) => inTrace(extra, undefined);
    const next = [...args];
    next[8] = wrapped;
    return create(...next);
  };
  return server;
}

/** Options of {@link guardClient}. */
export interface GuardClientOptions {
  /** Makes the call id of a `tools/call` that carries none in `_meta`. @default crypto.randomUUID */
  callId?: (params: { name: string; arguments?: unknown }) => string;
}

/** A `Client` as far as the adapter needs it. */
interface McpClientLike {
  callTool(params: { name: string; arguments?: unknown; _meta?: Record<string, unknown> }, ...rest: unknown[]): Promise<unknown>;
}

/**
 * Makes `client.callTool` send, in the request's `_meta`, a tool call id
 * (`gen_ai.tool.call.id`, kept when the caller gave one) and the active
 * trace context (`traceparent`, `tracestate`), so the server's guarded call
 * has that id and continues this trace. Adds no span of its own.
 *
 * @returns the same client.
 *
 * @example
 * ```ts
 * const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }));
 * await client.connect(transport);
 * await client.callTool({ name: 'rm', arguments: { path: '/tmp/x' } });
 * ```
 */
export function guardClient<C extends object>(client: C, options?: GuardClientOptions): C {
  const c = client as unknown as McpClientLike;
  if (typeof c?.callTool !== 'function') throw new TypeError('client must be a Client of @modelcontextprotocol/sdk');
  if (options !== undefined) {
    requireObject('guardClient options', options);
    rejectUnknownOptions('guardClient', options, ['callId']);
    optionalFunction('callId', options.callId);
  }
  const makeId = options?.callId ?? (() => randomUUID());
  const callTool = c.callTool.bind(client);
  c.callTool = (params, ...rest) => {
    const meta: Record<string, unknown> = { ...(params?._meta ?? {}) };
    if (typeof meta[MCP_META_CALL_ID] !== 'string' || meta[MCP_META_CALL_ID] === '') meta[MCP_META_CALL_ID] = makeId(params);
    propagation.inject(context.active(), meta);
    return callTool({ ...params, _meta: meta }, ...rest);
  };
  return client;
}
