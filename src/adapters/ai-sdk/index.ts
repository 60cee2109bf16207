/**
 * `agent-safety-otel/ai-sdk`: the Vercel AI SDK adapter (AI SDK 6 and 7).
 *
 * @packageDocumentation
 */
export { approvalFromMessages, guardTools, toolApproval } from './guard-tools.js';
export type { AiSdkApprovalStatus, AiSdkToolCallOptions, GuardToolsOptions, ToolInput } from './guard-tools.js';
export type { ToolSafetyOptions } from '../shared/tool-safety.js';
