/**
 * {@link TlogTilesSink}: publishes the audit log as a C2SP tiled
 * transparency log (c2sp.org/tlog-tiles) in a directory any static web
 * server can serve: `checkpoint`, `tile/<L>/<N>`, `tile/entries/<N>`. Each
 * record is one entry (its 32-byte chain hash); each signed checkpoint
 * note the processor chains is written as `checkpoint` with the tiles of
 * its size, then sent to the witnesses, whose cosignatures are added to it.
 * Everything happens off the hot path: `write` only queues.
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HASH_SIZE, MerkleFrontier, consistencyProof, sameHash } from '../../patterns/audit/merkle.js';
import { addSignatureLines, isValidKeyName } from '../../patterns/audit/signed-note.js';
import { peekCheckpoint } from '../../patterns/audit/tlog-checkpoint.js';
import { TILE_WIDTH, TileBuilder, frontierOf, readBundle, tileNodeSource, tileWidth, withTiles } from '../../patterns/audit/tlog-tiles.js';
import type { TileFile } from '../../patterns/audit/tlog-tiles.js';
import { AUDIT_TLOG_NOTE_KEY, AuditLogTree } from '../../patterns/audit/audit-tlog.js';
import type { AuditTreeState } from '../../patterns/audit/audit-tlog.js';
import { provideAuditLogTree } from './audit-log-tree.js';
import { requireNonEmptyString, requireNumber } from '../../patterns/shared/validate.js';
import { PACKAGE_NAME } from '../../instrumentation/shared/version.js';
import { decodeRecord } from '../../patterns/audit/audit-span-decode.js';
import type { AuditRecord, AuditSink } from './audit-sink.js';
import { auditFiles } from './file-audit-sink.js';
import type { TlogWitnessClient } from './tlog-witness-client.js';

// The processor that chains into this log builds its tree with this class.
provideAuditLogTree(AuditLogTree);

/** Options of {@link TlogTilesSink}. */
export interface TlogTilesSinkOptions {
  /** The directory the log is published in (created with mode 0700 if missing). One writer per directory. */
  dir: string;
  /**
   * The log's origin: the first line of its checkpoints and the name of its
   * signing key, unique per log, by convention a schema-less URL
   * (`example.com/agent-audit`). Kept in the directory: a directory made
   * for another origin is refused.
   */
  origin: string;
  /** Witnesses asked to cosign each checkpoint (asynchronously). @default none */
  witnesses?: TlogWitnessClient[];
  /** Write queued records at least this often, in ms (checkpoints are written at once). @default 1000 */
  flushMs?: number;
  /** The `sink` name in logs. @default 'tlog-tiles' */
  name?: string;
  /**
   * The journal: the `path` of the `FileAuditSink` beside this sink (its
   * rotated files are found as `auditFiles` finds them). At start-up, the
   * records the journal holds beyond the published tiles — journaled before
   * a crash the tiles did not survive — are published first, and
   * {@link TlogTilesSink.previousTree} includes them, so the tree goes on
   * where the chain is. A new directory records where the journal stood, so
   * that records written before the log began stay out of it.
   * @default none: such records stay out of the log (docs/transparency.md §5)
   */
  journal?: string;
}

/** The state file kept beside the tiles (not part of the tlog-tiles API). */
const STATE_FILE = 'tlog-state.json';

interface StateFile {
  readonly origin: string;
  /** Leaves whose tiles are written. */
  readonly size: number;
  /** Where each chain's seq 0 is in the log. */
  readonly chains: ReadonlyArray<{ chainId: string; start: number }>;
  /** The size each witness last cosigned, by its URL. */
  readonly witnessSizes: Record<string, number>;
  /**
   * With a journal: the hash of the journal's last record when the log
   * began (null: the journal was empty); the log's leaves are the journal's
   * records after it.
   */
  readonly journalAfter?: string | null;
}

