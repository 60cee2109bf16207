/**
 * `agent_safety.gate.decisions`: how many gate decisions were made, by
 * `verdict` (what the gate recommended), `enforced` (what happened) and the
 * acting agent (`gen_ai.agent.id`, when known).
 *
 * A decision bumps a plain integer in a fixed 3 × 4 table per agent; an observable
 * counter reports the table at collection time. No metric call per decision.
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, ObservableCounter, ObservableResult } from '@opentelemetry/api';
import { GATE_ENFORCEMENTS, GATE_VERDICTS } from '../../patterns/gate/impact.js';
import type { GateEnforcement, GateVerdict } from '../../patterns/gate/impact.js';
import { ATTR_GEN_AI_AGENT_ID, METRIC_AGENT_SAFETY_GATE_DECISIONS, METRIC_ATTR_ENFORCED, METRIC_ATTR_VERDICT } from '../shared/semconv.js';
import { meterBound } from '../shared/telemetry.js';

const CELLS = GATE_VERDICTS.length * GATE_ENFORCEMENTS.length;
const VERDICT_INDEX: Record<GateVerdict, number> = { proceed: 0, review: 1, block: 2 };
const ENFORCED_INDEX: Record<GateEnforcement, number> = { proceeded: 0, approved: 1, denied: 2, blocked: 3 };

/** One agent's counts and the attribute sets of its cells. */
interface AgentTable {
  counts: Float64Array;
  attributes: Attributes[];
}

/** By agent id ('' when the decision named no agent). Agents are few: low cardinality. */
const tables = new Map<string, AgentTable>();

function tableFor(agentId: string): AgentTable {
  let table = tables.get(agentId);
  if (table === undefined) {
    const base: Attributes = agentId === '' ? {} : { [ATTR_GEN_AI_AGENT_ID]: agentId };
    table = {
      counts: new Float64Array(CELLS),
      attributes: GATE_VERDICTS.flatMap(verdict =>
        GATE_ENFORCEMENTS.map(enforced => Object.freeze({ ...base, [METRIC_ATTR_VERDICT]: verdict, [METRIC_ATTR_ENFORCED]: enforced })),
      ),
    };
    tables.set(agentId, table);
  }
  return table;
}

function observe(result: ObservableResult): void {
  for (const { counts, attributes } of tables.values()) {
    for (let i = 0; i < CELLS; i++) {
      if (counts[i] > 0) result.observe(counts[i], attributes[i]);
    }
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

/** Counts one decision of `agentId`'s (and makes sure the counter is reported on the current meter). */
export function countGateDecision(verdict: GateVerdict, enforced: GateEnforcement, agentId: string | undefined): void {
  tableFor(agentId ?? '').counts[VERDICT_INDEX[verdict] * GATE_ENFORCEMENTS.length + ENFORCED_INDEX[enforced]]++;
  instruments();
}
