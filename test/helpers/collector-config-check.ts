/**
 * An offline structural checker for OpenTelemetry Collector configuration
 * files. There is no Collector binary here and no published schema of a whole
 * configuration, so this checks what the Collector itself checks at start-up
 * (components defined, pipelines well formed, connectors joining pipelines of
 * matching signals, extensions enabled) plus the rules of this project:
 *
 * - current component names only (no deprecated aliases);
 * - `memory_limiter` first in every pipeline fed by a receiver;
 * - explicit endpoints on OTLP receivers;
 * - the audit path: the pipelines that carry audit spans run no processor but
 *   `memory_limiter` (nothing that samples, filters, batches in memory or
 *   rewrites spans), and every exporter on it is durable: a persistent
 *   `sending_queue` on an enabled `file_storage` extension and
 *   `retry_on_failure.max_elapsed_time: 0`; a `file` exporter (which has no
 *   queue) must append; Kafka must wait for all replicas.
 *
 * Audit spans are found by the routing connector routes whose condition tests
 * the audit attribute; when a configuration has no such route, every traces
 * pipeline carries them.
 */
import { parseDocument } from 'yaml';

type Obj = Record<string, unknown>;
type Kind = 'receivers' | 'processors' | 'exporters' | 'connectors' | 'extensions';
type Signal = 'traces' | 'metrics' | 'logs';

/**
 * Component types of collector-contrib v0.159 that this project's
 * configurations may use, by kind (a deliberately short list: a type not here
 * is reported, so that a typo or an unchecked component is noticed).
 */
export const KNOWN_TYPES: Record<Kind, readonly string[]> = {
  receivers: ['otlp', 'prometheus', 'kafka', 'host_metrics', 'file_log', 'jaeger', 'zipkin'],
  processors: [
    'memory_limiter', 'batch', 'tail_sampling', 'probabilistic_sampler', 'filter', 'transform', 'attributes',
    'resource', 'resource_detection', 'k8s_attributes', 'redaction', 'span', 'cumulative_to_delta',
  ],
  exporters: ['otlp_grpc', 'otlp_http', 'kafka', 'file', 'prometheus', 'prometheus_remote_write', 'load_balancing', 'debug'],
  connectors: ['routing', 'span_metrics', 'forward', 'count'],
  extensions: ['health_check', 'file_storage', 'pprof', 'zpages'],
};

/**
 * Deprecated aliases and their current names: core v0.144 (`otlp_grpc`,
 * `otlp_http`) and the contrib renames of 2026 (opentelemetry-collector-contrib#45339).
 */
export const DEPRECATED_TYPES: Record<Kind, Record<string, string>> = {
  receivers: { hostmetrics: 'host_metrics', filelog: 'file_log', prometheusremotewrite: 'prometheus_remote_write' },
  processors: { resourcedetection: 'resource_detection', k8sattributes: 'k8s_attributes', cumulativetodelta: 'cumulative_to_delta' },
  exporters: { otlp: 'otlp_grpc', otlphttp: 'otlp_http', loadbalancing: 'load_balancing', prometheusremotewrite: 'prometheus_remote_write' },
  connectors: { spanmetrics: 'span_metrics' },
  extensions: {},
};

/** Processors allowed on the audit path. */
const AUDIT_SAFE_PROCESSORS = new Set(['memory_limiter']);
/** Exporters that queue through the Collector's exporter helper (and so support `sending_queue` / `retry_on_failure`). */
const QUEUEING_EXPORTERS = new Set(['otlp_grpc', 'otlp_http', 'kafka', 'load_balancing', 'prometheus_remote_write']);

const PIPELINE_ID = /^(traces|metrics|logs)(\/[^/]+)?$/;
const COMPONENT_ID = /^([a-z][a-z0-9_]*)(\/[^/]+)?$/;

/** Options of {@link checkCollectorConfig}. */
export interface CheckOptions {
  /** The span attribute that marks audit spans (the package's `agent_safety.audit.seq`). */
  auditAttribute: string;
  /** Require an audit route (a gateway) instead of treating every traces pipeline as audit-carrying. @default false */
  requireAuditRoute?: boolean;
}

