/**
 * The OTLP audit sink: exports the stamped spans of an audit chain through
 * any `SpanExporter` (normally an `OTLPTraceExporter` pointed at the
 * Collector's audit route) and never drops a record.
 *
 * - `write` queues the record in memory and returns.
 * - Batches (oldest first, in chain order) go out through the exporter.
 * - A failed or timed-out export is retried with exponential backoff and
 *   jitter, forever; the batch stays at the head of the queue meanwhile.
 * - When more than `maxInMemory` records wait, the oldest are appended to a
 *   disk spool (JSONL, mode 0600, see `otlp-audit-spool.ts`) and sent from
 *   there first.
 * - `shutdown` tries to deliver what waits, then writes whatever is unsent
 *   to the spool; the next sink opened on the same spool sends it first.
 *
 * Delivery is at least once: an export that timed out after the receiver
 * got it is sent again, and a crash can re-send a few records the previous
 * run had delivered. Duplicates are rare and harmless (the verifier
 * deduplicates by chain id and seq); losses are reported through `diag`
 * only when the disk itself fails.
 *
 * Metrics (with `sink` = the sink's `name`): `agent_safety.audit.backlog`,
 * `agent_safety.audit.export_failures`, `agent_safety.audit.export_retries`.
 *
 * @module
 */
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { AuditBacklog, RetrySchedule } from '../../patterns/audit/audit-delivery.js';
import { backoffPolicy } from '../../patterns/shared/backoff.js';
import type { BackoffOptions } from '../../patterns/shared/backoff.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { resolveNow } from '../../patterns/shared/clock.js';
import { optionalNumber, requireNonEmptyString } from '../../patterns/shared/validate.js';
import { registerAuditSinkMetrics } from './audit-sink-metrics.js';
import type { AuditSinkMeter } from './audit-sink-metrics.js';
import type { AuditRecord, AuditSink } from './audit-sink.js';
import { auditResource, rebuildAuditSpan } from './audit-span-rebuild.js';
import { AuditSpool } from './otlp-audit-spool.js';
import type { SpoolInput, SpooledRecord } from './otlp-audit-spool.js';

/** Options of {@link OtlpAuditSink}. */
export interface OtlpAuditSinkOptions {
  /** Where the spans go: normally an `OTLPTraceExporter` at the Collector's audit route. Shut down with the sink. */
  exporter: SpanExporter;
  /** The spool file. Give this or `spoolDir`. */
  spoolPath?: string | undefined;
  /** A directory for the spool (next to the audit file): the spool is `<spoolDir>/<name>-audit-spool.jsonl`. */
  spoolDir?: string | undefined;
  /** The `sink` attribute of the metrics, and part of the default spool name. @default 'otlp' */
  name?: string | undefined;
  /** Records kept in memory before the oldest go to the spool. @default 10000 */
  maxInMemory?: number | undefined;
  /** Spans per export. @default 512 */
  maxBatchSize?: number | undefined;
  /** How long to gather a batch smaller than `maxBatchSize` before sending it, in ms. @default 200 */
  scheduledDelayMs?: number | undefined;
  /** An export that has not called back after this long counts as failed (it may still arrive: a duplicate), in ms. @default 30000 */
  exportTimeoutMs?: number | undefined;
  /** How long `shutdown` and `forceFlush` keep trying to deliver before spooling what is left, in ms. @default 10000 */
  flushTimeoutMs?: number | undefined;
  /** Backoff between failed exports. @default { initialMs: 1000, maxMs: 60000, multiplier: 2, jitter: 0.2 } */
  backoff?: BackoffOptions | undefined;
  /** The clock (flush deadlines, backoff). @default Date.now */
  now?: Clock | undefined;
  /** @deprecated Use `now`. */
  clock?: Clock | undefined;
  /** For tests: a number in [0, 1). */
  random?: (() => number) | undefined;
}

/** See the module comment. */
export class OtlpAuditSink implements AuditSink {
  /** The spool file in use. */
  readonly spoolPath: string;
  /** The `sink` metric attribute. */
  readonly name: string;
  private readonly _exporter: SpanExporter;
  private readonly _backlogQueue: AuditBacklog<AuditRecord>;
  private readonly _spool: AuditSpool;
  private readonly _retrySchedule: RetrySchedule;
  private readonly _meter: AuditSinkMeter;
  private readonly _maxBatch: number;
  private readonly _delayMs: number;
  private readonly _exportTimeoutMs: number;
  private readonly _flushTimeoutMs: number;
  private readonly _now: Clock;
  private readonly _resources = new Map<string, Resource>();
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _timerIsBackoff = false;
  private _attempt: Promise<boolean> | undefined;
  /** Spooled records from an earlier run not yet delivered (their sends count as retries). */
  private _restoredLeft: number;
  private _stopped = false;
  private _shutdownPromise: Promise<void> | undefined;
  private _lostAfterShutdown = 0;

