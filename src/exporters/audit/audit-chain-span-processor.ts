/**
 * `AuditChainSpanProcessor`: appends each selected span, as it ends, to a
 * tamper-evident hash chain, stamps the chain onto the span so that every
 * exporter (Jaeger, Tempo, the Collector) carries it, and hands the record
 * to the audit sinks.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SpanKind, SpanStatusCode, TraceFlags, diag } from '@opentelemetry/api';
import type { Attributes, Context, HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Resource } from '@opentelemetry/resources';
import { AuditChain } from '../../patterns/audit/audit-chain.js';
import type { AuditHmacKey, AuditSigningKey, ChainedRecord, SealPolicy } from '../../patterns/audit/audit-chain.js';
import type { ChainHead } from '../../patterns/audit/audit-record.js';
import { AUDIT_TLOG_NOTE_KEY, AuditLogTree } from '../../patterns/audit/audit-tlog.js';
import type { AuditTreeState } from '../../patterns/audit/audit-tlog.js';
import { redactAttributes, redactSecrets, redactText } from '../../patterns/shared/redaction.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import { nanoStringToHrTime } from '../../patterns/audit/audit-span-decode.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { resolveNow } from '../../patterns/shared/clock.js';
import { countAuditRecords, auditInstruments, registerAuditSink } from './audit-metrics.js';
import {
  ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID,
  ATTR_AGENT_SAFETY_AUDIT_HASH,
  ATTR_AGENT_SAFETY_AUDIT_KEY_ID,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_CHAIN_ID,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_SEQ,
  ATTR_AGENT_SAFETY_AUDIT_PREV_HASH,
  ATTR_AGENT_SAFETY_AUDIT_SEQ,
  ATTR_AGENT_SAFETY_AUDIT_FORMAT,
  ATTR_AGENT_SAFETY_AUDIT_SEAL_EVERY,
  ATTR_AGENT_SAFETY_AUDIT_SEAL_FINAL,
  ATTR_AGENT_SAFETY_AUDIT_SEAL_HEAD_HASH,
  ATTR_AGENT_SAFETY_AUDIT_SEAL_HEAD_SEQ,
  ATTR_AGENT_SAFETY_AUDIT_SEAL_KEY_ID,
  ATTR_AGENT_SAFETY_AUDIT_SEAL_SIGNATURE,
  ATTR_AGENT_SAFETY_AUDIT_SEAL_TIME,
  SPAN_AGENT_SAFETY_AUDIT_SEAL,
} from '../../instrumentation/shared/semconv.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../instrumentation/shared/version.js';
import type { AuditRecord, AuditSink } from './audit-sink.js';

/** Which spans go into the chain. */
export type AuditSpanFilter = (span: ReadableSpan) => boolean;

/** The package's own spans: guarded actions, agent runs, rollbacks, compensations, audit events. */
export const auditPackageSpans: AuditSpanFilter = span => span.instrumentationScope.name === PACKAGE_NAME;

/** Every span. */
export const auditAllSpans: AuditSpanFilter = () => true;

/** Options of {@link AuditChainSpanProcessor}. */
export interface AuditChainSpanProcessorOptions {
  /** Where records go: files, OTLP, memory, your own. At least one. */
  sinks: AuditSink[];
  /** Which spans are chained. @default {@link auditPackageSpans} */
  filter?: AuditSpanFilter;
  /**
   * Key the chain with HMAC-SHA-256: someone who can rewrite the audit file
   * but does not hold the key cannot recompute the chain. The id is
   * recorded in the first record; the key never is.
   */
  hmacKey?: AuditHmacKey;
  /**
   * Sign seals with this Ed25519 key. A keyed chain (this key, `hmacKey` or
   * both) seals itself: a seal span naming the head every
   * `seals.everyRecords` records and every `seals.everyMs` while records
   * arrive, and a last one at shutdown; seq 0 records the policy, so a
   * verifier reports a missing seal and a tail cut after the last one.
   * Whoever holds a later seal can detect truncation of the tail.
   */
  signingKey?: AuditSigningKey;
  /** When a keyed chain seals itself. @default every 1000 records or 10 s */
  seals?: SealPolicy;
  /** @deprecated The old name of `seals`. */
  checkpoints?: SealPolicy;
  /**
   * Applied, before the span is chained, to its status message and its
   * events' attributes (exception messages among them), in place: every
   * exporter then sees the redacted span too. Once chained, a secret
   * cannot be removed without breaking the chain.
   * @default redactSecrets (secret-looking keys; bearer tokens, `password=` pairs, API keys, private keys in text)
   */
  redact?: Redactor;
  /** The chain id. @default a random UUID (one chain per process run) */
  chainId?: string;
  /**
   * The head of the chain this one continues. @default what the first sink
   * with `previousHead()` (an existing audit file) holds
   */
  previous?: ChainHead;
  /** The clock of seal intervals. @default Date.now */
  now?: Clock;
  /** @deprecated Use `now`. */
  clock?: Clock;
  /**
   * The audit log as a transparency log: every record becomes a leaf of an
   * RFC 6962 tree continuing this state, and each seal (with
   * `signingKey`) also carries the log's C2SP checkpoint note
   * (`agent_safety.audit.seal.note`, signed under the origin).
   * @default what the first sink with `previousTree()` (a `TlogTilesSink`) holds; none without one
   */
  tlog?: AuditTreeState;
}

