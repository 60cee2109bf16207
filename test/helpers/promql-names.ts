/**
 * Reads the names a PromQL expression refers to, well enough to check our
 * own rules and dashboards: metric names (bare selectors and `__name__`
 * regexes) and label names (matchers and `by`/`without`/`on`/`ignoring`
 * lists). Not a parser; the expressions it reads are also checked by
 * `promtool` (rules) or written by us (dashboards).
 */

/** The names in one expression. */
export interface PromqlNames {
  /** Bare metric names, e.g. `agent_safety_circuit_breaker_state`. */
  metrics: string[];
  /** Regexes given as `__name__=~"…"`. */
  nameRegexes: string[];
  /** Label names used in matchers and grouping clauses (without `__name__` and `le`). */
  labels: string[];
}

const FUNCTIONS_AND_KEYWORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'atan2',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'predict_linear', 'changes', 'resets', 'abs', 'ceil',
  'floor', 'round', 'clamp', 'clamp_min', 'clamp_max', 'exp', 'ln', 'log2', 'log10', 'sqrt', 'histogram_quantile',
  'label_replace', 'label_join', 'vector', 'scalar', 'time', 'timestamp', 'absent', 'absent_over_time',
  'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'last_over_time',
  'quantile_over_time', 'stddev_over_time', 'present_over_time', 'sort', 'sort_desc', 'humanize', 'inf', 'nan',
]);

/** Names used in `expr`. Dashboard variables (`$agent`, `$__rate_interval`) are ignored. */
export function promqlNames(expr: string): PromqlNames {
  const metrics = new Set<string>();
  const nameRegexes = new Set<string>();
  const labels = new Set<string>();
  // Strings and durations out of the way first, remembering matchers.
  const withoutStrings = expr
    .replace(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g, (_, label: string, op: string, value: string) => {
      if (label === '__name__') {
        if (op === '=~') nameRegexes.add(value);
        else if (op === '=') metrics.add(value);
      } else {
        labels.add(label);
      }
      return ' ';
    })
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{?[a-zA-Z_:][a-zA-Z0-9_:]*\}?/g, ' ');
  // Grouping clauses: by (a, b), without (…), on (…), ignoring (…), group_left (…).
  for (const m of withoutStrings.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const label of m[1].split(',').map(s => s.trim()).filter(Boolean)) labels.add(label);
  }
  const rest = withoutStrings.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  // Remaining identifiers not followed by `(` are metric names.
  for (const m of rest.matchAll(/(?<![a-zA-Z0-9_.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![a-zA-Z0-9_:])\s*(\()?/g)) {
    const [, word, call] = m;
    if (call || FUNCTIONS_AND_KEYWORDS.has(word)) continue;
    if (/^\d/.test(word)) continue;
    metrics.add(word);
  }
  labels.delete('le');
  return { metrics: [...metrics], nameRegexes: [...nameRegexes], labels: [...labels] };
}

/** Label names used in Go templates of annotations (`$labels.x`). */
export function templateLabels(text: string): string[] {
  return [...text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)].map(m => m[1]);
}

/** Span attribute keys used in TraceQL fragments (`span.agent_safety.breaker.name`). */
export function traceqlAttributes(text: string): string[] {
  return [...text.matchAll(/\bspan\.([a-zA-Z_][a-zA-Z0-9_.]*[a-zA-Z0-9_])/g)].map(m => m[1]);
}
