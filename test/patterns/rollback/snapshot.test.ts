import { inspect, isDeepStrictEqual } from 'node:util';
import { serialize } from 'node:v8';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Snapshotter, findUncloneable } from '../../../src/patterns/rollback/snapshot.js';
import { isSnapshotError } from '../../../src/patterns/rollback/rollback-errors.js';

const test = suite('snapshots');

test('structured: the size is the exact serialised size, and each restore is a new copy', () => {
  const s = new Snapshotter('structured', 1_000_000);
  const value = { a: [1, 2, 3], b: 'text', c: new Map([[1, new Set(['x'])]]) };
  const snap = s.take(value, 'state')!;
  assert.is(snap.codec, 'structured');
  assert.is(snap.bytes, serialize(value).length);
  const one = s.restore(snap);
  const two = s.restore(snap);
  assert.equal(one, value);
  assert.is.not(one, two);
  assert.is(s.take(undefined, 'state'), undefined, 'no value, no snapshot');
});

test('structured: plain data is kept as exact JSON text; anything JSON would alter goes through V8 bytes', () => {
  const s = new Snapshotter('structured', 1_000_000);
  const plain = { a: [1, 'two', { three: true }], b: null, 'odd key': -1.5 };
  const snap = s.take(plain, 'state')!;
  assert.is(snap.codec, 'structured');
  assert.is(snap.data, JSON.stringify(plain));
  assert.is(snap.bytes, Buffer.byteLength(JSON.stringify(plain)));
  assert.equal(s.restore(snap), plain);

  const shared = { n: 1 };
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays -- a hole is the case under test
  const extra = Object.assign([1], { note: 'kept' });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each case reads its own shape of restored value
  const cases: Array<[string, unknown, (restored: any) => void]> = [
    ['undefined', { u: undefined }, r => assert.ok('u' in r)],
    ['NaN', { n: NaN }, r => assert.ok(Number.isNaN(r.n))],
    ['-0', { z: -0 }, r => assert.ok(Object.is(r.z, -0))],
    ['Infinity', [Infinity], r => assert.is(r[0], Infinity)],
    ['a shared reference', { a: shared, b: shared }, r => assert.is(r.a, r.b)],
    ['a hole', sparse, r => assert.not.ok(1 in r)],
    ['an extra array property', extra, r => assert.is(r.note, 'kept')],
    ['a Date', { d: new Date(1) }, r => assert.ok(r.d instanceof Date)],
    ['a BigInt', 5n, r => assert.is(r, 5n)],
  ];
  for (const [what, value, check] of cases) {
    const taken = s.take(value, 'state')!;
    assert.instance(taken.data, Uint8Array, what);
    check(s.restore(taken));
  }
});

test('plain data of every kind is accepted: null prototypes, built-in errors, buffers, typed arrays, boxed values', () => {
  const bare = Object.create(null) as Record<string, unknown>;
  bare.k = 1;
  const value = {
    bare,
    err: new RangeError('out of range'),
    buf: Buffer.from('hi'),
    f64: new Float64Array([1.5]),
    view: new DataView(new ArrayBuffer(4)),
    re: /x+/g,
    boxed: Object(1n),
    when: new Date(0),
  };
  assert.is(findUncloneable(value), undefined);
  const restored = new Snapshotter('structured', 1_000_000).restore(new Snapshotter('structured', 1_000_000).take(value, 'state')) as typeof value;
  assert.ok(restored.err instanceof RangeError);
  assert.ok(restored.re instanceof RegExp);
});

test('custom error classes, class instances and weak collections are refused with their path', () => {
  class PlanError extends Error {}
  const cases: Array<[unknown, string, RegExp]> = [
    [{ last: new PlanError('x') }, 'v.last', /an instance of PlanError/],
    [[1, [2, new WeakMap()]], 'v[1][1]', /an instance of WeakMap/],
    [{ 'odd key': { sym: Symbol('s') } }, 'v["odd key"].sym', /a symbol/],
    [new Set([new Map([['k', () => 1]])]), 'v<set item #0><map value #0>', /a function/],
  ];
  for (const [value, path, description] of cases) {
    const found = findUncloneable(value, 'v');
    assert.ok(found, path);
    assert.is(found![0], path);
    assert.match(found![1], description);
  }
});

