import { getEventListeners } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ToolTimeoutError, currentSignal, guard, invokeAgent, isToolTimeoutError } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_CALL_OUTCOME, ATTR_ERROR_TYPE, ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_AGENT_NAME, ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS, ATTR_GEN_AI_TOOL_CALL_ID, ATTR_GEN_AI_TOOL_CALL_RESULT, ATTR_GEN_AI_TOOL_DESCRIPTION, ATTR_GEN_AI_TOOL_NAME, ATTR_GEN_AI_TOOL_TYPE } from '../../../src/semconv.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

const test = suite<{ t: TestTelemetry }>('guard', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry({ agent: { id: 'agent-1', name: 'Ranker' } });
});
test.after(async ctx => {
  await ctx.t.shutdown();
});
test.before.each(ctx => ctx.t.reset());

test('one INTERNAL span per call, named execute_tool {tool}, GenAI attributes set at start', async ({ t }) => {
  const search = guard(async (q: string) => `results for ${q}`, {
    name: 'web_search',
    description: 'Searches the web',
    type: 'function',
    callId: q => `call-${q}`,
  });
  const result = await search('cats');
  assert.is(result, 'results for cats');
  const span = t.span('execute_tool web_search');
  assert.is(span.kind, SpanKind.INTERNAL);
  const atStart = t.startAttributes(span);
  assert.is(atStart[ATTR_GEN_AI_OPERATION_NAME], 'execute_tool');
  assert.is(atStart[ATTR_GEN_AI_TOOL_NAME], 'web_search');
  assert.is(atStart[ATTR_GEN_AI_TOOL_DESCRIPTION], 'Searches the web');
  assert.is(atStart[ATTR_GEN_AI_TOOL_TYPE], 'function');
  assert.is(atStart[ATTR_GEN_AI_AGENT_ID], 'agent-1');
  assert.is(atStart[ATTR_GEN_AI_AGENT_NAME], 'Ranker');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'call-cats');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'success');
  assert.is(span.status.code, SpanStatusCode.UNSET);
  assert.is(span.instrumentationScope.name, 'agent-safety-otel');
  assert.is(t.spans().length, 1);
});

test('the return value is untouched (same object) and sync functions work', async ({ t }) => {
  const payload = { ranked: ['p2', 'p1'] };
  const syncTool = guard(() => payload, { name: 'sync_tool' });
  assert.is(await syncTool(), payload);
  const asyncTool = guard(async () => payload, { name: 'async_tool' });
  assert.is(await asyncTool(), payload);
  assert.is(t.spans().length, 2);
});

test('`this` and every argument reach the original', async () => {
  const service = {
    prefix: 'svc',
    call: guard(function (this: { prefix: string }, a: number, b: string, c?: boolean) {
      return `${this.prefix}:${a}:${b}:${c}`;
    }, { name: 'method_tool' }),
  };
  assert.is(await service.call(1, 'x', true), 'svc:1:x:true');
});

test('a thrown Error is rethrown unchanged and recorded: exception event, status ERROR, error.type', async ({ t }) => {
  class RateLimited extends Error {
    override name = 'RateLimited';
  }
  const original = new RateLimited('429 from ranking service');
  const tool = guard(async () => {
    throw original;
  }, { name: 'ranker' });
  const err = await rejection(tool());
  assert.is(err, original);
  const span = t.span('execute_tool ranker');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(span.status.message, '429 from ranking service');
  assert.is(attr(span, ATTR_ERROR_TYPE), 'RateLimited');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'error');
  const exception = span.events.find(e => e.name === 'exception');
  assert.ok(exception, 'exception event recorded');
  assert.is(exception!.attributes?.['exception.type'], 'RateLimited');
});

test('a system error uses its code as error.type', async ({ t }) => {
  const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const tool = guard(() => Promise.reject(err), { name: 'net_tool' });
  assert.is(await rejection(tool()), err);
  assert.is(attr(t.span('execute_tool net_tool'), ATTR_ERROR_TYPE), 'ECONNREFUSED');
});

