/**
 * The OpenAI Agents adapter through `Runner.run` with the SDK's scripted
 * model (no network, the SDK's trace export replaced by a collector): one
 * execute_tool span per call linked to the SDK's own function span, call id,
 * abort, only-input capture, gate block, approve and reject round trips.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent, Runner, setTraceProcessors } from '@openai/agents-core';
import type { TracingProcessor } from '@openai/agents-core';
import { ScriptedModel, assistantMessage, functionCall } from '@openai/agents-core/testing';
import { z } from 'zod';
import { safeTool } from '../../../src/adapters/openai-agents/index.js';
import { CircuitBreaker, Policy } from '../../../src/index.js';
import {
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_FRAMEWORK_SPAN_ID,
  ATTR_AGENT_SAFETY_FRAMEWORK_TRACE_ID,
  ATTR_AGENT_SAFETY_IMPACT_ENFORCED,
  ATTR_AGENT_SAFETY_REVIEW_REVIEWER,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  EVENT_AGENT_SAFETY_REVIEW_ANSWERED,
} from '../../../src/semconv.js';
import { amountGate } from '../../helpers/adapter-gate.js';
import { attr, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

/** Keeps the SDK's own spans here (and sends nothing to OpenAI). */
const sdkSpans: { type: string; name?: string; spanId: string; traceId: string }[] = [];
const collector: TracingProcessor = {
  async onTraceStart() {},
  async onTraceEnd() {},
  async onSpanStart() {},
  async onSpanEnd(span) {
    const data = span.spanData as { type: string; name?: string };
    sdkSpans.push({ type: data.type, name: data.name, spanId: span.spanId, traceId: span.traceId });
  },
  async shutdown() {},
  async forceFlush() {},
};

const ran: number[] = [];
const transferOptions = {
  name: 'transfer',
  description: 'Moves money',
  parameters: z.object({ amount: z.number() }),
  execute: async ({ amount }: { amount: number }) => {
    ran.push(amount);
    return `moved ${amount}`;
  },
};

const script = (amount: number, callId = 'fc-1') =>
  new ScriptedModel([[functionCall('transfer', { amount }, { callId })], [assistantMessage('done')]]);

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

const test = suite<{ t: TestTelemetry }>('adapters/openai-agents', {} as { t: TestTelemetry });
test.before(ctx => {
  setTraceProcessors([collector]);
  ctx.t = setupTelemetry({ captureArguments: true });
});
test.after(async ctx => ctx.t.shutdown());
test.before.each(ctx => {
  ctx.t.reset();
  ran.length = 0;
  sdkSpans.length = 0;
});

test('Runner.run: one execute_tool span, the call id, only the input, linked to the SDK\'s function span', async ({ t }) => {
  const agent = new Agent({ name: 'bank', model: script(5), tools: [safeTool(transferOptions)] });
  const result = await new Runner().run(agent, 'move 5');
  assert.is(result.finalOutput, 'done');
  assert.equal(ran, [5]);
  const span = t.span('execute_tool transfer');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'fc-1');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"amount":5}'); // not the run context
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'success');
  const fn = sdkSpans.filter(s => s.type === 'function');
  assert.is(fn.length, 1, 'the SDK recorded the call once');
  assert.is(attr(span, ATTR_AGENT_SAFETY_FRAMEWORK_SPAN_ID), fn[0].spanId);
  assert.is(attr(span, ATTR_AGENT_SAFETY_FRAMEWORK_TRACE_ID), fn[0].traceId);
  assert.is(t.spans().filter(s => s.name.startsWith('execute_tool')).length, 1);
});

test('abort: the run\'s signal reaches the guard', async ({ t }) => {
  const stuck = safeTool({ name: 'stuck', description: 'never ends', parameters: z.object({ amount: z.number() }), execute: () => new Promise<string>(() => {}) });
  const agent = new Agent({ name: 'a', model: new ScriptedModel([[functionCall('stuck', { amount: 1 }, { callId: 'fc-s' })], [assistantMessage('x')]]), tools: [stuck] });
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop')), 30);
  await new Runner().run(agent, 'go', { signal: controller.signal }).then(
    () => {},
    () => {},
  );
  const span = t.span('execute_tool stuck');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'aborted');
});

