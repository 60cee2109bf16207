import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { metrics, trace } from '@opentelemetry/api';
import { AgentSafetyAlreadyStartedError, isAgentSafetyAlreadyStartedError, startAgentSafety } from '../../src/bootstrap/index.js';
import { guard } from '../../src/index.js';
import { OtlpReceiver } from '../helpers/otlp-receiver.js';

const test = suite('startAgentSafety');
// the audit file and spool go here, not into the working directory
const dir = mkdtempSync(join(tmpdir(), 'start-test-'));

function cleanGlobals(): void {
  trace.disable();
  metrics.disable();
}

test('shutdown right after a call still prints its trace (pending exports are flushed first)', async () => {
  const out: string[] = [];
  const auditFile = join(dir, 'quick.jsonl');
  const safety = startAgentSafety({ serviceName: 'start-test', console: { write: text => out.push(text), color: false }, audit: { file: auditFile } });
  try {
    await guard(async () => 1, { name: 'quick' })();
  } finally {
    await safety.shutdown();
    safety.instrumentation.unregister();
    cleanGlobals();
  }
  assert.match(out.join(''), /✓ execute_tool quick/);
  assert.is(safety.auditFile, auditFile);
  assert.match(readFileSync(auditFile, 'utf8'), '"name":"execute_tool quick"');
});

test('shutdown is idempotent', async () => {
  const safety = startAgentSafety({ console: false, audit: { file: join(dir, 'idempotent.jsonl') } });
  const first = safety.shutdown();
  assert.is(safety.shutdown(), first);
  await first;
  safety.instrumentation.unregister();
  cleanGlobals();
});

test('otlp option: traces and metrics to the given endpoint, console off by default', async () => {
  const receiver = await OtlpReceiver.start();
  const out: string[] = [];
  const safety = startAgentSafety({
    serviceName: 'start-otlp',
    otlp: { endpoint: receiver.url, protocol: 'http/json' },
    resourceAttributes: { 'deployment.environment.name': 'test' },
    audit: { spoolPath: join(dir, 'otlp.spool.jsonl') },
  });
  try {
    await guard(async () => 1, { name: 'exported' })();
  } finally {
    await safety.shutdown();
    safety.instrumentation.unregister();
    cleanGlobals();
    await receiver.close();
  }
  assert.equal(out, []);
  const span = receiver.spans.find(s => s.name === 'execute_tool exported');
  assert.ok(span, 'span received');
  assert.is(span!.resource['service.name'], 'start-otlp');
  assert.is(span!.resource['deployment.environment.name'], 'test');
  assert.match(String(span!.resource['service.instance.id']), /^[0-9a-f-]{36}$/, 'replicas are told apart: a service.instance.id is set');
  assert.ok(receiver.points.some(p => p.metric === 'gen_ai.execute_tool.duration'), 'metrics flushed at shutdown');
});

