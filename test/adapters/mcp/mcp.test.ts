/**
 * The MCP adapter with the real SDK: client and server over the in-memory
 * transport, and over stdio between this process and a real server process.
 * One trace per tool call across the boundary, the call id from `_meta`
 * (else the JSON-RPC id), abort by the client, only the arguments captured,
 * a gate's refusal as an MCP tool error.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT_CONTEXT, context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { guardClient, guardServer } from '../../../src/adapters/mcp/index.js';
import { Policy } from '../../../src/index.js';
import {
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_IMPACT_ENFORCED,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
} from '../../../src/semconv.js';
import { amountGate } from '../../helpers/adapter-gate.js';
import { attr, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const here = dirname(fileURLToPath(import.meta.url));
const ran: number[] = [];

function bankServer(options?: Parameters<typeof guardServer>[1]) {
  const server = guardServer(new McpServer({ name: 'bank', version: '1.0.0' }), options);
  server.registerTool('transfer', { description: 'Moves money', inputSchema: { amount: z.number() } }, async ({ amount }) => {
    ran.push(amount);
    return { content: [{ type: 'text', text: `moved ${amount}` }] };
  });
  server.registerTool('stuck', { inputSchema: { amount: z.number() } }, () => stuckForever());
  server.registerTool('ping', {}, async () => ({ content: [{ type: 'text', text: 'pong' }] }));
  return server;
}

async function connected(server: McpServer, client: Client) {
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), client.connect(b)]);
  return async () => {
    await client.close();
    await server.close();
  };
}

/**
 * A tool body that never settles by itself. The guard's timer does not hold the
 * process open (it is unref'd), so a referenced timer keeps the test alive
 * for two seconds, far longer than any timeout or abort here.
 */
function stuckForever(): Promise<never> {
  const hold = setInterval(() => {}, 1_000);
  setTimeout(() => clearInterval(hold), 2_000).unref();
  return new Promise<never>(() => {});
}

const test = suite<{ t: TestTelemetry }>('adapters/mcp', {} as { t: TestTelemetry });
test.before(ctx => {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  ctx.t = setupTelemetry({ captureArguments: true });
});
test.after(async ctx => {
  propagation.disable();
  await ctx.t.shutdown();
});
test.before.each(ctx => {
  ctx.t.reset();
  ran.length = 0;
});

const text = (r: unknown) => ((r as { content: { text: string }[] }).content[0]?.text ?? '');

test('in-memory: the server span continues the client\'s trace, with the call id from _meta and only the arguments', async ({ t }) => {
  const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }), { callId: () => 'mcp-call-1' });
  const close = await connected(bankServer(), client);
  try {
    const parent = t.provider.getTracer('test').startSpan('invoke_agent bank');
    // A root context: the trace must travel in _meta, not through async context.
    const result = await context.with(trace.setSpan(ROOT_CONTEXT, parent), () => client.callTool({ name: 'transfer', arguments: { amount: 5 } }));
    parent.end();
    assert.is(text(result), 'moved 5');
    const span = t.span('execute_tool transfer');
    assert.is(span.spanContext().traceId, parent.spanContext().traceId);
    assert.is(span.parentSpanContext?.spanId, parent.spanContext().spanId);
    assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'mcp-call-1');
    assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"amount":5}'); // not extra
    assert.is(t.spans().filter(s => s.name.startsWith('execute_tool')).length, 1);
  } finally {
    await close();
  }
});

test('in-memory: an unwrapped client falls back to the JSON-RPC id; a tool without input works', async ({ t }) => {
  const client = new Client({ name: 'plain', version: '1.0.0' });
  const close = await connected(bankServer(), client);
  try {
    assert.is(text(await client.callTool({ name: 'ping' })), 'pong');
    const span = t.span('execute_tool ping');
    assert.match(String(attr(span, ATTR_GEN_AI_TOOL_CALL_ID)), /^\d+$/);
  } finally {
    await close();
  }
});

test('in-memory: the client\'s abort cancels the request and the server call ends as aborted', async ({ t }) => {
  const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }));
  const close = await connected(bankServer(), client);
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user left')), 30);
    await client.callTool({ name: 'stuck', arguments: { amount: 1 } }, undefined, { signal: controller.signal }).then(
      () => assert.unreachable('must abort'),
      () => {},
    );
    for (let i = 0; i < 50 && t.spans().length === 0; i++) await new Promise(r => setTimeout(r, 10));
    assert.is(attr(t.span('execute_tool stuck'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'aborted');
  } finally {
    await close();
  }
});

test('in-memory: a gate block is an MCP tool error; the tool never runs', async ({ t }) => {
  const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }));
  const close = await connected(bankServer({ tools: { transfer: { gate: amountGate() } } }), client);
  try {
    const result = (await client.callTool({ name: 'transfer', arguments: { amount: 500 } })) as { isError?: boolean };
    assert.is(result.isError, true);
    assert.match(text(result), /blocked/);
    assert.equal(ran, []);
    assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked');
  } finally {
    await close();
  }
});

test('in-memory: a policy denial is an MCP tool error; the tool never runs', async ({ t }) => {
  const policy = new Policy({ rules: [{ name: 'small-only', effect: 'deny', where: { amount: { min: 100 } } }] });
  const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }));
  const close = await connected(bankServer({ tools: { transfer: { policy } } }), client);
  try {
    const result = (await client.callTool({ name: 'transfer', arguments: { amount: 500 } })) as { isError?: boolean };
    assert.is(result.isError, true);
    assert.match(text(result), /policy denied tool "transfer"/);
    assert.equal(ran, []);
    assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'denied');
  } finally {
    await close();
  }
});

