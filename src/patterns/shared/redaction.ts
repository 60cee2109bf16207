/**
 * Redaction and safe serialisation of tool arguments, results and explanation
 * summaries. Pure: no OpenTelemetry, no I/O.
 *
 * Redaction runs before anything leaves the call: span attributes, explanation
 * records and review requests all see the redacted form. It is idempotent:
 * redacting an already redacted value changes nothing.
 */

/**
 * Turns a value that is about to be recorded into a value that may be recorded.
 * It may return a new value or the same one; it must not mutate its input.
 */
export type Redactor = (value: unknown) => unknown;

/** The placeholder that replaces a redacted value. */
export const REDACTED = '[REDACTED]';

/**
 * Key names whose values the default redactor drops: passwords, tokens, API
 * keys, authorization headers, cookies, secrets, private keys, credentials.
 */
export const DEFAULT_SECRET_KEY_PATTERN =
  /pass(word|wd|phrase)?|secret|token|api[-_ ]?key|authori[sz]ation|cookie|credential|private[-_ ]?key|session[-_ ]?id|signature/i;

const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;

export interface SecretRedactorOptions {
  /** Keys whose values are replaced. @default DEFAULT_SECRET_KEY_PATTERN */
  keyPattern?: RegExp;
  /** Also mask `Bearer …`/`Basic …` credentials inside string values. @default true */
  maskBearerTokens?: boolean;
  /** Depth beyond which nested values are replaced by `"[Truncated]"`. @default 8 */
  maxDepth?: number;
}

/**
 * Builds a redactor that replaces the values of secret-looking keys, at any
 * depth, with {@link REDACTED}. Cycles become `"[Circular]"`.
 */
export function secretRedactor(options: SecretRedactorOptions = {}): Redactor {
  const keyPattern = options.keyPattern ?? DEFAULT_SECRET_KEY_PATTERN;
  const maskBearer = options.maskBearerTokens ?? true;
  const maxDepth = options.maxDepth ?? 8;
  const seen = new Set<object>();

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') {
      return maskBearer && value.length >= 14 ? value.replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`) : value;
    }
    if (typeof value !== 'object' || value === null) return value;
    if (seen.has(value)) return '[Circular]';
    if (depth >= maxDepth) return '[Truncated]';
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map(v => walk(v, depth + 1));
      if (value instanceof Map) {
        const out = new Map<unknown, unknown>();
        for (const [k, v] of value) out.set(k, typeof k === 'string' && keyPattern.test(k) ? REDACTED : walk(v, depth + 1));
        return out;
      }
      if (value instanceof Set) return new Set([...value].map(v => walk(v, depth + 1)));
      if (value instanceof Date || ArrayBuffer.isView(value) || value instanceof Error) return value;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[key];
        out[key] = keyPattern.test(key) && v !== undefined && v !== null ? REDACTED : walk(v, depth + 1);
      }
      return out;
    } finally {
      seen.delete(value);
    }
  };
  return value => walk(value, 0);
}

/** The default redactor: {@link secretRedactor} with its defaults. */
export const redactSecrets: Redactor = secretRedactor();

/** A redactor that records values as they are. Opt in knowingly. */
export const noRedaction: Redactor = value => value;

export interface SafeStringifyOptions {
  /** Longest string returned; longer output is cut and marked. @default 4096 */
  maxLength?: number;
}

/** The placeholder recorded when a value cannot be serialised at all. */
export const UNSERIALIZABLE = '[unserializable]';

/**
 * Serialises any value to JSON without ever throwing: cycles become
 * `"[Circular]"`, BigInt a decimal string, functions and symbols a tag,
 * `Map`/`Set` arrays, errors `{name, message}`. Output longer than
 * `maxLength` is cut and ends with `…[truncated N chars]`.
 */
export function safeStringify(value: unknown, options: SafeStringifyOptions = {}): string {
  const maxLength = options.maxLength ?? 4096;
  let out: string | undefined;
  try {
    if (typeof value === 'string') out = JSON.stringify(value);
    else {
      // Parallel stacks: the objects JSON.stringify is inside of (as it sees
      // them, after replacement) and the originals they came from. `this` is
      // the current holder, so unwinding to it keeps only true ancestors: a
      // shared but acyclic reference is serialised twice, not flagged.
      const holders: unknown[] = [];
      const originals: unknown[] = [];
      out = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
        if (typeof v === 'bigint') return v.toString();
        if (typeof v === 'function') return `[Function ${(v as { name?: string }).name || 'anonymous'}]`;
        if (typeof v === 'symbol') return v.toString();
        if (typeof v !== 'object' || v === null) return v;
        while (holders.length > 0 && holders[holders.length - 1] !== this) {
          holders.pop();
          originals.pop();
        }
        if (originals.includes(v)) return '[Circular]';
        let replaced: unknown = v;
        if (v instanceof Map) replaced = Object.fromEntries([...v].map(([k, x]) => [String(k), x]));
        else if (v instanceof Set) replaced = [...v];
        else if (v instanceof Error) replaced = { name: v.name, message: v.message };
        holders.push(replaced);
        originals.push(v);
        return replaced;
      });
    }
  } catch {
    return UNSERIALIZABLE;
  }
  if (out === undefined) out = typeof value === 'undefined' ? 'undefined' : UNSERIALIZABLE;
  if (out.length > maxLength) {
    const cut = out.length - maxLength;
    out = `${out.slice(0, maxLength)}…[truncated ${cut} chars]`;
  }
  return out;
}

/**
 * Redacts then serialises `value` for recording. Never throws: a redactor
 * that throws yields `"[redaction failed]"`, never the unredacted value.
 */
export function captureValue(value: unknown, redact: Redactor, options?: SafeStringifyOptions): string {
  let redacted: unknown;
  try {
    redacted = redact(value);
  } catch {
    return '[redaction failed]';
  }
  return safeStringify(redacted, options);
}
