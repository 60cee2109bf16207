/**
 * The pure decisions of the JSONL audit file (`FileAuditSink`): reading the
 * tail of an existing file (the last complete record, a torn last line),
 * naming rotated files, planning write batches, and when to fsync. No I/O,
 * no timers: the I/O glue lives in `src/exporters/file-audit-sink.ts`.
 *
 * @module
 */
import { basename, dirname, extname, join } from 'node:path';
import type { ChainHead } from './audit-record.js';
import { requireNumber } from '../shared/validate.js';

/**
 * When written records are `fdatasync`ed:
 * - `'always'`: every batch, before it counts as durable (survives a power
 *   cut; costs one sync per batch);
 * - `{ everyMs }`: at most this long after a batch was written (a process
 *   crash loses nothing written; a power cut loses at most that window);
 * - `'never'`: left to the operating system (a process crash loses nothing
 *   written; a power cut may lose anything not yet flushed by the OS).
 */
export type FsyncPolicy = 'always' | 'never' | { readonly everyMs: number };

/** The default fsync interval of {@link FsyncPolicy} `{ everyMs }`. */
export const DEFAULT_FSYNC_EVERY_MS = 200;

/** Throws a `TypeError`/`RangeError` unless `value` is a valid {@link FsyncPolicy}; returns it (or the default). */
export function normalizeFsyncPolicy(value: unknown): FsyncPolicy {
  if (value === undefined) return { everyMs: DEFAULT_FSYNC_EVERY_MS };
  if (value === 'always' || value === 'never') return value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).every(k => k === 'everyMs')) {
    const everyMs = (value as { everyMs?: unknown }).everyMs;
    requireNumber('fsync.everyMs', everyMs, { min: 1 });
    return { everyMs: everyMs as number };
  }
  throw new TypeError(`fsync must be 'always', 'never' or { everyMs }, got ${JSON.stringify(value)}`);
}

/** What a write of a batch asks for next: sync it now, later, or leave it to the OS. */
export function syncAfterWrite(policy: FsyncPolicy): 'now' | 'later' | 'none' {
  return policy === 'always' ? 'now' : policy === 'never' ? 'none' : 'later';
}

/**
 * How long from `now` until the records written since `firstUnsyncedAt`
 * are due to be synced under `{ everyMs }` (0: now).
 */
export function syncDelayMs(everyMs: number, firstUnsyncedAt: number, now: number): number {
  return Math.max(0, firstUnsyncedAt + everyMs - now);
}


/** The next write: how many queued lines go into it, and whether the file is rotated first. */
export interface BatchPlan {
  readonly count: number;
  readonly bytes: number;
  readonly rotateFirst: boolean;
}

/**
 * Plans the next write from the head of the queue. `lineBytes(i)` is the
 * size of the i-th queued line including its newline. A batch holds at
 * least one line, at most `maxBatchBytes` (unless its one line is larger),
 * and never makes a non-empty file exceed `maxBytes`: when the first line
 * does not fit, the file is rotated first.
 */
export function planBatch(
  queued: number,
  lineBytes: (i: number) => number,
  fileBytes: number,
  maxBytes: number,
  maxBatchBytes: number,
): BatchPlan {
  if (queued <= 0) return { count: 0, bytes: 0, rotateFirst: false };
  const first = lineBytes(0);
  const rotateFirst = fileBytes > 0 && fileBytes + first > maxBytes;
  const room = (rotateFirst ? maxBytes : maxBytes - fileBytes);
  let count = 1;
  let bytes = first;
  while (count < queued) {
    const next = lineBytes(count);
    if (bytes + next > maxBatchBytes || bytes + next > room) break;
    bytes += next;
    count++;
  }
  return { count, bytes, rotateFirst };
}

/** Digits of the rotation index in a rotated file's name. */
export const ROTATION_INDEX_DIGITS = 6;

/**
 * The name of the `index`-th rotated file (1-based) of the audit file at
 * `path`: the index goes before the extension, zero-padded, so that a sorted
 * glob lists the rotated files in chain order and then the active file
 * (digits sort before letters):
 *
 * ```text
 * audit.000001.jsonl  audit.000002.jsonl  …  audit.jsonl (active)
 * ```
 *
 * A path without an extension gets the index appended (`audit.000001`).
 */
export function rotatedPath(path: string, index: number): string {
  const base = basename(path);
  const ext = extname(base);
  const stem = ext ? base.slice(0, -ext.length) : base;
  return join(dirname(path), `${stem}.${String(index).padStart(ROTATION_INDEX_DIGITS, '0')}${ext}`);
}

