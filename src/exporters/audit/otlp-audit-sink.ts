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
import { AuditBacklog, RetrySchedule, backoffPolicy } from '../../patterns/audit/audit-delivery.js';
import type { BackoffOptions } from '../../patterns/audit/audit-delivery.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { systemClock } from '../../patterns/shared/clock.js';
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
  /** For tests. */
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
  private readonly exporter: SpanExporter;
  private readonly backlogQueue: AuditBacklog<AuditRecord>;
  private readonly spool: AuditSpool;
  private readonly retrySchedule: RetrySchedule;
  private readonly meter: AuditSinkMeter;
  private readonly maxBatch: number;
  private readonly delayMs: number;
  private readonly exportTimeoutMs: number;
  private readonly flushTimeoutMs: number;
  private readonly clock: Clock;
  private readonly resources = new Map<string, Resource>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerIsBackoff = false;
  private attempt: Promise<boolean> | undefined;
  /** Spooled records from an earlier run not yet delivered (their sends count as retries). */
  private restoredLeft: number;
  private stopped = false;
  private shutdownPromise: Promise<void> | undefined;
  private lostAfterShutdown = 0;

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
    this.exporter = options.exporter;
    this.maxBatch = options.maxBatchSize ?? 512;
    this.delayMs = options.scheduledDelayMs ?? 200;
    this.exportTimeoutMs = options.exportTimeoutMs ?? 30_000;
    this.flushTimeoutMs = options.flushTimeoutMs ?? 10_000;
    this.clock = options.clock ?? systemClock;
    this.backlogQueue = new AuditBacklog<AuditRecord>(options.maxInMemory ?? 10_000);
    this.retrySchedule = new RetrySchedule(backoffPolicy(options.backoff), { clock: this.clock, random: options.random });
    this.spool = new AuditSpool(this.spoolPath);
    this.restoredLeft = this.spool.pending;
    this.backlogQueue.restoreSpooled(this.spool.pending);
    // The sink reports its own backlog (also when used without a processor, and
    // while its shutdown drains); a processor given this sink leaves it alone.
    this.meter = registerAuditSinkMetrics(this.name, () => this.backlogQueue.size, this);
    if (this.restoredLeft > 0) {
      diag.info(`agent-safety-otel: audit sink ${this.name}: ${this.restoredLeft} records left in ${this.spoolPath} by an earlier run are sent first`);
    }
    this.schedule();
  }

  /** Records waiting: in memory plus in the spool. */
  backlog(): number {
    return this.backlogQueue.size;
  }

  /** Records waiting in the spool. */
  get spooled(): number {
    return this.backlogQueue.spooled;
  }

  /** Queues the record and returns; never throws for I/O. */
  write(record: AuditRecord): void {
    if (this.stopped) {
      this.lostAfterShutdown++;
      diag.error(`agent-safety-otel: audit sink ${this.name} is shut down: record ${record.chainId}/${record.seq} was not exported (${this.lostAfterShutdown} so far)`);
      return;
    }
    const spill = this.backlogQueue.push(record);
    if (spill !== undefined) this.toSpool(spill);
    this.schedule();
  }

  private toSpool(records: readonly AuditRecord[]): void {
    if (records.length === 0) return;
    const inputs: SpoolInput[] = records.map(r => ({
      chainId: r.chainId,
      line: r.line,
      traceFlags: r.span.spanContext().traceFlags,
      resource: r.span.resource.attributes,
    }));
    this.spool.append(inputs);
  }

  /** Starts the next attempt when due: at once for a full batch or spooled records, after the backoff after a failure. */
  private schedule(): void {
    if (this.stopped || this.attempt !== undefined) return;
    const waiting = this.backlogQueue.size;
    if (waiting === 0) return;
    const backoff = this.retrySchedule.waitMs();
    let delay: number;
    if (backoff > 0) delay = backoff;
    else delay = waiting >= this.maxBatch || this.backlogQueue.spooled > 0 ? 0 : this.delayMs;
    if (this.timer !== undefined) {
      // A batch filled up while waiting to gather one: send now.
      if (this.timerIsBackoff || delay !== 0) return;
      clearTimeout(this.timer);
    }
    this.timerIsBackoff = backoff > 0;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.send();
    }, delay);
    this.timer.unref?.();
  }

  /** One export attempt of the head batch (or joins the one in progress). True when delivered or nothing waits. */
  private send(): Promise<boolean> {
    if (this.attempt !== undefined) return this.attempt;
    const batch = this.backlogQueue.nextBatch(this.maxBatch);
    if (batch === undefined) return Promise.resolve(true);
    const run = this.exportBatch(batch).finally(() => {
      this.attempt = undefined;
      this.schedule();
    });
    this.attempt = run;
    return run;
  }

  private async exportBatch(batch: NonNullable<ReturnType<AuditBacklog<AuditRecord>['nextBatch']>>): Promise<boolean> {
    let ok = false;
    let error: unknown;
    try {
      let spans: ReadableSpan[];
      const isRetry = this.retrySchedule.failures > 0 || (batch.source === 'spool' && this.restoredLeft > 0);
      if (batch.source === 'spool') spans = (await this.spool.read(batch.count)).map(r => this.rebuild(r));
      else spans = batch.items.map(r => r.span);
      if (isRetry) this.meter.retry();
      if (spans.length === 0) ok = true;
      else [ok, error] = await this.exportWithTimeout(spans);
    } catch (err) {
      ok = false;
      error = err;
    }
    if (ok) {
      const done = this.backlogQueue.ack();
      if (done.spool > 0) {
        this.spool.consume(done.spool);
        this.restoredLeft = Math.max(0, this.restoredLeft - done.spool);
      }
      if (this.retrySchedule.failures > 0) {
        diag.info(`agent-safety-otel: audit sink ${this.name}: export recovered after ${this.retrySchedule.failures} failed attempts`);
      }
      this.retrySchedule.succeed();
    } else {
      this.backlogQueue.nack();
      this.meter.failure();
      const delay = this.retrySchedule.fail();
      diag.warn(
        `agent-safety-otel: audit sink ${this.name}: export failed (attempt ${this.retrySchedule.failures} in a row, ${this.backlogQueue.size} records waiting); retrying in ${Math.round(delay)} ms`,
        error,
      );
    }
    return ok;
  }

  private rebuild(r: SpooledRecord): ReadableSpan {
    let resource = this.resources.get(r.record.chainId);
    if (resource === undefined) {
      resource = auditResource(r.resource);
      this.resources.set(r.record.chainId, resource);
    }
    return rebuildAuditSpan(r.record, resource, r.traceFlags);
  }

  private exportWithTimeout(spans: ReadableSpan[]): Promise<[boolean, unknown]> {
    return new Promise(resolve => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        resolve([false, new Error(`export timed out after ${this.exportTimeoutMs} ms`)]);
      }, this.exportTimeoutMs);
      timer.unref?.();
      try {
        this.exporter.export(spans, result => {
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
  private async drain(): Promise<void> {
    const deadline = this.clock() + this.flushTimeoutMs;
    if (this.attempt !== undefined) await this.attempt;
    while (this.backlogQueue.size > 0 && this.clock() <= deadline) {
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      if (!(await this.send())) break;
    }
  }

  /**
   * Resolves when everything written so far is delivered or, if the
   * endpoint does not take it now, written (and synced) to the spool.
   */
  async forceFlush(): Promise<void> {
    if (this.shutdownPromise !== undefined) return this.shutdownPromise;
    try {
      await this.drain();
      if (this.attempt !== undefined) await this.attempt;
      this.toSpool(this.backlogQueue.spillAll());
      await this.spool.flush();
    } catch (err) {
      diag.error(`agent-safety-otel: audit sink ${this.name}: flush failed`, err);
    } finally {
      this.schedule();
    }
  }

  /**
   * Tries to deliver what waits (up to `flushTimeoutMs`), writes whatever is
   * unsent to the spool, closes the spool and shuts the exporter down. Safe
   * to call twice.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    try {
      await this.drain();
      this.stopped = true;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      if (this.attempt !== undefined) await this.attempt;
      const left = this.backlogQueue.spillAll();
      this.toSpool(left);
      if (this.backlogQueue.spooled > 0) {
        diag.warn(`agent-safety-otel: audit sink ${this.name}: ${this.backlogQueue.spooled} undelivered records stay in ${this.spoolPath} and are sent at the next start`);
      }
    } catch (err) {
      diag.error(`agent-safety-otel: audit sink ${this.name}: shutdown failed`, err);
    } finally {
      this.stopped = true;
      this.meter.close();
      await this.spool.close();
      await this.exporter.shutdown().catch(err => diag.error(`agent-safety-otel: audit sink ${this.name}: exporter shutdown failed`, err));
    }
  }
}