  constructor(options: OtlpAuditSinkOptions) {
    if (options === null || typeof options !== 'object' || typeof options.exporter?.export !== 'function') {
      throw new TypeError('OtlpAuditSink: options.exporter must be a SpanExporter');
    }
    this.name = options.name ?? 'otlp';
    requireNonEmptyString('name', this.name);
    if ((options.spoolPath === undefined) === (options.spoolDir === undefined)) {
      throw new TypeError('OtlpAuditSink: give exactly one of spoolPath and spoolDir');
    }
    this.spoolPath = options.spoolPath ?? join(options.spoolDir as string, `${this.name}-audit-spool.jsonl`);
    requireNonEmptyString('spoolPath', this.spoolPath);
    optionalNumber('maxBatchSize', options.maxBatchSize, { min: 1, integer: true });
    optionalNumber('scheduledDelayMs', options.scheduledDelayMs, { min: 0 });
    optionalNumber('exportTimeoutMs', options.exportTimeoutMs, { min: 1 });
    optionalNumber('flushTimeoutMs', options.flushTimeoutMs, { min: 0 });
    this._exporter = options.exporter;
    this._maxBatch = options.maxBatchSize ?? 512;
    this._delayMs = options.scheduledDelayMs ?? 200;
    this._exportTimeoutMs = options.exportTimeoutMs ?? 30_000;
    this._flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
    this._now = resolveNow(options);
    this._backlogQueue = new AuditBacklog<AuditRecord>(options.maxInMemory ?? 10_000);
    this._retrySchedule = new RetrySchedule(backoffPolicy(options.backoff), { now: this._now, random: options.random });
    this._spool = new AuditSpool(this.spoolPath);
    this._restoredLeft = this._spool.pending;
    this._backlogQueue.restoreSpooled(this._spool.pending);
    // The sink reports its own backlog (also when used without a processor, and
    // while its shutdown drains); a processor given this sink leaves it alone.
    this._meter = registerAuditSinkMetrics(this.name, () => this._backlogQueue.size, this);
    if (this._restoredLeft > 0) {
      diag.info(`agent-safety-otel: audit sink ${this.name}: ${this._restoredLeft} records left in ${this.spoolPath} by an earlier run are sent first`);
    }
    this._schedule();
  }

  /** Records waiting: in memory plus in the spool. */
  backlog(): number {
    return this._backlogQueue.size;
  }

  /** Records waiting in the spool. */
  get spooled(): number {
    return this._backlogQueue.spooled;
  }

  /** Queues the record and returns; never throws for I/O. */
  write(record: AuditRecord): void {
    if (this._stopped) {
      this._lostAfterShutdown++;
      diag.error(`agent-safety-otel: audit sink ${this.name} is shut down: record ${record.chainId}/${record.seq} was not exported (${this._lostAfterShutdown} so far)`);
      return;
    }
    const spill = this._backlogQueue.push(record);
    if (spill !== undefined) this._toSpool(spill);
    this._schedule();
  }

  private _toSpool(records: readonly AuditRecord[]): void {
    if (records.length === 0) return;
    const inputs: SpoolInput[] = records.map(r => ({
      chainId: r.chainId,
      line: r.line,
      traceFlags: r.span.spanContext().traceFlags,
      resource: r.span.resource.attributes,
    }));
    this._spool.append(inputs);
  }

  /** Starts the next attempt when due: at once for a full batch or spooled records, after the backoff after a failure. */
  private _schedule(): void {
    if (this._stopped || this._attempt !== undefined) return;
    const waiting = this._backlogQueue.size;
    if (waiting === 0) return;
    const backoff = this._retrySchedule.waitMs();
    let delay: number;
    if (backoff > 0) delay = backoff;
    else delay = waiting >= this._maxBatch || this._backlogQueue.spooled > 0 ? 0 : this._delayMs;
    if (this._timer !== undefined) {
      // A batch filled up while waiting to gather one: send now.
      if (this._timerIsBackoff || delay !== 0) return;
      clearTimeout(this._timer);
    }
    this._timerIsBackoff = backoff > 0;
    this._timer = setTimeout(() => {
      this._timer = undefined;
      void this._send();
    }, delay);
    this._timer.unref?.();
  }

  /** One export attempt of the head batch (or joins the one in progress). True when delivered or nothing waits. */
  private _send(): Promise<boolean> {
    if (this._attempt !== undefined) return this._attempt;
    const batch = this._backlogQueue.nextBatch(this._maxBatch);
    if (batch === undefined) return Promise.resolve(true);
    const run = this._exportBatch(batch).finally(() => {
      this._attempt = undefined;
      this._schedule();
    });
    this._attempt = run;
    return run;
  }