/** A span's attributes, writable: stamps go straight in, so attribute-count limits cannot drop them. */
type MutableAttributes = Record<string, Attributes[string]>;

/**
 * A `SpanProcessor` that makes every selected span a record of a
 * tamper-evident hash chain.
 *
 * In `onEnding` (SDK 2.x) it encodes the span canonically, hashes it onto
 * the chain, stamps `agent_safety.audit.chain_id`, `.seq`, `.prev_hash` and
 * `.hash` onto the span itself (so every exporter, Jaeger and Tempo
 * included, carries the chain) and hands the record to its sinks, which
 * queue it without waiting on I/O. With an SDK that has no `onEnding` it
 * does the same in `onEnd` and gives the sinks a stamped copy.
 *
 * Register it **first** among the span processors, and let no later
 * processor change spans as they end: the record is the span as it was
 * when this processor saw it.
 *
 * @example
 * ```ts
 * const audit = new AuditChainSpanProcessor({ sinks: [new FileAuditSink({ path: 'audit.jsonl' })] });
 * const sdk = new NodeSDK({ spanProcessors: [audit, new BatchSpanProcessor(new OTLPTraceExporter())], ... });
 * ```
 */
export class AuditChainSpanProcessor implements SpanProcessor {
  private readonly _chain: AuditChain;
  private readonly _sinks: readonly AuditSink[];
  private readonly _filter: AuditSpanFilter;
  private readonly _unregister: (() => void)[] = [];
  private readonly _sealing: boolean;
  private readonly _redact: Redactor;
  private _timer: ReturnType<typeof setInterval> | undefined;
  private _lastResource: Resource | undefined;
  private _closed = false;
  private readonly _tree: AuditLogTree | undefined;

  constructor(options: AuditChainSpanProcessorOptions) {
    if (!options || !Array.isArray(options.sinks) || options.sinks.length === 0) {
      throw new TypeError('AuditChainSpanProcessor: options.sinks must be a non-empty array of AuditSink');
    }
    for (const [i, sink] of options.sinks.entries()) {
      if (!sink || typeof sink.write !== 'function' || typeof sink.forceFlush !== 'function' || typeof sink.shutdown !== 'function') {
        throw new TypeError(`AuditChainSpanProcessor: options.sinks[${i}] is not an AuditSink (write, forceFlush, shutdown)`);
      }
    }
    if (options.filter !== undefined && typeof options.filter !== 'function') {
      throw new TypeError('AuditChainSpanProcessor: options.filter must be a function');
    }
    if (options.redact !== undefined && typeof options.redact !== 'function') {
      throw new TypeError('AuditChainSpanProcessor: options.redact must be a function');
    }
    this._sinks = [...options.sinks];
    this._filter = options.filter ?? auditPackageSpans;
    this._redact = options.redact ?? redactSecrets;
    const previous = options.previous ?? this._previousFromSinks();
    this._chain = new AuditChain({
      chainId: options.chainId ?? randomUUID(),
      hmacKey: options.hmacKey,
      signingKey: options.signingKey,
      seals: options.seals ?? options.checkpoints,
      previous,
      now: resolveNow(options),
    });
    this._sealing = this._chain.seals;
    const tlog = options.tlog ?? this._treeFromSinks();
    this._tree = tlog === undefined ? undefined : new AuditLogTree(tlog, options.signingKey?.privateKey);
    auditInstruments();
    // Reports the backlog of each sink that does not report its own (a sink
    // that registered itself, like OtlpAuditSink, is observed once, by itself).
    for (const sink of this._sinks) {
      if (typeof sink.backlog === 'function') {
        const name = sinkName(sink);
        this._unregister.push(registerAuditSink(name, () => sink.backlog!(), sink));
      }
    }
    if (this._sealing) {
      const everyMs = (options.seals ?? options.checkpoints)?.everyMs ?? 10_000;
      this._timer = setInterval(() => this._sealIfDue(), everyMs);
      this._timer.unref?.();
    }
  }