/** What the checker learned, for further assertions. */
export interface CheckResult {
  problems: string[];
  /** Pipelines that carry audit spans and must keep every one. */
  auditPipelines: string[];
  /** The parsed configuration (undefined when it did not parse). */
  config: Obj | undefined;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(id: string): string {
  return id.split('/')[0];
}

function signalOf(pipeline: string): Signal {
  return pipeline.split('/')[0] as Signal;
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

function walkStrings(value: unknown, visit: (s: string, path: string) => void, path = ''): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, visit, `${path}[${i}]`));
  else if (isObj(value)) for (const [k, v] of Object.entries(value)) walkStrings(v, visit, path ? `${path}.${k}` : k);
}

function isZeroDuration(v: unknown): boolean {
  return v === 0 || v === '0' || (typeof v === 'string' && /^0+(?:ns|us|µs|ms|s|m|h)?$/.test(v));
}

/** Checks a Collector configuration file's text. */
export function checkCollectorConfig(text: string, options: CheckOptions): CheckResult {
  const problems: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    return { problems: doc.errors.map(e => `YAML: ${e.message}`), auditPipelines: [], config: undefined };
  }
  const config = doc.toJS() as unknown;
  if (!isObj(config)) return { problems: ['the file is not a mapping'], auditPipelines: [], config: undefined };

  for (const key of Object.keys(config)) {
    if (!['receivers', 'processors', 'exporters', 'connectors', 'extensions', 'service'].includes(key)) {
      problems.push(`unknown top-level key ${key}`);
    }
  }
  const section = (kind: Kind): Obj => (isObj(config[kind]) ? (config[kind] as Obj) : {});
  const components: Record<Kind, Obj> = {
    receivers: section('receivers'),
    processors: section('processors'),
    exporters: section('exporters'),
    connectors: section('connectors'),
    extensions: section('extensions'),
  };

  // Component ids and types.
  for (const kind of Object.keys(components) as Kind[]) {
    for (const id of Object.keys(components[kind])) {
      if (!COMPONENT_ID.test(id)) {
        problems.push(`${kind}: malformed component id ${id}`);
        continue;
      }
      const type = typeOf(id);
      const current = DEPRECATED_TYPES[kind][type];
      if (current) problems.push(`${kind}: ${id} uses the deprecated alias ${type}; use ${current}`);
      else if (!KNOWN_TYPES[kind].includes(type)) problems.push(`${kind}: ${id} has an unknown type ${type}`);
    }
  }

  // ${env:VAR} / ${env:VAR:-default} only.
  walkStrings(config, (s, path) => {
    for (const m of s.matchAll(/\$\{([^}]*)\}/g)) {
      if (!/^env:[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?$/.test(m[1])) problems.push(`${path}: bad substitution \${${m[1]}}`);
    }
    if (/\$[A-Za-z_]/.test(s.replace(/\$\$/g, ''))) problems.push(`${path}: bare $VAR (use \${env:VAR})`);
  });

  const service = isObj(config.service) ? config.service : {};
  const serviceExtensions = list(service.extensions);
  for (const ext of serviceExtensions) {
    if (!(ext in components.extensions)) problems.push(`service.extensions: ${ext} is not defined`);
  }
  for (const ext of Object.keys(components.extensions)) {
    if (!serviceExtensions.includes(ext)) problems.push(`extensions: ${ext} is defined but not enabled in service.extensions`);
  }

  const pipelines = isObj(service.pipelines) ? (service.pipelines as Record<string, Obj>) : {};
  if (Object.keys(pipelines).length === 0) problems.push('service.pipelines: none');

  const used: Record<Kind, Set<string>> = {
    receivers: new Set(),
    processors: new Set(),
    exporters: new Set(),
    connectors: new Set(),
    extensions: new Set(serviceExtensions),
  };
  const connectorIn = new Map<string, string[]>(); // connector -> pipelines it receives from (as exporter there)
  const connectorOut = new Map<string, string[]>(); // connector -> pipelines it feeds (as receiver there)

  for (const [name, p] of Object.entries(pipelines)) {
    if (!PIPELINE_ID.test(name)) {
      problems.push(`service.pipelines: bad pipeline id ${name} (expected traces|metrics|logs[/name])`);
      continue;
    }
    if (!isObj(p)) {
      problems.push(`${name}: not a mapping`);
      continue;
    }
    for (const key of Object.keys(p)) {
      if (!['receivers', 'processors', 'exporters'].includes(key)) problems.push(`${name}: unknown key ${key}`);
    }
    const receivers = list(p.receivers);
    const processors = list(p.processors);
    const exporters = list(p.exporters);
    if (receivers.length === 0) problems.push(`${name}: no receivers`);
    if (exporters.length === 0) problems.push(`${name}: no exporters`);
    for (const r of receivers) {
      if (r in components.connectors) {
        used.connectors.add(r);
        connectorOut.set(r, [...(connectorOut.get(r) ?? []), name]);
      } else if (r in components.receivers) used.receivers.add(r);
      else problems.push(`${name}: receiver ${r} is not defined`);
    }
    for (const x of processors) {
      if (x in components.processors) used.processors.add(x);
      else problems.push(`${name}: processor ${x} is not defined`);
    }
    if (new Set(processors).size !== processors.length) problems.push(`${name}: a processor is listed twice`);
    for (const e of exporters) {
      if (e in components.connectors) {
        used.connectors.add(e);
        connectorIn.set(e, [...(connectorIn.get(e) ?? []), name]);
      } else if (e in components.exporters) used.exporters.add(e);
      else problems.push(`${name}: exporter ${e} is not defined`);
    }
    const fedByReceiver = receivers.some(r => r in components.receivers);
    if (fedByReceiver && typeOf(processors[0] ?? '') !== 'memory_limiter') {
      problems.push(`${name}: memory_limiter must be the first processor of a pipeline fed by a receiver (got ${processors.join(', ') || 'none'})`);
    }
    processors.forEach((x, i) => {
      if (i > 0 && typeOf(x) === 'memory_limiter') problems.push(`${name}: memory_limiter must come first, not at position ${i + 1}`);
    });
    if (typeOf(processors[0] ?? '') === 'memory_limiter' && !fedByReceiver) {
      // Allowed but pointless after a connector; not a problem.
    }
  }

  for (const kind of ['receivers', 'processors', 'exporters', 'connectors'] as const) {
    for (const id of Object.keys(components[kind])) {
      if (!used[kind].has(id)) problems.push(`${kind}: ${id} is defined but used in no pipeline`);
    }
  }

  // Connectors: an exporter in one pipeline, a receiver in another, signals that fit.
  for (const id of Object.keys(components.connectors)) {
    const from = connectorIn.get(id) ?? [];
    const to = connectorOut.get(id) ?? [];
    if (from.length === 0) problems.push(`connectors: ${id} is an exporter in no pipeline`);
    if (to.length === 0) problems.push(`connectors: ${id} is a receiver in no pipeline`);
    const type = typeOf(id);
    for (const a of from) {
      for (const b of to) {
        const sa = signalOf(a);
        const sb = signalOf(b);
        const ok =
          type === 'routing' || type === 'forward'
            ? sa === sb
            : type === 'span_metrics'
              ? sa === 'traces' && sb === 'metrics'
              : type === 'count'
                ? sb === 'metrics'
                : true;
        if (!ok) problems.push(`connectors: ${id} cannot join ${a} (${sa}) to ${b} (${sb})`);
      }
      if (to.includes(a)) problems.push(`connectors: ${id} feeds its own pipeline ${a}`);
    }
  }

  // Routing connectors: routes name existing pipelines that receive from the connector.
  const auditRoutes: { connector: string; pipelines: string[] }[] = [];
  for (const [id, cfg] of Object.entries(components.connectors)) {
    if (typeOf(id) !== 'routing') continue;
    const c = isObj(cfg) ? cfg : {};
    if ('match_once' in c) problems.push(`connectors: ${id}.match_once was removed in v0.120.0`);
    const targets = [...list(c.default_pipelines)];
    const table = Array.isArray(c.table) ? (c.table as Obj[]) : [];
    if (table.length === 0) problems.push(`connectors: ${id} has an empty routing table`);
    for (const [i, route] of table.entries()) {
      const condition = String(route.condition ?? route.statement ?? '');
      if (!condition) problems.push(`connectors: ${id}.table[${i}] has no condition`);
      const routePipelines = list(route.pipelines);
      targets.push(...routePipelines);
      if (condition.includes(`attributes["${options.auditAttribute}"]`)) {
        if (route.context !== 'span') problems.push(`connectors: ${id}.table[${i}] routes audit spans but its context is ${String(route.context ?? 'resource')}, not span`);
        auditRoutes.push({ connector: id, pipelines: routePipelines.filter(p => !list(c.default_pipelines).includes(p)) });
      }
    }
    for (const p of targets) {
      if (!(p in pipelines)) problems.push(`connectors: ${id} routes to ${p}, which is not a pipeline`);
      else if (!list(pipelines[p].receivers).includes(id)) problems.push(`connectors: ${id} routes to ${p}, but ${p} does not receive from ${id}`);
    }
  }

  // The audit path.
  const tracesPipelines = Object.keys(pipelines).filter(p => PIPELINE_ID.test(p) && signalOf(p) === 'traces');
  let auditPipelines: string[];
  let upstream: string[] = [];
  if (auditRoutes.length > 0) {
    auditPipelines = [...new Set(auditRoutes.flatMap(r => r.pipelines))];
    upstream = [...new Set(auditRoutes.flatMap(r => connectorIn.get(r.connector) ?? []))];
    if (auditPipelines.length === 0) problems.push('the audit route sends audit spans only to default pipelines: they need a pipeline of their own');
  } else {
    if (options.requireAuditRoute) problems.push(`no routing connector routes spans with ${options.auditAttribute} to a pipeline of their own`);
    auditPipelines = tracesPipelines;
  }
  // Whatever an audit pipeline exports to through a connector is on the audit path too.
  for (let i = 0; i < auditPipelines.length; i++) {
    for (const e of list(pipelines[auditPipelines[i]]?.exporters)) {
      for (const next of connectorOut.get(e) ?? []) if (!auditPipelines.includes(next)) auditPipelines.push(next);
    }
  }

  const storageExtensions = new Set(serviceExtensions.filter(e => typeOf(e) === 'file_storage'));
  for (const name of [...upstream, ...auditPipelines]) {
    const p = pipelines[name];
    if (!isObj(p)) continue;
    for (const x of list(p.processors)) {
      if (!AUDIT_SAFE_PROCESSORS.has(typeOf(x))) {
        problems.push(`${name}: carries audit spans, but processor ${x} may drop, delay in memory or rewrite them (only memory_limiter is allowed)`);
      }
    }
  }
  for (const name of auditPipelines) {
    const p = pipelines[name];
    if (!isObj(p)) continue;
    for (const e of list(p.exporters)) {
      if (e in components.connectors) continue;
      const cfg = isObj(components.exporters[e]) ? (components.exporters[e] as Obj) : {};
      const type = typeOf(e);
      if (type === 'file') {
        if (cfg.append !== true) problems.push(`${name}: audit exporter ${e} must append (append: true); by default it truncates the file on start`);
        if ('sending_queue' in cfg || 'retry_on_failure' in cfg) problems.push(`${name}: exporter ${e} (file) has no queue or retry settings; the Collector rejects them`);
        continue;
      }
      if (!QUEUEING_EXPORTERS.has(type)) {
        problems.push(`${name}: exporter ${e} cannot keep audit spans (no persistent queue)`);
        continue;
      }
      const queue = isObj(cfg.sending_queue) ? cfg.sending_queue : undefined;
      if (!queue || queue.enabled === false) problems.push(`${name}: audit exporter ${e} needs an enabled sending_queue`);
      else if (typeof queue.storage !== 'string') problems.push(`${name}: audit exporter ${e} needs a persistent queue (sending_queue.storage naming a file_storage extension)`);
      else if (!storageExtensions.has(queue.storage)) {
        problems.push(`${name}: audit exporter ${e}: sending_queue.storage ${queue.storage} is not an enabled file_storage extension`);
      }
      const retry = isObj(cfg.retry_on_failure) ? cfg.retry_on_failure : undefined;
      if (!retry || retry.enabled === false || !isZeroDuration(retry.max_elapsed_time)) {
        problems.push(`${name}: audit exporter ${e} must retry forever (retry_on_failure.max_elapsed_time: 0)`);
      }
      if (type === 'kafka') {
        const producer = isObj(cfg.producer) ? cfg.producer : {};
        if (producer.required_acks !== -1) problems.push(`${name}: audit exporter ${e} must wait for all in-sync replicas (producer.required_acks: -1)`);
      }
    }
  }

  // OTLP receivers bind explicitly.
  for (const [id, cfg] of Object.entries(components.receivers)) {
    if (typeOf(id) !== 'otlp') continue;
    const protocols = isObj(cfg) && isObj(cfg.protocols) ? cfg.protocols : {};
    if (Object.keys(protocols).length === 0) problems.push(`receivers: ${id} enables no protocol`);
    for (const [proto, pc] of Object.entries(protocols)) {
      if (!isObj(pc) || typeof pc.endpoint !== 'string') problems.push(`receivers: ${id}.protocols.${proto} needs an explicit endpoint (the default binds localhost only)`);
    }
  }

  return { problems, auditPipelines, config };
}

