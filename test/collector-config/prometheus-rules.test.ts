/**
 * collector-config/prometheus/: the alert rules pass `promtool check rules`
 * and their unit tests (`promtool test rules`), every rule is tested firing
 * and not firing, the compose stack's prometheus.yml passes `promtool check
 * config`, and the rules use the names Prometheus really stores for the
 * package's metrics and attributes (built from the package's constants: a
 * renamed metric or attribute breaks this test).
 *
 * Needs promtool (Debian package `prometheus`): fails, never skips, without it.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { ATTR_AGENT_SAFETY_BREAKER_NAME, ATTR_AGENT_SAFETY_IMPACT_ENFORCED, ATTR_AGENT_SAFETY_POLICY_DECISION, METRIC_AGENT_SAFETY_POLICY_DECISIONS, METRIC_ATTR_DECISION, METRIC_ATTR_REASON, ATTR_ERROR_TYPE, ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_TOOL_NAME, METRIC_AGENT_SAFETY_AUDIT_BACKLOG, METRIC_AGENT_SAFETY_AUDIT_DEAD_LETTERS, METRIC_AGENT_SAFETY_AUDIT_DROPPED, METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, METRIC_AGENT_SAFETY_GATE_DECISIONS, METRIC_AGENT_SAFETY_STORE_ERRORS, METRIC_ATTR_ENFORCED, METRIC_ATTR_FROM, METRIC_ATTR_OUTCOME, METRIC_ATTR_SINK, METRIC_ATTR_STATE, METRIC_ATTR_STORE, METRIC_ATTR_TO, METRIC_ATTR_VERDICT, METRIC_GEN_AI_EXECUTE_TOOL_DURATION } from '../../src/semconv.js';
import { PACKAGE_METRICS, allPackageSeriesNames, promLabel, promName } from '../helpers/prometheus-names.js';
import type { PackageMetric } from '../helpers/prometheus-names.js';
import { promtool, requireBinary } from '../helpers/prometheus.js';
import { promqlNames, templateLabels, traceqlAttributes } from '../helpers/promql-names.js';
import { markdownSections, tableRows } from '../helpers/markdown.js';
import * as semconv from '../../src/semconv.js';
import * as internalSemconv from '../../src/instrumentation/shared/semconv.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'collector-config', 'prometheus');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleTest {
  name: string;
  alert_rule_test: { eval_time: string; alertname: string; exp_alerts: unknown[] }[];
}

const rulesText = readFileSync(join(dir, 'alerts.yml'), 'utf8');
const rules: Rule[] = (parse(rulesText, { uniqueKeys: true }) as { groups: { rules: Rule[] }[] }).groups.flatMap(g => g.rules);
const ruleTests: RuleTest[] = (parse(readFileSync(join(dir, 'alerts.test.yml'), 'utf8'), { uniqueKeys: true }) as { tests: RuleTest[] }).tests;

function metric(name: string): PackageMetric {
  const found = PACKAGE_METRICS.find(m => m.name === name);
  if (!found) throw new Error(`no package metric ${name}`);
  return found;
}

function rule(name: string): Rule {
  const found = rules.find(r => r.alert === name);
  if (!found) throw new Error(`alerts.yml has no rule ${name}; it has ${rules.map(r => r.alert).join(', ')}`);
  return found;
}

/** Names that may appear in the rules: the package's metrics and attributes, as Prometheus names them. */
const packageSeries = allPackageSeriesNames();
const packageLabels = new Set(
  [
    ATTR_GEN_AI_AGENT_ID,
    ATTR_AGENT_SAFETY_BREAKER_NAME,
    ATTR_GEN_AI_TOOL_NAME,
    ATTR_GEN_AI_OPERATION_NAME,
    ATTR_ERROR_TYPE,
    METRIC_ATTR_STATE,
    METRIC_ATTR_STORE,
    METRIC_ATTR_FROM,
    METRIC_ATTR_TO,
    METRIC_ATTR_OUTCOME,
    METRIC_ATTR_VERDICT,
    METRIC_ATTR_ENFORCED,
    METRIC_ATTR_SINK,
    METRIC_ATTR_DECISION,
    METRIC_ATTR_REASON,
  ].map(promLabel),
);
/** Labels Prometheus or the Collector add (target and exporter identity). */
const infrastructureLabels = new Set(['job', 'instance', 'exporter', 'otel_scope_name', 'otel_scope_version']);

const test = suite('Prometheus alert rules');

test('promtool is installed (the rule tests fail, not skip, without it)', () => {
  assert.ok(requireBinary('promtool'));
});

