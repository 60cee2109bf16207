import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ActionExplanation, ExplainabilityHookManager, guard, invokeAgent } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES, ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE, ATTR_AGENT_SAFETY_EXPLANATION_PHASE, ATTR_AGENT_SAFETY_EXPLANATION_REASONING, EVENT_AGENT_SAFETY_EXPLANATION } from '../../../src/semconv.js';
import type { ActionExplanation as Record_ } from '../../../src/index.js';
import { captureDiag } from '../../helpers/diag.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite<{ t: TestTelemetry }>('explainability hooks', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry({ agent: { id: 'agent-1' } });
});
test.after(async ctx => {
  await ctx.t.shutdown();
});
test.before.each(ctx => ctx.t.reset());

const explanations = (span: ReadableSpan) => span.events.filter(e => e.name === EVENT_AGENT_SAFETY_EXPLANATION).map(e => e.attributes ?? {});
const nextTurn = () => new Promise(resolve => setImmediate(resolve));

test('a guarded call: pre_action and post_action records and span events; reasoning and confidence on the span', async ({ t }) => {
  let now = 1_000;
  const hooks = new ExplainabilityHookManager({ agentId: 'content-ranker-v3', now: () => now });
  const rank = guard(async (userId: string, ids: string[]) => {
    now += 25;
    return [...ids].reverse();
  }, {
    name: 'rank_content',
    callId: () => 'call-9',
    explain: {
      hooks,
      reasoning: 'Ranking content by engagement signals and safety classifier output.',
      confidence: 0.91,
      alternativesConsidered: ['chronological sort', 'diversity-reranked'],
    },
  });
  assert.equal(await rank('u1', ['p1', 'p2']), ['p2', 'p1']);

  const span = t.span('execute_tool rank_content');
  assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_REASONING), 'Ranking content by engagement signals and safety classifier output.');
  assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE), 0.91);
  assert.equal(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES), ['chronological sort', 'diversity-reranked']);
  // Each fact once: the span's attributes say why, its events say when (the phase).
  const events = explanations(span);
  assert.equal(events, [{ [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: 'pre_action' }, { [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: 'post_action' }]);

  const [pre, post] = hooks.getExplanations();
  assert.instance(pre, ActionExplanation);
  assert.is(pre.phase, 'pre_action');
  assert.is(pre.action, 'rank_content');
  assert.is(pre.agentId, 'content-ranker-v3');
  assert.is(pre.callId, 'call-9');
  assert.is(pre.inputSummary, '["u1",["p1","p2"]]');
  assert.is(pre.durationMs, undefined);
  assert.is(pre.timestamp, 1_000);
  assert.is(pre.traceId, span.spanContext().traceId);
  assert.is(pre.spanId, span.spanContext().spanId);
  assert.is(post.phase, 'post_action');
  assert.is(post.outputSummary, '["p2","p1"]');
  assert.is(post.durationMs, 25);
  assert.is(post.errorSummary, undefined);

  const json = JSON.parse(JSON.stringify(post));
  assert.equal(json, {
    phase: 'post_action',
    action: 'rank_content',
    agentId: 'content-ranker-v3',
    reasoning: 'Ranking content by engagement signals and safety classifier output.',
    confidence: 0.91,
    alternatives: ['chronological sort', 'diversity-reranked'],
    inputSummary: '["u1",["p1","p2"]]',
    outputSummary: '["p2","p1"]',
    durationMs: 25,
    callId: 'call-9',
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    timestamp: new Date(1_025).toISOString(),
  });
  assert.ok(Object.isFrozen(post), 'records are immutable');
});

test('a failing call: pre_action then on_error with the error summary; the error is rethrown unchanged', async ({ t }) => {
  const hooks = new ExplainabilityHookManager();
  const boom = new RangeError('quota exceeded');
  const tool = guard(async (_q: string) => {
    throw boom;
  }, { name: 'search', explain: { hooks, reasoningFn: q => `looking up ${q}` } });
  assert.is(await rejection(tool('cats')), boom);
  const span = t.span('execute_tool search');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_REASONING), 'looking up cats', 'the reasoning worked out from the call, once, on the span');
  assert.equal(explanations(span).map(e => [e[ATTR_AGENT_SAFETY_EXPLANATION_PHASE], e[ATTR_AGENT_SAFETY_EXPLANATION_REASONING]]), [
    ['pre_action', undefined],
    ['on_error', undefined],
  ]);
  assert.is(hooks.getExplanations()[1].reasoning, 'looking up cats', 'the record itself is whole');
  const [pre, onError] = hooks.getExplanations();
  assert.is(pre.agentId, 'agent-1', 'without an agentId on the manager, the acting agent');
  assert.is(onError.phase, 'on_error');
  assert.is(onError.errorSummary, 'RangeError: quota exceeded');
  assert.is(onError.outputSummary, undefined);
  assert.is(typeof onError.durationMs, 'number');
});

