import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { AGENT_SAFETY_ENV, AuditKeyConfigError, auditOptionsFromEnv, optionsFromEnv } from '../../src/bootstrap/index.js';

const test = suite('optionsFromEnv');

test('no endpoint: the embedded default (console tree), no OTLP', () => {
  const o = optionsFromEnv({});
  assert.is(o.otlp, undefined);
  assert.is(o.console, true);
  assert.is(o.shutdownOnExit, true);
});

test('an endpoint turns on OTLP for both signals (protobuf by default) and the console off', () => {
  const o = optionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
  assert.equal(o.otlp, { protocol: 'http/protobuf', traces: true, metrics: true });
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

test('AGENT_SAFETY_AUDIT_*: on by default, off, file, fsync, OTLP, spool, checkpoints', () => {
  assert.equal(optionsFromEnv({}).audit, {});
  assert.is(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT: 'false' }), false);
  assert.equal(
    auditOptionsFromEnv({
      AGENT_SAFETY_AUDIT_FILE: '/var/log/agent/audit.jsonl',
      AGENT_SAFETY_AUDIT_FSYNC: '50',
      AGENT_SAFETY_AUDIT_OTLP: 'false',
      AGENT_SAFETY_AUDIT_SPOOL: '/var/spool/agent.jsonl',
      AGENT_SAFETY_AUDIT_CHECKPOINT_RECORDS: '100',
    }),
    { file: '/var/log/agent/audit.jsonl', fsync: { everyMs: 50 }, otlp: false, spoolPath: '/var/spool/agent.jsonl', checkpoints: { everyRecords: 100, everyMs: undefined } },
  );
  assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_FILE: 'none', AGENT_SAFETY_AUDIT_FSYNC: 'always' }), { file: false, fsync: 'always' });
  assert.equal(auditOptionsFromEnv({ AGENT_SAFETY_AUDIT_FSYNC: 'sometimes', AGENT_SAFETY_AUDIT_CHECKPOINT_MS: '-1' }), {});
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

test('every AGENT_SAFETY_* variable read is documented in the README', async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  for (const name of Object.keys(AGENT_SAFETY_ENV)) assert.ok(readme.includes(name), `${name} missing from README`);
});

test.run();
