import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import type { Sampler } from '@opentelemetry/sdk-trace';
import { AGENT_SAFETY_ENV, AuditKeyConfigError, auditOptionsFromEnv, optionsFromEnv, samplerFromEnv } from '../../src/bootstrap/index.js';
import { captureDiag } from '../helpers/diag.js';

const test = suite('optionsFromEnv');

test('no endpoint: the embedded default (console tree), no OTLP', () => {
  const o = optionsFromEnv({});
  assert.is(o.otlp, undefined);
  assert.is(o.console, true);
  assert.is(o.shutdownOnExit, true);
});

test('an endpoint turns on OTLP for both signals (protobuf by default) and the console off', () => {
  const o = optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
  assert.equal(o.otlp, { protocol: 'http/protobuf', traces: true, metrics: true, logs: true });
  assert.is(o.instrumentation?.explanationEvents, undefined, 'the bootstrap picks the mode from the log processors');
  assert.is(o.console, false);
  assert.is(optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'x', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlp?.protocol, 'http/json');
});

test('per-signal endpoints and exporters', () => {
  const traces = optionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x/v1/traces' });
  assert.equal([traces.otlp?.traces, traces.otlp?.metrics], [true, false]);
  const noMetrics = optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'x', OTEL_METRICS_EXPORTER: 'none' });
  assert.is(noMetrics.otlp?.metrics, false);
  const noTraces = optionsFromEnv({ OTEL_TRACES_EXPORTER: 'none' });
  assert.is(noTraces.console, false);
  const prom = optionsFromEnv({ OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: '9999' });
  assert.equal(prom.prometheus, { host: '127.0.0.1', port: 9999 });
  // a port that is not one is reported and the default used, like every other bad value
  const diagLog = captureDiag();
  try {
    for (const bad of ['abc', '0', '-1', '80.5', '99999']) {
      assert.equal(optionsFromEnv({ OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: bad }).prometheus, { host: '127.0.0.1', port: 9464 }, bad);
      assert.ok(diagLog.messages.some(m => m.includes(`OTEL_EXPORTER_PROMETHEUS_PORT`) && m.includes(bad)), `${bad}: ${diagLog.messages.join(' | ')}`);
    }
  } finally {
    diagLog.restore();
  }
});

test('log records: on with the endpoint unless OTEL_LOGS_EXPORTER says otherwise; AGENT_SAFETY_EXPLANATION_EVENTS picks the mode', () => {
  assert.is(optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'x', OTEL_LOGS_EXPORTER: 'none' }).otlp?.logs, false);
  assert.is(optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'x', OTEL_LOGS_EXPORTER: 'console' }).otlp?.logs, false);
  assert.is(optionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x/v1/traces' }).otlp?.logs, false, 'no logs endpoint');
  assert.is(optionsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x/v1/traces', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://x/v1/logs' }).otlp?.logs, true);
  for (const mode of ['logs', 'span-events', 'both'] as const) {
    assert.is(optionsFromEnv({ AGENT_SAFETY_EXPLANATION_EVENTS: mode.toUpperCase() }).instrumentation?.explanationEvents, mode);
  }
  const diagLog = captureDiag();
  try {
    assert.is(optionsFromEnv({ AGENT_SAFETY_EXPLANATION_EVENTS: 'events' }).instrumentation?.explanationEvents, undefined);
    assert.ok(diagLog.messages.some(m => m.includes('AGENT_SAFETY_EXPLANATION_EVENTS="events" is not logs, span-events or both; ignored')), diagLog.messages.join(' | '));
  } finally {
    diagLog.restore();
  }
});

test('AGENT_SAFETY_* variables', () => {
  const o = optionsFromEnv({
    AGENT_SAFETY_AGENT_ID: 'a1',
    AGENT_SAFETY_AGENT_NAME: 'Ranker',
    AGENT_SAFETY_CAPTURE_ARGUMENTS: 'true',
    AGENT_SAFETY_CAPTURE_RESULT: '0',
    AGENT_SAFETY_CONSOLE: 'yes',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'x',
  });
  assert.equal(o.instrumentation?.agent, { id: 'a1', name: 'Ranker' });
  assert.is(o.instrumentation?.captureArguments, true);
  assert.is(o.instrumentation?.captureResult, false);
  assert.is(o.console, true);
  assert.is(optionsFromEnv({ AGENT_SAFETY_CAPTURE_ARGUMENTS: 'maybe' }).instrumentation?.captureArguments, undefined, 'not a boolean: ignored');
});

