/**
 * The audit chain holds every explanation when explanations are log-based
 * events: a real LoggerProvider receives the log records, the chained span
 * of each action keeps a copy of their attributes, a real audit file is
 * written by the FileAuditSink, and the real verifier checks it, and
 * rejects it once an explanation in it is altered.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ExplainabilityHookManager, guard, invokeAgent } from '../../../src/index.js';
import { AuditChainSpanProcessor, FileAuditSink } from '../../../src/exporters/index.js';
import { ATTR_AGENT_SAFETY_EXPLANATION_EVENTS, ATTR_AGENT_SAFETY_EXPLANATION_PHASE, EVENT_AGENT_SAFETY_EXPLANATION } from '../../../src/semconv.js';
import { explanationJson } from '../../../src/instrumentation/explain/explanation-events.js';
import { verifyAuditFiles } from '../../../src/verify/index.js';
import { rejection, setupTelemetry, testLogs } from '../../helpers/otel.js';

const test = suite('audit chain: log-based explanations are chained');

let dir = '';
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'audit-explanations-'));
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface ChainedLine {
  seq: number;
  span: { name: string; span_id: string; trace_id: string; events: { name: string }[]; attributes: Record<string, { stringValue?: string; doubleValue?: number; arrayValue?: { values: { stringValue: string }[] } }> };
}

test('every explanation log record is in the chained span of its action; the real verifier accepts the file, and rejects it altered', async () => {
  const path = join(dir, 'audit.jsonl');
  const audit = new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path, fsync: 'always' })] });
  const logs = testLogs();
  const t = setupTelemetry({ loggerProvider: logs.provider }, [audit]);
  const hooks = new ExplainabilityHookManager();
  let records: ReturnType<typeof logs.records> = [];
  try {
    const search = guard(async (q: string) => (q === 'boom' ? Promise.reject(new Error('boom')) : `found ${q}`), {
      name: 'search',
      explain: { hooks, reasoningFn: (q: string) => `Looking up ${q}`, confidence: 0.7, alternativesConsidered: ['ask the user'] },
    });
    await invokeAgent({ name: 'researcher', provider: 'openai' }, async () => {
      await search('otel');
      await rejection(search('boom'));
    });
    records = logs.records().filter(r => r.eventName === EVENT_AGENT_SAFETY_EXPLANATION);
  } finally {
    await t.shutdown(); // shuts the tracer provider down: the audit processor flushes the file
    await logs.shutdown(); // (the in-memory exporter forgets its records here)
  }

  assert.equal(records.map(r => r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE]), ['pre_action', 'post_action', 'pre_action', 'on_error']);
  assert.is(hooks.getExplanations().length, 4, 'the hook manager got the same four');

  const report = await verifyAuditFiles([path]);
  assert.ok(report.valid, JSON.stringify(report.failure));
  assert.is(report.records, 3, 'two execute_tool spans and the invoke_agent span');

  const text = readFileSync(path, 'utf8');
  const lines = text.trimEnd().split('\n');
  const chained = lines.map(l => JSON.parse(l) as ChainedLine);
  for (const r of records) {
    const line = chained.find(c => c.span.span_id === r.spanContext?.spanId && c.span.trace_id === r.spanContext?.traceId);
    assert.ok(line, `the record's span ${r.spanContext?.spanId} is chained`);
    assert.is(line.span.name, 'execute_tool search');
    assert.equal(line.span.events.filter(e => e.name === EVENT_AGENT_SAFETY_EXPLANATION), [], 'no span events: the copy holds them');
    // The log record, whole, is in its chained span: its phase in the copy, the rest in the span's own attributes.
    const copies = line.span.attributes[ATTR_AGENT_SAFETY_EXPLANATION_EVENTS].arrayValue!.values.map(v => v.stringValue);
    const phase = { [ATTR_AGENT_SAFETY_EXPLANATION_PHASE]: r.attributes[ATTR_AGENT_SAFETY_EXPLANATION_PHASE] };
    assert.ok(copies.includes(explanationJson(phase as unknown as Record<string, never>)), `${copies.join(' ')} holds the record's phase`);
    for (const [key, value] of Object.entries(r.attributes)) {
      if (key === ATTR_AGENT_SAFETY_EXPLANATION_PHASE) continue;
      const chainedValue = line.span.attributes[key];
      const plain = chainedValue?.stringValue ?? chainedValue?.doubleValue ?? chainedValue?.arrayValue?.values.map(v => v.stringValue);
      assert.equal(plain, value, `${key} of the log record is the chained span's`);
    }
  }

  // Change what the chain says the agent reasoned before the failed call: the verifier names that record.
  const target = lines.findIndex(l => l.includes('"Looking up boom"'));
  assert.ok(target >= 0);
  const altered = [...lines];
  altered[target] = altered[target].replaceAll('"Looking up boom"', '"Looking up nothing"');
  assert.is.not(altered[target], lines[target]);
  writeFileSync(path, altered.join('\n') + '\n');
  const tampered = await verifyAuditFiles([path]);
  assert.is(tampered.valid, false);
  assert.is(tampered.failure?.reason, 'altered record');
  assert.is(tampered.failure?.line, target + 1);
});

test.run();
