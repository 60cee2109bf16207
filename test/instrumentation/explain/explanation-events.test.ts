/**
 * Explanations as log-based events (OTEP 4430) through a real SDK
 * LoggerProvider, the span-event option, the fallback when there is no
 * LoggerProvider, and the copy kept on the span for the audit chain.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { logs as apiLogs } from '@opentelemetry/api-logs';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { ExplainabilityHookManager, guard } from '../../../src/index.js';
import { AgentSafetyInstrumentation } from '../../../src/bootstrap/index.js';
import {
  ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES,
  ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE,
  ATTR_AGENT_SAFETY_EXPLANATION_EVENTS,
  ATTR_AGENT_SAFETY_EXPLANATION_PHASE,
  ATTR_AGENT_SAFETY_EXPLANATION_REASONING,
  EVENT_AGENT_SAFETY_EXPLANATION,
} from '../../../src/semconv.js';
import { explanationJson } from '../../../src/instrumentation/explain/explanation-events.js';
import { captureDiag } from '../../helpers/diag.js';
import { rejection, resetGlobalLogs, setupTelemetry, testLogs } from '../../helpers/otel.js';
import type { TestLogs, TestTelemetry } from '../../helpers/otel.js';

const test = suite('explanations as log-based events');

const spanEvents = (span: ReadableSpan) => span.events.filter(e => e.name === EVENT_AGENT_SAFETY_EXPLANATION).map(e => e.attributes ?? {});
const explanationRecords = (logs: TestLogs) => logs.records().filter(r => r.eventName === EVENT_AGENT_SAFETY_EXPLANATION);

function explainedTool(reasoning?: (q: string) => string) {
  return guard(async (q: string) => (q === 'boom' ? Promise.reject(new Error('boom')) : `found ${q}`), {
    name: 'search',
    explain: {
      ...(reasoning ? { reasoningFn: reasoning } : { reasoning: 'The user asked for it.' }),
      confidence: 0.8,
      alternativesConsidered: ['ask first'],
    },
  });
}

async function withTelemetry(
  config: Parameters<typeof setupTelemetry>[0],
  body: (t: TestTelemetry) => Promise<void>,
): Promise<void> {
  const t = setupTelemetry(config);
  try {
    await body(t);
  } finally {
    await t.shutdown();
  }
}

test('default: each explanation is a log record with eventName, the attributes and the span context; no span event; a copy on the span', async () => {
  const logs = testLogs();
  await withTelemetry({ loggerProvider: logs.provider }, async t => {
    const search = explainedTool(q => `Looking up ${q}`);
    assert.is(await search('otel'), 'found otel');
    const span = t.span('execute_tool search');
    const records = explanationRecords(logs);
    assert.is(records.length, 2);
    assert.equal(records.map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
    for (const r of records) {
      assert.is(r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_REASONING], 'Looking up otel');
      assert.is(r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE], 0.8);
      assert.equal(r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES], ['ask first']);
      assert.is(r.severityNumber, 9);
      assert.is(r.instrumentationScope.name, 'agent-safety-otel');
      assert.is(r.spanContext?.traceId, span.spanContext().traceId);
      assert.is(r.spanContext?.spanId, span.spanContext().spanId);
    }
    assert.equal(spanEvents(span), [], 'no span events when the records went to logs');
    // The span keeps a copy of each record, in order, as canonical JSON: what its own attributes do not say (the phase).
    const copies = span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS] as string[];
    assert.equal(copies, ['pre_action', 'post_action'].map(phase => explanationJson({ [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: phase })));
    assert.equal(JSON.parse(copies[0]), { [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: 'pre_action' });
    // Reasoning, confidence and alternatives are span attributes, once.
    assert.is(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_REASONING], 'Looking up otel');
    assert.is(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE], 0.8);
    assert.equal(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_ALTERNATIVES], ['ask first']);
  });
  await logs.shutdown();
});

test('a failed call: pre_action and on_error records; a refused call (before the action) still explains itself', async () => {
  const logs = testLogs();
  await withTelemetry({ loggerProvider: logs.provider }, async t => {
    const search = explainedTool();
    await rejection(search('boom'));
    assert.equal(explanationRecords(logs).map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'on_error']);
    const copies = t.span('execute_tool search').attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS] as string[];
    assert.equal(copies.map(c => JSON.parse(c)[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'on_error']);
  });
  await logs.shutdown();
});

test('explanationEvents: span-events writes span events only; both writes both and keeps no copy', async () => {
  const logs = testLogs();
  await withTelemetry({ loggerProvider: logs.provider, explanationEvents: 'span-events' }, async t => {
    await explainedTool()('a');
    const span = t.span('execute_tool search');
    assert.equal(spanEvents(span).map(e => e[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
    assert.is(explanationRecords(logs).length, 0);
    assert.is(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS], undefined);
  });
  await withTelemetry({ loggerProvider: logs.provider, explanationEvents: 'both' }, async t => {
    await explainedTool()('b');
    const span = t.span('execute_tool search');
    const records = explanationRecords(logs);
    assert.equal(records.map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
    // The log records are whole; the span events name the phase (the span's attributes say the rest).
    assert.equal(spanEvents(span), records.map(r => ({ [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE] })));
    assert.is(records[0].attributes[ATTR_AGENT_SAFETY_EXPLANATION_REASONING], span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_REASONING]);
    assert.is(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS], undefined);
  });
  await logs.shutdown();
});

test('default without any LoggerProvider: span events, so no explanation is dropped', async () => {
  await withTelemetry({}, async t => {
    await explainedTool()('c');
    const span = t.span('execute_tool search');
    assert.equal(spanEvents(span).map(e => e[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
    assert.is(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS], undefined);
  });
});

test('the global LoggerProvider is used when registered after the instrumentation (as NodeSDK does); the placeholder handed over before is not kept', async () => {
  const logs = testLogs();
  await withTelemetry({}, async t => {
    // registerInstrumentations hands over the API's ProxyLoggerProvider: nothing is registered yet.
    const unregister = registerInstrumentations({ instrumentations: [t.instrumentation], tracerProvider: t.provider, meterProvider: t.meterProvider });
    assert.is(t.instrumentation.loggerProvider, undefined);
    assert.ok(apiLogs.setGlobalLoggerProvider(logs.provider) === logs.provider);
    try {
      await explainedTool()('d');
      assert.equal(explanationRecords(logs).map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
      assert.equal(spanEvents(t.span('execute_tool search')), []);
    } finally {
      unregister();
      resetGlobalLogs();
    }
  });
  await logs.shutdown();
});

test('a LoggerProvider handed over through setLoggerProvider is used; the loggerProvider option wins over it', async () => {
  const fromSdk = testLogs();
  const fromOption = testLogs();
  await withTelemetry({}, async t => {
    t.instrumentation.setLoggerProvider(fromSdk.provider);
    await explainedTool()('e');
    assert.is(explanationRecords(fromSdk).length, 2);
  });
  await withTelemetry({ loggerProvider: fromOption.provider }, async t => {
    t.instrumentation.setLoggerProvider(fromSdk.provider);
    await explainedTool()('f');
    assert.is(explanationRecords(fromOption).length, 2);
    assert.is(explanationRecords(fromSdk).length, 2, 'nothing more went to the SDK one');
  });
  await fromSdk.shutdown();
  await fromOption.shutdown();
});

test('a logger that throws: the explanation becomes a span event, reported through diag, and the call goes on', async () => {
  const diagLog = captureDiag();
  const failing = { getLogger: () => ({ emit: () => { throw new Error('exporter gone'); } }) };
  try {
    await withTelemetry({ loggerProvider: failing }, async t => {
      assert.is(await explainedTool()('g'), 'found g');
      assert.equal(spanEvents(t.span('execute_tool search')).map(e => e[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
    });
    assert.ok(diagLog.messages.some(m => m.includes('emitting an explanation log record failed')), diagLog.messages.join(' | '));
  } finally {
    diagLog.restore();
  }
});

test('hooks.explain() writes onto the active span the same way', async () => {
  const logs = testLogs();
  await withTelemetry({ loggerProvider: logs.provider }, async t => {
    const hooks = new ExplainabilityHookManager();
    const outer = guard(async () => hooks.explain({ action: 'double', reasoning: 'twice as good' })(async (n: number) => n * 2)(21), { name: 'outer' });
    assert.is(await outer(), 42);
    const span = t.span('execute_tool outer');
    const records: ReadableLogRecord[] = explanationRecords(logs);
    assert.equal(records.map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_REASONING]), ['twice as good', 'twice as good']);
    assert.is(records[0].spanContext?.spanId, span.spanContext().spanId);
    assert.is((span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS] as string[]).length, 2);
  });
  await logs.shutdown();
});

test("hooks.explain() inside a guarded call with its own explanation: the guard's reasoning stays the span's, the inner one is in its events", async () => {
  await withTelemetry({}, async t => {
    const hooks = new ExplainabilityHookManager();
    const inner = hooks.explain({ action: 'double', reasoning: 'twice as good' })(async (n: number) => n * 2);
    const outer = guard(async () => inner(21), { name: 'outer', explain: { reasoning: 'the user asked for it', confidence: 0.7 } });
    assert.is(await outer(), 42);
    const span = t.span('execute_tool outer');
    assert.is(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_REASONING], 'the user asked for it');
    assert.is(span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_CONFIDENCE], 0.7);
    const events = spanEvents(span);
    assert.equal(events.map(e => [e[ATTR_AGENT_SAFETY_EXPLANATION_PHASE], e[ATTR_AGENT_SAFETY_EXPLANATION_REASONING]]), [
      ['pre_action', undefined],
      ['pre_action', 'twice as good'],
      ['post_action', 'twice as good'],
      ['post_action', undefined],
    ]);
  });
});

test('bad configuration throws, naming the option', () => {
  assert.throws(() => new AgentSafetyInstrumentation({ explanationEvents: 'events' as never }), /explanationEvents/);
  assert.throws(() => new AgentSafetyInstrumentation({ loggerProvider: {} as never }), /loggerProvider must be a LoggerProvider/);
});

test.run();
