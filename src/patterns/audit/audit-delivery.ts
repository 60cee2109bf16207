/**
 * The pure bookkeeping of an audit sink that never drops a record: the
 * retry schedule (exponential backoff with jitter), the backlog of a
 * write-ahead journal (every record on disk, the newest also in memory,
 * delivered oldest first) and which export errors are permanent. No timers, no
 * I/O: the clock (`now`) and the random source are injected, and the I/O glue in
 * `src/exporters/otlp-audit-sink.ts` does what these classes decide.
 *
 * @module
 */
import { backoffDelay } from '../shared/backoff.js';
import { requireNumber } from '../shared/validate.js';
import type { BackoffPolicy } from '../shared/backoff.js';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';

/**
 * Consecutive failures and when the next attempt is due. `fail()` after a
 * failed attempt, `succeed()` after a delivered one.
 */
export class RetrySchedule {
  private _failuresInRow = 0;
  private _due = 0;
  private readonly _now: Clock;
  private readonly _random: () => number;
  readonly policy: BackoffPolicy;

  constructor(policy: BackoffPolicy, options: { now?: Clock | undefined; random?: (() => number) | undefined } = {}) {
    this.policy = policy;
    this._now = options.now ?? systemClock;
    this._random = options.random ?? Math.random;
  }

  /** Failed attempts since the last success. */
  get failures(): number {
    return this._failuresInRow;
  }

  /** Records a failure; returns the delay (ms) before the next attempt. */
  fail(): number {
    this._failuresInRow++;
    const delay = backoffDelay(this._failuresInRow, this.policy, this._random);
    this._due = this._now() + delay;
    return delay;
  }

  /** Records a success: the next failure starts from `initialMs` again. */
  succeed(): void {
    this._failuresInRow = 0;
    this._due = 0;
  }

  /** Milliseconds until an attempt is allowed (0 when it is now). */
  waitMs(): number {
    return Math.max(0, this._due - this._now());
  }
}

/** Where the next batch comes from: read back from the journal, or the records kept in memory. */
export type NextBatch<T> =
  | { readonly source: 'journal'; readonly count: number }
  | { readonly source: 'memory'; readonly items: readonly T[] };

/**
 * The records of a write-ahead journal not yet delivered, as one FIFO in
 * chain order. Every record is in the journal (or on its way there); the
 * newest `maxInMemory` are also kept in memory, so that a healthy endpoint
 * is fed without reading the disk, and memory stays bounded however long
 * the endpoint is down. A batch is always the head of the FIFO: from memory
 * when the head is still kept there, else read back from the journal (by
 * the caller). It stays counted until acknowledged, so a failed batch is
 * simply sent again.
 */
export class JournalBacklog<T> {
  private _mem: T[] = [];
  private _memHead = 0;
  private _pendingCount = 0;
  private _flight = 0;
  readonly maxInMemory: number;

  constructor(maxInMemory: number) {
    requireNumber('maxInMemory', maxInMemory, { min: 1, integer: true });
    this.maxInMemory = maxInMemory;
  }

  /** Records not yet delivered (in flight included until acknowledged). */
  get size(): number {
    return this._pendingCount;
  }

  /** Of those, the newest ones also kept in memory. */
  get inMemory(): number {
    return this._mem.length - this._memHead;
  }

  /** Of those, the oldest ones only in the journal. */
  get journalOnly(): number {
    return this._pendingCount - this.inMemory;
  }

  /** Records of the batch in flight (0 when none). */
  get inFlight(): number {
    return this._flight;
  }

  /** Counts records found undelivered in the journal at start (they precede everything written later). */
  restore(count: number): void {
    requireNumber('count', count, { min: 0, integer: true });
    this._pendingCount += count;
  }

  /** Adds a record (already handed to the journal). The oldest kept in memory is forgotten beyond `maxInMemory`. */
  push(item: T): void {
    this._pendingCount++;
    this._mem.push(item);
    if (this.inMemory > this.maxInMemory) {
      this._memHead++;
      this._compact();
    }
  }

  /**
   * The next batch of at most `max` records (undefined when nothing waits,
   * a batch is in flight, or the head is only in the journal and none of
   * it is readable yet): `readable` is how many records from the head the
   * journal can give back now (written to the file). Marks it in flight.
   */
  nextBatch(max: number, readable: number): NextBatch<T> | undefined {
    if (this._flight > 0 || this._pendingCount === 0) return undefined;
    const journalOnly = this.journalOnly;
    if (journalOnly > 0) {
      const count = Math.min(max, journalOnly, readable);
      if (count <= 0) return undefined;
      this._flight = count;
      return { source: 'journal', count };
    }
    const items = this._mem.slice(this._memHead, this._memHead + max);
    this._flight = items.length;
    return { source: 'memory', items };
  }

  /** The batch in flight was delivered (or dead-lettered): removes it from the head; returns how many. */
  ack(): number {
    const n = this._flight;
    this._flight = 0;
    const fromMemory = Math.max(0, n - this.journalOnly);
    this._memHead += fromMemory;
    this._pendingCount -= n;
    this._compact();
    return n;
  }

  /** The batch in flight failed: it stays at the head, to be sent again. */
  nack(): void {
    this._flight = 0;
  }

  private _compact(): void {
    if (this._memHead === this._mem.length) {
      this._mem = [];
      this._memHead = 0;
    } else if (this._memHead > 1024 && this._memHead * 2 > this._mem.length) {
      this._mem = this._mem.slice(this._memHead);
      this._memHead = 0;
    }
  }
}

/**
 * True when an export error is permanent: the receiver answered with an
 * HTTP 4xx other than 408 (timeout) and 429 (too many requests), so the
 * same batch would be refused again for ever. Such a batch goes to the
 * dead-letter file instead of blocking every later record. Everything
 * else (connection refused, 5xx, timeouts, unknown errors) is transient.
 */
export function isPermanentExportError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  const status = typeof code === 'number' ? code : typeof code === 'string' && /^[0-9]{3}$/.test(code) ? Number(code) : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}
