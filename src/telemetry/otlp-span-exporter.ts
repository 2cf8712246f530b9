// OTLP/HTTP span exporters made from what they are given and nothing else. The exporter packages'
// constructors (OTLPTraceExporter) merge the OTEL_EXPORTER_OTLP_* variables under their options:
// the environment's headers always, its client certificate, key and CA when no agent options are
// given, its compression when none is. An endpoint a coordinator names must get none of the
// operator's credentials, so the exporter is put together from the parts those constructors use
// (the HTTP export delegate and the serializers), with no environment in between. The operator's
// exporter is made the same way from its settings (otlp-settings.ts, which read the environment).
import { createOtlpHttpExportDelegate, httpAgentFactoryFromOptions } from '@opentelemetry/otlp-exporter-base/node-http';
import { JsonTraceSerializer, ProtobufTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol } from '../config/types.ts';
import type { SignalExporter, TlsMaterial } from './otlp-push.ts';
import type { OtlpCompression } from './otlp-settings.ts';

/** Where and how spans are sent: all of it, nothing taken from elsewhere. */
export interface SpanExportTarget {
  /** The full URL (…/v1/traces). */
  readonly url: string;
  readonly protocol: OtlpProtocol;
  /** Credentials among them: never logged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly compression: OtlpCompression;
  /** Empty: the system's CAs (and NODE_EXTRA_CA_CERTS), no client certificate. */
  readonly tls: TlsMaterial;
  /** One export request's timeout, retries included. */
  readonly timeoutMs: number;
}

/** The exporter packages' default for requests in flight at once. */
const CONCURRENCY_LIMIT = 30;
/** The exporters' component type in their own self-observability metrics (unused here: no meter provider is given). */
const COMPONENT_TYPE = 'otlp_http_span_exporter';

/** An exporter sending to `target` only. Throws on a URL that does not parse (as the exporter packages do). */
export function spanExporter(target: SpanExportTarget): SignalExporter<ReadableSpan[]> {
  // The transport parses the URL only at the first export: a bad one is refused here, where a caller can handle it.
  new URL(target.url);
  const json = target.protocol === 'http/json';
  const contentType = json ? 'application/json' : 'application/x-protobuf';
  const headers = { ...target.headers };
  return createOtlpHttpExportDelegate(
    {
      url: target.url,
      // The content type last: a header of the settings cannot change what the body is.
      headers: () => Promise.resolve({ ...headers, 'Content-Type': contentType }),
      timeoutMillis: target.timeoutMs,
      concurrencyLimit: CONCURRENCY_LIMIT,
      compression: target.compression,
      agentFactory: httpAgentFactoryFromOptions({ keepAlive: true, ...target.tls }),
    },
    json ? JsonTraceSerializer : ProtobufTraceSerializer,
    COMPONENT_TYPE,
    TraceExporterMetricsHelper,
    undefined,
  );
}
