/**
 * OTLP over the wire: the package's bootstrap exporters
 * (`startAgentSafety({ otlp: { endpoint, protocol } })`) in a child process
 * send guarded-action spans and metrics to a real OTLP/HTTP receiver on
 * 127.0.0.1, as `http/protobuf` and `http/json`, each plain and gzip
 * (`OTEL_EXPORTER_OTLP_COMPRESSION=gzip`, read by the exporters). The test
 * checks that spans, their attributes of every type, events (the exception
 * event included), parent links and span links arrive intact, that both
 * encodings decode to the same telemetry, and that what the receiver keeps
 * is the Collector file exporter's OTLP-JSON line format.
 *
 * A child process per run, so that each run has its own global SDK and
 * environment. The fixture is test/fixtures/otlp-wire-app.mjs; it imports the
 * built package (`npm test` builds first).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID, ATTR_AGENT_SAFETY_AUDIT_HASH, ATTR_AGENT_SAFETY_AUDIT_PREV_HASH, ATTR_AGENT_SAFETY_AUDIT_SEQ, AGENT_SAFETY_LINK_TYPE_VALUE_COMPENSATES, ATTR_AGENT_SAFETY_CALL_OUTCOME, ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID, ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID, ATTR_AGENT_SAFETY_LINK_TYPE, ATTR_ERROR_TYPE, ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_AGENT_NAME, ATTR_GEN_AI_CONVERSATION_ID, ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_TOOL_CALL_ID, ATTR_GEN_AI_TOOL_DESCRIPTION, ATTR_GEN_AI_TOOL_NAME, ATTR_GEN_AI_TOOL_TYPE, METRIC_GEN_AI_EXECUTE_TOOL_DURATION, PACKAGE_NAME, TOOL_DURATION_BUCKETS_S } from '../../src/semconv.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';
import { verifyAuditFiles, verifyAuditText } from '../../src/verify/audit-verify.js';
import type { ReceivedPoint, ReceivedSpan } from '../helpers/otlp-receiver.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixture = 'test/fixtures/otlp-wire-app.mjs';
/** The fixtures' audit files and spools, removed when the suite ends. */
const scratch = mkdtempSync(join(tmpdir(), 'agent-safety-otlp-wire-'));

type Protocol = 'http/protobuf' | 'http/json';

interface Run {
  code: number | null;
  stderr: string;
  /** Where the fixture wrote its audit file. */
  auditDir: string;
}