test('explanations without a hook manager: span events only', async ({ t }) => {
  const tool = guard((x: number) => x + 1, { name: 'inc', explain: { reasoning: 'counting' } });
  assert.is(await tool(1), 2);
  const span = t.span('execute_tool inc');
  assert.equal(explanations(span).map(e => e[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
  assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE), undefined);
  assert.is(explanations(span)[0][ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES], undefined);
});

test('callback failures are isolated: a throwing, a rejecting and a never-settling callback change nothing', async () => {
  const diagnostics = captureDiag();
  try {
    const hooks = new ExplainabilityHookManager();
    const received: string[] = [];
    hooks.registerCallback(() => {
      throw new Error('metrics db down');
    });
    hooks.registerCallback(async () => {
      throw new Error('async sink down');
    });
    hooks.registerCallback(() => new Promise(() => {})); // never settles: must not be awaited
    hooks.registerCallback(r => {
      received.push(r.phase);
    });
    const payload = { ok: true };
    const tool = guard(async () => payload, { name: 'steady', explain: { hooks, reasoning: 'r' } });
    assert.is(await tool(), payload, 'the result is the very same object');
    await nextTurn();
    assert.equal(received, ['pre_action', 'post_action'], 'the other callbacks still get every record');
    await diagnostics.waitFor(/explanation callback threw/);
    await diagnostics.waitFor(/explanation callback rejected/);
  } finally {
    diagnostics.restore();
  }
});

test('callbacks run off the action path: nothing is delivered before the call settles, flush delivers at once', async () => {
  const hooks = new ExplainabilityHookManager();
  const received: Record_[] = [];
  hooks.registerCallback(r => {
    received.push(r);
  });
  const tool = hooks.explain({ reasoning: 'sync' })(function double(x: number) {
    return x * 2;
  });
  assert.is(tool(2), 4);
  assert.is(received.length, 0, 'not delivered on the synchronous path');
  hooks.flush();
  assert.equal(received.map(r => r.phase), ['pre_action', 'post_action']);
});

test('a slow synchronous callback is reported through diag', async () => {
  const diagnostics = captureDiag();
  try {
    const hooks = new ExplainabilityHookManager({ slowCallbackMs: 0 });
    hooks.registerCallback(() => {
      const until = performance.now() + 2;
      while (performance.now() < until) {
        // busy
      }
    });
    hooks.explain({ reasoning: 'r' })(() => 1)();
    hooks.flush();
    await diagnostics.waitFor(/explanation callback took \d+ ms/);
  } finally {
    diagnostics.restore();
  }
});

test('a throwing or non-string reasoningFn is reported; the action runs and returns its result', async ({ t }) => {
  const diagnostics = captureDiag();
  try {
    const hooks = new ExplainabilityHookManager();
    const tool = guard((x: number) => x * 3, {
      name: 'triple',
      explain: {
        hooks,
        reasoningFn: () => {
          throw new Error('bad template');
        },
        confidence: 0.5,
      },
    });
    assert.is(await tool(3), 9);
    const span = t.span('execute_tool triple');
    assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_REASONING), undefined);
    assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE), 0.5);
    assert.equal(hooks.getExplanations().map(r => r.reasoning), [undefined, undefined]);
    await diagnostics.waitFor(/reasoningFn of "triple" threw/);

    const numeric = hooks.explain({ reasoningFn: (() => 42) as never })(() => 'ok');
    assert.is(numeric(), 'ok');
    await diagnostics.waitFor(/reasoningFn of "anonymous" returned number/);
  } finally {
    diagnostics.restore();
  }
});

