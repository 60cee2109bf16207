/**
 * Every `ts` block of docs/adapters/*.md type-checks as written against the
 * installed frameworks and this package (`agent-safety-otel/*` resolved to
 * the sources). Only the user's own things (their tools, model, functions)
 * are declared ahead of a block, never anything the block imports or uses
 * from us. A line marked `// AI SDK 7` may fail on AI SDK 6 (and `// AI SDK 6`
 * on 7): the guide says which version it is for.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const aiMajor = Number((createRequire(join(root, 'package.json'))('ai/package.json') as { version: string }).version.split('.')[0]);

/** What the user brings to each guide's snippets. */
const PRELUDES: Record<string, string> = {
  'ai-sdk.md': [
    "declare const weather: import('ai').Tool<{ city: string }, string>;",
    "declare const refund: import('ai').Tool<{ orderId: string; amount: number }, string>;",
    "declare const model: import('ai').LanguageModel;",
    "declare const messages: import('ai').ModelMessage[];",
  ].join('\n'),
  'langchain.md': [
    "declare const schema: import('zod').ZodObject<{ q: import('zod').ZodString }>;",
    'declare function searchFn(input: { q: string }): Promise<string>;',
    'declare function refundFn(input: { q: string }): Promise<string>;',
    "declare const gate: import('agent-safety-otel').CounterfactualEstimator;",
    'declare const model: unknown;',
    '/** From the `langchain` package (not installed here). */',
    'declare function createAgent(options: { model: unknown; tools: readonly unknown[]; checkpointer?: unknown }): unknown;',
  ].join('\n'),
  'mcp.md': [
    "declare const gate: import('agent-safety-otel').CounterfactualEstimator;",
    "declare const impact: import('agent-safety-otel').ActionMetadata;",
    'declare function removeFile(path: string): Promise<string>;',
  ].join('\n'),
  'openai-agents.md': 'declare function pay(amount: number): Promise<string>;',
};

const files = Object.keys(PRELUDES);
const blocks = new Map<string, { doc: string; source: string; preludeLines: number }>();
for (const doc of files) {
  const text = readFileSync(join(root, 'docs', 'adapters', doc), 'utf8');
  let n = 0;
  for (const m of text.matchAll(/```ts\n([\s\S]*?)```/g)) {
    const prelude = PRELUDES[doc];
    const name = join(root, 'docs', 'adapters', `__snippet_${doc.replace('.md', '')}_${n++}.ts`);
    blocks.set(name, { doc, source: `${prelude}\n${m[1]}export {};\n`, preludeLines: prelude.split('\n').length });
  }
}

const test = suite('adapters/docs-snippets');

test('each guide has its code block', () => {
  for (const doc of files) assert.ok([...blocks.values()].some(b => b.doc === doc), `${doc} has a ts block`);
});

test('every ts block of docs/adapters type-checks as written', () => {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    lib: ['lib.es2023.d.ts'],
    // The package as a user imports it (its sources, so no build is needed); `@openai/agents` re-exports agents-core.
    paths: {
      'agent-safety-otel': [join(root, 'src/index.ts')],
      'agent-safety-otel/*': [join(root, 'src/adapters/*/index.ts')],
      '@openai/agents': [join(root, 'node_modules/@openai/agents-core/dist/index.d.ts')],
    },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, version, ...rest) => {
    const block = blocks.get(resolve(name));
    return block === undefined ? getSourceFile(name, version, ...rest) : ts.createSourceFile(name, block.source, version);
  };
  host.fileExists = name => blocks.has(resolve(name)) || fileExists(name);
  const program = ts.createProgram([...blocks.keys()], options, host);
  const problems: string[] = [];
  for (const [name, block] of blocks) {
    const file = program.getSourceFile(name)!;
    for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) {
      const { line } = file.getLineAndCharacterOfPosition(d.start ?? 0);
      const lineText = block.source.split('\n')[line];
      if (aiMajor < 7 && lineText.includes('// AI SDK 7')) continue;
      if (aiMajor >= 7 && lineText.includes('// AI SDK 6')) continue;
      problems.push(`${block.doc} block line ${line + 1 - block.preludeLines}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}\n  ${lineText}`);
    }
  }
  assert.ok(problems.length === 0, `\n${problems.join("\n")}`);
});

test.run();
