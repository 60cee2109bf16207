/**
 * C2SP tiled transparency logs (c2sp.org/tlog-tiles): the static files
 * that publish a log — `checkpoint`, `tile/<L>/<N>[.p/<W>]` (256 hashes of
 * one tree level each) and `tile/entries/<N>[.p/<W>]` (the entries, each
 * prefixed by its big-endian uint16 length). Paths, widths, a builder that
 * turns appended entries into tiles, and a {@link NodeSource} that reads
 * hashes back from tiles. Pure: reading and writing is done by the caller
 * through the functions it passes in.
 *
 * @module
 */
import { HASH_SIZE, MerkleFrontier, leafHash, nodeHash } from './merkle.js';
import type { NodeSource } from './merkle.js';

/** Hashes (or entries) in a full tile. */
export const TILE_WIDTH = 256;
/** Tree levels a tile spans. */
export const TILE_HEIGHT = 8;

/** `N` of a tile path: zero-padded 3-digit elements, all but the last prefixed with `x` (1234067 → `x001/x234/067`). */
export function tileIndexPath(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`tile index must be a non-negative integer, got ${index}`);
  const parts: string[] = [];
  let n = index;
  do {
    parts.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return parts.map((p, i) => (i < parts.length - 1 ? `x${p}` : p)).join('/');
}

/** `tile/<L>/<N>` or, for a partial tile of `width` < 256 hashes, `tile/<L>/<N>.p/<W>`. */
export function tilePath(level: number, index: number, width = TILE_WIDTH): string {
  if (!Number.isInteger(level) || level < 0 || level > 63) throw new RangeError(`tile level must be 0..63, got ${level}`);
  return `tile/${level}/${tileIndexPath(index)}${partialSuffix(width)}`;
}

/** `tile/entries/<N>` or `tile/entries/<N>.p/<W>`. */
export function entriesPath(index: number, width = TILE_WIDTH): string {
  return `tile/entries/${tileIndexPath(index)}${partialSuffix(width)}`;
}

function partialSuffix(width: number): string {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new RangeError(`tile width must be 1..256, got ${width}`);
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** 256^level as a number (exact for the levels a 2^53 tree has). */
function span(level: number): number {
  return TILE_WIDTH ** level;
}

/** Hashes in tile `index` of `level` for a tree of `size` leaves (0 when the tile does not exist yet, 256 when full). */
export function tileWidth(level: number, index: number, size: number): number {
  const count = Math.floor(size / span(level)); // hashes at this tile level
  return Math.max(0, Math.min(TILE_WIDTH, count - index * TILE_WIDTH));
}

/** One tile (or entry bundle) a tree of some size is published as. */
export interface TileRef {
  /** Tile level, or -1 for an entry bundle. */
  readonly level: number;
  readonly index: number;
  readonly width: number;
}

/** The partial tiles (and the partial entry bundle) of a tree of `size` leaves, each level's rightmost. */
export function partialTiles(size: number): TileRef[] {
  const out: TileRef[] = [];
  for (let level = 0; span(level) <= size; level++) {
    const w = Math.floor(size / span(level)) % TILE_WIDTH;
    if (w > 0) {
      const index = Math.floor(size / span(level + 1));
      out.push({ level, index, width: w });
      if (level === 0) out.push({ level: -1, index, width: w });
    }
  }
  return out;
}

/** The path of a {@link TileRef}. */
export function refPath(ref: TileRef): string {
  return ref.level < 0 ? entriesPath(ref.index, ref.width) : tilePath(ref.level, ref.index, ref.width);
}

/** Encodes entries as a bundle: each prefixed by its big-endian uint16 length. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const e of entries) {
    if (e.length > 0xffff) throw new RangeError(`an entry bundle holds entries up to 65535 bytes, got ${e.length}`);
    total += 2 + e.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const e of entries) {
    out.writeUInt16BE(e.length, at);
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/** Decodes an entry bundle; throws RangeError when it is truncated. */
export function decodeEntryBundle(bundle: Uint8Array): Buffer[] {
  const b = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  const out: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    if (at + 2 > b.length) throw new RangeError('entry bundle ends inside a length prefix');
    const n = b.readUInt16BE(at);
    if (at + 2 + n > b.length) throw new RangeError('entry bundle ends inside an entry');
    out.push(b.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  return out;
}

/** The hashes of a tile, 32 bytes each. */
export function tileHashes(tile: Uint8Array): Buffer[] {
  if (tile.length % HASH_SIZE !== 0) throw new RangeError(`a tile is a whole number of 32-byte hashes, got ${tile.length} bytes`);
  const b = Buffer.from(tile.buffer, tile.byteOffset, tile.byteLength);
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += HASH_SIZE) out.push(b.subarray(at, at + HASH_SIZE));
  return out;
}

/** The root of a full tile's 256 hashes: the perfect subtree of height 8 they are the bottom of. */
function tileRoot(hashes: readonly Buffer[]): Buffer {
  let row = hashes;
  while (row.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i], row[i + 1]));
    row = next;
  }
  return row[0];
}

