/**
 * Where a rollback manager keeps its checkpoints beyond its own memory: the
 * port, and the in-memory implementation. Pure: no OpenTelemetry, no I/O.
 *
 * @module
 */
import type { CheckpointRecord } from './checkpoint.js';

/**
 * A place to keep checkpoint records, keyed by agent. A manager writes each
 * checkpoint before the action it precedes runs (so an action in flight
 * when the process dies can still be undone), and reads them back the first
 * time it is used: a manager created after a restart over the same store can
 * roll back what the previous process did.
 *
 * One manager per agent id per store at a time: two live managers for the
 * same agent would overwrite each other's view.
 *
 * Methods may be called concurrently for different agents, never for the
 * same agent (its manager serialises them).
 */
export interface CheckpointStore {
  /**
   * True when records outlive the process. A manager over a persistent
   * store refuses `snapshot: 'reference'` at construction.
   */
  readonly persistent?: boolean;
  /** Saves `record`, replacing any record with the same agent and id. Durable once the promise resolves. */
  put(record: CheckpointRecord): Promise<void>;
  /** The record `id` of `agentId`, or `undefined`. */
  get(agentId: string, id: string): Promise<CheckpointRecord | undefined>;
  /** Every record of `agentId`, oldest first (by `seq`). */
  list(agentId: string): Promise<CheckpointRecord[]>;
  /** Removes the records `ids` of `agentId`; unknown ids are ignored. */
  delete(agentId: string, ids: readonly string[]): Promise<void>;
}

/**
 * A {@link CheckpointStore} in memory. A manager without a store keeps its
 * checkpoints in memory anyway; share one of these between manager
 * instances (e.g. in tests) to hand checkpoints from one to the next.
 * Records are immutable, so they are kept as they are.
 */
export class MemoryCheckpointStore implements CheckpointStore {
  /** Records do not outlive the process. */
  readonly persistent = false;
  private readonly _agents = new Map<string, Map<string, CheckpointRecord>>();

  put(record: CheckpointRecord): Promise<void> {
    let records = this._agents.get(record.agentId);
    if (records === undefined) this._agents.set(record.agentId, (records = new Map()));
    records.set(record.id, record);
    return Promise.resolve();
  }

  get(agentId: string, id: string): Promise<CheckpointRecord | undefined> {
    return Promise.resolve(this._agents.get(agentId)?.get(id));
  }

  list(agentId: string): Promise<CheckpointRecord[]> {
    const records = [...(this._agents.get(agentId)?.values() ?? [])];
    return Promise.resolve(records.sort((a, b) => a.seq - b.seq));
  }

  delete(agentId: string, ids: readonly string[]): Promise<void> {
    const records = this._agents.get(agentId);
    if (records !== undefined) {
      for (const id of ids) records.delete(id);
      if (records.size === 0) this._agents.delete(agentId);
    }
    return Promise.resolve();
  }
}