  /** This process run's chain id. */
  get chainId(): string {
    return this._chain.chainId;
  }

  /** The last record's seq and hash (seq -1 before the first record). */
  get head(): ChainHead {
    return this._chain.headState;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnding(span: Span): void {
    if (this._closed) return;
    try {
      if (!this._filter(span as unknown as ReadableSpan)) return;
      // `span` is still open here (its end time is set): redaction and stamps write to it.
      this._redactInPlace(span);
      const record = this._append(span as unknown as ReadableSpan, span.attributes as MutableAttributes);
      this._deliver(record, span as unknown as ReadableSpan);
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: audit chain could not append span ${span.name}`, err);
    }
  }

  onEnd(span: ReadableSpan): void {
    if (this._closed) return;
    try {
      if (span.attributes[ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID] === this._chain.chainId) return; // done in onEnding
      if (!this._filter(span)) return;
      // No onEnding (an older SDK): chain now, and give the sinks a stamped copy.
      const attributes: MutableAttributes = { ...span.attributes };
      const { status, events } = this._redacted(span);
      const copy = Object.create(span, {
        attributes: { value: attributes, enumerable: true },
        status: { value: status, enumerable: true },
        events: { value: events, enumerable: true },
      }) as ReadableSpan;
      const record = this._append(copy, attributes);
      this._deliver(record, copy);
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: audit chain could not append span ${span.name}`, err);
    }
  }

  /** The span's status and events, redacted (the same objects when nothing changed). */
  private _redacted(span: ReadableSpan): { status: ReadableSpan['status']; events: ReadableSpan['events'] } {
    let status = span.status;
    if (status.message) {
      const message = this._redactMessage(status.message);
      if (message !== status.message) status = { ...status, message };
    }
    let events = span.events;
    for (let i = 0; i < span.events.length; i++) {
      const e = span.events[i];
      if (e.attributes === undefined) continue;
      const attributes = redactAttributes(e.attributes, this._redact);
      if (attributes === e.attributes) continue;
      if (events === span.events) events = [...span.events];
      events[i] = { ...e, attributes: attributes as Attributes };
    }
    return { status, events };
  }

  /** Redacts the status message and event attributes of a span that is still open (in `onEnding`). */
  private _redactInPlace(span: Span): void {
    const { status, events } = this._redacted(span as unknown as ReadableSpan);
    const open = span as unknown as { status: ReadableSpan['status']; events: ReadableSpan['events'] };
    if (status !== open.status) open.status = status;
    if (events !== open.events) {
      const list = open.events as ReadableSpan['events'][number][];
      for (let i = 0; i < events.length; i++) list[i] = events[i];
    }
  }

  private _redactMessage(message: string): string {
    try {
      const r = this._redact(message);
      return redactText(typeof r === 'string' ? r : String(r));
    } catch {
      return '[redaction failed]';
    }
  }