test('AGENT_SAFETY_AUDIT_*: on by default, off, file, fsync, OTLP, spool, seals', () => {
  assert.equal(optionsFromEnv({}).audit, {});
  assert.is(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT: 'false' }), false);
  assert.equal(
    auditOptionsFromEnv({
      AGENT_SAFETY_AUDIT_FILE: '/var/log/agent/audit.jsonl',
      AGENT_SAFETY_AUDIT_FSYNC: '50',
      AGENT_SAFETY_AUDIT_OTLP: 'false',
      AGENT_SAFETY_AUDIT_SPOOL: '/var/spool/agent.jsonl',
      AGENT_SAFETY_AUDIT_SEAL_EVERY_RECORDS: '100',
    }),
    { file: '/var/log/agent/audit.jsonl', fsync: { everyMs: 50 }, otlp: false, spoolPath: '/var/spool/agent.jsonl', seals: { everyRecords: 100, everyMs: undefined } },
  );
  assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_SEAL_EVERY_MS: '2500' }), { seals: { everyRecords: undefined, everyMs: 2500 } });
  assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_FILE: 'none', AGENT_SAFETY_AUDIT_FSYNC: 'always' }), { file: false, fsync: 'always' });
  assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_FSYNC: 'sometimes', AGENT_SAFETY_AUDIT_SEAL_EVERY_MS: '-1' }), {});
});

test('AGENT_SAFETY_AUDIT_CHECKPOINT_RECORDS and _MS: deprecated old names of the seal settings, still read, with a warning; the new names win', () => {
  const diagLog = captureDiag();
  try {
    assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_CHECKPOINT_RECORDS: '100' }), { seals: { everyRecords: 100, everyMs: undefined } });
    assert.ok(diagLog.messages.some(m => m.includes('AGENT_SAFETY_AUDIT_CHECKPOINT_RECORDS is deprecated; use AGENT_SAFETY_AUDIT_SEAL_EVERY_RECORDS')), diagLog.messages.join(' | '));
    assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_CHECKPOINT_MS: '500' }), { seals: { everyRecords: undefined, everyMs: 500 } });
    assert.ok(diagLog.messages.some(m => m.includes('AGENT_SAFETY_AUDIT_CHECKPOINT_MS is deprecated; use AGENT_SAFETY_AUDIT_SEAL_EVERY_MS')), diagLog.messages.join(' | '));
    const warned = diagLog.messages.length;
    assert.equal(
      auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_SEAL_EVERY_RECORDS: '7', AGENT_SAFETY_AUDIT_CHECKPOINT_RECORDS: '100', AGENT_SAFETY_AUDIT_SEAL_EVERY_MS: '9', AGENT_SAFETY_AUDIT_CHECKPOINT_MS: '500' }),
      { seals: { everyRecords: 7, everyMs: 9 } },
    );
    assert.is(diagLog.messages.length, warned, 'no warning when the new names are set');
  } finally {
    diagLog.restore();
  }
});

test('audit keys: from files or variables, with ids; unusable keys fail loudly without showing the key', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const files: Record<string, Buffer> = { '/keys/hmac': Buffer.from('0123456789abcdef0123456789abcdef'), '/keys/sign.pem': Buffer.from(pem) };
  const readFile = (path: string) => {
    const found = files[path];
    if (!found) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return found;
  };
  const audit = auditOptionsFromEnv(
    {
      AGENT_SAFETY_AUDIT_HMAC_KEY_FILE: '/keys/hmac',
      AGENT_SAFETY_AUDIT_HMAC_KEY_ID: 'hmac-1',
      AGENT_SAFETY_AUDIT_SIGNING_KEY_FILE: '/keys/sign.pem',
      AGENT_SAFETY_AUDIT_SIGNING_KEY_ID: 'sign-1',
    },
    readFile,
  );
  assert.ok(audit);
  assert.is(audit && audit.hmacKey?.id, 'hmac-1');
  assert.is(audit && audit.signingKey?.privateKey.asymmetricKeyType, 'ed25519');
  const inline = auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_SIGNING_KEY: pem, AGENT_SAFETY_AUDIT_SIGNING_KEY_ID: 's', AGENT_SAFETY_AUDIT_HMAC_KEY: Buffer.from('k'.repeat(32)).toString('base64'), AGENT_SAFETY_AUDIT_HMAC_KEY_ID: 'h' });
  assert.ok(inline && inline.signingKey && inline.hmacKey);

  const fails = (env: Record<string, string>, message: RegExp) =>
    assert.throws(() => auditOptionsFromEnv(env, readFile), (e: unknown) => e instanceof AuditKeyConfigError && message.test(e.message) && !e.message.includes('0123456789abcdef') && !e.message.includes('PRIVATE KEY'));
  fails({ AGENT_SAFETY_AUDIT_HMAC_KEY_FILE: '/keys/hmac' }, /HMAC_KEY_ID is required/);
  fails({ AGENT_SAFETY_AUDIT_HMAC_KEY_FILE: '/keys/missing', AGENT_SAFETY_AUDIT_HMAC_KEY_ID: 'h' }, /cannot read "\/keys\/missing" \(ENOENT\)/);
  fails({ AGENT_SAFETY_AUDIT_HMAC_KEY: 'c2hvcnQ=', AGENT_SAFETY_AUDIT_HMAC_KEY_ID: 'h' }, /at least 16 bytes/);
  fails({ AGENT_SAFETY_AUDIT_SIGNING_KEY_FILE: '/keys/hmac', AGENT_SAFETY_AUDIT_SIGNING_KEY_ID: 's' }, /not a PEM private key/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  fails({ AGENT_SAFETY_AUDIT_SIGNING_KEY: rsa, AGENT_SAFETY_AUDIT_SIGNING_KEY_ID: 's' }, /Ed25519 key is required, got rsa/);
});

