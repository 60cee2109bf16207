/**
 * The audit chain as a transparency log: every record is a leaf of one RFC
 * 6962 tree per log (its entry is the record's 32-byte chain hash), kept
 * as an O(log n) frontier, and the log's checkpoints are C2SP signed notes.
 * Chains of later process runs continue the same tree. Pure: no
 * OpenTelemetry, no I/O.
 *
 * @module
 */
import type { KeyObject } from 'node:crypto';
import { MerkleFrontier } from './merkle.js';
import type { MerkleFrontierState } from './merkle.js';
import { ed25519NoteSigner } from './signed-note.js';
import type { NoteSigner } from './signed-note.js';
import { signCheckpoint } from './tlog-checkpoint.js';

export { AUDIT_TLOG_NOTE_KEY } from './audit-record.js';

/** Where a log's tree stands: what a restart continues. */
export interface AuditTreeState {
  /** The log's origin (checkpoint first line, signing key name). */
  readonly origin: string;
  readonly tree: MerkleFrontierState;
  /** Where each chain's seq 0 is among the log's leaves, in log order. */
  readonly chains: ReadonlyArray<{ readonly chainId: string; readonly start: number }>;
}

/** The tree of a log, appended to as records are chained, and its signed checkpoints. */
export class AuditLogTree {
  readonly origin: string;
  private readonly _frontier: MerkleFrontier;
  private readonly _signer: NoteSigner | undefined;

  /**
   * @param state where the log stands (a new log: size 0)
   * @param signingKey the log's Ed25519 key; its note key name is the origin
   */
  constructor(state: AuditTreeState, signingKey?: KeyObject) {
    this.origin = state.origin;
    this._frontier = MerkleFrontier.fromState(state.tree);
    this._signer = signingKey === undefined ? undefined : ed25519NoteSigner(state.origin, signingKey);
  }

  /** Leaves so far. */
  get size(): number {
    return this._frontier.size;
  }

  /** Appends a record by its chain hash (64 hex digits). */
  appendRecordHash(hexHash: string): void {
    this._frontier.appendHexEntry(hexHash);
  }

  /** The root hash now. */
  root(): Buffer {
    return this._frontier.root();
  }

  /** The signed checkpoint note of the tree now; undefined without a signing key. */
  checkpointNote(): string | undefined {
    if (this._signer === undefined) return undefined;
    return signCheckpoint({ origin: this.origin, size: this._frontier.size, root: this._frontier.root() }, [this._signer]);
  }
}