test('a second start while one runs throws AgentSafetyAlreadyStartedError naming the first call site; after shutdown, starting again works', async () => {
  const first = startAgentSafety({ console: false, audit: { file: join(dir, 'first.jsonl') } }); // the first start's line
  try {
    const err = (() => {
      try {
        startAgentSafety({ console: false, audit: { file: join(dir, 'second.jsonl') } });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(isAgentSafetyAlreadyStartedError(err), String(err));
    assert.instance(err, AgentSafetyAlreadyStartedError);
    assert.is(err.name, 'AgentSafetyAlreadyStartedError');
    assert.match(err.firstStart, /^startAgentSafety\(\) at .*start\.test\.ts:\d+:\d+/);
    assert.match(err.message, `already started in this process, by ${err.firstStart}`);
    assert.not.ok(existsSync(join(dir, 'second.jsonl')), 'the refused start created nothing');
  } finally {
    await first.shutdown();
    first.instrumentation.unregister();
    cleanGlobals();
  }
  const again = startAgentSafety({ console: false, audit: { file: join(dir, 'again.jsonl') } });
  await again.shutdown();
  again.instrumentation.unregister();
  cleanGlobals();
});

test('audit.seals sets when a keyed chain seals itself; audit.checkpoints, its deprecated old name, still does', async () => {
  for (const [name, policy] of [['seals', { seals: { everyRecords: 2 } }], ['checkpoints', { checkpoints: { everyRecords: 3 } }]] as const) {
    const auditFile = join(dir, `sealing-${name}.jsonl`);
    const safety = startAgentSafety({ console: false, audit: { file: auditFile, hmacKey: { id: 'k1', key: Buffer.from('0123456789abcdef0123456789abcdef') }, ...policy } });
    try {
      for (let i = 0; i < 7; i++) await guard(async () => i, { name: 'sealed' })();
    } finally {
      await safety.shutdown();
      safety.instrumentation.unregister();
      cleanGlobals();
    }
    const records = readFileSync(auditFile, 'utf8').trim().split('\n').map(l => JSON.parse(l) as { seal_every?: number; span: { name: string } });
    const every = name === 'seals' ? 2 : 3;
    assert.is(records[0].seal_every, every, name);
    const seals = records.filter(r => r.span.name === 'agent_safety.audit.seal').length;
    // one seal per `every` records and one at shutdown
    assert.ok(seals >= Math.floor(7 / every) + 1, `${name}: ${seals} seals in ${records.length} records`);
  }
  // both given: seals wins
  const both = join(dir, 'sealing-both.jsonl');
  const safety = startAgentSafety({ console: false, audit: { file: both, hmacKey: { id: 'k1', key: Buffer.from('0123456789abcdef0123456789abcdef') }, seals: { everyRecords: 4 }, checkpoints: { everyRecords: 9 } } });
  try {
    await guard(async () => 1, { name: 'sealed' })();
  } finally {
    await safety.shutdown();
    safety.instrumentation.unregister();
    cleanGlobals();
  }
  assert.is((JSON.parse(readFileSync(both, 'utf8').split('\n')[0]) as { seal_every?: number }).seal_every, 4);
});

test('OTLP that does not carry the audit (metrics only, traces off, audit.otlp false): the chain still goes to the default file, never nowhere', async () => {
  const receiver = await OtlpReceiver.start();
  const endpoint = receiver.url;
  const cases = {
    'metrics only': { otlp: { endpoint, traces: false, logs: false } },
    'audit.otlp false': { otlp: { endpoint, logs: false }, audit: { otlp: false } },
  } as const;
  const cwd = process.cwd();
  for (const [label, options] of Object.entries(cases)) {
    const where = mkdtempSync(join(dir, 'default-file-'));
    process.chdir(where); // the default file is relative to the working directory
    let safety: ReturnType<typeof startAgentSafety> | undefined;
    try {
      safety = startAgentSafety({ console: false, ...options });
      assert.ok(safety.audit, `${label}: the audit processor is there`);
      assert.is(safety.auditFile, 'agent-safety-audit.jsonl', label);
      await guard(async () => 1, { name: 'audited' })();
    } finally {
      await safety?.shutdown();
      safety?.instrumentation.unregister();
      cleanGlobals();
      process.chdir(cwd);
    }
    assert.match(readFileSync(join(where, 'agent-safety-audit.jsonl'), 'utf8'), '"name":"execute_tool audited"', label);
  }
  await receiver.close();
});

test('a start that fails on its options does not hold the process', async () => {
  assert.throws(() => startAgentSafety({ console: false, audit: { file: join(dir, 'bad.jsonl'), checkpoints: { everyRecords: -1 } } }), /everyRecords/);
  const safety = startAgentSafety({ console: false, audit: { file: join(dir, 'after-bad.jsonl') } });
  await safety.shutdown();
  safety.instrumentation.unregister();
  cleanGlobals();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
