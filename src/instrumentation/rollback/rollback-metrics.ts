/**
 * The rollback metrics. Rollbacks and evictions are counted here, in plain
 * numbers, and reported through observable counters when the SDK collects:
 * a checkpoint that evicts another pays for an increment, not for a
 * `counter.add` with attributes.
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, BatchObservableResult, Meter, ObservableCounter } from '@opentelemetry/api';
import type { CompensationOutcome } from '../../patterns/rollback/rollback-report.js';
import {
  ATTR_GEN_AI_AGENT_ID,
  METRIC_AGENT_SAFETY_ROLLBACK_CHECKPOINTS_EVICTED,
  METRIC_AGENT_SAFETY_ROLLBACK_COMPENSATIONS,
  METRIC_ATTR_OUTCOME,
  METRIC_ATTR_SAFE_POINT,
} from '../shared/semconv.js';
import { meterBound } from '../shared/telemetry.js';

/** The compensation outcomes the metric reports (a `restored` checkpoint had nothing to compensate). */
type CountedOutcome = Exclude<CompensationOutcome, 'restored'>;

/** One agent's totals since the process started, with the attribute sets to report them. */
interface AgentTotals {
  compensations: Record<CountedOutcome, number>;
  evicted: { safePoint: number; other: number };
  outcomeAttrs: Record<CountedOutcome, Attributes>;
  safePointAttrs: Attributes;
  otherAttrs: Attributes;
}

/** By agent id, over every rollback manager of that agent. Agents are few: low cardinality. */
const totals = new Map<string, AgentTotals>();

function totalsOf(agentId: string): AgentTotals {
  let t = totals.get(agentId);
  if (t === undefined) {
    const agent = { [ATTR_GEN_AI_AGENT_ID]: agentId };
    t = {
      compensations: { undone: 0, failed: 0, skipped: 0 },
      evicted: { safePoint: 0, other: 0 },
      outcomeAttrs: {
        undone: Object.freeze({ ...agent, [METRIC_ATTR_OUTCOME]: 'undone' }),
        failed: Object.freeze({ ...agent, [METRIC_ATTR_OUTCOME]: 'failed' }),
        skipped: Object.freeze({ ...agent, [METRIC_ATTR_OUTCOME]: 'skipped' }),
      },
      safePointAttrs: Object.freeze({ ...agent, [METRIC_ATTR_SAFE_POINT]: true }),
      otherAttrs: Object.freeze({ ...agent, [METRIC_ATTR_SAFE_POINT]: false }),
    };
    totals.set(agentId, t);
  }
  return t;
}

/** Makes `agentId`'s series report (zeros until something is counted). */
export function registerRollbackAgent(agentId: string): void {
  totalsOf(agentId);
}

/** Counts one compensation of `agentId`'s (an undo hook run, or one skipped). */
export function countCompensation(agentId: string, outcome: CompensationOutcome): void {
  if (outcome !== 'restored') totalsOf(agentId).compensations[outcome]++;
}

/** Counts one checkpoint of `agentId`'s evicted at the depth limit. */
export function countEviction(agentId: string, safePoint: boolean): void {
  const t = totalsOf(agentId);
  if (safePoint) t.evicted.safePoint++;
  else t.evicted.other++;
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
      for (const t of totals.values()) {
        for (const outcome of ['undone', 'failed', 'skipped'] as const) {
          result.observe(compensations, t.compensations[outcome], t.outcomeAttrs[outcome]);
        }
        result.observe(evicted, t.evicted.safePoint, t.safePointAttrs);
        result.observe(evicted, t.evicted.other, t.otherAttrs);
      }
    };
    meter.addBatchObservableCallback(report, [compensations, evicted]);
    return { compensations, evicted, report };
  },
  (instruments, meter) => meter.removeBatchObservableCallback(instruments.report, [instruments.compensations, instruments.evicted]),
);