const PB = (root: string) =>
  `ParentBased{root=${root}, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}`;

/** What `sampler` decides for a root span, and for a child of an unsampled remote parent. */
function decisions(sampler: Sampler): { root: SamplingDecision; underUnsampledParent: SamplingDecision } {
  const traceId = 'f'.repeat(32); // the highest trace id: sampled by any ratio above 0 only at 1
  const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: 'a'.repeat(16), traceFlags: TraceFlags.NONE, isRemote: true });
  return {
    root: sampler.shouldSample(ROOT_CONTEXT, traceId, 'x', SpanKind.INTERNAL, {}, []).decision,
    underUnsampledParent: sampler.shouldSample(parent, traceId, 'x', SpanKind.INTERNAL, {}, []).decision,
  };
}

test('samplerFromEnv: the sampler the SDK builds from OTEL_TRACES_SAMPLER / _ARG, for every value of the specification', () => {
  const built = (env: Record<string, string>) => String(samplerFromEnv(env));
  assert.is(built({}), PB('AlwaysOnSampler'), 'unset: parentbased_always_on');
  assert.is(built({ OTEL_TRACES_SAMPLER: 'always_on' }), 'AlwaysOnSampler');
  assert.is(built({ OTEL_TRACES_SAMPLER: 'always_off' }), 'AlwaysOffSampler');
  assert.is(built({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }), 'TraceIdRatioBased{0.25}');
  assert.is(built({ OTEL_TRACES_SAMPLER: 'traceidratio' }), 'TraceIdRatioBased{1}', 'no ratio: 1');
  assert.is(built({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }), PB('AlwaysOnSampler'));
  assert.is(built({ OTEL_TRACES_SAMPLER: 'parentbased_always_off' }), PB('AlwaysOffSampler'));
  assert.is(built({ OTEL_TRACES_SAMPLER: ' ParentBased_TraceIdRatio ', OTEL_TRACES_SAMPLER_ARG: '0' }), PB('TraceIdRatioBased{0}'));

  // They decide as their names say.
  assert.equal(decisions(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })).root, SamplingDecision.NOT_RECORD);
  assert.equal(decisions(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_on' })), {
    root: SamplingDecision.RECORD_AND_SAMPLED,
    underUnsampledParent: SamplingDecision.RECORD_AND_SAMPLED,
  });
  assert.equal(decisions(samplerFromEnv({})), {
    root: SamplingDecision.RECORD_AND_SAMPLED,
    underUnsampledParent: SamplingDecision.NOT_RECORD,
  });
});

test('samplerFromEnv: an unknown sampler or an unusable ratio falls back to the default, with a diag warning', () => {
  const diagLog = captureDiag();
  try {
    assert.is(String(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })), PB('AlwaysOnSampler'));
    assert.ok(diagLog.messages.some(m => /OTEL_TRACES_SAMPLER="jaeger_remote" is not one of .*; using parentbased_always_on/.test(m)), diagLog.messages.join(' | '));
    for (const arg of ['1.5', '-0.1', 'half', 'NaN']) {
      assert.is(String(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: arg })), 'TraceIdRatioBased{1}', arg);
      assert.ok(diagLog.messages.some(m => m.includes(`OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(arg)} is not a ratio between 0 and 1; using 1`)), arg);
    }
    assert.is(diagLog.messages.length, 5);
  } finally {
    diagLog.restore();
  }
});

test('docs/api.md documents exactly the AGENT_SAFETY_* variables that are read', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const start = doc.indexOf('\n### Environment variables\n');
  assert.ok(start >= 0, 'docs/api.md has an "Environment variables" section');
  const next = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, next === -1 ? undefined : next);
  const documented = new Set([...section.matchAll(/`(AGENT_SAFETY_[A-Z0-9_]+)`/g)].map(m => m[1]));
  assert.equal([...documented].sort(), Object.keys(AGENT_SAFETY_ENV).sort());
});

test.run();
