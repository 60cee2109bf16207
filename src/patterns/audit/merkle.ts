/**
 * The RFC 6962 (RFC 9162 §2.1) Merkle tree over the audit log's records:
 * leaf and node hashing, an incremental frontier (O(log n) memory, O(1)
 * amortised and O(log n) worst-case hashing per leaf), tree roots, and
 * inclusion and consistency proofs with their verification. Pure: no
 * OpenTelemetry, no I/O, no clock.
 *
 * ```text
 * leaf hash = SHA-256(0x00 ‖ entry)
 * node hash = SHA-256(0x01 ‖ left ‖ right)
 * empty tree = SHA-256("")
 * ```
 *
 * Sizes and indexes are JavaScript numbers: exact up to 2^53 leaves.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';

/** Bytes in a hash. */
export const HASH_SIZE = 32;

/** `crypto.hash()` (Node ≥ 20.12): a one-shot digest, cheaper than `createHash` for small inputs. */
const oneShot = (nodeCrypto as unknown as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash;
const oneShotString = (nodeCrypto as unknown as { hash?: (algorithm: string, data: Uint8Array, encoding: 'latin1') => string }).hash;

/** SHA-256 as a 32-character latin1 string. */
function sha256Latin1(data: Uint8Array): string {
  if (oneShotString !== undefined) return oneShotString('sha256', data, 'latin1');
  return createHash('sha256').update(data).digest().toString('latin1');
}

function sha256(data: Uint8Array): Buffer {
  if (oneShot !== undefined) return oneShot('sha256', data, 'buffer');
  return createHash('sha256').update(data).digest();
}

/** The root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

const leafScratch = Buffer.alloc(1 + HASH_SIZE);
const nodeScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeScratch[0] = 1;

/** `SHA-256(0x00 ‖ entry)`. */
export function leafHash(entry: Uint8Array): Buffer {
  if (entry.length === HASH_SIZE) {
    leafScratch.set(entry, 1);
    return sha256(leafScratch);
  }
  const buf = Buffer.allocUnsafe(1 + entry.length);
  buf[0] = 0;
  buf.set(entry, 1);
  return sha256(buf);
}

/**
 * The leaf hash of an audit record: its entry is the 32 bytes of its chain
 * hash (given as 64 hex digits), so the tree commits to every record's
 * chained bytes without hashing them a second time.
 */
export function leafHashOfHex(hexHash: string): Buffer {
  if (!decodeHex32(hexHash, leafScratch, 1)) {
    throw new TypeError(`leafHashOfHex: not a 64-digit hex hash: ${JSON.stringify(hexHash.slice(0, 80))}`);
  }
  return sha256(leafScratch);
}

/** `SHA-256(0x01 ‖ left ‖ right)`. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_SIZE);
  return sha256(nodeScratch);
}

/** True when the two hashes are equal (both 32 bytes). */
export function sameHash(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined || a.length !== HASH_SIZE || b.length !== HASH_SIZE) return false;
  for (let i = 0; i < HASH_SIZE; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A tree size or index: a non-negative safe integer. */
function isIndex(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** The serialisable state of a {@link MerkleFrontier}. */
export interface MerkleFrontierState {
  /** Leaves so far. */
  readonly size: number;
  /** Base64 hashes of the perfect subtrees that make up the tree, largest (leftmost) first: one per set bit of `size`. */
  readonly peaks: readonly string[];
}

/** Hex digit values by character code (0–255); -1 for a non-digit. */
const HEX_VALUE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x61 + i] = 10 + i;
  HEX_VALUE[0x41 + i] = 10 + i;
}

/**
 * Decodes 64 hex digits into `buf[offset, offset + 32)`; false (with the
 * bytes undefined) when `hex` is not 64 hex digits. A loop in JavaScript:
 * for 32 bytes it costs half of `Buffer#write(…, 'hex')`, a native call.
 */
function decodeHex32(hex: string, buf: Uint8Array, offset: number): boolean {
  if (hex.length !== 2 * HASH_SIZE) return false;
  let bad = 0;
  let codes = 0;
  for (let i = 0; i < HASH_SIZE; i++) {
    const a = hex.charCodeAt(2 * i);
    const b = hex.charCodeAt(2 * i + 1);
    const hi = HEX_VALUE[a & 0xff];
    const lo = HEX_VALUE[b & 0xff];
    codes |= a | b;
    bad |= hi | lo;
    buf[offset + i] = (hi << 4) | lo;
  }
  return bad >= 0 && codes < 0x100;
}

/** Copies a 32-character latin1 string (a digest) into `buf[offset, offset + 32)`. */
function copyLatin1Hash(s: string, buf: Uint8Array, offset: number): void {
  for (let i = 0; i < HASH_SIZE; i++) buf[offset + i] = s.charCodeAt(i);
}

/** Bytes of one frontier slot: `0x01 ‖ peak ‖ scratch for the right child`. */
const SLOT = 1 + 2 * HASH_SIZE;
/** Slots a frontier may need: one per bit of a safe integer. */
const MAX_PEAKS = 53;

/**
 * The right edge of a Merkle tree: the roots of the perfect subtrees its
 * leaves make (one per set bit of the size). Enough to append leaves and
 * to compute the root; not enough to make proofs (for those, keep the
 * hashes: tiles, or a {@link MemoryMerkleTree}).
 *
 * This is the per-record path, so it is built around the cost of a native
 * call (on Node 20, a one-shot SHA-256 of 65 bytes is mostly call
 * overhead): each peak lives, as bytes, in its own slot `0x01 ‖ peak ‖ _`,
 * so merging a new right child writes it once into the slot and hashes
 * the slot in place; digests come back as latin1 strings (a third of the
 * cost of a new Buffer) and are copied into slots by a JavaScript loop,
 * as is the hex of a record's chain hash. Nothing is allocated per leaf
 * but the digest strings.
 */
export class MerkleFrontier {
  private _size = 0;
  /** Peaks in use, largest (leftmost) first: slot i holds peak i. */
  private _count = 0;
  /** The slots, allocated as the tree grows (`_slab` is their backing store). */
  private _slab: Buffer = Buffer.alloc(0);
  private readonly _slots: Buffer[] = [];

  /** Leaves so far. */
  get size(): number {
    return this._size;
  }

  /** Appends a leaf given by its leaf hash (see {@link leafHash}). */
  appendLeafHash(hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) throw new TypeError(`a leaf hash has 32 bytes, got ${hash.length}`);
    this._push(Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('latin1'));
  }

  /** Appends a leaf whose entry is the 32 bytes of `hexHash` (an audit record's chain hash): see {@link leafHashOfHex}. */
  appendHexEntry(hexHash: string): void {
    if (!decodeHex32(hexHash, leafScratch, 1)) {
      throw new TypeError(`not a 64-digit hex hash: ${JSON.stringify(String(hexHash).slice(0, 80))}`);
    }
    this._push(sha256Latin1(leafScratch));
  }

  private _push(leaf: string): void {
    let h = leaf;
    let n = this._count;
    // Each trailing set bit of the old size closes a perfect subtree.
    for (let s = this._size; s % 2 === 1; s = (s - 1) / 2) {
      const slot = this._slots[--n];
      copyLatin1Hash(h, slot, 1 + HASH_SIZE);
      h = sha256Latin1(slot);
    }
    if (n === this._slots.length) this._grow();
    copyLatin1Hash(h, this._slots[n], 1);
    this._count = n + 1;
    this._size++;
  }

  /** One more slot (the slab doubles, up to {@link MAX_PEAKS} slots). */
  private _grow(): void {
    const have = this._slots.length;
    if (have >= MAX_PEAKS) throw new RangeError('MerkleFrontier: the tree is at its largest safe size');
    const slots = Math.min(MAX_PEAKS, Math.max(8, 2 * have));
    const slab = Buffer.alloc(slots * SLOT);
    this._slab.copy(slab);
    this._slab = slab;
    this._slots.length = 0;
    for (let i = 0; i < slots; i++) {
      slab[i * SLOT] = 1;
      this._slots.push(slab.subarray(i * SLOT, (i + 1) * SLOT));
    }
  }

  /** Peak i (0: the leftmost) as a copy. */
  private _peak(i: number): Buffer {
    return Buffer.from(this._slots[i].subarray(1, 1 + HASH_SIZE));
  }

  /** Appends a leaf given by its entry bytes. */
  append(entry: Uint8Array): void {
    this.appendLeafHash(leafHash(entry));
  }

  /** The tree's root hash (the empty tree's for size 0). */
  root(): Buffer {
    const n = this._count;
    if (n === 0) return EMPTY_ROOT;
    let r: Buffer = this._peak(n - 1);
    for (let i = n - 2; i >= 0; i--) r = nodeHash(this._slots[i].subarray(1, 1 + HASH_SIZE), r);
    return r;
  }

  /** The state to persist ({@link MerkleFrontier.fromState} continues it). */
  state(): MerkleFrontierState {
    const peaks: string[] = [];
    for (let i = 0; i < this._count; i++) peaks.push(this._peak(i).toString('base64'));
    return { size: this._size, peaks };
  }

  /** A frontier continuing `state`; throws TypeError when it is malformed. */
  static fromState(state: MerkleFrontierState): MerkleFrontier {
    if (!state || !isIndex(state.size) || !Array.isArray(state.peaks)) {
      throw new TypeError('MerkleFrontier.fromState: state must be { size: non-negative integer, peaks: base64[] }');
    }
    if (state.peaks.length !== popCount(state.size)) {
      throw new TypeError(`MerkleFrontier.fromState: size ${state.size} needs ${popCount(state.size)} peaks, got ${state.peaks.length}`);
    }
    const f = new MerkleFrontier();
    for (const p of state.peaks) {
      const b = typeof p === 'string' ? Buffer.from(p, 'base64') : undefined;
      if (b === undefined || b.length !== HASH_SIZE || b.toString('base64') !== p) {
        throw new TypeError('MerkleFrontier.fromState: a peak is not a base64 32-byte hash');
      }
      if (f._count === f._slots.length) f._grow();
      f._slots[f._count++].set(b, 1);
    }
    f._size = state.size;
    return f;
  }

  /** A copy that can grow independently. */
  clone(): MerkleFrontier {
    const f = new MerkleFrontier();
    while (f._slots.length < this._count) f._grow();
    for (let i = 0; i < this._count; i++) f._slots[i].set(this._slots[i].subarray(1, 1 + HASH_SIZE), 1);
    f._count = this._count;
    f._size = this._size;
    return f;
  }
}