test('non-Error throws (a string, undefined, an object) end the span with error.type _OTHER and are rethrown as-is', async ({ t }) => {
  const thrownValues: unknown[] = ['boom', undefined, 42];
  for (const [i, value] of thrownValues.entries()) {
    const tool = guard(() => {
      throw value;
    }, { name: `throws_${i}` });
    const err = await rejection(tool());
    assert.is(err, value);
    const span = t.span(`execute_tool throws_${i}`);
    assert.is(span.status.code, SpanStatusCode.ERROR);
    assert.is(attr(span, ATTR_ERROR_TYPE), '_OTHER');
  }
  assert.is(t.span('execute_tool throws_0').status.message, 'boom');
});

test('invokeAgent is the parent span and names the agent of the tools inside it', async ({ t }) => {
  const tool = guard(async () => 'ok', { name: 'child_tool' });
  const agentScoped = guard(async () => 'ok', { name: 'pinned_tool', agent: { id: 'pinned' } });
  const value = await invokeAgent({ name: 'planner', id: 'planner-v2', conversationId: 'conv-7' }, async span => {
    assert.ok(span.isRecording());
    await tool();
    await agentScoped();
    return 42;
  });
  assert.is(value, 42);
  const parent = t.span('invoke_agent planner');
  const child = t.span('execute_tool child_tool');
  const pinned = t.span('execute_tool pinned_tool');
  assert.is(parent.kind, SpanKind.INTERNAL);
  assert.is(attr(parent, ATTR_GEN_AI_OPERATION_NAME), 'invoke_agent');
  assert.is(attr(parent, 'gen_ai.conversation.id'), 'conv-7');
  assert.is(child.parentSpanContext?.spanId, parent.spanContext().spanId);
  assert.is(child.spanContext().traceId, parent.spanContext().traceId);
  assert.is(t.startAttributes(child)[ATTR_GEN_AI_AGENT_ID], 'planner-v2');
  assert.is(t.startAttributes(child)[ATTR_GEN_AI_AGENT_NAME], 'planner');
  assert.is(t.startAttributes(pinned)[ATTR_GEN_AI_AGENT_ID], 'pinned', 'the guard option wins');
});

test('invokeAgent records an error and rethrows it', async ({ t }) => {
  const err = new TypeError('bad plan');
  assert.is(await rejection(invokeAgent({ name: 'planner' }, () => Promise.reject(err))), err);
  const span = t.span('invoke_agent planner');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(attr(span, ATTR_ERROR_TYPE), 'TypeError');
});

test('spans made inside the tool are children of the tool span', async ({ t }) => {
  const tool = guard(async () => {
    t.provider.getTracer('downstream').startSpan('http GET').end();
  }, { name: 'outer' });
  await tool();
  const inner = t.span('http GET');
  assert.is(inner.parentSpanContext?.spanId, t.span('execute_tool outer').spanContext().spanId);
});

test('timeout: rejects with ToolTimeoutError, span ERROR with outcome timeout, the tool sees its signal abort', async ({ t }) => {
  let seen: AbortSignal | undefined;
  const slow = guard(async () => {
    seen = currentSignal();
    await sleep(200);
    return 'late';
  }, { name: 'slow', timeoutMs: 20 });
  const err = await rejection(slow());
  assert.instance(err, ToolTimeoutError);
  assert.ok(isToolTimeoutError(err));
  assert.is((err as ToolTimeoutError).timeoutMs, 20);
  assert.ok(seen?.aborted, 'the signal given to the tool is aborted');
  assert.is(seen?.reason, err);
  const span = t.span('execute_tool slow');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(attr(span, ATTR_ERROR_TYPE), 'ToolTimeoutError');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'timeout');
});

test('abort by the caller: rejects with the reason, reported as aborted (status unset), not as a failure', async ({ t }) => {
  const controller = new AbortController();
  const slow = guard(async (_input: string, _opts: { signal: AbortSignal }) => {
    await sleep(200);
    return 'late';
  }, { name: 'abortable', signal: (_input, opts) => opts.signal });
  const pending = slow('x', { signal: controller.signal });
  setTimeout(() => controller.abort(), 10);
  const err = await rejection(pending);
  assert.is((err as Error).name, 'AbortError');
  const span = t.span('execute_tool abortable');
  assert.is(span.status.code, SpanStatusCode.UNSET);
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'aborted');
  assert.is(attr(span, ATTR_ERROR_TYPE), undefined);
  assert.is(getEventListeners(controller.signal, 'abort').length, 0, 'listener removed');
});