  private async _exportBatch(batch: NonNullable<ReturnType<AuditBacklog<AuditRecord>['nextBatch']>>): Promise<boolean> {
    let ok = false;
    let error: unknown;
    try {
      let spans: ReadableSpan[];
      const isRetry = this._retrySchedule.failures > 0 || (batch.source === 'spool' && this._restoredLeft > 0);
      if (batch.source === 'spool') spans = (await this._spool.read(batch.count)).map(r => this._rebuild(r));
      else spans = batch.items.map(r => r.span);
      if (isRetry) this._meter.retry();
      if (spans.length === 0) ok = true;
      else [ok, error] = await this._exportWithTimeout(spans);
    } catch (err) {
      ok = false;
      error = err;
    }
    if (ok) {
      const done = this._backlogQueue.ack();
      if (done.spool > 0) {
        this._spool.consume(done.spool);
        this._restoredLeft = Math.max(0, this._restoredLeft - done.spool);
      }
      if (this._retrySchedule.failures > 0) {
        diag.info(`agent-safety-otel: audit sink ${this.name}: export recovered after ${this._retrySchedule.failures} failed attempts`);
      }
      this._retrySchedule.succeed();
    } else {
      this._backlogQueue.nack();
      this._meter.failure();
      const delay = this._retrySchedule.fail();
      diag.warn(
        `agent-safety-otel: audit sink ${this.name}: export failed (attempt ${this._retrySchedule.failures} in a row, ${this._backlogQueue.size} records waiting); retrying in ${Math.round(delay)} ms`,
        error,
      );
    }
    return ok;
  }

  private _rebuild(r: SpooledRecord): ReadableSpan {
    let resource = this._resources.get(r.record.chainId);
    if (resource === undefined) {
      resource = auditResource(r.resource);
      this._resources.set(r.record.chainId, resource);
    }
    return rebuildAuditSpan(r.record, resource, r.traceFlags);
  }

  private _exportWithTimeout(spans: ReadableSpan[]): Promise<[boolean, unknown]> {
    return new Promise(resolve => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        resolve([false, new Error(`export timed out after ${this._exportTimeoutMs} ms`)]);
      }, this._exportTimeoutMs);
      timer.unref?.();
      try {
        this._exporter.export(spans, result => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve([result.code === ExportResultCode.SUCCESS, result.error]);
        });
      } catch (err) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve([false, err]);
      }
    });
  }

  /**
   * Tries to deliver everything waiting for up to `flushTimeoutMs`, stopping
   * at the first failure (it does not wait out a backoff).
   */
  private async _drain(): Promise<void> {
    const deadline = this._now() + this._flushTimeoutMs;
    if (this._attempt !== undefined) await this._attempt;
    while (this._backlogQueue.size > 0 && this._now() <= deadline) {
      if (this._timer !== undefined) {
        clearTimeout(this._timer);
        this._timer = undefined;
      }
      if (!(await this._send())) break;
    }
  }

  /**
   * Resolves when everything written so far is delivered or, if the
   * endpoint does not take it now, written (and synced) to the spool.
   */
  async forceFlush(): Promise<void> {
    if (this._shutdownPromise !== undefined) return this._shutdownPromise;
    try {
      await this._drain();
      if (this._attempt !== undefined) await this._attempt;
      this._toSpool(this._backlogQueue.spillAll());
      await this._spool.flush();
    } catch (err) {
      diag.error(`agent-safety-otel: audit sink ${this.name}: flush failed`, err);
    } finally {
      this._schedule();
    }
  }

  /**
   * Tries to deliver what waits (up to `flushTimeoutMs`), writes whatever is
   * unsent to the spool, closes the spool and shuts the exporter down. Safe
   * to call twice.
   */
  shutdown(): Promise<void> {
    this._shutdownPromise ??= this._doShutdown();
    return this._shutdownPromise;
  }

  private async _doShutdown(): Promise<void> {
    try {
      await this._drain();
      this._stopped = true;
      if (this._timer !== undefined) clearTimeout(this._timer);
      this._timer = undefined;
      if (this._attempt !== undefined) await this._attempt;
      const left = this._backlogQueue.spillAll();
      this._toSpool(left);
      if (this._backlogQueue.spooled > 0) {
        diag.warn(`agent-safety-otel: audit sink ${this.name}: ${this._backlogQueue.spooled} undelivered records stay in ${this.spoolPath} and are sent at the next start`);
      }
    } catch (err) {
      diag.error(`agent-safety-otel: audit sink ${this.name}: shutdown failed`, err);
    } finally {
      this._stopped = true;
      this._meter.close();
      await this._spool.close();
      await this._exporter.shutdown().catch(err => diag.error(`agent-safety-otel: audit sink ${this.name}: exporter shutdown failed`, err));
    }
  }
}
