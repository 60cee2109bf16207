export { startAgentSafety } from './start.js';
export type { AgentSafetyHandle, AgentSafetyOptions, OtlpOptions, PrometheusOptions } from './start.js';
export { AGENT_SAFETY_ENV, optionsFromEnv } from './env.js';
export type { Env } from './env.js';