/** Number of set bits of a safe integer. */
export function popCount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}

/** The root over leaf hashes, in order (O(n) time, O(log n) memory). */
export function rootOfLeafHashes(hashes: Iterable<Uint8Array>): Buffer {
  const f = new MerkleFrontier();
  for (const h of hashes) f.appendLeafHash(h);
  return f.root();
}

/**
 * The hash of a perfect, aligned subtree: leaves `[index·2^level,
 * (index+1)·2^level)`. Level 0 gives leaf hashes. Proofs are built from
 * these; a source may read them from tiles, memory or anywhere else.
 */
export type NodeSource = (level: number, index: number) => Buffer;

/** The largest power of two strictly below `n` (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log2 of `n` when it is a power of two, else -1. */
function exactLog2(n: number): number {
  let level = 0;
  let x = n;
  while (x > 1) {
    if (x % 2 === 1) return -1;
    x /= 2;
    level++;
  }
  return x === 1 ? level : -1;
}

/** MTH(D[lo:hi]) from perfect aligned subtrees of `source` (hi > lo). */
export function rangeHash(source: NodeSource, lo: number, hi: number): Buffer {
  const n = hi - lo;
  const level = exactLog2(n);
  if (level >= 0 && lo % n === 0) return source(level, lo / n);
  const k = splitPoint(n);
  return nodeHash(rangeHash(source, lo, lo + k), rangeHash(source, lo + k, hi));
}

