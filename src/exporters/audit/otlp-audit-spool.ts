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
import { normalizeFsyncPolicy, parseChainHead, retryDelayMs, syncDelayMs } from '../../patterns/audit/audit-file.js';
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

/** Options of {@link AuditSpool}. */
export interface AuditSpoolOptions {
  /** When written records are fdatasync'ed. @default { everyMs: 200 } */
  fsync?: FsyncPolicy | undefined;
  /** Backoff of retries after a failed write. @default { initialMs: 100, maxMs: 5000 } */
  retry?: { initialMs?: number; maxMs?: number } | undefined;
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
  private readonly ackPath: string;
  private fd: number | undefined;
  /** The current file's id (its first line). */
  private id = '';
  private readonly policy: FsyncPolicy;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly onFailure: () => void;
  private readonly onWritten: () => void;
  /** Logical end of the current file (queued writes included). */
  private end = 0;
  /** Start of the first undelivered record (resource lines before it may be needed). */
  private readOffset = 0;
  /** End offset (after its newline) of each undelivered record, oldest first, from `ends[head]`. */
  private ends: number[] = [];
  private head = 0;
  /** Chains whose resource line is in the current file. */
  private inFile = new Set<string>();
  /** Every chain's resource attributes seen (journaled or read back). */
  private readonly resources = new Map<string, Readonly<Record<string, unknown>>>();
  private ops: Op[] = [];
  private running = false;
  private immediate: NodeJS.Immediate | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private emptyTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Bumped by the last-chance flush: asynchronous work started before it accounts for nothing. */
  private epoch = 0;
  /** Records queued and not yet written. */
  private unwrittenRecords = 0;
  /** Bytes queued and not yet written. */
  private unwrittenBytes = 0;
  /** Whether written data awaits an fdatasync, and since when. */
  private unsynced = false;
  private firstUnsyncedAt = 0;
  /** The ack to save (`<id> <offset>`), and whether a save is under way. */
  private ackToSave: string | undefined;
  private ackSaving = false;
  /** The last record delivered: `<chain id> <seq> <hash>`. */
  private delivered: string | undefined;
  private closed = false;
  private flushWaiters: (() => void)[] = [];
  /** Records found undelivered in the journal when it was opened. */
  readonly restored: number;
  /** The last record journaled by an earlier run (in the file, or named by the ack once everything was delivered). */
  readonly lastHead: ChainHead | undefined;
  private scannedHead: ChainHead | undefined;

  constructor(path: string, options: AuditSpoolOptions = {}) {
    this.path = path;
    this.ackPath = `${path}.ack`;
    this.policy = normalizeFsyncPolicy(options.fsync);
    this.retryInitialMs = options.retry?.initialMs ?? 100;
    this.retryMaxMs = options.retry?.maxMs ?? 5000;
    this.onFailure = options.onFailure ?? (() => {});
    this.onWritten = options.onWritten ?? (() => {});
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, MODE);
    try {
      fchmodSync(fd, MODE);
      this.fd = this.recover(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.restored = this.pending;
    this.lastHead = this.scannedHead;
  }

  /** Records journaled (or queued) and not yet delivered. */
  get pending(): number {
    return this.ends.length - this.head;
  }

  /** Records accepted but not yet written to the file (held in memory). */
  get unwritten(): number {
    return this.unwrittenRecords;
  }

  /** Bytes accepted but not yet written to the file (held in memory). */
  get unwrittenByteCount(): number {
    return this.unwrittenBytes;
  }

  // ---- start-up (synchronous, once) ----

  /** Scans the file; keeps only what is undelivered (in a fresh file when anything was delivered or torn); returns the fd to use. */
  private recover(fd: number): number {
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
            this.resources.set(parsed.chain_id, decodeAttributes(parsed.attributes));
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
      this.setAsideTorn(carry);
      ftruncateSync(fd, lineStart);
    }
    const saved = this.savedAck();
    const acked = fileId !== undefined && saved?.id === fileId ? saved.offset : 0;
    this.scannedHead = lastRecord !== undefined ? parseChainHead(lastRecord.slice(lastRecord.indexOf('"record":') + 9, -1)) : saved?.head;
    let first = 0;
    while (first < ends.length && ends[first] <= acked) first++;
    rmSync(this.ackPath, { force: true });
    if (first === ends.length) {
      // Nothing waits: start an empty file.
      this.id = randomUUID();
      if (size > 0) {
        ftruncateSync(fd, 0);
        fdatasyncSync(fd);
      }
      return fd;
    }
    if (first === 0 && fileId !== undefined) {
      // Nothing delivered: keep the file as it is (reads start at 0: the journal and resource lines are skipped or re-read).
      this.id = fileId;
      this.ends = ends;
      this.end = lineStart;
      this.readOffset = 0;
      for (const chainId of this.resources.keys()) this.inFile.add(chainId);
      return fd;
    }
    // A delivered prefix (or a file of an older format): the undelivered tail goes to a fresh file that replaces this one.
    const tailStart = first === 0 ? 0 : ends[first - 1];
    this.id = randomUUID();
    const header = Buffer.from(journalLine(this.id) + '\n' + [...this.resources].map(([id, attrs]) => resourceSpoolLine(id, attrs) + '\n').join(''));
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
    this.ends = ends.slice(first).map(e => e + shift);
    this.end = lineStart + shift;
    this.readOffset = header.length;
    for (const chainId of this.resources.keys()) this.inFile.add(chainId);
    return out;
  }