/** Where a configuration names span attributes and events. */
export interface AttributeReferences {
  /** Keys in `attributes["…"]` of routing conditions. */
  routing: string[];
  /** Keys of tail-sampling policies (`string_attribute.key`, `attributes["…"]` in OTTL). */
  samplingAttributes: string[];
  /** Span event names tail-sampling policies look for (`name == "…"` in `spanevent`). */
  samplingEvents: string[];
  /** Span names tail-sampling policies look for (`name == "…"` in `span`). */
  samplingSpans: string[];
}

/** The attribute keys, event names and span names a configuration refers to. */
export function attributeReferences(config: Obj): AttributeReferences {
  const refs: AttributeReferences = { routing: [], samplingAttributes: [], samplingEvents: [], samplingSpans: [] };
  const keysIn = (s: string): string[] => [...s.matchAll(/attributes\["([^"]+)"\]/g)].map(m => m[1]);
  const namesIn = (s: string): string[] => [...s.matchAll(/\bname\s*==\s*"([^"]+)"/g)].map(m => m[1]);
  const connectors = isObj(config.connectors) ? config.connectors : {};
  for (const [id, cfg] of Object.entries(connectors)) {
    if (typeOf(id) !== 'routing' || !isObj(cfg) || !Array.isArray(cfg.table)) continue;
    for (const route of cfg.table as Obj[]) refs.routing.push(...keysIn(String(route.condition ?? route.statement ?? '')));
  }
  const processors = isObj(config.processors) ? config.processors : {};
  const visitPolicy = (policy: Obj): void => {
    const sa = isObj(policy.string_attribute) ? policy.string_attribute : undefined;
    if (sa && typeof sa.key === 'string') refs.samplingAttributes.push(sa.key);
    for (const t of ['numeric_attribute', 'boolean_attribute'] as const) {
      const a = isObj(policy[t]) ? (policy[t] as Obj) : undefined;
      if (a && typeof a.key === 'string') refs.samplingAttributes.push(a.key);
    }
    const ottl = isObj(policy.ottl_condition) ? policy.ottl_condition : undefined;
    if (ottl) {
      for (const c of list(ottl.span)) {
        refs.samplingAttributes.push(...keysIn(c));
        refs.samplingSpans.push(...namesIn(c));
      }
      for (const c of list(ottl.spanevent)) {
        refs.samplingAttributes.push(...keysIn(c));
        refs.samplingEvents.push(...namesIn(c));
      }
    }
    for (const nested of ['and', 'composite', 'drop'] as const) {
      const n = isObj(policy[nested]) ? (policy[nested] as Obj) : undefined;
      if (!n) continue;
      for (const sub of Object.values(n)) if (Array.isArray(sub)) for (const p of sub) if (isObj(p)) visitPolicy(p);
    }
  };
  for (const [id, cfg] of Object.entries(processors)) {
    if (typeOf(id) !== 'tail_sampling' || !isObj(cfg) || !Array.isArray(cfg.policies)) continue;
    for (const policy of cfg.policies) if (isObj(policy)) visitPolicy(policy);
  }
  return refs;
}