/** One leaf to publish: a record's place, chain hash, and the checkpoint note it carries, if any. */
interface Leaf {
  readonly chainId: string;
  readonly seq: number;
  readonly hash: string;
  readonly note: unknown;
}

/**
 * An {@link AuditSink} that publishes the chain as a tiled transparency log.
 * Give it to the `AuditChainSpanProcessor` together with the journal
 * (`FileAuditSink`): the processor continues the tree it holds
 * (`previousTree()`) and signs its checkpoints.
 */
export class TlogTilesSink implements AuditSink {
  readonly name: string;
  private readonly _dir: string;
  private readonly _origin: string;
  private readonly _witnesses: readonly TlogWitnessClient[];
  private readonly _builder: TileBuilder;
  private readonly _previous: AuditTreeState;
  private readonly _witnessSizes: Record<string, number>;
  private _chains: Array<{ chainId: string; start: number }>;
  private _queue: Leaf[] = [];
  /** Tiles the builder made that are not on disk yet (a write failed): written first at the next flush. */
  private _unwritten: TileFile[] = [];
  private readonly _journalAfter: string | null | undefined;
  private _work: Promise<void> = Promise.resolve();
  private readonly _witnessWork = new Map<TlogWitnessClient, Promise<void>>();
  private _latestNote: { size: number; note: string } | undefined;
  private _timer: ReturnType<typeof setInterval> | undefined;
  private _closed = false;
  private _failed = false;

  constructor(options: TlogTilesSinkOptions) {
    requireNonEmptyString('TlogTilesSink: options.dir', options?.dir);
    if (!isValidKeyName(options.origin)) throw new TypeError(`TlogTilesSink: options.origin must be non-empty with no spaces or '+', got ${JSON.stringify(options.origin)}`);
    const flushMs = options.flushMs ?? 1000;
    requireNumber('TlogTilesSink: options.flushMs', flushMs, { min: 1 });
    this.name = options.name ?? 'tlog-tiles';
    this._dir = options.dir;
    this._origin = options.origin;
    this._witnesses = [...(options.witnesses ?? [])];
    // Start-up reads (once, before any record): the state and the rightmost tiles.
    mkdirSync(this._dir, { recursive: true, mode: 0o700 });
    const state = readState(this._dir);
    if (state !== undefined && state.origin !== this._origin) {
      throw new TypeError(`TlogTilesSink: ${this._dir} holds the log ${JSON.stringify(state.origin)}, not ${JSON.stringify(this._origin)}`);
    }
    const size: number = state?.size ?? 0;
    const read = (p: string): Buffer | undefined => readOptional(join(this._dir, p));
    this._builder = TileBuilder.restore(size, read);
    this._chains = [...(state?.chains ?? [])];
    this._witnessSizes = { ...(state?.witnessSizes ?? {}) };
    this._journalAfter = state === undefined ? undefined : state.journalAfter;
    const frontier = size === 0 ? new MerkleFrontier() : frontierOf(size, tileNodeSource(size, read));
    const chains = [...this._chains];
    if (options.journal !== undefined) {
      const files = auditFiles(options.journal);
      if (state === undefined) {
        // A new log: it holds the records journaled from now on.
        this._journalAfter = lastRecordHash(files) ?? null;
        writeFileAtomicSync(join(this._dir, STATE_FILE), JSON.stringify(this._stateFile()) + '\n');
      } else {
        // Catch up: the journal's records after the last published leaf (or after where the journal stood when the log began).
        const anchor = size > 0 ? lastEntryHex(size, read) : this._journalAfter;
        const tail = anchor === undefined ? [] : journalTail(files, anchor);
        if (tail === undefined) {
          diag.warn(`${PACKAGE_NAME}: ${this.name}: the journal ${options.journal} does not hold the log's last leaf; records it holds beyond the tiles are not caught up`);
        } else if (tail.length > 0) {
          for (let i = 0; i < tail.length; i++) {
            const leaf = tail[i];
            if (chains.length === 0 || chains[chains.length - 1].chainId !== leaf.chainId) chains.push({ chainId: leaf.chainId, start: size + i - leaf.seq });
            frontier.appendHexEntry(leaf.hash);
          }
          this._queue = tail;
          diag.info(`${PACKAGE_NAME}: ${this.name}: catching up ${tail.length} records from the journal (leaves ${size} to ${size + tail.length - 1})`);
        }
      }
    }
    this._previous = { origin: this._origin, tree: frontier.state(), chains };
    this._timer = setInterval(() => this._schedule(), flushMs);
    this._timer.unref?.();
    if (this._queue.length > 0) void this._schedule();
  }

