/**
 * Audit chains of real SDK spans for the verifier's tests: a tracer provider
 * whose test processor chains each ended span with `AuditChain` (the same
 * calls the real `AuditChainSpanProcessor` makes), keeps the JSONL lines,
 * and exports a stamped copy of each span (as an exporter behind the real
 * processor would see it), seals included (`seal()` adds the one the real
 * processor adds at shutdown).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Attributes, Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { AuditChain } from '../../src/patterns/audit/audit-chain.js';
import type { AuditChainOptions, ChainedRecord } from '../../src/patterns/audit/audit-chain.js';
import { AUDIT_KEYS, SEAL_SPAN_NAME } from '../../src/patterns/audit/audit-record.js';
import { sdkTrace } from './otel.js';

export const TEST_RESOURCE = { 'service.name': 'audit-test', 'service.version': '1.2.3', 'host.cores': 2 };

/** An Ed25519 key pair for seals. */
export function ed25519(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ed25519');
}

/** A span copy carrying the stamps, as an exporter would receive it. */
function stamped(span: ReadableSpan, record: ChainedRecord, chain: AuditChain): ReadableSpan {
  const stamps: Attributes = {
    [AUDIT_KEYS.chainId]: record.chainId,
    [AUDIT_KEYS.seq]: record.seq,
    [AUDIT_KEYS.prevHash]: record.prevHash,
    [AUDIT_KEYS.hash]: record.hash,
  };
  if (record.seq === 0) {
    const { keyId, previous, format, sealEvery } = chain.genesisFacts;
    stamps[AUDIT_KEYS.format] = format;
    if (sealEvery !== undefined) stamps[AUDIT_KEYS.sealEvery] = sealEvery;
    if (keyId !== undefined) stamps[AUDIT_KEYS.keyId] = keyId;
    if (previous !== undefined) {
      stamps[AUDIT_KEYS.previousChainId] = previous.chainId;
      stamps[AUDIT_KEYS.previousSeq] = previous.seq;
      stamps[AUDIT_KEYS.previousHash] = previous.hash;
    }
  }
  const copy = Object.create(span) as ReadableSpan & { attributes: Attributes };
  Object.defineProperty(copy, 'attributes', { value: { ...span.attributes, ...stamps }, enumerable: true });
  return copy;
}