  /** Appends the span to the chain and stamps `attributes` (the span's own, or a copy's). */
  private _append(span: ReadableSpan, attributes: MutableAttributes): ChainedRecord {
    const first = this._chain.nextSeq === 0;
    this._lastResource = span.resource;
    const record = this._chain.append(span, first ? span.resource.attributes : undefined);
    this._tree?.appendRecordHash(record.hash);
    attributes[ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID] = record.chainId;
    attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ] = record.seq;
    attributes[ATTR_AGENT_SAFETY_AUDIT_PREV_HASH] = record.prevHash;
    attributes[ATTR_AGENT_SAFETY_AUDIT_HASH] = record.hash;
    if (first) {
      const { keyId, previous, format, sealEvery } = this._chain.genesisFacts;
      attributes[ATTR_AGENT_SAFETY_AUDIT_FORMAT] = format;
      if (sealEvery !== undefined) attributes[ATTR_AGENT_SAFETY_AUDIT_SEAL_EVERY] = sealEvery;
      if (keyId !== undefined) attributes[ATTR_AGENT_SAFETY_AUDIT_KEY_ID] = keyId;
      if (previous !== undefined) {
        attributes[ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_CHAIN_ID] = previous.chainId;
        attributes[ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_SEQ] = previous.seq;
        attributes[ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH] = previous.hash;
      }
    }
    countAuditRecords();
    return record;
  }

  private _deliver(chained: ChainedRecord, span: ReadableSpan): void {
    const record: AuditRecord = {
      chainId: chained.chainId,
      seq: chained.seq,
      prevHash: chained.prevHash,
      hash: chained.hash,
      line: chained.line,
      span,
    };
    for (const sink of this._sinks) {
      try {
        sink.write(record);
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: audit sink ${sinkName(sink)} failed to take record ${record.seq}`, err);
      }
    }
    if (this._sealing && span.name !== SPAN_AGENT_SAFETY_AUDIT_SEAL && this._chain.sealDue()) this._seal();
  }

  private _sealIfDue(): void {
    try {
      if (!this._closed && this._chain.sealDue()) this._seal();
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: audit seal failed`, err);
    }
  }

  /** Seals the head (signed, with a signing key) and appends the seal as a span of its own; `final` at shutdown. */
  private _seal(final = false): void {
    const made = this._chain.makeSeal(final);
    if (made === undefined || this._lastResource === undefined) return;
    const { claim, signature } = made;
    const attributes: MutableAttributes = {
      [ATTR_AGENT_SAFETY_AUDIT_SEAL_HEAD_SEQ]: claim.headSeq,
      [ATTR_AGENT_SAFETY_AUDIT_SEAL_HEAD_HASH]: claim.headHash,
      [ATTR_AGENT_SAFETY_AUDIT_SEAL_TIME]: claim.timeUnixNano,
    };
    if (final) attributes[ATTR_AGENT_SAFETY_AUDIT_SEAL_FINAL] = true;
    const note = this._tree?.checkpointNote(); // the tree of the records before this one
    if (note !== undefined) attributes[AUDIT_TLOG_NOTE_KEY] = note;
    if (signature !== undefined) {
      attributes[ATTR_AGENT_SAFETY_AUDIT_SEAL_KEY_ID] = claim.keyId;
      attributes[ATTR_AGENT_SAFETY_AUDIT_SEAL_SIGNATURE] = signature;
    }
    const span = sealSpan(claim.timeUnixNano, attributes, this._lastResource);
    const record = this._append(span, attributes);
    this._deliver(record, span);
  }

  private _previousFromSinks(): ChainHead | undefined {
    for (const sink of this._sinks) {
      if (typeof sink.previousHead !== 'function') continue;
      try {
        const head = sink.previousHead();
        if (head !== undefined) return head;
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: audit sink ${sinkName(sink)} could not report its previous head`, err);
      }
    }
    return undefined;
  }

  private _treeFromSinks(): AuditTreeState | undefined {
    for (const sink of this._sinks) {
      const s = sink as AuditSink & { previousTree?: () => AuditTreeState | undefined };
      if (typeof s.previousTree !== 'function') continue;
      try {
        return s.previousTree();
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: audit sink ${sinkName(sink)} could not report its tree`, err);
      }
    }
    return undefined;
  }

  /** Flushes every sink (what was written so far becomes durable or delivered). */
  async forceFlush(): Promise<void> {
    await settle(this._sinks.map(s => s.forceFlush()), 'flush');
  }

  /** Seals the head a last time (a keyed chain), then flushes and shuts down the sinks. Idempotent. */
  async shutdown(): Promise<void> {
    if (this._closed) return;
    if (this._sealing) {
      try {
        if (this._chain.nextSeq > 0) this._forceSeal();
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: final audit seal failed`, err);
      }
    }
    this._closed = true;
    if (this._timer) clearInterval(this._timer);
    for (const stop of this._unregister) stop();
    await settle(this._sinks.map(s => s.shutdown()), 'shut down');
  }

  /** The closing seal (after an interval seal at the head too: it says the chain ends there). */
  private _forceSeal(): void {
    this._seal(true);
  }
}

async function settle(promises: Promise<void>[], what: string): Promise<void> {
  const results = await Promise.allSettled(promises);
  for (const r of results) {
    if (r.status === 'rejected') diag.error(`${PACKAGE_NAME}: an audit sink failed to ${what}`, r.reason);
  }
}

/** The sink's name for metrics and logs: its `name` property, else its class name. */
function sinkName(sink: AuditSink): string {
  const named = (sink as { name?: unknown }).name;
  if (typeof named === 'string' && named) return named;
  return sink.constructor?.name || 'sink';
}

/** A finished span (not from a tracer) that carries a seal. */
function sealSpan(timeUnixNano: string, attributes: MutableAttributes, resource: Resource): ReadableSpan {
  const time = nanoStringToHrTime(timeUnixNano) as HrTime;
  const context: SpanContext = {
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  };
  return {
    name: SPAN_AGENT_SAFETY_AUDIT_SEAL,
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: undefined,
    startTime: time,
    endTime: time,
    status: { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    events: [],
    duration: [0, 0],
    ended: true,
    resource,
    instrumentationScope: { name: PACKAGE_NAME, version: PACKAGE_VERSION },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
