/**
 * `agent-safety-otel/openai-agents`: the OpenAI Agents SDK adapter.
 *
 * @packageDocumentation
 */
export { safeTool } from './safe-tool.js';
export type { AgentsToolCallDetails } from './safe-tool.js';
export type { ToolSafetyOptions } from '../shared/tool-safety.js';
