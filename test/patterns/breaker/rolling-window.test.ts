import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CountWindow, TimeWindow } from '../../../src/patterns/breaker/rolling-window.js';

const test = suite('rolling windows');

test('time window: counts calls and hits in the current and previous buckets', () => {
  const w = new TimeWindow(1_000, 5);
  w.add(true, 0);
  w.add(false, 999);
  w.add(true, 1_000);
  assert.is(w.total(1_500), 3);
  assert.is(w.hits(1_500), 2);
  // bucket 0 is the oldest of five until bucket 5 starts
  assert.is(w.total(4_999), 3);
  assert.is(w.total(5_000), 1, 'bucket 0 expired, bucket 1 remains');
  assert.is(w.hits(5_000), 1);
  assert.is(w.total(6_000), 0);
});

test('time window: an idle gap expires every old bucket, however many calls follow', () => {
  const w = new TimeWindow(1_000, 5);
  for (let t = 0; t < 5_000; t += 100) w.add(true, t); // 50 failures over the whole window
  assert.is(w.hits(4_999), 50);
  const hourLater = 4_999 + 3_600_000;
  w.add(true, hourLater);
  assert.is(w.total(hourLater), 1, 'only the call after the gap');
  assert.is(w.hits(hourLater), 1);
});

test('time window: a partial gap expires exactly the buckets that left the window', () => {
  const w = new TimeWindow(1_000, 5);
  w.add(true, 500); // bucket 0
  w.add(true, 2_500); // bucket 2
  w.add(false, 4_500); // bucket 4
  assert.is(w.total(6_100), 2, 'buckets 0 and 1 left at t=5000 and t=6000');
  assert.is(w.total(7_000), 1);
  assert.is(w.hits(7_000), 0);
});

test('time window: a clock stepping back counts into the newest bucket', () => {
  const w = new TimeWindow(1_000, 3);
  w.add(true, 10_000);
  w.add(true, 2_000);
  assert.is(w.total(10_000), 2);
  assert.is(w.total(12_999), 2);
  assert.is(w.total(13_000), 0);
});

test('time window: snapshot round trip, and a misfit snapshot is refused', () => {
  const w = new TimeWindow(1_000, 4);
  w.add(true, 1_000);
  w.add(false, 2_000);
  const copy = new TimeWindow(1_000, 4);
  assert.ok(copy.restore(JSON.parse(JSON.stringify(w))));
  assert.is(copy.total(2_500), 2);
  assert.is(copy.hits(2_500), 1);
  assert.is(copy.total(5_000), 1);
  assert.not.ok(new TimeWindow(1_000, 3).restore(w.toJSON()), 'wrong bucket count');
  assert.not.ok(copy.restore({ head: 1, totals: [1, 0, 0, 0], hits: [2, 0, 0, 0] }), 'more hits than calls');
  assert.not.ok(copy.restore('nonsense'));
});

test('count window: the last N calls', () => {
  const w = new CountWindow(3);
  w.add(true);
  w.add(true);
  assert.is(w.total(), 2);
  w.add(false);
  w.add(false); // pushes out the first hit
  assert.is(w.total(), 3);
  assert.is(w.hits(), 1);
  w.add(false);
  assert.is(w.hits(), 0);
  const copy = new CountWindow(3);
  w.add(true);
  assert.ok(copy.restore(JSON.parse(JSON.stringify(w))));
  copy.add(false);
  copy.add(false);
  assert.is(copy.hits(), 1, 'the restored hit is still the newest-but-two');
  copy.add(false);
  assert.is(copy.hits(), 0);
});

test.run();