/** Runs the fixture against `endpoint`; kills it after 30 s whatever happens. */
function runFixture(endpoint: string, protocol: Protocol, gzip: boolean): Promise<Run> {
  const auditDir = mkdtempSync(join(scratch, 'run-'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [fixture, endpoint, protocol, auditDir], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        OTEL_LOG_LEVEL: 'error',
        ...(gzip ? { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' } : { OTEL_EXPORTER_OTLP_COMPRESSION: 'none' }),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr.on('data', chunk => (stderr += chunk));
    child.on('error', reject);
    child.on('close', code => {
      clearTimeout(killer);
      resolvePromise({ code, stderr, auditDir });
    });
  });
}

interface Received {
  spans: ReceivedSpan[];
  points: ReceivedPoint[];
  receiver: OtlpReceiver;
  /** The fixture's own audit file. */
  auditFile: string;
}

/** One fixture run against a fresh receiver; the receiver is closed afterwards. */
async function receive(protocol: Protocol, gzip: boolean): Promise<Received> {
  const receiver = await OtlpReceiver.start();
  try {
    const run = await runFixture(receiver.url, protocol, gzip);
    assert.is(run.code, 0, run.stderr);
    const contentType = protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
    assert.ok(receiver.requests.length >= 2, 'a traces and a metrics request');
    for (const r of receiver.requests) {
      assert.is(r.status, 200, `${r.path} was accepted`);
      assert.is(r.contentType, contentType, `${r.path} sent as ${contentType}`);
      assert.is(r.gzip, gzip, `${r.path} ${gzip ? 'gzip' : 'plain'}`);
    }
    return { spans: receiver.spans, points: receiver.points, receiver, auditFile: join(run.auditDir, 'audit.jsonl') };
  } finally {
    await receiver.close();
  }
}

function one(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter(s => s.name === name);
  assert.is(found.length, 1, `one span named ${name}; got ${spans.map(s => s.name).join(', ')}`);
  return found[0];
}

/**
 * Attribute values that differ from run to run by nature: ids, the process's
 * pid and arguments, and (SDK 3.x's NodeSDK sets one by default) the
 * service instance id.
 */
const VARYING = new Set([
  ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID,
  ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID,
  ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID,
  ATTR_AGENT_SAFETY_AUDIT_PREV_HASH,
  ATTR_AGENT_SAFETY_AUDIT_HASH,
  'process.pid',
  'process.command_args',
  'service.instance.id',
]);

function stable(attributes: Record<string, unknown>, names: Map<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(attributes).map(([k, v]) => [k, VARYING.has(k) ? (typeof v === 'string' && names.has(v) ? `span ${names.get(v)}` : '<varies>') : v]),
  );
}

/** Everything that must survive the trip, with ids and times replaced by their relations. */
function projection(spans: ReceivedSpan[], points: ReceivedPoint[]): unknown {
  const names = new Map(spans.map(s => [s.spanId, s.name]));
  return {
    spans: spans
      .map(s => ({
        name: s.name,
        kind: s.kind,
        parent: s.parentSpanId ? names.get(s.parentSpanId) ?? 'unknown' : null,
        attributes: stable(s.attributes, names),
        events: s.events.map(e => ({ name: e.name, attributes: e.attributes })),
        links: s.links.map(l => ({ to: names.get(l.spanId), attributes: l.attributes })),
        status: s.status,
        resource: stable(s.resource, names),
        scope: s.scope,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    points: points
      .filter(p => p.metric === METRIC_GEN_AI_EXECUTE_TOOL_DURATION)
      .map(p => ({ unit: p.unit, type: p.type, attributes: p.attributes, count: p.count, bounds: p.explicitBounds }))
      .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes))),
  };
}

/** The checks every run must pass, whatever the encoding. */
async function assertIntact({ spans, points, receiver, auditFile }: Received): Promise<void> {
  assert.equal(spans.map(s => s.name).sort(), ['compensate lookup', 'execute_tool broken_tool', 'execute_tool lookup', 'invoke_agent wire-agent']);

  const agent = one(spans, 'invoke_agent wire-agent');
  const lookup = one(spans, 'execute_tool lookup');
  const broken = one(spans, 'execute_tool broken_tool');
  const compensate = one(spans, 'compensate lookup');

  // Resource and scope.
  assert.is(lookup.resource['service.name'], 'otlp-wire-fixture');
  assert.is(lookup.resource['deployment.environment.name'], 'test');
  assert.is(lookup.scope.name, PACKAGE_NAME);

  // Parentage and ids.
  assert.is(agent.parentSpanId, '');
  assert.is(lookup.parentSpanId, agent.spanId);
  assert.is(broken.parentSpanId, agent.spanId);
  assert.is(lookup.traceId, agent.traceId);
  assert.match(lookup.traceId, /^[0-9a-f]{32}$/);
  assert.match(lookup.spanId, /^[0-9a-f]{16}$/);
  assert.is(lookup.kind, 1, 'INTERNAL');
  assert.ok(BigInt(lookup.endTimeUnixNano) >= BigInt(lookup.startTimeUnixNano));

  // Attributes: the GenAI ones, ours, and one of every type.
  assert.is(agent.attributes[ATTR_GEN_AI_CONVERSATION_ID], 'conv-1');
  assert.equal(
    {
      op: lookup.attributes[ATTR_GEN_AI_OPERATION_NAME],
      tool: lookup.attributes[ATTR_GEN_AI_TOOL_NAME],
      description: lookup.attributes[ATTR_GEN_AI_TOOL_DESCRIPTION],
      type: lookup.attributes[ATTR_GEN_AI_TOOL_TYPE],
      callId: lookup.attributes[ATTR_GEN_AI_TOOL_CALL_ID],
      agentId: lookup.attributes[ATTR_GEN_AI_AGENT_ID],
      agentName: lookup.attributes[ATTR_GEN_AI_AGENT_NAME],
      outcome: lookup.attributes[ATTR_AGENT_SAFETY_CALL_OUTCOME],
    },
    { op: 'execute_tool', tool: 'lookup', description: 'Looks things up', type: 'function', callId: 'call-1', agentId: 'wire-agent-v1', agentName: 'wire-agent', outcome: 'success' },
  );
  assert.equal(
    [lookup.attributes['test.string'], lookup.attributes['test.int'], lookup.attributes['test.double'], lookup.attributes['test.bool'], lookup.attributes['test.strings']],
    ['cats', 42, 0.25, true, ['a', 'b']],
  );

  // Events: a custom one with typed attributes, and the exception event of the failure.
  assert.equal(lookup.events.map(e => ({ name: e.name, attributes: e.attributes })), [
    { name: 'test.cache_lookup', attributes: { 'cache.hit': false, 'cache.size': 7, 'cache.ratio': 0.5, 'cache.keys': ['k1', 'k2'] } },
  ]);
  assert.ok(BigInt(lookup.events[0].timeUnixNano) >= BigInt(lookup.startTimeUnixNano));
  assert.is(broken.status.code, 2, 'ERROR');
  assert.is(broken.attributes[ATTR_ERROR_TYPE], 'RangeError');
  assert.is(broken.attributes[ATTR_AGENT_SAFETY_CALL_OUTCOME], 'error');
  const exception = broken.events.find(e => e.name === 'exception');
  assert.ok(exception, 'an exception event');
  assert.is(exception!.attributes['exception.type'], 'RangeError');
  assert.is(exception!.attributes['exception.message'], 'downstream said no');
  assert.match(String(exception!.attributes['exception.stacktrace']), /RangeError: downstream said no/);

  // A link across traces, with its attribute, and the ids copied for Jaeger.
  assert.is.not(compensate.traceId, lookup.traceId);
  assert.equal(compensate.links, [
    { traceId: lookup.traceId, spanId: lookup.spanId, attributes: { [ATTR_AGENT_SAFETY_LINK_TYPE]: AGENT_SAFETY_LINK_TYPE_VALUE_COMPENSATES } },
  ]);
  assert.is(compensate.attributes[ATTR_AGENT_SAFETY_COMPENSATED_TRACE_ID], lookup.traceId);
  assert.is(compensate.attributes[ATTR_AGENT_SAFETY_COMPENSATED_SPAN_ID], lookup.spanId);

  // The audit chain: the package's spans (delivered by the audit sink, once
  // each) carry gap-free seqs of one chain and the hashes linking them.
  const audited = [agent, lookup, broken].sort((a, b) => Number(a.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ]) - Number(b.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ]));
  assert.equal(audited.map(s => s.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ]), [0, 1, 2]);
  assert.equal(audited.map(s => s.name), ['execute_tool lookup', 'execute_tool broken_tool', 'invoke_agent wire-agent'], 'in the order they ended');
  assert.is(new Set(audited.map(s => s.attributes[ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID])).size, 1);
  assert.is(audited[0].attributes[ATTR_AGENT_SAFETY_AUDIT_PREV_HASH], '0'.repeat(64));
  for (let i = 1; i < audited.length; i++) {
    assert.is(audited[i].attributes[ATTR_AGENT_SAFETY_AUDIT_PREV_HASH], audited[i - 1].attributes[ATTR_AGENT_SAFETY_AUDIT_HASH]);
  }
  assert.is(compensate.attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ], undefined, 'a span of another scope is not audited by default');
  // The package's verifier, on the OTLP JSON the receiver got (as the Collector's file exporter writes it)
  // and on the fixture's own audit file: the same chain, valid in both.
  const fromWire = verifyAuditText(receiver.toOtlpJsonLines());
  assert.ok(fromWire.valid, JSON.stringify(fromWire.failures));
  const fromFile = await verifyAuditFiles([auditFile]);
  assert.ok(fromFile.valid, JSON.stringify(fromFile.failures));
  const head = (r: typeof fromWire) => r.chains.map(c => [c.chainId, c.records, c.headHash]);
  assert.equal(head(fromWire), [[audited[0].attributes[ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID], 3, audited[2].attributes[ATTR_AGENT_SAFETY_AUDIT_HASH]]]);
  assert.equal(head(fromFile), head(fromWire));

  // Metrics: the duration histogram, in seconds, with its buckets.
  const durations = points.filter(p => p.metric === METRIC_GEN_AI_EXECUTE_TOOL_DURATION);
  assert.is(durations.length, 2, 'one point per tool');
  for (const p of durations) {
    assert.is(p.unit, 's');
    assert.is(p.type, 'histogram');
    assert.is(p.count, 1);
    assert.equal(p.explicitBounds, [...TOOL_DURATION_BUCKETS_S]);
  }
  const failed = durations.find(p => p.attributes[ATTR_GEN_AI_TOOL_NAME] === 'broken_tool');
  assert.is(failed?.attributes[ATTR_ERROR_TYPE], 'RangeError');
}

