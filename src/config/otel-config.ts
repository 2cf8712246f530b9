// [otel]: where the runner pushes its metrics over OTLP/HTTP. Every key is optional: one left out
// is taken from the OTEL_* environment (src/telemetry/otlp-settings.ts), so the file wins where
// both say something. A wrong value stops the runner at start with a line naming it.
import type { TableReader } from './table-reader.ts';
import { type OtelConfig, OTLP_PROTOCOLS, type OtlpProtocol } from './types.ts';

/** Collector timeouts and push intervals beyond an hour are mistakes, not settings. */
const MAX_SECONDS = 3600;

/** What an OTLP endpoint must be, as error messages say it. */
export const HTTP_URL_EXPECTED = 'an http:// or https:// URL without credentials (put them in headers) such as "http://collector:4318"';

/** An http(s) URL without user or password (they would be sent as Basic auth, and logged): headers carry credentials. */
export function isHttpUrl(value: string): boolean {
  try {
    const { protocol, username, password } = new URL(value);
    return (protocol === 'http:' || protocol === 'https:') && username === '' && password === '';
  } catch {
    return false;
  }
}

/** Longest URL text a log line or an error message shows. */
const MAX_SHOWN_URL = 200;

/**
 * A URL as logs and error messages may show it: without user, password, query and fragment, where
 * credentials hide (`?api_key=`). The text is cut too, for what does not parse or parses as
 * something else (`user:pw@host` is a URL of scheme `user:`), so a message can still name the value.
 */
export function shownUrl(url: string): string {
  let text = url;
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    text = parsed.href;
  } catch {
    // Cut by its text below.
  }
  const shown = text.replace(/[?#].*$/s, '').replace(/^((?:[^:/?#]*:)?\/\/)?[^/]*@/, '$1');
  return shown.length > MAX_SHOWN_URL ? `${shown.slice(0, MAX_SHOWN_URL)}...` : shown;
}

function httpUrl(reader: TableReader, key: string): string | undefined {
  const value = reader.string(key);
  if (value !== undefined && !isHttpUrl(value)) throw reader.error(key, `expected ${HTTP_URL_EXPECTED}, got ${JSON.stringify(shownUrl(value))}`);
  return value;
}

export function readOtelConfig(reader: TableReader): OtelConfig {
  const protocol = reader.string('protocol');
  if (protocol !== undefined && !(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw reader.error('protocol', `expected ${OTLP_PROTOCOLS.join(' or ')} (grpc is not supported), got ${JSON.stringify(protocol)}`);
  }
  const certificate = reader.string('certificate');
  if (certificate !== undefined && (certificate.trim() === '' || certificate.includes('\u0000'))) {
    throw reader.error('certificate', `expected the path of a PEM file, got ${JSON.stringify(certificate)}`);
  }
  const serviceName = reader.string('service_name');
  if (serviceName !== undefined && serviceName.trim() === '') throw reader.error('service_name', 'expected a non-empty string');
  return {
    endpoint: httpUrl(reader, 'endpoint'),
    metricsEndpoint: httpUrl(reader, 'metrics_endpoint'),
    tracesEndpoint: httpUrl(reader, 'traces_endpoint'),
    protocol: protocol as OtlpProtocol | undefined,
    headers: reader.stringTable('headers'),
    certificate,
    timeoutSeconds: reader.optionalSeconds('timeout', 0.1, MAX_SECONDS),
    metricsIntervalSeconds: reader.optionalSeconds('metrics_interval', 0.1, MAX_SECONDS),
    serviceName,
    resourceAttributes: reader.stringTable('resource_attributes'),
  };
}
