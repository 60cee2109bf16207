/**
 * The Vercel AI SDK adapter: one line guards a tool set; the gate's review
 * becomes the SDK's tool approval; the approval the user gives on resume is
 * the review's answer. A mock model, no network. Runs with AI SDK 6 or 7.
 *
 *   npx tsx examples/adapters/ai-sdk.ts
 */
import { createRequire } from 'node:module';
import { generateText, stepCountIs, tool } from 'ai';
import type { ModelMessage } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { z } from 'zod';
import { guardTools, toolApproval } from '../../src/adapters/ai-sdk/index.js';
import { startAgentSafety } from '../../src/bootstrap/index.js';
import { CounterfactualEstimator } from '../../src/index.js';

const safety = startAgentSafety({ serviceName: 'ai-sdk-example', console: true, audit: false, instrumentation: { captureArguments: true } });

const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };
// A fake model: asks for a refund of 80, then answers with text once a tool result is in.
const model = new MockLanguageModelV3({
  doGenerate: async ({ prompt }) =>
    prompt.some(m => m.role === 'tool' && m.content.some(p => p.type === 'tool-result'))
      ? { content: [{ type: 'text', text: 'Refund done.' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] }
      : {
          content: [{ type: 'tool-call', toolCallId: 'call_1', toolName: 'refund', input: JSON.stringify({ orderId: 'o-42', amount: 80 }) }],
          finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
          usage,
          warnings: [],
        },
});

const tools = guardTools(
  {
    refund: tool({
      description: 'Refunds an order',
      inputSchema: z.object({ orderId: z.string(), amount: z.number() }),
      execute: async ({ orderId, amount }) => ({ orderId, refunded: amount }),
    }),
  },
  {
    // Refunds over 50 go to a human: the AI SDK asks for approval.
    gate: new CounterfactualEstimator({ impactModel: (_tool, input) => ((input as { amount: number }).amount > 50 ? 0.5 : 0.1) }),
  },
);

// The SDK's own spans, which the guard writes onto: AI SDK 6 makes them itself (`experimental_telemetry`);
// 7 through `@ai-sdk/otel`, and asks for approval through `toolApproval` (6 through the tools' `needsApproval`).
const aiMajor = Number((createRequire(import.meta.url)('ai/package.json') as { version: string }).version.split('.')[0]);
let sdkOptions: object = { experimental_telemetry: { isEnabled: true } };
if (aiMajor >= 7) {
  const otel = '@ai-sdk/otel'; // imported by name: only AI SDK 7 installs have it
  const { OpenTelemetry } = (await import(otel)) as { OpenTelemetry: new () => object };
  sdkOptions = { telemetry: { integrations: [new OpenTelemetry()] }, toolApproval: toolApproval(tools) };
}

const messages: ModelMessage[] = [{ role: 'user', content: 'Refund order o-42' }];
const first = await generateText({ model, tools, messages, stopWhen: stepCountIs(3), ...sdkOptions });
const request = first.content.find(p => p.type === 'tool-approval-request');
console.log('approval requested for', request?.toolCall.toolName, request?.toolCall.input);

// The user approves; the conversation resumes with the approval response.
messages.push(...first.response.messages, {
  role: 'tool',
  content: [{ type: 'tool-approval-response', approvalId: request!.approvalId, approved: true, reason: 'checked the order' }],
});
const second = await generateText({ model, tools, messages, stopWhen: stepCountIs(3), ...sdkOptions });
console.log(second.text);
await safety.shutdown();