  private savedAck(): { id: string; offset: number; head: ChainHead | undefined } | undefined {
    try {
      const [id, offset, chainId, seq, hash] = readFileSync(this.ackPath, 'utf8').trim().split(' ');
      if (id === undefined || !/^\d+$/.test(offset ?? '')) return undefined;
      const head = chainId && /^\d+$/.test(seq ?? '') && /^[0-9a-f]{64}$/.test(hash ?? '') ? { chainId, seq: Number(seq), hash: hash! } : undefined;
      return { id, offset: Number(offset), head };
    } catch {
      return undefined;
    }
  }

  private setAsideTorn(carry: Buffer): void {
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
    if (this.closed) throw new Error(`the audit journal ${this.path} is closed`);
    let text = '';
    let bytes = 0;
    if (this.end === 0) {
      // A file starts with its journal line (an empty journal is an empty file).
      text = journalLine(this.id) + '\n';
      bytes = Buffer.byteLength(text);
    }
    for (const input of inputs) {
      if (!this.inFile.has(input.chainId)) {
        this.inFile.add(input.chainId);
        if (!this.resources.has(input.chainId)) this.resources.set(input.chainId, input.resource);
        const r = resourceSpoolLine(input.chainId, input.resource) + '\n';
        bytes += Buffer.byteLength(r);
        text += r;
      }
      const l = recordSpoolLine(input.line, input.traceFlags) + '\n';
      bytes += Buffer.byteLength(l);
      this.ends.push(this.end + bytes);
      text += l;
    }
    const last = this.ops[this.ops.length - 1];
    if (last !== undefined && last.kind === 'write' && last.buffer === undefined && last.position + last.bytes === this.end) {
      last.parts.push(text);
      last.bytes += bytes;
      last.records += inputs.length;
    } else {
      this.ops.push({ kind: 'write', position: this.end, parts: [text], bytes, records: inputs.length });
    }
    this.end += bytes;
    this.unwrittenRecords += inputs.length;
    this.unwrittenBytes += bytes;
    this.kick();
  }

  /**
   * Marks the first `count` undelivered records delivered (saved in the ack
   * file); when none is left the file is replaced by an empty one, and a
   * large delivered prefix is compacted away.
   */
  consume(count: number, last: ChainHead | undefined): void {
    const n = Math.min(count, this.pending);
    if (n === 0) return;
    this.head += n;
    this.readOffset = this.ends[this.head - 1];
    if (last !== undefined) this.delivered = `${last.chainId} ${last.seq} ${last.hash}`;
    const tail = this.delivered === undefined ? '' : ` ${this.delivered}`;
    if (this.head === this.ends.length) {
      if (this.end > EMPTY_NOW_BYTES) {
        this.switchFile(false);
        this.saveAck(`- 0${tail}`);
      } else {
        // A small journal, all delivered: emptied once appends pause (a busy one would churn files).
        this.saveAck(`${this.id} ${this.readOffset}${tail}`);
        this.armEmpty(tail);
      }
    } else if (this.readOffset > COMPACT_BYTES && this.readOffset * 2 > this.end) {
      this.switchFile(true);
      this.saveAck(`- 0${tail}`);
    } else {
      this.saveAck(`${this.id} ${this.readOffset}${tail}`);
      if (this.head > 4096 && this.head * 2 > this.ends.length) {
        this.ends = this.ends.slice(this.head);
        this.head = 0;
      }
    }
  }

  private armEmpty(tail: string): void {
    if (this.emptyTimer !== undefined) clearTimeout(this.emptyTimer);
    this.emptyTimer = setTimeout(() => {
      this.emptyTimer = undefined;
      if (this.closed || this.head !== this.ends.length || this.end === 0) return;
      this.switchFile(false);
      this.saveAck(`- 0${tail}`);
    }, EMPTY_AFTER_MS);
    this.emptyTimer.unref();
  }

