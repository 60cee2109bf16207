/**
 * The LangChain adapter through the tool's own `invoke` (schema parsing,
 * callbacks, ToolMessage output), and the LangGraph review through
 * `interrupt()` in a real graph with a memory checkpointer (no model, no network).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { Command, END, MemorySaver, MessagesAnnotation, START, StateGraph, interrupt } from '@langchain/langgraph';
import { ToolNode } from '@langchain/langgraph/prebuilt';
import { z } from 'zod';
import { withSafety } from '../../../src/adapters/langchain/index.js';
import { Policy } from '../../../src/index.js';
import type { ReviewInterrupt } from '../../../src/adapters/langchain/index.js';
import {
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_IMPACT_ENFORCED,
  ATTR_AGENT_SAFETY_REVIEW_REVIEWER,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_DESCRIPTION,
  EVENT_AGENT_SAFETY_REVIEW_ANSWERED,
} from '../../../src/semconv.js';
import { amountGate } from '../../helpers/adapter-gate.js';
import { attr, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const ran: number[] = [];
const transfer = tool(
  async ({ amount }: { amount: number }) => {
    ran.push(amount);
    return `moved ${amount}`;
  },
  { name: 'transfer', description: 'Moves money', schema: z.object({ amount: z.number() }) },
);

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

const test = suite<{ t: TestTelemetry }>('adapters/langchain', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry({ captureArguments: true });
});
test.after(async ctx => ctx.t.shutdown());
test.before.each(ctx => {
  ctx.t.reset();
  ran.length = 0;
});

test('invoke with a tool call: one execute_tool span, call id from config.toolCall.id, only the input captured, a ToolMessage back', async ({ t }) => {
  const safe = withSafety(transfer);
  const out = await safe.invoke({ id: 'tc-1', name: 'transfer', args: { amount: 4 }, type: 'tool_call' });
  assert.ok(out instanceof ToolMessage, 'LangChain still formats the result');
  assert.is(out.tool_call_id, 'tc-1');
  assert.is(out.content, 'moved 4');
  assert.is(safe.name, 'transfer');
  assert.is(safe.schema, transfer.schema);
  const span = t.span('execute_tool transfer');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'tc-1');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"amount":4}');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_DESCRIPTION), 'Moves money');
  assert.is(t.spans().length, 1);
  assert.equal(ran, [4]);
});

test('abort through config.signal', async ({ t }) => {
  const stuck = withSafety(tool(() => new Promise<string>(() => {}), { name: 'stuck', schema: z.object({ amount: z.number() }) }));
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop')), 20);
  await stuck.invoke({ amount: 1 }, { signal: controller.signal }).then(
    () => assert.unreachable('must abort'),
    () => {},
  );
  assert.is(attr(t.span('execute_tool stuck'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'aborted');
});

test('gate block: the tool never runs, invoke rejects with ActionBlockedError', async ({ t }) => {
  const safe = withSafety(transfer, { gate: amountGate() });
  await safe.invoke({ id: 'tc-2', name: 'transfer', args: { amount: 500 }, type: 'tool_call' }).then(
    () => assert.unreachable('must be blocked'),
    err => assert.is((err as Error).name, 'ActionBlockedError'),
  );
  assert.equal(ran, []);
  assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked');
});

test('policy denial through ToolNode: the tool never runs, the model gets the refusal as a tool error', async ({ t }) => {
  const policy = new Policy({ rules: [{ name: 'small-only', effect: 'deny', where: { amount: { min: 100 } } }] });
  const graph = new StateGraph(MessagesAnnotation).addNode('tools', new ToolNode([withSafety(transfer, { policy })])).addEdge(START, 'tools').addEdge('tools', END).compile();
  const out = await graph.invoke({ messages: [callMessage(500, 'tc-p')] });
  const last = out.messages.at(-1) as ToolMessage;
  assert.is(last.status, 'error');
  assert.match(String(last.content), /policy denied tool "transfer"/);
  assert.equal(ran, []);
  assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'denied');
});

test('timeout: invoke rejects with ToolTimeoutError (the type is kept)', async ({ t }) => {
  const stuck = withSafety(tool(() => stuckForever(), { name: 'stuck', schema: z.object({ amount: z.number() }) }), { timeoutMs: 20 });
  await stuck.invoke({ id: 'tc-t', name: 'stuck', args: { amount: 1 }, type: 'tool_call' }).then(
    () => assert.unreachable('must time out'),
    err => assert.is((err as Error).name, 'ToolTimeoutError'),
  );
  assert.is(attr(t.span('execute_tool stuck'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'timeout');
});

/** START → tools → END, the tool call given as the AI message (no model). */
function graphWith(safe: ReturnType<typeof withSafety<typeof transfer>>) {
  return new StateGraph(MessagesAnnotation)
    .addNode('tools', new ToolNode([safe]))
    .addEdge(START, 'tools')
    .addEdge('tools', END)
    .compile({ checkpointer: new MemorySaver() });
}

