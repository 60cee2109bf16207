/**
 * The audit chain's throughput: the processor appending real finished spans
 * (canonical encoding, SHA-256, stamping, the JSONL line, an in-memory sink)
 * against the raw limit of the same records: `JSON.stringify` of the record
 * already built as an object, plus SHA-256.
 * Keys: audit_vs_raw_limit (target ≥ 0.5), audit_records_per_s,
 * audit_raw_limit_per_s.
 */
import { createHash } from 'node:crypto';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AuditChainSpanProcessor, auditAllSpans } from '../../src/exporters/index.js';
import type { AuditRecord, AuditSink } from '../../src/exporters/index.js';
import { compare, formatNs, formatRate, round } from '../lib.js';
import type { BenchSuite } from '../lib.js';
import { sdkTrace } from '../telemetry.js';

/** Takes records and keeps only a count and the last line: the sink's cost is not what is measured. */
class CountingSink implements AuditSink {
  count = 0;
  bytes = 0;
  last = '';
  write(record: AuditRecord): void {
    this.count++;
    this.bytes += record.line.length;
    this.last = record.line;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Realistic guarded-call spans: GenAI attributes, breaker and gate decisions, an explanation event. */
async function realSpans(n: number): Promise<ReadableSpan[]> {
  const exporter = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench-agent', 'service.version': '1.4.2', 'host.name': 'bench-host' }),
    spanProcessors: [sdkTrace.simpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('agent-safety-otel', '0.1.0');
  for (let i = 0; i < n; i++) {
    const span = tracer.startSpan(`execute_tool publish_post`, {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'publish_post',
        'gen_ai.tool.call.id': `call_${i.toString(36)}`,
        'gen_ai.tool.description': 'Publishes a post to the public feed',
        'gen_ai.agent.id': 'content-ranker-v3',
        'gen_ai.agent.name': 'Content ranker',
        'agent_safety.breaker.name': 'content-ranker-v3/publish_post',
        'agent_safety.breaker.state': 'closed',
        'agent_safety.impact.proposed': 0.31,
        'agent_safety.impact.counterfactual': 0.05,
        'agent_safety.impact.delta': 0.26,
        'agent_safety.impact.level': 'LOW',
        'agent_safety.impact.verdict': 'proceed',
        'agent_safety.impact.enforced': 'proceed',
        'agent_safety.explanation.reasoning': 'Engagement is above the weekly median and the post passed the policy check.',
        'agent_safety.explanation.confidence': 0.82,
        'agent_safety.call.outcome': 'success',
      },
    });
    span.addEvent('agent_safety.explanation', {
      'agent_safety.explanation.phase': 'pre_action',
      'agent_safety.explanation.reasoning': 'Engagement is above the weekly median and the post passed the policy check.',
      'agent_safety.explanation.confidence': 0.82,
      'agent_safety.explanation.alternatives': ['hold for review', 'publish to staging'],
    });
    span.end();
  }
  await provider.forceFlush();
  const spans = [...exporter.getFinishedSpans()];
  await provider.shutdown();
  return spans;
}

const suite: BenchSuite = {
  name: 'audit chain',
  async run({ quick }) {
    const spans = await realSpans(quick ? 200 : 2_000);
    const sink = new CountingSink();
    const processor = new AuditChainSpanProcessor({ sinks: [sink], filter: auditAllSpans });
    // The same records as objects, built once: what JSON.stringify + SHA-256 would take.
    const objects = spans.map(s => {
      processor.onEnding(s as never); // as the SDK calls it when a span ends: chains and stamps it
      const { hash: _hash, ...body } = JSON.parse(sink.last) as Record<string, unknown>;
      return body;
    });
    let i = 0;
    let j = 0;
    const n = spans.length;
    const results = await compare(
      {
        'raw limit: JSON.stringify + SHA-256': () => {
          createHash('sha256').update(JSON.stringify(objects[i++ % n])).digest('hex');
        },
        'AuditChainSpanProcessor (per span)': () => {
          processor.onEnding(spans[j++ % n] as never);
        },
      },
      quick ? { iterations: 2_000, runs: 3 } : { iterations: 50_000, runs: 9 },
    );
    const raw = results['raw limit: JSON.stringify + SHA-256'].nsPerOp;
    const chained = results['AuditChainSpanProcessor (per span)'].nsPerOp;

    return {
      rows: [
        { name: 'raw limit', value: formatRate(1e9 / raw, 'records'), note: formatNs(raw) },
        { name: 'chained (processor)', value: formatRate(1e9 / chained, 'records'), note: `${formatNs(chained)}, ${Math.round(sink.bytes / sink.count)} B/record` },
        { name: 'chained ÷ raw limit', value: round(raw / chained, 2).toFixed(2), note: 'target ≥ 0.5' },
      ],
      figures: {
        audit_vs_raw_limit: round(raw / chained, 3),
        audit_records_per_s: Math.round(1e9 / chained),
        audit_raw_limit_per_s: Math.round(1e9 / raw),
      },
    };
  },
};

export default suite;