test('in-memory: a timeout is an MCP tool error; a tool registered with the deprecated tool() is guarded too', async ({ t }) => {
  const server = bankServer({ tools: { stuck: { timeoutMs: 20 } } });
  server.tool('legacy', { amount: z.number() }, async ({ amount }) => ({ content: [{ type: 'text', text: `legacy ${amount}` }] }));
  const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }), { callId: () => 'mcp-legacy' });
  const close = await connected(server, client);
  try {
    const timedOut = (await client.callTool({ name: 'stuck', arguments: { amount: 1 } })) as { isError?: boolean };
    assert.is(timedOut.isError, true);
    assert.match(text(timedOut), /did not finish within 20 ms/);
    assert.is(attr(t.span('execute_tool stuck'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'timeout');
    assert.is(text(await client.callTool({ name: 'legacy', arguments: { amount: 2 } })), 'legacy 2');
    const legacy = t.span('execute_tool legacy');
    assert.is(attr(legacy, ATTR_GEN_AI_TOOL_CALL_ID), 'mcp-legacy');
    assert.is(attr(legacy, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"amount":2}');
  } finally {
    await close();
  }
});

test('in-memory: hostile arguments (secrets, 1 MB strings, deep nesting, __proto__ keys) neither crash the server nor reach the span unredacted or unbounded', async ({ t }) => {
  const server = guardServer(new McpServer({ name: 'notes', version: '1.0.0' }));
  const seen: unknown[] = [];
  server.registerTool('save', { inputSchema: { note: z.any() } }, async ({ note }) => {
    seen.push(note);
    return { content: [{ type: 'text', text: 'saved' }] };
  });
  const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }));
  const close = await connected(server, client);
  let deep: unknown = 'bottom';
  for (let i = 0; i < 10_000; i++) deep = { a: deep };
  const hostile: Record<string, unknown> = {
    secrets: { apiKey: 'sk-live-0123456789abcdefghij', text: 'Authorization: Bearer abcdefghijklmnop0123' },
    huge: 'x'.repeat(1_000_000),
    deep,
    proto: JSON.parse('{"__proto__":{"password":"hunter2hunter2"},"ok":1}'),
  };
  try {
    for (const [id, note] of Object.entries(hostile)) {
      t.reset();
      const r = (await client.callTool({ name: 'save', arguments: { note }, _meta: { 'gen_ai.tool.call.id': id } })) as { isError?: boolean };
      assert.is(r.isError, undefined, id);
      const captured = String(attr(t.span('execute_tool save'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS));
      assert.ok(captured.length < 5_000, `${id}: bounded (${captured.length} chars)`);
      assert.not.match(captured, /sk-live|abcdefghijklmnop0123|hunter2/, id);
    }
    assert.is(seen.length, 4, 'every call ran');
    assert.match(String(attr(t.span('execute_tool save'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS)), /"ok":1/);
    assert.is(({} as { password?: unknown }).password, undefined, 'no prototype was polluted');
    // The client chooses the call id: one that is not a plausible id (a megabyte, spaces, control characters) is not taken.
    for (const bad of ['x'.repeat(1_000_000), 'Bearer sk-live-0123456789abcdefghij', 'a\nb']) {
      t.reset();
      await client.callTool({ name: 'save', arguments: { note: 'n' }, _meta: { 'gen_ai.tool.call.id': bad } });
      const id = String(attr(t.span('execute_tool save'), 'gen_ai.tool.call.id'));
      assert.ok(id !== bad && id.length <= 128, `call id ${JSON.stringify(id.slice(0, 40))}`);
    }
  } finally {
    await close();
  }
});

test('stdio between two processes: one trace, the call id and the trace context travel in _meta', async ({ t }) => {
  const dir = mkdtempSync(join(tmpdir(), 'aso-mcp-'));
  const spansFile = join(dir, 'spans.jsonl');
  const client = guardClient(new Client({ name: 'agent', version: '1.0.0' }), { callId: () => 'stdio-call-1' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', resolve(here, '../../fixtures/mcp-stdio-server.ts')],
    env: { ...(process.env as Record<string, string>), SPANS_FILE: spansFile },
    stderr: 'inherit',
  });
  try {
    await client.connect(transport);
    const parent = t.provider.getTracer('test').startSpan('invoke_agent bank');
    const result = await context.with(trace.setSpan(ROOT_CONTEXT, parent), () => client.callTool({ name: 'transfer', arguments: { amount: 7 } }));
    parent.end();
    assert.is(text(result), 'moved 7');
    await client.close(); // stops the server process
    const lines = readFileSync(spansFile, 'utf8').trim().split('\n').map(l => JSON.parse(l));
    const tools = lines.filter(l => l.name === 'execute_tool transfer');
    assert.is(tools.length, 1);
    assert.is(tools[0].traceId, parent.spanContext().traceId);
    assert.is(tools[0].parentSpanId, parent.spanContext().spanId);
    assert.is(tools[0].attributes[ATTR_GEN_AI_TOOL_CALL_ID], 'stdio-call-1');
    assert.is(tools[0].attributes[ATTR_GEN_AI_TOOL_CALL_ARGUMENTS], '{"amount":7}');
  } finally {
    await client.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('guardServer refuses a server with tools already registered, and bad options', () => {
  const server = new McpServer({ name: 'x', version: '1.0.0' });
  server.registerTool('a', {}, async () => ({ content: [] }));
  assert.throws(() => guardServer(server), /before tools are registered/);
  assert.throws(() => guardServer(new McpServer({ name: 'y', version: '1' }), { nope: 1 } as never), /nope/);
  assert.throws(() => guardServer({}), /McpServer/);
  assert.throws(() => guardClient({}), /Client/);
});

test.run();
