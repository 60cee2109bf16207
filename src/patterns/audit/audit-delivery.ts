/**
 * The pure bookkeeping of an audit sink that never drops a record: the
 * retry schedule (exponential backoff with jitter) and the backlog (records
 * in memory, then in a disk spool, delivered oldest first). No timers, no
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

/** Where the next batch comes from. */
export type NextBatch<T> =
  | { readonly source: 'spool'; readonly count: number }
  | { readonly source: 'memory'; readonly items: readonly T[] };

/** How many records an acknowledged batch removed from each place. */
export interface Acknowledged {
  readonly spool: number;
  readonly memory: number;
}

/**
 * The records waiting for delivery, as one FIFO in chain order: first the
 * spooled ones (on disk, counted here, stored by the caller), then the ones
 * in memory. New records join memory; when memory holds more than
 * `maxInMemory`, its oldest are spilled to the end of the spool (which holds
 * only older records, so the order holds). A batch is always the head of
 * the FIFO; it stays counted until acknowledged, so a failed batch is simply
 * sent again, and a batch spilled while in flight is removed from the spool
 * when it is acknowledged.
 */
export class AuditBacklog<T> {
  private _mem: T[] = [];
  private _memHead = 0;
  private _spooledCount = 0;
  private _flight = 0;
  /** When memory overflows it is spilled down to this many records. */
  readonly spillDownTo: number;
  readonly maxInMemory: number;

  constructor(maxInMemory: number) {
    this.maxInMemory = maxInMemory;
    requireNumber('maxInMemory', maxInMemory, { min: 1, integer: true });
    this.spillDownTo = Math.floor(maxInMemory / 2);
  }

  /** Records in memory. */
  get inMemory(): number {
    return this._mem.length - this._memHead;
  }

  /** Records in the spool not yet delivered. */
  get spooled(): number {
    return this._spooledCount;
  }

  /** Records waiting: memory plus spool (in-flight ones included until acknowledged). */
  get size(): number {
    return this._spooledCount + this.inMemory;
  }

  /** Records of the batch in flight (0 when none). */
  get inFlight(): number {
    return this._flight;
  }

  /** Counts records found in the spool at start (they precede everything written later). */
  restoreSpooled(count: number): void {
    requireNumber('count', count, { min: 0, integer: true });
    this._spooledCount += count;
  }

  /**
   * Adds a record. Returns the records to append to the spool, oldest
   * first, when memory overflowed (they are counted as spooled from now on),
   * or undefined.
   */
  push(item: T): T[] | undefined {
    this._mem.push(item);
    if (this.inMemory <= this.maxInMemory) return undefined;
    return this._spill(this.inMemory - this.spillDownTo);
  }

  /** Moves every record in memory to the spool (at shutdown, or when a flush could not deliver). */
  spillAll(): T[] {
    return this._spill(this.inMemory);
  }

  private _spill(count: number): T[] {
    const out = this._mem.slice(this._memHead, this._memHead + count);
    this._memHead += out.length;
    this._spooledCount += out.length;
    this._compact();
    return out;
  }

  /**
   * The next batch of at most `max` records (undefined when nothing waits or
   * a batch is in flight): the spool's head if anything is spooled, else
   * the oldest records in memory. Marks it in flight.
   */
  nextBatch(max: number): NextBatch<T> | undefined {
    if (this._flight > 0 || this.size === 0) return undefined;
    if (this._spooledCount > 0) {
      this._flight = Math.min(max, this._spooledCount);
      return { source: 'spool', count: this._flight };
    }
    const items = this._mem.slice(this._memHead, this._memHead + max);
    this._flight = items.length;
    return { source: 'memory', items };
  }

  /** The batch in flight was delivered: removes it from the head (spool first, then memory). */
  ack(): Acknowledged {
    const n = this._flight;
    this._flight = 0;
    const spool = Math.min(n, this._spooledCount);
    this._spooledCount -= spool;
    const memory = n - spool;
    this._memHead += memory;
    this._compact();
    return { spool, memory };
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
