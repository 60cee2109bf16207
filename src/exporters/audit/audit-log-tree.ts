/**
 * Where the audit processor finds the transparency log's tree class
 * (`AuditLogTree`: the Merkle frontier, signed notes and checkpoints, four
 * modules) without loading it for every start: it is given here by the
 * modules that bring a tree, the tiles sink and the exporters entry, so a
 * process that publishes no log (the register entry's default) never loads
 * it. A processor is given a tree state only through one of them.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import type { AuditLogTree, AuditTreeState } from '../../patterns/audit/audit-tlog.js';

type AuditLogTreeClass = new (state: AuditTreeState, signingKey?: KeyObject) => AuditLogTree;

let treeClass: AuditLogTreeClass | undefined;

/** Makes the tree class available to audit processors (idempotent). */
export function provideAuditLogTree(tree: AuditLogTreeClass): void {
  treeClass = tree;
}

/** A log tree continuing `state`; throws when no module brought the class (a processor made through neither entry point). */
export function newAuditLogTree(state: AuditTreeState, signingKey: KeyObject | undefined): AuditLogTree {
  if (treeClass === undefined) {
    throw new Error('agent-safety-otel: the audit processor was given a transparency log (tlog) but the log is not loaded; import AuditChainSpanProcessor from agent-safety-otel/exporters');
  }
  return new treeClass(state, signingKey);
}
