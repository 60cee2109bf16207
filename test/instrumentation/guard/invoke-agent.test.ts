/**
 * invokeAgent against the current GenAI conventions: provider, description,
 * version and model on the span (at start), and the
 * `gen_ai.invoke_agent.duration` histogram through a real MeterProvider.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanKind } from '@opentelemetry/api';
import { invokeAgent } from '../../../src/index.js';
import {
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_DESCRIPTION,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_AGENT_VERSION,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  INVOKE_AGENT_DURATION_BUCKETS_S,
  METRIC_GEN_AI_INVOKE_AGENT_DURATION,
} from '../../../src/semconv.js';
import { rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite<{ t: TestTelemetry }>('invokeAgent (GenAI conventions)', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry();
});
test.after(async ctx => {
  await ctx.t.shutdown();
});

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

test('provider, description, version and model are set at start, beside name, id and conversation', async ({ t }) => {
  await invokeAgent(
    {
      name: 'Math Tutor',
      id: 'asst_42',
      provider: 'openai',
      description: 'Helps with math problems',
      version: '2025-05-01',
      model: 'gpt-4o',
      conversationId: 'conv-1',
    },
    async () => 'ok',
  );
  const span = t.span('invoke_agent Math Tutor');
  assert.is(span.kind, SpanKind.INTERNAL);
  assert.equal(t.startAttributes(span), {
    [ATTR_GEN_AI_OPERATION_NAME]: 'invoke_agent',
    [ATTR_GEN_AI_PROVIDER_NAME]: 'openai',
    [ATTR_GEN_AI_AGENT_NAME]: 'Math Tutor',
    [ATTR_GEN_AI_AGENT_ID]: 'asst_42',
    [ATTR_GEN_AI_AGENT_DESCRIPTION]: 'Helps with math problems',
    [ATTR_GEN_AI_AGENT_VERSION]: '2025-05-01',
    [ATTR_GEN_AI_REQUEST_MODEL]: 'gpt-4o',
    [ATTR_GEN_AI_CONVERSATION_ID]: 'conv-1',
  });
});

test('options left out are not recorded', async ({ t }) => {
  t.reset();
  await invokeAgent({ name: 'bare' }, () => 1);
  assert.equal(t.startAttributes(t.span('invoke_agent bare')), { [ATTR_GEN_AI_OPERATION_NAME]: 'invoke_agent', [ATTR_GEN_AI_AGENT_NAME]: 'bare' });
});

test('gen_ai.invoke_agent.duration: one record per run, in seconds, with the agent name, the model, and error.type on failure', async ({ t }) => {
  await invokeAgent({ name: 'timed', provider: 'anthropic', model: 'claude-x' }, () => sleep(30));
  await invokeAgent({ name: 'timed', provider: 'anthropic', model: 'claude-x' }, () => sleep(5));
  const err = Object.assign(new Error('rate limited'), { code: 'rate_limit' });
  assert.is(await rejection(invokeAgent({ name: 'timed', provider: 'anthropic', model: 'claude-x' }, () => Promise.reject(err))), err);

  const points = await t.histogram(METRIC_GEN_AI_INVOKE_AGENT_DURATION);
  const ok = points.find(p => p.attributes[ATTR_ERROR_TYPE] === undefined && p.attributes[ATTR_GEN_AI_AGENT_NAME] === 'timed');
  const failed = points.find(p => p.attributes[ATTR_ERROR_TYPE] === 'rate_limit');
  assert.ok(ok && failed, JSON.stringify(points.map(p => p.attributes)));
  // The conventions' attributes, and nothing of unbounded cardinality.
  assert.equal(ok.attributes, { [ATTR_GEN_AI_AGENT_NAME]: 'timed', [ATTR_GEN_AI_REQUEST_MODEL]: 'claude-x' });
  assert.equal(failed.attributes, { [ATTR_GEN_AI_AGENT_NAME]: 'timed', [ATTR_GEN_AI_REQUEST_MODEL]: 'claude-x', [ATTR_ERROR_TYPE]: 'rate_limit' });
  assert.is(ok.value.count, 2);
  const sum = ok.value.sum ?? 0;
  assert.ok(sum >= 0.025 && sum < 60, `sum ${sum} s: seconds, not milliseconds`);
  assert.is(failed.value.count, 1);
  assert.equal(ok.value.buckets.boundaries, [...INVOKE_AGENT_DURATION_BUCKETS_S]);
  assert.equal(INVOKE_AGENT_DURATION_BUCKETS_S, [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6]);

  const metric = (await t.collect()).find(m => m.descriptor.name === METRIC_GEN_AI_INVOKE_AGENT_DURATION)!;
  assert.is(metric.descriptor.unit, 's');
});

test('the recorded duration encloses the span duration (measured around start and end, same clock)', async ({ t }) => {
  t.reset();
  const before = (await t.histogram(METRIC_GEN_AI_INVOKE_AGENT_DURATION)).find(p => p.attributes[ATTR_GEN_AI_AGENT_NAME] === 'measured');
  assert.is(before, undefined);
  await invokeAgent({ name: 'measured' }, () => sleep(20));
  const point = (await t.histogram(METRIC_GEN_AI_INVOKE_AGENT_DURATION)).find(p => p.attributes[ATTR_GEN_AI_AGENT_NAME] === 'measured')!;
  const [s, ns] = t.span('invoke_agent measured').duration;
  const spanSeconds = s + ns / 1e9;
  const metricSeconds = point.value.sum ?? 0;
  assert.ok(metricSeconds >= spanSeconds - 1e-6 && metricSeconds - spanSeconds < 1, `metric ${metricSeconds} s, span ${spanSeconds} s`);
});

test('bad options reject with a TypeError naming the option', async () => {
  for (const key of ['provider', 'description', 'version', 'model']) {
    const err = await rejection(invokeAgent({ name: 'x', [key]: 42 } as never, () => 1));
    assert.instance(err, TypeError);
    assert.match((err as Error).message, key);
  }
  assert.match(((await rejection(invokeAgent({ name: 'x', vendor: 'openai' } as never, () => 1))) as Error).message, 'vendor');
});

test.run();
