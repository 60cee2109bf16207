/**
 * Strict JSON for audit records: the checks `JSON.parse` does not make, so
 * that every reader of a record sees the same value.
 *
 * - **Duplicate members** are rejected: `JSON.parse` keeps the last of two
 *   `"span"` members, other parsers keep the first, so a record with two
 *   could verify here and read as another action elsewhere.
 * - **Numbers** must mean one value to every parser: finite (no `1e400`),
 *   an integer token no larger than a double holds exactly (no
 *   `12345678901234567891`), at most 17 significant digits, and a non-zero
 *   token that does not underflow to 0 (`1e-400`).
 * - **Depth**: at most `maxDepth` nested objects and arrays (a bounded
 *   stack for every later step: parsing, canonicalising, rebuilding).
 *
 * The check is iterative (no recursion: hostile depth cannot overflow the
 * stack) and linear in the text's length. It runs on the verifier's slow
 * path only; the fast path accepts nothing but canonical text, which
 * passes these checks by construction.
 *
 * @module
 */

/** Nesting allowed by default: records are about 10 deep, OTLP JSON lines about 12. */
export const DEFAULT_MAX_DEPTH = 64;

/** Why a text is not strict JSON, with the 0-based character offset. */
export interface StrictJsonProblem {
  readonly offset: number;
  readonly message: string;
}

const C = {
  Quote: 34,
  Backslash: 92,
  Comma: 44,
  Colon: 58,
  OpenBrace: 123,
  CloseBrace: 125,
  OpenBracket: 91,
  CloseBracket: 93,
  Minus: 45,
  Plus: 43,
  Dot: 46,
  Zero: 48,
  Nine: 57,
  LowerE: 101,
  UpperE: 69,
} as const;

const isWs = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13;
const isDigit = (c: number): boolean => c >= C.Zero && c <= C.Nine;

/**
 * Checks `text` (one JSON value, whitespace around it allowed) against the
 * strict rules above. Returns undefined when it passes, else the first
 * problem. Grammar errors are reported too, so that a caller may skip
 * `JSON.parse`'s own message.
 */
