/**
 * The rollback metrics. Rollbacks and evictions are counted here, in plain
 * numbers, and reported through observable counters when the SDK collects:
 * a checkpoint that evicts another pays for an increment, not for a
 * `counter.add` with attributes.
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { BatchObservableResult, Meter, ObservableCounter } from '@opentelemetry/api';
import type { CompensationOutcome } from '../patterns/rollback-report.js';
import {
  METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED,
  METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS,
  METRIC_ATTR_OUTCOME,
  METRIC_ATTR_SAFE_POINT,
} from './semconv.js';
import { meterBound } from './telemetry.js';

/** The compensation outcomes the metric reports (a `restored` checkpoint had nothing to compensate). */
type CountedOutcome = Exclude<CompensationOutcome, 'restored'>;

/** Totals since the process started, over every rollback manager. */
const totals = {
  compensations: { undone: 0, failed: 0, skipped: 0 } as Record<CountedOutcome, number>,
  evicted: { safePoint: 0, other: 0 },
};

const OUTCOME_ATTRS: Record<CountedOutcome, { [METRIC_ATTR_OUTCOME]: CountedOutcome }> = {
  undone: Object.freeze({ [METRIC_ATTR_OUTCOME]: 'undone' }),
  failed: Object.freeze({ [METRIC_ATTR_OUTCOME]: 'failed' }),
  skipped: Object.freeze({ [METRIC_ATTR_OUTCOME]: 'skipped' }),
};
const SAFE_POINT_ATTRS = Object.freeze({ [METRIC_ATTR_SAFE_POINT]: true });
const OTHER_ATTRS = Object.freeze({ [METRIC_ATTR_SAFE_POINT]: false });

/** Counts one compensation (an undo hook run, or one skipped). */
export function countCompensation(outcome: CompensationOutcome): void {
  if (outcome !== 'restored') totals.compensations[outcome]++;
}

/** Counts one evicted checkpoint. */
export function countEviction(safePoint: boolean): void {
  if (safePoint) totals.evicted.safePoint++;
  else totals.evicted.other++;
}

interface RollbackInstruments {
  compensations: ObservableCounter;
  evicted: ObservableCounter;
  report: (result: BatchObservableResult) => void;
}

/**
 * The observable counters on the current meter. Touch it once (a rollback
 * manager does, when it is created) and the counters report from then on.
 */
export const rollbackInstruments: () => RollbackInstruments = meterBound(
  (meter: Meter): RollbackInstruments => {
    const compensations = meter.createObservableCounter(METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS, {
      description: 'Compensations of rollbacks by outcome: undo hooks that succeeded or failed, and those skipped after a failure.',
      unit: '{compensation}',
      valueType: ValueType.INT,
    });
    const evicted = meter.createObservableCounter(METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED, {
      description: 'Checkpoints evicted at the depth limit of a rollback manager (their actions can no longer be undone).',
      unit: '{checkpoint}',
      valueType: ValueType.INT,
    });
    const report = (result: BatchObservableResult): void => {
      for (const outcome of ['undone', 'failed', 'skipped'] as const) {
        result.observe(compensations, totals.compensations[outcome], OUTCOME_ATTRS[outcome]);
      }
      result.observe(evicted, totals.evicted.safePoint, SAFE_POINT_ATTRS);
      result.observe(evicted, totals.evicted.other, OTHER_ATTRS);
    };
    meter.addBatchObservableCallback(report, [compensations, evicted]);
    return { compensations, evicted, report };
  },
  (instruments, meter) => meter.removeBatchObservableCallback(instruments.report, [instruments.compensations, instruments.evicted]),
);
