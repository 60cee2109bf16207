/**
 * The guard options the framework adapters build on: `input` (only the
 * tool's own input reaches capture, gate and explanation), `enrich` (write
 * onto the framework's span instead of starting one), and review answers
 * carried in the context (`withReviewAnswer`).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { context, trace } from '@opentelemetry/api';
import { CounterfactualEstimator, guard, withReviewAnswer } from '../../../src/index.js';
import {
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_IMPACT_ENFORCED,
  ATTR_AGENT_SAFETY_REVIEW_REVIEWER,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  EVENT_AGENT_SAFETY_REVIEW_ANSWERED,
} from '../../../src/semconv.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite<{ t: TestTelemetry }>('guard: input, enrich, review answers', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry({ captureArguments: true });
});
test.after(async ctx => ctx.t.shutdown());
test.before.each(ctx => ctx.t.reset());

interface FrameworkOptions {
  toolCallId: string;
  messages: string[];
}

test('input: capture, the gate\'s models and impact see the selected input, never the framework\'s argument', async ({ t }) => {
  const seenByModel: unknown[] = [];
  const seenByImpact: unknown[] = [];
  const gate = new CounterfactualEstimator({ impactModel: (_a, args) => (seenByModel.push(args), 0.1) });
  const tool = guard(async (input: { q: string }, _o: FrameworkOptions) => input.q, {
    name: 'search',
    input: input => input,
    callId: (_i, o) => o.toolCallId,
    gate,
    impact: ((input: unknown) => (seenByImpact.push(input), { scope: 'user' })) as never,
  });
  await tool({ q: 'cats' }, { toolCallId: 'c1', messages: ['secret conversation'] });
  const span = t.span('execute_tool search');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ARGUMENTS), '{"q":"cats"}');
  assert.equal(seenByModel, [{ q: 'cats' }]);
  assert.equal(seenByImpact, [{ q: 'cats' }]);
});

test('input: a throwing selector is reported and the input is undefined (the whole arguments are not used instead)', async ({ t }) => {
  const tool = guard(async (_input: unknown, _o: FrameworkOptions) => 'ok', {
    name: 'search',
    input: () => {
      throw new Error('bad selector');
    },
  });
  assert.is(await tool({ q: 'x' }, { toolCallId: 'c', messages: ['secret'] }), 'ok');
  assert.not.match(String(attr(t.span('execute_tool search'), ATTR_GEN_AI_TOOL_CALL_ARGUMENTS)), /secret/);
});

test('enrich: the framework\'s active span gets the attributes; no second span; the guard does not end it', async ({ t }) => {
  const tracer = t.provider.getTracer('framework');
  const frameworkSpan = tracer.startSpan('framework.toolCall');
  const tool = guard(async (n: number) => n * 2, { name: 'double', callId: () => 'c9', enrich: () => trace.getActiveSpan() });
  const result = await context.with(trace.setSpan(context.active(), frameworkSpan), () => tool(21));
  assert.is(result, 42);
  assert.is(t.spans().length, 0, 'nothing ended yet: the framework ends its span');
  assert.ok(frameworkSpan.isRecording());
  frameworkSpan.end();
  const span = t.span('framework.toolCall');
  assert.is(attr(span, ATTR_GEN_AI_OPERATION_NAME), 'execute_tool');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'c9');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'success');
  assert.is(t.spans().length, 1);
});

test('enrich returning undefined: the guard starts its own span', async ({ t }) => {
  const tool = guard(async () => 'ok', { name: 'plain', enrich: () => undefined });
  await tool();
  assert.is(t.span('execute_tool plain').name, 'execute_tool plain');
});

test('withReviewAnswer: decides the review of that call id only, and never a block', async ({ t }) => {
  const gate = new CounterfactualEstimator({ impactModel: (_a, args) => ((args as number) > 100 ? 0.95 : 0.5) }); // no approve hook
  let ran = 0;
  const tool = guard(async (_n: number) => ++ran, { name: 'pay', gate });
  const approved = withReviewAnswer(context.active(), 'c1', { approved: true, reviewer: 'alice' });
  await context.with(approved, () => tool.withOptions({ callId: 'c1' })(50));
  const span = t.spans().find(s => s.attributes[ATTR_GEN_AI_TOOL_CALL_ID] === 'c1')!;
  assert.is(attr(span, ATTR_AGENT_SAFETY_IMPACT_ENFORCED), 'approved');
  assert.is(span.events.find(e => e.name === EVENT_AGENT_SAFETY_REVIEW_ANSWERED)?.attributes?.[ATTR_AGENT_SAFETY_REVIEW_REVIEWER], 'alice');
  // Another call id: the answer does not apply (no hook: denied).
  const other = await rejection(context.with(approved, () => tool.withOptions({ callId: 'c2' })(50)));
  assert.is((other as Error).name, 'ActionBlockedError');
  // A block stays a block.
  const blocked = await rejection(context.with(withReviewAnswer(context.active(), 'c3', { approved: true }), () => tool.withOptions({ callId: 'c3' })(500)));
  assert.is((blocked as { enforced?: string }).enforced, 'blocked');
  assert.is(ran, 1);
  assert.throws(() => withReviewAnswer(context.active(), '', { approved: true }), /callId/);
  assert.throws(() => withReviewAnswer(context.active(), 'x', {} as never), /approved/);
});

test.run();
