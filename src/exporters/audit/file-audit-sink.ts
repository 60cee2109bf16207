/**
 * {@link FileAuditSink}: the audit chain as an append-only JSONL file, one
 * line per record, written in batches off the hot path, synced by policy,
 * rotated by size, and recovered after a crash (a torn last line is set
 * aside, never accepted, never deleted).
 *
 * @module
 */
import { diag } from '@opentelemetry/api';
import {
  close as fsClose,
  closeSync,
  constants,
  fdatasync as fsFdatasync,
  fstat as fsFstat,
  fstatSync,
  fsync as fsFsync,
  ftruncateSync,
  fdatasyncSync,
  mkdirSync,
  open as fsOpen,
  openSync,
  readSync,
  readdirSync,
  rmSync,
  rename as fsRename,
  statSync,
  write as fsWrite,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { backoffDelay, backoffPolicy } from '../../patterns/shared/backoff.js';
import type { BackoffOptions, BackoffPolicy } from '../../patterns/shared/backoff.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { resolveNow } from '../../patterns/shared/clock.js';
import type { ChainHead } from '../../patterns/audit/audit-record.js';
import {
  normalizeFsyncPolicy,
  planBatch,
  rotatedPath,
  rotationIndexOf,
  scanAuditTail,
  syncAfterWrite,
  syncDelayMs,
  tornSidePath,
} from '../../patterns/audit/audit-file.js';
import type { FsyncPolicy } from '../../patterns/audit/audit-file.js';
import { countAuditExportFailure, registerAuditSink } from './audit-metrics.js';
import { onLastChance } from './last-chance-flush.js';
import { rejectUnknownOptions, requireNonEmptyString, requireNumber, requireObject } from '../../patterns/shared/validate.js';
import type { AuditRecord, AuditSink } from './audit-sink.js';

/**
 * The file operations the sink uses after start-up (all asynchronous).
 * Replaceable for tests (e.g. to simulate a full disk); the default is
 * `node:fs`.
 */
export interface AuditFileIo {
  /** Opens `path` for writing (creating it with mode 0600, never truncating it); returns the fd, the file's size and mode. */
  open(path: string): Promise<{ fd: number; size: number; mode: number }>;
  /**
   * Writes `length` bytes of `buffer` from `offset` at file offset
   * `position` (the sink's end of file); returns how many were written.
   * Positional, so that the last-chance flush can write the same bytes at
   * the same place again without duplicating them.
   */
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  close(fd: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** fsyncs a directory (so a rename or a new file survives a power cut). */
  syncDir(dir: string): Promise<void>;
}

/** A record's line and newline as bytes: the chain's own encoding (a record built elsewhere without them is encoded here). */
function lineBytes(record: AuditRecord): Buffer {
  const b = record.bytes as Uint8Array | undefined;
  if (b === undefined) return Buffer.from(`${record.line}\n`, 'utf8');
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Options of {@link FileAuditSink}. */
export interface FileAuditSinkOptions {
  /**
   * The active audit file (created with mode 0600, its directory with 0700
   * if missing). Use an extension (`audit.jsonl`): rotated files are named
   * `audit.000001.jsonl`, `audit.000002.jsonl`… in chain order, and sort
   * before the active file. One writer per file.
   */
  path: string;
  /**
   * The `sink` attribute of the audit metrics: its backlog
   * (`agent_safety.audit.backlog`, reported by the `AuditChainSpanProcessor`
   * it is given to) and its failed write, sync, open and rotation attempts
   * (`agent_safety.audit.export_failures`). @default 'file'
   */
  name?: string;
  /**
   * When written records are fdatasync'ed (see {@link FsyncPolicy}):
   * `'always'` (each batch, before it counts as durable), `{ everyMs }`, or
   * `'never'` (left to the OS). `forceFlush()` and `shutdown()` sync too,
   * except with `'never'`.
   * @default { everyMs: 200 }
   */
  fsync?: FsyncPolicy;
  /**
   * Rotate when the active file would exceed this many bytes: it is renamed
   * to the next `<stem>.NNNNNN<ext>` and a new active file is started; the
   * chain simply continues. `Infinity` never rotates.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
  /** At most this many bytes per write (one write holds many lines). @default 1048576 (1 MiB) */
  maxBatchBytes?: number;
  /** Backoff of retries after a failed write, sync, open or rotation. @default { initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0 } */
  retry?: BackoffOptions;
  /** For the fsync interval and the torn-file timestamp. @default Date.now */
  now?: Clock;
  /** @deprecated Use `now`. */
  clock?: Clock;
  /** @internal Replaces file operations (tests). */
  io?: Partial<AuditFileIo>;
}

/** What the sink found in the existing file when it started. */
export interface FileAuditRecovery {
  /** The file whose tail was read: the active file, or the newest rotated one when the active file was empty or missing. */
  readonly file: string | undefined;
  /** The last complete record: the head the new chain continues. */
  readonly previousHead: ChainHead | undefined;
  /** Bytes of a torn tail set aside (0 when the file ended cleanly). */
  readonly tornBytes: number;
  /** Why the tail was torn. */
  readonly tornReason: 'no-newline' | 'unparseable-line' | undefined;
  /** Where the torn bytes were moved (next to the audit file). */
  readonly tornPath: string | undefined;
  /** A problem that kept the sink from reading or repairing the tail (reported through `diag`). */
  readonly problem: string | undefined;
}

/** Counters of a {@link FileAuditSink}. */
export interface FileAuditSinkStats {
  /** Records accepted by `write`. */
  accepted: number;
  /** Records written to the file (in the OS's hands). */
  written: number;
  /** Records durable per the fsync policy (written, and synced unless `'never'`). */
  durable: number;
  /** Failed writes, opens and rotations (each retried). */
  writeErrors: number;
  /** Failed fdatasyncs (each retried). */
  syncErrors: number;
  /** Files rotated. */
  rotations: number;
  /** Records refused because the sink was shut down (each reported). */
  refused: number;
}

interface Inflight {
  buffer: Buffer;
  /** Bytes of `buffer` written so far. */
  offset: number;
  /** Where in the file `buffer` starts. */
  position: number;
  count: number;
}

const MODE = 0o600;
/** Write-only, created if missing, never truncated, not O_APPEND: writes are positional. */
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT;
const TAIL_CHUNK = 64 * 1024;

/** The default {@link AuditFileIo}, on `node:fs` (exported for tests that wrap it). @internal */
export const nodeAuditFileIo: AuditFileIo = {
  open: path =>
    new Promise((resolve, reject) =>
      fsOpen(path, OPEN_FLAGS, MODE, (err, fd) => {
        if (err) return reject(err);
        fsFstat(fd, (err2, st) => {
          if (err2) {
            fsClose(fd, () => reject(err2));
            return;
          }
          resolve({ fd, size: st.size, mode: st.mode });
        });
      }),
    ),
  write: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => fsWrite(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)))),
  fdatasync: fd => new Promise((resolve, reject) => fsFdatasync(fd, err => (err ? reject(err) : resolve()))),
  close: fd => new Promise((resolve, reject) => fsClose(fd, err => (err ? reject(err) : resolve()))),
  rename: (from, to) => new Promise((resolve, reject) => fsRename(from, to, err => (err ? reject(err) : resolve()))),
  syncDir: dir =>
    new Promise((resolve, reject) =>
      fsOpen(dir, 'r', (err, fd) => {
        if (err) return reject(err);
        fsFsync(fd, err2 => fsClose(fd, () => (err2 ? reject(err2) : resolve())));
      }),
    ),
};

