import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RingBuffer } from '../../../src/patterns/shared/ring-buffer.js';

const test = suite('RingBuffer');

test('keeps items oldest first until full', () => {
  const b = new RingBuffer<number>(3);
  assert.equal(b.toArray(), []);
  b.push(1);
  b.push(2);
  assert.equal(b.toArray(), [1, 2]);
  assert.is(b.size, 2);
  assert.is(b.dropped, 0);
});

test('never holds more than its capacity: the oldest items are overwritten and counted', () => {
  const b = new RingBuffer<number>(3);
  for (let i = 1; i <= 10; i++) b.push(i);
  assert.is(b.size, 3);
  assert.is(b.dropped, 7);
  assert.equal(b.toArray(), [8, 9, 10]);
  assert.equal([...b], [8, 9, 10]);
});

test('wraps correctly at every fill level', () => {
  for (let n = 0; n <= 12; n++) {
    const b = new RingBuffer<number>(5);
    for (let i = 0; i < n; i++) b.push(i);
    const expected = Array.from({ length: Math.min(n, 5) }, (_, k) => n - Math.min(n, 5) + k);
    assert.equal(b.toArray(), expected, `after ${n} pushes`);
  }
});

test('clear empties it and resets the drop count', () => {
  const b = new RingBuffer<string>(2);
  b.push('a');
  b.push('b');
  b.push('c');
  b.clear();
  assert.is(b.size, 0);
  assert.is(b.dropped, 0);
  b.push('d');
  assert.equal(b.toArray(), ['d']);
});

test('a capacity that is not an integer >= 1 throws, naming it', () => {
  assert.throws(() => new RingBuffer(0), (e: Error) => e instanceof RangeError && /capacity/.test(e.message));
  assert.throws(() => new RingBuffer(2.5), (e: Error) => e instanceof RangeError && /capacity/.test(e.message));
  assert.throws(() => new RingBuffer(Number.NaN), (e: Error) => e instanceof TypeError && /capacity/.test(e.message));
});

test.run();
