/**
 * A {@link CheckpointStore} on the local file system: one JSON file per
 * checkpoint, written atomically, so that a process that dies mid-plan can
 * roll back after a restart.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActionStatus, CheckpointRecord, EncodedSnapshot, SpanReference } from './checkpoint.js';
import type { CheckpointStore } from './checkpoint-store.js';
import { optionalBoolean, optionalFunction, rejectUnknownOptions, requireNonEmptyString, requireObject } from '../shared/validate.js';
import { syncDirectory } from '../shared/sync-directory.js';
import { reportSkip } from './checkpoint-file-skips.js';
import type { SkippedCheckpointFile } from './checkpoint-file-skips.js';

/** Options of {@link FileCheckpointStore}. */
export interface FileCheckpointStoreOptions {
  /**
   * The directory to keep checkpoints in (created if missing). Each agent
   * gets a subdirectory; each checkpoint is `<id>.json` in it.
   */
  directory: string;
  /**
   * `fsync` each file and its directory before a write counts as done, so a
   * checkpoint survives a power cut, not only a crash of the process.
   * @default true
   */
  fsync?: boolean;
  /**
   * Called for each file in an agent's directory that is not one of the
   * store's checkpoints (a stray `notes.json`) or is corrupt: it is skipped
   * and the other checkpoints are recovered. @default the listeners of
   * {@link onCheckpointFileSkipped} (the bootstrap reports through `diag`
   * and `agent_safety.rollback.checkpoint_files_skipped`), or a Node
   * process warning when there are none
   */
  onSkip?: (skipped: SkippedCheckpointFile) => void;
}

export { onCheckpointFileSkipped } from './checkpoint-file-skips.js';
export type { SkippedCheckpointFile } from './checkpoint-file-skips.js';

/** Marks our files; a file without it is not read as a checkpoint. */
const FORMAT = 'agent-safety-otel/checkpoint';
const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const ACTION_STATUSES: readonly ActionStatus[] = ['pending', 'completed', 'failed'];

interface StoredSnapshot {
  codec: string;
  encoding: 'base64' | 'utf8';
  data: string;
  bytes: number | null;
}

