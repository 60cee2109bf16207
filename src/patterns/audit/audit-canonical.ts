/**
 * RFC 8785 (JSON Canonicalization Scheme) and the canonical encoding of
 * OpenTelemetry attribute values used by the audit chain.
 *
 * Two encoders that must agree byte for byte:
 * - {@link canonicalize}: the generic RFC 8785 encoder for any JSON value
 *   (used by the verifier on records it re-reads, whatever their key order
 *   or whitespace);
 * - {@link encodeAnyValue} / {@link encodeAttributes}: the writer's fast
 *   path, which emits the canonical text of an attribute value directly,
 *   without building an intermediate object.
 *
 * Strings and numbers use ECMAScript's `JSON.stringify`, which is exactly
 * the serialisation RFC 8785 prescribes (section 3.2.2). Object keys are
 * sorted by UTF-16 code units, which is JavaScript's default string order.
 *
 * @module
 */

/** Thrown for input that has no canonical JSON form (NaN, Infinity, undefined, functions…). */
export class CanonicalizationError extends Error {
  override readonly name = 'CanonicalizationError';
}

/**
 * The RFC 8785 canonical form of a JSON value. Throws a
 * {@link CanonicalizationError} for values JSON cannot represent.
 */
export function canonicalize(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalizationError(`${value} has no JSON form`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += canonicalize(value[i]);
        }
        return out + ']';
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const v = obj[key];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(key) + ':' + canonicalize(v);
      }
      return out + '}';
    }
    default:
      throw new CanonicalizationError(`a ${typeof value} has no JSON form`);
  }
}

/**
 * The canonical text of one OpenTelemetry attribute value, shaped as an
 * OTLP/JSON `AnyValue` so that it survives an OTLP round trip:
 * - string → `{"stringValue":"…"}`, boolean → `{"boolValue":true}`;
 * - an integral number → `{"intValue":"42"}` (decimal string, as OTLP/JSON
 *   writes int64; `-0` is `"0"`);
 * - any other finite number → `{"doubleValue":1.5}`; NaN and ±Infinity →
 *   `{"doubleValue":"NaN"}`, `"Infinity"`, `"-Infinity"` (the proto3 JSON
 *   mapping);
 * - an array → `{"arrayValue":{"values":[…]}}`; `null`/`undefined` (allowed
 *   inside arrays) → `{}`;
 * - bytes → `{"bytesValue":"<base64>"}`; a plain object →
 *   `{"kvlistValue":{"values":[{"key":…,"value":…}]}}` in insertion order.
 *
 * This mirrors how the OpenTelemetry JS OTLP transformer tags values
 * (`Number.isInteger` decides int versus double).
 */
export function encodeAnyValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return '{"stringValue":' + JSON.stringify(value) + '}';
    case 'boolean':
      return value ? '{"boolValue":true}' : '{"boolValue":false}';
    case 'number':
      if (Number.isInteger(value)) {
        return '{"intValue":"' + (Number.isSafeInteger(value) ? String(value) : BigInt(value).toString()) + '"}';
      }
      if (Number.isFinite(value)) return '{"doubleValue":' + JSON.stringify(value) + '}';
      return '{"doubleValue":"' + (value !== value ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity') + '"}';
    case 'object': {
      if (value === null) return '{}';
      if (Array.isArray(value)) {
        let out = '{"arrayValue":{"values":[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += encodeAnyValue(value[i]);
        }
        return out + ']}}';
      }
      if (value instanceof Uint8Array) {
        return '{"bytesValue":' + JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')) + '}';
      }
      const obj = value as Record<string, unknown>;
      let out = '{"kvlistValue":{"values":[';
      let first = true;
      for (const key of Object.keys(obj)) {
        if (!first) out += ',';
        first = false;
        out += '{"key":' + JSON.stringify(key) + ',"value":' + encodeAnyValue(obj[key]) + '}';
      }
      return out + ']}}';
    }
    default:
      return '{}';
  }
}

/**
 * Attribute keys under this prefix are the chain's own stamps (seq, hashes,
 * key id, previous head) and are not part of a record's `attributes`: they
 * are the record's top-level members instead. The exceptions are
 * {@link AUDIT_SEAL_PREFIX} and {@link AUDIT_CHECKPOINT_PREFIX}: a seal's
 * claim is an ordinary, hashed attribute of its span.
 */
