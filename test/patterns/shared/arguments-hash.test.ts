import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { canonicalJson, canonicalizeArguments, hashArguments } from '../../../src/index.js';

const test = suite('canonical JSON and argument hashes');

test('keys are sorted at every depth; whitespace-free; arrays keep their order', () => {
  assert.is(canonicalizeArguments({ b: 1, a: { d: [3, 1], c: 'x' } }), '{"a":{"c":"x","d":[3,1]},"b":1}');
  assert.is(canonicalizeArguments([{ z: 1, y: 2 }]), '[{"y":2,"z":1}]');
});

test('the hash does not depend on key order, and changes with any value', () => {
  assert.is(hashArguments({ a: 1, b: [1, 2] }), hashArguments({ b: [1, 2], a: 1 }));
  assert.is.not(hashArguments({ a: 1, b: [1, 2] }), hashArguments({ a: 1, b: [2, 1] }));
  assert.is.not(hashArguments({ a: 1 }), hashArguments({ a: '1' }));
  assert.is(hashArguments({ a: 1 }), createHash('sha256').update('{"a":1}').digest('hex'));
});

test('values JSON cannot hold never throw and get stable placeholders', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  assert.is(canonicalizeArguments(cyclic), '{"a":1,"self":"[Circular]"}');
  assert.is(canonicalizeArguments({ n: 10n, u: undefined, f: Number.NaN }), '{"f":null,"n":"10"}');
  assert.is(canonicalizeArguments([undefined, () => 1]), '[null,"[Function anonymous]"]');
  assert.is(canonicalizeArguments(new Map([['b', 1], ['a', 2]])), '{"a":2,"b":1}');
  assert.is(canonicalizeArguments(new Date(0)), '"1970-01-01T00:00:00.000Z"');
  assert.is(canonicalizeArguments(undefined), 'null');
  const shared = { x: 1 };
  assert.is(canonicalizeArguments([shared, shared]), '[{"x":1},{"x":1}]', 'a shared (acyclic) reference is not a cycle');
});

test('canonicalJson is the deprecated name of canonicalizeArguments', () => {
  assert.is(canonicalJson, canonicalizeArguments);
});

test.run();