function checkSize(what: string, n: number): void {
  if (!isIndex(n)) throw new RangeError(`${what} must be a non-negative safe integer, got ${String(n)}`);
}

/**
 * The inclusion proof (RFC 6962 §2.1.1 audit path) of leaf `index` in the
 * tree of `size` leaves: sibling hashes from the leaf up to the root's child.
 */
export function inclusionProof(index: number, size: number, source: NodeSource): Buffer[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new RangeError(`inclusionProof: index ${index} is not below size ${size}`);
  const out: Buffer[] = [];
  const path = (m: number, lo: number, hi: number): void => {
    const n = hi - lo;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, lo, lo + k);
      out.push(rangeHash(source, lo + k, hi));
    } else {
      path(m - k, lo + k, hi);
      out.push(rangeHash(source, lo, lo + k));
    }
  };
  path(index, 0, size);
  return out;
}

/**
 * The consistency proof (RFC 6962 §2.1.2) between the trees of `oldSize`
 * and `newSize` leaves. Empty when the sizes are equal or `oldSize` is 0.
 */
export function consistencyProof(oldSize: number, newSize: number, source: NodeSource): Buffer[] {
  checkSize('oldSize', oldSize);
  checkSize('newSize', newSize);
  if (oldSize > newSize) throw new RangeError(`consistencyProof: old size ${oldSize} is above new size ${newSize}`);
  if (oldSize === 0 || oldSize === newSize) return [];
  const out: Buffer[] = [];
  const sub = (m: number, lo: number, hi: number, whole: boolean): void => {
    const n = hi - lo;
    if (m === n) {
      if (!whole) out.push(rangeHash(source, lo, hi));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, lo, lo + k, whole);
      out.push(rangeHash(source, lo + k, hi));
    } else {
      sub(m - k, lo + k, hi, false);
      out.push(rangeHash(source, lo, lo + k));
    }
  };
  sub(oldSize, 0, newSize, true);
  return out;
}

