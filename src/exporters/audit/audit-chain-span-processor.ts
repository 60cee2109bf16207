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
import { AUDIT_TLOG_NOTE_KEY } from '../../patterns/audit/audit-record.js';
import type { AuditLogTree, AuditTreeState } from '../../patterns/audit/audit-tlog.js';
import { newAuditLogTree } from './audit-log-tree.js';
import { redactAttributes, redactSecrets, redactText } from '../../patterns/shared/redaction.js';
import type { Redactor } from '../../patterns/shared/redaction.js';
import { hrTimeDiff, nanoStringToHrTime } from '../../patterns/audit/audit-span-decode.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { resolveNow } from '../../patterns/shared/clock.js';
import { countAuditDropped, countAuditRecords, countAuditRefusedCall, auditInstruments, registerAuditSink } from './audit-metrics.js';
import { registerAuditAdmission } from '../../instrumentation/audit/audit-admission.js';
import { AuditUnavailableError } from '../../patterns/audit/audit-unavailable-error.js';
import { msToNanoString } from '../../patterns/audit/audit-chain.js';
import { requireNumber, requireOneOf } from '../../patterns/shared/validate.js';
import {
  ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID,
  ATTR_AGENT_SAFETY_AUDIT_GAP_REASON,
  ATTR_AGENT_SAFETY_AUDIT_GAP_RECORDS,
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
  SPAN_AGENT_SAFETY_AUDIT_GAP,
} from '../../instrumentation/shared/semconv.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../instrumentation/shared/version.js';
import type { AuditRecord, AuditSink } from './audit-sink.js';
import { onLastChanceClose } from './last-chance-flush.js';

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
  /**
   * The memory cap: records held in memory by a sink, not yet in a local
   * journal (see `AuditSink.held`), at most this many. When a disk or a
   * collector does not keep up and the cap is reached, `onBacklogFull`
   * decides; records beyond the cap are never kept in memory.
   * @default 20000
   */
  maxBacklog?: number;
  /**
   * What happens when the cap is reached:
   * - `'fail-actions'`: a guarded call is rejected with an
   *   `AuditUnavailableError` before its tool runs (fail closed);
   * - `'block-actions'`: a guarded call waits for room (up to
   *   `blockTimeoutMs`, then `AuditUnavailableError`) before its tool runs;
   * - `'drop-with-gap-record'`: calls go on, their records are not kept.
   * In every case a record that arrives while the cap is reached (a
   * refused call's, a span not guarded) is not kept: it is counted in
   * `agent_safety.audit.dropped`, reported through `diag`, and once there
   * is room again a gap record (`agent_safety.audit_gap`) in the chain says
   * how many were left out and when. Nothing is dropped silently.
   * @default 'fail-actions'
   */
  onBacklogFull?: BacklogFullPolicy;
  /** With `'block-actions'`: how long a call waits for room, in ms. @default 30000 */
  blockTimeoutMs?: number;
}

/** See {@link AuditChainSpanProcessorOptions.onBacklogFull}. */
export type BacklogFullPolicy = 'fail-actions' | 'block-actions' | 'drop-with-gap-record';

