/**
 * Drives audit sinks from a real tracer provider until the package's
 * `AuditChainSpanProcessor` lands: a small SpanProcessor that appends each
 * ending span to an `AuditChain`, stamps the `agent_safety.audit.*`
 * attributes onto it in `onEnding`, and hands the stamped span to the sinks
 * in `onEnd`.
 */
import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import type { Attributes, Link, Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { InMemorySpanExporter, ReadableSpan, Span, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { AuditChain } from '../../src/patterns/audit/audit-chain.js';
import type { ChainedRecord } from '../../src/patterns/audit/audit-chain.js';
import { auditStamps } from '../../src/patterns/audit/audit-span-decode.js';
import type { AuditSink } from '../../src/exporters/audit/audit-sink.js';
import { sdkTrace } from './otel.js';

export class TestAuditProcessor implements SpanProcessor {
  readonly chain: AuditChain;
  private readonly _sinks: AuditSink[];
  private readonly _pending = new WeakMap<object, ChainedRecord>();

  constructor(chain: AuditChain, sinks: AuditSink[]) {
    this.chain = chain;
    this._sinks = sinks;
  }

  onStart(): void {}

  onEnding(span: Span): void {
    const first = this.chain.nextSeq === 0;
    const rec = this.chain.append(span, span.resource.attributes);
    const facts = first ? this.chain.genesisFacts : { keyId: undefined, previous: undefined, format: undefined, sealEvery: undefined };
    span.setAttributes(auditStamps({ ...rec, keyId: facts.keyId, previous: facts.previous, format: facts.format, sealEvery: facts.sealEvery }));
    this._pending.set(span, rec);
  }

  onEnd(span: ReadableSpan): void {
    const rec = this._pending.get(span);
    if (rec === undefined) return;
    this._pending.delete(span);
    // The record with the stamped span (its line and bytes as the chain made them).
    for (const sink of this._sinks) sink.write(Object.assign(Object.create(rec) as ChainedRecord, { span }));
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this._sinks.map(s => s.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this._sinks.map(s => s.shutdown()));
  }
}

export interface AuditedTracer {
  provider: TracerProvider;
  processor: TestAuditProcessor;
  /** What a plain exporter next to the audit sink saw (stamped spans). */
  memory: InMemorySpanExporter;
  chainId: string;
  /** Ends `n` varied spans (attributes of every type, events, links, parents, errors). */
  produce(n: number, startAt?: number): ReadableSpan[];
}

/**
 * A function that ends `n` pairs of varied spans on `tracer` (an
 * `invoke_agent` parent and an `execute_tool` child with attributes of every
 * type, events, links to earlier spans, error statuses): 2n spans.
 */
export function spanProducer(tracer: Tracer): (n: number, startAt?: number) => ReadableSpan[] {
  let previous: ReadableSpan | undefined;
  return (n: number, startAt = 0): ReadableSpan[] => {
    const out: ReadableSpan[] = [];
    for (let k = 0; k < n; k++) {
      const i = startAt + k;
      const attrs: Attributes = {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': `tool-${i % 7}`,
        'test.index': i,
        'test.double': i + 0.5,
        'test.flag': i % 2 === 0,
        'test.list': [`a${i}`, 'b', 'ü'],
        'test.ints': [i, -i, 0],
      };
      const links: Link[] = [];
      if (previous !== undefined && i % 5 === 0) links.push({ context: previous.spanContext(), attributes: { 'agent_safety.link.type': 'compensates', n: i } });
      const parent = tracer.startSpan(`invoke_agent agent-${i % 3}`);
      const ctx = trace.setSpan(context.active(), parent);
      const span = tracer.startSpan(`execute_tool tool-${i % 7}`, { attributes: attrs, links, kind: i % 4 }, ctx);
      if (i % 3 === 0) span.addEvent('agent_safety.explanation', { phase: 'before', confidence: 0.9, reasoning: `step ${i} «naïve» 𝄞` });
      if (i % 11 === 0) span.setStatus({ code: 2, message: `failed ${i}` });
      span.end();
      parent.end();
      previous = span as unknown as ReadableSpan;
      out.push(span as unknown as ReadableSpan);
    }
    return out;
  };
}

/** A real tracer provider whose spans are chained into `sinks`. */
export function auditedTracer(sinks: AuditSink[], options: { chainId?: string; previous?: ChainedRecord & { chainId: string } } = {}): AuditedTracer {
  const chainId = options.chainId ?? randomUUID();
  const chain = new AuditChain({ chainId, previous: options.previous && { chainId: options.previous.chainId, seq: options.previous.seq, hash: options.previous.hash } });
  const processor = new TestAuditProcessor(chain, sinks);
  const memory = sdkTrace.inMemorySpanExporter();
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'audit-sink-test', 'service.instance.id': chainId, 'deployment.environment.name': 'test' }),
    spanProcessors: [processor, sdkTrace.simpleSpanProcessor(memory)],
  });
  const produce = spanProducer(provider.getTracer('audit-sink-test', '1.2.3'));
  return { provider, processor, memory, chainId, produce };
}
