import { generateKeyPairSync } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AuditChain, msToNanoString } from '../../../src/patterns/audit/audit-chain.js';
import { GENESIS_HASH, chainHash, encodeRecordBody, hrTimeToNanoString, splitLine, verifyCheckpoint } from '../../../src/patterns/audit/audit-record.js';
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

test('checkpoints are due by count and by time (injected clock), only with a signing key', () => {
  let now = 1_000;
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const chain = new AuditChain({ chainId: 'c', signingKey: { id: 'k', privateKey }, checkpoints: { everyRecords: 3, everyMs: 500 }, now: () => now });
  assert.not.ok(chain.checkpointDue()); // nothing to sign yet
  chain.append(span('a'), {});
  chain.append(span('b'), {});
  assert.not.ok(chain.checkpointDue());
  now += 500;
  assert.ok(chain.checkpointDue()); // by time
  const made = chain.makeCheckpoint()!;
  assert.equal({ seq: made.claim.headSeq, hash: made.claim.headHash }, { seq: 1, hash: chain.headState.hash });
  assert.is(made.claim.timeUnixNano, '1500000000');
  assert.ok(verifyCheckpoint(made.claim, made.signature, publicKey));
  chain.append(span('checkpoint'), {}); // the checkpoint record itself
  assert.not.ok(chain.checkpointDue());
  for (const n of ['c', 'd']) chain.append(span(n), {});
  assert.not.ok(chain.checkpointDue());
  chain.append(span('e'), {});
  assert.ok(chain.checkpointDue()); // by count
  const unsigned = new AuditChain({ chainId: 'u', now: () => now });
  unsigned.append(span('a'), {});
  now += 1e9;
  assert.not.ok(unsigned.checkpointDue());
  assert.is(unsigned.makeCheckpoint(), undefined);
});

test('times are exact nanosecond strings', () => {
  assert.is(hrTimeToNanoString([1_700_000_001, 123_456_789]), '1700000001123456789');
  assert.is(hrTimeToNanoString([1_700_000_001, 5]), '1700000001000000005');
  assert.is(hrTimeToNanoString([0, 5]), '5');
  assert.is(msToNanoString(1_500.25), '1500250000');
});

test('rejects bad options', () => {
  assert.throws(() => new AuditChain({ chainId: '' }), /chainId/);
  assert.throws(() => new AuditChain({ chainId: 'c', checkpoints: { everyMs: 0 } }), /everyMs/);
});

test.run();
