/**
 * The bootstrap and explanations: with OTLP it registers a LoggerProvider
 * and explanations leave as log records on `/v1/logs` (a real receiver),
 * chained on the action's span in the audit file (the real verifier
 * checks it); without log processors they stay span events, which the
 * console tree prints.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { metrics, trace } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { sdkTrace } from '../helpers/otel.js';
import { startAgentSafety } from '../../src/bootstrap/index.js';
import { guard } from '../../src/index.js';
import { ATTR_AGENT_SAFETY_EXPLANATION_EVENTS, ATTR_AGENT_SAFETY_EXPLANATION_PHASE, EVENT_AGENT_SAFETY_EXPLANATION } from '../../src/semconv.js';
import { verifyAuditFiles } from '../../src/verify/index.js';
import { resetGlobalLogs } from '../helpers/otel.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';

const test = suite('startAgentSafety: explanations');
const dir = mkdtempSync(join(tmpdir(), 'start-explain-'));

function cleanGlobals(): void {
  trace.disable();
  metrics.disable();
  resetGlobalLogs();
}
test.before.each(cleanGlobals);

const explained = () =>
  guard(async (q: string) => `found ${q}`, { name: 'lookup', explain: { reasoning: 'The user asked.', confidence: 0.9 } });

test('otlp: explanations are log records on /v1/logs with the span ids; the audit file chains them and verifies', async () => {
  const receiver = await OtlpReceiver.start();
  const auditFile = join(dir, 'otlp.jsonl');
  const safety = startAgentSafety({
    serviceName: 'start-explain',
    otlp: { endpoint: receiver.url },
    audit: { file: auditFile, spoolPath: join(dir, 'otlp.spool.jsonl') },
  });
  try {
    assert.is(safety.instrumentation.settings.explanationEvents, 'logs');
    assert.is(await explained()('x'), 'found x');
  } finally {
    await safety.shutdown();
    safety.instrumentation.unregister();
    cleanGlobals();
    await receiver.close();
  }
  const records = receiver.logRecords.filter(r => r.eventName === EVENT_AGENT_SAFETY_EXPLANATION);
  assert.equal(records.map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action']);
  assert.is(records[0].resource['service.name'], 'start-explain');
  assert.is(records[0].scope.name, 'agent-safety-otel');
  assert.is(records[0].severityNumber, 9);
  const span = receiver.spans.find(s => s.name === 'execute_tool lookup');
  assert.ok(span, 'the span went out too');
  assert.is(records[0].traceId, span.traceId);
  assert.is(records[0].spanId, span.spanId);
  assert.equal(span.events.filter(e => e.name === EVENT_AGENT_SAFETY_EXPLANATION), []);
  assert.is((span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS] as string[]).length, 2);
  assert.ok(receiver.requests.every(r => r.status === 200), JSON.stringify(receiver.requests));

  const report = await verifyAuditFiles([auditFile]);
  assert.ok(report.valid, JSON.stringify(report.failure));
  assert.match(readFileSync(auditFile, 'utf8'), `"${ATTR_AGENT_SAFETY_EXPLANATION_EVENTS}"`);
});

test('logRecordProcessors of your own: a LoggerProvider is registered and explanations go to it', async () => {
  const exporter = new InMemoryLogRecordExporter();
  const processor = new SimpleLogRecordProcessor({ exporter });
  const safety = startAgentSafety({
    console: false,
    audit: false,
    spanProcessors: [sdkTrace.simpleSpanProcessor(sdkTrace.inMemorySpanExporter())], // spans are recorded (no processor: no tracer provider)
    logRecordProcessors: [processor],
  });
  let phases: unknown[] = [];
  try {
    await explained()('y');
    await processor.forceFlush(); // the SDK's resource detection delays exports; the exporter forgets its records at shutdown
    phases = exporter.getFinishedLogRecords().filter(r => r.eventName === EVENT_AGENT_SAFETY_EXPLANATION).map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]);
  } finally {
    await safety.shutdown();
    safety.instrumentation.unregister();
    cleanGlobals();
  }
  assert.equal(phases, ['pre_action', 'post_action']);
});

test('embedded default: span events, printed by the console tree; explanationEvents given explicitly wins', async () => {
  const out: string[] = [];
  const safety = startAgentSafety({ console: { write: text => out.push(text), color: false }, audit: false });
  try {
    assert.is(safety.instrumentation.settings.explanationEvents, 'span-events');
    await explained()('z');
  } finally {
    await safety.shutdown();
    safety.instrumentation.unregister();
    cleanGlobals();
  }
  assert.match(out.join(''), /explanation pre_action/);
  assert.match(out.join(''), /explanation post_action/);

  const both = startAgentSafety({ console: false, audit: false, instrumentation: { explanationEvents: 'both' } });
  try {
    assert.is(both.instrumentation.settings.explanationEvents, 'both');
  } finally {
    await both.shutdown();
    both.instrumentation.unregister();
    cleanGlobals();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
