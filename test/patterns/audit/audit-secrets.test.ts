/**
 * Secrets are redacted before they are chained or printed: a guarded tool
 * fails with an error whose message holds a password, a bearer token, an
 * API key and a private key; the process was started with `--api-key=…`.
 * The test greps the audit file (what is chained for ever), the console
 * tree and the OTLP payload a real receiver got, and finds none of them,
 * while the chain still verifies.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { sdkTrace } from '../../helpers/otel.js';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { SpanStatusCode } from '@opentelemetry/api';
import { ExplainabilityHookManager, guard } from '../../../src/index.js';
import { AgentSafetyInstrumentation } from '../../../src/bootstrap/index.js';
import { AuditChainSpanProcessor, ConsoleTreeSpanExporter, FileAuditSink, OtlpAuditSink } from '../../../src/exporters/index.js';
import { redactText, secretRedactor } from '../../../src/patterns/shared/redaction.js';
import { verifyAuditFiles } from '../../../src/verify/audit-verify.js';
import { ensureContextManager, testLogs } from '../../helpers/otel.js';
import { OtlpReceiver } from '../../helpers/otlp-receiver.js';

const test = suite('secrets never reach the chain, the console or OTLP');

const PASSWORD = 'hunter2-Tr0ub4dor';
const BEARER = 'sk-live-4f3c2b1a09e8d7c6b5a4f3e2d1c0b9a8';
const API_KEY = 'sk-live-ab12cd34ef56ab12cd34ef56';
const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGx1bWJlcmphY2tzLWFyZS1vay1hbmQtd29yay1hbGwtZGF5\n-----END PRIVATE KEY-----';
const SECRETS = [PASSWORD, BEARER, API_KEY, 'MC4CAQAwBQYDK2VwBCIEIGx1bWJlcmphY2tz', 'token-value-99'];

test('the default redactor masks text secrets, keeps the rest, and is idempotent', () => {
  const cases: Array<[string, string]> = [
    [`login failed: password=${PASSWORD} for bob`, 'login failed: password=[REDACTED] for bob'],
    [`Authorization: Bearer ${BEARER}`, 'Authorization: Bearer [REDACTED]'],
    [`started with --api-key=${API_KEY}`, 'started with --api-key=[REDACTED]'],
    [`{"secret": "s3cr3t", "token":"token-value-99"}`, '{"secret": [REDACTED], "token":[REDACTED]}'],
    [`key ${API_KEY} leaked`, 'key [REDACTED] leaked'],
    [`pem: ${PEM} end`, 'pem: [REDACTED] end'],
    ['timeout after 30 s: the tool took too long', 'timeout after 30 s: the tool took too long'],
  ];
  for (const [input, expected] of cases) {
    assert.is(redactText(input), expected, input);
    assert.is(redactText(expected), expected, `idempotent: ${expected}`);
  }
  // opting out of text masking keeps the key-based redaction
  assert.equal(secretRedactor({ maskSecretsInText: false })({ password: 'x', note: `password=${PASSWORD}` }), { password: '[REDACTED]', note: `password=${PASSWORD}` });
});

test('a failing guarded call with secrets in its error: the audit file, the console tree and the OTLP payload hold none', async () => {
  ensureContextManager();
  const dir = mkdtempSync(join(tmpdir(), 'audit-secrets-'));
  const receiver = await OtlpReceiver.start();
  let consoleText = '';
  const path = join(dir, 'audit.jsonl');
  const audit = new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path })] });
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'secret-test',
      'process.command_args': ['node', 'agent.js', `--api-key=${API_KEY}`],
      'process.command_line': `node agent.js --api-key=${API_KEY}`,
      'process.pid': 4242,
    }),
    spanProcessors: [
      audit,
      sdkTrace.simpleSpanProcessor(new ConsoleTreeSpanExporter({ write: t => void (consoleText += t), color: false })),
      sdkTrace.simpleSpanProcessor(new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` })),
    ],
  });
  const instrumentation = new AgentSafetyInstrumentation({});
  instrumentation.setTracerProvider(provider);
  instrumentation.enable();
  try {
    const leaky = guard(
      async () => {
        throw new Error(`upstream refused: password=${PASSWORD}; Authorization: Bearer ${BEARER}; key ${API_KEY}; ${PEM}`);
      },
      { name: 'call_upstream' },
    );
    await leaky().catch(() => undefined);
    // a span made by hand, with a secret in an event attribute and the status message
    const tracer = provider.getTracer('agent-safety-otel', '0.1.0');
    const span = tracer.startSpan('execute_tool by_hand');
    span.addEvent('request', { 'http.request.header.authorization': `Bearer ${BEARER}`, note: 'token: token-value-99', count: 3 });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `failed with password=${PASSWORD}` });
    span.end();
    await provider.forceFlush();
    await receiver.waitFor(() => receiver.spans.length >= 2, 10_000, 'the two spans');
    await provider.shutdown();

    const auditText = readFileSync(path, 'utf8');
    const otlpText = JSON.stringify(receiver.traceRequests);
    for (const [where, text] of [['audit file', auditText], ['console tree', consoleText], ['OTLP payload (spans)', JSON.stringify(receiver.spans.map(s => ({ ...s, resource: undefined })))]] as const) {
      for (const secret of SECRETS) assert.not.ok(text.includes(secret), `${where} holds ${secret}`);
      assert.ok(text.includes('[REDACTED]'), `${where}: the redacted messages are there`);
    }
    // the chained resource leaves the command line out (the OTLP resource is the SDK's: not ours to change)
    const first = JSON.parse(auditText.split('\n')[0]) as { resource: Record<string, unknown> };
    assert.equal(Object.keys(first.resource).sort(), ['process.pid', 'service.name']);
    assert.ok(otlpText.includes('process.pid'));
    // what was redacted is what was chained: the file verifies
    const report = await verifyAuditFiles([path]);
    assert.ok(report.valid, JSON.stringify(report.failure));
    assert.ok(auditText.includes('password=[REDACTED]'), 'the exception message is chained, redacted');
  } finally {
    instrumentation.disable();
    await provider.shutdown().catch(() => undefined);
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the OTLP audit sink: the command line is neither in the payload the receiver gets nor in its journal, sent from memory or from the journal', async () => {
  ensureContextManager();
  const dir = mkdtempSync(join(tmpdir(), 'audit-secrets-otlp-'));
  // down at first: the records wait in the journal, and are then sent from it (rebuilt) and from memory
  let down = true;
  const receiver = await OtlpReceiver.start({ fail: () => (down ? 503 : undefined) });
  const sink = new OtlpAuditSink({ exporter: new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }), spoolDir: dir, scheduledDelayMs: 1, backoff: { initialMs: 5, maxMs: 20 }, maxInMemory: 3 });
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'secret-otlp-test',
      'process.command_args': ['node', 'agent.js', `--api-key=${API_KEY}`],
      'process.command_line': `node agent.js --api-key=${API_KEY}`,
      'process.pid': 4243,
    }),
    spanProcessors: [new AuditChainSpanProcessor({ sinks: [sink] })],
  });
  const instrumentation = new AgentSafetyInstrumentation({});
  instrumentation.setTracerProvider(provider);
  instrumentation.enable();
  try {
    const journal = (): string => readdirSync(dir).map(f => readFileSync(join(dir, f), 'utf8')).join('\n');
    for (let i = 0; i < 8; i++) await guard(async () => i, { name: 'otlp_call' })();
    for (const started = Date.now(); receiver.requests.length < 2 || journal().split('execute_tool otlp_call').length < 9; ) {
      if (Date.now() - started > 15_000) throw new Error(`timed out: ${receiver.requests.length} requests`);
      await new Promise(r => setTimeout(r, 10));
    }
    const journaled = journal();
    assert.is(journaled.split('execute_tool otlp_call').length - 1, 8, 'the records are journaled');
    assert.not.ok(journaled.includes(API_KEY), 'the journal holds the API key');
    down = false;
    for (let i = 8; i < 12; i++) await guard(async () => i, { name: 'otlp_call' })();
    await receiver.waitFor(() => receiver.spans.length >= 12, 15_000, 'the twelve records');
    await provider.shutdown();
    const payload = JSON.stringify(receiver.traceRequests);
    assert.ok(receiver.requests.some(r => r.status === 503), 'some records were retried');
    assert.not.ok(payload.includes(API_KEY), 'the OTLP payload holds the API key');
    assert.not.ok(payload.includes('process.command_args') || payload.includes('process.command_line'), 'the OTLP payload holds the command line');
    // the rest of the resource is sent, and the export verifies (the chained resource is the one sent)
    assert.ok(payload.includes('process.pid') && payload.includes('secret-otlp-test'));
    const otlpFile = join(dir, 'export.otlp.json');
    writeFileSync(otlpFile, receiver.toOtlpJsonLines());
    const report = await verifyAuditFiles([otlpFile], { allowDuplicates: true });
    assert.ok(report.valid, JSON.stringify(report.failure));
    assert.is(report.records, 12);
  } finally {
    instrumentation.disable();
    await provider.shutdown().catch(() => undefined);
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('explanations: the reasoning (static, or a reasoningFn quoting the arguments) and the alternatives are redacted before the span, its events, the log records and the chain hold them', async () => {
  ensureContextManager();
  const dir = mkdtempSync(join(tmpdir(), 'audit-secrets-'));
  const path = join(dir, 'audit.jsonl');
  let consoleText = '';
  const spans = sdkTrace.inMemorySpanExporter();
  const logs = testLogs();
  const provider = sdkTrace.tracerProvider({
    spanProcessors: [
      new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path })] }),
      sdkTrace.simpleSpanProcessor(new ConsoleTreeSpanExporter({ write: t => void (consoleText += t), color: false })),
      sdkTrace.simpleSpanProcessor(spans),
    ],
  });
  const hooks = new ExplainabilityHookManager({ agentId: 'a' });
  try {
    for (const [events, loggerProvider] of [['span-events', undefined], ['logs', logs.provider]] as const) {
      const instrumentation = new AgentSafetyInstrumentation({ explanationEvents: events, loggerProvider });
      instrumentation.setTracerProvider(provider);
      instrumentation.enable();
      try {
        const fixed = guard(async () => 'ok', {
          name: 'fixed_reasons',
          explain: { reasoning: `log in with password=${PASSWORD}`, alternativesConsidered: [`send Authorization: Bearer ${BEARER}`, 'wait'], hooks },
        });
        const quoted = guard(async (_req: { key: string }) => 'ok', {
          name: 'quoted_reasons',
          explain: { reasoningFn: (req: { key: string }) => `calling with key ${req.key}`, alternativesConsidered: [`token: token-value-99`], hooks },
        });
        const failing = guard(async (_req: { key: string }) => Promise.reject(new Error('no')), {
          name: 'failing_reasons',
          explain: { reasoningFn: (req: { key: string }) => `calling with key ${req.key}`, hooks },
        });
        await fixed();
        await quoted({ key: API_KEY });
        await failing({ key: API_KEY }).catch(() => undefined);
      } finally {
        instrumentation.disable();
      }
    }
    await provider.forceFlush();
    const finished = spans.getFinishedSpans(); // (the exporter forgets them at shutdown)
    await provider.shutdown();
    assert.is(finished.length, 6);
    const logText = JSON.stringify(logs.records().map(r => r.attributes));
    assert.ok(logText.includes('calling with key [REDACTED]'), logText.slice(0, 400));
    for (const [where, text] of [
      ['audit file', readFileSync(path, 'utf8')],
      ['console tree', consoleText],
      ['span attributes and events', JSON.stringify(finished.map(s => ({ attributes: s.attributes, events: s.events })))],
      ['log records', logText],
      ['hook records', JSON.stringify(hooks.getExplanations())],
    ] as const) {
      for (const secret of SECRETS) assert.not.ok(text.includes(secret), `${where} holds ${secret}`);
    }
    const fixedSpan = finished.find(s => s.name === 'execute_tool fixed_reasons')!;
    assert.is(fixedSpan.attributes['agent_safety.explanation.reasoning'], 'log in with password=[REDACTED]');
    assert.equal(fixedSpan.attributes['agent_safety.explanation.alternatives'], ['send Authorization: Bearer [REDACTED]', 'wait']);
    assert.is(finished.find(s => s.name === 'execute_tool quoted_reasons')!.attributes['agent_safety.explanation.reasoning'], 'calling with key [REDACTED]');
    assert.ok(JSON.stringify(hooks.getExplanations()).includes('log in with password=[REDACTED]'), 'the hook records are redacted too');
    assert.ok((await verifyAuditFiles([path])).valid);
  } finally {
    await provider.shutdown().catch(() => undefined);
    await logs.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a redactor of your own runs before chaining; one that throws masks the value', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'audit-secrets-')), 'audit.jsonl');
  for (const [redact, expected] of [
    [(v: unknown) => (typeof v === 'string' ? v.replace(/ACME-\d+/g, 'ACME-*') : v), 'ACME-*'],
    [() => {
      throw new Error('no');
    }, '[redaction failed]'],
  ] as const) {
    const audit = new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path })], redact });
    const provider = sdkTrace.tracerProvider({ spanProcessors: [audit] });
    const span = provider.getTracer('agent-safety-otel').startSpan('execute_tool t');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'customer ACME-12345 failed' });
    span.end();
    await provider.shutdown();
    const text = readFileSync(path, 'utf8');
    assert.ok(text.includes(expected), `${expected} in ${text.slice(-400)}`);
    assert.not.ok(text.includes('ACME-12345'));
  }
  assert.throws(() => new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path })], redact: 'no' as never }), /options\.redact/);
  rmSync(join(path, '..'), { recursive: true, force: true });
});

test.run();