const KNOWN = ['path', 'name', 'fsync', 'maxBytes', 'maxBatchBytes', 'retry', 'now', 'clock', 'io'];

/** Defaults of {@link FileAuditSinkOptions.retry}. */
const FILE_RETRY: BackoffPolicy = Object.freeze({ initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0 });

/**
 * An {@link AuditSink} writing the chain to an append-only JSONL file.
 *
 * - `write` only queues the line; a background pump writes whatever has
 *   queued in one `write(2)` per batch and syncs per the fsync policy.
 * - Start-up (synchronous, once): reads the tail of the existing file (from
 *   the end, never the whole file). A torn last line (no trailing newline,
 *   or an unparseable last line: a crash mid-write) is reported through
 *   `diag.warn`, moved to `<path>.torn-<UTC time>` and the file truncated
 *   back to its last complete line. The last complete record is
 *   {@link previousHead}, which the new chain records as `previous` in its
 *   seq-0 record. See {@link recovery}.
 * - I/O errors never reach the caller: they are reported through `diag`,
 *   counted ({@link stats}, and each failed attempt in
 *   `agent_safety.audit.export_failures` with `sink` = {@link name}) and
 *   retried with backoff; accepted records stay queued until written (a
 *   partial write resumes where it stopped).
 */
export class FileAuditSink implements AuditSink {
  readonly path: string;
  /** The `sink` attribute of its metrics. */
  readonly name: string;
  /** What start-up found in the existing file. */
  readonly recovery: FileAuditRecovery;
  private readonly _policy: FsyncPolicy;
  private readonly _maxBytes: number;
  private readonly _maxBatchBytes: number;
  private readonly _retry: BackoffPolicy;
  private readonly _now: Clock;
  private readonly _io: AuditFileIo;
  private readonly _counters: FileAuditSinkStats = {
    accepted: 0,
    written: 0,
    durable: 0,
    writeErrors: 0,
    syncErrors: 0,
    rotations: 0,
    refused: 0,
  };

