/**
 * The policy inside guard(): each decision is on the call's span, in the
 * `agent_safety.policy.decisions` metric, and in a real audit file (the
 * audit chain's span processor chains every span attribute), which the
 * verifier accepts. Real SDK, real file, real Cedar.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditChainSpanProcessor, FileAuditSink, auditAllSpans } from '../../../src/exporters/index.js';
import { decodeRecord } from '../../../src/patterns/audit/audit-span-decode.js';
import { splitLine } from '../../../src/patterns/audit/audit-record.js';
import { CircuitBreaker, MemoryPolicyStore, Policy, cedarAuthorizer, guard, invokeAgent, isActionBlockedError, isPolicyDeniedError } from '../../../src/index.js';
import type { KillTarget, PolicyStore } from '../../../src/index.js';
import {
  ATTR_AGENT_SAFETY_BREAKER_NAME,
  ATTR_AGENT_SAFETY_CALL_OUTCOME,
  ATTR_AGENT_SAFETY_IMPACT_VERDICT,
  ATTR_AGENT_SAFETY_POLICY_BUDGET_COST,
  ATTR_AGENT_SAFETY_POLICY_BUDGET_NAME,
  ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING,
  ATTR_AGENT_SAFETY_POLICY_DECISION,
  ATTR_AGENT_SAFETY_POLICY_LIMIT,
  ATTR_AGENT_SAFETY_POLICY_REASON,
  ATTR_AGENT_SAFETY_POLICY_REMAINING,
  ATTR_AGENT_SAFETY_POLICY_RETRY_AFTER_MS,
  ATTR_AGENT_SAFETY_POLICY_RULE,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_ID,
  ATTR_GEN_AI_TOOL_NAME,
  METRIC_AGENT_SAFETY_POLICY_DECISIONS,
  METRIC_ATTR_DECISION,
  METRIC_ATTR_REASON,
} from '../../../src/semconv.js';
import { verifyAuditFiles } from '../../../src/verify/index.js';
import { amountGate } from '../../helpers/adapter-gate.js';
import { setupTelemetry } from '../../helpers/otel.js';
import type { TestTelemetry } from '../../helpers/otel.js';

const test = suite('guard({ policy })');

let telemetry: TestTelemetry;
let dir: string;
let sink: FileAuditSink;
let keepAlive: NodeJS.Timeout;

test.before.each(() => {
  keepAlive = setInterval(() => {}, 60_000);
  dir = mkdtempSync(join(tmpdir(), 'guard-policy-'));
  sink = new FileAuditSink({ path: join(dir, 'audit.jsonl'), fsync: 'always' });
  telemetry = setupTelemetry({}, [new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans })]);
});
test.after.each(async () => {
  await telemetry.shutdown();
  clearInterval(keepAlive);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `fn`, returns its error (fails when it does not throw). */
async function refusal(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
}

/** The attributes of every record in the audit file, in chain order (after the provider flushed it). */
async function auditedAttributes(): Promise<Record<string, unknown>[]> {
  await telemetry.provider.forceFlush();
  const path = join(dir, 'audit.jsonl');
  const report = await verifyAuditFiles([path]);
  assert.ok(report.valid, `the audit file verifies: ${JSON.stringify(report.failure)}`);
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map(line => decodeRecord(JSON.parse(splitLine(line)!.body)).span.attributes);
}

/** The decisions counter's value for (agent, tool, reason). */
async function decisions(agent: string, tool: string, reason: string): Promise<number | undefined> {
  const points = await telemetry.points(METRIC_AGENT_SAFETY_POLICY_DECISIONS);
  const found = points.filter(
    p => p.attributes[ATTR_GEN_AI_AGENT_ID] === agent && p.attributes[ATTR_GEN_AI_TOOL_NAME] === tool && p.attributes[METRIC_ATTR_REASON] === reason,
  );
  assert.ok(found.length <= 1);
  if (found.length === 1) assert.is(found[0].attributes[METRIC_ATTR_DECISION], reason === 'allowed' ? 'allow' : 'deny');
  return found[0]?.value;
}