/** Chains every span that ends (the test stand-in for AuditChainSpanProcessor). */
class ChainingProcessor implements SpanProcessor {
  readonly records: ChainedRecord[] = [];
  readonly stampedSpans: ReadableSpan[] = [];
  tracer: Tracer | undefined;
  readonly chain: AuditChain;
  constructor(chain: AuditChain) {
    this.chain = chain;
  }
  onStart(_span: Span): void {}
  onEnd(span: ReadableSpan): void {
    const record = this.chain.append(span, span.resource.attributes);
    this.records.push(record);
    this.stampedSpans.push(stamped(span, record, this.chain));
    if (span.name !== SEAL_SPAN_NAME && this.chain.sealDue()) this.seal();
  }
  /** Appends a seal span (as the real processor does when one is due, and at shutdown). */
  seal(final = false): void {
    const cp = this.chain.makeSeal(final);
    if (cp === undefined || this.tracer === undefined) return;
    const attributes: Attributes = {
      [AUDIT_KEYS.sealHeadSeq]: cp.claim.headSeq,
      [AUDIT_KEYS.sealHeadHash]: cp.claim.headHash,
      [AUDIT_KEYS.sealTime]: cp.claim.timeUnixNano,
    };
    if (final) attributes[AUDIT_KEYS.sealFinal] = true;
    if (cp.signature !== undefined) {
      attributes[AUDIT_KEYS.sealKeyId] = cp.claim.keyId;
      attributes[AUDIT_KEYS.sealSignature] = cp.signature;
    }
    this.tracer.startSpan(SEAL_SPAN_NAME, { attributes }, context.active()).end();
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

export interface AuditFixture {
  tracer: Tracer;
  chain: AuditChain;
  records: ChainedRecord[];
  stampedSpans: ReadableSpan[];
  /** Closes the chain with a final seal (a keyed chain), as the real processor does at shutdown. */
  seal(): void;
  lines(): string[];
  /** The JSONL file text (one line per record, newline-terminated). */
  jsonl(): string;
  /** The stamped spans as OTLP JSON lines, `batch` spans per line (JsonTraceSerializer, as an OTLP/HTTP JSON exporter sends them). */
  /** The stamped spans from index `from` on, as OTLP JSON lines of `batch` spans. */
  otlpJson(batch?: number, from?: number): string;
}

/** A tracer whose ended spans are chained. */
export function auditFixture(
  options: Partial<AuditChainOptions> & { resource?: Attributes; spanLimits?: { attributeCountLimit?: number; eventCountLimit?: number; linkCountLimit?: number } } = {},
): AuditFixture {
  const chain = new AuditChain({ chainId: options.chainId ?? '3f1c2a9e-0000-4000-8000-00000000c0de', ...options });
  const processor = new ChainingProcessor(chain);
  const provider = sdkTrace.tracerProvider({
    resource: resourceFromAttributes(options.resource ?? TEST_RESOURCE),
    spanProcessors: [processor],
    spanLimits: options.spanLimits,
  });
  const tracer = provider.getTracer('agent-safety-otel', '0.1.0');
  processor.tracer = tracer;
  const fixture: AuditFixture = {
    tracer,
    chain,
    records: processor.records,
    stampedSpans: processor.stampedSpans,
    seal: () => processor.seal(true),
    lines: () => processor.records.map(r => r.line),
    jsonl: () => processor.records.map(r => r.line + '\n').join(''),
    otlpJson(batch = 50, from = 0) {
      let out = '';
      for (let i = from; i < processor.stampedSpans.length; i += batch) {
        const bytes = JsonTraceSerializer.serializeRequest(processor.stampedSpans.slice(i, i + batch))!;
        out += Buffer.from(bytes).toString('utf8') + '\n';
      }
      return out;
    },
  };
  return fixture;
}

/** Realistic guarded-action spans: a parent, children with attributes, events, links, errors. */
export function produceSpans(tracer: Tracer, count: number, seed = 1): void {
  let x = seed;
  const rnd = (): number => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
  let previous: ReturnType<Tracer['startSpan']> | undefined;
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan(`execute_tool tool_${i % 7}`, {
      kind: i % 5 === 0 ? SpanKind.CLIENT : SpanKind.INTERNAL,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': `tool_${i % 7}`,
        'gen_ai.agent.id': `agent-${i % 3}`,
        'agent_safety.action.id': `act-${i}`,
        'agent_safety.impact.score': Math.round(rnd() * 1000) / 1000 + 0.0001,
        'agent_safety.breaker.state': 'closed',
        'agent_safety.gate.decision': rnd() < 0.9 ? 'allow' : 'block',
        'agent_safety.arguments.hash': 'sha256:' + (i * 2654435761).toString(16).padStart(16, '0'),
        'agent_safety.attempt': i % 4,
        'agent_safety.reversible': i % 2 === 0,
        'agent_safety.tags': ['payments', 'refund', `t${i % 10}`],
      },
      links: previous ? [{ context: previous.spanContext(), attributes: { 'agent_safety.link': 'previous' } }] : [],
    });
    span.addEvent('gate.evaluated', { 'agent_safety.gate.rule': 'max-refund', 'agent_safety.gate.limit': 500 });
    if (rnd() < 0.1) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool failed: timeout' });
      span.addEvent('exception', { 'exception.type': 'TimeoutError', 'exception.message': 'took longer than 30 s' });
    }
    const child = trace.setSpan(context.active(), span);
    if (i % 10 === 0) tracer.startSpan('rollback step', { attributes: { 'agent_safety.rollback.step': 1 } }, child).end();
    span.end();
    previous = span;
  }
}
