import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditLogger, auditLog, guard, recordAuditEvent } from '../../../src/index.js';
import type { AuditEventName } from '../../../src/index.js';
import { AgentSafetyInstrumentation } from '../../../src/bootstrap/index.js';
import { AuditChainSpanProcessor, AuditRecordingSampler, InMemoryAuditSink } from '../../../src/exporters/index.js';
import { checkAuditLines } from '../../helpers/audit-check.js';
import { ensureContextManager, setupTelemetry, sdkTrace } from '../../helpers/otel.js';
import { captureDiag } from '../../helpers/diag.js';

const test = suite('audit events and sampling');

test('audit events land on the active guarded span, or on a span of their own, and are chained', async () => {
  const sink = new InMemoryAuditSink();
  const t = setupTelemetry({ agent: { id: 'agent-x' } }, [new AuditChainSpanProcessor({ sinks: [sink] })]);
  try {
    const publish = guard(async (postId: string) => {
      auditLog.actionProposed('publish_post', { details: { postId, apiKey: 'sk-secret' } });
      auditLog.actionExecuted('publish_post');
      return postId;
    }, { name: 'publish_post' });
    await publish('p1');
    auditLog.actionBlocked('delete_user', { reason: 'impact CRITICAL', agentId: 'agent-y' });
    auditLog.policyViolation('send_email', { reason: 'outside business hours' });
    const records = checkAuditLines(sink.lines());
    assert.equal(records.map(r => r.span.name), ['execute_tool publish_post', 'agent_safety.action.blocked', 'agent_safety.policy.violation']);
    const tool = t.span('execute_tool publish_post');
    assert.equal(tool.events.map(e => e.name), ['agent_safety.action.proposed', 'agent_safety.action.executed']);
    const proposed = tool.events[0].attributes!;
    assert.is(proposed['agent_safety.action.name'], 'publish_post');
    assert.is(proposed['gen_ai.agent.id'], 'agent-x');
    // Details are redacted like everything else the package records.
    assert.equal(JSON.parse(String(proposed['agent_safety.action.details'])), { postId: 'p1', apiKey: '[REDACTED]' });
    const blocked = t.span('agent_safety.action.blocked');
    assert.is(blocked.attributes['agent_safety.action.reason'], 'impact CRITICAL');
    assert.is(blocked.attributes['gen_ai.agent.id'], 'agent-y');
    assert.is(blocked.events[0].name, 'agent_safety.action.blocked');
  } finally {
    await t.shutdown();
  }
});

test('an audit event\'s reason is redacted before it is recorded: on a span of its own it is a span attribute, which no processor redacts', async () => {
  const sink = new InMemoryAuditSink();
  const t = setupTelemetry({}, [new AuditChainSpanProcessor({ sinks: [sink] })]);
  try {
    auditLog.actionBlocked('login', { reason: 'the prompt asked to use password=hunter2-Tr0ub4dor with Bearer sk-live-4f3c2b1a09e8d7c6b5a4f3e2' });
    const lines = sink.lines().join('\n');
    assert.not.ok(lines.includes('hunter2-Tr0ub4dor'), lines);
    assert.not.ok(lines.includes('sk-live-4f3c2b1a09e8d7c6b5a4f3e2'), lines);
    const blocked = t.span('agent_safety.action.blocked');
    assert.is(blocked.attributes['agent_safety.action.reason'], 'the prompt asked to use password=[REDACTED] with Bearer [REDACTED]');
    checkAuditLines(sink.lines());
  } finally {
    await t.shutdown();
  }
});

test('AuditLogger, as in the original: bound to an agent, events chained', async () => {
  const sink = new InMemoryAuditSink();
  const t = setupTelemetry({}, [new AuditChainSpanProcessor({ sinks: [sink] })]);
  try {
    const audit = new AuditLogger({ agentId: 'planner-v2' });
    audit.logActionProposed('write_db', { query: 'INSERT INTO ...', userId: 'u123' });
    audit.logActionExecuted('write_db', { rowsAffected: 42 });
    audit.logActionBlocked('drop_table', 'irreversible');
    audit.logPolicyViolation('write_db', 'PII_ACCESS_RESTRICTED');
    const records = checkAuditLines(sink.lines());
    assert.equal(records.map(r => r.span.name), ['agent_safety.action.proposed', 'agent_safety.action.executed', 'agent_safety.action.blocked', 'agent_safety.policy.violation']);
    const violation = t.span('agent_safety.policy.violation');
    assert.is(violation.attributes['gen_ai.agent.id'], 'planner-v2');
    assert.is(violation.attributes['agent_safety.action.reason'], 'PII_ACCESS_RESTRICTED');
    assert.equal(JSON.parse(String(t.span('agent_safety.action.executed').attributes['agent_safety.action.details'])), { rowsAffected: 42 });
    assert.is(new AuditLogger('x').agentId, 'x');
    assert.throws(() => new AuditLogger({ agentId: '' }), /agentId must be a non-empty string/);
  } finally {
    await t.shutdown();
  }
});

test('a bad audit event call is reported, never thrown', async () => {
  const diag = captureDiag();
  try {
    auditLog.actionProposed('', {});
    await diag.waitFor(/audit event agent_safety.action.proposed was not recorded/);
  } finally {
    diag.restore();
  }
});

test('recordAuditEvent records only the four audit events: another name (a forged execute_tool span) is reported and chains nothing', async () => {
  const sink = new InMemoryAuditSink();
  const t = setupTelemetry({}, [new AuditChainSpanProcessor({ sinks: [sink] })]);
  const diag = captureDiag();
  try {
    recordAuditEvent('agent_safety.action.executed', 'pay', { reason: 'ok' });
    recordAuditEvent('execute_tool pay' as AuditEventName, 'pay');
    assert.equal(checkAuditLines(sink.lines()).map(r => r.span.name), ['agent_safety.action.executed']);
    assert.equal(t.spans().map(s => s.name), ['agent_safety.action.executed']);
    assert.ok(diag.messages.some(m => /audit event execute_tool pay was not recorded/.test(m)), diag.messages.join(' | '));
  } finally {
    diag.restore();
    await t.shutdown();
  }
});

test('AuditRecordingSampler: the audit sees the package spans that sampling drops; exporters do not', async () => {
  ensureContextManager();
  const sink = new InMemoryAuditSink();
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({
    sampler: new AuditRecordingSampler(sdkTrace.alwaysOffSampler()),
    spanProcessors: [new AuditChainSpanProcessor({ sinks: [sink] }), sdkTrace.simpleSpanProcessor(exporter)],
  });
  const instrumentation = new AgentSafetyInstrumentation();
  instrumentation.setTracerProvider(provider);
  instrumentation.enable();
  try {
    await guard(async () => 1, { name: 'one' })();
    provider.getTracer('other').startSpan('http GET').end();
    assert.equal(checkAuditLines(sink.lines()).map(r => r.span.name), ['execute_tool one']);
    assert.is(exporter.getFinishedSpans().length, 0);
    assert.match(String(new AuditRecordingSampler(sdkTrace.alwaysOffSampler())), /AuditRecordingSampler\{AlwaysOffSampler\}/);
    assert.throws(() => new AuditRecordingSampler(undefined as never), /must be a Sampler/);
  } finally {
    instrumentation.disable();
    await provider.shutdown();
  }
});

test.run();