test('gate block: no interruption, the tool never runs, the model gets the refusal', async ({ t }) => {
  const agent = new Agent({ name: 'bank', model: script(500), tools: [safeTool(transferOptions, { gate: amountGate() })] });
  const result = await new Runner().run(agent, 'move 500');
  assert.is(result.interruptions.length, 0);
  assert.equal(ran, []);
  assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked');
  assert.match(JSON.stringify(result.history), /Refused by the safety layer: action \\"transfer\\" blocked/);
});

test('policy denial: accepted as a safety option, the tool never runs, the model gets the refusal', async ({ t }) => {
  const policy = new Policy({ rules: [{ name: 'small-only', effect: 'deny', where: { amount: { min: 100 } } }] });
  const agent = new Agent({ name: 'bank', model: script(500), tools: [safeTool(transferOptions, { policy })] });
  const result = await new Runner().run(agent, 'move 500');
  assert.equal(ran, []);
  assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'denied');
  assert.match(JSON.stringify(result.history), /Refused by the safety layer: policy denied tool \\"transfer\\"/);
});

test('open breaker: the tool never runs, the model gets the refusal', async ({ t }) => {
  const breaker = new CircuitBreaker();
  breaker.isolate();
  const agent = new Agent({ name: 'bank', model: script(5), tools: [safeTool(transferOptions, { breaker })] });
  const result = await new Runner().run(agent, 'move 5');
  assert.equal(ran, []);
  assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'rejected');
  assert.match(JSON.stringify(result.history), /Refused by the safety layer: /);
});

test('errorFunction null is kept: a refusal raises the SDK\'s ToolCallError carrying the ActionBlockedError', async ({ t }) => {
  const agent = new Agent({ name: 'bank', model: script(500), tools: [safeTool({ ...transferOptions, errorFunction: null }, { gate: amountGate() })] });
  await new Runner().run(agent, 'move 500').then(
    () => assert.unreachable('must raise'),
    (err: unknown) => {
      assert.is((err as Error).name, 'ToolCallError');
      assert.is((err as { error?: Error }).error?.name, 'ActionBlockedError');
    },
  );
  assert.equal(ran, []);
  assert.is(attr(t.span('execute_tool transfer'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'blocked');
});

test('timeout: the guard ends the call; the model gets the SDK\'s default error text', async ({ t }) => {
  const stuck = safeTool({ name: 'stuck', description: 'never ends', parameters: z.object({ amount: z.number() }), execute: () => stuckForever() }, { timeoutMs: 20 });
  const agent = new Agent({ name: 'a', model: new ScriptedModel([[functionCall('stuck', { amount: 1 }, { callId: 'fc-t' })], [assistantMessage('x')]]), tools: [stuck] });
  const result = await new Runner().run(agent, 'go');
  assert.is(result.finalOutput, 'x');
  assert.match(JSON.stringify(result.history), /An error occurred while running the tool/);
  assert.is(attr(t.span('execute_tool stuck'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'timeout');
});

async function reviewRoundTrip(approve: boolean) {
  const model = script(50, 'fc-r');
  const agent = new Agent({ name: 'bank', model, tools: [safeTool(transferOptions, { gate: amountGate() })] });
  const runner = new Runner();
  const first = await runner.run(agent, 'move 50');
  assert.is(first.interruptions.length, 1, 'the gate\'s review interrupted the run');
  assert.equal(ran, []);
  const state = first.state;
  if (approve) state.approve(first.interruptions[0]);
  else state.reject(first.interruptions[0]);
  return runner.run(agent, state);
}

test('approve round trip: state.approve is the review answer for that call id', async ({ t }) => {
  const result = await reviewRoundTrip(true);
  assert.is(result.finalOutput, 'done');
  assert.equal(ran, [50]);
  const span = t.span('execute_tool transfer');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'fc-r');
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'approved');
  const answered = span.events.find(e => e.name === EVENT_AGENT_SAFETY_REVIEW_ANSWERED);
  assert.is(answered?.attributes?.[ATTR_AGENT_SAFETY_REVIEW_REVIEWER], 'openai-agents');
});

test('reject round trip: the tool never runs', async ({ t }) => {
  const result = await reviewRoundTrip(false);
  assert.equal(ran, []);
  assert.is(result.finalOutput, 'done');
  assert.is(t.spans().filter(s => s.name === 'execute_tool transfer').length, 0);
});

test('bad options throw naming the option', () => {
  assert.throws(() => safeTool({ ...transferOptions, name: '' }), /name/);
  assert.throws(() => safeTool(transferOptions, { name: 'x' } as never), /name/);
});

test.run();