/** A directory name for `agentId` that cannot escape the store's directory. */
function agentDirName(agentId: string): string {
  const encoded = encodeURIComponent(agentId).replace(/[.*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  if (encoded.length <= 120) return encoded;
  return `${encoded.slice(0, 80)}~${createHash('sha256').update(agentId).digest('hex').slice(0, 32)}`;
}

function encodeSnapshot(snapshot: EncodedSnapshot | undefined, what: string, id: string): StoredSnapshot | null {
  if (snapshot === undefined) return null;
  const { data } = snapshot;
  if (typeof data === 'string') return { codec: snapshot.codec, encoding: 'utf8', data, bytes: snapshot.bytes ?? null };
  if (data instanceof Uint8Array) {
    return { codec: snapshot.codec, encoding: 'base64', data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'), bytes: snapshot.bytes ?? null };
  }
  throw new TypeError(
    `checkpoint ${id}: a ${snapshot.codec} snapshot of the ${what} cannot be written to a file; use snapshot 'structured', 'json' or a codec`,
  );
}

function decodeSnapshot(stored: unknown, file: string, what: string): EncodedSnapshot | undefined {
  if (stored === null || stored === undefined) return undefined;
  const s = stored as Partial<StoredSnapshot>;
  if (typeof s.codec !== 'string' || typeof s.data !== 'string' || (s.encoding !== 'base64' && s.encoding !== 'utf8')) {
    throw new Error(`${file}: malformed ${what} snapshot`);
  }
  const data = s.encoding === 'base64' ? Buffer.from(s.data, 'base64') : s.data;
  return Object.freeze({ codec: s.codec, data, bytes: typeof s.bytes === 'number' ? s.bytes : undefined });
}

function decodeOrigin(origin: unknown, file: string): SpanReference | undefined {
  if (origin === null || origin === undefined) return undefined;
  const o = origin as Partial<SpanReference>;
  if (typeof o.traceId !== 'string' || typeof o.spanId !== 'string' || typeof o.traceFlags !== 'number') {
    throw new Error(`${file}: malformed origin span reference`);
  }
  return Object.freeze({ traceId: o.traceId, spanId: o.spanId, traceFlags: o.traceFlags });
}

/** Parses and checks one checkpoint file. */
function parseRecord(text: string, file: string, agentId: string): CheckpointRecord {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${file}: not a checkpoint file (invalid JSON)`, { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || raw.format !== FORMAT) throw new Error(`${file}: not a checkpoint file`);
  if (raw.v !== 1) throw new Error(`${file}: unsupported checkpoint format version ${JSON.stringify(raw.v)}`);
  const ok =
    typeof raw.id === 'string' &&
    ID_PATTERN.test(raw.id) &&
    raw.agentId === agentId &&
    typeof raw.seq === 'number' &&
    Number.isSafeInteger(raw.seq) &&
    typeof raw.name === 'string' &&
    typeof raw.at === 'number' &&
    typeof raw.isSafePoint === 'boolean' &&
    typeof raw.hooked === 'boolean' &&
    ACTION_STATUSES.includes(raw.actionStatus as ActionStatus);
  if (!ok) throw new Error(`${file}: malformed checkpoint record`);
  return Object.freeze({
    v: 1,
    agentId,
    id: raw.id as string,
    seq: raw.seq as number,
    name: raw.name as string,
    at: raw.at as number,
    isSafePoint: raw.isSafePoint as boolean,
    actionStatus: raw.actionStatus as ActionStatus,
    hooked: raw.hooked as boolean,
    origin: decodeOrigin(raw.origin, file),
    state: decodeSnapshot(raw.state, file, 'state'),
    delta: decodeSnapshot(raw.delta, file, 'delta'),
  });
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'ENOENT';
}

/**
 * A {@link CheckpointStore} that keeps each checkpoint in its own JSON file,
 * `<directory>/<agent>/<checkpoint id>.json`. A write goes to a temporary
 * file that is flushed to disk, then renamed over the final name, then the
 * directory is flushed: a reader sees the old record or the new one, never
 * a torn one. Temporary files left by a crash are removed on the next read.
 *
 * Snapshots are stored as base64 (`structured`) or as text (`json`);
 * by-reference snapshots cannot be stored, so a manager over this store
 * refuses `snapshot: 'reference'`.
 *
 * @example
 * ```ts
 * const store = new FileCheckpointStore({ directory: '/var/lib/my-agent/checkpoints' });
 * const manager = new RollbackManager({ agentId: 'publisher', store });
 * // after a crash and restart, the same two lines, the hooks registered again, then:
 * await manager.rollbackToLastSafePoint();
 * ```
 */
export class FileCheckpointStore implements CheckpointStore {
  /** Records outlive the process. */
  readonly persistent = true;
  /** The store's directory. */
  readonly directory: string;
  private readonly _fsync: boolean;
  private readonly _onSkip: ((skipped: SkippedCheckpointFile) => void) | undefined;
  private readonly _created = new Set<string>();
  private _skipped = 0;

  constructor(options: FileCheckpointStoreOptions) {
    requireObject('FileCheckpointStore options', options);
    rejectUnknownOptions('FileCheckpointStore', options, ['directory', 'fsync', 'onSkip']);
    requireNonEmptyString('directory', options.directory);
    optionalBoolean('fsync', options.fsync);
    optionalFunction('onSkip', options.onSkip);
    this.directory = options.directory;
    this._fsync = options.fsync ?? true;
    this._onSkip = options.onSkip;
  }

  /** Files skipped by `list()` so far (stray or corrupt). */
  get skippedFiles(): number {
    return this._skipped;
  }

  async put(record: CheckpointRecord): Promise<void> {
    const file = this._file(record.agentId, record.id);
    const text = JSON.stringify({
      format: FORMAT,
      v: 1,
      agentId: record.agentId,
      id: record.id,
      seq: record.seq,
      name: record.name,
      at: record.at,
      isSafePoint: record.isSafePoint,
      actionStatus: record.actionStatus,
      hooked: record.hooked,
      origin: record.origin ?? null,
      state: encodeSnapshot(record.state, 'state', record.id),
      delta: encodeSnapshot(record.delta, 'environment delta', record.id),
    });
    const dir = await this._agentDir(record.agentId);
    const tmp = join(dir, `.${record.id}.${randomUUID()}.tmp`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      if (this._fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    if (this._fsync) await syncDirectory(dir);
  }

  async get(agentId: string, id: string): Promise<CheckpointRecord | undefined> {
    const file = this._file(agentId, id);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return parseRecord(text, file, agentId);
  }

  async list(agentId: string): Promise<CheckpointRecord[]> {
    const dir = join(this.directory, agentDirName(agentId));
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const records: CheckpointRecord[] = [];
    for (const name of names) {
      const path = join(dir, name);
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        await unlink(path).catch(() => {}); // left by a crash mid-write: the rename never happened
        continue;
      }
      if (!name.endsWith('.json')) continue;
      // One stray or corrupt file must not cost the others: it is skipped and reported.
      try {
        records.push(parseRecord(await readFile(path, 'utf8'), path, agentId));
      } catch (err) {
        this._skipped++;
        reportSkip({ agentId, file: path, reason: (err as Error).message.replace(`${path}: `, '') }, this._onSkip);
      }
    }
    return records.sort((a, b) => a.seq - b.seq);
  }

  async delete(agentId: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) {
      try {
        await unlink(this._file(agentId, id));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (this._fsync) await syncDirectory(join(this.directory, agentDirName(agentId))).catch(err => {
      if (!isNotFound(err)) throw err;
    });
  }

  private _file(agentId: string, id: string): string {
    if (!ID_PATTERN.test(id)) throw new TypeError(`checkpoint id must match ${ID_PATTERN}, got ${JSON.stringify(id)}`);
    return join(this.directory, agentDirName(agentId), `${id}.json`);
  }

  private async _agentDir(agentId: string): Promise<string> {
    const dir = join(this.directory, agentDirName(agentId));
    if (!this._created.has(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (this._fsync) {
        await syncDirectory(this.directory);
      }
      this._created.add(dir);
    }
    return dir;
  }
}
