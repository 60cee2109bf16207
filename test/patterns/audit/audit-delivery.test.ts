/**
 * The pure bookkeeping of the OTLP audit sink: backoff delays, the retry
 * schedule on an injected clock, and the memory/spool backlog (order, spill,
 * acknowledgement of batches spilled while in flight). No timers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditBacklog, RetrySchedule } from '../../../src/patterns/audit/audit-delivery.js';
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
  const b = new AuditBacklog<number>(10);
  for (let i = 0; i < 7; i++) assert.is(b.push(i), undefined);
  assert.is(b.size, 7);
  const first = b.nextBatch(3);
  assert.equal(first, { source: 'memory', items: [0, 1, 2] });
  assert.is(b.nextBatch(3), undefined, 'one batch in flight at a time');
  assert.equal(b.ack(), { spool: 0, memory: 3 });
  assert.equal(b.nextBatch(10), { source: 'memory', items: [3, 4, 5, 6] });
  b.nack();
  assert.is(b.size, 4, 'a failed batch stays');
  assert.equal(b.nextBatch(2), { source: 'memory', items: [3, 4] }, 'and is sent again first');
  b.ack();
  assert.equal(b.nextBatch(5), { source: 'memory', items: [5, 6] });
  b.ack();
  assert.is(b.size, 0);
  assert.is(b.nextBatch(5), undefined);
});

test('backlog: overflow spills the oldest down to half, spool is sent first', () => {
  const b = new AuditBacklog<number>(4);
  for (let i = 0; i < 4; i++) assert.is(b.push(i), undefined);
  assert.equal(b.push(4), [0, 1, 2], 'spilled down to maxInMemory/2');
  assert.is(b.spooled, 3);
  assert.is(b.inMemory, 2);
  assert.is(b.size, 5);
  assert.equal(b.nextBatch(2), { source: 'spool', count: 2 });
  assert.equal(b.ack(), { spool: 2, memory: 0 });
  assert.equal(b.nextBatch(5), { source: 'spool', count: 1 }, 'a spool batch never mixes in memory records');
  assert.equal(b.ack(), { spool: 1, memory: 0 });
  assert.equal(b.nextBatch(5), { source: 'memory', items: [3, 4] });
});

test('backlog: a memory batch spilled while in flight is acknowledged from the spool', () => {
  const b = new AuditBacklog<number>(4);
  for (let i = 0; i < 4; i++) b.push(i);
  assert.equal(b.nextBatch(3), { source: 'memory', items: [0, 1, 2] });
  assert.equal(b.push(4), [0, 1, 2]);
  assert.equal(b.ack(), { spool: 3, memory: 0 });
  assert.is(b.spooled, 0);
  assert.equal(b.nextBatch(9), { source: 'memory', items: [3, 4] });
});

test('backlog: partly spilled in-flight batch, then failure: order holds', () => {
  const b = new AuditBacklog<number>(6);
  for (let i = 0; i < 6; i++) b.push(i);
  assert.equal(b.nextBatch(5), { source: 'memory', items: [0, 1, 2, 3, 4] });
  assert.equal(b.push(6), [0, 1, 2, 3], 'spilled 4 of the 5 in flight');
  b.nack();
  assert.equal(b.nextBatch(10), { source: 'spool', count: 4 });
  assert.equal(b.ack(), { spool: 4, memory: 0 });
  assert.equal(b.nextBatch(10), { source: 'memory', items: [4, 5, 6] });
  assert.equal(b.ack(), { spool: 0, memory: 3 });
});

test('backlog: partly spilled in-flight batch, then success: both parts removed', () => {
  const b = new AuditBacklog<number>(6);
  for (let i = 0; i < 6; i++) b.push(i);
  b.nextBatch(5);
  b.push(6);
  assert.equal(b.ack(), { spool: 4, memory: 1 });
  assert.equal(b.nextBatch(10), { source: 'memory', items: [5, 6] });
});

test('backlog: restored spool precedes new records; spillAll moves memory to the spool', () => {
  const b = new AuditBacklog<string>(100);
  b.restoreSpooled(5);
  b.push('a');
  b.push('b');
  assert.is(b.size, 7);
  assert.equal(b.nextBatch(3), { source: 'spool', count: 3 });
  b.ack();
  assert.equal(b.spillAll(), ['a', 'b']);
  assert.is(b.spooled, 4);
  assert.is(b.inMemory, 0);
  assert.equal(b.nextBatch(10), { source: 'spool', count: 4 });
  assert.throws(() => new AuditBacklog(0), /maxInMemory/);
});

test('backlog: a long random run keeps FIFO order and counts exactly (model check)', () => {
  // Model: one array of all waiting items; the backlog must hand them out in that order.
  let seed = 42;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const b = new AuditBacklog<number>(16);
  const spool: number[] = [];
  const delivered: number[] = [];
  let next = 0;
  let flight: number[] | undefined;
  for (let step = 0; step < 20_000; step++) {
    const r = rnd();
    if (r < 0.5) {
      const spill = b.push(next++);
      if (spill) spool.push(...spill);
    } else if (r < 0.7 && flight === undefined) {
      const batch = b.nextBatch(1 + Math.floor(rnd() * 8));
      if (batch) flight = batch.source === 'spool' ? spool.slice(0, batch.count) : [...batch.items];
    } else if (r < 0.85 && flight !== undefined) {
      const done = b.ack();
      spool.splice(0, done.spool);
      assert.is(done.spool + done.memory, flight.length);
      delivered.push(...flight);
      flight = undefined;
    } else if (r < 0.95 && flight !== undefined) {
      b.nack();
      flight = undefined;
    } else if (r >= 0.99) {
      spool.push(...b.spillAll());
    }
    assert.is(b.spooled, spool.length);
  }
  assert.equal(delivered, Array.from({ length: delivered.length }, (_, i) => i), 'delivered in order, no gap, no duplicate');
  assert.ok(delivered.length > 1000);
});

test.run();