export function strictJsonProblem(text: string, maxDepth = DEFAULT_MAX_DEPTH): StrictJsonProblem | undefined {
  const n = text.length;
  let p = 0;
  // Per open container: null for an array, the member names seen for an object
  // (a list while short, a set once long: most objects have a few members).
  const stack: Array<string[] | Set<string> | null> = [];
  const problem = (message: string, at = p): StrictJsonProblem => ({ offset: at, message });
  const skipWs = (): void => {
    while (p < n && isWs(text.charCodeAt(p))) p++;
  };
  /** Scans a string starting at its opening quote; returns its decoded text (or "" unless `keep`), or a problem. */
  const scanString = (keep: boolean): string | StrictJsonProblem => {
    const start = ++p;
    let plain = true;
    for (;;) {
      if (p >= n) return problem('unterminated string', start - 1);
      const c = text.charCodeAt(p);
      if (c === C.Quote) break;
      if (c < 32) return problem('a control character inside a string');
      if (c === C.Backslash) {
        plain = false;
        const e = text.charCodeAt(p + 1);
        if (e === 117 /* u */) {
          for (let i = 2; i < 6; i++) {
            const h = text.charCodeAt(p + i);
            if (!(isDigit(h) || (h >= 97 && h <= 102) || (h >= 65 && h <= 70))) return problem('a bad \\u escape');
          }
          p += 6;
          continue;
        }
        if (e === C.Quote || e === C.Backslash || e === 47 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
          p += 2;
          continue;
        }
        return problem('a bad escape');
      }
      p++;
    }
    const end = p++;
    if (!keep) return '';
    const raw = text.slice(start, end);
    return plain ? raw : (JSON.parse('"' + raw + '"') as string);
  };
  const scanNumber = (): StrictJsonProblem | undefined => {
    const start = p;
    if (text.charCodeAt(p) === C.Minus) p++;
    const intStart = p;
    if (text.charCodeAt(p) === C.Zero) p++;
    else if (isDigit(text.charCodeAt(p))) while (isDigit(text.charCodeAt(p))) p++;
    else return problem('a malformed number', start);
    const intEnd = p;
    let fracStart = p;
    let fracEnd = p;
    let exact = true;
    if (text.charCodeAt(p) === C.Dot) {
      p++;
      fracStart = p;
      if (!isDigit(text.charCodeAt(p))) return problem('a malformed number', start);
      while (isDigit(text.charCodeAt(p))) p++;
      fracEnd = p;
      exact = false;
    }
    const e = text.charCodeAt(p);
    if (e === C.LowerE || e === C.UpperE) {
      p++;
      const s = text.charCodeAt(p);
      if (s === C.Plus || s === C.Minus) p++;
      if (!isDigit(text.charCodeAt(p))) return problem('a malformed number', start);
      while (isDigit(text.charCodeAt(p))) p++;
      exact = false;
    }
    const token = text.slice(start, p);
    const value = Number(token);
    if (!Number.isFinite(value)) return problem(`the number ${clip(token)} is out of range`, start);
    if (exact) {
      if (intEnd - intStart > 15 && BigInt(token) !== BigInt(value)) {
        return problem(`the integer ${clip(token)} is larger than a double holds exactly (parsers would read different values)`, start);
      }
      return undefined;
    }
    // significant digits of the mantissa (integer and fraction digits, leading and trailing zeros dropped)
    const digits = (text.slice(intStart, intEnd) + text.slice(fracStart, fracEnd)).replace(/^0+/, '').replace(/0+$/, '');
    if (digits.length > 17) return problem(`the number ${clip(token)} has more significant digits than a double holds (parsers would read different values)`, start);
    if (value === 0 && digits.length > 0) return problem(`the number ${clip(token)} underflows to 0`, start);
    return undefined;
  };
  const literal = (word: string): StrictJsonProblem | undefined => {
    if (text.startsWith(word, p)) {
      p += word.length;
      return undefined;
    }
    return problem('not JSON');
  };

  skipWs();
  for (;;) {
    // a value is expected at p
    skipWs();
    if (p >= n) return problem('unexpected end of the text');
    const c = text.charCodeAt(p);
    let closedValue = true;
    if (c === C.OpenBrace || c === C.OpenBracket) {
      if (stack.length >= maxDepth) return problem(`nested deeper than ${maxDepth} levels`);
      p++;
      skipWs();
      const close = c === C.OpenBrace ? C.CloseBrace : C.CloseBracket;
      if (text.charCodeAt(p) === close) {
        p++;
      } else {
        stack.push(c === C.OpenBrace ? [] : null);
        closedValue = false;
      }
    } else if (c === C.Quote) {
      const s = scanString(false);
      if (typeof s !== 'string') return s;
    } else if (c === C.Minus || isDigit(c)) {
      const bad = scanNumber();
      if (bad) return bad;
    } else if (c === 116 /* t */) {
      const bad = literal('true');
      if (bad) return bad;
    } else if (c === 102 /* f */) {
      const bad = literal('false');
      if (bad) return bad;
    } else if (c === 110 /* n */) {
      const bad = literal('null');
      if (bad) return bad;
    } else {
      return problem('not JSON');
    }
    if (closedValue) {
      // after a complete value: close containers, or move to the next member/element
      for (;;) {
        skipWs();
        if (stack.length === 0) {
          if (p !== n) return problem('text after the JSON value');
          return undefined;
        }
        const top = stack[stack.length - 1];
        const d = text.charCodeAt(p);
        if (d === C.Comma) {
          p++;
          break;
        }
        if ((top === null && d === C.CloseBracket) || (top !== null && d === C.CloseBrace)) {
          p++;
          stack.pop();
          continue;
        }
        return problem(p >= n ? 'unexpected end of the text' : 'not JSON');
      }
    }
    // inside a container, at the start of a member or element
    const top = stack[stack.length - 1];
    if (top !== null && top !== undefined) {
      skipWs();
      if (text.charCodeAt(p) !== C.Quote) return problem(p >= n ? 'unexpected end of the text' : 'not JSON');
      const keyAt = p;
      const key = scanString(true);
      if (typeof key !== 'string') return key;
      let names = top;
      if (Array.isArray(names) && names.length >= 16) {
        names = new Set(names);
        stack[stack.length - 1] = names;
      }
      if (Array.isArray(names) ? names.includes(key) : names.has(key)) return problem(`the member ${clip(JSON.stringify(key))} appears twice`, keyAt);
      if (Array.isArray(names)) names.push(key);
      else names.add(key);
      skipWs();
      if (text.charCodeAt(p) !== C.Colon) return problem('not JSON');
      p++;
    }
  }
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 37) + '…' : s;
}

/**
 * `JSON.parse` after {@link strictJsonProblem}: throws a `SyntaxError`
 * naming the problem and its offset.
 */
export function parseStrictJson(text: string, maxDepth = DEFAULT_MAX_DEPTH): unknown {
  const bad = strictJsonProblem(text, maxDepth);
  if (bad !== undefined) throw new SyntaxError(`${bad.message} (at character ${bad.offset + 1})`);
  return JSON.parse(text);
}