export const AUDIT_ATTRIBUTE_PREFIX = 'agent_safety.audit.';
/** Attributes of seal spans (format 2); hashed like any other attribute. */
export const AUDIT_SEAL_PREFIX = 'agent_safety.audit.seal.';
/** Attributes of checkpoint spans (format 1); hashed like any other attribute. */
export const AUDIT_CHECKPOINT_PREFIX = 'agent_safety.audit.checkpoint.';

/** True for a key the chain stamps and leaves out of `attributes`. */
export function isAuditStampKey(key: string): boolean {
  return key.startsWith(AUDIT_ATTRIBUTE_PREFIX) && !key.startsWith(AUDIT_SEAL_PREFIX) && !key.startsWith(AUDIT_CHECKPOINT_PREFIX);
}

/** The sorted order of one attribute key set, with each key's `"key":` prefix ready. */
interface Shape {
  readonly keys: readonly string[];
  readonly excludeStamps: boolean;
  /** Indexes into `keys`, in RFC 8785 order, stamps left out when `excludeStamps`. */
  readonly order: readonly number[];
  /** `JSON.stringify(key) + ':'` for each index of `order`. */
  readonly prefixes: readonly string[];
  /**
   * The last primitive value seen at each index of `order`, and its member
   * text (`prefix + encodeAnyValue(value)`): spans of one call site mostly
   * repeat their values (the tool, the agent, the outcome, a static
   * reasoning), so a repeated value costs a comparison, not an encoding.
   */
  readonly lastValues: unknown[];
  readonly lastMembers: string[];
}

/**
 * Spans from one call site share their attribute keys, in the same insertion
 * order: the sorted order is computed once per such shape and reused. A
 * small round-robin cache; a miss costs one sort, as without it.
 */
const SHAPES = 64;
/** A value no attribute has: the start of {@link Shape.lastValues}. */
const NOT_SEEN: unknown = Symbol('not seen');
const shapes: Shape[] = [];
let nextShape = 0;

function shapeOf(keys: readonly string[], excludeStamps: boolean): Shape {
  const n = keys.length;
  search: for (let s = 0; s < shapes.length; s++) {
    const shape = shapes[s];
    if (shape.keys.length !== n || shape.excludeStamps !== excludeStamps) continue;
    const known = shape.keys;
    for (let i = 0; i < n; i++) if (known[i] !== keys[i]) continue search;
    return shape;
  }
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (!(excludeStamps && isAuditStampKey(keys[i]))) order.push(i);
  order.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
  const shape: Shape = {
    keys: [...keys],
    excludeStamps,
    order,
    prefixes: order.map(i => JSON.stringify(keys[i]) + ':'),
    lastValues: order.map(() => NOT_SEEN),
    lastMembers: order.map(() => ''),
  };
  if (shapes.length < SHAPES) shapes.push(shape);
  else shapes[nextShape++ % SHAPES] = shape;
  return shape;
}

/**
 * The canonical text of an attribute map: a JSON object from key to
 * {@link encodeAnyValue}, keys sorted, `undefined` values left out, and
 * the chain's stamps ({@link isAuditStampKey}) left out when `excludeStamps`.
 */
export function encodeAttributes(attributes: Readonly<Record<string, unknown>> | undefined, excludeStamps = false): string {
  if (attributes === undefined) return '{}';
  const keys = Object.keys(attributes);
  if (keys.length === 0) return '{}';
  const { order, prefixes, lastValues, lastMembers } = shapeOf(keys, excludeStamps);
  let out = '{';
  let first = true;
  for (let i = 0; i < order.length; i++) {
    const v = attributes[keys[order[i]]];
    if (v === undefined) continue;
    if (!first) out += ',';
    first = false;
    // `===` on primitives: the same string, boolean or number has the same text (0 and -0 both encode as "0"; NaN never matches).
    if (v === lastValues[i]) {
      out += lastMembers[i];
    } else {
      const member = prefixes[i] + encodeAnyValue(v);
      if (typeof v !== 'object') {
        lastValues[i] = v;
        lastMembers[i] = member;
      }
      out += member;
    }
  }
  return out + '}';
}

/** A JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
