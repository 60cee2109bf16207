/**
 * The AI SDK adapter through `generateText` with the SDK's mock language
 * model (no network): one span per tool call (the SDK's own when its
 * telemetry is on), call id, abort, only-input capture, gate block, and the
 * approve / deny round trips through the SDK's tool approval.
 *
 * Runs on the `ai` the CI leg installs: AI SDK 6 (Node 20 leg: its own
 * `ai.toolCall` spans through `experimental_telemetry`) or 7 (Node 24 leg:
 * `execute_tool {tool}` spans of `@ai-sdk/otel`, `toolApproval` on
 * `generateText`). Where the two differ the test reads the installed version.
 */
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { generateText, stepCountIs, tool } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { guardTools, toolApproval } from '../../../src/adapters/ai-sdk/index.js';
import { CircuitBreaker, Policy } from '../../../src/index.js';
import {
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_IMPACT_ENFORCED,
  ATTR_AGENT_SAFETY_POLICY_RULE,
  ATTR_AGENT_SAFETY_REVIEW_DECISION,
  ATTR_AGENT_SAFETY_REVIEW_REVIEWER,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_NAME,
  EVENT_AGENT_SAFETY_REVIEW_ANSWERED,
} from '../../../src/semconv.js';
import { amountGate } from '../../helpers/adapter-gate.js';
import { attr, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

/** The major version of the installed AI SDK (6 or 7). */
const aiMajor = Number((createRequire(import.meta.url)('ai/package.json') as { version: string }).version.split('.')[0]);

/**
 * The `generateText` options that turn the SDK's own tracing on with `tracer`:
 * `experimental_telemetry` in AI SDK 6, the `@ai-sdk/otel` integration in 7
 * (installed on the AI SDK 7 leg only, hence the import by a variable).
 */
async function sdkTelemetry(tracer: Tracer): Promise<object> {
  if (aiMajor < 7) return { experimental_telemetry: { isEnabled: true, tracer } };
  const otel = '@ai-sdk/otel';
  const { OpenTelemetry } = (await import(otel)) as { OpenTelemetry: new (options: { tracer: Tracer }) => object };
  return { telemetry: { integrations: [new OpenTelemetry({ tracer })] } };
}

/** The SDK's name for its tool span and a prefix of its run span's name. */
const sdkSpanNames = aiMajor < 7 ? { tool: 'ai.toolCall', run: 'ai.generateText' } : { tool: 'execute_tool transfer', run: 'invoke_agent' };

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 1, text: 1, reasoning: 0 },
};

/** Every prompt the models of {@link callingModel} were given, in order. */
const prompts: unknown[] = [];

/** A model that calls `toolName` with `input` once, then answers with text. */
function callingModel(toolName: string, input: unknown, toolCallId = 'call-1') {
  return new MockLanguageModelV3({
    doGenerate: async options => {
      prompts.push(options.prompt);
      const answered = options.prompt.some(m => m.role === 'tool');
      if (answered) return { content: [{ type: 'text', text: 'done' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] };
      return {
        content: [{ type: 'tool-call', toolCallId, toolName, input: JSON.stringify(input) }],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage,
        warnings: [],
      };
    },
  });
}

const ran: unknown[] = [];
const transfer = tool({
  description: 'Moves money',
  inputSchema: z.object({ amount: z.number() }),
  execute: async ({ amount }) => {
    ran.push(amount);
    return { moved: amount };
  },
});

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

const test = suite<{ t: TestTelemetry }>('adapters/ai-sdk', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry({ captureArguments: true });
});
test.after(async ctx => ctx.t.shutdown());
test.before.each(ctx => {
  ctx.t.reset();
  ran.length = 0;
  prompts.length = 0;
});

const toolSpans = (t: TestTelemetry) => t.spans().filter(s => s.attributes[ATTR_GEN_AI_TOOL_CALL_ID] !== undefined);

test('SDK telemetry on: the SDK\'s own tool span is enriched, no second span; only the input is captured', async ({ t }) => {
  const tools = guardTools({ transfer });
  const result = await generateText({
    model: callingModel('transfer', { amount: 5 }),
    tools,
    prompt: 'move 5',
    stopWhen: stepCountIs(2),
    ...(await sdkTelemetry(t.provider.getTracer('ai'))),
  });
  assert.is(result.text, 'done');
  assert.equal(ran, [5]);
  const spans = toolSpans(t);
  assert.is(spans.length, 1, `one tool span, got ${t.spans().map(s => s.name).join(', ')}`);
  const span = spans[0];
  assert.is(span.name, sdkSpanNames.tool);
  assert.is(span.instrumentationScope.name, 'ai', 'the SDK\'s span (its tracer), not one of ours');
  assert.is(t.spans().filter(s => s.name === 'execute_tool transfer' || s.name === 'ai.toolCall').length, 1, 'no second tool span');
  assert.is(attr(span, ATTR_GEN_AI_OPERATION_NAME), 'execute_tool');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_NAME), 'transfer'); // the key, not a second spelling
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'call-1');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'success');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"amount":5}'); // not the conversation
  // The tree: the tool span sits under the SDK's step and run spans.
  const parent = t.spans().find(s => s.spanContext().spanId === span.parentSpanContext?.spanId);
  assert.ok(parent, 'the tool span has a parent in the trace');
  assert.ok(t.spans().some(s => s.name.startsWith(sdkSpanNames.run)), `a ${sdkSpanNames.run} span`);
});

