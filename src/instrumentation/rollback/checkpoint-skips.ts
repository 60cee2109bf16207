/**
 * Reports the files a `FileCheckpointStore` skips (not its checkpoints, or
 * corrupt) through `diag` and the counter
 * `agent_safety.rollback.checkpoint_files_skipped` (unit `{file}`, by
 * `gen_ai.agent.id`). Installed by the bootstrap (`startAgentSafety`,
 * `register`); call {@link reportCheckpointFileSkips} yourself otherwise.
 *
 * @module
 */
import { ValueType, diag } from '@opentelemetry/api';
import type { Attributes, Meter, ObservableCallback, ObservableCounter } from '@opentelemetry/api';
import { onCheckpointFileSkipped } from '../../patterns/rollback/checkpoint-file-skips.js';
import { ATTR_GEN_AI_AGENT_ID, METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINT_FILES_SKIPPED } from '../shared/semconv.js';
import { meterBound } from '../shared/telemetry.js';

const skipped = new Map<string, { attrs: Attributes; count: number }>();

const instruments: () => { counter: ObservableCounter; report: ObservableCallback } = meterBound(
  (meter: Meter) => {
    const counter = meter.createObservableCounter(METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINT_FILES_SKIPPED, {
      description: 'Files a FileCheckpointStore skipped because they are not its checkpoints or are corrupt (the others are recovered).',
      unit: '{file}',
      valueType: ValueType.INT,
    });
    const report: ObservableCallback = result => {
      for (const s of skipped.values()) result.observe(s.count, s.attrs);
    };
    counter.addCallback(report);
    return { counter, report };
  },
  i => i.counter.removeCallback(i.report),
);

let stop: (() => void) | undefined;

/** Starts reporting skipped checkpoint files (idempotent). Returns the function that stops it. */
export function reportCheckpointFileSkips(): () => void {
  instruments();
  stop ??= onCheckpointFileSkipped(({ agentId, file, reason }) => {
    let s = skipped.get(agentId);
    if (s === undefined) {
      s = { attrs: Object.freeze({ [ATTR_GEN_AI_AGENT_ID]: agentId }), count: 0 };
      skipped.set(agentId, s);
    }
    s.count++;
    diag.warn(`agent-safety-otel: checkpoint store: ${file} was skipped (${reason}); the other checkpoints are recovered`);
  });
  return () => {
    stop?.();
    stop = undefined;
  };
}
