/**
 * `agent_safety.gate.decisions`: how many gate decisions were made, by
 * `verdict` (what the gate recommended) and `enforced` (what happened).
 *
 * A decision bumps a plain integer in a fixed 3 × 4 table; an observable
 * counter reports the table at collection time. No metric call per decision.
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, ObservableCounter, ObservableResult } from '@opentelemetry/api';
import { GATE_ENFORCEMENTS, GATE_VERDICTS } from '../patterns/impact.js';
import type { GateEnforcement, GateVerdict } from '../patterns/impact.js';
import { METRIC_AGENT_SAFETY_GATE_DECISIONS, METRIC_ATTR_ENFORCED, METRIC_ATTR_VERDICT } from './semconv.js';
import { meterBound } from './telemetry.js';

const counts = new Float64Array(GATE_VERDICTS.length * GATE_ENFORCEMENTS.length);
const cellAttributes: Attributes[] = GATE_VERDICTS.flatMap(verdict =>
  GATE_ENFORCEMENTS.map(enforced => Object.freeze({ [METRIC_ATTR_VERDICT]: verdict, [METRIC_ATTR_ENFORCED]: enforced })),
);
const VERDICT_INDEX: Record<GateVerdict, number> = { proceed: 0, review: 1, block: 2 };
const ENFORCED_INDEX: Record<GateEnforcement, number> = { proceeded: 0, approved: 1, denied: 2, blocked: 3 };

function observe(result: ObservableResult): void {
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0) result.observe(counts[i], cellAttributes[i]);
  }
}

const instruments = meterBound<ObservableCounter>(
  meter => {
    const counter = meter.createObservableCounter(METRIC_AGENT_SAFETY_GATE_DECISIONS, {
      description: 'Impact gate decisions, by the verdict the gate recommended and the action enforced.',
      unit: '{decision}',
      valueType: ValueType.INT,
    });
    counter.addCallback(observe);
    return counter;
  },
  counter => counter.removeCallback(observe),
);

/** Counts one decision (and makes sure the counter is reported on the current meter). */
export function countGateDecision(verdict: GateVerdict, enforced: GateEnforcement): void {
  counts[VERDICT_INDEX[verdict] * GATE_ENFORCEMENTS.length + ENFORCED_INDEX[enforced]]++;
  instruments();
}
