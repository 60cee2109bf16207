import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { REDACTED, captureValue, redactSecrets, safeStringify, secretRedactor } from '../../../src/index.js';
import { redactAttributes } from '../../../src/patterns/shared/redaction.js';

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

test('an own __proto__ key (as JSON.parse makes) is redacted and kept as a key, never set as the copy\'s prototype', () => {
  const hostile = JSON.parse('{"__proto__":{"password":"hunter2","polluted":true},"q":"x"}') as Record<string, unknown>;
  const out = redactSecrets(hostile) as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(out, '__proto__'), 'kept as an own key');
  assert.is(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(JSON.parse(JSON.stringify(out)), { ['__proto__']: { password: '[REDACTED]', polluted: true }, q: 'x' });
  assert.is((out as { polluted?: unknown }).polluted, undefined);
  assert.is(({} as { polluted?: unknown }).polluted, undefined);
  // attribute maps (the audit chain's fast path) too
  const attrs = JSON.parse('{"__proto__":"Bearer abcdefghijklmnopqrstuvwxyz0123","k":"v"}') as Record<string, unknown>;
  const flat = redactAttributes(attrs, redactSecrets);
  assert.ok(Object.prototype.hasOwnProperty.call(flat, '__proto__'));
  assert.is(Object.getPrototypeOf(flat), Object.prototype);
  assert.is(Object.getOwnPropertyDescriptor(flat, '__proto__')?.value, 'Bearer [REDACTED]');
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


test('attribute maps: the fast path of a secretRedactor gives what its full walk gives, and the same object when nothing changes', () => {
  const pieces = ['plain', 'Bearer abcdefgh12345', 'password=hunter2', 'sk-live-0123456789abcdefABCD', 'ok ok ok ok', '', 'token: x1', 'AKIAABCDEFGHIJKLMNOP'];
  const keys = ['gen_ai.tool.name', 'http.authorization', 'db.password', 'agent_safety.explanation.reasoning', 'exception.message', 'api_key', 'count'];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const value = (): unknown => {
    switch (rand(7)) {
      case 5: return [null, { a: 1 }, new Date(0), ['nested'], 10n][rand(5)];
      case 6: return [1, 'x', { o: true }];
      case 0: return pieces[rand(pieces.length)] + ' ' + pieces[rand(pieces.length)];
      case 1: return rand(1000) / 7;
      case 2: return rand(2) === 0;
      case 3: return [pieces[rand(pieces.length)], pieces[rand(pieces.length)], null];
      default: return undefined;
    }
  };
  for (const redactor of [redactSecrets, secretRedactor({ maskSecretsInText: false }), secretRedactor({ keyPattern: /count/ })]) {
    const walk = (v: unknown) => redactor(v); // not the registered redactor itself: always the full walk
    for (let i = 0; i < 2000; i++) {
      const attrs: Record<string, unknown> = {};
      for (let k = rand(5); k >= 0; k--) attrs[keys[rand(keys.length)]] = value();
      const fast = redactAttributes(attrs, redactor);
      assert.equal(fast, redactAttributes(attrs, walk), safeStringify(attrs));
      const same = Object.keys(attrs).every(k => fast[k] === attrs[k]);
      if (same) assert.is(fast, attrs, 'unchanged: the same object');
      else assert.is.not(fast, attrs, 'changed: a copy (the input is never mutated)');
    }
  }
});

test.run();
