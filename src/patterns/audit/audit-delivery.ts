/**
 * The pure bookkeeping of an audit sink that never drops a record: the
 * retry schedule (exponential backoff with jitter), the backlog of a
 * write-ahead journal (every record on disk, the newest also in memory,
 * delivered oldest first) and which export errors are permanent. No timers, no
 * I/O: the clock and the random source are injected, and the I/O glue in
 * `src/exporters/otlp-audit-sink.ts` does what these classes decide.
 *
 * @module
 */
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import { requireNumber } from '../shared/validate.js';

/** How long to wait between failed deliveries. */
export interface BackoffOptions {
  /** Delay after the first failure, in ms. @default 1000 */
  initialMs?: number;
  /** The delay never grows beyond this, in ms. @default 60000 */
  maxMs?: number;
  /** Each further failure multiplies the delay by this. @default 2 */
  multiplier?: number;
  /**
   * Fraction of the delay taken off at random (0 = none, 1 = "full
   * jitter"), so that many agents restarted together do not retry in step.
   * @default 0.2
   */
  jitter?: number;
}

/** {@link BackoffOptions} with every default filled in. */
export type BackoffPolicy = Readonly<Required<BackoffOptions>>;

/** Validates `options` and fills in the defaults. Throws a `TypeError`/`RangeError` on bad input. */
export function backoffPolicy(options: BackoffOptions = {}): BackoffPolicy {
  const policy = {
    initialMs: options.initialMs ?? 1000,
    maxMs: options.maxMs ?? 60_000,
    multiplier: options.multiplier ?? 2,
    jitter: options.jitter ?? 0.2,
  };
  requireNumber('backoff.initialMs', policy.initialMs, { min: 0 });
  requireNumber('backoff.maxMs', policy.maxMs, { min: policy.initialMs });
  requireNumber('backoff.multiplier', policy.multiplier, { min: 1 });
  requireNumber('backoff.jitter', policy.jitter, { min: 0, max: 1 });
  return Object.freeze(policy);
}

/**
 * The delay before the next attempt after `failures` consecutive failures
 * (≥ 1): `min(maxMs, initialMs × multiplier^(failures−1))`, less a random
 * fraction of up to `jitter` of it. `random` returns a number in [0, 1).
 * Always within `[(1 − jitter) × base, base]`, never above `maxMs`.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(failures));
  // Cap the exponent so the power cannot overflow to Infinity·0 = NaN.
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, Math.min(n - 1, 1000)));
  const r = random();
  const fraction = r >= 0 && r < 1 ? r : 0;
  return base * (1 - policy.jitter * fraction);
}

/**
 * Consecutive failures and when the next attempt is due. `fail()` after a
 * failed attempt, `succeed()` after a delivered one.
 */
export class RetrySchedule {
  private failuresInRow = 0;
  private due = 0;
  private readonly clock: Clock;
  private readonly random: () => number;
  readonly policy: BackoffPolicy;

  constructor(policy: BackoffPolicy, options: { clock?: Clock | undefined; random?: (() => number) | undefined } = {}) {
    this.policy = policy;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  /** Failed attempts since the last success. */
  get failures(): number {
    return this.failuresInRow;
  }

  /** Records a failure; returns the delay (ms) before the next attempt. */
  fail(): number {
    this.failuresInRow++;
    const delay = backoffDelay(this.failuresInRow, this.policy, this.random);
    this.due = this.clock() + delay;
    return delay;
  }

  /** Records a success: the next failure starts from `initialMs` again. */
  succeed(): void {
    this.failuresInRow = 0;
    this.due = 0;
  }

  /** Milliseconds until an attempt is allowed (0 when it is now). */
  waitMs(): number {
    return Math.max(0, this.due - this.clock());
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
  private mem: T[] = [];
  private memHead = 0;
  private pendingCount = 0;
  private flight = 0;
  readonly maxInMemory: number;

  constructor(maxInMemory: number) {
    requireNumber('maxInMemory', maxInMemory, { min: 1, integer: true });
    this.maxInMemory = maxInMemory;
  }

  /** Records not yet delivered (in flight included until acknowledged). */
  get size(): number {
    return this.pendingCount;
  }

  /** Of those, the newest ones also kept in memory. */
  get inMemory(): number {
    return this.mem.length - this.memHead;
  }

  /** Of those, the oldest ones only in the journal. */
  get journalOnly(): number {
    return this.pendingCount - this.inMemory;
  }

  /** Records of the batch in flight (0 when none). */
  get inFlight(): number {
    return this.flight;
  }

  /** Counts records found undelivered in the journal at start (they precede everything written later). */
  restore(count: number): void {
    requireNumber('count', count, { min: 0, integer: true });
    this.pendingCount += count;
  }

  /** Adds a record (already handed to the journal). The oldest kept in memory is forgotten beyond `maxInMemory`. */
  push(item: T): void {
    this.pendingCount++;
    this.mem.push(item);
    if (this.inMemory > this.maxInMemory) {
      this.memHead++;
      this.compact();
    }
  }

  /**
   * The next batch of at most `max` records (undefined when nothing waits,
   * a batch is in flight, or the head is only in the journal and none of
   * it is readable yet): `readable` is how many records from the head the
   * journal can give back now (written to the file). Marks it in flight.
   */
  nextBatch(max: number, readable: number): NextBatch<T> | undefined {
    if (this.flight > 0 || this.pendingCount === 0) return undefined;
    const journalOnly = this.journalOnly;
    if (journalOnly > 0) {
      const count = Math.min(max, journalOnly, readable);
      if (count <= 0) return undefined;
      this.flight = count;
      return { source: 'journal', count };
    }
    const items = this.mem.slice(this.memHead, this.memHead + max);
    this.flight = items.length;
    return { source: 'memory', items };
  }

  /** The batch in flight was delivered (or dead-lettered): removes it from the head; returns how many. */
  ack(): number {
    const n = this.flight;
    this.flight = 0;
    const fromMemory = Math.max(0, n - this.journalOnly);
    this.memHead += fromMemory;
    this.pendingCount -= n;
    this.compact();
    return n;
  }

  /** The batch in flight failed: it stays at the head, to be sent again. */
  nack(): void {
    this.flight = 0;
  }

  private compact(): void {
    if (this.memHead === this.mem.length) {
      this.mem = [];
      this.memHead = 0;
    } else if (this.memHead > 1024 && this.memHead * 2 > this.mem.length) {
      this.mem = this.mem.slice(this.memHead);
      this.memHead = 0;
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
