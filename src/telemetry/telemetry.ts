// The OpenTelemetry meter provider and the scrapes of its metrics. Our server
// calls collect() on each request (there is no exporter's HTTP server), and
// every rendering of a scrape (Prometheus text, OpenMetrics, line protocol,
// JSON) is made from that one collection, so they always agree.
import type { Meter } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { carryExemplars, Exemplars } from './exemplars.ts';
import { families, type Family } from './renderings/families.ts';
import { renderInflux } from './renderings/influx.ts';
import { renderJson, type VarsDocument, varsDocument } from './renderings/json.ts';
import { OpenMetricsText } from './renderings/openmetrics-text.ts';
import { PrometheusText } from './renderings/prometheus.ts';
import type { OtlpPush } from './otlp-push.ts';
import { applyMetricNames, type MetricNaming } from './metric-names.ts';
import { reportObservedGaugesOnly } from './gauge-series.ts';
import { SERIES_LIMIT_PER_METRIC } from './series-limit.ts';
import { streamlineSdkCollection } from './sdk-collection.ts';

export { SERIES_LIMIT_PER_METRIC } from './series-limit.ts';

/**
 * The reader /metrics collects through: cumulative, the default aggregations
 * (the exporter's PrometheusExporter reads the same, but it takes no series
 * limit), and the series limit. The limit is the reader's rather than a view
 * matching every instrument: a view gives each storage an attributes
 * processor, and then every observation of an observable instrument is hashed
 * into a new map again on each collection.
 */
class ScrapeReader extends MetricReader {
  constructor() {
    super({ cardinalitySelector: () => SERIES_LIMIT_PER_METRIC });
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

export class CollectionError extends Error {
  constructor(reasons: readonly unknown[]) {
    super(`metrics collection failed: ${reasons.map((r) => (r instanceof Error ? r.message : String(r))).join('; ')}`);
    this.name = 'CollectionError';
  }
}

/** One collection of every metric, and its renderings, each made once however many requests share the collection. */
export class Scrape {
  private families: Family[] | undefined;
  private readonly texts = new Map<'prometheus' | 'openmetrics' | 'influx' | 'json', string>();

  /**
   * `timeMs`: when the collection was made, Unix milliseconds. `prometheusText`, `openMetricsText`:
   * the renderers of the text formats, which keep the text that repeats from one collection to the next.
   */
  constructor(
    readonly resourceMetrics: ResourceMetrics,
    readonly timeMs: number,
    private readonly prometheusText = new PrometheusText(),
    private readonly openMetricsText = new OpenMetricsText(),
  ) {}

  private all(): Family[] {
    return (this.families ??= families(this.resourceMetrics));
  }

  /** The Prometheus text exposition (format 0.0.4). */
  prometheus(): string {
    return this.text('prometheus', () => this.prometheusText.render(this.resourceMetrics));
  }

  private text(format: 'prometheus' | 'openmetrics' | 'influx' | 'json', render: () => string): string {
    let text = this.texts.get(format);
    if (text === undefined) this.texts.set(format, text = render());
    return text;
  }

  /** The OpenMetrics 1.0 text exposition: the same series, and the histograms' exemplars. */
  openMetrics(): string {
    return this.text('openmetrics', () => this.openMetricsText.render(this.resourceMetrics));
  }

  /** InfluxDB line protocol as Telegraf's prometheus input writes it with metric_version = 2. */
  influx(): string {
    return this.text('influx', () => renderInflux(this.all(), this.timeMs));
  }

  /** The /debug/vars document. */
  vars(): VarsDocument {
    return varsDocument(this.all(), this.timeMs);
  }

  /** The /debug/vars document as sent. */
  json(): string {
    return this.text('json', () => renderJson(this.all(), this.timeMs));
  }
}

export interface MetricsSource {
  /** Collects every metric once; rejects with CollectionError if any callback failed. */
  collect(): Promise<Scrape>;
}

export class Telemetry implements MetricsSource {
  readonly meter: Meter;
  /** The exemplars of the meter's histograms, linked to each collection's data points. */
  readonly exemplars = new Exemplars(SERIES_LIMIT_PER_METRIC);
  private readonly provider: MeterProvider;
  private readonly reader = new ScrapeReader();
  /** Kept across collections: the text of a series is made once, not on every scrape. */
  private readonly prometheusText = new PrometheusText();
  private readonly openMetricsText = new OpenMetricsText();
  private naming: (() => MetricNaming) | undefined;
  private collecting: Promise<Scrape> | undefined;

  /** `push`: a reader that pushes the same metrics (OTLP), with the resource it reports under. */
  constructor(push?: OtlpPush) {
    // The same collections with fewer allocations (sdk-collection.ts); the SDK as shipped if it cannot.
    streamlineSdkCollection();
    const readers: MetricReader[] = [this.reader];
    if (push !== undefined) readers.push(push.reader);
    // A runner removed by a reload must not leave its gauges behind.
    for (const reader of readers) reportObservedGaugesOnly(reader);
    this.provider = new MeterProvider({
      readers,
      ...(push === undefined ? {} : { resource: defaultResource().merge(resourceFromAttributes(push.resource)) }),
    });
    this.meter = this.provider.getMeter('runner');
    push?.attach(this.meter);
  }

  /** The names scrapes serve the runner's metrics under (metric_names), read at each collection so a reload takes effect. */
  nameWith(naming: () => MetricNaming): void {
    this.naming = naming;
  }

  /**
   * Collects every metric once. Requests that come while a collection runs
   * share it: a burst of scrapes costs one collection, not one each.
   */
  collect(): Promise<Scrape> {
    this.collecting ??= this.collectOnce().finally(() => {
      this.collecting = undefined;
    });
    return this.collecting;
  }

  private async collectOnce(): Promise<Scrape> {
    const timeMs = Date.now();
    const mark = this.exemplars.mark();
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw new CollectionError(errors);
    this.exemplars.attach(resourceMetrics, mark);
    const named = this.naming === undefined ? resourceMetrics : applyMetricNames(resourceMetrics, this.naming(), carryExemplars);
    return new Scrape(named, timeMs, this.prometheusText, this.openMetricsText);
  }

  /** The Prometheus text of a new collection; rejects with CollectionError. */
  async render(): Promise<string> {
    return (await this.collect()).prometheus();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
