/**
 * Where chained audit records go: the {@link AuditSink} interface and the
 * in-memory sink used by tests.
 *
 * @module
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { ChainHead } from '../../patterns/audit/audit-record.js';
import type { ChainedRecord } from '../../patterns/audit/audit-chain.js';

/** A chained record as sinks receive it. */
export interface AuditRecord extends ChainedRecord {
  /**
   * The span, carrying the `agent_safety.audit.*` stamps (what an OTLP sink
   * exports). Finished: never mutate it.
   */
  readonly span: ReadableSpan;
}

/**
 * A destination for audit records: a file, an OTLP endpoint, Kafka, Redis
 * Streams… Implement it for your own store.
 *
 * The contract:
 * - `write` is called on the span's end, on the agent's hot path: it must
 *   return at once (queue the record, do I/O later) and never lose a record
 *   it accepted without reporting it through `diag` and its metrics;
 * - records of one chain arrive in seq order, with no gaps;
 * - `forceFlush` resolves when everything written so far is durable or
 *   delivered (or has been set aside for a later retry, e.g. in a spool);
 * - `shutdown` flushes, then releases resources; safe to call twice.
 *
 * A throwing `write` is caught by the processor and reported through
 * `diag`; it never reaches the agent.
 */
export interface AuditSink {
  write(record: AuditRecord): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
  /**
   * The head of the chain this sink already holds from an earlier run
   * (read when the sink was created), so that the new chain can record it
   * and the history reads as one. Optional.
   */
  previousHead?(): ChainHead | undefined;
  /**
   * Records accepted but not yet durable or delivered. Optional. Reported as
   * `agent_safety.audit.backlog` (with `sink` = the sink's `name`) by the
   * `AuditChainSpanProcessor` the sink is given to, unless the sink reports
   * it itself (as `OtlpAuditSink` does): each sink is observed once.
   */
  backlog?(): number;
  /**
   * Records accepted and held in memory only: not yet in a local journal
   * (a file, the OTLP sink's write-ahead journal). Optional. The
   * `AuditChainSpanProcessor` caps this (`maxBacklog`) and applies its
   * `onBacklogFull` policy when the cap is reached; a sink without it is
   * never the reason a call is refused.
   */
  held?(): number;
}

/** Options of {@link InMemoryAuditSink}. */
export interface InMemoryAuditSinkOptions {
  /**
   * Keep at most this many records (the oldest go first). Tests usually
   * keep all. @default Infinity
   */
  maxRecords?: number;
}

/**
 * Keeps records in memory: for tests and for reading the chain in process
 * (`lines()` is a valid JSONL audit log).
 */
export class InMemoryAuditSink implements AuditSink {
  private readonly _kept: AuditRecord[] = [];
  private readonly _max: number;

  constructor(options: InMemoryAuditSinkOptions = {}) {
    this._max = options.maxRecords ?? Infinity;
  }

  write(record: AuditRecord): void {
    this._kept.push(record);
    if (this._kept.length > this._max) this._kept.shift();
  }

  /** The records received, in order. */
  get records(): readonly AuditRecord[] {
    return this._kept;
  }

  /** The JSONL lines (without newlines) of the records received. */
  lines(): string[] {
    return this._kept.map(r => r.line);
  }

  /** Forgets everything received. */
  clear(): void {
    this._kept.length = 0;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  backlog(): number {
    return 0;
  }

  held(): number {
    return 0;
  }
}