/** A file to write: a tile or an entry bundle, at its tlog-tiles path. */
export interface TileFile {
  readonly path: string;
  readonly data: Buffer;
}

/** Reads a file of the log by its tlog-tiles path; undefined when it does not exist. */
export type TileRead = (path: string) => Buffer | undefined;

/**
 * Turns appended entries into tiles. Keeps the rightmost (incomplete) tile
 * of each level and the current entry bundle: at most 256 hashes per level.
 * `append` returns the full tiles an entry completes; `partials()` the
 * partial tiles to publish with a checkpoint of the current size.
 */
export class TileBuilder {
  private _size = 0;
  /** The incomplete tile of each level. */
  private readonly _levels: Buffer[][] = [[]];
  private _entries: Buffer[] = [];
  private _frontier = new MerkleFrontier();

  get size(): number {
    return this._size;
  }

  /** The root of the tree so far. */
  root(): Buffer {
    return this._frontier.root();
  }

  /** Appends one entry (≤ 65535 bytes); returns the full tiles and bundle it completed. */
  append(entry: Uint8Array): TileFile[] {
    if (entry.length > 0xffff) throw new RangeError(`a log entry is at most 65535 bytes, got ${entry.length}`);
    const leaf = leafHash(entry);
    this._frontier.appendLeafHash(leaf);
    const out: TileFile[] = [];
    const index = Math.floor(this._size / TILE_WIDTH);
    this._entries.push(Buffer.from(entry));
    if (this._entries.length === TILE_WIDTH) {
      out.push({ path: entriesPath(index), data: encodeEntryBundle(this._entries) });
      this._entries = [];
    }
    let h = leaf;
    for (let level = 0; ; level++) {
      if (this._levels.length === level) this._levels.push([]);
      const row = this._levels[level];
      row.push(h);
      if (row.length < TILE_WIDTH) break;
      const tileIndex = Math.floor(this._size / span(level + 1));
      out.push({ path: tilePath(level, tileIndex), data: Buffer.concat(row) });
      h = tileRoot(row);
      this._levels[level] = [];
    }
    this._size++;
    return out;
  }

  /** The partial tiles and entry bundle of the current size (none when every tile is full). */
  partials(): TileFile[] {
    const out: TileFile[] = [];
    for (const ref of partialTiles(this._size)) {
      const data = ref.level < 0 ? encodeEntryBundle(this._entries) : Buffer.concat(this._levels[ref.level]);
      out.push({ path: refPath(ref), data });
    }
    return out;
  }

  /**
   * A builder continuing a published tree of `size` leaves, from its files:
   * the rightmost tile of each level and the last entry bundle. Throws
   * RangeError when a file is missing or has the wrong length.
   */
  static restore(size: number, read: TileRead): TileBuilder {
    const b = new TileBuilder();
    if (size === 0) return b;
    const source = tileNodeSource(size, read);
    for (const ref of partialTiles(size)) {
      if (ref.level < 0) {
        b._entries = readBundle(read, ref.index, ref.width).map(e => Buffer.from(e));
        continue;
      }
      while (b._levels.length <= ref.level) b._levels.push([]);
      b._levels[ref.level] = readTile(read, ref.level, ref.index, ref.width).map(h => Buffer.from(h));
    }
    while (b._levels.length < levelsOf(size)) b._levels.push([]);
    b._frontier = frontierOf(size, source);
    b._size = size;
    return b;
  }
}

function levelsOf(size: number): number {
  let l = 1;
  while (span(l) <= size) l++;
  return l;
}

