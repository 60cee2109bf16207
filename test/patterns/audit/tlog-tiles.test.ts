import { createHash, generateKeyPairSync } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { MemoryMerkleTree, consistencyProof, inclusionProof, leafHash, verifyInclusion } from '../../../src/patterns/audit/merkle.js';
import {
  TileBuilder,
  decodeEntryBundle,
  encodeEntryBundle,
  entriesPath,
  frontierOf,
  partialTiles,
  readBundle,
  refPath,
  tileIndexPath,
  tileNodeSource,
  tilePath,
  tileWidth,
} from '../../../src/patterns/audit/tlog-tiles.js';
import type { TileFile } from '../../../src/patterns/audit/tlog-tiles.js';
import { ed25519CosignatureVerifier, ed25519Cosigner, ed25519NoteSigner, ed25519NoteVerifier, isNoteError } from '../../../src/patterns/audit/signed-note.js';
import { checkpointText, signCheckpoint } from '../../../src/patterns/audit/tlog-checkpoint.js';
import {
  formatAddCheckpoint,
  formatConsistencyProof,
  formatTlogProof,
  parseAddCheckpoint,
  parseTlogProof,
  verifyConsistencyProofText,
  verifyTlogProof,
} from '../../../src/patterns/audit/tlog-proof.js';
import { originHash, witnessAddCheckpoint } from '../../../src/patterns/audit/tlog-witness.js';
import type { WitnessState } from '../../../src/patterns/audit/tlog-witness.js';

const test = suite('tlog-tiles, tlog-proof and the witness (pure)');

const entry = (i: number): Buffer => createHash('sha256').update(`record ${i}`).digest();

function build(n: number): { files: Map<string, Buffer>; builder: TileBuilder; tree: MemoryMerkleTree } {
  const files = new Map<string, Buffer>();
  const builder = new TileBuilder();
  const tree = new MemoryMerkleTree();
  const put = (fs: TileFile[]): void => fs.forEach(f => files.set(f.path, f.data));
  for (let i = 0; i < n; i++) {
    put(builder.append(entry(i)));
    tree.append(entry(i));
  }
  put(builder.partials());
  return { files, builder, tree };
}

test('paths: 3-digit elements with x prefixes, partial suffixes (the specification\'s examples)', () => {
  assert.is(tileIndexPath(1234067), 'x001/x234/067');
  assert.is(tileIndexPath(0), '000');
  assert.is(tileIndexPath(1000), 'x001/000');
  assert.is(tilePath(0, 1234067), 'tile/0/x001/x234/067');
  assert.is(tilePath(2, 5, 17), 'tile/2/005.p/17');
  assert.is(entriesPath(3, 1), 'tile/entries/003.p/1');
  assert.throws(() => tilePath(64, 0), RangeError);
  assert.throws(() => tilePath(0, 0, 0), RangeError);
  // "A tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of width 112,
  // one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1."
  assert.is(tileWidth(0, 272, 70_000), 256);
  assert.is(tileWidth(0, 273, 70_000), 112);
  assert.is(tileWidth(1, 0, 70_000), 256);
  assert.is(tileWidth(1, 1, 70_000), 17);
  assert.is(tileWidth(2, 0, 70_000), 1);
  assert.equal(partialTiles(70_000).map(refPath), ['tile/0/273.p/112', 'tile/entries/273.p/112', 'tile/1/001.p/17', 'tile/2/000.p/1']);
  // "A tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1."
  assert.equal(partialTiles(256).map(refPath), ['tile/1/000.p/1']);
});

test('entry bundles: uint16 length prefixes, truncation refused', () => {
  const b = encodeEntryBundle([Buffer.from('ab'), Buffer.alloc(0), Buffer.from('xyz')]);
  assert.equal([...b], [0, 2, 97, 98, 0, 0, 0, 3, 120, 121, 122]);
  assert.equal(decodeEntryBundle(b).map(e => e.toString()), ['ab', '', 'xyz']);
  assert.throws(() => decodeEntryBundle(b.subarray(0, 9)), /ends inside/);
  assert.throws(() => encodeEntryBundle([Buffer.alloc(70_000)]), RangeError);
});