  /** Each queued record's line and newline, as the chain encoded it. */
  private _queue: Buffer[] = [];
  private _queueHead = 0;
  private _inflight: Inflight | undefined;
  private _unsynced = 0;
  private _firstUnsyncedAt = 0;
  private _syncRequested = false;
  private _fd: number | undefined;
  private _size = 0;
  private _nextRotation = 1;
  private _failures = 0;
  private _pumping: Promise<void> | undefined;
  private _immediate: NodeJS.Immediate | undefined;
  private _retryTimer: NodeJS.Timeout | undefined;
  private _syncTimer: NodeJS.Timeout | undefined;
  private _closed = false;
  private _shutdownPromise: Promise<void> | undefined;
  /** A torn tail found at start that could not be set aside yet (a full disk). */
  private _tornPending: { file: string; keepBytes: number; torn: Buffer } | undefined;
  private readonly _stopBacklog: () => void;
  private readonly _stopLastChance: () => void;
  /** Bumped by the last-chance flush: an asynchronous write or sync started before it accounts for nothing. */
  private _epoch = 0;

  constructor(options: FileAuditSinkOptions) {
    requireObject('FileAuditSink options', options);
    rejectUnknownOptions('FileAuditSink', options, KNOWN);
    requireNonEmptyString('path', options.path);
    this.path = options.path;
    if (options.name !== undefined) requireNonEmptyString('name', options.name);
    this.name = options.name ?? 'file';
    this._policy = normalizeFsyncPolicy(options.fsync);
    this._maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    if (this._maxBytes !== Infinity) requireNumber('maxBytes', this._maxBytes, { min: 1, integer: true });
    this._maxBatchBytes = options.maxBatchBytes ?? 1024 * 1024;
    requireNumber('maxBatchBytes', this._maxBatchBytes, { min: 1, integer: true });
    this._retry = backoffPolicy(options.retry, FILE_RETRY, 'retry');
    this._now = resolveNow(options);
    this._io = { ...nodeAuditFileIo, ...options.io };
    this.recovery = this._startUp();
    // The sink reports its own backlog (with or without a processor) until its shutdown has flushed.
    this._stopBacklog = registerAuditSink(this.name, () => this.backlog(), this);
    this._stopLastChance = onLastChance(() => this.flushSync());
  }

  /** The head of the chain the file already holds (the last complete record), for the new chain's `previous`. */
  previousHead(): ChainHead | undefined {
    return this.recovery.previousHead;
  }

  /** Records accepted but not yet written and (per the fsync policy) synced. */
  backlog(): number {
    return this._queue.length - this._queueHead + (this._inflight?.count ?? 0) + this._unsynced;
  }

  /** Records accepted and not yet written to the file (held in memory; written ones survive a crash of the process). */
  held(): number {
    return this._queue.length - this._queueHead + (this._inflight?.count ?? 0);
  }

  /** A snapshot of the sink's counters. */
  stats(): FileAuditSinkStats {
    return { ...this._counters };
  }

  /** Queues the record's line; returns at once. */
  write(record: AuditRecord): void {
    if (this._closed) {
      this._counters.refused++;
      diag.error(
        `FileAuditSink(${this.path}): record ${record.chainId}#${record.seq} arrived after shutdown and was not written (${this._counters.refused} refused so far)`,
      );
      return;
    }
    this._queue.push(lineBytes(record));
    this._counters.accepted++;
    this._kick();
  }

