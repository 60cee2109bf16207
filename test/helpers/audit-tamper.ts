/**
 * Tampering tools for the verifier's tests: every leaf of a record, changed
 * or deleted; a chain recomputed after a change (a forger without the key).
 */
import type { KeyObject } from 'node:crypto';
import { canonicalBody, chainHash, GENESIS_HASH } from '../../src/patterns/audit/audit-record.js';

type Json = Record<string, unknown>;
export type Path = Array<string | number>;

/** Every path to a leaf (string, number, boolean, null) and every object member, depth first. */
export function paths(value: unknown, prefix: Path = []): { leaves: Path[]; members: Path[] } {
  const leaves: Path[] = [];
  const members: Path[] = [];
  const walk = (v: unknown, p: Path): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (typeof v === 'object' && v !== null) {
      for (const k of Object.keys(v)) {
        members.push([...p, k]);
        walk((v as Json)[k], [...p, k]);
      }
    } else leaves.push(p);
  };
  walk(value, prefix);
  return { leaves, members };
}

export function get(obj: unknown, path: Path): unknown {
  return path.reduce<unknown>((o, k) => (o as Json)[k as string], obj);
}

function parentOf(obj: unknown, path: Path): Json {
  return get(obj, path.slice(0, -1)) as Json;
}

/** A different value of the same JSON type (or another type for null). */
export function changed(v: unknown, variant = 0): unknown {
  switch (typeof v) {
    case 'string':
      if (v.length > 0 && variant % 3 === 1) return v.slice(0, -1);
      if (v.length > 0 && variant % 3 === 2) return String.fromCharCode(v.charCodeAt(0) ^ 1) + v.slice(1);
      return v + 'x';
    case 'number':
      return variant % 2 === 1 ? -v - 1 : v + 1;
    case 'boolean':
      return !v;
    default:
      return 0;
  }
}

/** A deep copy of `obj` with the leaf at `path` changed. */
export function withLeafChanged(obj: unknown, path: Path, variant = 0): Json {
  const copy = structuredClone(obj) as Json;
  const parent = parentOf(copy, path);
  const key = path[path.length - 1] as string;
  parent[key] = changed(parent[key], variant);
  return copy;
}

/** A deep copy of `obj` with the member at `path` deleted (an array element removed). */
export function withMemberDeleted(obj: unknown, path: Path): Json {
  const copy = structuredClone(obj) as Json;
  const parent = parentOf(copy, path);
  const key = path[path.length - 1];
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key as string];
  return copy;
}

/** A deep copy with a member added to the object at `path`. */
export function withMemberAdded(obj: unknown, path: Path): Json {
  const copy = structuredClone(obj) as Json;
  const target = get(copy, path) as Json;
  target['zz_inserted'] = 'x';
  return copy;
}

/**
 * Recomputes every record's prev_hash and hash from `from` onward, as a
 * forger would after changing something (plain SHA-256 without a key).
 */
export function rechain(lines: string[], from = 0, key?: KeyObject | Buffer): string[] {
  const out = lines.slice(0, from);
  let prev = from === 0 ? GENESIS_HASH : (JSON.parse(lines[from - 1]) as Json).hash as string;
  for (let i = from; i < lines.length; i++) {
    const rec = JSON.parse(lines[i]) as Json;
    rec.prev_hash = prev;
    delete rec.hash;
    const body = canonicalBody(rec);
    const hash = chainHash(prev, body, key);
    out.push(body.slice(0, -1) + ',"hash":"' + hash + '"}');
    prev = hash;
  }
  return out;
}

/** A record line given another prev_hash and re-hashed to match: valid by itself, not linked to the line before. */
export function relinked(line: string, prevHash: string, key?: KeyObject | Buffer): string {
  const rec = JSON.parse(line) as Json;
  rec.prev_hash = prevHash;
  delete rec.hash;
  const body = canonicalBody(rec);
  return body.slice(0, -1) + ',"hash":"' + chainHash(prevHash, body, key) + '"}';
}

/** Serialises with reversed key order, spaces and escaped non-ASCII: equal JSON, different text. */
export function reserialise(line: string): string {
  const reverse = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(reverse);
    if (typeof v === 'object' && v !== null) {
      const out: Json = {};
      for (const k of Object.keys(v).reverse()) out[k] = reverse((v as Json)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(reverse(JSON.parse(line)), null, 1)
    .replace(/\n/g, ' ')
    .replace(/[\u007f-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
