/**
 * Option validation shared by every pattern: bad configuration throws at
 * construction, naming the option and the value received.
 */

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Throws a `TypeError` naming `option` unless `value` is a function. */
export function requireFunction(option: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new TypeError(`${option} must be a function, got ${show(value)}`);
  }
}

/** Throws a `TypeError` naming `option` unless `value` is a non-empty string. */
export function requireNonEmptyString(option: string, value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(`${option} must be a non-empty string, got ${show(value)}`);
  }
}

/** `requireNonEmptyString` for an optional value. */
export function optionalString(option: string, value: unknown): void {
  if (value !== undefined) requireNonEmptyString(option, value);
}

/** `requireFunction` for an optional value. */
export function optionalFunction(option: string, value: unknown): void {
  if (value !== undefined) requireFunction(option, value);
}

/** Throws a `TypeError` naming `option` unless `value` is a boolean (or undefined). */
export function optionalBoolean(option: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new TypeError(`${option} must be a boolean, got ${show(value)}`);
  }
}

export interface NumberRule {
  /** Smallest allowed value. */
  min?: number;
  /** Whether `min` itself is allowed. @default true */
  minInclusive?: boolean;
  /** Largest allowed value. */
  max?: number;
  /** Whether `max` itself is allowed. @default true */
  maxInclusive?: boolean;
  /** Require an integer. @default false */
  integer?: boolean;
}

/**
 * Throws a `TypeError` when `value` is not a finite number and a `RangeError`
 * when it is outside `rule`, naming `option` and the value.
 */
export function requireNumber(option: string, value: unknown, rule: NumberRule = {}): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${option} must be a finite number, got ${show(value)}`);
  }
  if (rule.integer && !Number.isInteger(value)) {
    throw new RangeError(`${option} must be an integer, got ${show(value)}`);
  }
  const { min, max, minInclusive = true, maxInclusive = true } = rule;
  const belowMin = min !== undefined && (minInclusive ? value < min : value <= min);
  const aboveMax = max !== undefined && (maxInclusive ? value > max : value >= max);
  if (belowMin || aboveMax) {
    const lo = min === undefined ? '' : `${minInclusive ? '>=' : '>'} ${min}`;
    const hi = max === undefined ? '' : `${maxInclusive ? '<=' : '<'} ${max}`;
    throw new RangeError(`${option} must be ${[lo, hi].filter(Boolean).join(' and ')}, got ${show(value)}`);
  }
}

/** `requireNumber` for an optional value. */
export function optionalNumber(option: string, value: unknown, rule?: NumberRule): void {
  if (value !== undefined) requireNumber(option, value, rule);
}

/** Throws a `TypeError` naming `option` unless `value` is one of `allowed`. */
export function requireOneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw new TypeError(`${option} must be one of ${allowed.map(a => JSON.stringify(a)).join(', ')}, got ${show(value)}`);
  }
}

/**
 * Throws a `TypeError` for keys of `options` not in `known`: a misspelt
 * option must not be silently ignored.
 */
export function rejectUnknownOptions(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${where}: unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`);
    }
  }
}

/** Throws a `TypeError` unless `value` is a plain object (or undefined when optional). */
export function requireObject(option: string, value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${option} must be an object, got ${show(value)}`);
  }
}