  /** Schedules a pump run soon, unless one is running (it takes new records too) or a retry is pending. */
  private _kick(): void {
    if (this._immediate !== undefined || this._pumping !== undefined || this._retryTimer !== undefined || this._closed) return;
    this._immediate = setImmediate(() => {
      this._immediate = undefined;
      void this._pump();
    });
  }

  /**
   * Resolves when every record accepted so far is written and, unless the
   * policy is `'never'`, fdatasync'ed. When the disk fails it resolves after
   * the attempt, with the records still queued (see {@link backlog}) and the
   * failure reported through `diag`; they are retried.
   */
  async forceFlush(): Promise<void> {
    if (this._policy !== 'never') this._syncRequested = true;
    if (this._pumping !== undefined) await this._pumping;
    // A run that started before this call may have missed the sync request or later records: run once more.
    await this._pump();
  }

  /** Flushes, then closes the file. Records written afterwards are refused and reported. Idempotent. */
  shutdown(): Promise<void> {
    this._shutdownPromise ??= this._doShutdown();
    return this._shutdownPromise;
  }

  private async _doShutdown(): Promise<void> {
    this._closed = true;
    await this.forceFlush();
    if (this._immediate !== undefined) clearImmediate(this._immediate);
    if (this._retryTimer !== undefined) clearTimeout(this._retryTimer);
    if (this._syncTimer !== undefined) clearTimeout(this._syncTimer);
    this._immediate = this._retryTimer = this._syncTimer = undefined;
    const left = this.backlog();
    if (left > 0) {
      // still reported (the gauge keeps showing them) so that the last metric export tells of the loss
      diag.error(
        `FileAuditSink(${this.path}): shut down with ${left} records not written or not synced; one last synchronous attempt is made when the process exits, else they are lost`,
      );
    } else {
      this._stopBacklog();
      this._stopLastChance();
    }
    if (this._fd !== undefined) {
      const fd = this._fd;
      this._fd = undefined;
      try {
        await this._io.close(fd);
      } catch (err) {
        diag.warn(`FileAuditSink(${this.path}): closing the file failed: ${describe(err)}`);
      }
    }
  }

  // ---- the pump: the only code that does I/O after start-up ----

  private _pump(): Promise<void> {
    this._pumping ??= this._runPump().finally(() => {
      this._pumping = undefined;
      // Records that arrived after the run's last look at the queue.
      if (this._queue.length > this._queueHead) this._kick();
    });
    return this._pumping;
  }

  private async _runPump(): Promise<void> {
    try {
      for (;;) {
        if (this._fd === undefined) {
          // Nothing to write and nothing to set aside: the file is not created (or reopened) for nothing.
          if (this._inflight === undefined && this._queue.length === this._queueHead && this._tornPending === undefined) break;
          await this._reopen();
        }
        if (this._inflight === undefined && this._queue.length > this._queueHead) await this._nextBatch();
        if (this._inflight !== undefined) {
          await this._writeInflight();
          continue;
        }
        if (this._syncRequested && this._unsynced > 0) {
          await this._syncNow();
          continue;
        }
        this._syncRequested = false;
        break;
      }
      if (this._failures > 0) {
        diag.warn(`FileAuditSink(${this.path}): writing again after ${this._failures} failed attempts; nothing accepted was lost`);
        this._failures = 0;
      }
    } catch (err) {
      this._failures++;
      // Every error that ends a run is one failed write, sync, open or rotation (counted in stats() where it happened).
      countAuditExportFailure(this.name);
      const delay = backoffDelay(this._failures, this._retry);
      diag.error(
        `FileAuditSink(${this.path}): ${describe(err)}; ${this.backlog()} records kept, retrying in ${delay} ms (attempt ${this._failures})`,
      );
      if (this._retryTimer === undefined && !this._closed) {
        this._retryTimer = setTimeout(() => {
          this._retryTimer = undefined;
          void this._pump();
        }, delay);
        this._retryTimer.unref();
      }
    }
    this._armSyncTimer();
  }

  private _armSyncTimer(): void {
    if (typeof this._policy !== 'object' || this._unsynced === 0 || this._syncTimer !== undefined || this._closed) return;
    const delay = syncDelayMs(this._policy.everyMs, this._firstUnsyncedAt, this._now());
    this._syncTimer = setTimeout(() => {
      this._syncTimer = undefined;
      this._syncRequested = true;
      void this._pump();
    }, delay);
    this._syncTimer.unref();
  }