test('memory is bounded: the ring buffer keeps the newest records and counts the dropped ones', async () => {
  const hooks = new ExplainabilityHookManager({ capacity: 5 });
  const tool = guard((i: number) => i, { name: 'n', explain: { hooks, reasoning: 'r' } });
  for (let i = 0; i < 10; i++) await tool(i);
  assert.is(hooks.size, 5);
  assert.is(hooks.capacity, 5);
  assert.is(hooks.dropped, 15);
  const kept = hooks.getExplanations();
  assert.equal(kept.map(r => `${r.phase}:${r.inputSummary}`), ['post_action:7', 'pre_action:8', 'post_action:8', 'pre_action:9', 'post_action:9']);
  assert.is(new ExplainabilityHookManager().capacity, 2048, 'the default');
});

test('getExplanations filters by phase, action and since', async () => {
  let now = 0;
  const hooks = new ExplainabilityHookManager({ now: () => now });
  const ok = hooks.explain({ action: 'ok_action', reasoning: 'r' })(() => 1);
  const bad = hooks.explain({ action: 'bad_action', reasoning: 'r' })(() => {
    throw new Error('x');
  });
  ok();
  now = 100;
  assert.throws(() => bad());
  now = 200;
  ok();
  assert.is(hooks.getExplanations().length, 6);
  assert.equal(hooks.getExplanations({ phase: 'on_error' }).map(r => r.action), ['bad_action']);
  assert.equal(hooks.getExplanations({ action: 'ok_action' }).map(r => r.timestamp), [0, 0, 200, 200]);
  assert.equal(hooks.getExplanations({ since: 100 }).map(r => r.phase), ['pre_action', 'on_error', 'pre_action', 'post_action']);
  assert.equal(hooks.getExplanations({ since: new Date(150), action: 'ok_action', phase: 'post_action' }).map(r => r.timestamp), [200]);
  assert.throws(() => hooks.getExplanations({ phase: 'later' as never }), (e: Error) => e instanceof TypeError && /phase/.test(e.message));
  hooks.clear();
  assert.is(hooks.size, 0);
});

test('summaries are redacted the same way as span capture (secret keys, bearer tokens in errors)', async () => {
  const hooks = new ExplainabilityHookManager();
  const tool = guard(async (_input: { query: string; apiKey: string }) => ({ hits: 1, token: 'tok-123' }), { name: 'web', explain: { hooks, reasoning: 'r' } });
  await tool({ query: 'cats', apiKey: 'sk-secret-1' });
  const failing = guard(async (_input: { password: string }) => {
    throw new Error('401 for Authorization: Bearer abcdefghijklmnopqrstuvwxyz');
  }, { name: 'login', explain: { hooks, reasoning: 'r' } });
  await rejection(failing({ password: 'hunter2' }));
  const all = JSON.stringify(hooks.getExplanations());
  assert.not.match(all, 'sk-secret-1');
  assert.not.match(all, 'tok-123');
  assert.not.match(all, 'hunter2');
  assert.not.match(all, 'abcdefghijklmnopqrstuvwxyz');
  const [pre, post] = hooks.getExplanations({ action: 'web' });
  assert.equal(JSON.parse(pre.inputSummary!), { query: 'cats', apiKey: '[REDACTED]' });
  assert.equal(JSON.parse(post.outputSummary!), { hits: 1, token: '[REDACTED]' });
  assert.match(hooks.getExplanations({ phase: 'on_error' })[0].errorSummary!, 'Bearer [REDACTED]');

  const own = new ExplainabilityHookManager({ redact: () => '[hidden]' });
  await guard((x: string) => x, { name: 'own', explain: { hooks: own, reasoning: 'r' } })('visible?');
  assert.equal(own.getExplanations().map(r => r.inputSummary), ['"[hidden]"', '"[hidden]"'], "the manager's redactor wins");
  const off = new ExplainabilityHookManager({ summaries: false });
  await guard((x: string) => x, { name: 'off', explain: { hooks: off, reasoning: 'r' } })('x');
  assert.equal(off.getExplanations().map(r => r.inputSummary), [undefined, undefined]);
});

