/**
 * Snapshots of agent state and environment deltas, taken at checkpoint time
 * so that later mutation cannot change them. Pure: no OpenTelemetry.
 *
 * Three built-in modes, plus custom codecs:
 * - `structured` (default): the structured clone algorithm (what
 *   `structuredClone` uses). It keeps `Date`, `Map`, `Set`, `BigInt`, typed
 *   arrays, `undefined`, shared references and cycles. The snapshot is the
 *   serialised form, V8's bytes, or JSON text when one walk over the value
 *   shows JSON copies it exactly (plain data: the common case, and faster):
 *   its size is exact, a retained snapshot is one object for the garbage
 *   collector, every restore yields a fresh copy, and a file store can
 *   persist it. Values it would copy wrongly are refused when the snapshot is
 *   taken: functions, symbols, promises, weak collections, and class
 *   instances (the clone would silently lose their prototype: methods,
 *   getters, private fields).
 * - `json`: `JSON.stringify`/`JSON.parse`. Faster, and lossy the JSON way:
 *   `Date` becomes a string, `Map`/`Set` become `{}`, `undefined` and
 *   functions disappear; cycles and `BigInt` are refused.
 * - `reference`: no copy at all: the state object itself is kept. Only for
 *   state that is never mutated (frozen, or replaced on every change). Not
 *   size-limited, and not persistable.
 *
 * @module
 */
import { deserialize, serialize } from 'node:v8';
import type { EncodedSnapshot } from './checkpoint.js';
import { SnapshotError } from './rollback-errors.js';

/** A built-in snapshot mode. */
export type SnapshotMode = 'structured' | 'json' | 'reference';

/**
 * A custom snapshot format, e.g. one that knows your classes. `encode` must
 * copy everything it needs (later mutation of the value must not change the
 * encoded form) and `decode` must return a fresh value each time.
 */
export interface SnapshotCodec {
  /** Stored with each snapshot; a manager restoring it must know a codec of this name. */
  readonly name: string;
  /** Encodes a value; throws when it cannot (the checkpoint is then refused). */
  encode(value: unknown): string | Uint8Array;
  /** Decodes what `encode` returned. */
  decode(data: string | Uint8Array): unknown;
}

/** Names of the built-in modes (a custom codec may not use them). */
export const SNAPSHOT_MODES: readonly SnapshotMode[] = ['structured', 'json', 'reference'];

const ALLOWED_PROTOTYPES: ReadonlySet<object | null> = new Set<object | null>(
  [
    null,
    Object.prototype,
    Array.prototype,
    Map.prototype,
    Set.prototype,
    Date.prototype,
    RegExp.prototype,
    ArrayBuffer.prototype,
    DataView.prototype,
    Boolean.prototype,
    Number.prototype,
    String.prototype,
    BigInt.prototype,
    Error.prototype,
    EvalError.prototype,
    RangeError.prototype,
    ReferenceError.prototype,
    SyntaxError.prototype,
    TypeError.prototype,
    URIError.prototype,
    Int8Array.prototype,
    Uint8Array.prototype,
    Uint8ClampedArray.prototype,
    Int16Array.prototype,
    Uint16Array.prototype,
    Int32Array.prototype,
    Uint32Array.prototype,
    Float32Array.prototype,
    Float64Array.prototype,
    BigInt64Array.prototype,
    BigUint64Array.prototype,
    (globalThis as { Buffer?: { prototype: object } }).Buffer?.prototype ?? null,
  ],
);

/** True when the structured clone of `value` keeps its meaning. */
function isCloneableObject(value: object): boolean {
  return ALLOWED_PROTOTYPES.has(Object.getPrototypeOf(value));
}

/** Arrays, maps, sets and plain objects are walked; other allowed objects are copied as a whole. */
function isContainer(value: object): boolean {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

type ChildKind = 'index' | 'property' | 'mapKey' | 'mapValue' | 'setItem';

/** Calls `visit` for each child of a container until it returns false; false when stopped. */
function forEachChild(value: object, visit: (child: unknown, key: string | number, kind: ChildKind) => boolean): boolean {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!visit(value[i], i, 'index')) return false;
  } else if (value instanceof Map) {
    let i = 0;
    for (const [k, v] of value) {
      if (!visit(k, i, 'mapKey') || !visit(v, i, 'mapValue')) return false;
      i++;
    }
  } else if (value instanceof Set) {
    let i = 0;
    for (const v of value) if (!visit(v, i++, 'setItem')) return false;
  } else {
    for (const key of Object.keys(value)) if (!visit((value as Record<string, unknown>)[key], key, 'property')) return false;
  }
  return true;
}