  private async _reopen(): Promise<void> {
    if (this._tornPending !== undefined) this._retryTornCut();
    let opened: { fd: number; size: number; mode: number };
    try {
      opened = await this._io.open(this.path);
    } catch (err) {
      this._counters.writeErrors++;
      throw new Error(`cannot open the audit file: ${describe(err)}`);
    }
    this._fd = opened.fd;
    this._size = opened.size;
    this._checkMode(opened.mode);
  }

  /** Retries setting aside a torn tail found at start (rare: the disk was full); throws while it cannot be done. */
  private _retryTornCut(): void {
    const file = this._tornPending!.file;
    try {
      const tornPath = this._cutTorn();
      diag.warn(`FileAuditSink(${this.path}): the torn tail of ${file} is set aside now, in ${tornPath}, and cut off`);
    } catch (err) {
      this._counters.writeErrors++;
      throw new Error(`the torn tail of ${file} cannot be set aside yet (${describe(err)}); nothing is appended until it is`);
    }
  }

  /** Takes the next batch off the queue (rotating the file first when it would overflow). */
  private async _nextBatch(): Promise<void> {
    const queued = this._queue.length - this._queueHead;
    const queue = this._queue;
    const head = this._queueHead;
    const plan = planBatch(queued, i => queue[head + i].length, this._size, this._maxBytes, this._maxBatchBytes);
    if (plan.rotateFirst) await this._rotate();
    const end = head + plan.count;
    // One copy of the records' bytes into the batch (no string is measured, joined or encoded here).
    const buffer = plan.count === 1 ? queue[head] : Buffer.concat(queue.slice(head, end), plan.bytes);
    this._inflight = { buffer, offset: 0, position: this._size, count: plan.count };
    this._queueHead = end;
    if (end === queue.length) {
      this._queue = [];
      this._queueHead = 0;
    } else if (end > 4096 && end * 2 > queue.length) {
      this._queue = queue.slice(end);
      this._queueHead = 0;
    }
  }

  private async _writeInflight(): Promise<void> {
    const batch = this._inflight!;
    const epoch = this._epoch;
    while (batch.offset < batch.buffer.length) {
      let n: number;
      try {
        n = await this._io.write(this._fd!, batch.buffer, batch.offset, batch.buffer.length - batch.offset, batch.position + batch.offset);
      } catch (err) {
        if (epoch !== this._epoch) return;
        this._counters.writeErrors++;
        throw new Error(`write failed after ${batch.offset} of ${batch.buffer.length} bytes of a batch: ${describe(err)}`);
      }
      // The last-chance flush wrote this batch (and everything after it) meanwhile: nothing left to account.
      if (epoch !== this._epoch) return;
      batch.offset += n;
    }
    this._inflight = undefined;
    this._size = batch.position + batch.buffer.length;
    this._counters.written += batch.count;
    const next = syncAfterWrite(this._policy);
    if (next === 'none') {
      this._counters.durable += batch.count;
      return;
    }
    if (this._unsynced === 0) this._firstUnsyncedAt = this._now();
    this._unsynced += batch.count;
    if (next === 'now') await this._syncNow();
  }

  private async _syncNow(): Promise<void> {
    const count = this._unsynced;
    const epoch = this._epoch;
    try {
      await this._io.fdatasync(this._fd!);
    } catch (err) {
      if (epoch !== this._epoch) return;
      this._counters.syncErrors++;
      this._syncRequested = true;
      throw new Error(`fdatasync failed with ${count} records written but not synced: ${describe(err)}`);
    }
    if (epoch !== this._epoch) return;
    this._unsynced -= count;
    this._counters.durable += count;
  }

