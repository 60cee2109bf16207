/**
 * A real OTLP/HTTP receiver for tests: listens on 127.0.0.1 (a free port),
 * accepts `POST /v1/traces`, `/v1/metrics` and `/v1/logs` in `application/x-protobuf`
 * (decoded with the subset `.proto` beside this file) or `application/json`,
 * gzip or not, and keeps what it received in the OTLP JSON form (hex ids,
 * string nanosecond times), which is also what the Collector's file exporter
 * writes. It can be told to fail (to test retries and outages) and closes
 * itself after `maxLifetimeMs` even if a test forgets to.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

const root = protobuf.loadSync(fileURLToPath(new URL('./otlp/otlp.proto', import.meta.url)));
const TraceRequest = root.lookupType('otlp.ExportTraceServiceRequest');
const TraceResponse = root.lookupType('otlp.ExportTraceServiceResponse');
const MetricsRequest = root.lookupType('otlp.ExportMetricsServiceRequest');
const MetricsResponse = root.lookupType('otlp.ExportMetricsServiceResponse');
const LogsRequest = root.lookupType('otlp.ExportLogsServiceRequest');
const LogsResponse = root.lookupType('otlp.ExportLogsServiceResponse');

/** One log record received (`/v1/logs`). */
export interface ReceivedLogRecord {
  resource: Record<string, AttributeValue>;
  scope: { name: string; version?: string | undefined };
  eventName: string;
  severityNumber: number;
  attributes: Record<string, AttributeValue>;
  traceId: string;
  spanId: string;
}

function flattenLogs(request: Json): ReceivedLogRecord[] {
  const out: ReceivedLogRecord[] = [];
  for (const rl of (request.resourceLogs as Json[]) ?? []) {
    const resource = keyValues((rl.resource as Json | undefined)?.attributes as Json[]);
    for (const sl of (rl.scopeLogs as Json[]) ?? []) {
      const scope = (sl.scope as Json | undefined) ?? {};
      for (const r of (sl.logRecords as Json[]) ?? []) {
        out.push({
          resource,
          scope: { name: String(scope.name ?? ''), version: scope.version as string | undefined },
          eventName: String(r.eventName ?? ''),
          severityNumber: Number(r.severityNumber ?? 0),
          attributes: keyValues(r.attributes as Json[]),
          traceId: hex(r.traceId),
          spanId: hex(r.spanId),
        });
      }
    }
  }
  return out;
}

type Json = Record<string, unknown>;
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [k: string]: AttributeValue };

/** A span as received, flattened, with attributes decoded to plain values. */
export interface ReceivedSpan {
  resource: Record<string, AttributeValue>;
  scope: { name: string; version?: string };
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, AttributeValue>;
  events: { name: string; timeUnixNano: string; attributes: Record<string, AttributeValue> }[];
  links: { traceId: string; spanId: string; attributes: Record<string, AttributeValue> }[];
  status: { code: number; message?: string };
}

/** A metric data point as received. */
export interface ReceivedPoint {
  metric: string;
  unit: string;
  type: 'gauge' | 'sum' | 'histogram';
  attributes: Record<string, AttributeValue>;
  value?: number;
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
}

/** One request, as seen on the wire. */
export interface ReceivedRequest {
  path: string;
  contentType: string;
  gzip: boolean;
  status: number;
}

/**
 * Decides the HTTP status of a request: return a number to fail it, `'hang'` to
 * read it and never answer (a collector that is stuck), undefined to accept.
 */
export type FailurePolicy = (request: { path: string; index: number }) => number | 'hang' | undefined;

export interface OtlpReceiverOptions {
  /** Fail requests on purpose (e.g. 503 for the first N). */
  fail?: FailurePolicy;
  /** The server closes itself after this long, whatever happens. @default 120000 */
  maxLifetimeMs?: number;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
}

function hex(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '';
  if (/^[0-9a-f]+$/i.test(value) && (value.length === 16 || value.length === 32)) return value.toLowerCase();
  return Buffer.from(value, 'base64').toString('hex');
}

