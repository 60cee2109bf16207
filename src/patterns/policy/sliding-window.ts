/**
 * The sliding window (exact, a sliding log): at most `limit` calls in any
 * `windowMs`. It keeps the times of the last `limit` admitted calls in a
 * ring, so it costs O(1) to admit, O(log limit) to count, and `limit`
 * numbers of memory. Nothing expires by timer: a call reads the clock.
 *
 * A call at `now` is admitted when fewer than `limit` admitted calls lie in
 * `(now - windowMs, now]`.
 *
 * @module
 */

/** The state of one window: the last admissions, oldest first from `head`. */
export interface SlidingWindowState {
  /** Admission times, a ring of capacity `limit` (grows up to it). */
  times: number[];
  /** Index of the oldest entry once the ring is full. */
  head: number;
}

/** An empty window. */
export function newSlidingWindow(): SlidingWindowState {
  return { times: [], head: 0 };
}

function at(state: SlidingWindowState, i: number): number {
  const { times, head } = state;
  const j = head + i;
  return times[j < times.length ? j : j - times.length];
}

/** How many admitted calls lie in `(now - windowMs, now]`. */
export function slidingWindowCount(state: SlidingWindowState, windowMs: number, now: number): number {
  const n = state.times.length;
  const since = now - windowMs;
  // Entries are in time order from the head: find the first one after `since`.
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at(state, mid) <= since) lo = mid + 1;
    else hi = mid;
  }
  return n - lo;
}

/** Milliseconds until a call could be admitted (0 when it can be now). */
export function slidingWindowRetryAfter(state: SlidingWindowState, limit: number, windowMs: number, now: number): number {
  const count = slidingWindowCount(state, windowMs, now);
  if (count < limit) return 0;
  // The (count - limit + 1)-th oldest entry in the window must leave it.
  const n = state.times.length;
  const leaving = at(state, n - count + (count - limit));
  return Math.ceil(leaving + windowMs - now);
}

/** Records an admission at `now` (the caller checked the count). */
export function slidingWindowAdd(state: SlidingWindowState, limit: number, now: number): void {
  const { times } = state;
  // A clock that went backwards is clamped so the ring stays in time order.
  const last = times.length === 0 ? now : at(state, times.length - 1);
  const t = now < last ? last : now;
  if (times.length < limit) {
    times.push(t); // the ring only wraps once full, so head is 0 here
    return;
  }
  times[state.head] = t;
  state.head = state.head + 1 === times.length ? 0 : state.head + 1;
}