const POLICIES: readonly BacklogFullPolicy[] = ['fail-actions', 'block-actions', 'drop-with-gap-record'];

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
  private readonly _maxBacklog: number;
  private readonly _policy: BacklogFullPolicy;
  private readonly _blockTimeoutMs: number;
  private readonly _heldSinks: readonly AuditSink[];
  private readonly _stopAdmission: () => void;
  /** Records left out since the last gap record, and when the first and last were. */
  private _gapCount = 0;
  private _gapFirstMs = 0;
  private _gapLastMs = 0;
  private readonly _now: Clock;
  /** Spans left out in `onEnding` (so that `onEnd` does not count them again). */
  private readonly _leftOut = new WeakSet<object>();

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
    this._maxBacklog = options.maxBacklog ?? 20_000;
    requireNumber('maxBacklog', this._maxBacklog, { min: 1, integer: true });
    this._policy = options.onBacklogFull ?? 'fail-actions';
    requireOneOf('onBacklogFull', this._policy, POLICIES);
    this._blockTimeoutMs = options.blockTimeoutMs ?? 30_000;
    requireNumber('blockTimeoutMs', this._blockTimeoutMs, { min: 0 });
    this._now = resolveNow(options);
    this._heldSinks = this._sinks.filter(s => typeof s.held === 'function');
    const previous = options.previous ?? this._previousFromSinks();
    this._chain = new AuditChain({
      chainId: options.chainId ?? randomUUID(),
      hmacKey: options.hmacKey,
      signingKey: options.signingKey,
      seals: options.seals ?? options.checkpoints,
      previous,
      now: this._now,
    });
    this._sealing = this._chain.seals;
    const tlog = options.tlog ?? this._treeFromSinks();
    this._tree = tlog === undefined ? undefined : newAuditLogTree(tlog, options.signingKey?.privateKey);
    auditInstruments();
    // Reports the backlog of each sink that does not report its own (a sink
    // that registered itself, like OtlpAuditSink, is observed once, by itself).
    for (const sink of this._sinks) {
      if (typeof sink.backlog === 'function') {
        const name = sinkName(sink);
        this._unregister.push(registerAuditSink(name, () => sink.backlog!(), sink));
      }
    }
    this._stopAdmission = registerAuditAdmission(this._admit);
    if (this._sealing) this._unregister.push(onLastChanceClose(() => this._close()));
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
      if (!this._room()) {
        this._leftOut.add(span);
        return;
      }
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
      if (!this._filter(span) || this._leftOut.has(span)) return;
      if (!this._room()) return;
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

  /** The most records a sink holds in memory, and which sink. */
  private _heldMost(): [number, AuditSink | undefined] {
    let most = 0;
    let which: AuditSink | undefined;
    for (const sink of this._heldSinks) {
      let n = 0;
      try {
        n = sink.held!();
      } catch {
        n = 0;
      }
      if (n > most) {
        most = n;
        which = sink;
      }
    }
    return [most, which];
  }

  /**
   * Whether a record can be kept now. When not, it is counted as left out
   * (reported, and named by a gap record later); when there is room again
   * after some were left out, the gap record is appended first.
   */
  private _room(): boolean {
    if (this._heldSinks.length === 0) return true;
    const [held, sink] = this._heldMost();
    const now = this._now();
    if (held >= this._maxBacklog) {
      if (this._gapCount === 0) {
        this._gapFirstMs = now;
        diag.error(
          `${PACKAGE_NAME}: the audit backlog is full (${held} records held in memory by sink ${sink ? sinkName(sink) : '?'}, cap ${this._maxBacklog}): records are left out until it drains; a gap record will name them (policy ${this._policy})`,
        );
      }
      this._gapCount++;
      this._gapLastMs = now;
      countAuditDropped();
      return false;
    }
    if (this._gapCount > 0 && this._lastResource !== undefined) this._appendGap();
    return true;
  }

  /** Appends the gap record naming the records left out. */
  private _appendGap(): void {
    const count = this._gapCount;
    this._gapCount = 0;
    const attributes: MutableAttributes = {
      [ATTR_AGENT_SAFETY_AUDIT_GAP_RECORDS]: count,
      [ATTR_AGENT_SAFETY_AUDIT_GAP_REASON]: 'backlog-full',
    };
    const span = syntheticSpan(SPAN_AGENT_SAFETY_AUDIT_GAP, msToNanoString(this._gapFirstMs), msToNanoString(this._gapLastMs), attributes, this._lastResource!);
    const record = this._append(span, attributes);
    this._deliver(record, span);
    diag.warn(`${PACKAGE_NAME}: the audit backlog drained; gap record ${record.chainId}#${record.seq} names the ${count} records left out`);
  }

  /** The admission gate guarded calls consult before they run (see `audit-admission.ts`). */
  private readonly _admit = (): undefined | Error | Promise<void> => {
    if (this._closed || this._heldSinks.length === 0 || this._policy === 'drop-with-gap-record') return undefined;
    const [held, sink] = this._heldMost();
    if (held < this._maxBacklog) return undefined;
    if (this._policy === 'fail-actions') {
      countAuditRefusedCall();
      return new AuditUnavailableError({ reason: 'backlog-full', held, limit: this._maxBacklog, sink: sink && sinkName(sink) });
    }
    return this._waitForRoom();
  };

  private async _waitForRoom(): Promise<void> {
    const deadline = this._now() + this._blockTimeoutMs;
    for (;;) {
      const [held, sink] = this._heldMost();
      if (held < this._maxBacklog || this._closed) return;
      if (this._now() >= deadline) {
        countAuditRefusedCall();
        throw new AuditUnavailableError({ reason: 'timeout', held, limit: this._maxBacklog, sink: sink && sinkName(sink) });
      }
      await new Promise(resolve => setTimeout(resolve, 10));
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
    // The chain's record carries the span it was made from: the same object goes to every sink.
    const record = chained as AuditRecord;
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
    const span = syntheticSpan(SPAN_AGENT_SAFETY_AUDIT_SEAL, claim.timeUnixNano, claim.timeUnixNano, attributes, this._lastResource);
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
    this._close();
    await settle(this._sinks.map(s => s.shutdown()), 'shut down');
  }

  /**
   * Closes the chain, synchronously: the pending gap record, the closing
   * seal (a keyed chain), then no more records. Run by `shutdown`, and by
   * the last-chance flush when the process ends without one (before the
   * journals write), so that such a run verifies as closed.
   */
  private _close(): void {
    if (this._closed) return;
    this._stopAdmission();
    if (this._gapCount > 0 && this._lastResource !== undefined) {
      try {
        this._appendGap();
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: the final gap record failed (${this._gapCount} records left out)`, err);
      }
    }
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

/** A finished span (not from a tracer) of the chain's own: a seal or a gap record. */
function syntheticSpan(name: string, startUnixNano: string, endUnixNano: string, attributes: MutableAttributes, resource: Resource): ReadableSpan {
  const startTime = nanoStringToHrTime(startUnixNano) as HrTime;
  const endTime = nanoStringToHrTime(endUnixNano) as HrTime;
  const context: SpanContext = {
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  };
  return {
    name,
    kind: SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: undefined,
    startTime,
    endTime,
    status: { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    events: [],
    duration: hrTimeDiff(startTime, endTime) as HrTime,
    ended: true,
    resource,
    instrumentationScope: { name: PACKAGE_NAME, version: PACKAGE_VERSION },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
