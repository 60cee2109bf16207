/**
 * The hand-written equivalent of one full guarded call, as a careful user
 * would write it without this package: an SDK span, a cockatiel breaker,
 * a duration histogram record, and an audit line per call made of
 * `JSON.stringify` of the call's facts (tool, agent, outcome, reasoning,
 * confidence, alternatives, impact), SHA-256 chained to the previous line,
 * appended to a file through a `WriteStream`, fdatasync'ed every 200 ms
 * (the durability of `FileAuditSink`'s default).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, fdatasync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { SpanStatusCode } from '@opentelemetry/api';
import type { Histogram, Meter, Tracer } from '@opentelemetry/api';
import { ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel';

/** The explanation and impact facts both the guarded call and the hand-written one carry. */
export const CALL_FACTS = {
  reasoning: 'Ranking content by engagement signals.',
  confidence: 0.91,
  alternativesConsidered: ['chronological sort'],
  impact: { reversibility: 'manual_undo', scope: 'user' },
} as const;

/** A hash-chained JSONL file written through a WriteStream. */
export class HandwrittenAuditFile {
  private readonly _stream: WriteStream;
  private readonly _timer: NodeJS.Timeout;
  private _prev = '0'.repeat(64);
  private _seq = 0;
  private _dirty = false;
  private _fd: number | undefined;

  constructor(path: string) {
    this._stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this._stream.on('open', fd => (this._fd = fd));
    this._timer = setInterval(() => {
      const fd = this._fd;
      if (!this._dirty || typeof fd !== 'number') return;
      this._dirty = false;
      fdatasync(fd, () => {});
    }, 200);
    this._timer.unref();
  }

  /** Appends `record` with its seq and the previous hash; returns its hash. */
  append(record: Record<string, unknown>): string {
    const body = JSON.stringify({ seq: this._seq++, prev_hash: this._prev, ...record });
    const hash = createHash('sha256').update(this._prev).update(body).digest('hex');
    this._prev = hash;
    this._stream.write(`${body.slice(0, -1)},"hash":"${hash}"}\n`);
    this._dirty = true;
    return hash;
  }

  /** Resolves when every line is written and synced. */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this._stream.write('', err => {
        if (err) return reject(err);
        const fd = this._fd;
        if (typeof fd !== 'number') return resolve();
        fdatasync(fd, e => (e ? reject(e) : resolve()));
      });
    });
  }

  close(): Promise<void> {
    clearInterval(this._timer);
    return new Promise(resolve => this._stream.end(resolve));
  }
}

/** Wraps `tool` the hand-written way; the span, histogram and file are the caller's. */
export function handwrittenGuard<A extends unknown[], R>(
  tool: (...args: A) => Promise<R>,
  options: { name: string; agentId: string; tracer: Tracer; meter: Meter; file: HandwrittenAuditFile },
): (...args: A) => Promise<R> {
  const { name, agentId, tracer, file } = options;
  const breaker = circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
  const histogram: Histogram = options.meter.createHistogram('gen_ai.execute_tool.duration', { unit: 's' });
  const spanName = `execute_tool ${name}`;
  return (...args: A) =>
    tracer.startActiveSpan(
      spanName,
      {
        attributes: {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': name,
          'gen_ai.agent.id': agentId,
          'agent_safety.explanation.reasoning': CALL_FACTS.reasoning,
          'agent_safety.explanation.confidence': CALL_FACTS.confidence,
        },
      },
      async span => {
        const t0 = performance.now();
        let outcome = 'success';
        try {
          return await breaker.execute(() => tool(...args));
        } catch (err) {
          outcome = 'error';
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw err;
        } finally {
          const seconds = (performance.now() - t0) / 1000;
          histogram.record(seconds, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': name, 'agent_safety.call.outcome': outcome });
          span.end();
          const ctx = span.spanContext();
          file.append({
            trace_id: ctx.traceId,
            span_id: ctx.spanId,
            time_unix_ms: Date.now(),
            tool: name,
            agent: agentId,
            outcome,
            duration_s: seconds,
            breaker_state: breaker.state,
            reasoning: CALL_FACTS.reasoning,
            confidence: CALL_FACTS.confidence,
            alternatives: CALL_FACTS.alternativesConsidered,
            impact: CALL_FACTS.impact,
          });
        }
      },
    );
}
