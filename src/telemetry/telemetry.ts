// The OpenTelemetry meter provider and its Prometheus rendering. The exporter's
// own HTTP server is never started: our server calls render() on each scrape.
import type { Meter } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';

/**
 * Series kept per metric before the SDK folds the rest into one
 * `otel_metric_overflow="true"` series. Our widest metric is a per-runner,
 * per-stage one (runners x about 12 stages x a few states): 4000 leaves room
 * for some 100 runners while a runaway label still costs at most a few MiB
 * and a scrape of tens of milliseconds.
 */
export const SERIES_LIMIT_PER_METRIC = 4000;

export class CollectionError extends Error {
  constructor(reasons: readonly unknown[]) {
    super(`metrics collection failed: ${reasons.map((r) => (r instanceof Error ? r.message : String(r))).join('; ')}`);
    this.name = 'CollectionError';
  }
}

export interface MetricsRenderer {
  /** The Prometheus text exposition (format 0.0.4); rejects with CollectionError. */
  render(): Promise<string>;
}

export class Telemetry implements MetricsRenderer {
  readonly meter: Meter;
  private readonly provider: MeterProvider;
  private readonly reader: PrometheusExporter;
  // Plain names: no otel_scope_* labels and no target_info, as Prometheus users expect.
  private readonly serializer = new PrometheusSerializer('', false, undefined, true, true);

  constructor() {
    this.reader = new PrometheusExporter({ preventServerStart: true });
    this.provider = new MeterProvider({
      readers: [this.reader],
      views: [{ instrumentName: '*', aggregationCardinalityLimit: SERIES_LIMIT_PER_METRIC }],
    });
    this.meter = this.provider.getMeter('runner');
  }

  async render(): Promise<string> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new CollectionError(errors);
    return this.serializer.serialize(resourceMetrics);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
