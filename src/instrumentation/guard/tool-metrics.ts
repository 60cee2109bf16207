/**
 * `gen_ai.execute_tool.duration`: the one metric recorded per call. Its
 * attribute sets are cached per guard, so a call pays for one `record`.
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, Histogram } from '@opentelemetry/api';
import { meterBound } from '../shared/telemetry.js';
import { METRIC_GEN_AI_EXECUTE_TOOL_DURATION } from '../shared/semconv.js';

/**
 * Bucket boundaries in seconds, from 5 ms (a cache hit) to 5 minutes (a slow
 * external job). The SDK's default buckets are for milliseconds and would
 * put every tool call in one bucket.
 */
export const TOOL_DURATION_BUCKETS_S: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** The tool-duration histogram on the current meter. */
export const toolDurationHistogram: () => Histogram<Attributes> = meterBound(meter =>
  meter.createHistogram(METRIC_GEN_AI_EXECUTE_TOOL_DURATION, {
    description: 'Duration of guarded tool calls, as the execute_tool span measures it.',
    unit: 's',
    valueType: ValueType.DOUBLE,
    advice: { explicitBucketBoundaries: [...TOOL_DURATION_BUCKETS_S] },
  }),
);
