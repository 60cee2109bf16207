/**
 * Rebuilds an exportable `ReadableSpan` from an audit record line, so that a
 * spooled record can be sent again as the same span: same ids, times,
 * attributes, events, links, scope, resource, plus the
 * `agent_safety.audit.*` stamps. `encodeSpan()` of the rebuilt span equals
 * the original's, so the chain verifies from what the receiver gets.
 *
 * @module
 */
import { TraceFlags } from '@opentelemetry/api';
import type { Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { auditStamps, hrTimeDiff } from '../../patterns/audit/audit-span-decode.js';
import type { DecodedAuditRecord } from '../../patterns/audit/audit-span-decode.js';

/**
 * A plain resource (attributes only, nothing pending): what exporters read
 * of a span's resource. Written here rather than taken from
 * `@opentelemetry/resources`, which the exporters layer imports for types only.
 */
class PlainResource implements Resource {
  readonly attributes: Attributes;
  readonly asyncAttributesPending = false;
  constructor(attributes: Attributes) {
    this.attributes = Object.freeze({ ...attributes });
  }
  waitForAsyncAttributes(): Promise<void> {
    return Promise.resolve();
  }
  merge(other: Resource | null): Resource {
    return other === null ? this : new PlainResource({ ...this.attributes, ...other.attributes });
  }
  getRawAttributes(): [string, Attributes[string]][] {
    return Object.entries(this.attributes);
  }
}

/** A resource from attributes, for {@link rebuildAuditSpan}. Share one per chain: OTLP groups spans by resource object. */
export function auditResource(attributes: Readonly<Record<string, unknown>> | undefined): Resource {
  return new PlainResource((attributes ?? {}) as Attributes);
}

/**
 * A finished span from a decoded record (`decodeRecord(JSON.parse(line))`,
 * see `audit-span-decode.ts`). `resource` is the chain's resource
 * (seq 0 carries it; later records need it from elsewhere, e.g. the spool);
 * `traceFlags` is not part of the record (default: sampled).
 */
export function rebuildAuditSpan(
  r: DecodedAuditRecord,
  resource: Resource,
  traceFlags: number = TraceFlags.SAMPLED,
): ReadableSpan {
  if (r.hash === undefined) throw new TypeError('rebuildAuditSpan: the record has no hash');
  const s = r.span;
  const ctx: SpanContext = { traceId: s.traceId, spanId: s.spanId, traceFlags };
  const parent: SpanContext | undefined =
    s.parentSpanId === '' ? undefined : { traceId: s.traceId, spanId: s.parentSpanId, traceFlags };
  const attributes: Attributes = {
    ...(s.attributes as Attributes),
    ...auditStamps({ chainId: r.chainId, seq: r.seq, prevHash: r.prevHash, hash: r.hash, keyId: r.keyId, previous: r.previous, format: r.format, sealEvery: r.sealEvery }),
  };
  const events: TimedEvent[] = s.events.map(e => ({
    name: e.name,
    time: [e.time[0], e.time[1]],
    attributes: (e.attributes ?? {}) as Attributes,
    droppedAttributesCount: e.droppedAttributesCount ?? 0,
  }));
  const links: Link[] = s.links.map(l => ({
    context: { traceId: l.context.traceId, spanId: l.context.spanId, traceFlags },
    attributes: (l.attributes ?? {}) as Attributes,
    droppedAttributesCount: l.droppedAttributesCount ?? 0,
  }));
  const startTime: HrTime = [s.startTime[0], s.startTime[1]];
  const endTime: HrTime = [s.endTime[0], s.endTime[1]];
  const status: SpanStatus = s.status.message === undefined ? { code: s.status.code } : { code: s.status.code, message: s.status.message };
  return {
    name: s.name,
    kind: s.kind as SpanKind,
    spanContext: () => ctx,
    parentSpanContext: parent,
    startTime,
    endTime,
    status,
    attributes,
    links,
    events,
    duration: hrTimeDiff(startTime, endTime),
    ended: true,
    resource,
    instrumentationScope: { ...s.instrumentationScope },
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
  };
}