  /** The tree this directory holds from earlier runs (the processor continues it). */
  previousTree(): AuditTreeState {
    return this._previous;
  }

  /** Leaves published or queued. */
  get size(): number {
    return this._builder.size + this._queue.length;
  }

  write(record: AuditRecord): void {
    if (this._closed) {
      diag.error(`${PACKAGE_NAME}: ${this.name} is shut down; record ${record.chainId}/${record.seq} is not published (it stays in the journal)`);
      return;
    }
    const note = record.span.attributes[AUDIT_TLOG_NOTE_KEY];
    this._queue.push({ chainId: record.chainId, seq: record.seq, hash: record.hash, note });
    if (note !== undefined) void this._schedule(); // contained: it reports its own failures
  }

  backlog(): number {
    return this._queue.length;
  }

  /** Writes what is queued (tiles, checkpoint, state); witnesses are not waited for. */
  forceFlush(): Promise<void> {
    return this._schedule();
  }

  /** Flushes, waits for the witnesses' answers (each bounded by its timeout), and stops. */
  async shutdown(): Promise<void> {
    if (this._closed) return this._work;
    await this._schedule();
    this._closed = true;
    if (this._timer) clearInterval(this._timer);
    await Promise.allSettled([...this._witnessWork.values()]);
  }

  private _schedule(): Promise<void> {
    this._work = this._work.then(() => this._drain()).catch(err => {
      diag.error(
        `${PACKAGE_NAME}: ${this.name} could not publish to ${this._dir} (${this._queue.length} records wait; retried at the next flush, and they stay in the journal)`,
        err,
      );
    });
    return this._work;
  }

  /**
   * Publishes the queued leaves in order. A failed write (a full disk, a
   * read-only or removed directory) leaves the tree where it was on disk:
   * the leaves not yet appended stay queued, the tiles already made stay in
   * `_unwritten`, and the next flush writes them again.
   */
  private async _drain(): Promise<void> {
    if (this._failed) this._queue = [];
    if (this._queue.length === 0 && this._unwritten.length === 0) return;
    let done = 0;
    try {
      // `write` may append to the queue while this awaits: those leaves are published in this pass too.
      for (; done < this._queue.length; done++) {
        const record = this._queue[done];
        const note = record.note;
        if (typeof note === 'string') {
          // The note covers the leaves before its own record.
          await this._publishCheckpoint(note);
          if (this._failed) return;
        }
        if (this._chains.length === 0 || this._chains[this._chains.length - 1].chainId !== record.chainId) {
          this._chains.push({ chainId: record.chainId, start: this._builder.size - record.seq });
        }
        this._unwritten.push(...this._builder.append(Buffer.from(record.hash, 'hex')));
      }
      await this._writeTiles();
      await this._saveState();
    } finally {
      this._queue.splice(0, done);
    }
  }

  /** Writes the tiles made and not yet written, then the partial tiles of the tree's right edge. */
  private async _writeTiles(): Promise<void> {
    await this._writeFiles(this._unwritten);
    this._unwritten = [];
    await this._writeFiles(this._builder.partials());
  }