test('an already aborted signal: the tool never runs', async ({ t }) => {
  let ran = false;
  const tool = guard(() => {
    ran = true;
  }, { name: 'never' });
  const reason = new Error('user cancelled');
  reason.name = 'AbortError';
  const err = await rejection(tool.withOptions({ signal: AbortSignal.abort(reason) })());
  assert.is(err, reason);
  assert.is(ran, false);
  assert.is(attr(t.span('execute_tool never'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'aborted');
});

test('a tool that honours the signal and throws its own AbortError is still reported as aborted', async ({ t }) => {
  const controller = new AbortController();
  const tool = guard(() => new Promise((_resolve, reject) => {
    currentSignal()!.addEventListener('abort', () => reject(new DOMException('stopped', 'AbortError')));
  }), { name: 'cooperative' });
  const pending = tool.withOptions({ signal: controller.signal })();
  controller.abort();
  await rejection(pending);
  assert.is(attr(t.span('execute_tool cooperative'), ATTR_AGENT_SAFETY_CALL_OUTCOME), 'aborted');
});

test('an AbortError thrown by the tool without a caller abort is a failure', async ({ t }) => {
  const tool = guard(() => Promise.reject(new DOMException('inner fetch aborted', 'AbortError')), { name: 'inner_abort' });
  await rejection(tool.withOptions({ signal: new AbortController().signal })());
  const span = t.span('execute_tool inner_abort');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'error');
});

test('withOptions: per-call id, signal and timeout win over the guard options; listeners and timers are cleaned up', async ({ t }) => {
  const controller = new AbortController();
  const tool = guard(async (x: number) => x * 2, { name: 'double', callId: () => 'from-extractor', timeoutMs: 1 });
  const result = await tool.withOptions({ callId: 'explicit', signal: controller.signal, timeoutMs: 1000 })(21);
  assert.is(result, 42);
  assert.is(attr(t.span('execute_tool double'), ATTR_GEN_AI_TOOL_CALL_ID), 'explicit');
  assert.is(getEventListeners(controller.signal, 'abort').length, 0);
});

test('arguments and results are recorded only when opted in, after redaction', async ({ t }) => {
  const plain = guard(async (_input: { query: string; apiKey: string }) => ({ hits: 3, token: 'abc' }), { name: 'plain' });
  await plain({ query: 'cats', apiKey: 'sk-secret' });
  const span = t.span('execute_tool plain');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), undefined);
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_RESULT), undefined);

  const captured = guard(async (_input: { query: string; apiKey: string; headers: Record<string, string> }) => ({ hits: 3, token: 'abc' }), {
    name: 'captured',
    captureArguments: true,
    captureResult: true,
  });
  await captured({ query: 'cats', apiKey: 'sk-secret', headers: { Authorization: 'Bearer abcdefghijklmnop' } });
  const c = t.span('execute_tool captured');
  const args = JSON.parse(attr(c, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS) as string);
  assert.equal(args, { query: 'cats', apiKey: '[REDACTED]', headers: { Authorization: '[REDACTED]' } });
  assert.not.match(attr(c, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS) as string, 'sk-secret');
  assert.equal(JSON.parse(attr(c, ATTR_GEN_AI_TOOL_CALL_RESULT) as string), { hits: 3, token: '[REDACTED]' });
});

