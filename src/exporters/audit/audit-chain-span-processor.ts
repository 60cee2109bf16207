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
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Resource } from '@opentelemetry/resources';
import { AuditChain } from '../../patterns/audit/audit-chain.js';
import type { AuditHmacKey, AuditSigningKey, ChainedRecord, CheckpointPolicy } from '../../patterns/audit/audit-chain.js';
import type { ChainHead } from '../../patterns/audit/audit-record.js';
import { nanoStringToHrTime } from '../../patterns/audit/audit-span-decode.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { countAuditDropped, countAuditRecords, countAuditRefusedCall, auditInstruments, registerAuditSink } from './audit-metrics.js';
import { registerAuditAdmission } from '../../instrumentation/audit/audit-admission.js';
import { AuditUnavailableError } from '../../patterns/audit/audit-unavailable-error.js';
import { msToNanoString } from '../../patterns/audit/audit-chain.js';
import { systemClock } from '../../patterns/shared/clock.js';
import { requireNumber, requireOneOf } from '../../patterns/shared/validate.js';
import {
  ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_HASH,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_SEQ,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_KEY_ID,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_SIGNATURE,
  ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_TIME,
  ATTR_AGENT_SAFETY_AUDIT_GAP_REASON,
  ATTR_AGENT_SAFETY_AUDIT_GAP_RECORDS,
  ATTR_AGENT_SAFETY_AUDIT_HASH,
  ATTR_AGENT_SAFETY_AUDIT_KEY_ID,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_CHAIN_ID,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_HASH,
  ATTR_AGENT_SAFETY_AUDIT_PREVIOUS_SEQ,
  ATTR_AGENT_SAFETY_AUDIT_PREV_HASH,
  ATTR_AGENT_SAFETY_AUDIT_SEQ,
  SPAN_AGENT_SAFETY_AUDIT_CHECKPOINT,
  SPAN_AGENT_SAFETY_AUDIT_GAP,
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
   * Sign checkpoints with this Ed25519 key: a checkpoint span every
   * `checkpoints.everyRecords` records and every `checkpoints.everyMs`
   * while records arrive, and a last one at shutdown. Whoever holds a later
   * checkpoint can detect truncation of the tail.
   */
  signingKey?: AuditSigningKey;
  /** When checkpoints are made (only with `signingKey`). @default every 1000 records or 10 s */
  checkpoints?: CheckpointPolicy;
  /** The chain id. @default a random UUID (one chain per process run) */
  chainId?: string;
  /**
   * The head of the chain this one continues. @default what the first sink
   * with `previousHead()` (an existing audit file) holds
   */
  previous?: ChainHead;
  /** @default Date.now */
  clock?: Clock;
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
  private readonly chain: AuditChain;
  private readonly sinks: readonly AuditSink[];
  private readonly filter: AuditSpanFilter;
  private readonly unregister: (() => void)[] = [];
  private readonly signing: boolean;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastResource: Resource | undefined;
  private closed = false;
  private lastCheckpointSeq = -1;
  private readonly maxBacklog: number;
  private readonly policy: BacklogFullPolicy;
  private readonly blockTimeoutMs: number;
  private readonly heldSinks: readonly AuditSink[];
  private readonly stopAdmission: () => void;
  /** Records left out since the last gap record, and when the first and last were. */
  private gapCount = 0;
  private gapFirstMs = 0;
  private gapLastMs = 0;
  private readonly clockFn: Clock;
  /** Spans left out in `onEnding` (so that `onEnd` does not count them again). */
  private readonly leftOut = new WeakSet<object>();

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
    this.sinks = [...options.sinks];
    this.filter = options.filter ?? auditPackageSpans;
    this.maxBacklog = options.maxBacklog ?? 20_000;
    requireNumber('maxBacklog', this.maxBacklog, { min: 1, integer: true });
    this.policy = options.onBacklogFull ?? 'fail-actions';
    requireOneOf('onBacklogFull', this.policy, POLICIES);
    this.blockTimeoutMs = options.blockTimeoutMs ?? 30_000;
    requireNumber('blockTimeoutMs', this.blockTimeoutMs, { min: 0 });
    this.clockFn = options.clock ?? systemClock;
    this.heldSinks = this.sinks.filter(s => typeof s.held === 'function');
    const previous = options.previous ?? this.previousFromSinks();
    this.chain = new AuditChain({
      chainId: options.chainId ?? randomUUID(),
      hmacKey: options.hmacKey,
      signingKey: options.signingKey,
      checkpoints: options.checkpoints,
      previous,
      clock: options.clock,
    });
    this.signing = options.signingKey !== undefined;
    auditInstruments();
    // Reports the backlog of each sink that does not report its own (a sink
    // that registered itself, like OtlpAuditSink, is observed once, by itself).
    for (const sink of this.sinks) {
      if (typeof sink.backlog === 'function') {
        const name = sinkName(sink);
        this.unregister.push(registerAuditSink(name, () => sink.backlog!(), sink));
      }
    }
    this.stopAdmission = registerAuditAdmission(this.admit);
    if (this.signing) {
      const everyMs = options.checkpoints?.everyMs ?? 10_000;
      this.timer = setInterval(() => this.checkpointIfDue(), everyMs);
      this.timer.unref?.();
    }
  }

  /** This process run's chain id. */
  get chainId(): string {
    return this.chain.chainId;
  }

  /** The last record's seq and hash (seq -1 before the first record). */
  get head(): ChainHead {
    return this.chain.headState;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnding(span: Span): void {
    if (this.closed) return;
    try {
      if (!this.filter(span as unknown as ReadableSpan)) return;
      if (!this.room()) {
        this.leftOut.add(span);
        return;
      }
      // `span` is still open here (its end time is set): stamping writes to its attributes.
      const record = this.append(span as unknown as ReadableSpan, span.attributes as MutableAttributes);
      this.deliver(record, span as unknown as ReadableSpan);
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: audit chain could not append span ${span.name}`, err);
    }
  }

  onEnd(span: ReadableSpan): void {
    if (this.closed) return;
    try {
      if (span.attributes[ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID] === this.chain.chainId) return; // done in onEnding
      if (!this.filter(span) || this.leftOut.has(span)) return;
      if (!this.room()) return;
      // No onEnding (an older SDK): chain now, and give the sinks a stamped copy.
      const attributes: MutableAttributes = { ...span.attributes };
      const copy = Object.create(span, { attributes: { value: attributes, enumerable: true } }) as ReadableSpan;
      const record = this.append(copy, attributes);
      this.deliver(record, copy);
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: audit chain could not append span ${span.name}`, err);
    }
  }

  /** The most records a sink holds in memory, and which sink. */
  private heldMost(): [number, AuditSink | undefined] {
    let most = 0;
    let which: AuditSink | undefined;
    for (const sink of this.heldSinks) {
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
  private room(): boolean {
    if (this.heldSinks.length === 0) return true;
    const [held, sink] = this.heldMost();
    const now = this.clockFn();
    if (held >= this.maxBacklog) {
      if (this.gapCount === 0) {
        this.gapFirstMs = now;
        diag.error(
          `${PACKAGE_NAME}: the audit backlog is full (${held} records held in memory by sink ${sink ? sinkName(sink) : '?'}, cap ${this.maxBacklog}): records are left out until it drains; a gap record will name them (policy ${this.policy})`,
        );
      }
      this.gapCount++;
      this.gapLastMs = now;
      countAuditDropped();
      return false;
    }
    if (this.gapCount > 0 && this.lastResource !== undefined) this.appendGap();
    return true;
  }

  /** Appends the gap record naming the records left out. */
  private appendGap(): void {
    const count = this.gapCount;
    this.gapCount = 0;
    const attributes: MutableAttributes = {
      [ATTR_AGENT_SAFETY_AUDIT_GAP_RECORDS]: count,
      [ATTR_AGENT_SAFETY_AUDIT_GAP_REASON]: 'backlog-full',
    };
    const span = syntheticSpan(SPAN_AGENT_SAFETY_AUDIT_GAP, msToNanoString(this.gapFirstMs), msToNanoString(this.gapLastMs), attributes, this.lastResource!);
    const record = this.append(span, attributes);
    this.deliver(record, span);
    diag.warn(`${PACKAGE_NAME}: the audit backlog drained; gap record ${record.chainId}#${record.seq} names the ${count} records left out`);
  }

  /** The admission gate guarded calls consult before they run (see `audit-admission.ts`). */
  private readonly admit = (): undefined | Error | Promise<void> => {
    if (this.closed || this.heldSinks.length === 0 || this.policy === 'drop-with-gap-record') return undefined;
    const [held, sink] = this.heldMost();
    if (held < this.maxBacklog) return undefined;
    if (this.policy === 'fail-actions') {
      countAuditRefusedCall();
      return new AuditUnavailableError({ reason: 'backlog-full', held, limit: this.maxBacklog, sink: sink && sinkName(sink) });
    }
    return this.waitForRoom();
  };

  private async waitForRoom(): Promise<void> {
    const deadline = this.clockFn() + this.blockTimeoutMs;
    for (;;) {
      const [held, sink] = this.heldMost();
      if (held < this.maxBacklog || this.closed) return;
      if (this.clockFn() >= deadline) {
        countAuditRefusedCall();
        throw new AuditUnavailableError({ reason: 'timeout', held, limit: this.maxBacklog, sink: sink && sinkName(sink) });
      }
      await new Promise(resolve => setTimeout(resolve, 10));
    }
  }

  /** Appends the span to the chain and stamps `attributes` (the span's own, or a copy's). */
  private append(span: ReadableSpan, attributes: MutableAttributes): ChainedRecord {
    const first = this.chain.nextSeq === 0;
    this.lastResource = span.resource;
    const record = this.chain.append(span, first ? span.resource.attributes : undefined);
    attributes[ATTR_AGENT_SAFETY_AUDIT_CHAIN_ID] = record.chainId;
    attributes[ATTR_AGENT_SAFETY_AUDIT_SEQ] = record.seq;
    attributes[ATTR_AGENT_SAFETY_AUDIT_PREV_HASH] = record.prevHash;
    attributes[ATTR_AGENT_SAFETY_AUDIT_HASH] = record.hash;
    if (first) {
      const { keyId, previous } = this.chain.genesisFacts;
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

  private deliver(chained: ChainedRecord, span: ReadableSpan): void {
    const record: AuditRecord = {
      chainId: chained.chainId,
      seq: chained.seq,
      prevHash: chained.prevHash,
      hash: chained.hash,
      line: chained.line,
      span,
    };
    for (const sink of this.sinks) {
      try {
        sink.write(record);
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: audit sink ${sinkName(sink)} failed to take record ${record.seq}`, err);
      }
    }
    if (this.signing && span.name !== SPAN_AGENT_SAFETY_AUDIT_CHECKPOINT && this.chain.checkpointDue()) this.checkpoint();
  }

  private checkpointIfDue(): void {
    try {
      if (!this.closed && this.chain.checkpointDue()) this.checkpoint();
    } catch (err) {
      diag.error(`${PACKAGE_NAME}: audit checkpoint failed`, err);
    }
  }

  /** Signs the head and appends the checkpoint as a span of its own. */
  private checkpoint(): void {
    const made = this.chain.makeCheckpoint();
    if (made === undefined || this.lastResource === undefined) return;
    const { claim, signature } = made;
    const attributes: MutableAttributes = {
      [ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_SEQ]: claim.headSeq,
      [ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_HEAD_HASH]: claim.headHash,
      [ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_TIME]: claim.timeUnixNano,
      [ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_KEY_ID]: claim.keyId,
      [ATTR_AGENT_SAFETY_AUDIT_CHECKPOINT_SIGNATURE]: signature,
    };
    const span = syntheticSpan(SPAN_AGENT_SAFETY_AUDIT_CHECKPOINT, claim.timeUnixNano, claim.timeUnixNano, attributes, this.lastResource);
    const record = this.append(span, attributes);
    this.lastCheckpointSeq = record.seq;
    this.deliver(record, span);
  }

  private previousFromSinks(): ChainHead | undefined {
    for (const sink of this.sinks) {
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

  /** Flushes every sink (what was written so far becomes durable or delivered). */
  async forceFlush(): Promise<void> {
    await settle(this.sinks.map(s => s.forceFlush()), 'flush');
  }

  /** Signs a last checkpoint (with a signing key), then flushes and shuts down the sinks. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.stopAdmission();
    if (this.gapCount > 0 && this.lastResource !== undefined) {
      try {
        this.appendGap();
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: the final gap record failed (${this.gapCount} records left out)`, err);
      }
    }
    if (this.signing) {
      try {
        if (this.chain.nextSeq > 0) this.forceCheckpoint();
      } catch (err) {
        diag.error(`${PACKAGE_NAME}: final audit checkpoint failed`, err);
      }
    }
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const stop of this.unregister) stop();
    await settle(this.sinks.map(s => s.shutdown()), 'shut down');
  }

  /** Checkpoints the head unless the head already is a checkpoint. */
  private forceCheckpoint(): void {
    if (this.lastCheckpointSeq !== this.chain.headState.seq) this.checkpoint();
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

/** A finished span (not from a tracer) of the chain's own: a checkpoint or a gap record. */
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
    duration: hrDiff(startTime, endTime),
    ended: true,
    resource,
    instrumentationScope: { name: PACKAGE_NAME, version: PACKAGE_VERSION },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function hrDiff(a: HrTime, b: HrTime): HrTime {
  let s = b[0] - a[0];
  let ns = b[1] - a[1];
  if (ns < 0) {
    s -= 1;
    ns += 1e9;
  }
  return s < 0 ? [0, 0] : [s, ns];
}