/** The rotation index of `name` (a file name in the audit file's directory), or undefined when it is not a rotated file of `path`. */
export function rotationIndexOf(path: string, name: string): number | undefined {
  const base = basename(path);
  const ext = extname(base);
  const stem = ext ? base.slice(0, -ext.length) : base;
  if (!name.startsWith(`${stem}.`) || !name.endsWith(ext)) return undefined;
  const middle = name.slice(stem.length + 1, name.length - ext.length);
  if (!/^[0-9]{6,}$/.test(middle)) return undefined;
  const index = Number(middle);
  return index >= 1 ? index : undefined;
}

/** The name of the side file a torn tail is moved to: `<path>.torn-<UTC time>` (e.g. `audit.jsonl.torn-20261128T201530123Z`). */
export function tornSidePath(path: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${path}.torn-${stamp}`;
}

/** The chain position a JSONL audit line states, or undefined when it is not a complete record line. */
export function parseChainHead(line: string): ChainHead | undefined {
  if (line.length < 2 || line.charCodeAt(0) !== 123 /* { */ || line.charCodeAt(line.length - 1) !== 125 /* } */) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { chain_id: chainId, seq, hash } = parsed as Record<string, unknown>;
  if (typeof chainId !== 'string' || chainId === '') return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return undefined;
  return { chainId, seq, hash };
}

/** What the tail of an audit file holds. */
export type TailScan =
  /** The chunk does not reach back far enough: read a larger one. */
  | { readonly kind: 'need-more' }
  /**
   * `keepBytes` of the file are complete record lines (the last one states
   * `head`, undefined when there is none); the bytes after them, if any,
   * are a torn tail to set aside.
   */
  | {
      readonly kind: 'ok';
      readonly head: ChainHead | undefined;
      readonly keepBytes: number;
      readonly tornBytes: number;
      /** Why the tail is torn: no newline at the end, or an unparseable last line. */
      readonly tornReason: 'no-newline' | 'unparseable-line' | undefined;
    }
  /** Neither of the last two lines is a record: not an audit file (or damaged beyond a torn tail); leave it alone. */
  | { readonly kind: 'foreign'; readonly reason: string };

const NL = 10;

/**
 * Reads the tail of an audit file: `chunk` holds the file's bytes from
 * offset `chunkStart` to its end. Only the end of the file is looked at: a
 * crash mid-write tears at most the last line (a partial write of a batch
 * leaves whole lines and at most one partial one; a power cut may leave
 * trailing garbage such as NUL bytes, which is never newline-terminated).
 *
 * - bytes after the last newline are torn (`no-newline`);
 * - if the last newline-terminated line is not a record, it is torn too
 *   (`unparseable-line`), provided the line before it is a record (or it is
 *   the file's first line);
 * - otherwise the file is `foreign`.
 */
export function scanAuditTail(chunk: Uint8Array, chunkStart: number): TailScan {
  const end = chunkStart + chunk.length;
  const lastNl = chunk.lastIndexOf(NL);
  if (lastNl === -1) {
    if (chunkStart > 0) return { kind: 'need-more' };
    return chunk.length === 0
      ? { kind: 'ok', head: undefined, keepBytes: 0, tornBytes: 0, tornReason: undefined }
      : { kind: 'ok', head: undefined, keepBytes: 0, tornBytes: chunk.length, tornReason: 'no-newline' };
  }
  const trailing = chunk.length - (lastNl + 1);
  // The last newline-terminated line: [lineStart, lastNl).
  const prevNl = lastNl === 0 ? -1 : chunk.lastIndexOf(NL, lastNl - 1);
  if (prevNl === -1 && chunkStart > 0) return { kind: 'need-more' };
  const lineStart = prevNl + 1;
  const head = parseChainHead(decode(chunk, lineStart, lastNl));
  if (head !== undefined) {
    return {
      kind: 'ok',
      head,
      keepBytes: chunkStart + lastNl + 1,
      tornBytes: trailing,
      tornReason: trailing > 0 ? 'no-newline' : undefined,
    };
  }
  // The last complete line is not a record: torn if the one before it is one.
  if (prevNl === -1) {
    return { kind: 'ok', head: undefined, keepBytes: 0, tornBytes: end, tornReason: 'unparseable-line' };
  }
  const prevPrevNl = prevNl === 0 ? -1 : chunk.lastIndexOf(NL, prevNl - 1);
  if (prevPrevNl === -1 && chunkStart > 0) return { kind: 'need-more' };
  const before = parseChainHead(decode(chunk, prevPrevNl + 1, prevNl));
  if (before === undefined) {
    return { kind: 'foreign', reason: 'neither of the last two lines is an audit record' };
  }
  return {
    kind: 'ok',
    head: before,
    keepBytes: chunkStart + lineStart,
    tornBytes: end - (chunkStart + lineStart),
    tornReason: 'unparseable-line',
  };
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function decode(chunk: Uint8Array, start: number, end: number): string {
  return decoder.decode(chunk.subarray(start, end));
}
