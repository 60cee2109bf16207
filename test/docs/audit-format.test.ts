/**
 * Keeps the worked example of docs/audit-format.md true: the lines in the
 * document are exactly what the package writes for the spans described, and
 * their hashes (plain and keyed) are what the document says.
 */
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditChain } from '../../src/patterns/audit/audit-chain.js';
import type { AuditSpanLike } from '../../src/patterns/audit/audit-record.js';
import { checkAuditLines } from '../helpers/audit-check.js';
import { verifyAuditLines } from '../../src/verify/audit-verify.js';

const doc = readFileSync(new URL('../../docs/audit-format.md', import.meta.url), 'utf8');
const test = suite('docs/audit-format.md');

const chainId = '7d1f0c2e-5b7a-4c1e-9a43-2f1d3b6c8e90';
const first: AuditSpanLike = {
  name: 'execute_tool publish_post',
  kind: 0,
  spanContext: () => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' }),
  parentSpanContext: { spanId: '53995c3f42cd8ad8' },
  startTime: [1764547200, 250000000],
  endTime: [1764547200, 262500000],
  status: { code: 0 },
  attributes: {
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': 'publish_post',
    'gen_ai.agent.id': 'content-ranker-v3',
    'agent_safety.impact.delta': 0.26,
    'agent_safety.breaker.state': 'closed',
    'agent_safety.audit.seq': 0,
  },
  events: [{ name: 'agent_safety.explanation', time: [1764547200, 251000000], attributes: { 'agent_safety.explanation.phase': 'pre_action', 'agent_safety.explanation.confidence': 0.82 } }],
  links: [],
  droppedAttributesCount: 0,
  droppedEventsCount: 0,
  droppedLinksCount: 0,
  instrumentationScope: { name: 'agent-safety-otel', version: '0.1.0' },
};
const second: AuditSpanLike = {
  ...first,
  spanContext: () => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '11f067aa0ba902c8' }),
  attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'publish_post' },
  events: [],
};

function exampleLines(kind = 'jsonl'): string[] {
  const block = new RegExp('```' + kind + '\\n([\\s\\S]*?)```').exec(doc);
  assert.ok(block, `the document has a \`\`\`${kind} example`);
  return block![1].trim().split('\n');
}

test('the example lines are what the package writes, and they verify', () => {
  const chain = new AuditChain({ chainId });
  const written = [chain.append(first, { 'service.name': 'ranker' }).line, chain.append(second, undefined).line];
  assert.equal(exampleLines(), written);
  assert.is(checkAuditLines(exampleLines()).length, 2);
});

test('the keyed hash in the document is the package’s', () => {
  const key = Buffer.from('correct horse battery staple');
  const keyed = new AuditChain({ chainId, hmacKey: { id: 'audit-2026', key } }).append(first, { 'service.name': 'ranker' });
  assert.ok(doc.includes(keyed.hash), `the document should show ${keyed.hash}`);
  assert.ok(keyed.line.includes(`"chain_id":"${chainId}","format":2,"key_id":"audit-2026","prev_hash"`));
  assert.ok(keyed.line.includes(`"resource":{"service.name":{"stringValue":"ranker"}},"seal_every":1000,"seq":0`));
  assert.is(checkAuditLines([keyed.line], key).length, 1);
});

test('the format 1 example still verifies (old files stay verifiable)', () => {
  const old = exampleLines('jsonl-format-1');
  assert.is(old.length, 2);
  assert.not.ok(old[0].includes('"format"'));
  const report = verifyAuditLines(old);
  assert.ok(report.valid, JSON.stringify(report.failure));
  assert.is(report.chains[0].format, 1);
  // and a change is still caught
  assert.is(verifyAuditLines([old[0], old[1].replace('publish_post', 'delete_post')]).failure?.reason, 'altered record');
});

test.run();
