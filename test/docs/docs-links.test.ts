/**
 * README.md and docs/*.md as a reader follows them: every relative link leads
 * to a file or folder that exists (and to a heading that exists, for links
 * into Markdown), and every `import { … } from 'agent-safety-otel…'` in their
 * code blocks names an entry point that exists and names it exports. Also
 * keeps docs/layout.md naming every folder of src/.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ENTRY_POINTS, exportsOf } from '../helpers/entry-points.js';
import { codeBlocks, headingAnchors, links } from '../helpers/markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter(n => n.endsWith('.md')).map(n => `docs/${n}`)];
const text = new Map(documents.map(d => [d, readFileSync(join(root, d), 'utf8')]));
const test = suite('README.md and docs/*.md: links and imports');

test('the documents are there', () => {
  for (const d of ['docs/api.md', 'docs/telemetry.md', 'docs/migrating-from-python.md', 'docs/rollback.md', 'docs/audit-format.md', 'docs/operations.md']) {
    assert.ok(text.has(d), `${d} is missing`);
  }
});

test('every relative link points to an existing file or folder, and to an existing heading', () => {
  const broken: string[] = [];
  let checked = 0;
  for (const [doc, body] of text) {
    for (const { target, line } of links(body)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const file = pathPart === '' ? join(root, doc) : resolve(dirname(join(root, doc)), decodeURIComponent(pathPart));
      const where = `${doc}:${line}: ${target}`;
      if (!file.startsWith(root) || !existsSync(file)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!file.endsWith('.md') || statSync(file).isDirectory()) {
        broken.push(`${where} (an anchor into something that is not a Markdown file)`);
        continue;
      }
      const anchors = headingAnchors(readFileSync(file, 'utf8'));
      if (!anchors.has(anchor)) broken.push(`${where} (no heading #${anchor} in ${relative(root, file)})`);
    }
  }
  assert.equal(broken, []);
  assert.ok(checked >= 40, `only ${checked} links checked`);
});

/** `import { a, b as c, type D } from 'spec'` and `import type { … } from 'spec'` statements of a code block. */
function namedImports(code: string): Array<{ spec: string; names: Array<{ name: string; typeOnly: boolean }>; statement: string }> {
  const found = [];
  for (const m of code.matchAll(/import\s+(type\s+)?([^;'"]*?)\s+from\s+['"]([^'"]+)['"]/g)) {
    const clause = m[2].trim();
    const named = /^\{([\s\S]*)\}$/.exec(clause);
    const names = named
      ? named[1]
          .split(',')
          .map(s => s.trim())
          .filter(Boolean)
          .map(s => ({ name: s.replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim(), typeOnly: Boolean(m[1]) || s.startsWith('type ') }))
      : [{ name: clause === '' ? '' : `default or namespace import "${clause}"`, typeOnly: false }];
    found.push({ spec: m[3], names, statement: m[0].replace(/\s+/g, ' ') });
  }
  return found;
}

test('every import from the package in a code block names an entry point and what it exports', () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const [doc, body] of text) {
    for (const block of codeBlocks(body)) {
      if (!['ts', 'js', 'mjs', 'typescript', 'javascript'].includes(block.lang)) continue;
      for (const { spec, names, statement } of namedImports(block.code)) {
        if (spec !== 'agent-safety-otel' && !spec.startsWith('agent-safety-otel/')) continue;
        const where = `${doc}:${block.line}: ${statement}`;
        if (!ENTRY_POINTS.has(spec)) {
          wrong.push(`${where}: ${spec} is not an entry point`);
          continue;
        }
        const { values, types } = exportsOf(spec);
        for (const { name, typeOnly } of names) {
          checked++;
          if (values.has(name)) continue;
          if (typeOnly && types.has(name)) continue;
          const home = [...ENTRY_POINTS.keys()].filter(p => exportsOf(p).values.has(name) || exportsOf(p).types.has(name));
          wrong.push(`${where}: ${spec} does not export ${types.has(name) ? `the value ${name} (it is a type: import type)` : name}${home.length ? ` (it is in ${home.join(', ')})` : ''}`);
        }
      }
    }
  }
  assert.equal(wrong, []);
  assert.ok(checked >= 30, `only ${checked} imported names checked`);
});

test('the import checker itself catches a name from the wrong entry point', () => {
  const [bad] = namedImports("import { InMemoryAuditSink, type GuardOptions } from 'agent-safety-otel';");
  assert.is(bad.spec, 'agent-safety-otel');
  assert.equal(bad.names, [
    { name: 'InMemoryAuditSink', typeOnly: false },
    { name: 'GuardOptions', typeOnly: true },
  ]);
  const { values, types } = exportsOf('agent-safety-otel');
  assert.not.ok(values.has('InMemoryAuditSink'));
  assert.ok(types.has('GuardOptions'));
  assert.ok(exportsOf('agent-safety-otel/exporters').values.has('InMemoryAuditSink'));
});

test('docs/layout.md names every folder of src/', () => {
  const layout = text.get('docs/layout.md')!;
  const folders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (!statSync(path).isDirectory()) continue;
      folders.push(relative(root, path));
      walk(path);
    }
  };
  walk(join(root, 'src'));
  assert.ok(folders.length >= 10);
  for (const folder of folders) {
    const [, layer, room] = folder.split('/');
    const named = room === undefined ? layout.includes(`src/${layer}/`) : layout.includes(`\`${room}\``) || layout.includes(`src/${layer}/${room}`);
    assert.ok(named, `${folder} is not described in docs/layout.md`);
  }
});

test.run();
