/**
 * The write-ahead journal of the OTLP audit sink (its "spool"): an
 * append-only JSONL file (mode 0600) holding every record the sink accepts,
 * in chain order, until it is delivered.
 *
 * Lines (each ends with `\n`):
 * - `{"type":"resource","chain_id":"…","attributes":{…}}`: a chain's
 *   resource attributes (encoded as in the record body), written once per
 *   chain per file, before the chain's first record in it;
 * - `{"type":"record","trace_flags":1,"record":<the record line>}`: the
 *   record's JSONL line verbatim (body and hash), which holds every field of
 *   the span, and the span's W3C trace flags (not part of the record);
 * - `{"type":"journal","id":"…"}`: the first line, naming this file.
 *
 * What was delivered (or set aside in the dead-letter file) is saved in
 * `<spool>.ack` as `<file id> <offset> <chain id> <seq> <hash>`: every
 * record of that file ending at or before the offset, and the last of them.
 * An ack naming another file (a late write after the file was replaced) is
 * ignored: at worst records are sent twice, never skipped. The last record
 * journaled (in the file, else in the ack) is the head the next run's chain
 * continues ({@link AuditSpool.lastHead}), so a history cut between runs
 * shows.
 * Writes are positional and run one at a time in the journal's own queue
 * (appends gathered per event-loop turn into one write); a failed write is
 * retried with backoff and the records stay counted. Written data is
 * fdatasync'ed per the fsync policy (default every 200 ms). On a last
 * chance (`process.exit()`, a crash, a signal) whatever is queued is
 * written synchronously and synced: see {@link AuditSpool.flushSync}.
 *
 * The file never keeps growing: when every record is delivered it is
 * replaced by an empty one, and when a large delivered prefix builds up the
 * undelivered tail is copied into a fresh file (with its resource lines)
 * that replaces it (a rename: a write still in flight to the old file lands
 * in the old, unlinked file, never in the new one).
 *
 * At start (once, synchronously) the file is scanned: records after the
 * last ack are undelivered and sent first; a torn last line (a crash
 * mid-write) is moved to `<spool>.torn-<time>` and reported through `diag`.
 *
 * @module
 */