function formatKey(key: string | number, kind: ChildKind): string {
  switch (kind) {
    case 'index':
      return `[${key}]`;
    case 'mapKey':
      return `<map key #${key}>`;
    case 'mapValue':
      return `<map value #${key}>`;
    case 'setItem':
      return `<set item #${key}>`;
    default:
      return /^[A-Za-z_$][\w$]*$/.test(String(key)) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  if (typeof value === 'symbol') return 'a symbol';
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  const name = proto?.constructor?.name;
  return name ? `an instance of ${name}` : 'an object with a foreign prototype';
}

/** What {@link inspect} found. */
interface Inspection {
  /** `[path, description]` of the first value the structured clone would refuse or copy wrongly. */
  bad: [string, string] | undefined;
  /**
   * True when `JSON.parse(JSON.stringify(value))` equals the structured
   * clone: only plain objects, arrays without holes or extra properties,
   * strings, finite numbers other than -0, booleans and null, each object
   * reached once (no shared references, no cycles).
   */
  jsonExact: boolean;
}

/**
 * Walks `value` once: finds the first value that the structured clone would
 * refuse or copy wrongly (a function, a symbol, or an object that is not
 * plain data: a class instance, a promise, a weak collection...), and
 * whether JSON would copy it exactly. Iterative (deep values do not
 * overflow the stack); paths are built only after a failure.
 */
function inspect(value: unknown, root: string): Inspection {
  const stack: object[] = [];
  const seen = new Set<object>();
  let bad: unknown;
  let found = false;
  let jsonExact = true;
  const visit = (child: unknown): boolean => {
    switch (typeof child) {
      case 'object':
        if (child !== null) stack.push(child);
        return true;
      case 'string':
      case 'boolean':
        return true;
      case 'number':
        if (jsonExact && (!Number.isFinite(child) || Object.is(child, -0))) jsonExact = false;
        return true;
      case 'function':
      case 'symbol':
        bad = child;
        found = true;
        return false;
      default: // undefined, bigint
        jsonExact = false;
        return true;
    }
  };
  visit(value);
  while (!found && stack.length > 0) {
    const obj = stack.pop() as object;
    if (seen.has(obj)) {
      jsonExact = false; // a shared reference or a cycle: JSON would duplicate it or fail
      continue;
    }
    seen.add(obj);
    if (!isCloneableObject(obj)) {
      bad = obj;
      found = true;
    } else if (isContainer(obj)) {
      if (jsonExact && (obj instanceof Map || obj instanceof Set || (Array.isArray(obj) && Object.keys(obj).length !== obj.length))) {
        jsonExact = false;
      }
      forEachChild(obj, visit);
    } else {
      jsonExact = false; // Date, RegExp, typed arrays, errors, boxed values
    }
  }
  if (!found) return { bad: undefined, jsonExact };
  return { bad: [pathTo(value, bad, root) ?? root, describe(bad)], jsonExact: false };
}

/**
 * Finds the first value that the structured clone would refuse or copy
 * wrongly: a function, a symbol, or an object that is not plain data (a
 * class instance, a promise, a weak collection...). Returns `[path,
 * description]`, e.g. `['state.jobs[2]', 'an instance of Job']`, or
 * `undefined`.
 */
export function findUncloneable(value: unknown, root = 'value'): [string, string] | undefined {
  return inspect(value, root).bad;
}

interface PathNode {
  value: unknown;
  parent: PathNode | undefined;
  key: string | number;
  kind: ChildKind;
}

/** The path from `root` to `target` (iterative, cycle-safe); only used to explain a failure. */
function pathTo(value: unknown, target: unknown, root: string): string | undefined {
  const seen = new Set<object>();
  const stack: PathNode[] = [{ value, parent: undefined, key: '', kind: 'property' }];
  while (stack.length > 0) {
    const node = stack.pop() as PathNode;
    if (node.value === target) {
      const keys: string[] = [];
      for (let n: PathNode | undefined = node; n?.parent !== undefined; n = n.parent) keys.push(formatKey(n.key, n.kind));
      return root + keys.reverse().join('');
    }
    const v = node.value;
    if (typeof v !== 'object' || v === null || seen.has(v) || !isContainer(v)) continue;
    seen.add(v);
    forEachChild(v, (child, key, kind) => {
      stack.push({ value: child, parent: node, key, kind });
      return true;
    });
  }
  return undefined;
}

function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
}

