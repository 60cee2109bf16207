import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CanonicalizationError, canonicalize, encodeAnyValue, encodeAttributes, isAuditStampKey } from '../../../src/patterns/audit/audit-canonical.js';

const test = suite('audit canonical JSON (RFC 8785)');

test('sorts keys by UTF-16 code units, recursively, with no whitespace', () => {
  // The RFC 8785 §3.2.3 sorting example: keys compared as UTF-16 code units.
  const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
  // (Read the order from the text: JavaScript objects list integer-like keys first.)
  const text = canonicalize(input);
  const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map(k => text.indexOf(JSON.stringify(k) + ':'));
  assert.ok(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1])), text);
  assert.is(canonicalize({ b: [1, { d: true, c: null }], a: 'x' }), '{"a":"x","b":[1,{"c":null,"d":true}]}');
});

test('serialises numbers as ECMAScript does (RFC 8785 §3.2.2.3)', () => {
  const cases: [number, string][] = [
    [0, '0'], [-0, '0'], [1e21, '1e+21'], [1e-7, '1e-7'], [123456789012345680000, '123456789012345680000'],
    [0.1 + 0.2, '0.30000000000000004'], [5e-324, '5e-324'], [-1.7976931348623157e308, '-1.7976931348623157e+308'],
  ];
  for (const [n, text] of cases) assert.is(canonicalize(n), text, String(n));
});

test('escapes strings minimally, as JSON.stringify does', () => {
  assert.is(canonicalize('\u0000\b\f\n\r\t"\\/\u001f\u007f\u2028é'), '"\\u0000\\b\\f\\n\\r\\t\\"\\\\/\\u001f\u007f\u2028é"');
});

test('rejects what JSON cannot represent', () => {
  for (const bad of [NaN, Infinity, -Infinity, undefined, () => 1, Symbol('s'), 1n]) {
    assert.throws(() => canonicalize(bad), (e: unknown) => e instanceof CanonicalizationError);
  }
  assert.throws(() => canonicalize({ a: [NaN] }), (e: unknown) => e instanceof CanonicalizationError);
});

test('is independent of key order and formatting (property)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), value => {
      const once = canonicalize(value);
      // Re-serialise with other formatting and reversed key order: same canonical text.
      const reordered = JSON.parse(JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v), 2)) as unknown;
      return canonicalize(reordered) === once && canonicalize(JSON.parse(once)) === once;
    }),
    { numRuns: 2000 },
  );
});

const attributeValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.array(fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined))),
  fc.array(fc.double()),
  fc.array(fc.boolean()),
);

/** The object form of encodeAnyValue's output, written the slow, obvious way. */
function anyValueObject(v: unknown): unknown {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return { intValue: BigInt(v).toString() };
    if (Number.isNaN(v)) return { doubleValue: 'NaN' };
    if (!Number.isFinite(v)) return { doubleValue: v > 0 ? 'Infinity' : '-Infinity' };
    return { doubleValue: v };
  }
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValueObject) } };
  return {};
}

test('the fast attribute encoder equals the generic canonical form (property)', () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string({ unit: 'grapheme' }), attributeValue), attrs => {
      const expected = canonicalize(Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined).map(([k, v]) => [k, anyValueObject(v)])));
      return encodeAttributes(attrs) === expected;
    }),
    { numRuns: 3000 },
  );
});

test('spans of one call site (the same keys, values repeating or not): every encoding equals the generic canonical form (property)', () => {
  const pool: unknown[] = ['bench', 'closed', 'success', '', 0, -0, 1, 0.91, NaN, Infinity, true, false, undefined, ['a'], 2 ** 60, 'é\u2028'];
  fc.assert(
    fc.property(fc.array(fc.array(fc.nat(pool.length - 1), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 20 }), calls => {
      // One key set, in one insertion order, as a call site's spans have: the encoder's per-shape cache is exercised.
      for (const picks of calls) {
        const attrs: Record<string, unknown> = {};
        ['gen_ai.tool.name', 'agent_safety.call.outcome', 'agent_safety.impact.delta', 'a.b'].forEach((k, i) => (attrs[k] = pool[picks[i]]));
        const expected = canonicalize(Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined).map(([k, v]) => [k, anyValueObject(v)])));
        if (encodeAttributes(attrs) !== expected) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
});

test('tags values as the OTLP transformer does; non-finite doubles as proto3 JSON strings', () => {
  assert.is(encodeAnyValue(42), '{"intValue":"42"}');
  assert.is(encodeAnyValue(-0), '{"intValue":"0"}');
  assert.is(encodeAnyValue(2 ** 60), '{"intValue":"1152921504606846976"}');
  assert.is(encodeAnyValue(1.5), '{"doubleValue":1.5}');
  assert.is(encodeAnyValue(NaN), '{"doubleValue":"NaN"}');
  assert.is(encodeAnyValue(-Infinity), '{"doubleValue":"-Infinity"}');
  assert.is(encodeAnyValue(['a', null]), '{"arrayValue":{"values":[{"stringValue":"a"},{}]}}');
  assert.is(encodeAnyValue(new Uint8Array([1, 2, 255])), '{"bytesValue":"AQL/"}');
  assert.is(encodeAnyValue({ b: 1, a: 'x' }), '{"kvlistValue":{"values":[{"key":"b","value":{"intValue":"1"}},{"key":"a","value":{"stringValue":"x"}}]}}');
  // Composed and decomposed forms are different values, hence different records.
  assert.is.not(encodeAnyValue('\u00e9'), encodeAnyValue('e\u0301'));
});

test('leaves out the chain stamps but keeps checkpoint claims', () => {
  const attrs = { 'agent_safety.audit.seq': 3, 'agent_safety.audit.hash': 'x', 'agent_safety.audit.checkpoint.head_seq': 2, z: true, u: undefined };
  assert.is(encodeAttributes(attrs, true), '{"agent_safety.audit.checkpoint.head_seq":{"intValue":"2"},"z":{"boolValue":true}}');
  assert.ok(isAuditStampKey('agent_safety.audit.previous.hash'));
  assert.not.ok(isAuditStampKey('agent_safety.audit.checkpoint.signature'));
  assert.not.ok(isAuditStampKey('agent_safety.breaker.state'));
});

test.run();