test('a rate limit: allowed calls, then a denial; on the spans, in the metric and in the audit file', async () => {
  let ran = 0;
  const policy = new Policy({ now: () => 5_000, limits: [{ kind: 'token_bucket', name: 'mail-rate', ratePerSecond: 1, burst: 2, tools: ['send_email'] }] });
  const send = guard(async (to: string) => ((ran += 1), `sent to ${to}`), { name: 'send_email', agent: { id: 'looper' }, policy });
  assert.is(await send('a'), 'sent to a');
  await send('b');
  const err = await refusal(() => send('c'));
  assert.ok(isPolicyDeniedError(err));
  assert.equal([err.reason, err.limit, err.remaining, err.retryAfterMs], ['rate_limited', 'mail-rate', 0, 1000]);
  assert.is(ran, 2, 'the denied call did not run');

  const spans = telemetry.spans();
  assert.equal(
    spans.map(s => [s.attributes[ATTR_AGENT_SAFETY_POLICY_DECISION], s.attributes[ATTR_AGENT_SAFETY_POLICY_REASON], s.attributes[ATTR_AGENT_SAFETY_POLICY_REMAINING]]),
    [['allow', 'allowed', 1], ['allow', 'allowed', 0], ['deny', 'rate_limited', 0]],
  );
  const denied = spans[2];
  assert.is(denied.status.code, SpanStatusCode.ERROR);
  assert.match(denied.status.message!, /policy denied tool "send_email" for agent "looper" \(rate_limited by mail-rate\)/);
  assert.is(denied.attributes[ATTR_ERROR_TYPE], 'PolicyDeniedError');
  assert.is(denied.attributes[ATTR_AGENT_SAFETY_CALL_OUTCOME], 'denied');
  assert.is(denied.attributes[ATTR_AGENT_SAFETY_POLICY_LIMIT], 'mail-rate');
  assert.is(denied.attributes[ATTR_AGENT_SAFETY_POLICY_RETRY_AFTER_MS], 1000);
  assert.is(denied.events.length, 0, 'no exception event for a denial');

  assert.is(await decisions('looper', 'send_email', 'allowed'), 2);
  assert.is(await decisions('looper', 'send_email', 'rate_limited'), 1);

  const audited = await auditedAttributes();
  assert.equal(
    audited.map(a => [a[ATTR_AGENT_SAFETY_POLICY_DECISION], a[ATTR_AGENT_SAFETY_POLICY_REASON], a[ATTR_AGENT_SAFETY_POLICY_LIMIT]]),
    [['allow', 'allowed', 'mail-rate'], ['allow', 'allowed', 'mail-rate'], ['deny', 'rate_limited', 'mail-rate']],
  );
});

test('two guards sharing a policy: one bucket per agent, counted across both tools, each span with its own remaining', async () => {
  const policy = new Policy({ now: () => 0, limits: [{ kind: 'token_bucket', name: 'agent-rate', ratePerSecond: 0.001, burst: 3 }] });
  const read = guard(async () => 'r', { name: 'read', agent: { id: 'a1' }, policy });
  const write = guard(async () => 'w', { name: 'write', agent: { id: 'a1' }, policy });
  const other = guard(async () => 'o', { name: 'read', agent: { id: 'a2' }, policy });
  await read();
  await write();
  await other();
  await read();
  const err = await refusal(() => write());
  assert.ok(isPolicyDeniedError(err));
  assert.equal(
    telemetry.spans().map(s => [s.attributes[ATTR_GEN_AI_AGENT_ID], s.attributes[ATTR_GEN_AI_TOOL_NAME], s.attributes[ATTR_AGENT_SAFETY_POLICY_REASON], s.attributes[ATTR_AGENT_SAFETY_POLICY_REMAINING]]),
    [
      ['a1', 'read', 'allowed', 2],
      ['a1', 'write', 'allowed', 1],
      ['a2', 'read', 'allowed', 2],
      ['a1', 'read', 'allowed', 0],
      ['a1', 'write', 'rate_limited', 0],
    ],
  );
});

test('allowed calls without limits: the same decision attributes on every span, per rule', async () => {
  const policy = new Policy({ rules: [{ name: 'reads', effect: 'allow', tools: ['read'] }] });
  const read = guard(async () => 'r', { name: 'read', policy });
  const write = guard(async () => 'w', { name: 'write', policy });
  await read();
  await write();
  await read();
  assert.equal(
    telemetry.spans().map(s => [s.attributes[ATTR_AGENT_SAFETY_POLICY_DECISION], s.attributes[ATTR_AGENT_SAFETY_POLICY_REASON], s.attributes[ATTR_AGENT_SAFETY_POLICY_RULE], s.attributes[ATTR_AGENT_SAFETY_POLICY_LIMIT]]),
    [
      ['allow', 'allowed', 'reads', undefined],
      ['allow', 'allowed', undefined, undefined],
      ['allow', 'allowed', 'reads', undefined],
    ],
  );
});