test('promtool check rules: alerts.yml is valid and has every rule', () => {
  const run = promtool(['check', 'rules', 'alerts.yml'], dir);
  assert.is(run.status, 0, run.output);
  assert.match(run.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('promtool test rules: every unit test in alerts.test.yml passes', () => {
  const run = promtool(['test', 'rules', 'alerts.test.yml'], dir);
  assert.is(run.status, 0, run.output);
  assert.match(run.output, /SUCCESS/);
});

test('the unit tests can fail: a rule with a longer `for:` breaks them', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'agent-safety-rules-'));
  try {
    cpSync(join(dir, 'alerts.test.yml'), join(tmp, 'alerts.test.yml'));
    const mutated = rulesText.replace(/for: 5m/, 'for: 7m');
    assert.is.not(mutated, rulesText);
    writeFileSync(join(tmp, 'alerts.yml'), mutated);
    const run = promtool(['test', 'rules', 'alerts.test.yml'], tmp);
    assert.is.not(run.status, 0, 'promtool accepted a rule that no longer matches its tests');
    assert.match(run.output, /FAILED/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('every rule is unit-tested both firing and not firing', () => {
  for (const r of rules) {
    const cases = ruleTests.flatMap(t => t.alert_rule_test).filter(c => c.alertname === r.alert);
    assert.ok(cases.some(c => c.exp_alerts.length > 0), `${r.alert} has no test where it fires`);
    assert.ok(cases.some(c => c.exp_alerts.length === 0), `${r.alert} has no test where it stays silent`);
  }
  const tested = new Set(ruleTests.flatMap(t => t.alert_rule_test).map(c => c.alertname));
  for (const name of tested) assert.ok(rules.some(r => r.alert === name), `alerts.test.yml tests an unknown rule ${name}`);
});

test('every rule has a severity, a summary and a description that says what to do', () => {
  for (const r of rules) {
    assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
    assert.ok((r.annotations?.summary ?? '').length > 20, `${r.alert}: summary`);
    assert.ok((r.annotations?.description ?? '').length > 150, `${r.alert}: description`);
    assert.ok(r.for, `${r.alert}: a for: duration (the live test shortens it)`);
  }
});

test('the rules use only the names Prometheus stores for the package (from its constants)', () => {
  for (const r of rules) {
    const names = promqlNames(r.expr);
    for (const m of names.metrics) {
      assert.ok(packageSeries.has(m) || m.startsWith('otelcol_'), `${r.alert}: ${m} is not a metric of the package (nor a Collector metric)`);
    }
    for (const label of [...names.labels, ...templateLabels(Object.values(r.annotations ?? {}).join('\n'))]) {
      assert.ok(packageLabels.has(label) || infrastructureLabels.has(label), `${r.alert}: label ${label} is not an attribute of the package`);
    }
  }
});

test('the TraceQL the annotations suggest uses the package attribute keys', () => {
  const text = rules.map(r => Object.values(r.annotations ?? {}).join('\n')).join('\n');
  const attrs = traceqlAttributes(text);
  assert.ok(attrs.length >= 2);
  for (const a of attrs) assert.ok([ATTR_AGENT_SAFETY_BREAKER_NAME, ATTR_AGENT_SAFETY_IMPACT_ENFORCED, ATTR_AGENT_SAFETY_POLICY_DECISION, ATTR_GEN_AI_AGENT_ID].includes(a), a);
});

test('docs/operations.md lists every rule of alerts.yml with its severity, and no other', () => {
  const alerting = markdownSections(readFileSync(join(root, 'docs', 'operations.md'), 'utf8'), 2).get('Alerting') ?? '';
  const rows = tableRows(alerting).filter(row => /^`AgentSafety\w+`$/.test(row[0]));
  const listed = new Map(rows.map(row => [row[0].slice(1, -1), row[row.length - 1]]));
  assert.equal([...listed.keys()].sort(), rules.map(r => r.alert).sort(), 'the Alerting table names exactly the rules');
  for (const r of rules) assert.is(listed.get(r.alert), r.labels?.severity, `${r.alert}: severity in the table`);
});

test('the helper\'s PACKAGE_METRICS is every metric name the package defines', () => {
  const defined = Object.entries({ ...internalSemconv, ...semconv })
    .filter(([k, v]) => k.startsWith('METRIC_') && !k.startsWith('METRIC_ATTR_') && typeof v === 'string')
    .map(([, v]) => v as string);
  assert.equal(PACKAGE_METRICS.map(m => m.name).sort(), [...new Set(defined)].sort());
});

test('docs/operations.md gives every package metric its Prometheus names on both paths', () => {
  const section = markdownSections(readFileSync(join(root, 'docs', 'operations.md'), 'utf8'), 3).get('Metric names on both paths') ?? '';
  const rows = tableRows(section);
  const first = (cell: string): string => /`([^`]+)`/.exec(cell)?.[1] ?? '';
  const seen: string[] = [];
  for (const [metricCell, directCell, collectorCell] of rows) {
    const name = first(metricCell);
    const m = PACKAGE_METRICS.find(pm => pm.name === name);
    if (!m) {
      assert.unreachable(`the table names ${name}, which is not a package metric`);
      return;
    }
    seen.push(name);
    assert.ok(metricCell.includes(`(\`${m.unit}\``), `${name}: unit ${m.unit}`);
    const suffix = m.kind === 'histogram' ? '_bucket' : '';
    const direct = promName(m, 'direct') + suffix;
    const collector = promName(m, 'collector') + suffix;
    assert.is(first(directCell), direct, `${name}: scraped from the app`);
    if (collectorCell === 'same') assert.is(collector, direct, `${name}: "same" through the Collector`);
    else assert.is(first(collectorCell), collector, `${name}: through the Collector`);
  }
  assert.equal(seen.sort(), PACKAGE_METRICS.map(m => m.name).sort(), 'every metric, once');
});