/** Decodes an OTLP `AnyValue` (JSON form) to a plain value. */
export function anyValue(v: Json | undefined): AttributeValue {
  if (!v) return null;
  if ('stringValue' in v) return v.stringValue as string;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return (((v.arrayValue as Json).values as Json[]) ?? []).map(anyValue);
  if ('kvlistValue' in v) return keyValues((v.kvlistValue as Json).values as Json[]) as AttributeValue;
  if ('bytesValue' in v) return v.bytesValue as string;
  return null;
}

/** Decodes a list of OTLP `KeyValue`s (JSON form) to an object. */
export function keyValues(list: Json[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[kv.key as string] = anyValue(kv.value as Json);
  return out;
}

const TO_OBJECT = { longs: String, bytes: String, enums: Number, defaults: false, oneofs: false } as const;

/** Normalises ids in a decoded request to hex, as OTLP JSON has them. */
function normaliseTraceIds(request: Json): Json {
  for (const rs of (request.resourceSpans as Json[]) ?? []) {
    for (const ss of (rs.scopeSpans as Json[]) ?? []) {
      for (const span of (ss.spans as Json[]) ?? []) {
        span.traceId = hex(span.traceId);
        span.spanId = hex(span.spanId);
        if (span.parentSpanId !== undefined) span.parentSpanId = hex(span.parentSpanId);
        for (const link of (span.links as Json[]) ?? []) {
          link.traceId = hex(link.traceId);
          link.spanId = hex(link.spanId);
        }
      }
    }
  }
  return request;
}

function flattenSpans(request: Json): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of (request.resourceSpans as Json[]) ?? []) {
    const resource = keyValues((rs.resource as Json | undefined)?.attributes as Json[]);
    for (const ss of (rs.scopeSpans as Json[]) ?? []) {
      const scope = (ss.scope as Json | undefined) ?? {};
      for (const s of (ss.spans as Json[]) ?? []) {
        const status = (s.status as Json | undefined) ?? {};
        out.push({
          resource,
          scope: { name: String(scope.name ?? ''), version: scope.version as string | undefined },
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name as string,
          kind: Number(s.kind ?? 0),
          startTimeUnixNano: String(s.startTimeUnixNano),
          endTimeUnixNano: String(s.endTimeUnixNano),
          attributes: keyValues(s.attributes as Json[]),
          events: ((s.events as Json[]) ?? []).map(e => ({
            name: e.name as string,
            timeUnixNano: String(e.timeUnixNano),
            attributes: keyValues(e.attributes as Json[]),
          })),
          links: ((s.links as Json[]) ?? []).map(l => ({
            traceId: hex(l.traceId),
            spanId: hex(l.spanId),
            attributes: keyValues(l.attributes as Json[]),
          })),
          status: { code: Number(status.code ?? 0), message: status.message as string | undefined },
        });
      }
    }
  }
  return out;
}