test('a deep value does not overflow the stack of the check', () => {
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 50_000; i++) deep = { next: deep };
  assert.is(findUncloneable(deep), undefined);
  let bad: Record<string, unknown> = { leaf: () => 1 };
  for (let i = 0; i < 2_000; i++) bad = { next: bad };
  const found = findUncloneable(bad, 's');
  assert.match(found![0], /^s(\.next){2000}\.leaf$/);
});

test('a codec that throws, or returns something else than text or bytes, is a SnapshotError', () => {
  const throwing = new Snapshotter(
    {
      name: 'x',
      encode: () => {
        throw new Error('nope');
      },
      decode: d => d,
    },
    100,
  );
  let err: unknown;
  try {
    throwing.take(1, 'state');
  } catch (e) {
    err = e;
  }
  assert.ok(isSnapshotError(err));
  assert.match((err as Error).message, /with the x codec: nope/);
  const wrong = new Snapshotter({ name: 'y', encode: () => 42 as never, decode: d => d }, 100);
  assert.throws(() => wrong.take(1, 'state'), /must return a string or a Uint8Array/);
});

test('property: any JSON value survives both codecs unchanged, and later mutation of the original does not reach it', () => {
  const structured = new Snapshotter('structured', Infinity);
  const json = new Snapshotter('json', Infinity);
  fc.assert(
    fc.property(fc.jsonValue(), value => {
      const before = structuredClone(value);
      const a = structured.take(value, 'state');
      const b = json.take(value, 'state');
      if (value !== null && typeof value === 'object') (value as Record<string, unknown>).__mutated = true;
      assert.equal(structured.restore(a), before);
      assert.equal(json.restore(b), JSON.parse(JSON.stringify(before)));
    }),
    { numRuns: 200 },
  );
});

/**
 * Makes the deep comparison below mean the same on every supported Node:
 * `isDeepStrictEqual` finds two invalid Dates unequal on Node 20 (it
 * compares their times, NaN, with `!==`) and equal from Node 22 (SameValue).
 * Each invalid Date becomes time 0 plus an own `invalidDate` property, which
 * the comparison also checks, so an invalid Date still never equals a valid
 * one. Mutates `value` (a copy the test owns).
 */
function markInvalidDates(value: unknown, seen = new Set<object>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) {
      value.setTime(0);
      Object.defineProperty(value, 'invalidDate', { value: true, enumerable: true });
    }
    return;
  }
  if (ArrayBuffer.isView(value)) return;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      markInvalidDates(k, seen);
      markInvalidDates(v, seen);
    }
    return;
  }
  if (value instanceof Set) {
    for (const v of value) markInvalidDates(v, seen);
    return;
  }
  for (const key of Reflect.ownKeys(value)) markInvalidDates((value as Record<PropertyKey, unknown>)[key], seen);
}

test('markInvalidDates: invalid Dates compare equal to each other on every Node, and never to a valid one', () => {
  const pair = () => ({ d: new Date(NaN), m: new Map([[new Date(NaN), new Set([new Date(NaN)])]]) });
  const [a, b] = [pair(), pair()];
  markInvalidDates(a);
  markInvalidDates(b);
  assert.ok(isDeepStrictEqual(a, b));
  const [invalid, epoch] = [new Date(NaN), new Date(0)];
  markInvalidDates(invalid);
  markInvalidDates(epoch);
  assert.not.ok(isDeepStrictEqual(invalid, epoch));
});

test('property: a structured snapshot restores what structuredClone would give, whatever the data', () => {
  const structured = new Snapshotter('structured', Infinity);
  const anything = fc.anything({
    withDate: true,
    withMap: true,
    withSet: true,
    withBigInt: true,
    withNullPrototype: true,
    withSparseArray: true,
    withTypedArray: true,
  });
  fc.assert(
    fc.property(anything, value => {
      const snap = structured.take(value, 'state');
      // isDeepStrictEqual compares with SameValue, so NaN inside typed arrays is equal to itself.
      const restored = structured.restore(snap);
      const expected = structuredClone(value);
      markInvalidDates(restored);
      markInvalidDates(expected);
      assert.ok(isDeepStrictEqual(restored, expected), `restored ${inspect(restored)}, expected ${inspect(expected)}`);
    }),
    // Invalid Dates always, not only when the generator happens to make one.
    { numRuns: 300, examples: [[new Date(NaN)], [{ when: new Date(NaN), seen: new Set([new Date(NaN)]) }]] },
  );
});

test.run();
