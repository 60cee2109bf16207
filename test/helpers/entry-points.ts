/**
 * The package's entry points and the names each exports, read from their
 * index files (values and types apart), for the documentation tests.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Import path → source file of every entry point in package.json's `exports`. */
export const ENTRY_POINTS: ReadonlyMap<string, string> = new Map([
  ['agent-safety-otel', 'src/index.ts'],
  ['agent-safety-otel/semconv', 'src/semconv.ts'],
  ['agent-safety-otel/exporters', 'src/exporters/index.ts'],
  ['agent-safety-otel/verify', 'src/verify/index.ts'],
  ['agent-safety-otel/bootstrap', 'src/bootstrap/index.ts'],
  ['agent-safety-otel/register', 'src/register.ts'],
  ['agent-safety-otel/ai-sdk', 'src/adapters/ai-sdk/index.ts'],
  ['agent-safety-otel/openai-agents', 'src/adapters/openai-agents/index.ts'],
  ['agent-safety-otel/langchain', 'src/adapters/langchain/index.ts'],
  ['agent-safety-otel/mcp', 'src/adapters/mcp/index.ts'],
]);

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The names an entry point exports: `values` exist at run time, `types` only in TypeScript. */
export interface EntryExports {
  readonly values: ReadonlySet<string>;
  readonly types: ReadonlySet<string>;
}

/** Reads the export statements of an entry point's source file (`export { … } from`, `export type { … }`, `export const|function|class`). */
export function exportsOf(importPath: string): EntryExports {
  const file = ENTRY_POINTS.get(importPath);
  if (file === undefined) throw new Error(`${importPath} is not an entry point`);
  const text = readFileSync(root + file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
  const values = new Set<string>();
  const types = new Set<string>();
  for (const m of text.matchAll(/export\s+(type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[2].split(',')) {
      const spec = part.trim();
      if (spec === '') continue;
      const typeOnly = Boolean(m[1]) || spec.startsWith('type ');
      const name = spec.replace(/^type\s+/, '').split(/\s+as\s+/).pop()!.trim();
      (typeOnly ? types : values).add(name);
    }
  }
  for (const m of text.matchAll(/export\s+(?:declare\s+)?(const|let|function|class|async\s+function|interface|type)\s+([A-Za-z_$][\w$]*)/g)) {
    (m[1] === 'interface' || m[1] === 'type' ? types : values).add(m[2]);
  }
  if (/export\s+\*/.test(text)) throw new Error(`${file}: export * cannot be checked; name every export`);
  return { values, types };
}
