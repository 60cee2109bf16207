// The optional audit sinks, for the synchronous startAgentSafety (see optional-sinks.ts).
import './sinks.js';
export { ContainedSpanProcessor, installDiagLogger, startAgentSafety } from './start.js';
export { AgentSafetyAlreadyStartedError, isAgentSafetyAlreadyStartedError } from './single-start.js';
export type { AgentSafetyHandle, AgentSafetyOptions, AuditOptions, AuditTlogOptions, OtlpOptions, PrometheusOptions } from './start.js';
export { AGENT_SAFETY_ENV, AuditKeyConfigError, auditOptionsFromEnv, diagLevelFromEnv, optionsFromEnv, samplerFromEnv } from './env.js';
export type { Env, ReadFile } from './env.js';
export { AgentSafetyInstrumentation } from '../instrumentation/shared/instrumentation.js';
export type { AgentSafetyInstrumentationConfig } from '../instrumentation/shared/instrumentation.js';
export type { ExplanationEvents } from '../instrumentation/shared/telemetry.js';
export type { EventLogger, EventLoggerProvider, EventLogRecord } from '../instrumentation/shared/logs.js';