  /** Saves the ack file (the latest value wins; one write at a time; a failure only means records re-sent). */
  private saveAck(value: string): void {
    this.ackToSave = value;
    if (this.ackSaving) return;
    const next = this.ackToSave;
    this.ackToSave = undefined;
    this.ackSaving = true;
    fsWriteFile(this.ackPath, next, { mode: MODE }, err => {
      this.ackSaving = false;
      if (err) diag.warn(`agent-safety-otel: audit journal ${this.path}: saving what was delivered failed (records may be sent again after a restart)`, err);
      if (this.ackToSave !== undefined) this.saveAck(this.ackToSave);
    });
  }

  /** Queues the replacement of the file by a fresh one holding the undelivered tail (if `keepTail`). */
  private switchFile(keepTail: boolean): void {
    const id = randomUUID();
    let header = keepTail ? journalLine(id) + '\n' : '';
    const copyFrom = this.readOffset;
    const copyTo = keepTail ? this.end : this.readOffset;
    this.inFile.clear();
    if (keepTail) {
      for (const [chainId, attrs] of this.resources) {
        header += resourceSpoolLine(chainId, attrs) + '\n';
        this.inFile.add(chainId);
      }
    }
    const headerBytes = Buffer.byteLength(header);
    const shift = headerBytes - copyFrom;
    this.ends = keepTail ? this.ends.slice(this.head).map(e => e + shift) : [];
    this.head = 0;
    this.end = keepTail ? this.end + shift : 0;
    this.readOffset = headerBytes;
    this.id = id;
    this.ops.push({ kind: 'switch', id, header, copyFrom, copyTo });
    this.kick();
  }

  /**
   * Reads the first `count` undelivered records (after every write queued
   * before). Records that cannot be decoded are reported through `diag`
   * and left out (so the result may be shorter than `count`).
   */
  read(count: number): Promise<SpooledRecord[]> {
    const n = Math.min(count, this.pending);
    if (n === 0) return Promise.resolve([]);
    const from = this.readOffset;
    const to = this.ends[this.head + n - 1];
    return new Promise((resolve, reject) => {
      this.ops.push({ kind: 'read', from, to, done: text => (typeof text === 'string' ? resolve(this.parse(text, from)) : reject(text)) });
      this.kick();
    });
  }

  private parse(text: string, from: number): SpooledRecord[] {
    const out: SpooledRecord[] = [];
    let offset = from;
    for (const line of text.split('\n')) {
      const at = offset;
      offset += Buffer.byteLength(line) + 1;
      if (line.length === 0 || line.startsWith(JOURNAL_PREFIX)) continue;
      try {
        if (line.startsWith(RESOURCE_PREFIX)) {
          const parsed = JSON.parse(line) as { chain_id: string; attributes: unknown };
          this.resources.set(parsed.chain_id, decodeAttributes(parsed.attributes));
          continue;
        }
        if (!line.startsWith(RECORD_PREFIX)) throw new AuditRecordShapeError('unrecognised journal line');
        const parsed = JSON.parse(line) as { trace_flags?: unknown; record: unknown };
        const record = decodeRecord(parsed.record);
        const recordLine = line.slice(line.indexOf('"record":') + '"record":'.length, line.length - 1);
        let resource = this.resources.get(record.chainId);
        if (resource === undefined) {
          diag.warn(`agent-safety-otel: audit journal ${this.path}: no resource line for chain ${record.chainId}; re-sending with an empty resource`);
          resource = {};
          this.resources.set(record.chainId, resource);
        }
        out.push({ record, line: recordLine, traceFlags: typeof parsed.trace_flags === 'number' ? parsed.trace_flags : 1, resource });
      } catch (err) {
        diag.error(`agent-safety-otel: audit journal ${this.path}: the record at byte ${at} cannot be read and is not re-sent`, err);
      }
    }
    return out;
  }

  // ---- the queue: one operation at a time ----

