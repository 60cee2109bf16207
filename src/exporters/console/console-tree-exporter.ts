import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { HrTime } from '@opentelemetry/api';
import { formatValue, summarizeAttributes, summarizeEvent } from './console-summary.js';
import { redactAttributes, redactSecrets, redactText } from '../../patterns/shared/redaction.js';

/** Options of {@link ConsoleTreeSpanExporter}. */
export interface ConsoleTreeSpanExporterOptions {
  /** Where the rendered trees go. @default writes to `process.stdout` */
  write?: (text: string) => void;
  /** ANSI colours. @default true when stdout is a terminal (the bootstrap also honours `NO_COLOR`) */
  color?: boolean;
  /**
   * Spans kept while waiting for their trace's root to end; beyond it the
   * oldest pending traces are printed as they are. @default 10000
   */
  maxPendingSpans?: number;
}

function hrToMs(t: HrTime): number {
  return t[0] * 1e3 + t[1] / 1e6;
}

function formatDuration(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * A `SpanExporter` that prints each finished trace as a readable tree:
 * indentation for parentage, durations, status, the `agent_safety.*`
 * attributes, safety events and compensation links. It is the embedded
 * default of `agent-safety-otel/register` when no collector is configured.
 *
 * Spans are held until their trace's local root ends, then the whole tree is
 * printed at once. Use it with a `SimpleSpanProcessor` for output as it
 * happens.
 */
export class ConsoleTreeSpanExporter implements SpanExporter {
  private readonly _write: (text: string) => void;
  private readonly _color: boolean;
  private readonly _maxPending: number;
  private readonly _pending = new Map<string, ReadableSpan[]>();
  private _pendingCount = 0;
  private _shutdown = false;

  constructor(options: ConsoleTreeSpanExporterOptions = {}) {
    this._write = options.write ?? (text => process.stdout.write(text));
    this._color = options.color ?? process.stdout.isTTY === true;
    this._maxPending = options.maxPendingSpans ?? 10_000;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this._shutdown) {
      resultCallback({ code: 1, error: new Error('ConsoleTreeSpanExporter is shut down') });
      return;
    }
    try {
      for (const span of spans) {
        const traceId = span.spanContext().traceId;
        let list = this._pending.get(traceId);
        if (!list) this._pending.set(traceId, (list = []));
        list.push(span);
        this._pendingCount++;
        const parent = span.parentSpanContext;
        if (parent === undefined || parent.isRemote) this._flushTrace(traceId);
      }
      while (this._pendingCount > this._maxPending) {
        const oldest = this._pending.keys().next().value as string;
        this._flushTrace(oldest);
      }
      resultCallback({ code: 0 });
    } catch (err) {
      resultCallback({ code: 1, error: err as Error });
    }
  }

  /** Prints every trace still waiting for its root. */
  forceFlush(): Promise<void> {
    for (const traceId of [...this._pending.keys()]) this._flushTrace(traceId);
    return Promise.resolve();
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this._shutdown = true;
  }

  private _flushTrace(traceId: string): void {
    const spans = this._pending.get(traceId);
    if (!spans) return;
    this._pending.delete(traceId);
    this._pendingCount -= spans.length;
    this._write(this.render(spans));
  }

  private _paint(code: string, text: string): string {
    return this._color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  /** Renders the spans of one trace as a tree (exposed for tests and tools). */
  render(spans: readonly ReadableSpan[]): string {
    const byId = new Map<string, ReadableSpan>();
    for (const s of spans) byId.set(s.spanContext().spanId, s);
    const children = new Map<string, ReadableSpan[]>();
    const roots: ReadableSpan[] = [];
    for (const s of spans) {
      const parentId = s.parentSpanContext?.spanId;
      if (parentId !== undefined && byId.has(parentId)) {
        let list = children.get(parentId);
        if (!list) children.set(parentId, (list = []));
        list.push(s);
      } else {
        roots.push(s);
      }
    }
    const byStart = (a: ReadableSpan, b: ReadableSpan): number => hrToMs(a.startTime) - hrToMs(b.startTime);
    roots.sort(byStart);
    for (const list of children.values()) list.sort(byStart);

    const traceId = spans[0]?.spanContext().traceId ?? '';
    const lines: string[] = [this._paint('2', `trace ${traceId}`)];
    const walk = (span: ReadableSpan, prefix: string, last: boolean, top: boolean): void => {
      const branch = top ? '' : last ? '└─ ' : '├─ ';
      lines.push(prefix + branch + this._line(span));
      const childPrefix = top ? '' : prefix + (last ? '   ' : '│  ');
      const kids = children.get(span.spanContext().spanId) ?? [];
      const detailPrefix = childPrefix + (kids.length > 0 ? '│  ' : '   ');
      for (const detail of this._details(span)) lines.push(detailPrefix + this._paint('2', detail));
      kids.forEach((kid, i) => walk(kid, childPrefix, i === kids.length - 1, false));
    };
    roots.forEach(root => walk(root, '', true, true));
    return `${lines.join('\n')}\n\n`;
  }

  private _line(span: ReadableSpan): string {
    const attrs = span.attributes as Record<string, unknown>;
    const outcome = attrs['agent_safety.call.outcome'];
    const failed = span.status.code === 2;
    const mark =
      outcome === 'aborted' ? this._paint('33', '⊘') : failed ? this._paint('31', '✗') : this._paint('32', '✓');
    const parts = [`${mark} ${this._paint('1', span.name)}`, this._paint('2', formatDuration(hrToMs(span.duration)))];
    if (failed) {
      const type = attrs['error.type'];
      // the audit processor redacts before chaining; the console redacts too, for spans it never saw
      const message = span.status.message ? `: ${formatValue(redactText(span.status.message), 110)}` : '';
      parts.push(this._paint('31', `${type ?? 'error'}${message}`));
    } else if (outcome === 'aborted') {
      parts.push(this._paint('33', 'aborted by caller'));
    }
    const safety = summarizeAttributes(attrs);
    if (safety.length > 0) parts.push(this._paint('36', safety.join(' · ')));
    return parts.join('  ');
  }

  private _details(span: ReadableSpan): string[] {
    const out: string[] = [];
    for (const event of span.events) {
      const line = summarizeEvent(event.name, redactAttributes((event.attributes ?? {}) as Record<string, unknown>, redactSecrets));
      if (line !== undefined) out.push(`• ${line}`);
    }
    for (const link of span.links) {
      const type = link.attributes?.['agent_safety.link.type'] ?? 'link';
      out.push(`↪ ${type} span ${link.context.spanId} of trace ${link.context.traceId}`);
    }
    return out;
  }
}