import {
  close as fsClose,
  closeSync,
  constants,
  fdatasync as fsFdatasync,
  fdatasyncSync,
  fstatSync,
  fchmodSync,
  ftruncateSync,
  mkdirSync,
  open as fsOpen,
  openSync,
  read as fsRead,
  readSync,
  rename as fsRename,
  renameSync,
  readFileSync,
  rmSync,
  write as fsWrite,
  writeFile as fsWriteFile,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { diag } from '@opentelemetry/api';
import { encodeAttributes } from '../../patterns/audit/audit-canonical.js';
import { AuditRecordShapeError, decodeAttributes, decodeRecord } from '../../patterns/audit/audit-span-decode.js';
import type { DecodedAuditRecord } from '../../patterns/audit/audit-span-decode.js';
import { normalizeFsyncPolicy, parseChainHead, syncDelayMs } from '../../patterns/audit/audit-file.js';
import { backoffDelay, backoffPolicy } from '../../patterns/shared/backoff.js';
import type { BackoffOptions, BackoffPolicy } from '../../patterns/shared/backoff.js';
import type { ChainHead } from '../../patterns/audit/audit-record.js';
import type { FsyncPolicy } from '../../patterns/audit/audit-file.js';

const RESOURCE_PREFIX = '{"type":"resource",';
const RECORD_PREFIX = '{"type":"record",';
const JOURNAL_PREFIX = '{"type":"journal",';
const NEWLINE = 0x0a;
const MODE = 0o600;
/** A delivered prefix larger than this (and than what is left) is compacted away. */
const COMPACT_BYTES = 8 * 1024 * 1024;
/** A fully delivered journal larger than this is replaced by an empty one at once; a smaller one after a pause. */
const EMPTY_NOW_BYTES = 4 * 1024 * 1024;
const EMPTY_AFTER_MS = 100;

/** What the sink hands the journal for one record. */
export interface SpoolInput {
  readonly chainId: string;
  /** The record's JSONL line (no newline). */
  readonly line: string;
  readonly traceFlags: number;
  /** The chain's resource attributes (written once per chain per file). */
  readonly resource: Readonly<Record<string, unknown>>;
}

/** A record read back from the journal. */
export interface SpooledRecord {
  readonly record: DecodedAuditRecord;
  /** The record's JSONL line, verbatim. */
  readonly line: string;
  readonly traceFlags: number;
  /** The chain's resource attributes as journaled (empty when its resource line is missing). */
  readonly resource: Readonly<Record<string, unknown>>;
}

/** Defaults of {@link AuditSpoolOptions.retry}. */
const JOURNAL_RETRY: BackoffPolicy = Object.freeze({ initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0 });

/** Options of {@link AuditSpool}. */
export interface AuditSpoolOptions {
  /** When written records are fdatasync'ed. @default { everyMs: 200 } */
  fsync?: FsyncPolicy | undefined;
  /** Backoff of retries after a failed write. @default { initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0 } */
  retry?: BackoffOptions | undefined;
  /** Called after each failed write or sync (for the sink's metric). */
  onFailure?: (() => void) | undefined;
  /** Called when queued records have been written (the sink may now read them back or admit more). */
  onWritten?: (() => void) | undefined;
}

/** The journal line of a chain's resource. */
export function resourceSpoolLine(chainId: string, resource: Readonly<Record<string, unknown>>): string {
  return RESOURCE_PREFIX + '"chain_id":' + JSON.stringify(chainId) + ',"attributes":' + encodeAttributes(resource) + '}';
}

/** The journal line of a record. */
export function recordSpoolLine(line: string, traceFlags: number): string {
  return RECORD_PREFIX + '"trace_flags":' + (traceFlags | 0) + ',"record":' + line + '}';
}

/** The first line of a journal file. */
function journalLine(id: string): string {
  return JOURNAL_PREFIX + '"id":' + JSON.stringify(id) + '}';
}

type Op =
  | { kind: 'write'; position: number; parts: string[]; bytes: number; records: number; buffer?: Buffer }
  | { kind: 'switch'; id: string; header: string; copyFrom: number; copyTo: number }
  | { kind: 'read'; from: number; to: number; done: (text: string | Error) => void }
  | { kind: 'sync' };

const fsp = {
  open: (path: string, flags: number | string): Promise<number> =>
    new Promise((res, rej) => fsOpen(path, flags, MODE, (e, fd) => (e ? rej(e) : res(fd)))),
  write: (fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> =>
    new Promise((res, rej) => fsWrite(fd, buf, off, len, pos, (e, n) => (e ? rej(e) : res(n)))),
  read: (fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> =>
    new Promise((res, rej) => fsRead(fd, buf, off, len, pos, (e, n) => (e ? rej(e) : res(n)))),
  fdatasync: (fd: number): Promise<void> => new Promise((res, rej) => fsFdatasync(fd, e => (e ? rej(e) : res()))),
  close: (fd: number): Promise<void> => new Promise(res => fsClose(fd, () => res())),
  rename: (a: string, b: string): Promise<void> => new Promise((res, rej) => fsRename(a, b, e => (e ? rej(e) : res()))),
};

/** See the module comment. */
export class AuditSpool {
  readonly path: string;
  private readonly _ackPath: string;
  private _fd: number | undefined;
  /** The current file's id (its first line). */
  private _id = '';
  private readonly _policy: FsyncPolicy;
  private readonly _retry: BackoffPolicy;
  private readonly _onFailure: () => void;
  private readonly _onWritten: () => void;
  /** Logical end of the current file (queued writes included). */
  private _end = 0;
  /** Start of the first undelivered record (resource lines before it may be needed). */
  private _readOffset = 0;
  /** End offset (after its newline) of each undelivered record, oldest first, from `ends[head]`. */
  private _ends: number[] = [];
  private _head = 0;
  /** Chains whose resource line is in the current file. */
  private _inFile = new Set<string>();
  /** Every chain's resource attributes seen (journaled or read back). */
  private readonly _resources = new Map<string, Readonly<Record<string, unknown>>>();
  private _ops: Op[] = [];
  private _running = false;
  private _immediate: NodeJS.Immediate | undefined;
  private _retryTimer: NodeJS.Timeout | undefined;
  private _syncTimer: NodeJS.Timeout | undefined;
  private _emptyTimer: NodeJS.Timeout | undefined;
  private _failures = 0;
  /** Bumped by the last-chance flush: asynchronous work started before it accounts for nothing. */
  private _epoch = 0;
  /** Records queued and not yet written. */
  private _unwrittenRecords = 0;
  /** Bytes queued and not yet written. */
  private _unwrittenBytes = 0;
  /** Whether written data awaits an fdatasync, and since when. */
  private _unsynced = false;
  private _firstUnsyncedAt = 0;
  /** The ack to save (`<id> <offset>`), and whether a save is under way. */
  private _ackToSave: string | undefined;
  private _ackSaving = false;
  /** The last record delivered: `<chain id> <seq> <hash>`. */
  private _delivered: string | undefined;
  private _closed = false;
  private _flushWaiters: (() => void)[] = [];
  /** Records found undelivered in the journal when it was opened. */
  readonly restored: number;
  /** The last record journaled by an earlier run (in the file, or named by the ack once everything was delivered). */
  readonly lastHead: ChainHead | undefined;
  private _scannedHead: ChainHead | undefined;

  constructor(path: string, options: AuditSpoolOptions = {}) {
    this.path = path;
    this._ackPath = `${path}.ack`;
    this._policy = normalizeFsyncPolicy(options.fsync);
    this._retry = backoffPolicy(options.retry, JOURNAL_RETRY, 'retry');
    this._onFailure = options.onFailure ?? (() => {});
    this._onWritten = options.onWritten ?? (() => {});
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, MODE);
    try {
      fchmodSync(fd, MODE);
      this._fd = this._recover(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.restored = this.pending;
    this.lastHead = this._scannedHead;
  }

  /** Records journaled (or queued) and not yet delivered. */
  get pending(): number {
    return this._ends.length - this._head;
  }

  /** Records accepted but not yet written to the file (held in memory). */
  get unwritten(): number {
    return this._unwrittenRecords;
  }

  /** Bytes accepted but not yet written to the file (held in memory). */
  get unwrittenByteCount(): number {
    return this._unwrittenBytes;
  }

  // ---- start-up (synchronous, once) ----

  /** Scans the file; keeps only what is undelivered (in a fresh file when anything was delivered or torn); returns the fd to use. */
  private _recover(fd: number): number {
    const size = fstatSync(fd).size;
    const ends: number[] = [];
    let fileId: string | undefined;
    let lastRecord: string | undefined;
    const chunk = Buffer.alloc(1 << 20);
    let pos = 0;
    let carry: Buffer = Buffer.alloc(0);
    let lineStart = 0;
    while (pos < size) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
      if (n <= 0) break;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let from = 0;
      for (;;) {
        const nl = buf.indexOf(NEWLINE, from);
        if (nl < 0) break;
        const line = buf.toString('utf8', from, nl);
        const lineEnd = lineStart + nl - from + 1;
        if (line.startsWith(RECORD_PREFIX)) {
          ends.push(lineEnd);
          lastRecord = line;
        } else if (line.startsWith(RESOURCE_PREFIX)) {
          try {
            const parsed = JSON.parse(line) as { chain_id: string; attributes: unknown };
            this._resources.set(parsed.chain_id, decodeAttributes(parsed.attributes));
          } catch (err) {
            diag.error(`agent-safety-otel: unreadable resource line at byte ${lineStart} of the audit journal ${this.path}`, err);
          }
        } else if (line.startsWith(JOURNAL_PREFIX) && lineStart === 0) {
          fileId = /"id":"([^"]*)"/.exec(line)?.[1];
        } else if (line.length > 0) {
          diag.error(`agent-safety-otel: unrecognised line at byte ${lineStart} of the audit journal ${this.path}; skipped`);
        }
        lineStart = lineEnd;
        from = nl + 1;
      }
      carry = Buffer.from(buf.subarray(from));
      pos += n;
    }
    if (carry.length > 0) {
      this._setAsideTorn(carry);
      ftruncateSync(fd, lineStart);
    }
    const saved = this._savedAck();
    const acked = fileId !== undefined && saved?.id === fileId ? saved.offset : 0;
    this._scannedHead = lastRecord !== undefined ? parseChainHead(lastRecord.slice(lastRecord.indexOf('"record":') + 9, -1)) : saved?.head;
    let first = 0;
    while (first < ends.length && ends[first] <= acked) first++;
    rmSync(this._ackPath, { force: true });
    if (first === ends.length) {
      // Nothing waits: start an empty file.
      this._id = randomUUID();
      if (size > 0) {
        ftruncateSync(fd, 0);
        fdatasyncSync(fd);
      }
      return fd;
    }
    if (first === 0 && fileId !== undefined) {
      // Nothing delivered: keep the file as it is (reads start at 0: the journal and resource lines are skipped or re-read).
      this._id = fileId;
      this._ends = ends;
      this._end = lineStart;
      this._readOffset = 0;
      for (const chainId of this._resources.keys()) this._inFile.add(chainId);
      return fd;
    }
    // A delivered prefix (or a file of an older format): the undelivered tail goes to a fresh file that replaces this one.
    const tailStart = first === 0 ? 0 : ends[first - 1];
    this._id = randomUUID();
    const header = Buffer.from(journalLine(this._id) + '\n' + [...this._resources].map(([id, attrs]) => resourceSpoolLine(id, attrs) + '\n').join(''));
    const tmp = `${this.path}.next`;
    const out = openSync(tmp, 'w+', MODE);
    try {
      writeAll(out, header, 0);
      copySync(fd, out, tailStart, lineStart, header.length);
      fdatasyncSync(out);
    } catch (err) {
      closeSync(out);
      rmSync(tmp, { force: true });
      throw err;
    }
    renameSync(tmp, this.path);
    closeSync(fd);
    const shift = header.length - tailStart;
    this._ends = ends.slice(first).map(e => e + shift);
    this._end = lineStart + shift;
    this._readOffset = header.length;
    for (const chainId of this._resources.keys()) this._inFile.add(chainId);
    return out;
  }

  private _savedAck(): { id: string; offset: number; head: ChainHead | undefined } | undefined {
    try {
      const [id, offset, chainId, seq, hash] = readFileSync(this._ackPath, 'utf8').trim().split(' ');
      if (id === undefined || !/^\d+$/.test(offset ?? '')) return undefined;
      const head = chainId && /^\d+$/.test(seq ?? '') && /^[0-9a-f]{64}$/.test(hash ?? '') ? { chainId, seq: Number(seq), hash: hash! } : undefined;
      return { id, offset: Number(offset), head };
    } catch {
      return undefined;
    }
  }

  private _setAsideTorn(carry: Buffer): void {
    const aside = `${this.path}.torn-${Date.now()}`;
    try {
      const fd = openSync(aside, 'wx', MODE);
      try {
        writeAll(fd, carry, 0);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      diag.warn(`agent-safety-otel: the audit journal ${this.path} ended with a torn line (${carry.length} bytes, a crash mid-write); it was moved to ${aside}`);
    } catch (err) {
      rmSync(aside, { force: true });
      diag.error(
        `agent-safety-otel: the audit journal ${this.path} ended with a torn line (${carry.length} bytes, a record never fully written) that could not be set aside; it is cut off`,
        err,
      );
    }
  }

  // ---- appending and acknowledging ----

  /**
   * Appends records (in order) at the logical end. The accounting is
   * immediate; the bytes are written in the journal's queue (all appends of
   * one event-loop turn in one write).
   */
  append(inputs: readonly SpoolInput[]): void {
    if (inputs.length === 0) return;
    if (this._closed) throw new Error(`the audit journal ${this.path} is closed`);
    let text = '';
    let bytes = 0;
    if (this._end === 0) {
      // A file starts with its journal line (an empty journal is an empty file).
      text = journalLine(this._id) + '\n';
      bytes = Buffer.byteLength(text);
    }
    for (const input of inputs) {
      if (!this._inFile.has(input.chainId)) {
        this._inFile.add(input.chainId);
        if (!this._resources.has(input.chainId)) this._resources.set(input.chainId, input.resource);
        const r = resourceSpoolLine(input.chainId, input.resource) + '\n';
        bytes += Buffer.byteLength(r);
        text += r;
      }
      const l = recordSpoolLine(input.line, input.traceFlags) + '\n';
      bytes += Buffer.byteLength(l);
      this._ends.push(this._end + bytes);
      text += l;
    }
    const last = this._ops[this._ops.length - 1];
    if (last !== undefined && last.kind === 'write' && last.buffer === undefined && last.position + last.bytes === this._end) {
      last.parts.push(text);
      last.bytes += bytes;
      last.records += inputs.length;
    } else {
      this._ops.push({ kind: 'write', position: this._end, parts: [text], bytes, records: inputs.length });
    }
    this._end += bytes;
    this._unwrittenRecords += inputs.length;
    this._unwrittenBytes += bytes;
    this._kick();
  }

  /**
   * Marks the first `count` undelivered records delivered (saved in the ack
   * file); when none is left the file is replaced by an empty one, and a
   * large delivered prefix is compacted away.
   */
  consume(count: number, last: ChainHead | undefined): void {
    const n = Math.min(count, this.pending);
    if (n === 0) return;
    this._head += n;
    this._readOffset = this._ends[this._head - 1];
    if (last !== undefined) this._delivered = `${last.chainId} ${last.seq} ${last.hash}`;
    const tail = this._delivered === undefined ? '' : ` ${this._delivered}`;
    if (this._head === this._ends.length) {
      if (this._end > EMPTY_NOW_BYTES) {
        this._switchFile(false);
        this._saveAck(`- 0${tail}`);
      } else {
        // A small journal, all delivered: emptied once appends pause (a busy one would churn files).
        this._saveAck(`${this._id} ${this._readOffset}${tail}`);
        this._armEmpty(tail);
      }
    } else if (this._readOffset > COMPACT_BYTES && this._readOffset * 2 > this._end) {
      this._switchFile(true);
      this._saveAck(`- 0${tail}`);
    } else {
      this._saveAck(`${this._id} ${this._readOffset}${tail}`);
      if (this._head > 4096 && this._head * 2 > this._ends.length) {
        this._ends = this._ends.slice(this._head);
        this._head = 0;
      }
    }
  }

  private _armEmpty(tail: string): void {
    if (this._emptyTimer !== undefined) clearTimeout(this._emptyTimer);
    this._emptyTimer = setTimeout(() => {
      this._emptyTimer = undefined;
      if (this._closed || this._head !== this._ends.length || this._end === 0) return;
      this._switchFile(false);
      this._saveAck(`- 0${tail}`);
    }, EMPTY_AFTER_MS);
    this._emptyTimer.unref();
  }

  /** Saves the ack file (the latest value wins; one write at a time; a failure only means records re-sent). */
  private _saveAck(value: string): void {
    this._ackToSave = value;
    if (this._ackSaving) return;
    const next = this._ackToSave;
    this._ackToSave = undefined;
    this._ackSaving = true;
    fsWriteFile(this._ackPath, next, { mode: MODE }, err => {
      this._ackSaving = false;
      if (err) diag.warn(`agent-safety-otel: audit journal ${this.path}: saving what was delivered failed (records may be sent again after a restart)`, err);
      if (this._ackToSave !== undefined) this._saveAck(this._ackToSave);
    });
  }

  /** Queues the replacement of the file by a fresh one holding the undelivered tail (if `keepTail`). */
  private _switchFile(keepTail: boolean): void {
    const id = randomUUID();
    let header = keepTail ? journalLine(id) + '\n' : '';
    const copyFrom = this._readOffset;
    const copyTo = keepTail ? this._end : this._readOffset;
    this._inFile.clear();
    if (keepTail) {
      for (const [chainId, attrs] of this._resources) {
        header += resourceSpoolLine(chainId, attrs) + '\n';
        this._inFile.add(chainId);
      }
    }
    const headerBytes = Buffer.byteLength(header);
    const shift = headerBytes - copyFrom;
    this._ends = keepTail ? this._ends.slice(this._head).map(e => e + shift) : [];
    this._head = 0;
    this._end = keepTail ? this._end + shift : 0;
    this._readOffset = headerBytes;
    this._id = id;
    this._ops.push({ kind: 'switch', id, header, copyFrom, copyTo });
    this._kick();
  }

  /**
   * Reads the first `count` undelivered records (after every write queued
   * before). Records that cannot be decoded are reported through `diag`
   * and left out (so the result may be shorter than `count`).
   */
  read(count: number): Promise<SpooledRecord[]> {
    const n = Math.min(count, this.pending);
    if (n === 0) return Promise.resolve([]);
    const from = this._readOffset;
    const to = this._ends[this._head + n - 1];
    return new Promise((resolve, reject) => {
      this._ops.push({ kind: 'read', from, to, done: text => (typeof text === 'string' ? resolve(this._parse(text, from)) : reject(text)) });
      this._kick();
    });
  }

  private _parse(text: string, from: number): SpooledRecord[] {
    const out: SpooledRecord[] = [];
    let offset = from;
    for (const line of text.split('\n')) {
      const at = offset;
      offset += Buffer.byteLength(line) + 1;
      if (line.length === 0 || line.startsWith(JOURNAL_PREFIX)) continue;
      try {
        if (line.startsWith(RESOURCE_PREFIX)) {
          const parsed = JSON.parse(line) as { chain_id: string; attributes: unknown };
          this._resources.set(parsed.chain_id, decodeAttributes(parsed.attributes));
          continue;
        }
        if (!line.startsWith(RECORD_PREFIX)) throw new AuditRecordShapeError('unrecognised journal line');
        const parsed = JSON.parse(line) as { trace_flags?: unknown; record: unknown };
        const record = decodeRecord(parsed.record);
        const recordLine = line.slice(line.indexOf('"record":') + '"record":'.length, line.length - 1);
        let resource = this._resources.get(record.chainId);
        if (resource === undefined) {
          diag.warn(`agent-safety-otel: audit journal ${this.path}: no resource line for chain ${record.chainId}; re-sending with an empty resource`);
          resource = {};
          this._resources.set(record.chainId, resource);
        }
        out.push({ record, line: recordLine, traceFlags: typeof parsed.trace_flags === 'number' ? parsed.trace_flags : 1, resource });
      } catch (err) {
        diag.error(`agent-safety-otel: audit journal ${this.path}: the record at byte ${at} cannot be read and is not re-sent`, err);
      }
    }
    return out;
  }

  // ---- the queue: one operation at a time ----

  private _kick(): void {
    if (this._running || this._immediate !== undefined || this._retryTimer !== undefined) return;
    this._immediate = setImmediate(() => {
      this._immediate = undefined;
      void this._pump();
    });
  }

  private async _pump(): Promise<void> {
    if (this._running) return;
    this._running = true;
    const epoch = this._epoch;
    try {
      while (this._ops.length > 0) {
        const op = this._ops[0];
        try {
          await this._execute(op);
        } catch (err) {
          if (epoch !== this._epoch) return;
          if (op.kind === 'read') {
            this._ops.shift();
            op.done(err as Error);
            continue;
          }
          this._failures++;
          this._onFailure();
          const delay = backoffDelay(this._failures, this._retry);
          diag.error(
            `agent-safety-otel: audit journal ${this.path}: ${op.kind} failed (${(err as Error).message}); ${this._unwrittenRecords} records held in memory, retrying in ${delay} ms (attempt ${this._failures})`,
          );
          this._retryTimer = setTimeout(() => {
            this._retryTimer = undefined;
            void this._pump();
          }, delay);
          this._retryTimer.unref();
          return;
        }
        if (epoch !== this._epoch) return;
        this._ops.shift();
        if (op.kind === 'read') continue;
        if (this._failures > 0) {
          diag.warn(`agent-safety-otel: audit journal ${this.path}: writing again after ${this._failures} failed attempts; nothing accepted was lost`);
          this._failures = 0;
        }
        if (op.kind === 'write') {
          this._written(op);
          if (this._policy === 'always') this._ops.unshift({ kind: 'sync' });
        }
      }
    } finally {
      if (epoch === this._epoch) {
        this._running = false;
        if (this._ops.length === 0) {
          this._armSync();
          for (const wake of this._flushWaiters.splice(0)) wake();
        }
      }
    }
  }

  private async _execute(op: Op): Promise<void> {
    const fd = this._fd!;
    switch (op.kind) {
      case 'write': {
        op.buffer ??= Buffer.from(op.parts.length === 1 ? op.parts[0] : op.parts.join(''), 'utf8');
        let off = 0;
        while (off < op.buffer.length) off += await fsp.write(fd, op.buffer, off, op.buffer.length - off, op.position + off);
        return;
      }
      case 'read': {
        const buf = Buffer.alloc(op.to - op.from);
        let done = 0;
        while (done < buf.length) {
          const n = await fsp.read(fd, buf, done, buf.length - done, op.from + done);
          if (n === 0) throw new Error(`the audit journal ended at byte ${op.from + done}, expected ${op.to}`);
          done += n;
        }
        op.done(buf.toString('utf8'));
        return;
      }
      case 'sync':
        await fsp.fdatasync(fd);
        this._unsynced = false;
        return;
      case 'switch': {
        const tmp = `${this.path}.next`;
        const out = await fsp.open(tmp, 'w+');
        try {
          const header = Buffer.from(op.header);
          let off = 0;
          while (off < header.length) off += await fsp.write(out, header, off, header.length - off, off);
          for (let from = op.copyFrom; from < op.copyTo; ) {
            const chunk = Buffer.alloc(Math.min(1 << 20, op.copyTo - from));
            const n = await fsp.read(fd, chunk, 0, chunk.length, from);
            if (n === 0) throw new Error(`the audit journal ended at byte ${from}, expected ${op.copyTo}`);
            let w = 0;
            while (w < n) w += await fsp.write(out, chunk, w, n - w, header.length + (from - op.copyFrom) + w);
            from += n;
          }
          await fsp.fdatasync(out);
          await fsp.rename(tmp, this.path);
        } catch (err) {
          await fsp.close(out);
          throw err;
        }
        this._fd = out;
        this._unsynced = false;
        await fsp.close(fd);
        return;
      }
    }
  }

  private _written(op: Extract<Op, { kind: 'write' }>): void {
    this._unwrittenRecords -= op.records;
    this._unwrittenBytes -= op.bytes;
    if (this._policy !== 'never' && !this._unsynced) {
      this._unsynced = true;
      this._firstUnsyncedAt = Date.now();
    }
    if (op.records > 0) this._onWritten();
  }

  private _armSync(): void {
    if (!this._unsynced || typeof this._policy !== 'object' || this._syncTimer !== undefined || this._closed) return;
    this._syncTimer = setTimeout(() => {
      this._syncTimer = undefined;
      if (!this._unsynced) return;
      this._ops.push({ kind: 'sync' });
      this._kick();
    }, syncDelayMs(this._policy.everyMs, this._firstUnsyncedAt, Date.now()));
    this._syncTimer.unref();
  }

  /**
   * Resolves when everything queued so far is written and (unless the
   * policy is `'never'`) synced; while the disk fails it keeps retrying
   * (the sink bounds how long it waits).
   */
  flush(): Promise<void> {
    if (this._policy !== 'never' && this._unsynced) this._ops.push({ kind: 'sync' });
    if (this._ops.length === 0 && !this._running) return Promise.resolve();
    return new Promise(resolve => {
      this._flushWaiters.push(resolve);
      this._kick();
    });
  }

  /**
   * The last-chance flush: every queued write (the one in flight again, at
   * the same place: same bytes), a queued file switch, then an fdatasync,
   * all synchronous; and the ack file. Reads are dropped. Never throws.
   */
  flushSync(): void {
    if (this._fd === undefined) return;
    if (this._ops.length === 0 && (!this._unsynced || this._policy === 'never') && this._ackToSave === undefined) return;
    this._epoch++;
    this._running = false;
    try {
      for (const op of this._ops) {
        const fd = this._fd;
        if (op.kind === 'write') {
          op.buffer ??= Buffer.from(op.parts.join(''), 'utf8');
          writeAll(fd, op.buffer, op.position);
          this._written(op);
        } else if (op.kind === 'switch') {
          const tmp = `${this.path}.next`;
          const out = openSync(tmp, 'w+', MODE);
          const header = Buffer.from(op.header);
          writeAll(out, header, 0);
          copySync(fd, out, op.copyFrom, op.copyTo, header.length);
          renameSync(tmp, this.path);
          this._fd = out;
          try {
            closeSync(fd);
          } catch {
            // the asynchronous switch may have closed it
          }
        }
      }
      this._ops = [];
      if (this._policy !== 'never') fdatasyncSync(this._fd);
      this._unsynced = false;
      if (this._ackToSave !== undefined) writeFileSync(this._ackPath, this._ackToSave, { mode: MODE });
    } catch (err) {
      diag.error(`agent-safety-otel: audit journal ${this.path}: the last-chance flush failed with ${this._unwrittenRecords} records not written`, err);
    }
  }

  /** Writes and syncs what is queued (retrying while the disk fails: the sink bounds how long it waits), then closes. */
  async close(): Promise<void> {
    if (this._closed) return;
    if (this.pending === 0 && this._end > 0) {
      // Everything delivered: leave an empty journal (and the ack naming the last record delivered).
      this._switchFile(false);
      if (this._delivered !== undefined) this._saveAck(`- 0 ${this._delivered}`);
    }
    await this.flush();
    this._closed = true;
    if (this._syncTimer !== undefined) clearTimeout(this._syncTimer);
    if (this._retryTimer !== undefined) clearTimeout(this._retryTimer);
    if (this._immediate !== undefined) clearImmediate(this._immediate);
    if (this._emptyTimer !== undefined) clearTimeout(this._emptyTimer);
    this._syncTimer = this._retryTimer = this._immediate = this._emptyTimer = undefined;
    const ack = this._ackToSave;
    if (ack !== undefined) await new Promise<void>(res => fsWriteFile(this._ackPath, ack, { mode: MODE }, () => res()));
    if (this._fd !== undefined) {
      const fd = this._fd;
      this._fd = undefined;
      await fsp.close(fd);
    }
  }
}

function writeAll(fd: number, buffer: Buffer, position: number): void {
  let off = 0;
  while (off < buffer.length) off += writeSync(fd, buffer, off, buffer.length - off, position + off);
}

/** Copies bytes [from, to) of `src` to `dst` at `at`, in chunks. */
function copySync(src: number, dst: number, from: number, to: number, at: number): void {
  const chunk = Buffer.alloc(Math.min(1 << 20, Math.max(0, to - from)));
  for (let pos = from; pos < to; ) {
    const n = readSync(src, chunk, 0, Math.min(chunk.length, to - pos), pos);
    if (n <= 0) throw new Error(`the audit journal ended at byte ${pos}, expected ${to}`);
    writeAll(dst, chunk.subarray(0, n), at + (pos - from));
    pos += n;
  }
}
