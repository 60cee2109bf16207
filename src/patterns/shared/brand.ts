/**
 * Brands let the `isXxxError(e)` guards work when two copies of this package
 * are loaded (a dependency bundles its own copy): `instanceof` fails across
 * copies, a symbol from the global registry does not.
 */

/** Returns the global-registry symbol that brands errors of `name`. */
export function brandOf(name: string): symbol {
  return Symbol.for(`agent-safety-otel/${name}`);
}

/** True when `value` is an object carrying `brand`. */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}
