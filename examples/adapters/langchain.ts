/**
 * The LangChain adapter: `withSafety(tool)` is a guarded copy any LangChain
 * agent or ToolNode accepts; in LangGraph, the gate's review pauses the graph
 * through `interrupt()` and `Command({ resume })` answers it. No model, no network.
 *
 *   npx tsx examples/adapters/langchain.ts
 */
import { AIMessage } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { Command, END, MemorySaver, MessagesAnnotation, START, StateGraph, interrupt } from '@langchain/langgraph';
import { ToolNode } from '@langchain/langgraph/prebuilt';
import { z } from 'zod';
import { withSafety } from '../../src/adapters/langchain/index.js';
import { startAgentSafety } from '../../src/bootstrap/index.js';
import { CounterfactualEstimator } from '../../src/index.js';

const safety = startAgentSafety({ serviceName: 'langchain-example', console: true, audit: false, instrumentation: { captureArguments: true } });

const refund = withSafety(
  tool(async ({ orderId, amount }: { orderId: string; amount: number }) => `refunded ${amount} on ${orderId}`, {
    name: 'refund',
    description: 'Refunds an order',
    schema: z.object({ orderId: z.string(), amount: z.number() }),
  }),
  { gate: new CounterfactualEstimator({ impactModel: (_tool, input) => ((input as { amount: number }).amount > 50 ? 0.5 : 0.1) }), interrupt },
);

// A graph that runs the tool calls of the last AI message (a model node would produce it).
const graph = new StateGraph(MessagesAnnotation)
  .addNode('tools', new ToolNode([refund]))
  .addEdge(START, 'tools')
  .addEdge('tools', END)
  .compile({ checkpointer: new MemorySaver() });
const config = { configurable: { thread_id: 'support-1' } };
const call = new AIMessage({ content: '', tool_calls: [{ id: 'call_1', name: 'refund', args: { orderId: 'o-42', amount: 80 }, type: 'tool_call' }] });

const paused = await graph.invoke({ messages: [call] }, config);
console.log('paused for review:', (paused as { __interrupt__?: { value: unknown }[] }).__interrupt__?.[0]?.value);
const done = await graph.invoke(new Command({ resume: { approved: true, reviewer: 'alice' } }), config);
console.log(done.messages.at(-1)?.content);
await safety.shutdown();
