// An OTLP/HTTP metrics receiver for the tests. Protobuf bodies are decoded with the code the
// OpenTelemetry project generated from its own protocol definitions (opentelemetry-proto, as
// published in @opentelemetry/otlp-transformer 0.57, installed as otlp-proto-definitions), never
// with a decoder of ours; JSON bodies are OTLP's JSON mapping of the same messages.
import { Buffer } from 'node:buffer';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';

interface ProtoMessageType {
  decode(bytes: Uint8Array): unknown;
  toObject(message: unknown, options: { longs: StringConstructor; enums: StringConstructor; bytes: StringConstructor }): unknown;
}
const generated = createRequire(import.meta.url)('otlp-proto-definitions/build/src/generated/root.js') as {
  opentelemetry: {
    proto: {
      collector: {
        metrics: { v1: { ExportMetricsServiceRequest: ProtoMessageType } };
        trace: { v1: { ExportTraceServiceRequest: ProtoMessageType } };
      };
    };
  };
};
const ExportMetricsServiceRequest = generated.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
const ExportTraceServiceRequest = generated.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: string | number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValue[];
  events?: { name?: string; attributes?: KeyValue[] }[];
  status?: { code?: string | number; message?: string };
}
interface TraceRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

/** A received span, its ids in lowercase hex whatever the encoding. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly attributes: Readonly<Record<string, string>>;
  readonly events: readonly { name: string; attributes: Readonly<Record<string, string>> }[];
  /** STATUS_CODE_UNSET, STATUS_CODE_OK or STATUS_CODE_ERROR. */
  readonly status: string;
  readonly resource: Readonly<Record<string, string>>;
}

/** Protobuf bytes come as base64 from toObject; OTLP/JSON sends ids as hex. */
function hexId(value: string | undefined, json: boolean): string {
  if (value === undefined || value === '') return '';
  return json ? value.toLowerCase() : Buffer.from(value, 'base64').toString('hex');
}

const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

function spansOf(request: TraceRequest, json: boolean): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = flat(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        const code = span.status?.code;
        out.push({
          traceId: hexId(span.traceId, json),
          spanId: hexId(span.spanId, json),
          parentSpanId: hexId(span.parentSpanId, json),
          name: span.name ?? '',
          startNs: BigInt(span.startTimeUnixNano ?? 0),
          endNs: BigInt(span.endTimeUnixNano ?? 0),
          attributes: flat(span.attributes),
          events: (span.events ?? []).map((event) => ({ name: event.name ?? '', attributes: flat(event.attributes) })),
          status: typeof code === 'number' ? STATUS_NAMES[code] ?? String(code) : code ?? 'STATUS_CODE_UNSET',
          resource,
        });
      }
    }
  }
  return out;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface NumberPoint {
  attributes?: KeyValue[];
  asInt?: string | number;
  asDouble?: number;
}
interface HistogramPoint {
  attributes?: KeyValue[];
  count?: string | number;
  sum?: number;
}
interface OtlpMetric {
  name: string;
  sum?: { dataPoints?: NumberPoint[] };
  gauge?: { dataPoints?: NumberPoint[] };
  histogram?: { dataPoints?: HistogramPoint[] };
}
interface ExportRequest {
  resourceMetrics?: { resource?: { attributes?: KeyValue[] }; scopeMetrics?: { metrics?: OtlpMetric[] }[] }[];
}

/** One data point: its attributes, and its value (a sum or gauge value, a histogram's count). */
export interface Point {
  readonly metric: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Push {
  readonly contentType: string;
  readonly headers: IncomingMessage['headers'];
  readonly resource: Readonly<Record<string, string>>;
  readonly points: readonly Point[];
}

function flat(attributes: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of attributes ?? []) out[key] = String(value?.stringValue ?? value?.intValue ?? value?.doubleValue ?? value?.boolValue ?? '');
  return out;
}

function pushOf(request: ExportRequest, contentType: string, headers: IncomingMessage['headers']): Push {
  const points: Point[] = [];
  let resource: Record<string, string> = {};
  for (const rm of request.resourceMetrics ?? []) {
    resource = { ...resource, ...flat(rm.resource?.attributes) };
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        for (const p of [...(metric.sum?.dataPoints ?? []), ...(metric.gauge?.dataPoints ?? [])]) {
          points.push({ metric: metric.name, attributes: flat(p.attributes), value: Number(p.asDouble ?? p.asInt ?? 0) });
        }
        for (const p of metric.histogram?.dataPoints ?? []) {
          points.push({ metric: metric.name, attributes: flat(p.attributes), value: Number(p.count ?? 0) });
        }
      }
    }
  }
  return { contentType, headers, resource, points };
}