  /**
   * The last-chance flush (see `last-chance-flush.ts`): writes the batch in
   * flight (again, at the same place: the bytes are the same) and every
   * queued record synchronously, then fdatasyncs (unless the policy is
   * `'never'`). Runs when the process ends without a shutdown; never
   * throws (a failure is reported through `diag`, with what is lost).
   */
  flushSync(): void {
    const queued = this._queue.length - this._queueHead;
    const batch = this._inflight;
    if (queued === 0 && batch === undefined && (this._unsynced === 0 || this._policy === 'never')) return;
    this._epoch++;
    let fd = this._fd;
    let opened = false;
    const count = queued + (batch?.count ?? 0);
    try {
      let position: number;
      if (fd === undefined) {
        // Never onto a torn line: set it aside first (or write nothing).
        if (this._tornPending !== undefined) this._cutTorn();
        // Between a rotation's close and reopen, or after a failed open: the path as it is now.
        fd = openSync(this.path, OPEN_FLAGS, MODE);
        opened = true;
        position = fstatSync(fd).size;
      } else {
        position = batch !== undefined ? batch.position : this._size;
      }
      const parts: Buffer[] = [];
      if (batch !== undefined) parts.push(batch.buffer);
      for (let i = this._queueHead; i < this._queue.length; i++) parts.push(this._queue[i]);
      const buffer = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      let off = 0;
      while (off < buffer.length) off += writeSync(fd, buffer, off, buffer.length - off, position + off);
      this._inflight = undefined;
      this._queue = [];
      this._queueHead = 0;
      if (!opened) this._size = position + buffer.length;
      this._counters.written += count;
      if (this._policy !== 'never') {
        fdatasyncSync(fd);
        this._counters.durable += count + this._unsynced;
        this._unsynced = 0;
      } else {
        this._counters.durable += count;
      }
    } catch (err) {
      diag.error(`FileAuditSink(${this.path}): the last-chance flush failed with ${this.backlog()} records not written or not synced: ${describe(err)}`);
    } finally {
      if (opened && fd !== undefined) {
        try {
          closeSync(fd);
        } catch {
          // ending anyway
        }
      }
    }
  }

  /** Closes the full active file, renames it to the next rotated name and starts a new one. */
  private async _rotate(): Promise<void> {
    const sync = this._policy !== 'never';
    if (sync && this._unsynced > 0) await this._syncNow();
    const to = rotatedPath(this.path, this._nextRotation);
    const fd = this._fd!;
    this._fd = undefined;
    try {
      await this._io.close(fd);
      await this._io.rename(this.path, to);
    } catch (err) {
      this._counters.writeErrors++;
      throw new Error(`rotation to ${basename(to)} failed: ${describe(err)}`);
    }
    this._nextRotation++;
    this._counters.rotations++;
    await this._reopen();
    if (sync) {
      try {
        await this._io.syncDir(dirname(this.path));
      } catch (err) {
        diag.warn(`FileAuditSink(${this.path}): syncing the directory after rotation failed: ${describe(err)}`);
      }
    }
  }

  private _checkMode(mode: number): void {
    if ((mode & 0o077) !== 0) {
      diag.warn(
        `FileAuditSink(${this.path}): the audit file is readable or writable by others (mode ${(mode & 0o777).toString(8)}); expected 600`,
      );
    }
  }

  // ---- start-up (synchronous, once) ----