/** Reads `width` hashes of tile (level, index): the partial tile, or the start of the full one. */
export function readTile(read: TileRead, level: number, index: number, width: number): Buffer[] {
  const full = read(tilePath(level, index));
  if (full !== undefined) {
    if (full.length !== TILE_WIDTH * HASH_SIZE) throw new RangeError(`${tilePath(level, index)}: a full tile has 8192 bytes, got ${full.length}`);
    return tileHashes(full).slice(0, width);
  }
  if (width < TILE_WIDTH) {
    const partial = read(tilePath(level, index, width));
    if (partial !== undefined) {
      if (partial.length !== width * HASH_SIZE) throw new RangeError(`${tilePath(level, index, width)}: expected ${width * HASH_SIZE} bytes, got ${partial.length}`);
      return tileHashes(partial);
    }
  }
  throw new RangeError(`missing tile ${tilePath(level, index, width)}`);
}

/** Reads `width` entries of bundle `index`: the partial bundle, or the start of the full one. */
export function readBundle(read: TileRead, index: number, width: number): Buffer[] {
  const full = read(entriesPath(index));
  if (full !== undefined) {
    const entries = decodeEntryBundle(full);
    if (entries.length !== TILE_WIDTH) throw new RangeError(`${entriesPath(index)}: a full bundle has 256 entries, got ${entries.length}`);
    return entries.slice(0, width);
  }
  if (width < TILE_WIDTH) {
    const partial = read(entriesPath(index, width));
    if (partial !== undefined) {
      const entries = decodeEntryBundle(partial);
      if (entries.length !== width) throw new RangeError(`${entriesPath(index, width)}: expected ${width} entries, got ${entries.length}`);
      return entries;
    }
  }
  throw new RangeError(`missing entry bundle ${entriesPath(index, width)}`);
}

/**
 * A {@link NodeSource} over the tiles of a tree of `size` leaves: the hash
 * of a perfect subtree is read from the tile of its level (levels 0, 8, 16…)
 * or hashed up from the tile below. Tiles read are cached.
 */
export function tileNodeSource(size: number, read: TileRead): NodeSource {
  const cache = new Map<string, Buffer[]>();
  const tile = (level: number, index: number): Buffer[] => {
    const key = `${level}/${index}`;
    let t = cache.get(key);
    if (t === undefined) {
      const width = tileWidth(level, index, size);
      if (width === 0) throw new RangeError(`tile ${level}/${index} is beyond a tree of ${size} leaves`);
      t = readTile(read, level, index, width);
      cache.set(key, t);
    }
    return t;
  };
  return (level, index) => {
    if ((index + 1) * 2 ** level > size) throw new RangeError(`node ${level}/${index} is beyond a tree of ${size} leaves`);
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const sub = level % TILE_HEIGHT;
    const first = index * 2 ** sub; // index of the first hash at the tile level
    const hashes = tile(tileLevel, Math.floor(first / TILE_WIDTH));
    let row = hashes.slice(first % TILE_WIDTH, (first % TILE_WIDTH) + 2 ** sub);
    while (row.length > 1) {
      const next: Buffer[] = [];
      for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i], row[i + 1]));
      row = next;
    }
    return row[0];
  };
}

/** The frontier of a tree of `size` leaves from a {@link NodeSource}: one perfect subtree per set bit. */
export function frontierOf(size: number, source: NodeSource): MerkleFrontier {
  const peaks: string[] = [];
  let lo = 0;
  for (let level = 52; level >= 0; level--) {
    const n = 2 ** level;
    if (size - lo >= n) {
      peaks.push(source(level, lo / n).toString('base64'));
      lo += n;
    }
  }
  return MerkleFrontier.fromState({ size, peaks });
}

/** Reads a file of the log asynchronously; undefined when it does not exist. */
export type TileReadAsync = (path: string) => Promise<Buffer | undefined>;

const NEED = Symbol('need tile');

/**
 * Runs `fn` (which builds proofs or roots from a {@link NodeSource}) over
 * the tiles of a tree of `size`, reading the files it needs asynchronously:
 * `fn` is run again each time it asks for a file not read yet (each file
 * is read once). For callers that must not block on I/O.
 */
export async function withTiles<T>(size: number, read: TileReadAsync, fn: (source: NodeSource, read: TileRead) => T): Promise<T> {
  const files = new Map<string, Buffer | undefined>();
  for (;;) {
    const missing = new Set<string>();
    const syncRead: TileRead = path => {
      if (files.has(path)) return files.get(path);
      missing.add(path);
      throw NEED;
    };
    try {
      return fn(tileNodeSource(size, syncRead), syncRead);
    } catch (err) {
      if (err !== NEED) throw err;
    }
    await Promise.all([...missing].map(async p => files.set(p, await read(p))));
  }
}
