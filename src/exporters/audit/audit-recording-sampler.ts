/**
 * `AuditRecordingSampler`: keeps the package's spans recorded even when
 * trace sampling drops them, so the audit chain never depends on sampling.
 *
 * @module
 */
import type { Sampler, SamplingDecision, SamplingResult } from '@opentelemetry/sdk-trace';
import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';

// The SDK's SamplingDecision values (fixed by the specification); the
// exporters import SDK packages for their types only.
const NOT_RECORD = 0 as SamplingDecision;
const RECORD = 1 as SamplingDecision;

/** Decides, at span start, whether a span is one the audit must see. */
export type AuditSpanMatcher = (spanName: string, attributes: Attributes) => boolean;

/** The package's span names: guarded actions, agent runs, rollbacks, compensations, audit events. */
export const isPackageSpanName: AuditSpanMatcher = name =>
  name.startsWith('execute_tool ') ||
  name.startsWith('invoke_agent ') ||
  name.startsWith('compensate ') ||
  name.startsWith('agent_safety.');

/**
 * Wraps your sampler. When it would drop (`NOT_RECORD`) a span the audit
 * must see, the span is recorded but not sampled (`RECORD`): span
 * processors, the audit chain among them, still get it; exporters behind a
 * `BatchSpanProcessor` or `SimpleSpanProcessor` do not (they export
 * sampled spans only), so your trace volume is what your sampler says.
 *
 * @example
 * ```ts
 * new NodeSDK({ sampler: new AuditRecordingSampler(new TraceIdRatioBasedSampler(0.1)), ... })
 * ```
 */
export class AuditRecordingSampler implements Sampler {
  private readonly _delegate: Sampler;
  private readonly _matches: AuditSpanMatcher;

  constructor(delegate: Sampler, matches: AuditSpanMatcher = isPackageSpanName) {
    if (!delegate || typeof delegate.shouldSample !== 'function') {
      throw new TypeError('AuditRecordingSampler: the first argument must be a Sampler');
    }
    if (typeof matches !== 'function') throw new TypeError('AuditRecordingSampler: matches must be a function');
    this._delegate = delegate;
    this._matches = matches;
  }

  shouldSample(ctx: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    const result = this._delegate.shouldSample(ctx, traceId, spanName, spanKind, attributes, links);
    if (result.decision === NOT_RECORD && this._matches(spanName, attributes)) {
      return { ...result, decision: RECORD };
    }
    return result;
  }

  toString(): string {
    return `AuditRecordingSampler{${this._delegate.toString()}}`;
  }
}
