/**
 * The MCP adapter: `guardServer` guards every tool a server registers;
 * `guardClient` sends the call id and the trace context in `_meta`, so the
 * server's span continues the client's trace (here over the in-memory
 * transport; stdio between processes works the same). No network.
 *
 *   npx tsx examples/adapters/mcp.ts
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { guardClient, guardServer } from '../../src/adapters/mcp/index.js';
import { startAgentSafety } from '../../src/bootstrap/index.js';
import { CounterfactualEstimator, invokeAgent } from '../../src/index.js';

const safety = startAgentSafety({ serviceName: 'mcp-example', console: true, audit: false, instrumentation: { captureArguments: true } });

const server = guardServer(new McpServer({ name: 'payments', version: '1.0.0' }), {
  tools: { refund: { gate: new CounterfactualEstimator({ impactModel: (_tool, input) => ((input as { amount: number }).amount > 500 ? 0.9 : 0.1) }) } },
});
server.registerTool('refund', { description: 'Refunds an order', inputSchema: { orderId: z.string(), amount: z.number() } }, async ({ orderId, amount }) => ({
  content: [{ type: 'text', text: `refunded ${amount} on ${orderId}` }],
}));

const client = guardClient(new Client({ name: 'support-agent', version: '1.0.0' }));
const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
await Promise.all([server.connect(serverSide), client.connect(clientSide)]);

await invokeAgent({ name: 'support-agent' }, async () => {
  const ok = await client.callTool({ name: 'refund', arguments: { orderId: 'o-42', amount: 80 } });
  console.log('refund 80:', JSON.stringify(ok.content));
  const refused = await client.callTool({ name: 'refund', arguments: { orderId: 'o-43', amount: 5000 } });
  console.log('refund 5000:', refused.isError ? 'refused' : 'ran', JSON.stringify(refused.content));
});
await client.close();
await server.close();
await safety.shutdown();