test('a custom redactor is applied; a throwing one records a placeholder, never the raw value, and the call succeeds', async ({ t }) => {
  const custom = guard(async (_email: string) => 'sent', {
    name: 'custom_redact',
    captureArguments: true,
    redact: v => (typeof v === 'string' ? v.replace(/@.*/, '@…') : v),
  });
  await custom('ann@example.com');
  assert.is(attr(t.span('execute_tool custom_redact'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '"ann@…"');

  const broken = guard(async (_email: string) => 'sent', {
    name: 'broken_redact',
    captureArguments: true,
    redact: () => {
      throw new Error('redactor bug');
    },
  });
  assert.is(await broken('ann@example.com'), 'sent');
  assert.is(attr(t.span('execute_tool broken_redact'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '[redaction failed]');
});

test('arguments that cannot be serialised (cycles, BigInt, functions) never break the call', async ({ t }) => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const tool = guard(async (_a: unknown, _b: bigint, _c: () => void) => 'ok', { name: 'weird_args', captureArguments: true });
  assert.is(await tool(cyclic, 10n ** 30n, () => {}), 'ok');
  const recorded = attr(t.span('execute_tool weird_args'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS) as string;
  assert.match(recorded, '[Circular]');
  assert.match(recorded, '1000000000000000000000000000000');
  assert.match(recorded, '[Function');
});

test('a throwing callId or signal extractor is ignored; the call goes on', async ({ t }) => {
  const tool = guard(async () => 'ok', {
    name: 'bad_extractors',
    callId: () => {
      throw new Error('x');
    },
    signal: () => {
      throw new Error('y');
    },
  });
  assert.is(await tool(), 'ok');
  assert.is(attr(t.span('execute_tool bad_extractors'), ATTR_GEN_AI_TOOL_CALL_ID), undefined);
});

test('bad input throws at wrap time, naming the option and the value', () => {
  const fn = () => 1;
  assert.throws(() => guard('nope' as never, { name: 'x' }), (e: Error) => e instanceof TypeError && /fn/.test(e.message) && /"nope"/.test(e.message));
  assert.throws(() => guard(fn, { name: '' }), (e: Error) => e instanceof TypeError && /name/.test(e.message));
  assert.throws(() => guard(fn, { name: '   ' }), (e: Error) => e instanceof TypeError && /name/.test(e.message));
  assert.throws(() => guard(fn, undefined as never), (e: Error) => e instanceof TypeError && /guard options/.test(e.message));
  assert.throws(() => guard(fn, { name: 'x', timeoutMs: 0 }), (e: Error) => e instanceof RangeError && /timeoutMs/.test(e.message) && /0/.test(e.message));
  assert.throws(() => guard(fn, { name: 'x', timeoutMs: -5 }), (e: Error) => e instanceof RangeError && /timeoutMs/.test(e.message));
  assert.throws(() => guard(fn, { name: 'x', timeoutMs: Number.NaN }), (e: Error) => e instanceof TypeError && /timeoutMs/.test(e.message));
  assert.throws(() => guard(fn, { name: 'x', type: 'plugin' as never }), (e: Error) => e instanceof TypeError && /type/.test(e.message) && /plugin/.test(e.message));
  assert.throws(() => guard(fn, { name: 'x', callId: 'abc' as never }), (e: Error) => e instanceof TypeError && /callId/.test(e.message));
  assert.throws(() => guard(fn, { name: 'x', timeout: 5 } as never), (e: Error) => e instanceof TypeError && /unknown option "timeout"/.test(e.message));
  assert.throws(() => guard(fn, { name: 'x', agent: { id: 7 } } as never), (e: Error) => e instanceof TypeError && /agent\.id/.test(e.message));
  const tool = guard(fn, { name: 'x' });
  assert.throws(() => tool.withOptions({ timeoutMs: -1 }), (e: Error) => e instanceof RangeError && /timeoutMs/.test(e.message));
  assert.throws(() => tool.withOptions({ signal: {} as never }), (e: Error) => e instanceof TypeError && /AbortSignal/.test(e.message));
});

test('the guarded function exposes its tool name and keeps a readable function name', () => {
  const tool = guard(function rankContent() {
    return 1;
  }, { name: 'rank_content' });
  assert.is(tool.toolName, 'rank_content');
  assert.is(tool.name, 'guarded rankContent');
});

test('many concurrent calls: one span each, none lost, each with its own call id', async ({ t }) => {
  const tool = guard(async (i: number) => {
    await sleep(i % 3);
    return i;
  }, { name: 'concurrent', callId: i => `c${i}` });
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => tool(i)));
  assert.equal(results, Array.from({ length: 200 }, (_, i) => i));
  const ids = new Set(t.spans().map(s => s.attributes[ATTR_GEN_AI_TOOL_CALL_ID]));
  assert.is(ids.size, 200);
});

test.run();
