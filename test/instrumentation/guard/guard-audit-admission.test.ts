/**
 * The audit's admission in the guard's pipeline (issue 13): it is asked
 * first, before the breaker, the gate, the explanation, the checkpoint and
 * the tool. A refused call runs none of them and its span says why; a
 * waiting admission holds them back until it resolves; in enrich mode the
 * refusal is written onto the framework's span, which the guard never ends.
 * Gates are registered in the admission registry directly, as an
 * `AuditChainSpanProcessor` does (its own tests drive it with real disks).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AuditUnavailableError, CircuitBreaker, CounterfactualEstimator, ExplainabilityHookManager, guard, isAuditUnavailableError } from '../../../src/index.js';
import { registerAuditAdmission } from '../../../src/instrumentation/audit/audit-admission.js';
import { ATTR_AGENT_SAFETY_CALL_OUTCOME, ATTR_ERROR_TYPE, ATTR_GEN_AI_TOOL_CALL_ID } from '../../../src/semconv.js';
import { attr, rejection, setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite<{ t: TestTelemetry }>('guard: the audit admission comes first', {} as { t: TestTelemetry });
test.before(ctx => {
  ctx.t = setupTelemetry();
});
test.after(async ctx => ctx.t.shutdown());
test.before.each(ctx => ctx.t.reset());

const full = (): AuditUnavailableError => new AuditUnavailableError({ reason: 'backlog-full', held: 7, limit: 7, sink: 'file' });

/** A tool with every step configured, counting what ran. */
function fullyGuarded(name: string) {
  const ran = { tool: 0, impact: 0, explained: 0 };
  const breaker = new CircuitBreaker({ name });
  const gate = new CounterfactualEstimator({ impactModel: () => (ran.impact++, 0.1) });
  const hooks = new ExplainabilityHookManager({ agentId: 'a' });
  hooks.registerCallback(() => void ran.explained++);
  const tool = guard(async (n: number) => (ran.tool++, n + 1), {
    name,
    callId: () => 'call-1',
    breaker,
    gate,
    impact: { scope: 'user' },
    explain: { reasoning: 'because', hooks },
  });
  const breakerCalls = (): number => Object.values(breaker.stats().calls).reduce((a, b) => a + b, 0);
  return { tool, ran, breakerCalls, hooks };
}

test('a refused call runs no step and not the tool; its span says why; the next admitted call runs them all', async ({ t }) => {
  const { tool, ran, breakerCalls, hooks } = fullyGuarded('refused_first');
  const stop = registerAuditAdmission(() => full());
  let err: unknown;
  try {
    err = await rejection(tool(1));
  } finally {
    stop();
  }
  hooks.flush();
  assert.ok(isAuditUnavailableError(err), String(err));
  assert.equal(ran, { tool: 0, impact: 0, explained: 0 }, 'no gate model, no explanation, no tool');
  assert.is(breakerCalls(), 0, 'the breaker saw no call');
  const span = t.span('execute_tool refused_first');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(attr(span, ATTR_ERROR_TYPE), 'AuditUnavailableError');
  assert.is(attr(span, ATTR_AGENT_SAFETY_CALL_OUTCOME), 'error');
  assert.is(attr(span, ATTR_GEN_AI_TOOL_CALL_ID), 'call-1', 'the refused span still names its call');

  assert.is(await tool(1), 2, 'admitted once the gate is gone');
  hooks.flush();
  assert.is(ran.tool, 1);
  assert.is(ran.impact, 1);
  assert.ok(ran.explained >= 1);
  assert.is(breakerCalls(), 1);
});

test('a waiting admission holds every step back until it resolves (block-actions)', async () => {
  const { tool, ran, breakerCalls } = fullyGuarded('waits_first');
  let open!: () => void;
  const room = new Promise<void>(r => (open = r));
  const stop = registerAuditAdmission(() => room);
  try {
    const call = tool(41);
    for (let i = 0; i < 5; i++) await new Promise(r => setImmediate(r));
    assert.equal(ran, { tool: 0, impact: 0, explained: 0 }, 'nothing ran while the audit had no room');
    assert.is(breakerCalls(), 0);
    open();
    assert.is(await call, 42);
    assert.is(ran.tool, 1);
    assert.is(ran.impact, 1);
  } finally {
    stop();
  }
});

test('enrich: a refused call is written onto the framework span, which the guard does not end', async ({ t }) => {
  let ran = 0;
  const frameworkSpan = t.provider.getTracer('framework').startSpan('framework.toolCall');
  const tool = guard(async () => ++ran, { name: 'enriched', enrich: () => trace.getActiveSpan() });
  const stop = registerAuditAdmission(() => full());
  let err: unknown;
  try {
    err = await rejection(context.with(trace.setSpan(context.active(), frameworkSpan), () => tool()));
  } finally {
    stop();
  }
  assert.ok(isAuditUnavailableError(err));
  assert.is(ran, 0);
  assert.is(t.spans().length, 0, 'not ended by the guard');
  assert.ok(frameworkSpan.isRecording());
  frameworkSpan.end();
  const span = t.span('framework.toolCall');
  assert.is(attr(span, ATTR_ERROR_TYPE), 'AuditUnavailableError');
  assert.is(span.status.code, SpanStatusCode.ERROR);
  assert.is(t.spans().length, 1, 'and no span of its own');
});

test.run();
