/**
 * The OpenAI Agents SDK adapter: `safeTool` is `tool()` with the guard
 * inside; the gate's review interrupts the run, `state.approve` resumes it.
 * A scripted model, no network (the SDK's own trace export is switched off).
 *
 *   npx tsx examples/adapters/openai-agents.ts
 */
import { Agent, Runner, setTracingDisabled } from '@openai/agents-core';
import { ScriptedModel, assistantMessage, functionCall } from '@openai/agents-core/testing';
import { z } from 'zod';
import { safeTool } from '../../src/adapters/openai-agents/index.js';
import { startAgentSafety } from '../../src/bootstrap/index.js';
import { CounterfactualEstimator } from '../../src/index.js';

setTracingDisabled(true); // OpenTelemetry is the record here; nothing goes to OpenAI's trace backend
const safety = startAgentSafety({ serviceName: 'openai-agents-example', console: true, audit: false, instrumentation: { captureArguments: true } });

const refund = safeTool(
  {
    name: 'refund',
    description: 'Refunds an order',
    parameters: z.object({ orderId: z.string(), amount: z.number() }),
    execute: async ({ orderId, amount }) => `refunded ${amount} on ${orderId}`,
  },
  { gate: new CounterfactualEstimator({ impactModel: (_tool, input) => ((input as { amount: number }).amount > 50 ? 0.5 : 0.1) }) },
);

const model = new ScriptedModel([[functionCall('refund', { orderId: 'o-42', amount: 80 }, { callId: 'call_1' })], [assistantMessage('Refund done.')]]);
const agent = new Agent({ name: 'support', instructions: 'Help with refunds', model, tools: [refund] });
const runner = new Runner();

const first = await runner.run(agent, 'Refund order o-42');
console.log('interrupted for approval:', first.interruptions.map(i => i.name));
first.state.approve(first.interruptions[0]); // a human said yes
const second = await runner.run(agent, first.state);
console.log(second.finalOutput);
await safety.shutdown();
