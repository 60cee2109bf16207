/**
 * The pure bookkeeping of the OTLP audit sink: backoff delays, the retry
 * schedule on an injected clock, and the memory/spool backlog (order, spill,
 * acknowledgement of batches spilled while in flight). No timers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { JournalBacklog, RetrySchedule, isPermanentExportError } from '../../../src/patterns/audit/audit-delivery.js';
import { backoffDelay, backoffPolicy } from '../../../src/patterns/shared/backoff.js';

const test = suite('audit delivery: backoff and backlog');

test('backoff: exponential from initialMs, capped at maxMs, no jitter', () => {
  const p = backoffPolicy({ initialMs: 100, maxMs: 1000, multiplier: 2, jitter: 0 });
  const delays = [1, 2, 3, 4, 5, 6, 50, 5000].map(n => backoffDelay(n, p, () => 0.5));
  assert.equal(delays, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
});

test('backoff: jitter takes off at most its fraction, never adds', () => {
  const p = backoffPolicy({ initialMs: 1000, maxMs: 8000, multiplier: 2, jitter: 0.25 });
  assert.is(backoffDelay(1, p, () => 0), 1000);
  assert.is(backoffDelay(1, p, () => 0.999999), 1000 * (1 - 0.25 * 0.999999));
  assert.is(backoffDelay(4, p, () => 0.5), 8000 * (1 - 0.125));
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(1 + (i % 7), p, Math.random);
    const base = Math.min(8000, 1000 * 2 ** (i % 7));
    assert.ok(d <= base && d >= base * 0.75, `delay ${d} outside [${base * 0.75}, ${base}]`);
  }
  // A broken random source cannot produce a negative or NaN delay.
  assert.is(backoffDelay(1, p, () => NaN), 1000);
  assert.is(backoffDelay(1, p, () => 7), 1000);
});

test('backoff: huge failure counts stay finite', () => {
  const p = backoffPolicy({ initialMs: 1, maxMs: 60_000, multiplier: 10, jitter: 0 });
  assert.is(backoffDelay(1e9, p), 60_000);
});

test('backoff policy: defaults and validation', () => {
  assert.equal(backoffPolicy(), { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 });
  assert.throws(() => backoffPolicy({ initialMs: -1 }), /initialMs/);
  assert.throws(() => backoffPolicy({ initialMs: 100, maxMs: 10 }), /maxMs/);
  assert.throws(() => backoffPolicy({ multiplier: 0.5 }), /multiplier/);
  assert.throws(() => backoffPolicy({ jitter: 2 }), /jitter/);
  assert.throws(() => backoffPolicy({ maxMs: NaN }), /maxMs/);
});

test('retry schedule: waits by the clock, resets on success', () => {
  let now = 10_000;
  const r = new RetrySchedule(backoffPolicy({ initialMs: 100, maxMs: 400, jitter: 0 }), { now: () => now });
  assert.is(r.waitMs(), 0);
  assert.is(r.fail(), 100);
  assert.is(r.failures, 1);
  assert.is(r.waitMs(), 100);
  now += 60;
  assert.is(r.waitMs(), 40);
  now += 40;
  assert.is(r.waitMs(), 0);
  assert.is(r.fail(), 200);
  assert.is(r.fail(), 400);
  assert.is(r.fail(), 400);
  r.succeed();
  assert.is(r.failures, 0);
  assert.is(r.waitMs(), 0);
  assert.is(r.fail(), 100);
});

test('backlog: memory only, batches oldest first, ack removes the head', () => {
  const b = new JournalBacklog<number>(10);
  for (let i = 0; i < 7; i++) b.push(i);
  assert.is(b.size, 7);
  const first = b.nextBatch(3, b.journalOnly);
  assert.equal(first, { source: 'memory', items: [0, 1, 2] });
  assert.is(b.nextBatch(3, b.journalOnly), undefined, 'one batch in flight at a time');
  assert.is(b.ack(), 3);
  assert.equal(b.nextBatch(10, b.journalOnly), { source: 'memory', items: [3, 4, 5, 6] });
  b.nack();
  assert.is(b.size, 4, 'a failed batch stays');
  assert.equal(b.nextBatch(2, b.journalOnly), { source: 'memory', items: [3, 4] }, 'and is sent again first');
  b.ack();
  assert.equal(b.nextBatch(5, b.journalOnly), { source: 'memory', items: [5, 6] });
  b.ack();
  assert.is(b.size, 0);
  assert.is(b.nextBatch(5, 0), undefined);
});

test('backlog: beyond maxInMemory the oldest are only in the journal, and are read back first', () => {
  const b = new JournalBacklog<number>(4);
  for (let i = 0; i < 6; i++) b.push(i);
  assert.is(b.inMemory, 4);
  assert.is(b.journalOnly, 2);
  assert.is(b.size, 6);
  assert.is(b.nextBatch(5, 0), undefined, 'nothing readable from the journal yet: wait');
  assert.equal(b.nextBatch(5, 2), { source: 'journal', count: 2 }, 'a journal batch never mixes in memory records');
  assert.is(b.ack(), 2);
  assert.equal(b.nextBatch(5, 0), { source: 'memory', items: [2, 3, 4, 5] });
});

test('backlog: records forgotten by memory while their batch is in flight are acknowledged all the same', () => {
  const b = new JournalBacklog<number>(4);
  for (let i = 0; i < 4; i++) b.push(i);
  assert.equal(b.nextBatch(3, 0), { source: 'memory', items: [0, 1, 2] });
  b.push(4);
  b.push(5);
  assert.is(b.journalOnly, 2, 'two of the batch in flight left memory');
  assert.is(b.ack(), 3);
  assert.is(b.journalOnly, 0);
  assert.equal(b.nextBatch(9, 0), { source: 'memory', items: [3, 4, 5] });
});

test('backlog: restored journal records precede new records', () => {
  const b = new JournalBacklog<string>(100);
  b.restore(5);
  b.push('a');
  b.push('b');
  assert.is(b.size, 7);
  assert.equal(b.nextBatch(3, 5), { source: 'journal', count: 3 });
  b.ack();
  assert.equal(b.nextBatch(10, 2), { source: 'journal', count: 2 });
  b.ack();
  assert.equal(b.nextBatch(10, 0), { source: 'memory', items: ['a', 'b'] });
  assert.throws(() => new JournalBacklog(0), /maxInMemory/);
});

test('backlog: a long random run keeps FIFO order and counts exactly (model check)', () => {
  // Model: the journal holds every item not yet delivered; the backlog must hand them out in that order.
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const b = new JournalBacklog<number>(16);
  const journal: number[] = [];
  const delivered: number[] = [];
  let next = 0;
  let flight: number[] | undefined;
  for (let step = 0; step < 20_000; step++) {
    const r = rnd();
    if (r < 0.5) {
      journal.push(next);
      b.push(next++);
    } else if (r < 0.7 && flight === undefined) {
      const batch = b.nextBatch(1 + Math.floor(rnd() * 8), b.journalOnly);
      if (batch) flight = batch.source === 'journal' ? journal.slice(0, batch.count) : [...batch.items];
      if (flight) assert.equal(flight, journal.slice(0, flight.length), 'a batch is the head');
    } else if (r < 0.85 && flight !== undefined) {
      assert.is(b.ack(), flight.length);
      journal.splice(0, flight.length);
      delivered.push(...flight);
      flight = undefined;
    } else if (r < 0.95 && flight !== undefined) {
      b.nack();
      flight = undefined;
    }
    assert.is(b.size, journal.length);
    assert.ok(b.inMemory <= 16);
  }
  assert.equal(delivered, Array.from({ length: delivered.length }, (_, i) => i), 'delivered in order, no gap, no duplicate');
  assert.ok(delivered.length > 1000);
});

test('permanent export errors: HTTP 4xx but 408 and 429; everything else is transient', () => {
  for (const code of [400, 401, 403, 404, 413, 415, 422, '400']) assert.ok(isPermanentExportError({ code }), String(code));
  for (const code of [408, 429, 500, 502, 503, 504, 'ECONNREFUSED', undefined]) assert.not.ok(isPermanentExportError({ code }), String(code));
  assert.not.ok(isPermanentExportError(new Error('socket hang up')));
  assert.not.ok(isPermanentExportError(undefined));
});

test.run();
