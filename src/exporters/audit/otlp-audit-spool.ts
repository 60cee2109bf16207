/**
 * The disk spool of the OTLP audit sink: an append-only JSONL file (mode
 * 0600) of records waiting to be re-sent, oldest first.
 *
 * Lines (each ends with `\n`):
 * - `{"type":"resource","chain_id":"…","attributes":{…}}`: a chain's
 *   resource attributes (encoded as in the record body), written once per
 *   chain per spool file, before the chain's first spooled record;
 * - `{"type":"record","trace_flags":1,"record":<the record line>}`: the
 *   record's JSONL line verbatim (body and hash), which holds every field of
 *   the span, and the span's W3C trace flags (not part of the record).
 *
 * Delivered records are not rewritten: a read offset advances over them and
 * is saved in `<spool>.offset` (best effort: after a crash a few delivered
 * records may be sent again). When every spooled record has been delivered
 * the file is truncated to zero and the offset file removed; on close with
 * records still waiting, the undelivered tail (with its resource lines) is
 * copied to a new file that atomically replaces the spool. So the spool never
 * grows beyond the records actually waiting (plus, while it drains, the
 * delivered prefix).
 *
 * Its directory is created (mode 0700) if missing. The file is opened and scanned synchronously when the spool is created
 * (once, at the sink's start); every later write and read is asynchronous,
 * serialised in one queue. A torn last line (a crash mid-append) is moved to
 * `<spool>.torn-<time>` and reported through `diag`, never silently
 * deleted, never re-sent.
 *
 * @module
 */
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { open as openAsync, rename, rm, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { diag } from '@opentelemetry/api';
import { encodeAttributes } from '../../patterns/audit/audit-canonical.js';
import { AuditRecordShapeError, decodeAttributes, decodeRecord } from '../../patterns/audit/audit-span-decode.js';
import type { DecodedAuditRecord } from '../../patterns/audit/audit-span-decode.js';

const RESOURCE_PREFIX = '{"type":"resource",';
const RECORD_PREFIX = '{"type":"record",';
const NEWLINE = 0x0a;

/** What the sink hands the spool for one record. */
export interface SpoolInput {
  readonly chainId: string;
  /** The record's JSONL line (no newline). */
  readonly line: string;
  readonly traceFlags: number;
  /** The chain's resource attributes (written once per chain per file). */
  readonly resource: Readonly<Record<string, unknown>>;
}

/** A record read back from the spool. */
export interface SpooledRecord {
  readonly record: DecodedAuditRecord;
  readonly traceFlags: number;
  /** The chain's resource attributes as spooled (empty when its resource line is missing). */
  readonly resource: Readonly<Record<string, unknown>>;
}

/** The spool line of a chain's resource. */
export function resourceSpoolLine(chainId: string, resource: Readonly<Record<string, unknown>>): string {
  return RESOURCE_PREFIX + '"chain_id":' + JSON.stringify(chainId) + ',"attributes":' + encodeAttributes(resource) + '}';
}

/** The spool line of a record. */
export function recordSpoolLine(line: string, traceFlags: number): string {
  return RECORD_PREFIX + '"trace_flags":' + (traceFlags | 0) + ',"record":' + line + '}';
}

/** See the module comment. */
export class AuditSpool {
  readonly path: string;
  private readonly _offsetPath: string;
  private _fd: number | undefined;
  private _handle: Promise<FileHandle> | undefined;
  /** Logical end of the file (pending writes included). */
  private _end = 0;
  /** Start of the first undelivered record (resource lines before it may be needed). */
  private _readOffset = 0;
  /** End offset (after its newline) of each undelivered record, oldest first, from `ends[head]`. */
  private _ends: number[] = [];
  private _head = 0;
  /** Chains whose resource line is in the current file. */
  private _inFile = new Set<string>();
  /** Every chain's resource attributes seen (spooled or read back). */
  private readonly _resources = new Map<string, Readonly<Record<string, unknown>>>();
  private _io: Promise<void> = Promise.resolve();
  private _closed = false;
  /** Records found in the spool when it was opened. */
  readonly restored: number;

  constructor(path: string) {
    this.path = path;
    this._offsetPath = path + '.offset';
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    this._fd = fd;
    try {
      fchmodSync(fd, 0o600);
      this._scan(fd);
    } catch (err) {
      closeSync(fd);
      this._fd = undefined;
      throw err;
    }
    this.restored = this._ends.length;
  }

  /** Records spooled and not yet delivered. */
  get pending(): number {
    return this._ends.length - this._head;
  }

  private _scan(fd: number): void {
    const size = fstatSync(fd).size;
    let savedOffset = 0;
    try {
      const text = readFileText(this._offsetPath);
      if (text !== undefined && /^\d+$/.test(text.trim())) savedOffset = Number(text.trim());
    } catch {
      savedOffset = 0;
    }
    if (savedOffset > size) savedOffset = 0;
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
        this._scanLine(buf.toString('utf8', from, nl), lineStart + nl - from + 1, lineStart, savedOffset);
        lineStart += nl - from + 1;
        from = nl + 1;
      }
      carry = Buffer.from(buf.subarray(from));
      pos += n;
    }
    if (carry.length > 0) {
      // A torn last line: set it aside, never re-send or silently delete it.
      const aside = `${this.path}.torn-${Date.now()}`;
      try {
        writeFileSync(aside, carry, { mode: 0o600 });
        diag.warn(`agent-safety-otel: the audit spool ${this.path} ended with a torn line (${carry.length} bytes, a crash mid-write); it was moved to ${aside}`);
      } catch (err) {
        diag.error(`agent-safety-otel: the audit spool ${this.path} ended with a torn line that could not be set aside; it is dropped`, err);
      }
      ftruncateSync(fd, lineStart);
    }
    this._end = lineStart;
    this._readOffset = this._head < this._ends.length ? (this._head === 0 ? 0 : this._ends[this._head - 1]) : this._end;
    // Records before the saved offset were delivered by the last run.
    this._ends = this._ends.slice(this._head);
    this._head = 0;
    if (this._ends.length === 0 && this._end > 0) {
      ftruncateSync(fd, 0);
      this._end = 0;
      this._readOffset = 0;
      this._inFile.clear();
    }
  }

  private _scanLine(line: string, endOffset: number, startOffset: number, savedOffset: number): void {
    if (line.startsWith(RECORD_PREFIX)) {
      this._ends.push(endOffset);
      if (endOffset <= savedOffset) this._head = this._ends.length;
      return;
    }
    if (line.startsWith(RESOURCE_PREFIX)) {
      try {
        const parsed = JSON.parse(line) as { chain_id: string; attributes: unknown };
        this._resources.set(parsed.chain_id, decodeAttributes(parsed.attributes));
        this._inFile.add(parsed.chain_id);
      } catch (err) {
        diag.error(`agent-safety-otel: unreadable resource line at byte ${startOffset} of the audit spool ${this.path}`, err);
      }
      return;
    }
    if (line.length > 0) diag.error(`agent-safety-otel: unrecognised line at byte ${startOffset} of the audit spool ${this.path}; skipped`);
  }

  private _queue(op: (fh: FileHandle) => Promise<void>, what: string): Promise<void> {
    const run = this._io.then(async () => {
      const fh = await this._fileHandle();
      await op(fh);
    });
    this._io = run.catch(err => {
      diag.error(`agent-safety-otel: audit spool ${this.path}: ${what} failed`, err);
    });
    return run;
  }

  private _fileHandle(): Promise<FileHandle> {
    if (this._handle === undefined) {
      // Reuse the descriptor opened synchronously: the FileHandle takes it over.
      const fd = this._fd;
      this._fd = undefined;
      if (fd !== undefined) closeSync(fd);
      this._handle = openAsync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    }
    return this._handle;
  }

  /**
   * Appends records (in order) at the logical end. The accounting is
   * immediate; the write happens in the spool's queue.
   */
  append(inputs: readonly SpoolInput[]): void {
    if (inputs.length === 0) return;
    if (this._closed) throw new Error(`the audit spool ${this.path} is closed`);
    const position = this._end;
    let text = '';
    for (const input of inputs) {
      if (!this._inFile.has(input.chainId)) {
        this._inFile.add(input.chainId);
        if (!this._resources.has(input.chainId)) this._resources.set(input.chainId, input.resource);
        const r = resourceSpoolLine(input.chainId, input.resource) + '\n';
        this._end += Buffer.byteLength(r);
        text += r;
      }
      const l = recordSpoolLine(input.line, input.traceFlags) + '\n';
      this._end += Buffer.byteLength(l);
      this._ends.push(this._end);
      text += l;
    }
    const buf = Buffer.from(text);
    void this._queue(async fh => {
      let done = 0;
      while (done < buf.length) {
        const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
        done += bytesWritten;
      }
    }, 'append').catch(() => {});
  }

  /**
   * Reads the first `count` undelivered records (after earlier reads and
   * appends complete). Records that cannot be decoded are reported through
   * `diag` and left out (so the result may be shorter than `count`).
   */
  read(count: number): Promise<SpooledRecord[]> {
    const n = Math.min(count, this.pending);
    if (n === 0) return Promise.resolve([]);
    const from = this._readOffset;
    const to = this._ends[this._head + n - 1];
    let out: SpooledRecord[] = [];
    return this._queue(async fh => {
      const buf = Buffer.alloc(to - from);
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, from + done);
        if (bytesRead === 0) throw new Error(`the audit spool ended at byte ${from + done}, expected ${to}`);
        done += bytesRead;
      }
      out = this._parse(buf.toString('utf8'), from);
    }, 'read').then(() => out);
  }

  private _parse(text: string, from: number): SpooledRecord[] {
    const out: SpooledRecord[] = [];
    let offset = from;
    for (const line of text.split('\n')) {
      const at = offset;
      offset += Buffer.byteLength(line) + 1;
      if (line.length === 0) continue;
      try {
        if (line.startsWith(RESOURCE_PREFIX)) {
          const parsed = JSON.parse(line) as { chain_id: string; attributes: unknown };
          this._resources.set(parsed.chain_id, decodeAttributes(parsed.attributes));
          continue;
        }
        if (!line.startsWith(RECORD_PREFIX)) throw new AuditRecordShapeError('unrecognised spool line');
        const parsed = JSON.parse(line) as { trace_flags?: unknown; record: unknown };
        const record = decodeRecord(parsed.record);
        let resource = this._resources.get(record.chainId);
        if (resource === undefined) {
          diag.warn(`agent-safety-otel: audit spool ${this.path}: no resource line for chain ${record.chainId}; re-sending with an empty resource`);
          resource = {};
          this._resources.set(record.chainId, resource);
        }
        out.push({ record, traceFlags: typeof parsed.trace_flags === 'number' ? parsed.trace_flags : 1, resource });
      } catch (err) {
        diag.error(`agent-safety-otel: audit spool ${this.path}: the record at byte ${at} cannot be read and is not re-sent`, err);
      }
    }
    return out;
  }

  /**
   * Marks the first `count` undelivered records delivered. When none is
   * left the file is truncated to zero; otherwise the read offset is saved.
   */
  consume(count: number): void {
    const n = Math.min(count, this.pending);
    if (n === 0) return;
    this._head += n;
    this._readOffset = this._ends[this._head - 1];
    if (this._head === this._ends.length) {
      this._ends = [];
      this._head = 0;
      this._end = 0;
      this._readOffset = 0;
      this._inFile.clear();
      // Offset file first: a crash in between leaves delivered records to re-send (duplicates), never skips one.
      void this._queue(async fh => {
        await rm(this._offsetPath, { force: true });
        await fh.truncate(0);
      }, 'truncate').catch(() => {});
      return;
    }
    if (this._head > 4096 && this._head * 2 > this._ends.length) {
      this._ends = this._ends.slice(this._head);
      this._head = 0;
    }
    const offset = this._readOffset;
    void this._queue(async () => {
      await writeFile(this._offsetPath, String(offset), { mode: 0o600 });
    }, 'saving the read offset').catch(() => {});
  }

  /** Resolves when every queued write is done and synced to disk. */
  flush(): Promise<void> {
    return this._queue(async fh => {
      await fh.datasync();
    }, 'sync').catch(() => {});
  }

  /**
   * Waits for queued I/O, compacts (the undelivered tail replaces the file
   * when a delivered prefix remains), syncs and closes. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this._closed) return this._io;
    this._closed = true;
    await this._queue(async fh => {
      if (this.pending > 0 && this._readOffset > 0) await this._compact(fh);
      await fh.datasync();
    }, 'compaction').catch(() => {});
    await this._io;
    if (this._handle !== undefined) {
      const fh = await this._handle.catch(() => undefined);
      await fh?.close().catch(() => {});
    }
    if (this._fd !== undefined) {
      closeSync(this._fd);
      this._fd = undefined;
    }
  }

  private async _compact(fh: FileHandle): Promise<void> {
    const tmp = this.path + '.compact';
    const out = await openAsync(tmp, 'w', 0o600);
    try {
      let header = '';
      for (const [chainId, resource] of this._resources) header += resourceSpoolLine(chainId, resource) + '\n';
      await out.write(header);
      const chunk = Buffer.alloc(1 << 20);
      for (let pos = this._readOffset; pos < this._end; ) {
        const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, this._end - pos), pos);
        if (bytesRead === 0) break;
        await out.write(chunk, 0, bytesRead);
        pos += bytesRead;
      }
      await out.datasync();
    } finally {
      await out.close();
    }
    // Offset file first: a crash in between re-sends the delivered prefix, never skips a record.
    await rm(this._offsetPath, { force: true });
    await rename(tmp, this.path);
  }
}

function readFileText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, 64, 0);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

