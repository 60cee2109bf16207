/**
 * Turns environment variables into {@link AgentSafetyOptions} and the trace
 * sampler. Pure: it is given the environment as an object; only
 * `register.ts` and `start.ts` (for the sampler) pass `process.env`.
 *
 * @module
 */
import { createPrivateKey, createSecretKey } from 'node:crypto';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import type { Sampler } from '@opentelemetry/sdk-trace';
import type { AgentSafetyOptions, AuditOptions } from './start.js';
import type { FsyncPolicy } from '../patterns/audit/audit-file.js';
import { keyFileBytes } from '../patterns/audit/audit-chain.js';
import type { ExplanationEvents } from '../instrumentation/shared/telemetry.js';
import { traceSdk } from './sdk-compat.js';

/** An environment: `process.env` or a plain object in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Every variable of ours that {@link optionsFromEnv} reads, with its meaning. */
export const AGENT_SAFETY_ENV = {
  AGENT_SAFETY_AGENT_ID: 'Default gen_ai.agent.id of guarded calls.',
  AGENT_SAFETY_AGENT_NAME: 'Default gen_ai.agent.name of guarded calls.',
  AGENT_SAFETY_CAPTURE_ARGUMENTS: 'true to record redacted tool arguments (gen_ai.tool.call.arguments). Default false.',
  AGENT_SAFETY_CAPTURE_RESULT: 'true to record redacted tool results (gen_ai.tool.call.result). Default false.',
  AGENT_SAFETY_CONSOLE: 'true/false: print finished traces as a tree. Default true when no OTLP endpoint is set.',
  AGENT_SAFETY_EXPLANATION_EVENTS:
    'logs, span-events or both: how explanations are emitted. Default logs when log records are exported over OTLP (an OTLP endpoint and OTEL_LOGS_EXPORTER not none), span-events otherwise.',
  AGENT_SAFETY_AUDIT: 'false turns the audit chain off. Default on.',
  AGENT_SAFETY_AUDIT_FILE: 'The JSONL audit file, or none. Default agent-safety-audit.jsonl unless the audit chain goes over OTLP (AGENT_SAFETY_AUDIT_OTLP), none when it does.',
  AGENT_SAFETY_AUDIT_FSYNC: 'always, never, or a number of milliseconds between fsyncs of the audit file. Default 200.',
  AGENT_SAFETY_AUDIT_OTLP: 'true/false: deliver the audit chain over OTLP (never dropping a record). Default true with an OTLP traces endpoint.',
  AGENT_SAFETY_AUDIT_SPOOL: 'The write-ahead journal of the OTLP audit sink. Default <audit file>.spool.jsonl, else agent-safety-audit.spool.jsonl.',
  AGENT_SAFETY_AUDIT_TLOG_DIR: 'Publish the audit log as a C2SP tiled transparency log in this directory (checkpoints need a signing key). Default none.',
  AGENT_SAFETY_AUDIT_TLOG_ORIGIN: "The transparency log's origin, e.g. example.com/agent-audit. Required with AGENT_SAFETY_AUDIT_TLOG_DIR.",
  AGENT_SAFETY_AUDIT_HMAC_KEY_FILE: 'A file holding the HMAC key of the chain (its raw bytes).',
  AGENT_SAFETY_AUDIT_HMAC_KEY: 'The HMAC key, base64 (prefer the _FILE variant).',
  AGENT_SAFETY_AUDIT_HMAC_KEY_ID: 'The id recorded for the HMAC key. Required with a key.',
  AGENT_SAFETY_AUDIT_SIGNING_KEY_FILE: 'A PEM file holding the Ed25519 private key that signs the audit seals.',
  AGENT_SAFETY_AUDIT_SIGNING_KEY: 'The Ed25519 private key, PEM (prefer the _FILE variant).',
  AGENT_SAFETY_AUDIT_SIGNING_KEY_ID: 'The id recorded for the signing key. Required with a key.',
  AGENT_SAFETY_AUDIT_SEAL_EVERY_RECORDS: 'A keyed audit chain seals itself every this many records (and at shutdown). Default 1000.',
  AGENT_SAFETY_AUDIT_SEAL_EVERY_MS: 'And at least this often while records arrive, in ms. Default 10000.',
  AGENT_SAFETY_AUDIT_CHECKPOINT_RECORDS: 'Deprecated: the old name of AGENT_SAFETY_AUDIT_SEAL_EVERY_RECORDS (used when that is not set).',
  AGENT_SAFETY_AUDIT_CHECKPOINT_MS: 'Deprecated: the old name of AGENT_SAFETY_AUDIT_SEAL_EVERY_MS (used when that is not set).',
  AGENT_SAFETY_AUDIT_MAX_BACKLOG: 'Audit records held in memory (not yet journaled) before the backlog policy applies. Default 20000.',
  AGENT_SAFETY_AUDIT_ON_BACKLOG_FULL: 'fail-actions (default: guarded calls are refused with AuditUnavailableError), block-actions or drop-with-gap-record.',
  AGENT_SAFETY_SHUTDOWN_TIMEOUT_MS: 'How long shutdown may take before it prints what is left and where, in ms. Default 5000.',
} as const;