test('a run budget charged from the result: the cost and what is left on the span, then exhaustion; a new run starts afresh', async () => {
  const policy = new Policy({ limits: [{ kind: 'budget', name: 'run-usd', per: 'run', limit: 1, cost: (_args, result) => (result as { usd: number }).usd }] });
  const llm = guard(async (prompt: string) => ({ text: prompt, usd: 0.6 }), { name: 'llm_call', policy });
  await invokeAgent({ name: 'writer', id: 'writer-1' }, async () => {
    await llm('one');
    await llm('two'); // room was left (0.4): allowed, overspends to -0.2
    const err = await refusal(() => llm('three'));
    assert.ok(isPolicyDeniedError(err) && err.reason === 'budget_exhausted' && err.limit === 'run-usd');
  });
  await invokeAgent({ name: 'writer', id: 'writer-1' }, async () => {
    await llm('a new run');
  });
  const tools = telemetry.spans().filter(s => s.name === 'execute_tool llm_call');
  assert.equal(
    tools.map(s => [s.attributes[ATTR_AGENT_SAFETY_POLICY_REASON], s.attributes[ATTR_AGENT_SAFETY_POLICY_BUDGET_NAME], s.attributes[ATTR_AGENT_SAFETY_POLICY_BUDGET_COST], s.attributes[ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING]]),
    [
      ['allowed', 'run-usd', 0.6, 0.4],
      ['allowed', 'run-usd', 0.6, 0.4 - 0.6],
      ['budget_exhausted', undefined, undefined, undefined],
      ['allowed', 'run-usd', 0.6, 0.4],
    ],
  );
  assert.is(await decisions('writer-1', 'llm_call', 'budget_exhausted'), 1);
  const audited = await auditedAttributes();
  const exhausted = audited.filter(a => a[ATTR_AGENT_SAFETY_POLICY_REASON] === 'budget_exhausted');
  assert.is(exhausted.length, 1, 'the denial is chained');
  assert.is(audited.filter(a => a[ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING] === 0.4).length, 2, 'the charges are chained');
});

test('Cedar denies a tool to one agent and allows it to another; an evaluation error denies', async () => {
  const policy = new Policy({
    authorizer: await cedarAuthorizer({
      policies: `
        @id("tools-for-all") permit(principal, action, resource);
        @id("no-delete-for-intern") forbid(principal == Agent::"intern", action == Action::"delete_records", resource);
        @id("small-deletes") forbid(principal, action == Action::"delete_records", resource) when { context.arguments.count > 10 };`,
    }),
  });
  const del = guard(async (_a: { count?: number }) => 'deleted', { name: 'delete_records', policy });
  await invokeAgent({ name: 'ops', id: 'ops' }, () => del({ count: 3 }));
  await invokeAgent({ name: 'intern', id: 'intern' }, async () => {
    const err = await refusal(() => del({ count: 3 }));
    assert.ok(isPolicyDeniedError(err) && err.reason === 'authorizer_denied' && err.rule === 'no-delete-for-intern');
  });
  await invokeAgent({ name: 'ops', id: 'ops' }, async () => {
    const err = await refusal(() => del({}));
    assert.ok(isPolicyDeniedError(err) && err.reason === 'evaluation_error' && err.rule === 'small-deletes', String(err));
  });
  const tools = telemetry.spans().filter(s => s.name === 'execute_tool delete_records');
  assert.equal(
    tools.map(s => [s.attributes[ATTR_GEN_AI_AGENT_ID], s.attributes[ATTR_AGENT_SAFETY_POLICY_DECISION], s.attributes[ATTR_AGENT_SAFETY_POLICY_REASON], s.attributes[ATTR_AGENT_SAFETY_POLICY_RULE]]),
    [
      ['ops', 'allow', 'allowed', 'tools-for-all'],
      ['intern', 'deny', 'authorizer_denied', 'no-delete-for-intern'],
      ['ops', 'deny', 'evaluation_error', 'small-deletes'],
    ],
  );
  assert.is(await decisions('intern', 'delete_records', 'authorizer_denied'), 1);
  assert.is(await decisions('ops', 'delete_records', 'evaluation_error'), 1);
  const audited = await auditedAttributes();
  assert.equal(
    audited.filter(a => a[ATTR_GEN_AI_TOOL_NAME] === 'delete_records').map(a => a[ATTR_AGENT_SAFETY_POLICY_REASON]),
    ['allowed', 'authorizer_denied', 'evaluation_error'],
  );
});

