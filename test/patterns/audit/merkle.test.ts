import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  EMPTY_ROOT,
  MemoryMerkleTree,
  MerkleFrontier,
  consistencyProof,
  inclusionProof,
  leafHash,
  leafHashOfHex,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../../src/patterns/audit/merkle.js';

const test = suite('RFC 6962 Merkle tree (pure)');

// ---- A brute-force reference: the RFC's recursive definitions, on whole arrays, no shortcuts. ----
const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const k = (n: number): number => 2 ** Math.floor(Math.log2(n - 1)); // largest power of two < n (n ≥ 2)
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Buffer.from([0]), d[0]);
  const s = k(d.length);
  return sha(Buffer.from([1]), mth(d.slice(0, s)), mth(d.slice(s)));
}
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))] : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
}

function entries(n: number, seed: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => sha(Buffer.from(`entry ${seed} ${i}`)).subarray(0, 1 + ((i * 7 + seed) % 31)));
}

function treeOf(d: Buffer[]): MemoryMerkleTree {
  const t = new MemoryMerkleTree();
  for (const e of d) t.append(e);
  return t;
}

test('roots, inclusion and consistency proofs equal the brute-force recomputation for random sizes (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 140 }), fc.integer({ min: 0, max: 1e6 }), fc.nat(), fc.nat(), (n, seed, a, b) => {
      const d = entries(n, seed);
      const tree = treeOf(d);
      const frontier = new MerkleFrontier();
      for (const e of d) frontier.append(e);
      assert.ok(frontier.root().equals(mth(d)), `frontier root at ${n}`);
      assert.ok(tree.root().equals(mth(d)), `memory root at ${n}`);

      const index = a % n;
      const proof = inclusionProof(index, n, tree.node);
      assert.equal(proof.map(h => h.toString('hex')), path(index, d).map(h => h.toString('hex')));
      assert.ok(verifyInclusion(leafHash(d[index]), index, n, proof, mth(d)));
      // Any other index, a flipped bit, a missing or an extra hash: refused.
      if (n > 1) assert.not.ok(verifyInclusion(leafHash(d[index]), (index + 1) % n, n, proof, mth(d)));
      if (proof.length > 0) {
        const bad = proof.map(h => Buffer.from(h));
        bad[b % bad.length][b % 32] ^= 1 << (b % 8);
        assert.not.ok(verifyInclusion(leafHash(d[index]), index, n, bad, mth(d)));
        assert.not.ok(verifyInclusion(leafHash(d[index]), index, n, proof.slice(1), mth(d)));
      }
      assert.not.ok(verifyInclusion(leafHash(d[index]), index, n, [...proof, EMPTY_ROOT], mth(d)));

      const m = 1 + (b % n);
      const cproof = consistencyProof(m, n, tree.node);
      const expected = m === n ? [] : subproof(m, d, true);
      assert.equal(cproof.map(h => h.toString('hex')), expected.map(h => h.toString('hex')));
      assert.ok(verifyConsistency(m, n, mth(d.slice(0, m)), mth(d), cproof), `consistency ${m} → ${n}`);
      assert.ok(tree.root(m).equals(mth(d.slice(0, m))));
      if (m < n) {
        // A forked history (entry 0 replaced) is not consistent with the original prefix.
        const forked = [sha(Buffer.from('forged')), ...d.slice(1)];
        assert.not.ok(verifyConsistency(m, n, mth(d.slice(0, m)), mth(forked), cproof));
        assert.not.ok(verifyConsistency(m, n, mth(d.slice(0, m)), mth(d), cproof.slice(0, -1)));
      }
    }),
    { numRuns: 150 },
  );
});

test('larger trees: a few sizes around powers of two up to 2^12 + 1', () => {
  for (const n of [255, 256, 257, 1023, 1024, 1025, 4097]) {
    const d = entries(n, n);
    const tree = treeOf(d);
    const root = mth(d);
    assert.ok(tree.root().equals(root));
    for (const i of [0, 1, n >> 1, n - 2, n - 1]) {
      const p = inclusionProof(i, n, tree.node);
      assert.ok(p.length <= Math.ceil(Math.log2(n)));
      assert.ok(verifyInclusion(leafHash(d[i]), i, n, p, root));
    }
    for (const m of [1, 2, 3, n >> 1, n - 1]) {
      assert.ok(verifyConsistency(m, n, tree.root(m), root, consistencyProof(m, n, tree.node)), `${m} → ${n}`);
    }
  }
});

test('the frontier is O(log n) and serialisable: a restart continues the same tree', () => {
  const d = entries(1000, 3);
  const f = new MerkleFrontier();
  for (let i = 0; i < 613; i++) f.append(d[i]);
  const state = JSON.parse(JSON.stringify(f.state())) as ReturnType<MerkleFrontier['state']>;
  assert.is(state.peaks.length, 5); // 613 = 0b1001100101
  const g = MerkleFrontier.fromState(state);
  for (let i = 613; i < 1000; i++) g.append(d[i]);
  assert.ok(g.root().equals(mth(d)));
  assert.ok(rootOfLeafHashes(d.map(e => leafHash(e))).equals(mth(d)));
  assert.throws(() => MerkleFrontier.fromState({ size: 3, peaks: state.peaks }), /needs 2 peaks/);
  assert.throws(() => MerkleFrontier.fromState({ size: 1, peaks: ['not base64!'] }), /base64/);
});