/**
 * Checks an inclusion proof (RFC 9162 §2.1.3.2): true when `leaf` (a leaf
 * hash) is leaf `index` of the tree of `size` leaves whose root is `root`.
 */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isIndex(index) || !isIndex(size) || index >= size || leaf.length !== HASH_SIZE) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0 || p.length !== HASH_SIZE) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameHash(r, root);
}

/**
 * Checks a consistency proof (RFC 9162 §2.1.4.2): true when the tree of
 * `oldSize` leaves with root `oldRoot` is a prefix of the tree of
 * `newSize` leaves with root `newRoot`. An old size of 0 proves nothing
 * and is refused (the witness protocol treats it apart).
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isIndex(oldSize) || !isIndex(newSize) || oldSize === 0 || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && Buffer.from(oldRoot).equals(newRoot);
  if (proof.length === 0) return false;
  const path: Uint8Array[] = exactLog2(oldSize) >= 0 ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  if (path[0].length !== HASH_SIZE) return false;
  let fr: Uint8Array = path[0];
  let sr: Uint8Array = path[0];
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0 || c.length !== HASH_SIZE) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameHash(fr, oldRoot) && sameHash(sr, newRoot);
}

/**
 * A whole tree in memory: every level's hashes. For tests, small logs and
 * building proofs in process; a {@link NodeSource} through `node`.
 */
export class MemoryMerkleTree {
  /** levels[l][i]: the hash of the perfect subtree at level l, index i. */
  private readonly _levels: Buffer[][] = [[]];

  get size(): number {
    return this._levels[0].length;
  }

  appendLeafHash(hash: Uint8Array): void {
    let h: Buffer = Buffer.isBuffer(hash) ? hash : Buffer.from(hash);
    let level = 0;
    for (;;) {
      const row = this._levels[level];
      row.push(h);
      if (row.length % 2 === 1) return;
      h = nodeHash(row[row.length - 2], h);
      level++;
      if (this._levels.length === level) this._levels.push([]);
    }
  }

  append(entry: Uint8Array): void {
    this.appendLeafHash(leafHash(entry));
  }

  /** A {@link NodeSource} over the hashes kept. */
  readonly node: NodeSource = (level, index) => {
    const h = this._levels[level]?.[index];
    if (h === undefined) throw new RangeError(`no node at level ${level} index ${index}`);
    return h;
  };

  /** The root of the first `size` leaves (default: all). */
  root(size = this.size): Buffer {
    checkSize('size', size);
    if (size > this.size) throw new RangeError(`root: size ${size} is above the tree's ${this.size}`);
    return size === 0 ? EMPTY_ROOT : rangeHash(this.node, 0, size);
  }
}
