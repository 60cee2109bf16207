/**
 * Keeps docs/telemetry.md true: every name `agent-safety-otel/semconv`
 * exports is shown in the table of its kind, the constants table is exactly
 * the module's exports with their values, every metric the source creates is
 * documented with its instrument and unit (and no other metric is), and no
 * telemetry name written as a literal anywhere in src/ is missing.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as semconv from '../../src/semconv.js';
import { backticked, markdownSections, tableRows } from '../helpers/markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(join(root, 'docs', 'telemetry.md'), 'utf8');
const sections = markdownSections(doc, 2);
const test = suite('docs/telemetry.md');

function section(title: string): string {
  const body = sections.get(title);
  if (body === undefined) throw new Error(`docs/telemetry.md has no "## ${title}" section`);
  return body;
}

/** Everything above the constants table: where each name must be explained, not only listed. */
const explained = doc.slice(0, doc.indexOf('\n## Constants'));
const explainedTokens = backticked(explained);
const exportsOf = Object.entries(semconv) as Array<[string, unknown]>;

function shown(tokens: Set<string>, value: string, prefix: boolean): boolean {
  if (tokens.has(value)) return true;
  return prefix && [...tokens].some(t => t.startsWith(value));
}

test('every span, event and metric name is in the table of its kind', () => {
  const kinds: Array<[string, string]> = [['SPAN_', 'Spans'], ['EVENT_', 'Span events'], ['METRIC_AGENT_SAFETY_', 'Metrics'], ['METRIC_GEN_AI_', 'Metrics']];
  let checked = 0;
  for (const [prefix, title] of kinds) {
    const tokens = backticked(section(title));
    for (const [name, value] of exportsOf) {
      if (!name.startsWith(prefix)) continue;
      assert.ok(shown(tokens, value as string, name.endsWith('_PREFIX')), `${name} (${String(value)}) missing from "## ${title}"`);
      checked++;
    }
  }
  assert.ok(checked >= 20, `only ${checked} names checked`);
});

test('every attribute key and value constant is explained above the constants table', () => {
  let checked = 0;
  for (const [name, value] of exportsOf) {
    if (typeof value === 'string' && /^(ATTR_|METRIC_ATTR_|[A-Z_]+_VALUE_)/.test(name)) {
      assert.ok(shown(explainedTokens, value, name.endsWith('_PREFIX')), `${name} (${value}) is not explained in docs/telemetry.md`);
      checked++;
    }
    if (Array.isArray(value) && typeof value[0] === 'string') {
      for (const v of value as string[]) assert.ok(explainedTokens.has(v), `${name}: value ${v} is not explained`);
      checked++;
    }
  }
  assert.ok(checked >= 80, `only ${checked} names checked`);
});

test('the constants table is exactly the exports of agent-safety-otel/semconv, with their values', () => {
  const rows = tableRows(section('Constants'));
  const documented = new Map(rows.map(r => [r[0].replace(/`/g, ''), r[1]]));
  assert.equal([...documented.keys()].sort(), exportsOf.map(([n]) => n).sort());
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  for (const [name, value] of exportsOf) {
    const cell = documented.get(name)!;
    if (name === 'PACKAGE_VERSION') {
      assert.is(value, pkg.version);
      assert.match(cell, /package\.json/);
    } else if (typeof value === 'string') {
      assert.is(cell, '`' + value + '`', name);
    } else if (Array.isArray(value)) {
      const expected = value.map(v => '`' + (Array.isArray(v) ? v.join(' → ') : String(v)) + '`').join(', ');
      assert.is(cell, expected, name);
    } else {
      assert.unreachable(`${name} has a value of an undocumented shape`);
    }
  }
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}
const sources = sourceFiles(join(root, 'src')).map(path => ({ path, text: readFileSync(path, 'utf8') }));

test('every metric the source creates is documented with its instrument and unit, and only those', () => {
  const values = new Map(exportsOf.filter(([n]) => n.startsWith('METRIC_') && !n.startsWith('METRIC_ATTR_')).map(([n, v]) => [n, v as string]));
  const created = new Map<string, { instrument: string; unit: string }>();
  for (const { path, text } of sources) {
    for (const m of text.matchAll(/\.create(Histogram|Counter|UpDownCounter|Gauge|ObservableCounter|ObservableUpDownCounter|ObservableGauge)\((\w+),\s*\{([\s\S]*?)\}\)/g)) {
      const metric = values.get(m[2]);
      assert.ok(metric !== undefined, `${path}: metric ${m[2]} is not a semconv METRIC_ constant`);
      const unit = /unit:\s*'([^']*)'/.exec(m[3]);
      assert.ok(unit, `${path}: ${m[2]} has no unit`);
      created.set(metric, { instrument: m[1], unit: unit[1] });
    }
  }
  assert.ok(created.size >= 11, `found only ${created.size} instruments in src/`);
  const rows = tableRows(section('Metrics'));
  assert.equal(rows.map(r => r[0].replace(/`/g, '')).sort(), [...created.keys()].sort(), 'the metrics table lists exactly the instruments src/ creates');
  for (const [metric, instrument, unit] of rows) {
    const actual = created.get(metric.replace(/`/g, ''))!;
    assert.ok(instrument.split(' ')[0] === actual.instrument, `${metric}: documented as ${instrument}, created as ${actual.instrument}`);
    assert.is(unit, '`' + actual.unit + '`', `${metric}: unit`);
  }
});

test('no telemetry name is written as a literal in src/ without being documented', () => {
  let checked = 0;
  for (const { path, text } of sources) {
    for (const m of text.matchAll(/'((?:agent_safety|gen_ai)\.[a-z0-9_.]+)'/g)) {
      const name = m[1];
      assert.ok(shown(explainedTokens, name, name.endsWith('.')), `${path}: '${name}' is not in docs/telemetry.md`);
      checked++;
    }
  }
  assert.ok(checked >= 50, `only ${checked} literals checked`);
});

test.run();