test('SDK telemetry off: one execute_tool span of ours, with the call id', async ({ t }) => {
  const tools = guardTools({ transfer });
  await generateText({ model: callingModel('transfer', { amount: 3 }, 'call-7'), tools, prompt: 'x', stopWhen: stepCountIs(2) });
  const spans = toolSpans(t);
  assert.is(spans.length, 1);
  assert.is(spans[0].name, 'execute_tool transfer');
  assert.is(attr(spans[0], ATTR_GEN_AI_TOOL_CALL_ID), 'call-7');
  assert.is(attr(spans[0], ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"amount":3}');
});

test('abort: the SDK\'s abortSignal reaches the guard; the call ends as aborted', async ({ t }) => {
  const controller = new AbortController();
  const slow = tool({
    inputSchema: z.object({ amount: z.number() }),
    execute: () => new Promise(() => {}), // never settles by itself
  });
  const tools = guardTools({ slow });
  const running = generateText({ model: callingModel('slow', { amount: 1 }), tools, prompt: 'x', abortSignal: controller.signal, stopWhen: stepCountIs(2) });
  setTimeout(() => controller.abort(new Error('user left')), 20);
  await running.then(
    () => assert.unreachable('the run must not finish'),
    () => {},
  );
  const span = toolSpans(t)[0];
  assert.ok(span, 'the tool call was recorded');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'aborted');
});

test('gate block (AI SDK 6 needsApproval path): the tool never runs, the model sees the refusal, the span says blocked', async ({ t }) => {
  const tools = guardTools({ transfer }, { gate: amountGate() });
  const result = await generateText({ model: callingModel('transfer', { amount: 500 }), tools, prompt: 'x', stopWhen: stepCountIs(2) });
  assert.equal(ran, []);
  const error = result.steps[0].content.find(p => p.type === 'tool-error');
  assert.ok(error, 'the model got a tool error');
  const span = toolSpans(t)[0];
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'blocked');
  assert.is(span.status.code, SpanStatusCode.ERROR);
});

test('policy denial: accepted as an option, the tool never runs, the model gets the refusal as a tool error', async ({ t }) => {
  const policy = new Policy({ rules: [{ name: 'small-only', effect: 'deny', where: { amount: { min: 100 } } }] });
  const tools = guardTools({ transfer }, { policy });
  const result = await generateText({ model: callingModel('transfer', { amount: 500 }), tools, prompt: 'x', stopWhen: stepCountIs(2) });
  assert.equal(ran, []);
  const error = result.steps[0].content.find(p => p.type === 'tool-error') as { error?: unknown } | undefined;
  assert.match(String(error?.error), /policy denied tool "transfer"/);
  const span = toolSpans(t)[0];
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'denied');
  assert.is(attr(span, ATTR_AGENT_SAFETY_POLICY_RULE), 'small-only');
});

test('open breaker: the tool never runs, the model gets a CircuitOpenError as a tool error', async ({ t }) => {
  const breaker = new CircuitBreaker();
  breaker.isolate();
  const result = await generateText({ model: callingModel('transfer', { amount: 5 }), tools: guardTools({ transfer }, { breaker }), prompt: 'x', stopWhen: stepCountIs(2) });
  assert.equal(ran, []);
  const error = result.steps[0].content.find(p => p.type === 'tool-error') as { error?: unknown } | undefined;
  assert.is((error?.error as Error | undefined)?.name, 'CircuitOpenError');
  assert.is(attr(toolSpans(t)[0], ATTR_AGENT_SAFETY_CALL_OUTCOME), 'rejected');
});

test('timeout: the guard ends the call; the model gets a tool error that keeps its type (ToolTimeoutError)', async ({ t }) => {
  const slow = tool({ inputSchema: z.object({ amount: z.number() }), execute: (): Promise<string> => stuckForever() });
  const result = await generateText({ model: callingModel('slow', { amount: 1 }), tools: guardTools({ slow }, { timeoutMs: 20 }), prompt: 'x', stopWhen: stepCountIs(2) });
  const error = result.steps[0].content.find(p => p.type === 'tool-error') as { error?: unknown } | undefined;
  assert.is((error?.error as Error | undefined)?.name, 'ToolTimeoutError');
  assert.is(result.text, 'done', 'the run goes on');
  assert.is(attr(toolSpans(t)[0], ATTR_AGENT_SAFETY_CALL_OUTCOME), 'timeout');
});