test('tiles written by the builder give back the roots and proofs of the whole tree, for random sizes (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1400 }), fc.nat(), fc.nat(), (n, a, b) => {
      const { files, builder, tree } = build(n);
      const read = (p: string) => files.get(p);
      const source = tileNodeSource(n, read);
      assert.ok(builder.root().equals(tree.root()));
      assert.ok(frontierOf(n, source).root().equals(tree.root()));
      const i = a % n;
      const proof = inclusionProof(i, n, source);
      assert.equal(proof, inclusionProof(i, n, tree.node));
      assert.ok(verifyInclusion(leafHash(entry(i)), i, n, proof, tree.root()));
      const m = 1 + (b % n);
      assert.equal(consistencyProof(m, n, source), consistencyProof(m, n, tree.node));
      assert.ok(readBundle(read, Math.floor(i / 256), Math.min(256, n - Math.floor(i / 256) * 256))[i % 256].equals(entry(i)));
      // Every file is a whole number of hashes, and full tiles are 8 KiB.
      for (const [path, data] of files) {
        if (!path.startsWith('tile/entries')) assert.ok(data.length % 32 === 0 && (path.includes('.p/') || data.length === 8192), path);
      }
    }),
    { numRuns: 40 },
  );
});

test('a builder restored from the published files continues the same tree', () => {
  for (const [n, more] of [[1, 5], [255, 2], [256, 300], [700, 66_000]] as const) {
    const { files } = build(n);
    const restored = TileBuilder.restore(n, p => files.get(p));
    const whole = new MemoryMerkleTree();
    for (let i = 0; i < n + more; i++) whole.append(entry(i));
    for (let i = n; i < n + more; i++) restored.append(entry(i));
    assert.is(restored.size, n + more);
    assert.ok(restored.root().equals(whole.root()), `restore at ${n}, +${more}`);
  }
  assert.throws(() => TileBuilder.restore(300, () => undefined), /missing/);
});

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isNoteError(err), String(err));
    return err.reason;
  }
  throw new Error('did not throw');
}

test('tlog-proof: format, parse, verify; a wrong entry, index or checkpoint is refused', () => {
  const log = generateKeyPairSync('ed25519');
  const signer = ed25519NoteSigner('example.com/audit', log.privateKey);
  const logKeys = [ed25519NoteVerifier('example.com/audit', log.publicKey)];
  const { tree } = build(37);
  const note = signCheckpoint({ origin: 'example.com/audit', size: 37, root: tree.root() }, [signer]);
  const text = formatTlogProof({ index: 12, proof: inclusionProof(12, 37, tree.node), checkpoint: note, extra: Buffer.from('{"seq":12}') });
  assert.ok(text.startsWith('c2sp.org/tlog-proof@v1\nextra eyJzZXEiOjEyfQ==\nindex 12\n'));
  assert.ok(text.endsWith(`\n\n${note}`));
  const parsed = parseTlogProof(text);
  assert.is(parsed.index, 12);
  assert.is(parsed.extra!.toString(), '{"seq":12}');
  assert.is(parsed.checkpoint, note);
  assert.is(verifyTlogProof(text, { logKeys, entry: entry(12) }).index, 12);
  assert.is(reason(() => verifyTlogProof(text, { logKeys, entry: entry(13) })), 'unverified');
  assert.is(reason(() => verifyTlogProof(text.replace('index 12', 'index 13'), { logKeys, entry: entry(12) })), 'unverified');
  assert.is(reason(() => verifyTlogProof(text.replace('\n37\n', '\n38\n'), { logKeys, entry: entry(12) })), 'bad-signature');
  assert.is(reason(() => parseTlogProof(text.replace('index 12', 'index 012'))), 'malformed');
  assert.is(reason(() => parseTlogProof('c2sp.org/tlog-proof@v2\nindex 0\n\n' + note)), 'malformed');
});

