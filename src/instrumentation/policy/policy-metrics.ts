/**
 * `agent_safety.policy.decisions`: policy decisions by `decision` (`allow`,
 * `deny`), `reason`, the acting agent (`gen_ai.agent.id`, when known) and the
 * tool (`gen_ai.tool.name`).
 *
 * A decision bumps a plain number in a fixed table per (agent, tool); an
 * observable counter reports the tables at collection time. No metric call
 * per decision.
 *
 * @module
 */
import { ValueType } from '@opentelemetry/api';
import type { Attributes, ObservableCounter, ObservableResult } from '@opentelemetry/api';
import { POLICY_REASONS } from '../../patterns/policy/policy-denied-error.js';
import type { PolicyReason } from '../../patterns/policy/policy-denied-error.js';
import { ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_TOOL_NAME, METRIC_AGENT_SAFETY_POLICY_DECISIONS, METRIC_ATTR_DECISION, METRIC_ATTR_REASON } from '../shared/semconv.js';
import { meterBound } from '../shared/telemetry.js';

const REASON_INDEX = Object.fromEntries(POLICY_REASONS.map((r, i) => [r, i])) as Record<PolicyReason, number>;

/** The counts of one (agent, tool), one cell per reason, and each cell's attributes. */
export interface PolicyDecisionTable {
  readonly counts: Float64Array;
  readonly attributes: readonly Attributes[];
}

/** By agent id, then tool ('' when the decision named no agent). Agents and tools are few: low cardinality. */
const tables = new Map<string, Map<string, PolicyDecisionTable>>();

/** The table of decisions about `agentId` calling `tool`: a guard keeps it, so a decision costs one increment. */
export function policyDecisionTable(agentId: string | undefined, tool: string): PolicyDecisionTable {
  const agent = agentId ?? '';
  let byTool = tables.get(agent);
  if (byTool === undefined) tables.set(agent, (byTool = new Map()));
  let table = byTool.get(tool);
  if (table === undefined) {
    const base: Attributes = agent === '' ? { [ATTR_GEN_AI_TOOL_NAME]: tool } : { [ATTR_GEN_AI_AGENT_ID]: agent, [ATTR_GEN_AI_TOOL_NAME]: tool };
    table = {
      counts: new Float64Array(POLICY_REASONS.length),
      attributes: POLICY_REASONS.map(reason =>
        Object.freeze({ ...base, [METRIC_ATTR_DECISION]: reason === 'allowed' ? 'allow' : 'deny', [METRIC_ATTR_REASON]: reason }),
      ),
    };
    byTool.set(tool, table);
  }
  return table;
}

function observe(result: ObservableResult): void {
  for (const byTool of tables.values()) {
    for (const { counts, attributes } of byTool.values()) {
      for (let i = 0; i < counts.length; i++) if (counts[i] > 0) result.observe(counts[i], attributes[i]);
    }
  }
}

const instruments = meterBound<ObservableCounter>(
  meter => {
    const counter = meter.createObservableCounter(METRIC_AGENT_SAFETY_POLICY_DECISIONS, {
      description: 'Policy decisions about tool calls, by decision (allow, deny) and reason.',
      unit: '{decision}',
      valueType: ValueType.INT,
    });
    counter.addCallback(observe);
    return counter;
  },
  counter => counter.removeCallback(observe),
);

/** Counts one decision in `table` (and makes sure the counter is reported on the current meter). */
export function countPolicyDecision(table: PolicyDecisionTable, reason: PolicyReason): void {
  table.counts[REASON_INDEX[reason]]++;
  instruments();
}