const test = suite('OTLP over the wire (bootstrap exporters → receiver on 127.0.0.1)');
test.after(() => rmSync(scratch, { recursive: true, force: true }));

const runs: Record<string, Received> = {};

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  for (const gzip of [false, true]) {
    const label = `${protocol}${gzip ? ' + gzip' : ''}`;
    test(`${label}: spans, attributes, events, links and metrics arrive intact`, async () => {
      runs[label] = await receive(protocol, gzip);
      await assertIntact(runs[label]);
    });
  }
}

test('both encodings, plain or gzip, decode to the same telemetry', () => {
  const labels = Object.keys(runs);
  assert.is(labels.length, 4, 'the four runs above passed');
  const reference = projection(runs[labels[0]].spans, runs[labels[0]].points);
  for (const label of labels.slice(1)) assert.equal(projection(runs[label].spans, runs[label].points), reference, label);
});

test('what arrived, written as the Collector file exporter writes it, reads back as the same spans', () => {
  // The audit chain's verifier reads this format (agent-safety-otel verify);
  // when the audit processor runs in the fixture, verify this file here.
  const dir = mkdtempSync(join(tmpdir(), 'agent-safety-otlp-json-'));
  try {
    for (const [label, { receiver, spans }] of Object.entries(runs)) {
      const file = join(dir, `${label.replace(/\W+/g, '-')}.jsonl`);
      writeFileSync(file, receiver.toOtlpJsonLines());
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      const reread = lines.flatMap(line => {
        const request = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: { traceId: string; spanId: string; name: string }[] }[] }[] };
        return request.resourceSpans.flatMap(rs => rs.scopeSpans.flatMap(ss => ss.spans));
      });
      assert.equal(
        reread.map(s => `${s.traceId}/${s.spanId} ${s.name}`).sort(),
        spans.map(s => `${s.traceId}/${s.spanId} ${s.name}`).sort(),
        label,
      );
      for (const s of reread) assert.match(s.traceId, /^[0-9a-f]{32}$/, 'hex ids, as in OTLP JSON');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