function flattenMetrics(request: Json): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of (request.resourceMetrics as Json[]) ?? []) {
    for (const sm of (rm.scopeMetrics as Json[]) ?? []) {
      for (const m of (sm.metrics as Json[]) ?? []) {
        const base = { metric: m.name as string, unit: String(m.unit ?? '') };
        for (const type of ['gauge', 'sum', 'histogram'] as const) {
          const data = m[type] as Json | undefined;
          if (!data) continue;
          for (const p of (data.dataPoints as Json[]) ?? []) {
            const point: ReceivedPoint = { ...base, type, attributes: keyValues(p.attributes as Json[]) };
            if (type === 'histogram') {
              point.count = Number(p.count);
              point.sum = p.sum === undefined ? undefined : Number(p.sum);
              point.bucketCounts = ((p.bucketCounts as unknown[]) ?? []).map(Number);
              point.explicitBounds = ((p.explicitBounds as unknown[]) ?? []).map(Number);
            } else {
              point.value = p.asDouble !== undefined ? Number(p.asDouble) : Number(p.asInt ?? 0);
            }
            out.push(point);
          }
        }
      }
    }
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** See the module comment. Create with {@link OtlpReceiver.start}. */
export class OtlpReceiver {
  /** Every span received, in arrival order. */
  readonly spans: ReceivedSpan[] = [];
  /** Every metric data point received, in arrival order. */
  readonly points: ReceivedPoint[] = [];
  /** Every log record received, in arrival order. */
  readonly logRecords: ReceivedLogRecord[] = [];
  /** Each accepted trace request in OTLP JSON form (one Collector file-exporter line each). */
  readonly traceRequests: Json[] = [];
  /** Every request, accepted or failed. */
  readonly requests: ReceivedRequest[] = [];
  /** The base URL, e.g. `http://127.0.0.1:41234`. */
  url = '';
  private _server: Server;
  private _fail: FailurePolicy | undefined;
  private _lifetime: ReturnType<typeof setTimeout> | undefined;
  private _waiters = new Set<() => void>();

  private constructor(options: OtlpReceiverOptions) {
    this._fail = options.fail;
    this._server = createServer((req, res) => {
      this._handle(req, res).catch(err => {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
      });
    });
  }

  /** Starts a receiver on 127.0.0.1. */
  static async start(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver(options);
    await new Promise<void>((resolve, reject) => {
      receiver._server.once('error', reject);
      receiver._server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    receiver._server.unref();
    const { port } = receiver._server.address() as AddressInfo;
    receiver.url = `http://127.0.0.1:${port}`;
    receiver._lifetime = setTimeout(() => void receiver.close(), options.maxLifetimeMs ?? 120_000);
    receiver._lifetime.unref();
    return receiver;
  }

  /** The port listened on. */
  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Replaces the failure policy (e.g. to let the endpoint "recover"). */
  setFailurePolicy(fail: FailurePolicy | undefined): void {
    this._fail = fail;
  }

  private async _handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '';
    let body = await readBody(req);
    const gzip = req.headers['content-encoding'] === 'gzip';
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim();
    const index = this.requests.length;
    const failWith = this._fail?.({ path, index });
    const record = (status: number): void => {
      this.requests.push({ path, contentType, gzip, status });
    };
    if (failWith === 'hang') {
      record(0); // never answered (status 0); dropped by close()
      for (const wake of [...this._waiters]) wake();
      return;
    }
    if (failWith !== undefined) {
      record(failWith);
      res.writeHead(failWith, { 'content-type': 'text/plain' }).end('failing on purpose');
      return;
    }
    if (req.method !== 'POST' || (path !== '/v1/traces' && path !== '/v1/metrics' && path !== '/v1/logs')) {
      record(404);
      res.writeHead(404).end();
      return;
    }
    if (gzip) body = gunzipSync(body);
    const traces = path === '/v1/traces';
    const logs = path === '/v1/logs';
    let request: Json;
    if (contentType === 'application/x-protobuf') {
      const type = traces ? TraceRequest : logs ? LogsRequest : MetricsRequest;
      request = type.toObject(type.decode(body), TO_OBJECT) as Json;
    } else if (contentType === 'application/json') {
      request = JSON.parse(body.toString('utf8')) as Json;
    } else {
      record(415);
      res.writeHead(415).end();
      return;
    }
    if (traces) {
      normaliseTraceIds(request);
      this.traceRequests.push(request);
      this.spans.push(...flattenSpans(request));
    } else if (logs) {
      this.logRecords.push(...flattenLogs(request));
    } else {
      this.points.push(...flattenMetrics(request));
    }
    record(200);
    if (contentType === 'application/x-protobuf') {
      const type = traces ? TraceResponse : logs ? LogsResponse : MetricsResponse;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(type.encode(type.create({})).finish()));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    }
    for (const wake of [...this._waiters]) wake();
  }

  /** Resolves when `predicate` holds (checked after each request), rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'the expected telemetry'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.spans.length} spans, ${this.points.length} points`));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this._waiters.delete(check);
        resolve();
      };
      this._waiters.add(check);
    });
  }

  /** The accepted trace requests as OTLP JSON lines, as the Collector's file exporter writes them. */
  toOtlpJsonLines(): string {
    return this.traceRequests.map(r => JSON.stringify(r)).join('\n') + (this.traceRequests.length ? '\n' : '');
  }

  /** Stops listening and drops open connections. Safe to call twice. */
  close(): Promise<void> {
    if (this._lifetime) clearTimeout(this._lifetime);
    if (!this._server.listening) return Promise.resolve();
    return new Promise(resolve => {
      this._server.close(() => resolve());
      this._server.closeAllConnections();
    });
  }
}
