/**
 * Keeps docs/api.md true to the entry points: its index lists exactly what
 * each entry point exports (values and types apart), the index files agree
 * with what the modules export at run time, and every exported name is
 * described in the section of the entry point it is imported from.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ENTRY_POINTS, exportsOf } from '../helpers/entry-points.js';
import { markdownSections, prose } from '../helpers/markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
const test = suite('docs/api.md');

const sorted = (names: Iterable<string>): string[] => [...names].sort();
const codeNames = (line: string): string[] => [...line.matchAll(/`([^`]+)`/g)].map(m => m[1]);

const index = markdownSections(markdownSections(doc, 2).get('Index of every export') ?? '', 3);

test('the index names every entry point of package.json, and only those', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const fromPackage = Object.keys(pkg.exports)
    .filter(k => k !== './package.json')
    .map(k => (k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`));
  assert.equal(sorted(ENTRY_POINTS.keys()), sorted(fromPackage));
  assert.equal(sorted(index.keys()), sorted(fromPackage.map(p => `From \`${p}\``)));
});

test('the index lists exactly the values and types of each entry point', () => {
  for (const path of ENTRY_POINTS.keys()) {
    const body = index.get(`From \`${path}\``)!;
    const { values, types } = exportsOf(path);
    const valuesLine = /^Values: (.*)$/m.exec(body)?.[1] ?? '';
    const typesLine = /^Types: (.*)$/m.exec(body)?.[1] ?? '';
    if (path === 'agent-safety-otel/semconv') {
      assert.match(valuesLine, new RegExp(`the ${values.size} constants .*telemetry\\.md#constants`), 'semconv points to its table');
    } else {
      assert.equal(sorted(codeNames(valuesLine)), sorted(values), `values of ${path}`);
    }
    assert.equal(sorted(codeNames(typesLine)), sorted(types), `types of ${path}`);
  }
});

test('the index files agree with what the entry points export at run time', async () => {
  for (const [path, file] of ENTRY_POINTS) {
    if (path.endsWith('/register')) continue; // importing it starts the SDK; its three exports are parsed like the others
    const mod = (await import(join(root, file))) as Record<string, unknown>;
    assert.equal(sorted(Object.keys(mod)), sorted(exportsOf(path).values), path);
  }
  assert.equal(sorted(exportsOf('agent-safety-otel/register').values), ['instrumentation', 'sdk', 'shutdown']);
});

/** The reference part of the document for one entry point: from its `## \`path\`` heading to the next entry point's (the main entry's spans several `##` sections). */
function sectionOf(path: string): string {
  const body = doc.slice(0, doc.indexOf('\n## Index of every export'));
  const starts = [...ENTRY_POINTS.keys()].map(p => ({ p, at: body.indexOf(`\n## \`${p}\`\n`) }));
  for (const s of starts) assert.ok(s.at >= 0, `docs/api.md has no "## \`${s.p}\`" section`);
  const start = starts.find(s => s.p === path)!.at;
  const next = Math.min(...starts.map(s => s.at).filter(at => at > start), body.length);
  return body.slice(start, next);
}

test('every exported name is described in the section of its entry point', () => {
  let checked = 0;
  const missing: string[] = [];
  for (const path of ENTRY_POINTS.keys()) {
    if (path === 'agent-safety-otel/semconv') continue; // docs/telemetry.md, checked by telemetry.test.ts
    const text = prose(sectionOf(path));
    const spans = [...text.matchAll(/`([^`\n]+)`/g)].map(m => m[1]);
    const { values, types } = exportsOf(path);
    for (const name of [...values, ...types]) {
      const word = new RegExp(`(^|[^\\w$.])${name.replace(/\$/g, '\\$')}(?![\\w$])`);
      if (!spans.some(s => word.test(s))) missing.push(`${name} (${path})`);
      checked++;
    }
  }
  assert.equal(missing, [], 'names not described in the section of their entry point in docs/api.md');
  assert.ok(checked > 200, `only ${checked} names checked`);
});

test.run();