/**
 * The structured clone, as bytes from V8's serializer; or as JSON text when
 * the value is plain data that JSON copies exactly (decided by the same walk
 * that checks the value): faster to take and restore, and the same value back.
 */
const structuredCodec: SnapshotCodec = {
  name: 'structured',
  encode(value) {
    return serialize(value);
  },
  decode(data) {
    return typeof data === 'string' ? JSON.parse(data) : deserialize(data);
  },
};

const jsonCodec: SnapshotCodec = {
  name: 'json',
  encode(value) {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`JSON cannot represent ${describe(value)}`);
    return text;
  },
  decode(data) {
    return JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  },
};

/**
 * Takes and restores snapshots in one mode, with a size limit. A manager has
 * one; it can also restore snapshots of the built-in modes it was not
 * configured with (a store may hold older records).
 */
export class Snapshotter {
  /** Codec name written into each snapshot. */
  readonly codec: string;
  /** False for `reference`: such snapshots cannot leave the process. */
  readonly persistable: boolean;
  private readonly _codec: SnapshotCodec | undefined;
  private readonly _maxBytes: number;

  constructor(mode: SnapshotMode | SnapshotCodec, maxBytes: number) {
    this._maxBytes = maxBytes;
    if (mode === 'reference') {
      this.codec = 'reference';
      this._codec = undefined;
    } else {
      this._codec = mode === 'structured' ? structuredCodec : mode === 'json' ? jsonCodec : mode;
      this.codec = this._codec.name;
    }
    this.persistable = this._codec !== undefined;
  }

  /**
   * Snapshots `value` (named `what` in errors), or returns `undefined` for
   * `undefined`. Throws a {@link SnapshotError} when it cannot.
   */
  take(value: unknown, what: string): EncodedSnapshot | undefined {
    if (value === undefined) return undefined;
    const codec = this._codec;
    if (codec === undefined) return Object.freeze({ codec: 'reference', data: value, bytes: undefined });
    let asJson = false;
    if (codec === structuredCodec) {
      const { bad, jsonExact } = inspect(value, what);
      if (bad !== undefined) {
        throw new SnapshotError(
          `${what} cannot be snapshotted: ${bad[0]} is ${bad[1]}, which the structured clone would drop or refuse ` +
            `(store plain data, or use snapshot: 'json', 'reference' or a custom codec)`,
          { reason: 'unsupported', what, path: bad[0] },
        );
      }
      asJson = jsonExact;
    }
    let data: string | Uint8Array;
    try {
      data = asJson ? (JSON.stringify(value) as string) : codec.encode(value);
    } catch (err) {
      throw new SnapshotError(`${what} cannot be snapshotted with the ${codec.name} codec: ${(err as Error)?.message ?? String(err)}`, {
        reason: 'unsupported',
        what,
        cause: err,
      });
    }
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new SnapshotError(`${what}: the ${codec.name} codec's encode() must return a string or a Uint8Array`, {
        reason: 'unsupported',
        what,
      });
    }
    const bytes = byteLength(data);
    if (bytes > this._maxBytes) {
      throw new SnapshotError(
        `${what} snapshot is ${bytes} bytes, over maxSnapshotBytes (${this._maxBytes}); keep less in it or raise the limit`,
        { reason: 'too_large', what, bytes, limit: this._maxBytes },
      );
    }
    return Object.freeze({ codec: codec.name, data, bytes });
  }

  /** Whether snapshots written by codec `name` can be restored. */
  canRestore(name: string): boolean {
    return name === this.codec || name === 'structured' || name === 'json' || name === 'reference';
  }

  /** A fresh value from `snapshot` (the same object for `reference`). */
  restore(snapshot: EncodedSnapshot | undefined): unknown {
    if (snapshot === undefined) return undefined;
    if (snapshot.codec === 'reference') return snapshot.data;
    const codec =
      snapshot.codec === this.codec && this._codec !== undefined
        ? this._codec
        : snapshot.codec === 'structured'
          ? structuredCodec
          : snapshot.codec === 'json'
            ? jsonCodec
            : undefined;
    if (codec === undefined) throw new Error(`no snapshot codec named "${snapshot.codec}" is configured`);
    return codec.decode(snapshot.data as string | Uint8Array);
  }
}
