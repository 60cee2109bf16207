/**
 * The verifier's fast path on bytes: checks canonical JSONL record lines
 * (seq > 0, not a checkpoint) straight from the read buffer, without
 * decoding them to strings or parsing them; anything else is flagged for the
 * slow path (parse + RFC 8785 + hash) on the main thread.
 *
 * {@link makeChunkScanner} is self-contained (it references nothing outside
 * its own body) so that its source text can run in a worker thread: the
 * verifier hashes chunks on both cores and keeps the link, gap and order
 * checks sequential on the main thread.
 *
 * @module
 */
import * as nodeCrypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { isUtf8 } from 'node:buffer';

/** Lines with a string (key or value) starting with this take the slow path: only seal and checkpoint spans have one in a body. */
const FAST_PATH_MARK = 'agent_safety.audit.';

/** The scan of a chunk of complete lines (each ending with `\n`). */
export interface ChunkScan {
  /** Lines in the chunk (the arrays below may be longer). */
  n: number;
  /** Per line: 0 verified by the fast path, 1 needs the slow path. */
  status: Uint8Array;
  /** Per line: its byte range in the chunk (newline excluded). */
  starts: Int32Array;
  ends: Int32Array;
  /** Per fast-path line: where its chain id ends (the chain id is `[start + 13, chainEnd)`, prev_hash `[chainEnd + 15, +64)`). */
  chainEnds: Int32Array;
  /** Per fast-path line: its seq. */
  seqs: Float64Array;
  /**
   * Per fast-path line: 1 when the line before it was a fast-path line of the
   * same chain with seq - 1 whose hash is this line's prev_hash (so the
   * reader can reuse that line's strings).
   */
  linked: Uint8Array;
  /** Lines accepted through a shape already walked (the rest of the fast-path lines were walked): for tests and profiles. */
  shaped: number;
}

/** Scans a chunk of complete lines. */
export type ChunkScanner = (chunk: Uint8Array) => ChunkScan;

/**
 * Makes a chunk scanner. Self-contained on purpose (see the module doc):
 * `crypto` is `node:crypto`, `isUtf8` is `node:buffer`'s, `key` the HMAC
 * key if any, `markName` a prefix (a line with a string, key or value,
 * starting with it takes the slow path: `agent_safety.audit.`, which only
 * seal and checkpoint spans have in a body: their name and attribute keys),
 * `maxDepth` the nesting the fast path accepts (the verifier's limit, at
 * most 64: deeper lines take the slow path, which reports them).
 *
 * A line is accepted here only when its body is canonical JSON (RFC 8785,
 * as the writer emits it: no whitespace, members in strictly increasing
 * order, so no duplicate; strings escaped exactly as `JSON.stringify`
 * escapes them, valid UTF-8; numbers in their shortest form) and hashes to
 * its stamp. Anything else, however harmless, goes to the slow path, which
 * parses strictly: the fast path never accepts what the slow path rejects.
 * The mark is looked for in the same walk, at the start of each string: in
 * canonical text a string's bytes are its characters (a letter, `.` or `_`
 * is never escaped), so a span named `agent_safety.audit.seal`, or carrying
 * a seal's attribute, cannot hide from it.
 */
