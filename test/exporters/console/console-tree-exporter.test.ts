import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { guard, invokeAgent } from '../../../src/index.js';
import { ATTR_AGENT_SAFETY_LINK_TYPE } from '../../../src/semconv.js';
import { ConsoleTreeSpanExporter } from '../../../src/exporters/index.js';
import { summarizeAttributes, summarizeEvent } from '../../../src/exporters/console/console-summary.js';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { rejection, setupTelemetry, sdkTrace } from '../../helpers/otel.js';

const test = suite('ConsoleTreeSpanExporter');

test('prints each trace once, when its root ends, as an indented tree with status and safety attributes', async () => {
  const out: string[] = [];
  const exporter = new ConsoleTreeSpanExporter({ write: text => out.push(text), color: false });
  const t = setupTelemetry({}, [sdkTrace.simpleSpanProcessor(exporter)]);
  try {
    const ok = guard(async () => 1, { name: 'ok_tool' });
    const bad = guard(async () => {
      throw new TypeError('bad input');
    }, { name: 'bad_tool' });
    await invokeAgent({ name: 'tree-agent' }, async span => {
      await ok();
      assert.is(out.length, 0, 'nothing printed before the root ends');
      await rejection(bad());
      span.addEvent('agent_safety.breaker.transition', {
        'agent_safety.breaker.from': 'closed',
        'agent_safety.breaker.to': 'open',
        'agent_safety.breaker.reason': 'consecutive_failures',
      });
      span.setAttributes({ 'agent_safety.breaker.name': 'b1', 'agent_safety.breaker.state': 'open', 'agent_safety.custom.thing': 7 });
      const other = t.provider.getTracer('x').startSpan('compensate ok_tool', {
        links: [{ context: span.spanContext(), attributes: { [ATTR_AGENT_SAFETY_LINK_TYPE]: 'compensates' } }],
      });
      other.end();
    });
    assert.is(out.length, 1, 'one write per trace');
    const lines = out[0].trimEnd().split('\n');
    assert.match(lines[0], /^trace [0-9a-f]{32}$/);
    assert.match(lines[1], /^✓ invoke_agent tree-agent {2}\S+ m?s {2}breaker b1:open · custom\.thing=7$/);
    assert.match(lines[2], /^│ {2}• breaker closed → open \(consecutive_failures\)$/);
    assert.match(lines[3], /^├─ ✓ execute_tool ok_tool/);
    assert.match(lines[4], /^├─ ✗ execute_tool bad_tool .* TypeError: bad input$/);
    assert.match(lines[5], /^└─ ✓ compensate ok_tool/);
    assert.match(lines[6], /^ {6}↪ compensates span [0-9a-f]{16} of trace [0-9a-f]{32}$/);
  } finally {
    await t.shutdown();
  }
});

test('spans whose root never ends are printed on flush; the pending buffer is bounded', async () => {
  const out: string[] = [];
  const exporter = new ConsoleTreeSpanExporter({ write: text => out.push(text), color: false, maxPendingSpans: 2 });
  const t = setupTelemetry({}, [sdkTrace.simpleSpanProcessor(exporter)]);
  try {
    const tracer = t.provider.getTracer('x');
    const root = tracer.startSpan('root');
    const ctx = trace.setSpan(ROOT_CONTEXT, root);
    tracer.startSpan('a', {}, ctx).end();
    tracer.startSpan('b', {}, ctx).end();
    assert.is(out.length, 0);
    tracer.startSpan('c', {}, ctx).end();
    assert.is(out.length, 1, 'over the bound: the oldest pending trace is printed');
    await exporter.forceFlush();
    assert.ok(out.join('').includes('c'));
    root.end();
  } finally {
    await t.shutdown();
  }
});

test('each pattern is summarised in one phrase; unknown agent_safety keys are listed as key=value', () => {
  assert.equal(
    summarizeAttributes({
      'agent_safety.impact.level': 'HIGH',
      'agent_safety.impact.delta': 0.6081,
      'agent_safety.impact.verdict': 'review',
      'agent_safety.impact.enforced': 'approved',
      'agent_safety.impact.factor.scope': 0.608,
      'agent_safety.audit.hash': 'ab',
      'agent_safety.audit.seq': 4,
      'gen_ai.tool.name': 'x',
    }),
    ['impact HIGH Δ0.61 review→approved [scope 0.61]', 'audit#4'],
  );
  assert.equal(
    summarizeAttributes({
      'agent_safety.rollback.mode': 'steps',
      'agent_safety.rollback.target.name': 'a',
      'agent_safety.rollback.outcome': 'partial',
      'agent_safety.rollback.undone_count': 1,
      'agent_safety.rollback.failed_count': 1,
      'agent_safety.rollback.restored_count': 0,
    }),
    ['rollback to a (steps): partial [1 undone, 1 failed]'],
  );
  assert.is(summarizeEvent('exception', {}), undefined);
  assert.is(summarizeEvent('agent_safety.something.new', { 'agent_safety.x': 1 }), 'something.new x=1');
});

test('policy decisions and budget charges are summarised', () => {
  assert.equal(
    summarizeAttributes({ 'agent_safety.policy.decision': 'deny', 'agent_safety.policy.reason': 'rate_limited', 'agent_safety.policy.limit': 'mail-rate', 'agent_safety.policy.remaining': 0, 'agent_safety.policy.retry_after_ms': 500 }),
    ['policy deny rate_limited by mail-rate, retry after 500 ms'],
  );
  assert.equal(
    summarizeAttributes({ 'agent_safety.policy.decision': 'allow', 'agent_safety.policy.reason': 'allowed', 'agent_safety.policy.limit': 'run-usd', 'agent_safety.policy.remaining': 1, 'agent_safety.policy.budget.name': 'run-usd', 'agent_safety.policy.budget.cost': 0.25, 'agent_safety.policy.budget.remaining': 0.75 }),
    ['policy allow (run-usd, 1 left)', 'budget run-usd: cost 0.25, 0.75 left'],
  );
  assert.equal(summarizeAttributes({ 'agent_safety.policy.decision': 'allow', 'agent_safety.policy.reason': 'allowed' }), ['policy allow']);
});

test('after shutdown, export reports failure', async () => {
  const exporter = new ConsoleTreeSpanExporter({ write: () => {} });
  await exporter.shutdown();
  let code = -1;
  exporter.export([], r => (code = r.code));
  assert.is(code, 1);
});

test.run();
