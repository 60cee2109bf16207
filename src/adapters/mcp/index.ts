/**
 * `agent-safety-otel/mcp`: the MCP TypeScript SDK adapter (server and client).
 *
 * @packageDocumentation
 */
export { MCP_META_CALL_ID, guardClient, guardServer, mcpCallId } from './guard-mcp.js';
export type { GuardClientOptions, GuardServerOptions, McpHandlerExtra } from './guard-mcp.js';
export type { ToolSafetyOptions } from '../shared/tool-safety.js';