test('an audit record\'s leaf is its 32-byte chain hash', () => {
  const hex = sha(Buffer.from('record')).toString('hex');
  assert.ok(leafHashOfHex(hex).equals(sha(Buffer.from([0]), Buffer.from(hex, 'hex'))));
  assert.throws(() => leafHashOfHex('zz'.repeat(32)), /hex/);
  assert.throws(() => leafHashOfHex('ab'), /hex/);
});

test('the frontier\'s slots: many peaks (the slab grows past 8), clones and restarts at every size, hex entries', () => {
  // 2^11 - 1 leaves: up to 11 peaks; the root at every size against a tree kept in memory.
  const hexes = entries(2047, 11).map(e => sha(e).toString('hex'));
  const f = new MerkleFrontier();
  const tree = new MemoryMerkleTree();
  let clone: MerkleFrontier | undefined;
  for (let i = 0; i < hexes.length; i++) {
    f.appendHexEntry(hexes[i]);
    tree.appendLeafHash(leafHashOfHex(hexes[i]));
    assert.ok(f.root().equals(tree.root()), `root at ${i + 1}`);
    if (i === 1000) clone = f.clone();
    if (i % 97 === 0 || i === hexes.length - 1) {
      const g = MerkleFrontier.fromState(JSON.parse(JSON.stringify(f.state())) as ReturnType<MerkleFrontier['state']>);
      assert.ok(g.root().equals(f.root()), `restart at ${i + 1}`);
      assert.equal(g.state(), f.state());
    }
  }
  assert.is(f.state().peaks.length, 11);
  // The clone grew apart from the original: it continues from 1001 leaves.
  for (let i = 1001; i < hexes.length; i++) clone!.appendHexEntry(hexes[i]);
  assert.ok(clone!.root().equals(f.root()));
  // Upper-case hex is the same entry; anything but 64 hex digits is refused, including characters above 0xff
  // whose low byte is a hex digit (U+0130 ends in 0x30, '0').
  const g = new MerkleFrontier();
  g.appendHexEntry(hexes[0].toUpperCase());
  assert.ok(g.root().equals(tree.root(1)));
  for (const bad of ['', 'ab', hexes[0].slice(0, 63) + 'g', '\u0130' + hexes[0].slice(1), hexes[0].slice(0, 63) + '\u0161', hexes[0] + '0']) {
    assert.throws(() => g.appendHexEntry(bad), /hex/, JSON.stringify(bad));
    assert.throws(() => leafHashOfHex(bad), /hex/, JSON.stringify(bad));
  }
  assert.is(g.size, 1);
});

// ---- Interoperability: the published RFC 6962 proof vectors of transparency-dev/merkle (see the fixture's "source"). ----
interface InclusionVector { leafIdx: number | string; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean; file: string }
interface ConsistencyVector { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean; file: string }
const vectors = JSON.parse(readFileSync(new URL('../../fixtures/tlog/rfc6962-proof-vectors.json', import.meta.url), 'utf8')) as {
  inclusion: InclusionVector[];
  consistency: ConsistencyVector[];
};
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

test('every published inclusion vector verifies exactly when it should', () => {
  assert.ok(vectors.inclusion.length > 90);
  for (const v of vectors.inclusion) {
    const index = typeof v.leafIdx === 'string' ? Number.MAX_SAFE_INTEGER + 1 : v.leafIdx;
    const ok = verifyInclusion(b64(v.leafHash), index, v.treeSize, (v.proof ?? []).map(b64), b64(v.root));
    assert.is(ok, !v.wantErr, `${v.file}: ${v.desc}`);
  }
});

test('every published consistency vector verifies exactly when it should', () => {
  assert.ok(vectors.consistency.length > 90);
  for (const v of vectors.consistency) {
    const ok = verifyConsistency(v.size1, v.size2, b64(v.root1), b64(v.root2), (v.proof ?? []).map(b64));
    assert.is(ok, !v.wantErr, `${v.file}: ${v.desc}`);
  }
});

test('the proofs we generate for the vectors\' tree (the RFC 6962 test leaves) are the published ones', () => {
  const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h => Buffer.from(h, 'hex'));
  const tree = treeOf(leaves);
  let checked = 0;
  for (const v of vectors.inclusion.filter(x => x.desc === 'happy path')) {
    const index = v.leafIdx as number;
    assert.ok(tree.root(v.treeSize).equals(b64(v.root)), `${v.file} root`);
    assert.ok(leafHash(leaves[index]).equals(b64(v.leafHash)), `${v.file} leaf`);
    assert.equal(inclusionProof(index, v.treeSize, tree.node).map(h => h.toString('base64')), v.proof ?? [], v.file);
    checked++;
  }
  for (const v of vectors.consistency.filter(x => x.desc === 'happy path')) {
    assert.ok(tree.root(v.size1).equals(b64(v.root1)) && tree.root(v.size2).equals(b64(v.root2)), `${v.file} roots`);
    assert.equal(consistencyProof(v.size1, v.size2, tree.node).map(h => h.toString('base64')), v.proof ?? [], v.file);
    checked++;
  }
  assert.ok(checked >= 8, `checked ${checked} happy paths`);
});

test.run();