/** Each rule watches the metric and labels it is about. */
const EXPECTED: { alert: string; metric: string; labels: string[] }[] = [
  { alert: 'AgentSafetyCircuitBreakerOpen', metric: METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_STATE, labels: [ATTR_GEN_AI_AGENT_ID, ATTR_AGENT_SAFETY_BREAKER_NAME, METRIC_ATTR_STATE] },
  { alert: 'AgentSafetyCircuitBreakerFlapping', metric: METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_TRANSITIONS, labels: [ATTR_GEN_AI_AGENT_ID, ATTR_AGENT_SAFETY_BREAKER_NAME, METRIC_ATTR_FROM, METRIC_ATTR_TO] },
  { alert: 'AgentSafetyRejectedCallsHigh', metric: METRIC_AGENT_SAFETY_CIRCUIT_BREAKER_CALLS, labels: [ATTR_GEN_AI_AGENT_ID, ATTR_AGENT_SAFETY_BREAKER_NAME, METRIC_ATTR_OUTCOME] },
  { alert: 'AgentSafetyGateBlocksSpiking', metric: METRIC_AGENT_SAFETY_GATE_DECISIONS, labels: [ATTR_GEN_AI_AGENT_ID, METRIC_ATTR_ENFORCED] },
  { alert: 'AgentSafetyPolicyDenialsSustained', metric: METRIC_AGENT_SAFETY_POLICY_DECISIONS, labels: [ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_TOOL_NAME, METRIC_ATTR_DECISION] },
  { alert: 'AgentSafetyPolicyBudgetExhausted', metric: METRIC_AGENT_SAFETY_POLICY_DECISIONS, labels: [ATTR_GEN_AI_AGENT_ID, ATTR_GEN_AI_TOOL_NAME, METRIC_ATTR_REASON] },
  { alert: 'AgentSafetyAuditBacklogGrowing', metric: METRIC_AGENT_SAFETY_AUDIT_BACKLOG, labels: [] },
  { alert: 'AgentSafetyAuditExportFailing', metric: METRIC_AGENT_SAFETY_AUDIT_EXPORT_FAILURES, labels: [] },
  { alert: 'AgentSafetyAuditUnavailable', metric: METRIC_AGENT_SAFETY_AUDIT_REFUSED_CALLS, labels: [] },
  { alert: 'AgentSafetyAuditRecordsDropped', metric: METRIC_AGENT_SAFETY_AUDIT_DROPPED, labels: [] },
  { alert: 'AgentSafetyAuditDeadLetters', metric: METRIC_AGENT_SAFETY_AUDIT_DEAD_LETTERS, labels: [] },
  { alert: 'AgentSafetyFleetStoreDown', metric: METRIC_AGENT_SAFETY_STORE_ERRORS, labels: [METRIC_ATTR_STORE] },
  { alert: 'AgentSafetyToolErrorRateHigh', metric: METRIC_GEN_AI_EXECUTE_TOOL_DURATION, labels: [ATTR_GEN_AI_TOOL_NAME, ATTR_ERROR_TYPE] },
];

for (const { alert, metric: name, labels } of EXPECTED) {
  test(`${alert} watches ${name} by ${labels.join(', ') || 'its series'} under its Prometheus name on both paths`, () => {
    const names = promqlNames(rule(alert).expr);
    const m = metric(name);
    const direct = promName(m, 'direct');
    const collector = promName(m, 'collector');
    if (m.kind === 'histogram') {
      // The histogram's names differ between the paths: one regex must match both.
      assert.ok(names.nameRegexes.length > 0, `${alert} should select the histogram with a __name__ regex`);
      for (const re of names.nameRegexes) {
        const full = new RegExp(`^(?:${re})$`);
        assert.ok(full.test(`${direct}_count`), `${re} misses ${direct}_count (scraped from the app)`);
        assert.ok(full.test(`${collector}_count`), `${re} misses ${collector}_count (through the Collector)`);
      }
    } else {
      assert.is(direct, collector, `${name}: a curly-brace unit keeps the name the same on both paths`);
      assert.ok(names.metrics.includes(direct), `${alert} should use ${direct}; it uses ${names.metrics.join(', ')}`);
    }
    for (const label of labels) assert.ok(names.labels.includes(promLabel(label)), `${alert} should use the label ${promLabel(label)}`);
  });
}

test('promtool check config: the compose stack’s prometheus.yml and the rules it loads', () => {
  const run = promtool(['check', 'config', 'prometheus.yml'], dir);
  assert.is(run.status, 0, run.output);
  const config = parse(readFileSync(join(dir, 'prometheus.yml'), 'utf8'), { uniqueKeys: true }) as { rule_files: string[] };
  assert.equal(config.rule_files, ['alerts.yml']);
});

test.run();
