/**
 * `gen_ai.invoke_agent.duration`: one record per `invokeAgent` run, as the
 * GenAI conventions define it (histogram in seconds; `gen_ai.agent.name`,
 * `gen_ai.request.model` when given, `error.type` when the run failed).
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, Histogram } from '@opentelemetry/api';
import { meterBound } from '../shared/telemetry.js';
import { METRIC_GEN_AI_INVOKE_AGENT_DURATION } from '../shared/semconv.js';

/**
 * Bucket boundaries in seconds: the ones the GenAI conventions advise for
 * `gen_ai.invoke_agent.duration` (0.1 s doubling up to 409.6 s).
 */
export const INVOKE_AGENT_DURATION_BUCKETS_S: readonly number[] = [
  0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8, 409.6,
];

/** The agent-run duration histogram on the current meter. */
export const agentDurationHistogram: () => Histogram<Attributes> = meterBound(meter =>
  meter.createHistogram(METRIC_GEN_AI_INVOKE_AGENT_DURATION, {
    description: 'End-to-end duration of agent invocations (invokeAgent runs), as the invoke_agent span measures it.',
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: [...INVOKE_AGENT_DURATION_BUCKETS_S] },
  }),
);
