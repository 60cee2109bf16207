/**
 * The OTLP audit sink: exports the stamped spans of an audit chain through
 * any `SpanExporter` (normally an `OTLPTraceExporter` pointed at the
 * Collector's audit route) and never drops a record.
 *
 * - `write` appends the record to a **write-ahead journal** on disk (JSONL,
 *   mode 0600, see `otlp-audit-spool.ts`; written off the hot path, within
 *   one event-loop turn, fdatasync'ed every 200 ms by default, and written
 *   synchronously by the last-chance flush when the process exits, crashes
 *   or is signalled) and returns. A record counts as accepted once it is in
 *   the journal.
 * - Batches (oldest first, in chain order) go out through the exporter:
 *   from memory while the newest records are kept there (`maxInMemory`),
 *   read back from the journal otherwise (after an outage, after a
 *   restart). What was delivered is acknowledged in the journal's ack file,
 *   so a restart re-sends exactly what was not (give or take the last
 *   batch: at least once).
 * - A failed or timed-out export is retried with exponential backoff and
 *   jitter, forever; the batch stays at the head meanwhile.
 * - A batch the receiver refuses for good (HTTP 4xx other than 408 and 429)
 *   would block every later record for ever: it is written to the
 *   **dead-letter file** (the record lines verbatim, mode 0600; give it to
 *   `verify` after the Collector's export), counted in
 *   `agent_safety.audit.dead_letters`, reported through `diag`, and
 *   delivery goes on with the next batch.
 * - `shutdown` tries to deliver what waits for up to `flushTimeoutMs`; what
 *   is left stays in the journal and is sent first by the next sink opened
 *   on it.
 *
 * Delivery is at least once: an export that timed out after the receiver
 * got it is sent again, and a crash can re-send the batch that was being
 * acknowledged. Duplicates are harmless (the verifier deduplicates by chain
 * id and seq with `--allow-duplicates`).
 *
 * Metrics (with `sink` = the sink's `name`): `agent_safety.audit.backlog`
 * (undelivered records, in the journal), `agent_safety.audit.export_failures`
 * (failed exports and journal writes), `agent_safety.audit.export_retries`,
 * `agent_safety.audit.dead_letters`.
 *
 * @module
 */
