/**
 * The audit's admission hook: how a guarded call asks, once at the start of
 * its pipeline, "can the audit accept my record now?" without this layer
 * knowing any exporter. An audit processor (`AuditChainSpanProcessor`)
 * registers a gate here when it is created and removes it at shutdown.
 *
 * With no gate registered (no audit, or an audit without a cap) the check
 * is one length test.
 *
 * @module
 */

/**
 * A gate: `undefined` when a record can be accepted now; an error to reject
 * the call with (it did not run); or a promise that resolves when there is
 * room (and rejects with the error when none comes in time).
 */
export type AuditAdmissionGate = () => undefined | Error | Promise<void>;

const gates: AuditAdmissionGate[] = [];

/** Registers `gate`; returns the function that removes it. @internal */
export function registerAuditAdmission(gate: AuditAdmissionGate): () => void {
  gates.push(gate);
  return () => {
    const i = gates.indexOf(gate);
    if (i >= 0) gates.splice(i, 1);
  };
}

/**
 * Asks every registered gate. Returns undefined when the call may go on at
 * once, a promise to await first when a gate makes it wait; throws the
 * gate's error (an `AuditUnavailableError`) when the call must not run.
 */
export function admitAudit(): Promise<void> | undefined {
  if (gates.length === 0) return undefined;
  for (const gate of gates) {
    const verdict = gate();
    if (verdict === undefined) continue;
    if (verdict instanceof Error) throw verdict;
    return verdict;
  }
  return undefined;
}