test('summaries are cut to summaryMaxLength', async () => {
  const hooks = new ExplainabilityHookManager({ summaryMaxLength: 16 });
  await guard((s: string) => s, { name: 'long', explain: { hooks } })('x'.repeat(100));
  assert.match(hooks.getExplanations()[0].inputSummary!, /^"x{15}…\[truncated \d+ chars\]$/);
});

test('the explain() wrapper alone: sync stays sync, `this` and errors pass through, events go on the active span', async ({ t }) => {
  const hooks = new ExplainabilityHookManager('planner'); // the original's positional agent id
  assert.is(hooks.agentId, 'planner');
  const service = {
    factor: 10,
    scale: hooks.explain<[number]>({ reasoningFn: n => `scaling ${n}`, confidence: 0.7 })(function scale(this: { factor: number }, n: number) {
      return n * this.factor;
    }),
  };
  const tracer = t.provider.getTracer('app');
  const root = tracer.startSpan('plan step');
  const result = context.with(trace.setSpan(context.active(), root), () => service.scale(4));
  root.end();
  assert.is(result, 40, 'synchronous result, not a promise');
  const span = t.span('plan step');
  assert.equal(explanations(span).map(e => [e[ATTR_AGENT_SAFETY_EXPLANATION_PHASE], e[ATTR_AGENT_SAFETY_EXPLANATION_REASONING]]), [
    ['pre_action', 'scaling 4'],
    ['post_action', 'scaling 4'],
  ]);
  assert.is(attr(span, ATTR_AGENT_SAFETY_EXPLANATION_REASONING), undefined, "the span's own explanation attributes are its owner's: the wrapper's events say it all");
  const [pre] = hooks.getExplanations();
  assert.is(pre.action, 'scale', "the function's name");
  assert.is(pre.spanId, span.spanContext().spanId);

  const fails = hooks.explain({ reasoning: 'r' })(async function fetchThing() {
    throw new TypeError('nope');
  });
  const err = await rejection(fails());
  assert.instance(err, TypeError);
  assert.equal(hooks.getExplanations({ action: 'fetchThing' }).map(r => r.phase), ['pre_action', 'on_error']);

  const noSpan = hooks.explain({ reasoning: 'r' })(() => 'x');
  assert.is(noSpan(), 'x');
  const [outside] = hooks.getExplanations({ action: 'anonymous' });
  assert.is(outside.spanId, undefined, 'no span, no ids');
});

test('wrapped by explain() inside a guard: records land on the guarded span', async ({ t }) => {
  const hooks = new ExplainabilityHookManager();
  const inner = hooks.explain({ reasoning: 'inner reasoning' })(async function lookup() {
    return 1;
  });
  await invokeAgent({ name: 'agent' }, () => guard(inner, { name: 'lookup' })());
  const span = t.span('execute_tool lookup');
  assert.is(explanations(span).length, 2);
  assert.is(hooks.getExplanations()[0].spanId, span.spanContext().spanId);
});

test('bad options throw at construction, naming the option and the value', () => {
  const fn = () => 1;
  const cases: [() => unknown, RegExp, ErrorConstructor][] = [
    [() => new ExplainabilityHookManager({ capacity: 0 }), /capacity.*0/, RangeError],
    [() => new ExplainabilityHookManager({ capacity: 1.5 }), /capacity/, RangeError],
    [() => new ExplainabilityHookManager({ summaryMaxLength: 2 }), /summaryMaxLength/, RangeError],
    [() => new ExplainabilityHookManager({ agentId: '' }), /agentId/, TypeError],
    [() => new ExplainabilityHookManager({ size: 3 } as never), /unknown option "size"/, TypeError],
    [() => new ExplainabilityHookManager().registerCallback('cb' as never), /callback/, TypeError],
    [() => new ExplainabilityHookManager().explain({ confidence: 1.5 }), /confidence.*1\.5/, RangeError],
    [() => new ExplainabilityHookManager().explain({ reasoning: 'a', reasoningFn: () => 'b' }), /reasoning or reasoningFn, not both/, TypeError],
    [() => new ExplainabilityHookManager().explain({ alternativesConsidered: 'x' as never }), /alternativesConsidered/, TypeError],
    [() => new ExplainabilityHookManager().explain({ alternativesConsidered: ['ok', 3 as never] }), /alternativesConsidered\[1\]/, TypeError],
    [() => guard(fn, { name: 'x', explain: { confidence: -1 } }), /explain\.confidence/, RangeError],
    [() => guard(fn, { name: 'x', explain: { reasoning: 'r', hooks: {} as never } }), /explain\.hooks/, TypeError],
    [() => guard(fn, { name: 'x', explain: { reason: 'typo' } as never }), /unknown option "reason"/, TypeError],
    [() => guard(fn, { name: 'x', explain: { reasoningFn: 'r' as never } }), /explain\.reasoningFn/, TypeError],
  ];
  for (const [make, re, type] of cases) {
    assert.throws(make, (e: Error) => e instanceof type && re.test(e.message), re.source);
  }
});

test.run();
