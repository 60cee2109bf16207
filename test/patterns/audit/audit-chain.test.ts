import { generateKeyPairSync } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditChain, msToNanoString } from '../../../src/patterns/audit/audit-chain.js';
import { GENESIS_HASH, chainHash, encodeRecordBody, hrTimeToNanoString, splitLine, verifySeal } from '../../../src/patterns/audit/audit-record.js';
import type { AuditSpanLike } from '../../../src/patterns/audit/audit-record.js';

const test = suite('AuditChain (pure)');

function span(name: string, attributes: Record<string, unknown> = {}): AuditSpanLike {
  return {
    name, kind: 0,
    spanContext: () => ({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }),
    startTime: [1_700_000_000, 5], endTime: [1_700_000_001, 123_456_789],
    status: { code: 0 }, attributes, events: [], links: [],
    droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
    instrumentationScope: { name: 'agent-safety-otel', version: '0.1.0' },
  };
}

test('links each record to the previous by hash, gap-free from seq 0', () => {
  const chain = new AuditChain({ chainId: 'c1' });
  const a = chain.append(span('a'), { 'service.name': 's' });
  const b = chain.append(span('b'), { 'service.name': 's' });
  assert.is(a.seq, 0);
  assert.is(a.prevHash, GENESIS_HASH);
  assert.is(b.seq, 1);
  assert.is(b.prevHash, a.hash);
  const split = splitLine(b.line)!;
  assert.is(split.hash, b.hash);
  assert.is(chainHash(b.prevHash, split.body), b.hash);
  // The resource is bound on seq 0 only.
  assert.match(a.line, /"resource":\{"service.name":\{"stringValue":"s"\}\}/);
  assert.not.match(b.line, /"resource"/);
  assert.equal(chain.headState, { chainId: 'c1', seq: 1, hash: b.hash });
});

test('a one-character change anywhere changes the hash', () => {
  const body = encodeRecordBody({ chainId: 'c', seq: 0, prevHash: GENESIS_HASH }, span('a', { k: 'v' }));
  const hash = chainHash(GENESIS_HASH, body);
  for (let i = 0; i < body.length; i += 7) {
    const changed = body.slice(0, i) + (body[i] === 'x' ? 'y' : 'x') + body.slice(i + 1);
    assert.is.not(chainHash(GENESIS_HASH, changed), hash, `at ${i}`);
  }
});

test('seals are due by count and by time (injected clock), only in a keyed chain; the old names still work', () => {
  let now = 1_000;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const chain = new AuditChain({ chainId: 'c', signingKey: { id: 'k', privateKey }, seals: { everyRecords: 3, everyMs: 500 }, now: () => now });
  assert.not.ok(chain.sealDue()); // nothing to seal yet
  chain.append(span('a'), {});
  chain.append(span('b'), {});
  assert.not.ok(chain.sealDue());
  now += 500;
  assert.ok(chain.sealDue()); // by time
  assert.ok(chain.checkpointDue(), 'the old name');
  const made = chain.makeSeal()!;
  assert.equal({ seq: made.claim.headSeq, hash: made.claim.headHash }, { seq: 1, hash: chain.headState.hash });
  assert.is(made.claim.timeUnixNano, '1500000000');
  assert.is(made.claim.final, undefined);
  assert.ok(verifySeal(made.claim, made.signature!, publicKey));
  chain.append(span('seal'), {}); // the seal record itself
  assert.not.ok(chain.sealDue());
  for (const n of ['c', 'd']) chain.append(span(n), {});
  assert.not.ok(chain.sealDue());
  chain.append(span('e'), {});
  assert.ok(chain.sealDue()); // by count
  // the closing seal: `final` is signed with the rest
  const closing = chain.makeSeal(true)!;
  assert.is(closing.claim.final, true);
  assert.ok(verifySeal(closing.claim, closing.signature!, publicKey));
  assert.not.ok(verifySeal({ ...closing.claim, final: undefined }, closing.signature!, publicKey), 'an interval seal cannot pass for the closing one, nor the reverse');
  assert.not.ok(verifySeal({ ...made.claim, final: true }, made.signature!, publicKey));
  // a chain with only an HMAC key seals too, unsigned (its HMAC vouches for the seal)
  const hmacOnly = new AuditChain({ chainId: 'h', hmacKey: { id: 'hk', key: Buffer.from('k'.repeat(32)) }, seals: { everyRecords: 2 }, now: () => now });
  hmacOnly.append(span('a'), {});
  hmacOnly.append(span('b'), {});
  assert.ok(hmacOnly.sealDue());
  const unsignedSeal = hmacOnly.makeSeal()!;
  assert.is(unsignedSeal.signature, undefined);
  assert.is(unsignedSeal.claim.keyId, '');
  assert.is(hmacOnly.genesisFacts.sealEvery, 2);
  // a plain chain does not seal, and says so on seq 0 by not promising any
  const plain = new AuditChain({ chainId: 'u', now: () => now });
  plain.append(span('a'), {});
  now += 1e9;
  assert.not.ok(plain.sealDue());
  assert.is(plain.makeSeal(), undefined);
  assert.is(plain.makeCheckpoint(), undefined);
  assert.is(plain.genesisFacts.sealEvery, undefined);
  assert.is(plain.genesisFacts.format, 2);
});

test('format 2: seq 0 names the format and the seal policy, and leaves the command line out of the resource', () => {
  const chain = new AuditChain({ chainId: 'f', hmacKey: { id: 'hk', key: Buffer.from('k'.repeat(32)) }, seals: { everyRecords: 7 } });
  const first = JSON.parse(chain.append(span('a'), { 'service.name': 's', 'process.command_args': ['node', 'app.js', '--api-key=sk-live-0123456789abcdef0123'], 'process.command_line': 'node app.js --api-key=x', 'process.pid': 42 }).line);
  assert.is(first.format, 2);
  assert.is(first.seal_every, 7);
  assert.equal(Object.keys(first.resource).sort(), ['process.pid', 'service.name']);
  const second = JSON.parse(chain.append(span('b'), undefined).line);
  assert.is(second.format, undefined);
  assert.is(second.seal_every, undefined);
});

test('times are exact nanosecond strings', () => {
  assert.is(hrTimeToNanoString([1_700_000_001, 123_456_789]), '1700000001123456789');
  assert.is(hrTimeToNanoString([1_700_000_001, 5]), '1700000001000000005');
  assert.is(hrTimeToNanoString([0, 5]), '5');
  assert.is(msToNanoString(1_500.25), '1500250000');
});

test('rejects bad options', () => {
  assert.throws(() => new AuditChain({ chainId: '' }), /chainId/);
  assert.throws(() => new AuditChain({ chainId: 'c', checkpoints: { everyMs: 0 } }), /checkpoints\.everyMs/);
  assert.throws(() => new AuditChain({ chainId: 'c', seals: { everyRecords: 0 } }), /seals\.everyRecords/);
});

test.run();