test('toolApproval bridge (AI SDK 7 shape): review asks the user with the assessment, block is denied and recorded, proceed needs nothing', async ({ t }) => {
  const tools = guardTools({ transfer }, { gate: amountGate() });
  const approval = toolApproval(tools);
  const ask = (amount: number, id: string) => approval({ toolCall: { toolName: 'transfer', toolCallId: id, input: { amount } }, messages: [] });
  assert.is(await ask(5, 'a'), 'not-applicable');
  const review = await ask(50, 'b');
  assert.is(typeof review === 'object' && review.type, 'user-approval');
  assert.match((review as { reason: string }).reason, /impact MODERATE|impact HIGH|delta 0\.50/);
  const blocked = await ask(500, 'c');
  assert.is(typeof blocked === 'object' && blocked.type, 'denied');
  assert.equal(ran, []);
  const span = toolSpans(t).find(s => s.attributes[ATTR_GEN_AI_TOOL_CALL_ID] === 'c');
  assert.ok(span, 'the refusal is on a span');
  assert.is(attr(span!, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'blocked');
  assert.is(toolSpans(t).length, 1, 'asking about proceed/review records nothing');
  assert.is(await toolApproval({ transfer })({ toolCall: { toolName: 'transfer', toolCallId: 'd', input: { amount: 500 } } }), 'not-applicable');
});

async function reviewRoundTrip(t: TestTelemetry, approved: boolean) {
  const tools = guardTools({ transfer }, { gate: amountGate() }); // no approval hook: only the human's answer can approve
  const model = callingModel('transfer', { amount: 50 }, 'call-r');
  const first = await generateText({ model, tools, prompt: 'move 50', stopWhen: stepCountIs(2) });
  const request = first.content.find(p => p.type === 'tool-approval-request');
  assert.ok(request, 'the SDK stopped for approval');
  assert.equal(ran, []);
  const messages = [
    { role: 'user' as const, content: 'move 50' },
    ...first.response.messages,
    { role: 'tool' as const, content: [{ type: 'tool-approval-response' as const, approvalId: request!.approvalId, approved, reason: approved ? 'ok by alice' : 'no' }] },
  ];
  const second = await generateText({ model, tools, messages, stopWhen: stepCountIs(2) });
  return { second, spans: toolSpans(t) };
}

test('approve round trip: the approval response on resume is the review answer for that call id', async ({ t }) => {
  const { second, spans } = await reviewRoundTrip(t, true);
  assert.is(second.text, 'done');
  assert.equal(ran, [50]);
  assert.is(spans.length, 1);
  assert.is(attr(spans[0], ATTR_GEN_AI_TOOL_CALL_ID), 'call-r');
  assert.is(attr(spans[0], ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'approved');
  const answered = spans[0].events.find(e => e.name === EVENT_AGENT_SAFETY_REVIEW_ANSWERED);
  assert.is(answered?.attributes?.[ATTR_AGENT_SAFETY_REVIEW_DECISION], 'approved');
  assert.is(answered?.attributes?.[ATTR_AGENT_SAFETY_REVIEW_REVIEWER], 'ai-sdk');
});

test('deny round trip: the SDK never runs the tool', async ({ t }) => {
  const { second, spans } = await reviewRoundTrip(t, false);
  assert.equal(ran, []);
  assert.is(spans.length, 0);
  assert.is(second.text, 'done');
  // The model is told the call was denied (AI SDK 6 also keeps it in response.messages, 7 only in the prompt).
  assert.match(JSON.stringify(prompts.at(-1)), /"execution-denied"/);
});

test('an approval response for another call id does not approve this one', async ({ t }) => {
  const tools = guardTools({ transfer }, { gate: amountGate() });
  const execute = (tools.transfer as unknown as { execute: (i: unknown, o: unknown) => Promise<unknown> }).execute;
  const messages = [
    { role: 'assistant', content: [{ type: 'tool-approval-request', approvalId: 'ap1', toolCallId: 'other' }] },
    { role: 'tool', content: [{ type: 'tool-approval-response', approvalId: 'ap1', approved: true }] },
  ];
  await execute({ amount: 50 }, { toolCallId: 'mine', messages }).then(
    () => assert.unreachable('must be denied'),
    err => assert.is((err as Error).name, 'ActionBlockedError'),
  );
  assert.equal(ran, []);
  assert.is(attr(toolSpans(t)[0], ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'denied');
});

test('bad options throw naming the option', () => {
  assert.throws(() => guardTools({ transfer }, { nope: 1 } as never), /nope/);
  assert.throws(() => guardTools({ transfer }, { tools: { transfer: { name: 'x' } } } as never), /name/);
  assert.throws(() => guardTools({ transfer }, { enrich: 'yes' } as never), /enrich/);
});

test.run();
