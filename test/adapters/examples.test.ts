/**
 * Each adapter's example runs as a user runs it (`npx tsx examples/adapters/<framework>.ts`):
 * exits 0 with no network and prints the guarded call.
 */
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runExample } from '../helpers/run-example.js';

const run = (example: string) => runExample(`examples/adapters/${example}.ts`);

const test = suite('adapters/examples');

/** The installed AI SDK's major version: its tool span is `ai.toolCall` in 6, `execute_tool {tool}` (of `@ai-sdk/otel`) in 7. */
const aiMajor = Number((createRequire(import.meta.url)('ai/package.json') as { version: string }).version.split('.')[0]);

test(`ai-sdk: approval requested, approved on resume, one enriched SDK tool span (AI SDK ${aiMajor})`, async () => {
  const r = await run('ai-sdk');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /approval requested for refund/);
  assert.match(r.stdout, /Refund done\./);
  const toolSpans = r.stdout.split('\n').filter(l => /[✓✗] (ai\.toolCall|execute_tool refund) /.test(l));
  assert.is(toolSpans.length, 1, `one tool span:\n${r.stdout}`);
  // The SDK's span, not ours: a child in the SDK's run tree (`ai.generateText` in 6, `invoke_agent` in 7).
  assert.match(toolSpans[0], aiMajor < 7 ? /^[├└]─ ✓ ai\.toolCall .*review→approved/ : /^[├└]─ ✓ execute_tool refund .*review→approved/);
  assert.match(r.stdout, aiMajor < 7 ? /^✓ ai\.generateText /m : /^✓ invoke_agent /m);
});

test('openai-agents: interrupted, approved, one execute_tool span', async () => {
  const r = await run('openai-agents');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /interrupted for approval: \[ 'refund' \]/);
  assert.match(r.stdout, /✓ execute_tool refund .*review→approved/);
  assert.match(r.stdout, /review approved by openai-agents/);
  assert.not.match(r.stdout, /no-op/);
});

test('langchain: the graph pauses for review and resumes with the answer', async () => {
  const r = await run('langchain');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /type: 'agent_safety\.review'/);
  assert.match(r.stdout, /refunded 80 on o-42/);
  assert.match(r.stdout, /review approved by alice/);
});

test('mcp: the small refund runs, the large one is refused as a tool error, all in the agent\'s trace', async () => {
  const r = await run('mcp');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /refund 80: .*refunded 80/);
  assert.match(r.stdout, /refund 5000: refused/);
  const traces = new Set(r.stdout.match(/^trace [0-9a-f]{32}$/gm));
  assert.is(traces.size, 1, 'one trace');
});

test.run();