const callMessage = (amount: number, id: string) =>
  new AIMessage({ content: '', tool_calls: [{ id, name: 'transfer', args: { amount }, type: 'tool_call' }] });

async function graphRoundTrip(t: TestTelemetry, resume: unknown) {
  const safe = withSafety(transfer, { gate: amountGate(), interrupt });
  const graph = graphWith(safe);
  const config = { configurable: { thread_id: `thread-${String(resume)}` } };
  const first = await graph.invoke({ messages: [callMessage(50, 'tc-r')] }, config);
  const pending = (first as { __interrupt__?: { value: ReviewInterrupt }[] }).__interrupt__;
  assert.ok(pending && pending.length === 1, 'the graph paused with one interrupt');
  const asked = pending![0].value;
  assert.is(asked.type, 'agent_safety.review');
  assert.is(asked.tool, 'transfer');
  assert.is(asked.callId, 'tc-r');
  assert.equal(asked.input, { amount: 50 });
  assert.match(asked.reason, /delta 0\.50/);
  assert.equal(ran, []);
  assert.is(t.spans().filter(s => s.name === 'execute_tool transfer').length, 0, 'no span while paused');
  const second = await graph.invoke(new Command({ resume }), config);
  const last = second.messages.at(-1) as ToolMessage;
  return { last, span: t.span('execute_tool transfer') };
}

test('LangGraph approve round trip: the interrupt passes through, the resume value approves that call', async ({ t }) => {
  const { last, span } = await graphRoundTrip(t, { approved: true, reviewer: 'alice' });
  assert.equal(ran, [50]);
  assert.is(last.content, 'moved 50');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'approved');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'tc-r');
  const answered = span.events.find(e => e.name === EVENT_AGENT_SAFETY_REVIEW_ANSWERED);
  assert.is(answered?.attributes?.[ATTR_AGENT_SAFETY_REVIEW_REVIEWER], 'alice');
});

test('LangGraph deny round trip: the tool never runs, the model gets the refusal as a tool error', async ({ t }) => {
  const { last, span } = await graphRoundTrip(t, false);
  assert.equal(ran, []);
  assert.is(last.status, 'error');
  assert.match(String(last.content), /denied in review/);
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'denied');
});

test('LangGraph: a call the gate lets proceed never interrupts', async ({ t }) => {
  const graph = graphWith(withSafety(transfer, { gate: amountGate(), interrupt }));
  const out = await graph.invoke({ messages: [callMessage(5, 'tc-p')] }, { configurable: { thread_id: 'p' } });
  assert.is((out as { __interrupt__?: unknown }).__interrupt__, undefined);
  assert.equal(ran, [5]);
  assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'proceeded');
});

test('bad input throws naming the problem', () => {
  assert.throws(() => withSafety({} as never), /LangChain tool/);
  assert.throws(() => withSafety(transfer, { name: 'x' } as never), /name/);
  assert.throws(() => withSafety(transfer, { interrupt: 1 } as never), /interrupt/);
});

test.run();