  private kick(): void {
    if (this.running || this.immediate !== undefined || this.retryTimer !== undefined) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const epoch = this.epoch;
    try {
      while (this.ops.length > 0) {
        const op = this.ops[0];
        try {
          await this.execute(op);
        } catch (err) {
          if (epoch !== this.epoch) return;
          if (op.kind === 'read') {
            this.ops.shift();
            op.done(err as Error);
            continue;
          }
          this.failures++;
          this.onFailure();
          const delay = retryDelayMs(this.failures, this.retryInitialMs, this.retryMaxMs);
          diag.error(
            `agent-safety-otel: audit journal ${this.path}: ${op.kind} failed (${(err as Error).message}); ${this.unwrittenRecords} records held in memory, retrying in ${delay} ms (attempt ${this.failures})`,
          );
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            void this.pump();
          }, delay);
          this.retryTimer.unref();
          return;
        }
        if (epoch !== this.epoch) return;
        this.ops.shift();
        if (op.kind === 'read') continue;
        if (this.failures > 0) {
          diag.warn(`agent-safety-otel: audit journal ${this.path}: writing again after ${this.failures} failed attempts; nothing accepted was lost`);
          this.failures = 0;
        }
        if (op.kind === 'write') {
          this.written(op);
          if (this.policy === 'always') this.ops.unshift({ kind: 'sync' });
        }
      }
    } finally {
      if (epoch === this.epoch) {
        this.running = false;
        if (this.ops.length === 0) {
          this.armSync();
          for (const wake of this.flushWaiters.splice(0)) wake();
        }
      }
    }
  }

  private async execute(op: Op): Promise<void> {
    const fd = this.fd!;
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
        this.unsynced = false;
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
        this.fd = out;
        this.unsynced = false;
        await fsp.close(fd);
        return;
      }
    }
  }

  private written(op: Extract<Op, { kind: 'write' }>): void {
    this.unwrittenRecords -= op.records;
    this.unwrittenBytes -= op.bytes;
    if (this.policy !== 'never' && !this.unsynced) {
      this.unsynced = true;
      this.firstUnsyncedAt = Date.now();
    }
    if (op.records > 0) this.onWritten();
  }

  private armSync(): void {
    if (!this.unsynced || typeof this.policy !== 'object' || this.syncTimer !== undefined || this.closed) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (!this.unsynced) return;
      this.ops.push({ kind: 'sync' });
      this.kick();
    }, syncDelayMs(this.policy.everyMs, this.firstUnsyncedAt, Date.now()));
    this.syncTimer.unref();
  }

  /**
   * Resolves when everything queued so far is written and (unless the
   * policy is `'never'`) synced; while the disk fails it keeps retrying
   * (the sink bounds how long it waits).
   */
  flush(): Promise<void> {
    if (this.policy !== 'never' && this.unsynced) this.ops.push({ kind: 'sync' });
    if (this.ops.length === 0 && !this.running) return Promise.resolve();
    return new Promise(resolve => {
      this.flushWaiters.push(resolve);
      this.kick();
    });
  }

  /**
   * The last-chance flush: every queued write (the one in flight again, at
   * the same place: same bytes), a queued file switch, then an fdatasync,
   * all synchronous; and the ack file. Reads are dropped. Never throws.
   */
  flushSync(): void {
    if (this.fd === undefined) return;
    if (this.ops.length === 0 && (!this.unsynced || this.policy === 'never') && this.ackToSave === undefined) return;
    this.epoch++;
    this.running = false;
    try {
      for (const op of this.ops) {
        const fd = this.fd;
        if (op.kind === 'write') {
          op.buffer ??= Buffer.from(op.parts.join(''), 'utf8');
          writeAll(fd, op.buffer, op.position);
          this.written(op);
        } else if (op.kind === 'switch') {
          const tmp = `${this.path}.next`;
          const out = openSync(tmp, 'w+', MODE);
          const header = Buffer.from(op.header);
          writeAll(out, header, 0);
          copySync(fd, out, op.copyFrom, op.copyTo, header.length);
          renameSync(tmp, this.path);
          this.fd = out;
          try {
            closeSync(fd);
          } catch {
            // the asynchronous switch may have closed it
          }
        }
      }
      this.ops = [];
      if (this.policy !== 'never') fdatasyncSync(this.fd);
      this.unsynced = false;
      if (this.ackToSave !== undefined) writeFileSync(this.ackPath, this.ackToSave, { mode: MODE });
    } catch (err) {
      diag.error(`agent-safety-otel: audit journal ${this.path}: the last-chance flush failed with ${this.unwrittenRecords} records not written`, err);
    }
  }

  /** Writes and syncs what is queued (retrying while the disk fails: the sink bounds how long it waits), then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pending === 0 && this.end > 0) {
      // Everything delivered: leave an empty journal (and the ack naming the last record delivered).
      this.switchFile(false);
      if (this.delivered !== undefined) this.saveAck(`- 0 ${this.delivered}`);
    }
    await this.flush();
    this.closed = true;
    if (this.syncTimer !== undefined) clearTimeout(this.syncTimer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    if (this.emptyTimer !== undefined) clearTimeout(this.emptyTimer);
    this.syncTimer = this.retryTimer = this.immediate = this.emptyTimer = undefined;
    const ack = this.ackToSave;
    if (ack !== undefined) await new Promise<void>(res => fsWriteFile(this.ackPath, ack, { mode: MODE }, () => res()));
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
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