export function makeChunkScanner(
  crypto: typeof nodeCrypto,
  isUtf8: (input: Uint8Array) => boolean,
  key: Buffer | KeyObject | undefined,
  markName: string,
  maxDepth = 64,
): ChunkScanner {
  const enc = (s: string): Buffer => Buffer.from(s, 'latin1');
  const PREFIX = enc('{"chain_id":"');
  const MID_PREV = enc('","prev_hash":"');
  const MID_SEQ = enc('","seq":');
  const SPAN = enc(',"span":{');
  const HASH_TAIL = enc(',"hash":"');
  const TAIL = 75; // ,"hash":"<64 hex>"}
  const MARK = enc(markName);
  // A string starting with MARK: its 4 bytes at PROBE_AT, read as one number, are compared
  // first (for `agent_safety.audit.` these are "dit.", where the package's other keys differ).
  const PROBE_AT = Math.max(0, MARK.length - 4);
  const PROBE = MARK.length >= 4 ? MARK.readUInt32BE(PROBE_AT) : -1;
  const oneShot = (crypto as unknown as { hash?: (a: string, d: Uint8Array, e: 'hex') => string }).hash;
  let scratch = new Uint8Array(16 * 1024);
  /** The 64 bytes before a line while they hold its prev_hash (see scanLine). */
  const saved = new Int32Array(16);
  let view: DataView;
  /** A string starting with MARK was seen in the line being checked. */
  let marked = false;

  const at = (buf: Buffer, pos: number, what: Buffer): boolean => {
    if (pos + what.length > buf.length) return false;
    for (let i = 0; i < what.length; i++) if (buf[pos + i] !== what[i]) return false;
    return true;
  };
  /**
   * Notes a string starting at `s` (past its opening quote) that starts with
   * MARK. No bound check for the probe: the line's tail (75 bytes) follows
   * every string of its body.
   */
  const checkMark = (buf: Buffer, s: number): void => {
    if ((PROBE < 0 || view.getUint32(s + PROBE_AT) === PROBE) && at(buf, s, MARK)) marked = true;
  };
  /** `n` bytes at `a` equal those at `b` (four at a time). */
  const same = (buf: Buffer, a: number, b: number, n: number): boolean => {
    let i = 0;
    for (; i + 4 <= n; i += 4) if (view.getUint32(a + i) !== view.getUint32(b + i)) return false;
    for (; i < n; i++) if (buf[a + i] !== buf[b + i]) return false;
    return true;
  };

  // ── canonical JSON, on bytes ──
  const DEPTH = Math.min(64, maxDepth);
  const keyStart = new Int32Array(DEPTH + 1);
  const keyEnd = new Int32Array(DEPTH + 1);
  const isObject = new Uint8Array(DEPTH + 1);
  /** The chunk being scanned is valid UTF-8 as a whole (else each line is checked). */
  let chunkUtf8 = true;
  // The scalar values (strings, numbers, literals) of the line being walked: pairs of [start, end).
  const MAX_HOLES = 1024;
  const holes = new Int32Array(2 * MAX_HOLES);
  /** Scalars seen in the walk; past MAX_HOLES the line is not kept as a shape. */
  let holeCount = 0;
  const hole = (from: number, to: number): void => {
    if (holeCount < MAX_HOLES) {
      holes[2 * holeCount] = from;
      holes[2 * holeCount + 1] = to;
    }
    holeCount++;
  };
  /**
   * Past a canonical string whose opening quote is at p - 1, or -1 (or past
   * `to`: the caller checks). No bound check in the loop: the line's tail
   * (`,"hash":"…"}`, checked before) holds a quote, so the scan stops by then.
   * Bytes of 128 and more are not looked at here: the chunk (or the line) is
   * checked to be UTF-8 as a whole.
   */
  const stringEnd = (buf: Buffer, p: number): number => {
    // four bytes at a time while none is below 35 (a quote, a control character, a space, '!')
    // or a backslash (exact tests: a borrow starts only at a byte below the bound)
    for (;;) {
      const x = view.getUint32(p, true);
      const y = x ^ 0x5c5c5c5c;
      if ((((x - 0x23232323) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) break;
      p += 4;
    }
    for (;;) {
      const b = buf[p];
      if (b >= 35 && b !== 92) {
        p++; // anything but a quote, a backslash, a control character, a space or '!': the common case in two comparisons
        continue;
      }
      if (b === 34) return p + 1;
      if (b < 32) return -1;
      if (b !== 92) {
        p++; // a space or '!'
        continue;
      }
      const e = buf[p + 1];
      p += 2;
      if (e === 34 || e === 92 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) continue;
      // \u00xx (lowercase) for a control character without a short escape: the only \u escape
      // JSON.stringify writes besides lone surrogates (those take the slow path)
      if (e !== 117 || buf[p] !== 48 || buf[p + 1] !== 48) return -1;
      const h = buf[p + 2];
      const l = buf[p + 3];
      const lv = l >= 48 && l <= 57 ? l - 48 : l >= 97 && l <= 102 ? l - 87 : -1;
      if ((h !== 48 && h !== 49) || lv < 0) return -1;
      const v = (h - 48) * 16 + lv;
      if (v === 8 || v === 9 || v === 10 || v === 12 || v === 13) return -1;
      p += 4;
    }
  };
  /** Past a number in its shortest form starting at p, or -1. */
  const numberEnd = (buf: Buffer, p: number, to: number): number => {
    const start = p;
    if (buf[p] === 45) p++;
    const digits = p;
    while (p < to && buf[p] >= 48 && buf[p] <= 57) p++;
    const n = p - digits;
    if (n === 0 || (buf[digits] === 48 && n > 1)) return -1; // no digit, or a leading zero
    const b = p < to ? buf[p] : 0;
    if (b !== 46 && b !== 101 && b !== 69 && b !== 43 && b !== 45) {
      // an integer: shortest unless -0; 16 digits or more may not be exact (the slow path tells)
      if (n > 15 || (n === 1 && buf[digits] === 48 && digits > start)) return -1;
      return p;
    }
    if (b === 46) {
      // a plain fraction of at most 15 significant digits, no trailing zero, and no more than
      // 5 zeros after "0.": exactly how JSON.stringify writes that double (no exponent)
      const f = ++p;
      while (p < to && buf[p] >= 48 && buf[p] <= 57) p++;
      const e = p < to ? buf[p] : 0;
      if (p > f && buf[p - 1] !== 48 && e !== 101 && e !== 69) {
        let lead = 0;
        if (n === 1 && buf[digits] === 48) while (buf[f + lead] === 48) lead++;
        const significant = n === 1 && buf[digits] === 48 ? p - f - lead : n + (p - f);
        if (significant <= 15 && lead <= 5) return p;
      }
    }
    // anything else (exponents, long fractions): compare with the shortest form itself
    while (p < to) {
      const c = buf[p];
      if ((c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45) p++;
      else break;
    }
    const text = buf.toString('latin1', start, p);
    return String(Number(text)) === text ? p : -1;
  };
  const SV = enc('"stringValue":"');
  const IV = enc('"intValue":"');
  /** Past `{"stringValue":"…"}` or `{"intValue":"…"}` at p (checked to start so), or -1 when it has more (the general path decides). */
  // their first 12 bytes as three numbers: most attribute values are compared in three reads
  const SV0 = SV.readUInt32BE(0), SV1 = SV.readUInt32BE(4), SV2 = SV.readUInt32BE(8);
  const IV0 = IV.readUInt32BE(0), IV1 = IV.readUInt32BE(4), IV2 = IV.readUInt32BE(8);
  const shortValue = (buf: Buffer, p: number, to: number): number => {
    const s = buf[p + 2] === 115;
    const name = s ? SV : IV;
    // no bound check for the reads: the line's tail follows
    if (view.getUint32(p + 1) !== (s ? SV0 : IV0) || view.getUint32(p + 5) !== (s ? SV1 : IV1) || view.getUint32(p + 9) !== (s ? SV2 : IV2)) return -1;
    for (let i = 12; i < name.length; i++) if (buf[p + 1 + i] !== name[i]) return -1;
    checkMark(buf, p + 1 + name.length);
    const q = stringEnd(buf, p + 1 + name.length);
    return q > 0 && q < to && buf[q] === 125 ? q + 1 : -1;
  };
  /**
   * buf[from, to) followed by a closing brace is one canonical JSON object.
   * Conservative: keys with escapes or non-ASCII characters, lone
   * surrogates, long integers and deep nesting say no (the slow path decides).
   */
  const canonicalBody = (buf: Buffer, from: number, to: number): boolean => {
    marked = false;
    holeCount = 0;
    let p = from;
    let d = 0;
    let wantValue = true;
    let short = -1;
    for (;;) {
      if (wantValue) {
        const c = p < to ? buf[p] : -1;
        const v = p;
        if (c === 34) {
          checkMark(buf, p + 1);
          p = stringEnd(buf, p + 1);
          if (p < 0 || p > to) return false;
        } else if (c === 123 && buf[p + 1] === 34 && (buf[p + 2] === 115 || buf[p + 2] === 105) && (short = shortValue(buf, p, to)) > 0) {
          // {"stringValue":"…"} or {"intValue":"…"}: one member, in one step (most attribute values);
          // the hole is the inner string (its opening quote ends the name)
          hole(v + (buf[p + 2] === 115 ? SV.length : IV.length), short - 1);
          p = short;
        } else if (c === 123 || c === 91) {
          if (d === DEPTH) return false;
          const close = c === 123 ? 125 : 93;
          if (buf[p + 1] === close && p + 1 < to) {
            p += 2;
          } else {
            d++;
            p++;
            isObject[d] = c === 123 ? 1 : 0;
            keyStart[d] = -1;
            if (c === 123) {
              wantValue = false; // a key first
              continue;
            }
            continue;
          }
        } else if ((c >= 48 && c <= 57) || c === 45) {
          p = numberEnd(buf, p, to);
          if (p < 0) return false;
        } else if (c === 116) {
          if (buf[p + 1] !== 114 || buf[p + 2] !== 117 || buf[p + 3] !== 101) return false;
          p += 4;
        } else if (c === 102) {
          if (buf[p + 1] !== 97 || buf[p + 2] !== 108 || buf[p + 3] !== 115 || buf[p + 4] !== 101) return false;
          p += 5;
        } else if (c === 110) {
          if (buf[p + 1] !== 117 || buf[p + 2] !== 108 || buf[p + 3] !== 108) return false;
          p += 4;
        } else {
          return false;
        }
        if (p > to) return false;
        if (c !== 123 && c !== 91) hole(v, p);
        // after a value: close containers (the top level closes at `to`), or go on
        for (;;) {
          const c2 = p < to ? buf[p] : p === to ? 125 : -1;
          if (c2 === 44) {
            p++;
            wantValue = isObject[d] === 0;
            break;
          }
          if (c2 === (isObject[d] === 1 ? 125 : 93)) {
            p++;
            d--;
            if (d === 0) return p === to + 1;
            continue;
          }
          return false;
        }
        continue;
      }
      // a member's key: plain ASCII (byte order is then UTF-16 order), after the one before it
      if (p >= to || buf[p] !== 34) return false;
      const ks = p + 1;
      checkMark(buf, ks);
      let q = ks; // [ks, q) is known to be plain key bytes
      const ps = keyStart[d];
      if (ps >= 0) {
        // Compared with the key before, raw bytes and closing quote included: where they first
        // differ decides (a closing quote there ends the shorter key, which sorts first); the
        // bytes before are the key before's, already checked.
        const pl = keyEnd[d] - ps;
        let i = 0;
        while (i + 4 <= pl + 1 && view.getUint32(ps + i) === view.getUint32(ks + i)) i += 4;
        while (i <= pl && buf[ps + i] === buf[ks + i]) i++;
        if (i > pl) return false; // the same key twice
        const before = buf[ps + i];
        const here = buf[ks + i];
        if (here === 34 || (before !== 34 && before > here)) return false; // not strictly after
        q = ks + i;
      }
      for (;;) {
        // no bound check: the line's tail holds a quote
        const b = buf[q];
        if (b >= 35 && b < 128 && b !== 92) {
          q++; // letters, digits, '.', '_': most of a key
          continue;
        }
        if (b === 34) break;
        if (b === 92 || b < 32 || b >= 128) return false;
        q++;
      }
      if (q >= to || buf[q + 1] !== 58) return false;
      keyStart[d] = ks;
      keyEnd[d] = q;
      p = q + 2;
      wantValue = true;
    }
  };

  // ── shapes: lines already walked, as text with holes where their scalars were ──
  // A line that is a shape's text with each hole filled by one canonical scalar (any string,
  // number or literal) and nothing else changed is canonical too: the same grammar, the same
  // members in the same order, the same depth. Its bytes outside the holes are compared four at
  // a time with the shape's, so only the scalars are walked byte by byte. Records of one writer
  // come in a few shapes (a tool call, its error, a rollback, …).
  interface Shape {
    text: Uint8Array;
    view: DataView;
    /** The body's length. */
    length: number;
    /** Pairs of [start, end) of its scalars, relative to the body's start. */
    holes: Int32Array;
    count: number;
    /** The shape that matched the line after the last one this one matched (-1: none). */
    next: number;
  }
  const SHAPES = 8;
  /** Bodies longer than this are not kept as shapes. */
  const MAX_SHAPE = 1 << 16;
  const shapes: Shape[] = [];
  /** Which shape replaces the next (round robin once full). */
  let victim = 0;
  /** The shape the line before matched or became (-1: none). */
  let lastShape = -1;
  /** Lines of the chunk being scanned accepted through a shape. */
  let shaped = 0;
  /** buf[from, to) is the shape's text with each hole filled by one canonical scalar. */
  const fits = (buf: Buffer, from: number, to: number, shape: Shape): boolean => {
    marked = false;
    const h = shape.holes;
    const sv = shape.view;
    const text = shape.text;
    const lv = view;
    const count = shape.count;
    let p = from;
    let t = 0;
    for (let i = 0; i <= count; i++) {
      const last = i === count;
      const hs = last ? shape.length : h[2 * i];
      const he = last ? hs : h[2 * i + 1];
      // the bytes up to this hole and the shape's scalar in it, compared in one run (four at a
      // time): a scalar with the same bytes is the same token (it ends where the shape's ended)
      const m = he - t;
      const n = m <= to - p ? m : to - p;
      let k = 0;
      // eight bytes at a time as doubles: equal doubles have equal bytes but for NaN (never equal:
      // the bytes are then compared one by one) and ±0, whose bytes (a zero byte) no shape has
      while (k + 8 <= n && lv.getFloat64(p + k) === sv.getFloat64(t + k)) k += 8;
      while (k + 4 <= n && lv.getUint32(p + k) === sv.getUint32(t + k)) k += 4;
      while (k < n && buf[p + k] === text[t + k]) k++;
      if (k === m) {
        p += m;
        t = he;
        if (last) return p === to;
        continue;
      }
      if (k < hs - t || last) return false; // the text around the scalars differs
      p += hs - t;
      t = he;
      const c = buf[p];
      if (c === 34) {
        checkMark(buf, p + 1);
        p = stringEnd(buf, p + 1);
        if (p < 0 || p > to) return false;
      } else if ((c >= 48 && c <= 57) || c === 45) {
        p = numberEnd(buf, p, to);
        if (p < 0) return false;
      } else if (c === 116) {
        if (p + 4 > to || buf[p + 1] !== 114 || buf[p + 2] !== 117 || buf[p + 3] !== 101) return false;
        p += 4;
      } else if (c === 102) {
        if (p + 5 > to || buf[p + 1] !== 97 || buf[p + 2] !== 108 || buf[p + 3] !== 115 || buf[p + 4] !== 101) return false;
        p += 5;
      } else if (c === 110) {
        if (p + 4 > to || buf[p + 1] !== 117 || buf[p + 2] !== 108 || buf[p + 3] !== 108) return false;
        p += 4;
      } else {
        return false;
      }
    }
    return false; // not reached: the last round returns
  };
  /** Keeps the line just walked (canonical, unmarked) as a shape; returns its index, or -1. */
  const keepShape = (buf: Buffer, from: number, to: number): number => {
    const length = to - from;
    if (holeCount > MAX_HOLES || length > MAX_SHAPE) return -1;
    let i: number;
    if (shapes.length < SHAPES) {
      i = shapes.length;
      const text = new Uint8Array(Math.max(length, 4096));
      shapes.push({ text, view: new DataView(text.buffer), length: 0, holes: new Int32Array(0), count: 0, next: -1 });
    } else {
      i = victim;
      victim = (victim + 1) % SHAPES;
      for (const other of shapes) if (other.next === i) other.next = -1;
    }
    const shape = shapes[i];
    if (shape.text.length < length) {
      shape.text = new Uint8Array(length);
      shape.view = new DataView(shape.text.buffer);
    }
    shape.text.set(buf.subarray(from, to));
    shape.length = length;
    if (shape.holes.length < 2 * holeCount) shape.holes = new Int32Array(2 * holeCount);
    for (let k = 0; k < 2 * holeCount; k++) shape.holes[k] = holes[k] - from;
    shape.count = holeCount;
    shape.next = -1;
    return i;
  };
  /**
   * buf[from, to) followed by a closing brace is one canonical JSON object
   * with no string starting with the mark: through a shape when one fits,
   * else walked (and kept as a shape).
   */
  const canonical = (buf: Buffer, from: number, to: number): boolean => {
    if (!chunkUtf8 && !isUtf8(buf.subarray(from, to))) return false;
    const before = lastShape;
    // the shape that followed the last one the line before matched, then the others
    const hint = before >= 0 ? shapes[before].next : -1;
    if (hint >= 0 && fits(buf, from, to, shapes[hint])) {
      lastShape = hint;
      if (!marked) shaped++;
      return !marked;
    }
    for (let i = 0; i < shapes.length; i++) {
      if (i === hint || !fits(buf, from, to, shapes[i])) continue;
      if (before >= 0) shapes[before].next = i;
      lastShape = i;
      if (!marked) shaped++;
      return !marked;
    }
    if (!canonicalBody(buf, from, to) || marked) {
      lastShape = -1;
      return false;
    }
    const kept = keepShape(buf, from, to);
    if (before >= 0 && kept >= 0 && before !== kept) shapes[before].next = kept;
    lastShape = kept;
    return true;
  };

  return (chunk: Uint8Array): ChunkScan => {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    chunkUtf8 = isUtf8(buf);
    shaped = 0;
    // at most one line per 2 bytes; records are far longer: start from an estimate and grow
    let count = 0;
    let capacity = Math.min(buf.length >> 1, (buf.length >> 8) + 16);
    const out: ChunkScan = {
      n: count,
      status: new Uint8Array(capacity),
      starts: new Int32Array(capacity),
      ends: new Int32Array(capacity),
      chainEnds: new Int32Array(capacity),
      seqs: new Float64Array(capacity),
      linked: new Uint8Array(capacity),
      shaped: 0,
    };
    let start = 0;
    for (let line = 0; ; line++) {
      const end = buf.indexOf(10, start);
      if (end < 0) break;
      if (line === capacity) {
        capacity *= 2;
        const grow = <T extends Uint8Array | Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
          const b = make(capacity);
          b.set(a);
          return b;
        };
        out.status = grow(out.status, k => new Uint8Array(k));
        out.starts = grow(out.starts, k => new Int32Array(k));
        out.ends = grow(out.ends, k => new Int32Array(k));
        out.chainEnds = grow(out.chainEnds, k => new Int32Array(k));
        out.seqs = grow(out.seqs, k => new Float64Array(k));
        out.linked = grow(out.linked, k => new Uint8Array(k));
      }
      count = line + 1;
      out.starts[line] = start;
      out.ends[line] = end;
      const ok = scanLine(buf, start, end, out, line);
      out.status[line] = ok ? 0 : 1;
      start = end + 1;
    }
    out.n = count;
    out.shaped = shaped;
    return out;
  };

  function scanLine(buf: Buffer, start: number, end: number, out: ChunkScan, line: number): boolean {
    if (end - start < 200 || buf[end - 1] !== 125 || buf[end - 2] !== 34) return false;
    const tail = end - TAIL;
    if (!at(buf, tail, HASH_TAIL) || !at(buf, start, PREFIX)) return false;
    // The chain id: the same bytes as the line before's (already checked) or checked here.
    let q = -1;
    const before = line > 0 && out.status[line - 1] === 0;
    if (before) {
      const ps = out.starts[line - 1];
      const len = out.chainEnds[line - 1] - ps;
      if (start + len < tail && buf[start + len] === 34 && same(buf, ps + PREFIX.length, start + PREFIX.length, len - PREFIX.length)) q = start + len;
    }
    const sameChain = q >= 0;
    if (!sameChain) {
      for (q = start + PREFIX.length; q < tail; q++) {
        const b = buf[q];
        if (b === 34) break;
        if (b === 92 || b >= 128 || b < 32) return false; // escapes and non-ASCII: slow path
      }
      if (q === start + PREFIX.length) return false;
    }
    if (!at(buf, q, MID_PREV)) return false;
    const prevStart = q + MID_PREV.length;
    const prevEnd = prevStart + 64;
    if (!at(buf, prevEnd, MID_SEQ)) return false;
    let p = prevEnd + MID_SEQ.length;
    if (buf[p] < 49 || buf[p] > 57) return false; // 1-9: seq > 0 (seq 0 carries resource, key id, previous)
    let seq = 0;
    for (; p < tail; p++) {
      const b = buf[p];
      if (b < 48 || b > 57) break;
      seq = seq * 10 + (b - 48);
    }
    if (!Number.isSafeInteger(seq) || !at(buf, p, SPAN)) return false;
    const bodyLen = tail - start;
    let digest: string;
    if (key !== undefined) {
      digest = crypto.createHmac('sha256', key).update(buf.subarray(prevStart, prevStart + 64)).update(buf.subarray(start, tail)).update('}').digest('hex');
    } else if (start >= 64 && oneShot !== undefined) {
      // In place, without copying the line: for the hash's time, the 64 bytes before the line (the
      // end of the line before, already scanned) hold prev_hash, and the tail's comma a closing
      // brace; both are put back before anything reads them.
      const at = start - 64;
      for (let i = 0; i < 16; i++) saved[i] = view.getInt32(at + 4 * i);
      buf.copyWithin(at, prevStart, prevStart + 64);
      buf[tail] = 125;
      digest = oneShot('sha256', new Uint8Array(buf.buffer, buf.byteOffset + at, 64 + bodyLen + 1), 'hex');
      buf[tail] = 44;
      for (let i = 0; i < 16; i++) view.setInt32(at + 4 * i, saved[i]);
    } else {
      const total = 64 + bodyLen + 1;
      if (scratch.length < total) scratch = new Uint8Array(Math.max(total, scratch.length * 2));
      scratch.set(buf.subarray(prevStart, prevStart + 64), 0);
      scratch.set(buf.subarray(start, tail), 64);
      scratch[64 + bodyLen] = 125;
      const data = new Uint8Array(scratch.buffer, 0, total);
      digest = oneShot !== undefined ? oneShot('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
    }
    const hashStart = tail + HASH_TAIL.length;
    for (let i = 0; i < 64; i++) if (digest.charCodeAt(i) !== buf[hashStart + i]) return false;
    if (!canonical(buf, start, tail)) return false;
    out.chainEnds[line] = q;
    out.seqs[line] = seq;
    // linked: same chain as the line before, seq + 1, prev_hash = its hash (all bytes compared)
    out.linked[line] = sameChain && out.seqs[line - 1] === seq - 1 && same(buf, prevStart, out.ends[line - 1] - 66, 64) ? 1 : 0;
    return true;
  }
}

/** A chunk scanner in this thread. */
export function localChunkScanner(key: Buffer | KeyObject | undefined, maxDepth = 64): ChunkScanner {
  return makeChunkScanner(nodeCrypto, isUtf8, key, FAST_PATH_MARK, maxDepth);
}

/** A chunk and its scan, back from a worker. */
export interface ScannedChunk {
  scan: ChunkScan;
  chunk: Buffer;
}

interface PoolWorker {
  worker: Worker;
  /** It has started and built its scanner. */
  ready: boolean;
  /** Chunks sent to it and not back yet. */
  load: number;
}

/**
 * Worker threads running {@link makeChunkScanner}; chunks are scanned in
 * parallel, results come back per chunk. A worker takes tens of
 * milliseconds to start: until one has, {@link ScanPool.busy} says so and
 * the caller scans on its own thread rather than wait.
 */
export class ScanPool {
  private readonly _workers: PoolWorker[] = [];
  private readonly _waiting = new Map<number, { resolve: (r: ScannedChunk) => void; reject: (e: unknown) => void }>();
  private _nextId = 0;
  private _failed: unknown;
  private _started = 0;
  private _sent = 0;
  private readonly _startup: Promise<void>;
  private _resolveStartup!: () => void;

  constructor(size: number, key: Buffer | KeyObject | undefined, maxDepth = 64) {
    let rejectStartup!: (e: unknown) => void;
    this._startup = new Promise<void>((resolve, reject) => {
      this._resolveStartup = resolve;
      rejectStartup = reject;
    });
    this._startup.catch(() => undefined); // observed by whenReady() callers only
    const source =
      `'use strict';\n` +
      `var __name = function (f) { return f; };\n` + // esbuild keepNames helper, when this source came through tsx
      `const { parentPort, workerData } = require('node:worker_threads');\n` +
      `const scan = (${makeChunkScanner.toString()})(require('node:crypto'), require('node:buffer').isUtf8, workerData.key, workerData.markName, workerData.maxDepth);\n` +
      `parentPort.on('message', (m) => {\n` +
      `  const r = scan(m.chunk);\n` +
      `  parentPort.postMessage({ id: m.id, r, chunk: m.chunk }, [r.status.buffer, r.starts.buffer, r.ends.buffer, r.chainEnds.buffer, r.seqs.buffer, r.linked.buffer, m.chunk.buffer]);\n` +
      `});\n` +
      `parentPort.postMessage({ ready: true });\n`;
    for (let i = 0; i < size; i++) {
      // execArgv: [] so that the source runs as a script even under --input-type=module
      const w: PoolWorker = { worker: new Worker(source, { eval: true, execArgv: [], workerData: { key, markName: FAST_PATH_MARK, maxDepth } }), ready: false, load: 0 };
      w.worker.on('message', (m: { ready?: true; id: number; r: ChunkScan; chunk: Uint8Array }) => {
        if (m.ready) {
          w.ready = true;
          this._started++;
          this._resolveStartup();
          return;
        }
        w.load--;
        const p = this._waiting.get(m.id);
        this._waiting.delete(m.id);
        p?.resolve({ scan: m.r, chunk: Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength) });
      });
      const fail = (err: unknown): void => {
        this._failed ??= err;
        rejectStartup(this._failed);
        for (const p of this._waiting.values()) p.reject(this._failed);
        this._waiting.clear();
      };
      w.worker.on('error', fail);
      w.worker.on('exit', code => {
        if (w.load > 0) fail(new Error(`an audit scan worker exited (code ${code}) with ${w.load} chunk(s) unscanned; --workers 0 (option workers: 0) verifies on one thread`));
      });
      this._workers.push(w);
    }
  }

  /** Resolves when a worker has started; rejects if the workers fail first. */
  whenReady(): Promise<void> {
    return this._startup;
  }

  /** Chunks sent to workers so far. */
  get dispatched(): number {
    return this._sent;
  }

  /**
   * Every started worker has at least `depth` chunks pending (or none has
   * started): a chunk scanned on the caller's thread now is done sooner.
   */
  busy(depth: number): boolean {
    if (this._started === 0 || this._failed !== undefined) return true;
    for (const w of this._workers) if (w.ready && w.load < depth) return false;
    return true;
  }

  /**
   * Scans a chunk on the started worker with the fewest chunks pending. With
   * `transfer` the chunk's memory moves to the worker and back (no copy; the
   * caller must not touch it meanwhile and uses the returned chunk);
   * otherwise it is copied.
   */
  scan(chunk: Buffer, transfer = false): Promise<ScannedChunk> {
    if (this._failed !== undefined) return Promise.reject(this._failed);
    let target: PoolWorker | undefined;
    for (const w of this._workers) if (w.ready && (target === undefined || w.load < target.load)) target = w;
    if (target === undefined) return Promise.reject(new Error('no audit scan worker has started yet'));
    const id = this._nextId++;
    let copy: Uint8Array;
    if (transfer) {
      copy = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    } else {
      copy = new Uint8Array(chunk.byteLength);
      copy.set(chunk);
    }
    target.load++;
    this._sent++;
    const worker = target.worker;
    return new Promise((resolve, reject) => {
      this._waiting.set(id, { resolve, reject });
      worker.postMessage({ id, chunk: copy }, [copy.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this._workers.map(w => w.worker.terminate()));
  }
}
