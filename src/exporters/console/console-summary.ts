/**
 * Short, readable summaries of the package's attributes and events for the
 * console tree: each safety pattern gets one phrase instead of a dozen
 * `key=value` pairs. Keys no summary knows are still shown as `key=value`.
 *
 * @module
 */

type Attrs = Readonly<Record<string, unknown>>;

const PREFIX = 'agent_safety.';
const MAX_VALUE = 72;

/** Keys never shown on the console (ids and hashes belong in a trace viewer). */
const NEVER = new Set([
  'agent_safety.call.outcome',
  'agent_safety.audit.chain_id',
  'agent_safety.audit.prev_hash',
  'agent_safety.audit.hash',
  'agent_safety.audit.format',
  'agent_safety.audit.seal_every',
  'agent_safety.compensated.trace_id',
  'agent_safety.compensated.span_id',
  'agent_safety.checkpoint.id',
  'agent_safety.rollback.target.id',
  'agent_safety.review.arguments_hash',
]);

/** Shortens `value` for a console line. */
export function formatValue(value: unknown, max = MAX_VALUE): string {
  const s = Array.isArray(value)
    ? value.join(', ')
    : typeof value === 'number' && !Number.isInteger(value)
      ? String(Number(value.toFixed(3)))
      : String(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function num(value: unknown, digits = 2): string {
  return typeof value === 'number' ? value.toFixed(digits) : String(value);
}

interface Summary {
  /** Keys this summary reads (hidden from the generic list). */
  keys: readonly string[];
  /** A phrase, or undefined when the keys are absent. */
  render(a: Attrs): string | undefined;
}

const k = (suffix: string): string => PREFIX + suffix;
const FACTOR = k('impact.factor.');

const SPAN_SUMMARIES: Summary[] = [
  {
    keys: [k('breaker.name'), k('breaker.state')],
    render: a => (a[k('breaker.name')] === undefined ? undefined : `breaker ${a[k('breaker.name')]}:${a[k('breaker.state')]}`),
  },
  {
    keys: [k('policy.decision'), k('policy.reason'), k('policy.rule'), k('policy.limit'), k('policy.remaining'), k('policy.retry_after_ms'), k('policy.waited_ms')],
    render: a => {
      const decision = a[k('policy.decision')];
      if (decision === undefined) return undefined;
      const by = a[k('policy.limit')] ?? a[k('policy.rule')];
      const left = a[k('policy.remaining')] === undefined ? '' : `, ${formatValue(a[k('policy.remaining')])} left`;
      const waited = a[k('policy.waited_ms')] === undefined ? '' : `, waited ${a[k('policy.waited_ms')]} ms`;
      const retry = a[k('policy.retry_after_ms')] === undefined ? '' : `, retry after ${a[k('policy.retry_after_ms')]} ms`;
      if (decision === 'allow') return `policy allow${by === undefined ? '' : ` (${by}${left}${waited})`}`;
      return `policy deny ${a[k('policy.reason')]}${by === undefined ? '' : ` by ${by}`}${retry}`;
    },
  },
  {
    keys: [k('policy.budget.name'), k('policy.budget.cost'), k('policy.budget.remaining')],
    render: a =>
      a[k('policy.budget.name')] === undefined
        ? undefined
        : `budget ${a[k('policy.budget.name')]}: cost ${formatValue(a[k('policy.budget.cost')])}, ${formatValue(a[k('policy.budget.remaining')])} left`,
  },
  {
    keys: [k('impact.proposed'), k('impact.counterfactual'), k('impact.delta'), k('impact.level'), k('impact.verdict'), k('impact.enforced'), k('impact.reason'), k('impact.cached')],
    render: a => {
      if (a[k('impact.level')] === undefined) return undefined;
      const cached = a[k('impact.cached')] === true ? ' (cached)' : '';
      const factors = Object.keys(a)
        .filter(key => key.startsWith(FACTOR))
        .map(key => `${key.slice(FACTOR.length)} ${num(a[key])}`)
        .join(', ');
      return `impact ${a[k('impact.level')]} Δ${num(a[k('impact.delta')])} ${a[k('impact.verdict')]}→${a[k('impact.enforced')] ?? '?'}${cached}${factors ? ` [${factors}]` : ''}`;
    },
  },
  {
    keys: [k('explanation.reasoning'), k('explanation.confidence')],
    render: a =>
      a[k('explanation.reasoning')] === undefined
        ? undefined
        : `why "${formatValue(a[k('explanation.reasoning')], 48)}"${a[k('explanation.confidence')] === undefined ? '' : ` (${num(a[k('explanation.confidence')])})`}`,
  },
  {
    keys: [k('checkpoint.safe_point'), k('checkpoint.name')],
    render: a => (a[k('checkpoint.safe_point')] === true ? 'checkpoint (safe point)' : a[k('checkpoint.safe_point')] === false ? 'checkpoint' : undefined),
  },
  {
    keys: [k('rollback.mode'), k('rollback.execute_hooks'), k('rollback.reason'), k('rollback.target.name'), k('rollback.steps'), k('rollback.outcome'), k('rollback.state_restored'), k('rollback.undone_count'), k('rollback.restored_count'), k('rollback.failed_count'), k('rollback.skipped_count')],
    render: a => {
      if (a[k('rollback.mode')] === undefined) return undefined;
      const counts = ['undone', 'restored', 'failed', 'skipped']
        .map(n => [n, a[k(`rollback.${n}_count`)]] as const)
        .filter(([, v]) => typeof v === 'number' && v > 0)
        .map(([n, v]) => `${v} ${n}`)
        .join(', ');
      const hooks = a[k('rollback.execute_hooks')] === false ? ', state only' : '';
      return `rollback to ${a[k('rollback.target.name')] ?? '?'} (${a[k('rollback.mode')]}${hooks}): ${a[k('rollback.outcome')] ?? '?'}${counts ? ` [${counts}]` : ''}`;
    },
  },
  {
    keys: [k('compensation.outcome'), k('compensation.attempts'), k('compensation.action_status')],
    render: a => {
      if (a[k('compensation.outcome')] === undefined && a[k('compensation.action_status')] === undefined) return undefined;
      const attempts = typeof a[k('compensation.attempts')] === 'number' && (a[k('compensation.attempts')] as number) > 1 ? ` after ${a[k('compensation.attempts')]} attempts` : '';
      return `${a[k('compensation.outcome')] ?? 'running'}${attempts} (action ${a[k('compensation.action_status')] ?? '?'})`;
    },
  },
  {
    keys: [k('audit.seq')],
    render: a => (a[k('audit.seq')] === undefined ? undefined : `audit#${a[k('audit.seq')]}`),
  },
];

const EVENT_SUMMARIES: Record<string, (a: Attrs) => string> = {
  [k('breaker.transition')]: a => `breaker ${a[k('breaker.from')]} → ${a[k('breaker.to')]} (${a[k('breaker.reason')]})`,
  [k('explanation')]: a => {
    const alternatives = a[k('explanation.alternatives')];
    return `explanation ${a[k('explanation.phase')]}${Array.isArray(alternatives) && alternatives.length ? `; alternatives: ${formatValue(alternatives, 60)}` : ''}`;
  },
  [k('review.requested')]: a => `review requested (impact ${a[k('impact.level')]} Δ${num(a[k('impact.delta')])}, ${a[k('review.timeout_ms')]} ms to answer)`,
  [k('review.answered')]: a => `review ${a[k('review.decision')]}${a[k('review.reviewer')] ? ` by ${a[k('review.reviewer')]}` : ''} (${a[k('review.reason')]})`,
  [k('compensation.retry')]: a => `attempt ${a[k('compensation.attempt')]} failed${a['error.type'] ? ` (${a['error.type']})` : ''}; retrying`,
  [k('checkpoint.evicted')]: a => `checkpoint ${a[k('checkpoint.name')] ?? ''} evicted${a[k('checkpoint.last_safe_point')] === true ? ' (it was the last safe point!)' : ''}`,
};

const SUMMARISED = new Set(SPAN_SUMMARIES.flatMap(s => s.keys));

/** The phrases for a span's `agent_safety.*` attributes. */
export function summarizeAttributes(attributes: Attrs): string[] {
  const out: string[] = [];
  for (const summary of SPAN_SUMMARIES) {
    const phrase = summary.render(attributes);
    if (phrase !== undefined) out.push(phrase);
  }
  for (const key of Object.keys(attributes)) {
    if (!key.startsWith(PREFIX) || NEVER.has(key) || SUMMARISED.has(key) || key.startsWith(FACTOR)) continue;
    out.push(`${key.slice(PREFIX.length)}=${formatValue(attributes[key])}`);
  }
  return out;
}

/** One line for an `agent_safety.*` span event, or undefined for other events. */
export function summarizeEvent(name: string, attributes: Attrs): string | undefined {
  if (!name.startsWith(PREFIX)) return undefined;
  const known = EVENT_SUMMARIES[name];
  if (known) return known(attributes);
  const rest = Object.keys(attributes)
    .filter(key => key.startsWith(PREFIX) && !NEVER.has(key))
    .map(key => `${key.slice(PREFIX.length)}=${formatValue(attributes[key])}`);
  return `${name.slice(PREFIX.length)}${rest.length ? ` ${rest.join(' ')}` : ''}`;
}