  private _startUp(): FileAuditRecovery {
    let file: string | undefined;
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      this._nextRotation = this._newestRotation() + 1;
      const activeSize = sizeOf(this.path);
      file = activeSize !== undefined && activeSize > 0 ? this.path : this._nextRotation > 1 ? rotatedPath(this.path, this._nextRotation - 1) : undefined;
      const found = file === undefined ? emptyRecovery : this._recoverTail(file);
      // A torn tail not yet set aside: the pump retries it before opening the file.
      if (this._tornPending !== undefined) return found;
      // No file yet: it is created with the first record (a process that chains nothing leaves no empty file).
      if (activeSize === undefined) return found;
      const fd = openSync(this.path, OPEN_FLAGS, MODE);
      const st = fstatSync(fd);
      this._fd = fd;
      this._size = st.size;
      this._checkMode(st.mode);
      return found;
    } catch (err) {
      const problem = `cannot start on ${file ?? this.path}: ${describe(err)}`;
      diag.error(`FileAuditSink(${this.path}): ${problem}; records are kept and the file retried`);
      return { ...emptyRecovery, file, problem };
    }
  }

  private _newestRotation(): number {
    let newest = 0;
    let names: string[];
    try {
      names = readdirSync(dirname(this.path));
    } catch {
      return 0;
    }
    for (const name of names) {
      const index = rotationIndexOf(this.path, name);
      if (index !== undefined && index > newest) newest = index;
    }
    return newest;
  }

  /**
   * Reads the tail of `file`. A torn tail is written to a side file first
   * (synced), then cut off, and the cut is checked; when that cannot be
   * done (a full disk), nothing is cut and nothing is appended until it can
   * (retried by the pump, reported through `diag`), so the next record
   * always starts on a fresh line.
   */
  private _recoverTail(file: string): FileAuditRecovery {
    const fd = openSync(file, 'r');
    let scan: Extract<ReturnType<typeof scanAuditTail>, { kind: 'ok' }>;
    let torn: Buffer;
    try {
      const size = fstatSync(fd).size;
      let window = TAIL_CHUNK;
      for (;;) {
        const start = Math.max(0, size - window);
        const chunk = Buffer.alloc(size - start);
        readFully(fd, chunk, start);
        const found = scanAuditTail(chunk, start);
        if (found.kind === 'need-more') {
          window *= 4;
          continue;
        }
        if (found.kind === 'foreign') {
          const problem = `${file} does not end in audit records (${found.reason}); it was left as it is and the new chain does not link to it`;
          diag.error(`FileAuditSink(${this.path}): ${problem}`);
          return { ...emptyRecovery, file, problem };
        }
        if (found.tornBytes === 0) return { ...emptyRecovery, file, previousHead: found.head };
        scan = found;
        torn = Buffer.from(chunk.subarray(found.keepBytes - start));
        break;
      }
    } finally {
      closeSync(fd);
    }
    this._tornPending = { file, keepBytes: scan.keepBytes, torn };
    const what = `${file} ended in a torn line (${scan.tornReason === 'no-newline' ? 'no newline at the end' : 'an unparseable last line'}, ${scan.tornBytes} bytes)`;
    const from = `the chain continues from ${scan.head ? `${scan.head.chainId}#${scan.head.seq}` : 'nothing (no complete record)'}`;
    let tornPath: string | undefined;
    let problem: string | undefined;
    try {
      tornPath = this._cutTorn();
      diag.warn(`FileAuditSink(${this.path}): ${what}: moved to ${tornPath} and cut off; ${from}`);
    } catch (err) {
      problem = `${what} that cannot be set aside yet (${describe(err)}): nothing is appended until it is`;
      diag.error(`FileAuditSink(${this.path}): ${problem}; retrying; ${from}`);
    }
    return { file, previousHead: scan.head, tornBytes: scan.tornBytes, tornReason: scan.tornReason, tornPath, problem };
  }

  /** Sets the pending torn tail aside (side file written and synced first), cuts it off and checks the cut. Throws when it cannot. */
  private _cutTorn(): string {
    const t = this._tornPending!;
    const tornPath = this._setAside(t.torn);
    const fd = openSync(t.file, 'r+');
    try {
      ftruncateSync(fd, t.keepBytes);
      fdatasyncSync(fd);
      const size = fstatSync(fd).size;
      if (size !== t.keepBytes) throw new Error(`the cut left ${size} bytes, expected ${t.keepBytes}`);
    } finally {
      closeSync(fd);
    }
    this._tornPending = undefined;
    return tornPath;
  }

  /** Writes torn bytes to a new side file (never overwriting one) and syncs it; a side file that could not be completed is removed. */
  private _setAside(torn: Buffer): string {
    const base = tornSidePath(this.path, this._now());
    for (let i = 0; ; i++) {
      const candidate = i === 0 ? base : `${base}-${i}`;
      let fd: number;
      try {
        fd = openSync(candidate, 'wx', MODE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      try {
        let off = 0;
        while (off < torn.length) off += writeSync(fd, torn, off, torn.length - off);
        fdatasyncSync(fd);
      } catch (err) {
        closeSync(fd);
        rmSync(candidate, { force: true });
        throw err;
      }
      closeSync(fd);
      return candidate;
    }
  }
}

const emptyRecovery: FileAuditRecovery = {
  file: undefined,
  previousHead: undefined,
  tornBytes: 0,
  tornReason: undefined,
  tornPath: undefined,
  problem: undefined,
};

function sizeOf(path: string): number | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTFILE' });
    return st.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function readFully(fd: number, into: Buffer, position: number): void {
  let off = 0;
  while (off < into.length) {
    const n = readSync(fd, into, off, into.length - off, position + off);
    if (n === 0) throw new Error('the file shrank while its tail was read');
    off += n;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The active and rotated files of an audit file, in chain order (oldest first, the active file last). */
export function auditFiles(path: string): string[] {
  const dir = dirname(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const rotated = names
    .map(name => ({ name, index: rotationIndexOf(path, name) }))
    .filter((r): r is { name: string; index: number } => r.index !== undefined)
    .sort((a, b) => a.index - b.index)
    .map(r => join(dir, r.name));
  return names.includes(basename(path)) ? [...rotated, path] : rotated;
}
