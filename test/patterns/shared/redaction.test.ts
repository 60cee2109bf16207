import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { REDACTED, captureValue, redactSecrets, safeStringify, secretRedactor } from '../../../src/index.js';

const test = suite('redaction');

test('drops values of secret-looking keys at any depth and keeps the rest', () => {
  const input = {
    query: 'weather',
    password: 'hunter2',
    api_key: 'k1',
    apiKey: 'k2',
    'X-Api-Key': 'k3',
    nested: { Authorization: 'Basic xyz', cookie: 'a=b', list: [{ client_secret: 's', keep: 1 }] },
    accessToken: 't',
    privateKey: 'pk',
  };
  assert.equal(redactSecrets(input), {
    query: 'weather',
    password: REDACTED,
    api_key: REDACTED,
    apiKey: REDACTED,
    'X-Api-Key': REDACTED,
    nested: { Authorization: REDACTED, cookie: REDACTED, list: [{ client_secret: REDACTED, keep: 1 }] },
    accessToken: REDACTED,
    privateKey: REDACTED,
  });
});

test('does not mutate its input and is idempotent', () => {
  const input = { token: 'abc', inner: { secret: 1 } };
  const once = redactSecrets(input);
  assert.equal(input, { token: 'abc', inner: { secret: 1 } });
  assert.equal(redactSecrets(once), once);
});

test('masks bearer credentials inside strings', () => {
  assert.is(redactSecrets('curl -H "Authorization: Bearer abcdefghijklmnop"'), `curl -H "Authorization: Bearer ${REDACTED}"`);
  assert.is(redactSecrets('short text'), 'short text');
});

test('handles cycles, Maps, Sets and depth', () => {
  const a: Record<string, unknown> = { name: 'a' };
  a.self = a;
  assert.equal(redactSecrets(a), { name: 'a', self: '[Circular]' });
  const m = redactSecrets(new Map([['token', 'x'], ['ok', 'y']])) as Map<string, unknown>;
  assert.is(m.get('token'), REDACTED);
  assert.is(m.get('ok'), 'y');
  const deep = secretRedactor({ maxDepth: 2 })({ a: { b: { c: 1 } } });
  assert.equal(deep, { a: { b: '[Truncated]' } });
});

test('a custom key pattern replaces the default', () => {
  const r = secretRedactor({ keyPattern: /^ssn$/i });
  assert.equal(r({ ssn: '123', password: 'p' }), { ssn: REDACTED, password: 'p' });
});

test('safeStringify never throws: cycles, BigInt, functions, symbols, errors, Map/Set', () => {
  const o: Record<string, unknown> = { n: 1n, f: function named() {}, s: Symbol('x'), e: new TypeError('bad'), m: new Map([[1, 'one']]), set: new Set([1, 2]) };
  o.loop = o;
  const parsed = JSON.parse(safeStringify(o));
  assert.equal(parsed, {
    n: '1',
    f: '[Function named]',
    s: 'Symbol(x)',
    e: { name: 'TypeError', message: 'bad' },
    m: { 1: 'one' },
    set: [1, 2],
    loop: '[Circular]',
  });
  const shared = { x: 1 };
  assert.is(safeStringify({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}', 'a shared reference is not a cycle');
  assert.is(safeStringify(undefined), 'undefined');
  const throwing = { toJSON() { throw new Error('no'); } };
  assert.is(safeStringify(throwing), '[unserializable]');
});

test('safeStringify truncates long output and says by how much', () => {
  const out = safeStringify('x'.repeat(100), { maxLength: 10 });
  assert.is(out, `${'"' + 'x'.repeat(9)}…[truncated 92 chars]`);
});

test('captureValue redacts before serialising and fails closed', () => {
  assert.is(captureValue({ token: 'abc', q: 1 }, redactSecrets), `{"token":"${REDACTED}","q":1}`);
  assert.is(captureValue({ token: 'abc' }, () => { throw new Error('bug'); }), '[redaction failed]');
});

test.run();