test('the kill switch, a rule, and the breaker first: a policy denial does not count against the breaker', async () => {
  const breaker = new CircuitBreaker({ name: 'pay', failureThreshold: 1 });
  const policy = new Policy({ rules: [{ name: 'cap', effect: 'deny', tools: ['pay'], where: { amount: { min: 100 } } }] });
  const pay = guard(async (_p: { amount: number }) => 'paid', { name: 'pay', agent: { id: 'billing' }, breaker, policy });
  const capped = await refusal(() => pay({ amount: 500 }));
  assert.ok(isPolicyDeniedError(capped) && capped.reason === 'rule_denied' && capped.rule === 'cap');
  assert.is(breaker.state, 'closed', 'a denial is not a failure of the tool');
  await policy.stop({ agent: 'billing' });
  const stopped = await refusal(() => pay({ amount: 5 }));
  assert.ok(isPolicyDeniedError(stopped) && stopped.reason === 'kill_switch');
  await policy.resume({ agent: 'billing' });
  assert.is(await pay({ amount: 5 }), 'paid');
  assert.equal(
    telemetry.spans().map(s => [s.attributes[ATTR_AGENT_SAFETY_POLICY_REASON], s.attributes[ATTR_AGENT_SAFETY_POLICY_RULE]]),
    [['rule_denied', 'cap'], ['kill_switch', 'kill_switch:agent:billing'], ['allowed', undefined]],
  );
  assert.is(await decisions('billing', 'pay', 'kill_switch'), 1);
});

test('concurrency inside guard: 10,000 concurrent guarded calls through 8 slots; a later refusal gives its slot back', async () => {
  const policy = new Policy({ maxWaitMs: 60_000, limits: [{ kind: 'concurrency', name: 'slots', max: 8, per: [] }] });
  let inFlight = 0;
  let peak = 0;
  const work = guard(
    async (i: number) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise(r => setImmediate(r));
      inFlight--;
      return i;
    },
    { name: 'work', policy },
  );
  const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => work(i)));
  assert.is(results.length, 10_000);
  assert.is(peak, 8);
  const t = policy.decide({ agent: undefined, tool: 'work', args: [], run: undefined });
  assert.is((t as { remaining: number }).remaining, 7, 'every slot given back');
});

test('the pipeline order breaker → policy → gate: a denial never reaches the gate; a gate refusal gives the slot back', async () => {
  const breaker = new CircuitBreaker({ name: 'transfer', failureThreshold: 1 });
  const policy = new Policy({
    rules: [{ name: 'cap', effect: 'deny', tools: ['transfer'], where: { amount: { min: 1000 } } }],
    limits: [{ kind: 'concurrency', name: 'one-at-a-time', max: 1, per: [] }],
  });
  let ran = 0;
  const transfer = guard(async (_t: { amount: number }) => ((ran += 1), 'done'), { name: 'transfer', breaker, policy, gate: amountGate() });
  const denied = await refusal(() => transfer({ amount: 5000 }));
  assert.ok(isPolicyDeniedError(denied) && denied.reason === 'rule_denied');
  const blocked = await refusal(() => transfer({ amount: 500 }));
  assert.ok(isActionBlockedError(blocked), String(blocked));
  assert.is(await transfer({ amount: 5 }), 'done', 'the blocked call gave its slot back');
  assert.is(ran, 1);
  assert.is(breaker.state, 'closed', 'refusals are not failures of the tool');

  const [d, b, ok] = telemetry.spans();
  const groups = (attrs: Record<string, unknown>): string[] => [
    ...new Set(Object.keys(attrs).flatMap(k => (/^agent_safety\.(breaker|policy|impact)\./.exec(k)?.[1] ?? []))),
  ];
  assert.equal(groups(d.attributes), ['breaker', 'policy'], 'the policy denied before the gate');
  assert.is(d.attributes[ATTR_AGENT_SAFETY_IMPACT_VERDICT], undefined);
  assert.equal(groups(b.attributes), ['breaker', 'policy', 'impact'], 'recorded in pipeline order');
  assert.is(b.attributes[ATTR_AGENT_SAFETY_BREAKER_NAME], 'transfer');
  assert.equal([b.attributes[ATTR_AGENT_SAFETY_POLICY_DECISION], b.attributes[ATTR_AGENT_SAFETY_IMPACT_VERDICT], b.attributes[ATTR_AGENT_SAFETY_CALL_OUTCOME]], ['allow', 'block', 'blocked']);
  assert.equal([ok.attributes[ATTR_AGENT_SAFETY_POLICY_REMAINING], ok.attributes[ATTR_AGENT_SAFETY_CALL_OUTCOME]], [0, 'success']);
});

