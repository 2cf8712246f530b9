// Where and how the metrics are pushed over OTLP/HTTP: the [otel] table first, then the
// OpenTelemetry SDK environment variables as the specification defines them (the per-signal
// OTEL_EXPORTER_OTLP_METRICS_* before the general OTEL_EXPORTER_OTLP_*), then the defaults.
// Push is off unless an endpoint is given (or OTEL_METRICS_EXPORTER asks for otlp).
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { OtelConfig, OtlpProtocol } from '../config/types.ts';
import { OTLP_PROTOCOLS } from '../config/types.ts';
import { HTTP_URL_EXPECTED, isHttpUrl, shownUrl } from '../config/otel-config.ts';
import { versionInfo } from '../version.ts';

export interface OtlpSettings {
  /** The full signal URL (…/v1/metrics, …/v1/traces). */
  readonly url: string;
  readonly protocol: OtlpProtocol;
  /** Request headers (credentials among them: never logged). */
  readonly headers: Readonly<Record<string, string>>;
  /** A PEM file of CA certificates, or undefined for the system's. */
  readonly certificateFile: string | undefined;
  /** PEM files of the client's certificate and key (mutual TLS): both or neither. */
  readonly clientCertificateFile: string | undefined;
  readonly clientKeyFile: string | undefined;
  readonly compression: OtlpCompression;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly serviceName: string;
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

export type OtlpCompression = 'gzip' | 'none';

export class OtlpSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtlpSettingsError';
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

const DEFAULT_ENDPOINT = 'http://localhost:4318';
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_SERVICE_NAME = 'runner';

/** The value of the first variable set (not empty), with its name. */
function first(env: Environment, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

export type OtlpSignal = 'metrics' | 'traces';

/** The specification's base endpoint rule: the signal's path appended to the base URL. */
function signalUrlOf(base: string, signal: OtlpSignal): string {
  return `${base.endsWith('/') ? base : `${base}/`}v1/${signal}`;
}

function checkUrl(name: string, value: string): string {
  if (!isHttpUrl(value)) {
    throw new OtlpSettingsError(`${name}: expected ${HTTP_URL_EXPECTED}, got ${JSON.stringify(shownUrl(value))}`);
  }
  return value;
}

/** `key=value,key2=value2` with percent-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
export function parseKeyValueList(name: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const at = item.indexOf('=');
    const key = at > 0 ? item.slice(0, at).trim() : '';
    if (key === '') throw new OtlpSettingsError(`${name}: expected key=value pairs separated by commas, got an entry without a key`);
    try {
      out[key] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      throw new OtlpSettingsError(`${name}: the value of ${JSON.stringify(key)} is not valid percent-encoding`);
    }
  }
  return out;
}

/** Longer than an hour is a mistake (and past 2^31 ms a timer fires at once). */
const MAX_MS = 3_600_000;

/** A whole number of `unit` from 1 to `max`, or undefined when not given. */
function wholeNumber(found: { name: string; value: string } | undefined, unit: string, max: number): number | undefined {
  if (found === undefined) return undefined;
  const value = Number(found.value);
  if (!/^\d+$/.test(found.value) || value < 1 || value > max) {
    throw new OtlpSettingsError(`${found.name}: expected a whole number of ${unit} from 1 to ${max}, got ${JSON.stringify(found.value)}`);
  }
  return value;
}

function milliseconds(found: { name: string; value: string } | undefined): number | undefined {
  return wholeNumber(found, 'milliseconds', MAX_MS);
}

function compressionOf(found: { name: string; value: string } | undefined): OtlpCompression {
  if (found === undefined) return 'none';
  if (found.value !== 'gzip' && found.value !== 'none') throw new OtlpSettingsError(`${found.name}: expected gzip or none, got ${JSON.stringify(found.value)}`);
  return found.value;
}

/** The client certificate and key files (mutual TLS); one without the other is an error, as no TLS connection could use it. */
function clientFiles(env: Environment, SIGNAL: string): { clientCertificateFile: string | undefined; clientKeyFile: string | undefined } {
  const certificate = first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_CLIENT_CERTIFICATE`, 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE');
  const key = first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_CLIENT_KEY`, 'OTEL_EXPORTER_OTLP_CLIENT_KEY');
  if ((certificate === undefined) !== (key === undefined)) {
    const [given, missing] = certificate === undefined ? [key!.name, 'CLIENT_CERTIFICATE'] : [certificate.name, 'CLIENT_KEY'];
    throw new OtlpSettingsError(
      `${given}: expected OTEL_EXPORTER_OTLP_${missing} (or OTEL_EXPORTER_OTLP_${SIGNAL}_${missing}) to be set too: mutual TLS needs the certificate and its key`,
    );
  }
  return { clientCertificateFile: certificate?.value, clientKeyFile: key?.value };
}

/** How the batch span processor queues and sends spans: the SDK's OTEL_BSP_* variables. */
export interface SpanBatchSettings {
  /** Between two exports (OTEL_BSP_SCHEDULE_DELAY). */
  readonly scheduledDelayMs: number;
  /** How long one export may take before the processor moves on (OTEL_BSP_EXPORT_TIMEOUT). */
  readonly exportTimeoutMs: number;
  /** Spans waiting at most; past it they are dropped and counted (OTEL_BSP_MAX_QUEUE_SIZE). */
  readonly maxQueueSize: number;
  /** Spans in one export at most, never more than the queue holds (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
  readonly maxExportBatchSize: number;
}

/** The specification's defaults. */
const DEFAULT_SPAN_BATCHES: SpanBatchSettings = { scheduledDelayMs: 5_000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 };
/** The queue stays bounded: a larger one would hold hundreds of MiB of spans while a collector is down. */
const MAX_QUEUE_SIZE = 100_000;

function spanCount(found: { name: string; value: string } | undefined): number | undefined {
  return wholeNumber(found, 'spans', MAX_QUEUE_SIZE);
}

/**
 * The batch span processor's settings, from the environment (the processor's own fallback to it
 * never applies: the runner gives it every option). Throws OtlpSettingsError naming a bad value, and
 * a batch larger than the queue (the specification: at most the queue size).
 */
export function spanBatchSettings(env: Environment): SpanBatchSettings {
  const maxQueueSize = spanCount(first(env, 'OTEL_BSP_MAX_QUEUE_SIZE')) ?? DEFAULT_SPAN_BATCHES.maxQueueSize;
  const batch = first(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
  // Unset, the batch follows a queue set below its default.
  const maxExportBatchSize = spanCount(batch) ?? Math.min(DEFAULT_SPAN_BATCHES.maxExportBatchSize, maxQueueSize);
  if (maxExportBatchSize > maxQueueSize) {
    throw new OtlpSettingsError(
      `${batch!.name}: expected at most the queue size (OTEL_BSP_MAX_QUEUE_SIZE, ${maxQueueSize}), got ${JSON.stringify(batch!.value)}`,
    );
  }
  return {
    scheduledDelayMs: milliseconds(first(env, 'OTEL_BSP_SCHEDULE_DELAY')) ?? DEFAULT_SPAN_BATCHES.scheduledDelayMs,
    exportTimeoutMs: milliseconds(first(env, 'OTEL_BSP_EXPORT_TIMEOUT')) ?? DEFAULT_SPAN_BATCHES.exportTimeoutMs,
    maxQueueSize,
    maxExportBatchSize,
  };
}

function protocolOf(found: { name: string; value: string } | undefined): OtlpProtocol | undefined {
  if (found === undefined) return undefined;
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(found.value)) {
    throw new OtlpSettingsError(`${found.name}: expected ${OTLP_PROTOCOLS.join(' or ')} (grpc is not supported), got ${JSON.stringify(found.value)}`);
  }
  return found.value as OtlpProtocol;
}

/** The metrics push settings, or undefined when nothing asks for a push. Throws OtlpSettingsError naming a bad value. */
export function otlpMetricsSettings(config: OtelConfig | undefined, env: Environment): OtlpSettings | undefined {
  return otlpSettings('metrics', config, env);
}

/**
 * The settings of one signal's export, or undefined when nothing asks for it. Traces are sent in
 * batches every OTEL_BSP_SCHEDULE_DELAY (default 5 s) rather than on the metrics' interval.
 */
export function otlpSettings(kind: OtlpSignal, config: OtelConfig | undefined, env: Environment): OtlpSettings | undefined {
  const SIGNAL = kind.toUpperCase();
  const selector = first(env, kind === 'metrics' ? 'OTEL_METRICS_EXPORTER' : 'OTEL_TRACES_EXPORTER');
  const exporters = (selector?.value ?? '').split(',').map((item) => item.trim());
  // The specification: a selector that does not name otlp (none, prometheus, console) leaves OTLP out.
  const disabled = first(env, 'OTEL_SDK_DISABLED')?.value.toLowerCase() === 'true' || (selector !== undefined && !exporters.includes('otlp'));
  const signalEndpoint = kind === 'metrics' ? config?.metricsEndpoint : config?.tracesEndpoint;
  let url = signalEndpoint ?? (config?.endpoint === undefined ? undefined : signalUrlOf(config.endpoint, kind));
  if (url === undefined) {
    if (disabled) return undefined;
    const signal = first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_ENDPOINT`);
    const base = first(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
    if (signal !== undefined) url = checkUrl(signal.name, signal.value);
    else if (base !== undefined) url = signalUrlOf(checkUrl(base.name, base.value), kind);
    else if (exporters.includes('otlp')) url = signalUrlOf(DEFAULT_ENDPOINT, kind);
    else return undefined;
  }
  const resourceText = first(env, 'OTEL_RESOURCE_ATTRIBUTES');
  const resourceAttributes = {
    ...(resourceText === undefined ? {} : parseKeyValueList(resourceText.name, resourceText.value)),
    ...config?.resourceAttributes,
  };
  const general = first(env, 'OTEL_EXPORTER_OTLP_HEADERS');
  const signal = first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_HEADERS`);
  const headers = {
    ...(general === undefined ? {} : parseKeyValueList(general.name, general.value)),
    ...(signal === undefined ? {} : parseKeyValueList(signal.name, signal.value)),
    ...config?.headers,
  };
  const intervalMs = kind === 'traces'
    ? spanBatchSettings(env).scheduledDelayMs
    : config?.metricsIntervalSeconds !== undefined
    ? Math.round(config.metricsIntervalSeconds * 1000)
    : milliseconds(first(env, 'OTEL_METRIC_EXPORT_INTERVAL')) ?? DEFAULT_INTERVAL_MS;
  const timeoutMs = config?.timeoutSeconds !== undefined
    ? Math.round(config.timeoutSeconds * 1000)
    : milliseconds(first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_TIMEOUT`, 'OTEL_EXPORTER_OTLP_TIMEOUT')) ?? DEFAULT_TIMEOUT_MS;
  return {
    url,
    protocol: config?.protocol ?? protocolOf(first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_PROTOCOL`, 'OTEL_EXPORTER_OTLP_PROTOCOL')) ?? 'http/protobuf',
    headers,
    certificateFile: config?.certificate ?? first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_CERTIFICATE`, 'OTEL_EXPORTER_OTLP_CERTIFICATE')?.value,
    ...clientFiles(env, SIGNAL),
    compression: compressionOf(first(env, `OTEL_EXPORTER_OTLP_${SIGNAL}_COMPRESSION`, 'OTEL_EXPORTER_OTLP_COMPRESSION')),
    // The SDK refuses a metrics export timeout longer than the interval: a push never outlives the next one.
    timeoutMs: kind === 'metrics' ? Math.min(timeoutMs, intervalMs) : timeoutMs,
    intervalMs,
    serviceName: config?.serviceName ?? config?.resourceAttributes[ATTR_SERVICE_NAME] ?? first(env, 'OTEL_SERVICE_NAME')?.value ??
      resourceAttributes[ATTR_SERVICE_NAME] ?? DEFAULT_SERVICE_NAME,
    resourceAttributes,
  };
}

/**
 * The resource attributes an export reports under: the configured ones, service.name as the
 * settings resolved it, and service.version the runner's own unless they set one.
 */
export function serviceResource(serviceName: string, attributes: Readonly<Record<string, string>>): Record<string, string> {
  return { [ATTR_SERVICE_VERSION]: versionInfo.version, ...attributes, [ATTR_SERVICE_NAME]: serviceName };
}
