// OTLP push of the metrics /metrics serves: a second reader on the same meter provider, so a
// collector gets the same instruments, on an interval and once more at shutdown (a short-lived
// runner still reports). A collector that cannot be reached costs the jobs nothing: the SDK
// exports on its own timer with a timeout, failures are counted, and the first is logged once.
import { readFileSync } from 'node:fs';
import type { Meter } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { type MetricReader, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { shownUrl } from '../config/otel-config.ts';
import { type OtlpSettings, serviceResource } from './otlp-settings.ts';
import { SERIES_LIMIT_PER_METRIC } from './series-limit.ts';

export interface PushLog {
  warn(message: string, fields: Record<string, string>): void;
}

/** The TLS material of an export, as the HTTPS agent takes it; empty: the system's CAs, no client certificate. */
export interface TlsMaterial {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** The settings' CA and client certificate files, read now; throws naming a file that cannot be read. */
export function tlsOf(settings: OtlpSettings): TlsMaterial {
  const material: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  const files: ReadonlyArray<readonly [keyof TlsMaterial, string, string | undefined]> = [
    ['ca', 'certificate', settings.certificateFile],
    ['cert', 'client certificate', settings.clientCertificateFile],
    ['key', 'client key', settings.clientKeyFile],
  ];
  for (const [field, what, path] of files) {
    if (path === undefined) continue;
    try {
      material[field] = readFileSync(path);
    } catch (error) {
      throw new Error(`OTLP ${what} ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  return material;
}

/**
 * The OTLP/HTTP exporter options of the settings, every one given: the exporter packages fall
 * back to the OTEL_EXPORTER_OTLP_* variables for what is left out, and the settings have already
 * read those (with the file's [otel] first). Throws naming a TLS file that cannot be read.
 */
function exportOptions(settings: OtlpSettings): {
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: CompressionAlgorithm;
  httpAgentOptions: { keepAlive: boolean } & TlsMaterial;
} {
  return {
    url: settings.url,
    headers: { ...settings.headers },
    timeoutMillis: settings.timeoutMs,
    compression: settings.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE,
    httpAgentOptions: { keepAlive: true, ...tlsOf(settings) },
  };
}

function exporterFor(settings: OtlpSettings): PushMetricExporter {
  const options = exportOptions(settings);
  return settings.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
}

/** An OTLP exporter of one signal, as far as counting its exports goes. */
export interface SignalExporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Endpoints whose trouble is remembered, at most: past them a new endpoint's first failure is not logged either (only counted). */
const MAX_WARNED = 64;

/**
 * Warnings logged once per process for each key (what went wrong where): a coordinator's endpoint
 * gets an exporter per job, and one that cannot be reached would otherwise be logged for every job.
 */
export class WarnOnce {
  private readonly seen = new Set<string>();

  constructor(private readonly log: PushLog) {}

  warn(key: string, message: string, fields: Record<string, string>): void {
    if (this.seen.has(key) || this.seen.size >= MAX_WARNED) return;
    this.seen.add(key);
    this.log.warn(message, fields);
  }
}

/** Counts each export by result and logs the first failure at its endpoint (never the headers: they hold credentials). */
export class CountedExporter<T> implements SignalExporter<T> {
  constructor(
    private readonly inner: SignalExporter<T>,
    private readonly signal: string,
    private readonly counted: (result: 'success' | 'failure', items: T) => void,
    private readonly url: string,
    private readonly warnings: WarnOnce,
  ) {}

  export(items: T, done: (result: ExportResult) => void): void {
    this.inner.export(items, (result) => {
      const ok = result.code === ExportResultCode.SUCCESS;
      this.counted(ok ? 'success' : 'failure', items);
      if (!ok) {
        this.warnings.warn(
          `${this.signal} export ${this.url}`,
          `OTLP ${this.signal} export failed; later failures there are only counted (ci_runner_otlp_exports_total)`,
          {
            endpoint: shownUrl(this.url),
            error: result.error?.message ?? 'unknown error',
          },
        );
      }
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** ci_runner_otlp_exports_total, shared by the signals. */
export function exportsCounter(meter: Meter): ReturnType<Meter['createCounter']> {
  return meter.createCounter('ci_runner_otlp_exports_total', { description: 'OTLP exports, by signal and result.' });
}

export interface OtlpPush {
  readonly reader: MetricReader;
  /** The resource the pushes report under (service.name, service.version and the configured attributes). */
  readonly resource: Readonly<Record<string, string>>;
  /** Registers the push counter on the provider's meter (at 0 for both results, so the first failure shows in rate()). */
  attach(meter: Meter): void;
}

/** The reader that pushes, per the settings. Throws naming an unreadable certificate file. */
export function otlpPush(settings: OtlpSettings, log: PushLog): OtlpPush {
  let exports: ReturnType<Meter['createCounter']> | undefined;
  const counted = (result: 'success' | 'failure'): void => exports?.add(1, { signal: 'metrics', result });
  const inner = exporterFor(settings);
  // The reader asks its exporter for temporality and aggregation (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE ...).
  const exporter: PushMetricExporter = Object.assign(new CountedExporter<ResourceMetrics>(inner, 'metrics', counted, settings.url, new WarnOnce(log)), {
    selectAggregationTemporality: inner.selectAggregationTemporality?.bind(inner),
    selectAggregation: inner.selectAggregation?.bind(inner),
  });
  return {
    reader: new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: settings.intervalMs,
      exportTimeoutMillis: settings.timeoutMs,
      cardinalityLimits: { default: SERIES_LIMIT_PER_METRIC },
    }),
    resource: serviceResource(settings.serviceName, settings.resourceAttributes),
    attach(meter) {
      exports = exportsCounter(meter);
      for (const result of ['success', 'failure']) exports.add(0, { signal: 'metrics', result });
    },
  };
}