/** A real store answering every question later (as a shared store over the network does). */
class LaterStore implements PolicyStore {
  private readonly _memory = new MemoryPolicyStore();
  admit(...a: Parameters<PolicyStore['admit']>) {
    return Promise.resolve(this._memory.admit(...a));
  }
  release(keys: readonly string[]) {
    return Promise.resolve(this._memory.release(keys));
  }
  charge(...a: Parameters<PolicyStore['charge']>) {
    return new Promise<number>(resolve => setImmediate(() => resolve(this._memory.charge(...a) as number)));
  }
  stopped(agent: string | undefined, tool: string) {
    return Promise.resolve(this._memory.stopped(agent, tool));
  }
  stop(target: KillTarget) {
    return Promise.resolve(this._memory.stop(target));
  }
  resume(target: KillTarget) {
    return Promise.resolve(this._memory.resume(target));
  }
}

test('an asynchronous store: the charge is on the span before the guarded call settles, then the budget denies', async () => {
  const policy = new Policy({ store: new LaterStore(), limits: [{ kind: 'budget', name: 'tokens', per: [], limit: 100, cost: (_args, result) => (result as { tokens: number }).tokens }] });
  const llm = guard(async (_prompt: string) => ({ tokens: 60 }), { name: 'llm_async', policy });
  await llm('one');
  const [first] = telemetry.spans();
  assert.ok(first, 'the span ended when the call settled');
  assert.equal(
    [first.attributes[ATTR_AGENT_SAFETY_POLICY_BUDGET_NAME], first.attributes[ATTR_AGENT_SAFETY_POLICY_BUDGET_COST], first.attributes[ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING]],
    ['tokens', 60, 40],
  );
  await llm('two');
  const err = await refusal(() => llm('three'));
  assert.ok(isPolicyDeniedError(err) && err.reason === 'budget_exhausted', String(err));
  assert.equal(
    telemetry.spans().map(s => [s.attributes[ATTR_AGENT_SAFETY_POLICY_REASON], s.attributes[ATTR_AGENT_SAFETY_POLICY_BUDGET_REMAINING]]),
    [['allowed', 40], ['allowed', -20], ['budget_exhausted', undefined]],
  );
});

test("the policy judges the tool's own input when the guard's input option selects it", async () => {
  const policy = new Policy({ rules: [{ name: 'cap', effect: 'deny', where: { amount: { min: 100 } } }] });
  const pay = guard(async (_p: { amount: number }, _run: { messages: string[] }) => 'paid', { name: 'pay_framework', policy, input: p => p });
  const err = await refusal(() => pay({ amount: 500 }, { messages: [] }));
  assert.ok(isPolicyDeniedError(err) && err.reason === 'rule_denied', String(err));
  assert.is(await pay({ amount: 5 }, { messages: [] }), 'paid');
  const whole = guard(async (_p: { amount: number }, _run: { messages: string[] }) => 'paid', { name: 'pay_whole', policy });
  const failed = await refusal(() => whole({ amount: 5 }, { messages: [] }));
  assert.ok(isPolicyDeniedError(failed) && failed.reason === 'evaluation_error', 'without it, the rule sees every argument: it cannot decide and denies');
});

test('bad options: policy must be a Policy', () => {
  assert.throws(() => guard(() => 1, { name: 't', policy: { decide() {} } as never }), /policy must be a Policy, got object/);
});

test.run();