  private async _publishCheckpoint(note: string): Promise<void> {
    let cp;
    try {
      cp = peekCheckpoint(note);
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: ${this.name}: a checkpoint note is malformed; not published`, err);
      return;
    }
    if (cp.origin !== this._origin || cp.size !== this._builder.size || !sameHash(cp.root, this._builder.root())) {
      // Never publish a checkpoint this directory's tree does not match: stop publishing instead.
      this._failed = true;
      diag.error(
        `${PACKAGE_NAME}: ${this.name}: checkpoint ${cp.origin} size ${cp.size} does not match the published tree (${this._origin} size ${this._builder.size}); publishing stops`,
      );
      return;
    }
    await this._writeTiles();
    await this._saveState();
    await atomicWrite(join(this._dir, 'checkpoint'), note);
    this._latestNote = { size: cp.size, note };
    for (const w of this._witnesses) this._askWitness(w);
  }

  /** Sends the latest checkpoint to one witness, one request at a time per witness. */
  private _askWitness(witness: TlogWitnessClient): void {
    if (this._witnessWork.has(witness)) return; // the running request picks up the latest note when done
    const run = async (): Promise<void> => {
      for (let sent = -1; this._latestNote !== undefined && this._latestNote.size !== sent; ) {
        const { size, note } = this._latestNote;
        sent = size;
        const oldSize = this._witnessSizes[witness.url] ?? 0;
        const result = await witness.addCheckpoint(note, oldSize, (from, to) =>
          withTiles(to, p => readOptionalAsync(join(this._dir, p)), source => (from === 0 || from >= to ? [] : consistencyProof(from, to, source))),
        );
        if (result.cosigned !== undefined) {
          const cosigned = result.cosigned;
          this._witnessSizes[witness.url] = size;
          // Through the writer's queue: a newer checkpoint written meanwhile is never replaced by an older one.
          this._work = this._work.then(async () => {
            if (this._latestNote?.size === size) {
              this._latestNote = { size, note: addSignatureLines(this._latestNote.note, cosigned) };
              await atomicWrite(join(this._dir, 'checkpoint'), this._latestNote.note);
            }
            await this._saveState();
          });
          await this._work;
        } else if (result.knownSize !== undefined) {
          this._witnessSizes[witness.url] = result.knownSize;
        }
      }
    };
    const p = run()
      .catch(err => diag.error(`${PACKAGE_NAME}: witness ${witness.url} could not cosign`, err))
      .finally(() => this._witnessWork.delete(witness));
    this._witnessWork.set(witness, p);
  }

  /** The latest published checkpoint with the cosignatures gathered so far. */
  latestCheckpoint(): string | undefined {
    return this._latestNote?.note;
  }

  private async _writeFiles(files: readonly TileFile[]): Promise<void> {
    for (const f of files) {
      const path = join(this._dir, f.path);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await atomicWrite(path, f.data);
      if (!f.path.includes('.p/')) await removePartials(path);
    }
  }

  private _stateFile(): StateFile {
    const state: StateFile = {
      origin: this._origin,
      size: this._builder.size,
      chains: this._chains,
      witnessSizes: this._witnessSizes,
    };
    return this._journalAfter === undefined ? state : { ...state, journalAfter: this._journalAfter };
  }

  private async _saveState(): Promise<void> {
    await atomicWrite(join(this._dir, STATE_FILE), JSON.stringify(this._stateFile()) + '\n', true);
  }
}

function readState(dir: string): StateFile | undefined {
  const raw = readOptional(join(dir, STATE_FILE));
  if (raw === undefined) return undefined;
  const s = JSON.parse(raw.toString('utf8')) as StateFile;
  if (typeof s?.origin !== 'string' || !Number.isSafeInteger(s.size) || !Array.isArray(s.chains)) {
    throw new TypeError(`TlogTilesSink: ${join(dir, STATE_FILE)} is not a tlog state file`);
  }
  return s;
}

/** The entry (a record's chain hash, hex) of leaf `size - 1`, from its entry bundle. */
function lastEntryHex(size: number, read: (p: string) => Buffer | undefined): string {
  const n = Math.floor((size - 1) / TILE_WIDTH);
  const entry = readBundle(read, n, tileWidth(0, n, size))[(size - 1) % TILE_WIDTH];
  if (entry.length !== HASH_SIZE) throw new TypeError(`TlogTilesSink: entry ${size - 1} is not a 32-byte hash`);
  return entry.toString('hex');
}

const RECORD_HASH = /"hash":"([0-9a-f]{64})"\}\s*$/;

/**
 * The lines of `files` (oldest first) from the last one back, each ended
 * by a newline (an unterminated last line is torn: the journal's writer
 * sets it aside). Reads 1 MiB at a time from the end.
 */
function* linesBackward(files: readonly string[]): Generator<string> {
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (let f = files.length - 1; f >= 0; f--) {
    let fd: number;
    try {
      fd = openSync(files[f], 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    try {
      let pos = fstatSync(fd).size;
      let carry = Buffer.alloc(0); // the bytes after the last newline seen
      let terminated = false; // whether `carry` ends with a newline (it does once one was seen)
      while (pos > 0) {
        const n = Math.min(chunk.length, pos);
        pos -= n;
        readSync(fd, chunk, 0, n, pos);
        const buf = carry.length === 0 ? Buffer.from(chunk.subarray(0, n)) : Buffer.concat([chunk.subarray(0, n), carry]);
        let end = buf.length;
        for (let nl = end > 0 ? buf.lastIndexOf(10, end - 1) : -1; nl >= 0; nl = end > 0 ? buf.lastIndexOf(10, end - 1) : -1) {
          if (terminated) yield buf.toString('utf8', nl + 1, end);
          terminated = true;
          end = nl;
        }
        carry = buf.subarray(0, end);
      }
      if (terminated && carry.length > 0) yield carry.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }
}

/** The hash of the journal's last complete record, or undefined when it holds none. */
function lastRecordHash(files: readonly string[]): string | undefined {
  for (const line of linesBackward(files)) {
    const m = RECORD_HASH.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The journal's records after the record whose hash is `anchor` (null:
 * all of them), oldest first; undefined when `anchor` is not found.
 */
function journalTail(files: readonly string[], anchor: string | null): Leaf[] | undefined {
  const tail: Leaf[] = [];
  for (const line of linesBackward(files)) {
    const m = RECORD_HASH.exec(line);
    if (!m) continue;
    if (m[1] === anchor) return tail.reverse();
    let leaf: Leaf | undefined;
    try {
      const r = decodeRecord(JSON.parse(line));
      leaf = { chainId: r.chainId, seq: r.seq, hash: m[1], note: r.span.attributes[AUDIT_TLOG_NOTE_KEY] };
    } catch {
      leaf = undefined; // not a record line: the journal's writer reports it
    }
    if (leaf !== undefined) tail.push(leaf);
  }
  return anchor === null ? tail.reverse() : undefined;
}

/** Writes `path` through a temporary file, synced, and a rename (start-up only). */
function writeFileAtomicSync(path: string, data: string): void {
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  writeFileSync(tmp, data, { mode: 0o644, flush: true } as Parameters<typeof writeFileSync>[2]);
  renameSync(tmp, path);
}

function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function readOptionalAsync(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

let tmpCounter = 0;

/** Writes `path` through a temporary file and a rename (readers never see half a file); fsyncs when asked. */
async function atomicWrite(path: string, data: string | Buffer, sync = false): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${++tmpCounter}`;
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      if (sync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined); // a full disk or a failed rename leaves no temporary behind
    throw err;
  }
}

/** Once a full tile exists its partial versions are no longer needed (tlog-tiles allows deleting them). */
async function removePartials(fullPath: string): Promise<void> {
  const dir = `${fullPath}.p`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const n of names) await unlink(join(dir, n)).catch(() => undefined);
  await rmdir(dir).catch(() => undefined);
}
