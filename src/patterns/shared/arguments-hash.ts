/**
 * A stable fingerprint of a call's arguments: SHA-256 of their canonical
 * JSON. Used to bind a review to the exact call it approves and to check
 * that a cached assessment belongs to the same arguments.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * The canonical JSON of a call's arguments, in the manner of RFC 8785 (the
 * audit chain's strict encoder is `canonicalize`, which throws on values
 * JSON cannot hold; this one accepts any JavaScript value): object keys sorted by UTF-16
 * code units, no whitespace, numbers and strings as `JSON.stringify` writes
 * them. It never throws: values JSON cannot hold get stable placeholders
 * (`undefined` members are dropped and become `null` in arrays; BigInt a
 * decimal string; Map an object, Set an array; Date its ISO string; errors
 * `{name, message}`; cycles `"[Circular]"`; functions and symbols a tag).
 */
export function canonicalizeArguments(value: unknown): string {
  const ancestors: object[] = [];
  const write = (v: unknown): string | undefined => {
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return Number.isFinite(v) ? JSON.stringify(v) : 'null';
      case 'boolean':
        return v ? 'true' : 'false';
      case 'bigint':
        return JSON.stringify(v.toString());
      case 'undefined':
        return undefined;
      case 'function':
        return JSON.stringify(`[Function ${(v as { name?: string }).name || 'anonymous'}]`);
      case 'symbol':
        return JSON.stringify(v.toString());
    }
    if (v === null) return 'null';
    const obj = v as object;
    if (ancestors.includes(obj)) return '"[Circular]"';
    ancestors.push(obj);
    try {
      if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'null' : JSON.stringify(obj.toISOString());
      if (Array.isArray(obj)) return `[${obj.map(x => write(x) ?? 'null').join(',')}]`;
      if (obj instanceof Set) return `[${[...obj].map(x => write(x) ?? 'null').join(',')}]`;
      let entries: [string, unknown][];
      if (obj instanceof Map) entries = [...obj].map(([k, x]) => [String(k), x]);
      else if (obj instanceof Error) entries = [['message', obj.message], ['name', obj.name]];
      else if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return write((obj as { toJSON(): unknown }).toJSON()) ?? 'null';
      else entries = Object.keys(obj).map(k => [k, (obj as Record<string, unknown>)[k]]);
      entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const parts: string[] = [];
      for (const [k, x] of entries) {
        const w = write(x);
        if (w !== undefined) parts.push(`${JSON.stringify(k)}:${w}`);
      }
      return `{${parts.join(',')}}`;
    } catch {
      return '"[unserializable]"';
    } finally {
      ancestors.pop();
    }
  };
  return write(value) ?? 'null';
}

/** @deprecated Use {@link canonicalizeArguments} (the same function). */
export const canonicalJson: (value: unknown) => string = canonicalizeArguments;

/** Hex SHA-256 of the {@link canonicalizeArguments} of `value`. */
export function hashArguments(value: unknown): string {
  return createHash('sha256').update(canonicalizeArguments(value)).digest('hex');
}