const DIAG_LEVELS: Record<string, DiagLogLevel> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

/**
 * The `diag` level of `OTEL_LOG_LEVEL` (the specification's values, any
 * case); warn when unset, so that a torn audit file or a full disk is seen
 * on stderr. `register` installs the console logger at this level before
 * anything else.
 */
export function diagLevelFromEnv(env: Env): DiagLogLevel {
  const raw = text(env, 'OTEL_LOG_LEVEL')?.toLowerCase();
  if (raw === undefined) return DiagLogLevel.WARN;
  return DIAG_LEVELS[raw] ?? DiagLogLevel.WARN;
}

/** Reads a file (for key files); `register` passes `fs.readFileSync`. */
export type ReadFile = (path: string) => Buffer;

/** Thrown for an audit key that is configured but unusable: starting without it would be unsafe. */
export class AuditKeyConfigError extends Error {
  override readonly name = 'AuditKeyConfigError';
}

/** A key from `<name>_FILE` (read with {@link keyFileBytes}) or from `<name>` itself, decoded as `inline`. */
function keyMaterial(env: Env, name: string, inline: BufferEncoding, readFile: ReadFile | undefined): Buffer | undefined {
  const file = text(env, `${name}_FILE`);
  const value = env[name];
  if (file !== undefined) {
    if (!readFile) throw new AuditKeyConfigError(`${name}_FILE is set but no file reader was given`);
    let bytes: Buffer;
    try {
      bytes = readFile(file);
    } catch (err) {
      throw new AuditKeyConfigError(`${name}_FILE: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return keyFileBytes(bytes);
  }
  if (value !== undefined && value.trim() !== '') return Buffer.from(value, inline);
  return undefined;
}

function positive(env: Env, name: string): number | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  diag.warn(`agent-safety-otel: ${name}=${JSON.stringify(raw)} is not a positive integer; ignored`);
  return undefined;
}

/**
 * The audit options from `AGENT_SAFETY_AUDIT_*`. Key files are read with
 * `readFile`; a key that is configured but unusable throws an
 * {@link AuditKeyConfigError} naming the variable (never the key).
 */
export function auditOptionsFromEnv(env: Env, readFile?: ReadFile): AuditOptions | false {
  if (flag(env, 'AGENT_SAFETY_AUDIT') === false) return false;
  const audit: AuditOptions = {};
  const file = text(env, 'AGENT_SAFETY_AUDIT_FILE');
  if (file !== undefined) audit.file = file.toLowerCase() === 'none' ? false : file;
  const fsync = text(env, 'AGENT_SAFETY_AUDIT_FSYNC')?.toLowerCase();
  if (fsync !== undefined) {
    const ms = Number(fsync);
    let policy: FsyncPolicy | undefined;
    if (fsync === 'always' || fsync === 'never') policy = fsync;
    else if (Number.isFinite(ms) && ms > 0) policy = { everyMs: ms };
    else diag.warn(`agent-safety-otel: AGENT_SAFETY_AUDIT_FSYNC=${JSON.stringify(fsync)} is not always, never or a number of ms; ignored`);
    if (policy !== undefined) audit.fsync = policy;
  }
  const otlp = flag(env, 'AGENT_SAFETY_AUDIT_OTLP');
  if (otlp !== undefined) audit.otlp = otlp;
  const spool = text(env, 'AGENT_SAFETY_AUDIT_SPOOL');
  if (spool !== undefined) audit.spoolPath = spool;
  const tlogDir = text(env, 'AGENT_SAFETY_AUDIT_TLOG_DIR');
  const tlogOrigin = text(env, 'AGENT_SAFETY_AUDIT_TLOG_ORIGIN');
  if (tlogDir !== undefined) {
    if (tlogOrigin === undefined) throw new TypeError("AGENT_SAFETY_AUDIT_TLOG_ORIGIN is required with AGENT_SAFETY_AUDIT_TLOG_DIR (the log's name, e.g. example.com/agent-audit)");
    audit.tlog = { dir: tlogDir, origin: tlogOrigin };
  } else if (tlogOrigin !== undefined) {
    diag.warn('agent-safety-otel: AGENT_SAFETY_AUDIT_TLOG_ORIGIN is set without AGENT_SAFETY_AUDIT_TLOG_DIR; no transparency log is published');
  }

  const hmac = keyMaterial(env, 'AGENT_SAFETY_AUDIT_HMAC_KEY', 'base64', readFile);
  if (hmac !== undefined) {
    const id = text(env, 'AGENT_SAFETY_AUDIT_HMAC_KEY_ID');
    if (id === undefined) throw new AuditKeyConfigError('AGENT_SAFETY_AUDIT_HMAC_KEY_ID is required with an HMAC key');
    if (hmac.length < 16) throw new AuditKeyConfigError('the HMAC key must be at least 16 bytes');
    audit.hmacKey = { id, key: createSecretKey(hmac) };
  }
  const signing = keyMaterial(env, 'AGENT_SAFETY_AUDIT_SIGNING_KEY', 'utf8', readFile);
  if (signing !== undefined) {
    const id = text(env, 'AGENT_SAFETY_AUDIT_SIGNING_KEY_ID');
    if (id === undefined) throw new AuditKeyConfigError('AGENT_SAFETY_AUDIT_SIGNING_KEY_ID is required with a signing key');
    let privateKey;
    try {
      privateKey = createPrivateKey(signing);
    } catch {
      throw new AuditKeyConfigError('AGENT_SAFETY_AUDIT_SIGNING_KEY: not a PEM private key');
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new AuditKeyConfigError(`AGENT_SAFETY_AUDIT_SIGNING_KEY: an Ed25519 key is required, got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
    }
    audit.signingKey = { id, privateKey };
  }
  const everyRecords = sealSetting(env, 'AGENT_SAFETY_AUDIT_SEAL_EVERY_RECORDS', 'AGENT_SAFETY_AUDIT_CHECKPOINT_RECORDS');
  const everyMs = sealSetting(env, 'AGENT_SAFETY_AUDIT_SEAL_EVERY_MS', 'AGENT_SAFETY_AUDIT_CHECKPOINT_MS');
  if (everyRecords !== undefined || everyMs !== undefined) audit.seals = { everyRecords, everyMs };
  const maxBacklog = positive(env, 'AGENT_SAFETY_AUDIT_MAX_BACKLOG');
  if (maxBacklog !== undefined) audit.maxBacklog = maxBacklog;
  const onFull = text(env, 'AGENT_SAFETY_AUDIT_ON_BACKLOG_FULL')?.toLowerCase();
  if (onFull !== undefined) {
    if (onFull === 'fail-actions' || onFull === 'block-actions' || onFull === 'drop-with-gap-record') audit.onBacklogFull = onFull;
    else diag.warn(`agent-safety-otel: AGENT_SAFETY_AUDIT_ON_BACKLOG_FULL=${JSON.stringify(onFull)} is not fail-actions, block-actions or drop-with-gap-record; using fail-actions`);
  }
  return audit;
}

/** A seal setting under its name, else under its deprecated name (with a warning saying the new one). */
function sealSetting(env: Env, name: string, oldName: string): number | undefined {
  if (text(env, name) !== undefined) return positive(env, name);
  if (text(env, oldName) === undefined) return undefined;
  diag.warn(`agent-safety-otel: ${oldName} is deprecated; use ${name}`);
  return positive(env, oldName);
}

/** The `OTEL_TRACES_SAMPLER` values of the specification that the SDK builds (compared in lower case). */
const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

/**
 * The sampler the OpenTelemetry SDK builds from `OTEL_TRACES_SAMPLER` and
 * `OTEL_TRACES_SAMPLER_ARG`, so that `startAgentSafety` can wrap it in an
 * `AuditRecordingSampler` (the SDK, left to itself, would not).
 *
 * - Unset: `parentbased_always_on`, the specification's default.
 * - `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`,
 *   `parentbased_always_off` or `parentbased_traceidratio` (in any case):
 *   that sampler; the ratio samplers take their ratio from
 *   `OTEL_TRACES_SAMPLER_ARG` (default 1).
 * - Any other value (`jaeger_remote`, `xray`, a typo): the default, with a
 *   `diag` warning; a ratio that is not a number in [0, 1]: 1, with a
 *   warning.
 */
export function samplerFromEnv(env: Env): Sampler {
  const raw = text(env, 'OTEL_TRACES_SAMPLER');
  const name = raw?.toLowerCase() ?? 'parentbased_always_on';
  const sdk = traceSdk('require');
  switch (name) {
    case 'always_on':
      return sdk.alwaysOnSampler();
    case 'always_off':
      return sdk.alwaysOffSampler();
    case 'traceidratio':
      return sdk.traceIdRatioBasedSampler(samplerRatio(env));
    case 'parentbased_always_on':
      return sdk.parentBasedSampler({ root: sdk.alwaysOnSampler() });
    case 'parentbased_always_off':
      return sdk.parentBasedSampler({ root: sdk.alwaysOffSampler() });
    case 'parentbased_traceidratio':
      return sdk.parentBasedSampler({ root: sdk.traceIdRatioBasedSampler(samplerRatio(env)) });
    default:
      diag.warn(
        `agent-safety-otel: OTEL_TRACES_SAMPLER=${JSON.stringify(raw)} is not one of ${TRACES_SAMPLERS.join(', ')}; using parentbased_always_on`,
      );
      return sdk.parentBasedSampler({ root: sdk.alwaysOnSampler() });
  }
}

/** `OTEL_TRACES_SAMPLER_ARG` as a ratio in [0, 1]; 1 when unset or unusable (the specification's default). */
function samplerRatio(env: Env): number {
  const raw = text(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (raw === undefined) return 1;
  const ratio = Number(raw);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  diag.warn(`agent-safety-otel: OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(raw)} is not a ratio between 0 and 1; using 1`);
  return 1;
}

function flag(env: Env, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  diag.warn(`agent-safety-otel: ${name}=${JSON.stringify(env[name])} is not a boolean; ignored`);
  return undefined;
}

/** `AGENT_SAFETY_EXPLANATION_EVENTS`, when it names a mode (else undefined, with a warning). */
function explanationEvents(env: Env): ExplanationEvents | undefined {
  const raw = text(env, 'AGENT_SAFETY_EXPLANATION_EVENTS')?.toLowerCase();
  if (raw === undefined) return undefined;
  if (raw === 'logs' || raw === 'span-events' || raw === 'both') return raw;
  diag.warn(`agent-safety-otel: AGENT_SAFETY_EXPLANATION_EVENTS=${JSON.stringify(raw)} is not logs, span-events or both; ignored`);
  return undefined;
}

function text(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map(s => s.trim().toLowerCase())
    .filter(Boolean);
}

/**
 * Options for `startAgentSafety` from the standard `OTEL_*` variables and
 * ours (`AGENT_SAFETY_*`, see {@link AGENT_SAFETY_ENV}).
 *
 * - An OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the per-signal
 *   `…_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`) turns on OTLP/HTTP export
 *   (`OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` by default, or
 *   `http/json`). The exporters read the endpoints and headers themselves.
 * - Without one: the embedded default, a trace tree on the console.
 * - `OTEL_TRACES_EXPORTER=none` / `OTEL_METRICS_EXPORTER=none` /
 *   `OTEL_LOGS_EXPORTER=none` turn a signal off (log records carry the
 *   explanations; `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` is their endpoint);
 *   `OTEL_METRICS_EXPORTER=prometheus` serves a scrape endpoint on
 *   `OTEL_EXPORTER_PROMETHEUS_HOST`:`OTEL_EXPORTER_PROMETHEUS_PORT`
 *   (default 127.0.0.1:9464).
 * - `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` are applied by the SDK.
 * - `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` are read by
 *   `startAgentSafety` ({@link samplerFromEnv}), which wraps the sampler
 *   for the audit.
 */
export function optionsFromEnv(env: Env, readFile?: ReadFile): AgentSafetyOptions {
  const tracesEndpoint = text(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const metricsEndpoint = text(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') ?? text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const tracesExporters = list(env, 'OTEL_TRACES_EXPORTER');
  const metricsExporters = list(env, 'OTEL_METRICS_EXPORTER');
  const logsEndpoint = text(env, 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT') ?? text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const logsExporters = list(env, 'OTEL_LOGS_EXPORTER');
  const tracesOff = tracesExporters.includes('none');
  const metricsOff = metricsExporters.includes('none');

  const protocol = (text(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? text(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf').toLowerCase();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    diag.warn(`agent-safety-otel: OTLP protocol ${JSON.stringify(protocol)} is not supported here; using http/protobuf`);
  }

  const otlpTraces = tracesEndpoint !== undefined && !tracesOff;
  const otlpMetrics = metricsEndpoint !== undefined && !metricsOff && (metricsExporters.length === 0 || metricsExporters.includes('otlp'));
  const options: AgentSafetyOptions = {
    instrumentation: {
      agent:
        text(env, 'AGENT_SAFETY_AGENT_ID') || text(env, 'AGENT_SAFETY_AGENT_NAME')
          ? { id: text(env, 'AGENT_SAFETY_AGENT_ID'), name: text(env, 'AGENT_SAFETY_AGENT_NAME') }
          : undefined,
      captureArguments: flag(env, 'AGENT_SAFETY_CAPTURE_ARGUMENTS'),
      captureResult: flag(env, 'AGENT_SAFETY_CAPTURE_RESULT'),
      explanationEvents: explanationEvents(env),
    },
    shutdownOnExit: true,
    audit: auditOptionsFromEnv(env, readFile),
  };
  const shutdownTimeoutMs = positive(env, 'AGENT_SAFETY_SHUTDOWN_TIMEOUT_MS');
  if (shutdownTimeoutMs !== undefined) options.shutdownTimeoutMs = shutdownTimeoutMs;
  if (otlpTraces || otlpMetrics) {
    options.otlp = {
      protocol: protocol === 'http/json' ? 'http/json' : 'http/protobuf',
      traces: otlpTraces,
      metrics: otlpMetrics,
      logs: logsEndpoint !== undefined && !logsExporters.includes('none') && (logsExporters.length === 0 || logsExporters.includes('otlp')),
    };
  }
  const consoleFlag = flag(env, 'AGENT_SAFETY_CONSOLE');
  options.console = !tracesOff && (consoleFlag ?? (!otlpTraces || tracesExporters.includes('console')));
  if (metricsExporters.includes('prometheus')) {
    let port = positive(env, 'OTEL_EXPORTER_PROMETHEUS_PORT') ?? 9464;
    if (port > 65535) {
      diag.warn(`agent-safety-otel: OTEL_EXPORTER_PROMETHEUS_PORT=${port} is not a TCP port; 9464 is used`);
      port = 9464;
    }
    options.prometheus = { host: text(env, 'OTEL_EXPORTER_PROMETHEUS_HOST') ?? '127.0.0.1', port };
  }
  return options;
}