import { open as fsOpen, write as fsWrite, close as fsClose, fdatasync as fsFdatasync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { diag } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { JournalBacklog, RetrySchedule, isPermanentExportError } from '../../patterns/audit/audit-delivery.js';
import type { NextBatch } from '../../patterns/audit/audit-delivery.js';
import type { FsyncPolicy } from '../../patterns/audit/audit-file.js';
import { chainedResource } from '../../patterns/audit/audit-record.js';
import type { ChainHead } from '../../patterns/audit/audit-record.js';
import { backoffPolicy } from '../../patterns/shared/backoff.js';
import type { BackoffOptions } from '../../patterns/shared/backoff.js';
import type { Clock } from '../../patterns/shared/clock.js';
import { resolveNow } from '../../patterns/shared/clock.js';
import { optionalNumber, requireNonEmptyString } from '../../patterns/shared/validate.js';
import { registerAuditSinkMetrics } from './audit-sink-metrics.js';
import type { AuditSinkMeter } from './audit-sink-metrics.js';
import type { AuditRecord, AuditSink } from './audit-sink.js';
import { auditResource, rebuildAuditSpan } from './audit-span-rebuild.js';
import { onLastChance } from './last-chance-flush.js';
import { AuditSpool } from './otlp-audit-spool.js';
import type { SpooledRecord } from './otlp-audit-spool.js';

/** `ExportResultCode.SUCCESS` of `@opentelemetry/core` (not imported: one number is not worth loading the package). */
const EXPORT_SUCCESS = 0;

/** Options of {@link OtlpAuditSink}. */
export interface OtlpAuditSinkOptions {
  /** Where the spans go: normally an `OTLPTraceExporter` at the Collector's audit route. Shut down with the sink. */
  exporter: SpanExporter;
  /** The write-ahead journal ("spool") file. Give this or `spoolDir`. */
  spoolPath?: string | undefined;
  /** A directory for the journal: it is `<spoolDir>/<name>-audit-spool.jsonl`. */
  spoolDir?: string | undefined;
  /**
   * The dead-letter file (records refused for good).
   * @default the journal's path with `.dead-letter.jsonl` for its `.jsonl`
   */
  deadLetterPath?: string | undefined;
  /** The `sink` attribute of the metrics, and part of the default journal name. @default 'otlp' */
  name?: string | undefined;
  /** The newest records also kept in memory, to send without reading the journal back. @default 10000 */
  maxInMemory?: number | undefined;
  /** When the journal is fdatasync'ed. @default { everyMs: 200 } */
  fsync?: FsyncPolicy | undefined;
  /** Spans per export. @default 512 */
  maxBatchSize?: number | undefined;
  /** How long to gather a batch smaller than `maxBatchSize` before sending it, in ms. @default 200 */
  scheduledDelayMs?: number | undefined;
  /** An export that has not called back after this long counts as failed (it may still arrive: a duplicate), in ms. @default 30000 */
  exportTimeoutMs?: number | undefined;
  /** How long `shutdown` and `forceFlush` keep trying to deliver (what is left stays in the journal), in ms. @default 10000 */
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

/** The default dead-letter file of a journal. */
export function deadLetterPathOf(spoolPath: string): string {
  return spoolPath.endsWith('.jsonl') ? `${spoolPath.slice(0, -'.jsonl'.length)}.dead-letter.jsonl` : `${spoolPath}.dead-letter.jsonl`;
}

/** See the module comment. */
export class OtlpAuditSink implements AuditSink {
  /** The write-ahead journal in use. */
  readonly spoolPath: string;
  /** Where records refused for good go. */
  readonly deadLetterPath: string;
  /** The `sink` metric attribute. */
  readonly name: string;
  private readonly _exporter: SpanExporter;
  private readonly _queue: JournalBacklog<AuditRecord>;
  private readonly _spool: AuditSpool;
  private readonly _retrySchedule: RetrySchedule;
  private readonly _meter: AuditSinkMeter;
  private readonly _maxBatch: number;
  private readonly _delayMs: number;
  private readonly _exportTimeoutMs: number;
  private readonly _flushTimeoutMs: number;
  private readonly _now: Clock;
  private readonly _resources = new Map<string, Resource>();
  /** The resource sent for each SDK resource that holds a command line (see _withChainedResource). */
  private readonly _sentResources = new WeakMap<Resource, Resource>();
  private readonly _stopLastChance: () => void;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _timerIsBackoff = false;
  private _attempt: Promise<boolean> | undefined;
  /** Journaled records from an earlier run not yet delivered (their sends count as retries). */
  private _restoredLeft: number;
  private _stopped = false;
  private _shutdownPromise: Promise<void> | undefined;
  private _lostAfterShutdown = 0;
  private _deadLettered = 0;
  /** Set once the shutdown closes the journal: an export still in flight then is no longer acknowledged. */
  private _journalClosing = false;

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
    this.deadLetterPath = options.deadLetterPath ?? deadLetterPathOf(this.spoolPath);
    requireNonEmptyString('deadLetterPath', this.deadLetterPath);
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
    this._queue = new JournalBacklog<AuditRecord>(options.maxInMemory ?? 10_000);
    this._retrySchedule = new RetrySchedule(backoffPolicy(options.backoff), { now: this._now, random: options.random });
    this._spool = new AuditSpool(this.spoolPath, {
      fsync: options.fsync,
      // `_meter` is set below: a failure reported before that (none can be) would not be counted.
      onFailure: () => (this._meter as AuditSinkMeter | undefined)?.failure(),
      onWritten: () => this._schedule(),
    });
    this._restoredLeft = this._spool.pending;
    this._queue.restore(this._spool.pending);
    // The sink reports its own backlog (also when used without a processor, and
    // while its shutdown drains); a processor given this sink leaves it alone.
    this._meter = registerAuditSinkMetrics(this.name, () => this._queue.size, this);
    this._stopLastChance = onLastChance(() => this._spool.flushSync());
    if (this._restoredLeft > 0) {
      diag.info(`agent-safety-otel: audit sink ${this.name}: ${this._restoredLeft} records left in ${this.spoolPath} by an earlier run are sent first`);
    }
    this._schedule();
  }

  /**
   * The last record an earlier run journaled (still in the journal, or the
   * last one delivered): the head the new chain continues, so that a cut
   * between runs shows as a broken or truncated link.
   */
  previousHead(): ChainHead | undefined {
    return this._spool.lastHead;
  }

  /** Records not yet delivered (all of them in the journal, or on their way there). */
  backlog(): number {
    return this._queue.size;
  }

  /** Records accepted and held in memory only: not yet written to the journal. */
  held(): number {
    return this._spool.unwritten;
  }

  /** Undelivered records that are only in the journal (no longer in memory). */
  get spooled(): number {
    return this._queue.journalOnly;
  }

  /** Records set aside in the dead-letter file by this sink. */
  get deadLetters(): number {
    return this._deadLettered;
  }

  /** Journals the record and returns; never throws for I/O. */
  write(record: AuditRecord): void {
    if (this._stopped) {
      this._lostAfterShutdown++;
      diag.error(`agent-safety-otel: audit sink ${this.name} is shut down: record ${record.chainId}/${record.seq} was not exported (${this._lostAfterShutdown} so far)`);
      return;
    }
    this._spool.append([
      // the resource as the chain binds it: the command line (which may hold secrets) neither journaled nor sent
      { chainId: record.chainId, line: record.line, traceFlags: record.span.spanContext().traceFlags, resource: chainedResource(record.span.resource.attributes) },
    ]);
    this._queue.push(record);
    this._schedule();
  }

  /** Starts the next attempt when due: at once for a full batch or journal-only records, after the backoff after a failure. */
  private _schedule(): void {
    if (this._stopped || this._attempt !== undefined) return;
    const waiting = this._queue.size;
    if (waiting === 0) return;
    const backoff = this._retrySchedule.waitMs();
    let delay: number;
    if (backoff > 0) delay = backoff;
    else delay = waiting >= this._maxBatch || this._queue.journalOnly > 0 ? 0 : this._delayMs;
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

  /** One export attempt of the head batch (or joins the one in progress). True when delivered (or dead-lettered) or nothing waits. */
  private _send(): Promise<boolean> {
    if (this._attempt !== undefined) return this._attempt;
    const batch = this._queue.nextBatch(this._maxBatch, this._queue.journalOnly);
    if (batch === undefined) return Promise.resolve(true);
    const run = this._exportBatch(batch).finally(() => {
      this._attempt = undefined;
      this._schedule();
    });
    this._attempt = run;
    return run;
  }

  private async _exportBatch(batch: NextBatch<AuditRecord>): Promise<boolean> {
    let ok = false;
    let error: unknown;
    let lines: string[] = [];
    let last: ChainHead | undefined;
    const fromJournal = batch.source === 'journal';
    const count = fromJournal ? batch.count : batch.items.length;
    try {
      let spans: ReadableSpan[];
      const isRetry = this._retrySchedule.failures > 0 || (fromJournal && this._restoredLeft > 0);
      if (fromJournal) {
        const read = await this._spool.read(batch.count);
        spans = read.map(r => this._rebuild(r));
        lines = read.map(r => r.line);
        const l = read[read.length - 1]?.record;
        if (l?.hash !== undefined) last = { chainId: l.chainId, seq: l.seq, hash: l.hash };
      } else {
        spans = batch.items.map(r => this._withChainedResource(r.span));
        lines = batch.items.map(r => r.line);
        const l = batch.items[batch.items.length - 1];
        if (l !== undefined) last = { chainId: l.chainId, seq: l.seq, hash: l.hash };
      }
      if (isRetry) this._meter.retry();
      if (spans.length === 0) ok = true;
      else [ok, error] = await this._exportWithTimeout(spans);
    } catch (err) {
      ok = false;
      error = err;
    }
    // The journal was closed while this export was in flight (a shutdown past its deadline): the batch
    // stays unacknowledged in the journal and is sent again at the next start (at least once).
    if (this._journalClosing) return ok;
    if (!ok && isPermanentExportError(error)) ok = await this._deadLetter(lines, error);
    if (ok) {
      const n = this._queue.ack();
      this._spool.consume(n, last);
      if (fromJournal) this._restoredLeft = Math.max(0, this._restoredLeft - count);
      if (this._retrySchedule.failures > 0) {
        diag.info(`agent-safety-otel: audit sink ${this.name}: export recovered after ${this._retrySchedule.failures} failed attempts`);
      }
      this._retrySchedule.succeed();
    } else {
      this._queue.nack();
      this._meter.failure();
      const delay = this._retrySchedule.fail();
      diag.warn(
        `agent-safety-otel: audit sink ${this.name}: export failed (attempt ${this._retrySchedule.failures} in a row, ${this._queue.size} records waiting in ${this.spoolPath}); retrying in ${Math.round(delay)} ms`,
        error,
      );
    }
    return ok;
  }

  /** Appends a refused batch's record lines to the dead-letter file (synced). False when that failed (the batch is retried). */
  private async _deadLetter(lines: string[], error: unknown): Promise<boolean> {
    const text = Buffer.from(lines.map(l => `${l}\n`).join(''), 'utf8');
    try {
      mkdirSync(dirname(this.deadLetterPath), { recursive: true, mode: 0o700 });
      const fd = await new Promise<number>((res, rej) => fsOpen(this.deadLetterPath, 'a', 0o600, (e, f) => (e ? rej(e) : res(f))));
      try {
        let off = 0;
        while (off < text.length) {
          off += await new Promise<number>((res, rej) => fsWrite(fd, text, off, text.length - off, null, (e, n) => (e ? rej(e) : res(n))));
        }
        await new Promise<void>((res, rej) => fsFdatasync(fd, e => (e ? rej(e) : res())));
      } finally {
        await new Promise<void>(res => fsClose(fd, () => res()));
      }
    } catch (err) {
      diag.error(`agent-safety-otel: audit sink ${this.name}: a batch refused for good could not be written to ${this.deadLetterPath}; it stays in the journal and is retried`, err);
      return false;
    }
    this._deadLettered += lines.length;
    this._meter.deadLetters(lines.length);
    const status = (error as { code?: unknown }).code;
    diag.error(
      `agent-safety-otel: audit sink ${this.name}: the receiver refused ${lines.length} records for good (HTTP ${String(status)}); they were written to ${this.deadLetterPath} (verify it with the export) and delivery goes on`,
      error,
    );
    return true;
  }

  /**
   * The span with the resource the chain binds (no command line, which may
   * hold secrets), one resource object per SDK resource so that the
   * exporter still groups spans by it; the span itself when nothing is left
   * out.
   */
  private _withChainedResource(span: ReadableSpan): ReadableSpan {
    const attributes = span.resource.attributes;
    const chained = chainedResource(attributes);
    if (chained === attributes) return span;
    let resource = this._sentResources.get(span.resource);
    if (resource === undefined) {
      resource = auditResource(chained);
      this._sentResources.set(span.resource, resource);
    }
    return Object.create(span, { resource: { value: resource, enumerable: true } }) as ReadableSpan;
  }

  private _rebuild(r: SpooledRecord): ReadableSpan {
    let resource = this._resources.get(r.record.chainId);
    if (resource === undefined) {
      resource = auditResource(chainedResource(r.resource)); // a journal written before this rule too
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
          resolve([result.code === EXPORT_SUCCESS, result.error]);
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
   * Tries to deliver everything waiting until `deadline`, stopping at the
   * first failure (it does not wait out a backoff).
   */
  private async _drain(deadline: number): Promise<void> {
    // Every wait is bounded by the deadline: a collector that accepts the
    // connection and never answers must not hold a flush or a shutdown for
    // the exporter's own timeout. An attempt still in flight at the deadline
    // goes on; its batch stays in the journal until it is acknowledged.
    if (this._attempt !== undefined && (await within(this._attempt, Math.max(0, deadline - this._now()))) === undefined) return;
    while (this._queue.size > 0 && this._now() <= deadline) {
      if (this._timer !== undefined) {
        clearTimeout(this._timer);
        this._timer = undefined;
      }
      if ((await within(this._send(), Math.max(0, deadline - this._now()))) !== true) break;
    }
  }

  /**
   * Resolves when everything written so far is delivered or, if the
   * endpoint does not take it now, written (and synced) to the journal;
   * after `flushTimeoutMs` at most.
   */
  async forceFlush(): Promise<void> {
    if (this._shutdownPromise !== undefined) return this._shutdownPromise;
    const deadline = this._now() + this._flushTimeoutMs;
    try {
      await this._drain(deadline);
      await within(this._spool.flush(), Math.max(0, deadline - this._now()));
    } catch (err) {
      diag.error(`agent-safety-otel: audit sink ${this.name}: flush failed`, err);
    } finally {
      this._schedule();
    }
  }

  /**
   * Tries to deliver what waits (up to `flushTimeoutMs`); what is left stays
   * in the journal (synced) for the next start. Closes the journal and shuts
   * the exporter down. Safe to call twice.
   */
  shutdown(): Promise<void> {
    this._shutdownPromise ??= this._doShutdown();
    return this._shutdownPromise;
  }

  private async _doShutdown(): Promise<void> {
    const deadline = this._now() + this._flushTimeoutMs;
    let closed = false;
    try {
      await this._drain(deadline);
      this._stopped = true;
      if (this._timer !== undefined) clearTimeout(this._timer);
      this._timer = undefined;
      // An export still in flight (the collector hangs) is not waited for past the deadline; whatever it
      // delivers after the journal is closed is not acknowledged, so it is sent again at the next start.
      if (this._attempt !== undefined) await within(this._attempt, Math.max(0, deadline - this._now()));
      this._journalClosing = true;
      closed = (await within(this._spool.close().then(() => true), Math.max(0, deadline - this._now()))) === true;
      if (!closed) {
        diag.error(`agent-safety-otel: audit sink ${this.name}: the journal ${this.spoolPath} could not be written in time (${this._spool.unwritten} records held in memory); a last synchronous attempt is made when the process exits`);
      } else if (this._queue.size > 0) {
        diag.warn(`agent-safety-otel: audit sink ${this.name}: ${this._queue.size} undelivered records stay in ${this.spoolPath} and are sent at the next start`);
      }
    } catch (err) {
      diag.error(`agent-safety-otel: audit sink ${this.name}: shutdown failed`, err);
    } finally {
      this._stopped = true;
      if (closed) this._stopLastChance();
      this._meter.close();
      // The exporter's shutdown waits for its requests in flight: bounded by the deadline too.
      const exporterDown = this._exporter.shutdown().then(
        () => true,
        err => (diag.error(`agent-safety-otel: audit sink ${this.name}: exporter shutdown failed`, err), true),
      );
      if ((await within(exporterDown, Math.max(0, deadline - this._now()))) === undefined) {
        diag.warn(`agent-safety-otel: audit sink ${this.name}: the exporter had not shut down within ${this._flushTimeoutMs} ms (an export still in flight); the sink's shutdown returns`);
      }
    }
  }
}

/** Resolves with the promise's value, or undefined after `ms` (the promise goes on). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref?.();
    promise.then(
      v => {
        clearTimeout(timer);
        resolve(v);
      },
      e => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
