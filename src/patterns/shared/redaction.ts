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

const BEARER = /\b(bearer|basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{8,}/gi;
/** `password=…`, `"secret": "…"`, `--api-key=…`, `token: …`: the key kept, the value masked. */
const SECRET_PAIR =
  /\b([A-Za-z0-9_.-]*(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential|session[-_]?id)[A-Za-z0-9_.-]*)(["']?[ \t]*[=:][ \t]*)(?!["']?\[REDACTED\])("[^"]*"|'[^']*'|[^\s&,;"'}\]]+)/gi;
/** Token shapes that are secrets wherever they appear. */
const SECRET_SHAPES: readonly RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, // PEM private keys
  /\b(?:sk|rk|pk)[-_](?:[A-Za-z]{2,8}[-_])?[A-Za-z0-9]{16,}/g, // sk-live-…, sk-proj-…, sk_live_…
  /\bgh[pousr]_[A-Za-z0-9]{30,}/g, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{30,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, // Slack
  /\bAIza[0-9A-Za-z_-]{35}/g, // Google API keys
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, // JWTs
];
/** A cheap first look: strings without any of these need no regex work. */
const MAYBE_SECRET = /bearer|basic|pass|pwd|secret|token|key|credential|session|sk[-_]|rk[-_]|pk[-_]|gh[pousr]_|github_pat_|AKIA|xox|AIza|eyJ/i;

/**
 * Masks secrets inside free text (exception and status messages, log
 * lines): `Bearer`/`Basic` credentials, `password=`/`secret=`/`token=`/
 * `api_key=` pairs (the value), API-key shapes (`sk-live-…`, GitHub, AWS,
 * Slack, Google, JWTs) and PEM private-key blocks. Idempotent.
 */
export function redactText(text: string): string {
  if (text.length < 8 || !MAYBE_SECRET.test(text)) return text;
  let out = text.replace(BEARER, (_m, scheme: string) => `${scheme} ${REDACTED}`);
  out = out.replace(SECRET_PAIR, (_m, key: string, sep: string) => `${key}${sep}${REDACTED}`);
  for (const shape of SECRET_SHAPES) out = out.replace(shape, REDACTED);
  return out;
}

export interface SecretRedactorOptions {
  /** Keys whose values are replaced. @default DEFAULT_SECRET_KEY_PATTERN */
  keyPattern?: RegExp;
  /**
   * Also mask secrets inside string values ({@link redactText}: bearer
   * tokens, `password=…` pairs, API-key shapes, private-key blocks).
   * @default true
   */
  maskSecretsInText?: boolean;
  /** @deprecated The old name of `maskSecretsInText`. */
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
  const maskText = options.maskSecretsInText ?? options.maskBearerTokens ?? true;
  const maxDepth = options.maxDepth ?? 8;
  const seen = new Set<object>();

  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') {
      return maskText ? redactText(value) : value;
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
        const r = keyPattern.test(key) && v !== undefined && v !== null ? REDACTED : walk(v, depth + 1);
        // An own `__proto__` key (JSON.parse makes them) stays a key: assigned, it would set the copy's prototype and vanish.
        if (key === '__proto__') Object.defineProperty(out, key, { value: r, enumerable: true, writable: true, configurable: true });
        else out[key] = r;
      }
      return out;
    } finally {
      seen.delete(value);
    }
  };
  const redactor: Redactor = value => walk(value, 0);
  if (maxDepth >= 2) flatRedactors.set(redactor, flatAttributeRedactor(keyPattern, maskText));
  return redactor;
}

/**
 * What a {@link secretRedactor} does to a flat attribute map (values are
 * strings, numbers, booleans or arrays of them), without building a copy
 * unless a value changes: the same object comes back when nothing does.
 * The audit chain redacts every event of every span it chains; this keeps
 * that from allocating on the hot path.
 */
const flatRedactors = new WeakMap<Redactor, <T extends Readonly<Record<string, unknown>>>(attributes: T) => T>();

function flatAttributeRedactor(keyPattern: RegExp, maskText: boolean): <T extends Readonly<Record<string, unknown>>>(attributes: T) => T {
  // Keys repeat (a span's attribute names): the key pattern's answer is kept per key, for a bounded number of keys.
  const secretKeys = new Map<string, boolean>();
  const isSecretKey = (key: string): boolean => {
    let secret = secretKeys.get(key);
    if (secret === undefined) {
      secret = keyPattern.test(key);
      if (secretKeys.size < 4096) secretKeys.set(key, secret);
    }
    return secret;
  };
  const redactValue = (v: unknown): unknown => {
    if (typeof v === 'string') return maskText ? redactText(v) : v;
    if (!Array.isArray(v)) return v;
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const r = typeof x === 'string' && maskText ? redactText(x) : x;
      if (r !== x) (out ??= v.slice())[i] = r;
    }
    return out ?? v;
  };
  return <T extends Readonly<Record<string, unknown>>>(attributes: T): T => {
    let out: Record<string, unknown> | undefined;
    const keys = Object.keys(attributes); // own keys, as the full walk sees them
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const v = attributes[key];
      let r = isSecretKey(key) && v !== undefined && v !== null ? REDACTED : redactValue(v);
      // As after the full walk: what is not an attribute value (null, an object…) is masked.
      if (!isAttributeValue(r)) r = v === undefined ? undefined : REDACTED;
      if (r === v) continue;
      out ??= { ...attributes };
      if (key === '__proto__') Object.defineProperty(out, key, { value: r, enumerable: true, writable: true, configurable: true });
      else out[key] = r;
    }
    return (out ?? attributes) as T;
  };
}

/** The default redactor: {@link secretRedactor} with its defaults. */
export const redactSecrets: Redactor = secretRedactor();

/**
 * An attribute map passed through `redact`, kept a valid attribute map:
 * values the redactor turns into something that is not an attribute value
 * become {@link REDACTED}; a redactor that throws masks every value. The
 * same object is returned when nothing changed.
 */
export function redactAttributes<T extends Readonly<Record<string, unknown>>>(attributes: T, redact: Redactor): T {
  const flat = flatRedactors.get(redact);
  if (flat !== undefined) return flat(attributes);
  let redacted: unknown;
  try {
    redacted = redact(attributes);
  } catch {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(attributes)) out[k] = '[redaction failed]';
    return out as T;
  }
  if (redacted === attributes) return attributes;
  const source = typeof redacted === 'object' && redacted !== null ? (redacted as Record<string, unknown>) : {};
  let changed = false;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(attributes)) {
    const before = attributes[k];
    let v = source[k];
    if (!isAttributeValue(v)) v = before === undefined ? undefined : REDACTED;
    if (v !== before) changed = true;
    out[k] = v;
  }
  return (changed ? out : attributes) as T;
}

function isAttributeValue(v: unknown): boolean {
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || v === undefined) return true;
  if (!Array.isArray(v)) return false;
  return v.every(x => x === null || x === undefined || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean');
}

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
 * `text` through `redact`, for recording as text. Never throws: a redactor
 * that throws gives `"[redaction failed]"`, one that returns no string
 * `"[redacted]"`, never the unredacted text.
 */
export function redactString(text: string, redact: Redactor): string {
  try {
    const redacted = redact(text);
    return typeof redacted === 'string' ? redacted : '[redacted]';
  } catch {
    return '[redaction failed]';
  }
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
