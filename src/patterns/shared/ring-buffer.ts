/**
 * A bounded, in-memory store that keeps the most recent `capacity` items:
 * when full, each push overwrites the oldest item. Memory stays flat however
 * long the process runs. Pure: no OpenTelemetry, no I/O.
 *
 * @module
 */
import { requireNumber } from './validate.js';

/**
 * A fixed-capacity ring buffer, oldest item first.
 *
 * @example
 * ```ts
 * const recent = new RingBuffer<string>(2);
 * recent.push('a'); recent.push('b'); recent.push('c');
 * recent.toArray(); // ['b', 'c']
 * recent.dropped;   // 1
 * ```
 */
export class RingBuffer<T> implements Iterable<T> {
  /** The most items kept. */
  readonly capacity: number;
  private readonly _items: (T | undefined)[];
  /** Index of the next write. */
  private _head = 0;
  private _size = 0;
  private _dropped = 0;

  /**
   * @param capacity the most items kept (an integer ≥ 1)
   * @throws TypeError or RangeError when `capacity` is not an integer ≥ 1
   */
  constructor(capacity: number) {
    requireNumber('capacity', capacity, { min: 1, integer: true });
    this.capacity = capacity;
    this._items = new Array<T | undefined>(capacity);
  }

  /** How many items are held now. */
  get size(): number {
    return this._size;
  }

  /** How many items have been overwritten since creation (or the last `clear`). */
  get dropped(): number {
    return this._dropped;
  }

  /** Appends `item`, overwriting the oldest one when full. */
  push(item: T): void {
    this._items[this._head] = item;
    this._head = this._head + 1 === this.capacity ? 0 : this._head + 1;
    if (this._size < this.capacity) this._size++;
    else this._dropped++;
  }

  /** Removes every item. */
  clear(): void {
    this._items.fill(undefined);
    this._head = 0;
    this._size = 0;
    this._dropped = 0;
  }

  /** The items, oldest first, as a new array. */
  toArray(): T[] {
    return [...this];
  }

  /** Iterates the items, oldest first. */
  *[Symbol.iterator](): Iterator<T> {
    const start = this._size < this.capacity ? 0 : this._head;
    for (let i = 0; i < this._size; i++) {
      const index = start + i < this.capacity ? start + i : start + i - this.capacity;
      yield this._items[index] as T;
    }
  }
}