test('consistency proof between two checkpoints: verifies, and a fork does not', () => {
  const log = generateKeyPairSync('ed25519');
  const signer = ed25519NoteSigner('example.com/audit', log.privateKey);
  const logKeys = [ed25519NoteVerifier('example.com/audit', log.publicKey)];
  const { tree } = build(300);
  const older = signCheckpoint({ origin: 'example.com/audit', size: 100, root: tree.root(100) }, [signer]);
  const newer = signCheckpoint({ origin: 'example.com/audit', size: 300, root: tree.root() }, [signer]);
  const text = formatConsistencyProof({ proof: consistencyProof(100, 300, tree.node), older, newer });
  const r = verifyConsistencyProofText(text, { logKeys });
  assert.is(r.older.size, 100);
  assert.is(r.newer.size, 300);
  const fork = new MemoryMerkleTree();
  for (let i = 0; i < 300; i++) fork.append(i === 50 ? Buffer.from('rewritten') : entry(i));
  const forked = signCheckpoint({ origin: 'example.com/audit', size: 300, root: fork.root() }, [signer]);
  assert.is(reason(() => verifyConsistencyProofText(formatConsistencyProof({ proof: consistencyProof(100, 300, fork.node), older, newer: forked }), { logKeys })), 'unverified');
});

test('witness decisions follow tlog-witness: 200 cosigns and moves the size; 400, 403, 404, 409, 422 refuse', () => {
  const log = generateKeyPairSync('ed25519');
  const w = generateKeyPairSync('ed25519');
  const origin = 'example.com/audit';
  const signer = ed25519NoteSigner(origin, log.privateKey);
  const logs = new Map([[origin, [ed25519NoteVerifier(origin, log.publicKey)]]]);
  const cosigner = ed25519Cosigner('witness.example/w', w.privateKey);
  const { tree } = build(50);
  const note = (size: number, t = tree) => signCheckpoint({ origin, size, root: t.root(size) }, [signer]);
  let state: WitnessState = { logs: {} };
  const ask = (oldSize: number, size: number, proof = consistencyProof(oldSize, size, tree.node), n = note(size)) =>
    witnessAddCheckpoint({ body: formatAddCheckpoint({ oldSize, proof, checkpoint: n }), state, logs, cosigner, nowSeconds: 1_700_000_000 });

  const first = ask(0, 10);
  assert.is(first.status, 200);
  assert.ok(ed25519CosignatureVerifier('witness.example/w', w.publicKey).verify(checkpointText({ origin, size: 10, root: tree.root(10) }), Buffer.from(first.body.trim().split(' ')[2], 'base64').subarray(4)));
  state = first.state!;
  assert.is(state.logs[origin].size, 10);

  const stale = ask(0, 20, []);
  assert.is(stale.status, 409);
  assert.is(stale.body, '10\n');
  assert.is(stale.contentType, 'text/x.tlog.size');
  assert.is(ask(10, 20).status, 200);
  // A fork: the same log key signs another history of 20; the proof from 10 cannot verify.
  const fork = new MemoryMerkleTree();
  for (let i = 0; i < 50; i++) fork.append(i === 3 ? Buffer.from('rewritten') : entry(i));
  assert.is(ask(10, 20, consistencyProof(10, 20, fork.node), note(20, fork)).status, 422);
  assert.is(ask(10, 10, [], note(10, fork)).status, 422);
  assert.is(ask(20, 10, []).status, 400);
  assert.is(ask(0, 0, [EMPTY()], note(0)).status, 409);
  const unknown = signCheckpoint({ origin: 'other.example', size: 10, root: tree.root(10) }, [ed25519NoteSigner('other.example', log.privateKey)]);
  assert.is(witnessAddCheckpoint({ body: formatAddCheckpoint({ oldSize: 10, proof: [], checkpoint: unknown }), state, logs, cosigner, nowSeconds: 1 }).status, 404);
  const wrongKey = signCheckpoint({ origin, size: 20, root: tree.root(20) }, [ed25519NoteSigner(origin, w.privateKey)]);
  assert.is(ask(10, 20, consistencyProof(10, 20, tree.node), wrongKey).status, 403);
  assert.is(witnessAddCheckpoint({ body: 'garbage', state, logs, cosigner, nowSeconds: 1 }).status, 400);
  assert.is(originHash('example.com/behind-the-sofa').length, 64);
  assert.equal(parseAddCheckpoint(formatAddCheckpoint({ oldSize: 3, proof: [entry(1)], checkpoint: note(3) })).oldSize, 3);
});

function EMPTY(): Buffer {
  return createHash('sha256').digest();
}

test.run();
