/**
 * `agent-safety-otel/langchain`: the LangChain.js / LangGraph.js adapter.
 *
 * @packageDocumentation
 */
export { toReviewAnswer, withSafety } from './with-safety.js';
export type { LangChainToolConfig, ReviewInterrupt, WithSafetyOptions } from './with-safety.js';
export type { ToolSafetyOptions } from '../shared/tool-safety.js';