/** How a trace export arrived (what the sender added to it). */
export interface TraceExport {
  readonly headers: IncomingMessage['headers'];
  /** Whether the sender presented a client certificate (an https receiver asks for one). */
  readonly clientCertificate: boolean;
}

export interface ReceiverOptions {
  /** Serve https with this certificate, asking senders for a client certificate: one it signed counts as presented, none is refused. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** Answer the first N trace exports 503 with Retry-After: 1, as a collector under load does; their spans are not kept. */
  readonly busyFirst?: number;
}

export class OtlpReceiver {
  readonly pushes: Push[] = [];
  readonly spans: ReceivedSpan[] = [];
  readonly traceExports: TraceExport[] = [];
  private waiters: (() => void)[] = [];

  private constructor(private readonly server: Server, private readonly scheme: 'http' | 'https') {}

  static async start(options: ReceiverOptions = {}): Promise<OtlpReceiver> {
    let busy = options.busyFirst ?? 0;
    const listener: RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const type = req.headers['content-type'] ?? '';
        try {
          const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
          const json = type.startsWith('application/json');
          if (req.method === 'POST' && req.url === '/v1/traces' && busy > 0) {
            busy--;
            res.writeHead(503, { 'retry-after': '1' }).end();
            return;
          }
          if (req.method === 'POST' && req.url === '/v1/traces') {
            // `authorized` rather than getPeerCertificate(), which Bun's server sockets lack.
            receiver.traceExports.push({ headers: req.headers, clientCertificate: (req.socket as Partial<TLSSocket>).authorized === true });
            const request = json
              ? JSON.parse(body.toString('utf8')) as TraceRequest
              : ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String, enums: String, bytes: String }) as TraceRequest;
            receiver.spans.push(...spansOf(request, json));
            res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
            res.end(json ? '{}' : undefined);
            for (const wake of receiver.waiters.splice(0)) wake();
            return;
          }
          if (req.method !== 'POST' || req.url !== '/v1/metrics') throw new Error(`unexpected ${req.method} ${req.url}`);
          const decoded = type.startsWith('application/json')
            ? JSON.parse(body.toString('utf8')) as ExportRequest
            : ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(body), { longs: String, enums: String, bytes: String }) as ExportRequest;
          receiver.pushes.push(pushOf(decoded, type, req.headers));
          res.writeHead(200, { 'content-type': type.startsWith('application/json') ? 'application/json' : 'application/x-protobuf' });
          res.end(type.startsWith('application/json') ? '{}' : undefined);
        } catch (error) {
          res.writeHead(400).end(String(error));
        }
        for (const wake of receiver.waiters.splice(0)) wake();
      });
    };
    const server = options.tls === undefined
      ? createServer(listener)
      : createHttpsServer({ ...options.tls, ca: options.tls.cert, requestCert: true, rejectUnauthorized: false }, listener);
    const receiver: OtlpReceiver = new OtlpReceiver(server, options.tls === undefined ? 'http' : 'https');
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get endpoint(): string {
    return `${this.scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The first push that has a point `match` accepts. */
  until(match: (push: Push) => boolean, timeoutMs = 20_000): Promise<Push> {
    return this.waitFor(() => this.pushes.find(match), timeoutMs);
  }

  /** Resolves when `ready` gives something, or rejects after the timeout. */
  async waitFor<T>(ready: () => T | undefined, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = ready();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing matching in ${timeoutMs} ms (${this.pushes.length} metric pushes, ${this.spans.length} spans received)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // A sender's keep-alive connections would hold the close until the sender exits.
    this.server.closeAllConnections();
    return closed;
  }
}

/** The value of `metric` with exactly these attributes in `push`, if present. */
export function pointValue(push: Push, metric: string, attributes: Readonly<Record<string, string>>): number | undefined {
  const want = JSON.stringify(Object.entries(attributes).sort());
  return push.points.find((p) => p.metric === metric && JSON.stringify(Object.entries(p.attributes).sort()) === want)?.value;
}
