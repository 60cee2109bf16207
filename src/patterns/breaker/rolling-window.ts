/**
 * Sliding windows that count calls and "hits" (failures, or slow calls):
 * over the last N milliseconds in buckets, or over the last N calls.
 * Pure, allocation-free after construction.
 *
 * @module
 */

/** A window of calls with a running total and hit count. */
export interface RollingWindow {
  /** Adds one call at time `now`. */
  add(hit: boolean, now: number): void;
  /** Calls in the window as of the last `add` or read (no clock needed). */
  readonly count: number;
  /** Hits in the window as of the last `add` or read. */
  readonly hitCount: number;
  /** Calls in the window at `now`. */
  total(now: number): number;
  /** Hits in the window at `now`. */
  hits(now: number): number;
  /** Empties the window. */
  clear(): void;
  /** A JSON-safe copy of the contents. */
  toJSON(): RollingWindowSnapshot;
  /** Restores contents saved by `toJSON`; returns false (and changes nothing) when they do not fit. */
  restore(snapshot: unknown): boolean;
}

/** The saved contents of a window. */
export interface RollingWindowSnapshot {
  /** Time window: the absolute index of the newest bucket. Count window: the next write position. */
  head: number;
  /** Per-bucket (or per-slot) call counts, oldest first as stored. */
  totals: number[];
  /** Per-bucket (or per-slot) hits. */
  hits: number[];
}

function isSnapshot(value: unknown, length: number): value is RollingWindowSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Partial<RollingWindowSnapshot>;
  const ok = (a: unknown): a is number[] =>
    Array.isArray(a) && a.length === length && a.every(n => Number.isInteger(n) && n >= 0);
  return Number.isSafeInteger(s.head) && ok(s.totals) && ok(s.hits) && s.totals.every((t, i) => (s.hits as number[])[i] <= t);
}

/**
 * A time window of `buckets` buckets of `bucketMs` each. Buckets expire by
 * elapsed time: however long the window sat idle, a bucket older than the
 * window is never counted (cockatiel's SamplingBreaker rotates one bucket per
 * call and keeps stale failures across idle gaps; this does not).
 *
 * The window holds the current bucket and the `buckets - 1` before it, so it
 * covers between `(buckets - 1) × bucketMs` and `buckets × bucketMs` of time.
 * A clock that steps backwards counts into the newest bucket.
 */
export class TimeWindow implements RollingWindow {
  private readonly _bucketMs: number;
  private readonly _totals: Float64Array;
  private readonly _hits: Float64Array;
  /** Absolute index (`floor(now / bucketMs)`) of the newest bucket. */
  private _head = Number.NEGATIVE_INFINITY;
  /** Start time of the bucket after the newest: before it, no bucket expires. */
  private _nextBucketAt = Number.NEGATIVE_INFINITY;
  private _headSlot = 0;
  private _total = 0;
  private _hitCount = 0;

  constructor(bucketMs: number, buckets: number) {
    this._bucketMs = bucketMs;
    this._totals = new Float64Array(buckets);
    this._hits = new Float64Array(buckets);
  }

  private _slot(index: number): number {
    const n = this._totals.length;
    return ((index % n) + n) % n;
  }

  get count(): number {
    return this._total;
  }

  get hitCount(): number {
    return this._hitCount;
  }

  private _advance(now: number): void {
    if (now < this._nextBucketAt) return; // still in the newest bucket (or the clock stepped back)
    const index = Math.floor(now / this._bucketMs);
    if (index <= this._head) return;
    const n = this._totals.length;
    if (index - this._head >= n) {
      this.clear();
    } else {
      for (let i = this._head + 1; i <= index; i++) {
        const slot = this._slot(i);
        this._total -= this._totals[slot];
        this._hitCount -= this._hits[slot];
        this._totals[slot] = 0;
        this._hits[slot] = 0;
      }
    }
    this._head = index;
    this._headSlot = this._slot(index);
    this._nextBucketAt = (index + 1) * this._bucketMs;
  }

  add(hit: boolean, now: number): void {
    this._advance(now);
    const slot = this._headSlot;
    this._totals[slot]++;
    this._total++;
    if (hit) {
      this._hits[slot]++;
      this._hitCount++;
    }
  }

  total(now: number): number {
    this._advance(now);
    return this._total;
  }

  hits(now: number): number {
    this._advance(now);
    return this._hitCount;
  }

  clear(): void {
    this._totals.fill(0);
    this._hits.fill(0);
    this._total = 0;
    this._hitCount = 0;
  }

  toJSON(): RollingWindowSnapshot {
    return {
      head: Number.isFinite(this._head) ? this._head : -1,
      totals: Array.from(this._totals),
      hits: Array.from(this._hits),
    };
  }

  restore(snapshot: unknown): boolean {
    if (!isSnapshot(snapshot, this._totals.length)) return false;
    this._totals.set(snapshot.totals);
    this._hits.set(snapshot.hits);
    this._total = snapshot.totals.reduce((a, b) => a + b, 0);
    this._hitCount = snapshot.hits.reduce((a, b) => a + b, 0);
    this._head = snapshot.head < 0 ? Number.NEGATIVE_INFINITY : snapshot.head;
    this._headSlot = Number.isFinite(this._head) ? this._slot(this._head) : 0;
    this._nextBucketAt = Number.isFinite(this._head) ? (this._head + 1) * this._bucketMs : Number.NEGATIVE_INFINITY;
    return true;
  }
}

/** A window over the last `size` calls. */
export class CountWindow implements RollingWindow {
  private readonly _slots: Uint8Array; // 0 empty, 1 call, 2 hit
  private _next = 0;
  private _total = 0;
  private _hitCount = 0;

  constructor(size: number) {
    this._slots = new Uint8Array(size);
  }

  add(hit: boolean): void {
    const old = this._slots[this._next];
    if (old !== 0) {
      this._total--;
      if (old === 2) this._hitCount--;
    }
    this._slots[this._next] = hit ? 2 : 1;
    this._total++;
    if (hit) this._hitCount++;
    this._next = (this._next + 1) % this._slots.length;
  }

  get count(): number {
    return this._total;
  }

  get hitCount(): number {
    return this._hitCount;
  }

  total(): number {
    return this._total;
  }

  hits(): number {
    return this._hitCount;
  }

  clear(): void {
    this._slots.fill(0);
    this._next = 0;
    this._total = 0;
    this._hitCount = 0;
  }

  toJSON(): RollingWindowSnapshot {
    const totals = Array.from(this._slots, s => (s === 0 ? 0 : 1));
    const hits = Array.from(this._slots, s => (s === 2 ? 1 : 0));
    return { head: this._next, totals, hits };
  }

  restore(snapshot: unknown): boolean {
    const n = this._slots.length;
    if (!isSnapshot(snapshot, n) || snapshot.head >= n || snapshot.head < 0 || snapshot.totals.some(t => t > 1)) return false;
    this.clear();
    for (let i = 0; i < n; i++) {
      if (snapshot.totals[i] === 0) continue;
      this._slots[i] = snapshot.hits[i] === 1 ? 2 : 1;
      this._total++;
      if (snapshot.hits[i] === 1) this._hitCount++;
    }
    this._next = snapshot.head;
    return true;
  }
}
