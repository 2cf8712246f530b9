// Exemplars of histogram buckets: the OpenTelemetry JS SDK keeps none, so the runner keeps its own.
// For each series of a histogram (by its attributes) and each of its buckets, the latest
// observation that came with a sampled span is kept: its value, time and the span's ids. After
// each collection the collected data points are linked to their series' exemplars; renderings
// read them by data point, so a step that maps the collection into new data points (renaming
// metrics, say) carries them over with carryExemplars().
import type { Attributes } from '@opentelemetry/api';
import { DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { SpanIds } from '../job/job-trace.ts';

export interface Exemplar {
  /** `trace_id` and `span_id`, the label names OpenMetrics and Prometheus use for a trace. */
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** When it was observed, Unix milliseconds. */
  readonly timeMs: number;
}

/** A data point's exemplars by bucket: index i is the bucket of `counts[i]`; undefined, none. */
export type BucketExemplars = readonly (Exemplar | undefined)[];

const byPoint = new WeakMap<object, BucketExemplars>();

/** The exemplars linked to a collected histogram data point, if any. */
export function exemplarsOf(point: object): BucketExemplars | undefined {
  return byPoint.get(point);
}

/** Links `to`, a copy of the data point `from` (same buckets), to the exemplars of `from`. */
export function carryExemplars(from: object, to: object): void {
  const exemplars = byPoint.get(from);
  if (exemplars !== undefined) byPoint.set(to, exemplars);
}

/** The bucket of `value`: OpenTelemetry's explicit buckets hold (previous bound, bound]; past the last bound, the +Inf bucket. */
export function bucketIndex(boundaries: readonly number[], value: number): number {
  const index = boundaries.findIndex((bound) => value <= bound);
  return index === -1 ? boundaries.length : index;
}

/** The SDK's identity of a series: its attributes whatever their order. */
function seriesKey(attributes: Attributes): string {
  return JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface Kept {
  readonly exemplar: Exemplar;
  /** The order of recording, across every histogram of the registry. */
  readonly sequence: number;
}

/** The exemplars of one histogram. */
export class HistogramExemplars {
  /** Series key -> bucket index (by the boundaries given here) -> the latest exemplar. */
  private readonly series = new Map<string, Map<number, Kept>>();

  constructor(
    readonly name: string,
    private readonly boundaries: readonly number[],
    private readonly maxSeries: number,
    private readonly nextSequence: () => number,
  ) {}

  /** How many series it keeps exemplars of now. */
  get seriesKept(): number {
    return this.series.size;
  }

  /** Keeps an observation that the histogram `name` recorded with `attributes`, made within `span`, as its bucket's exemplar. */
  record(value: number, attributes: Attributes, span: SpanIds, timeMs: number): void {
    // The SDK drops negative values (and NaN) from a histogram: no bucket holds them.
    if (!(value >= 0)) return;
    const key = seriesKey(attributes);
    let buckets = this.series.get(key);
    if (buckets === undefined) {
      // Without collections nothing prunes: at most as many series as the SDK keeps, the oldest go first.
      if (this.series.size >= this.maxSeries) {
        const oldest = this.series.keys().next();
        if (oldest.done !== true) this.series.delete(oldest.value);
      }
      buckets = new Map();
      this.series.set(key, buckets);
    }
    const exemplar = { labels: { trace_id: span.traceId, span_id: span.spanId }, value, timeMs };
    buckets.set(bucketIndex(this.boundaries, value), { exemplar, sequence: this.nextSequence() });
  }

  /**
   * Links the collection's data points of this histogram to their exemplars, and forgets the
   * series the collection no longer has (folded into the SDK's overflow series, say) unless they
   * were recorded since `mark`, during the collection.
   */
  attach(resourceMetrics: ResourceMetrics, mark: number): void {
    const present = new Set<string>();
    for (const { metrics } of resourceMetrics.scopeMetrics) {
      for (const metric of metrics) {
        if (metric.dataPointType !== DataPointType.HISTOGRAM || metric.descriptor.name !== this.name) continue;
        for (const point of metric.dataPoints) {
          const key = seriesKey(point.attributes);
          present.add(key);
          const kept = this.series.get(key);
          if (kept !== undefined) byPoint.set(point, placed([...kept.values()], point.value.buckets.boundaries, point.value.buckets.counts.length));
        }
      }
    }
    for (const [key, kept] of this.series) {
      if (!present.has(key) && Math.max(...[...kept.values()].map((k) => k.sequence)) < mark) this.series.delete(key);
    }
  }
}

/** The exemplars in the buckets of a data point's boundaries (a view may have changed them), the latest in each. */
function placed(kept: readonly Kept[], boundaries: readonly number[], buckets: number): BucketExemplars {
  const latest: (Kept | undefined)[] = Array.from({ length: buckets }, () => undefined);
  for (const entry of kept) {
    const index = bucketIndex(boundaries, entry.exemplar.value);
    const there = latest[index];
    if (index < buckets && (there === undefined || there.sequence < entry.sequence)) latest[index] = entry;
  }
  return latest.map((entry) => entry?.exemplar);
}

/** The exemplar stores of one meter provider; every collection of it goes through attach(). */
export class Exemplars {
  private readonly histograms: HistogramExemplars[] = [];
  private recorded = 0;

  /** `maxSeriesPerMetric`: the SDK's own limit, so that this store never holds more series than the SDK does. */
  constructor(private readonly maxSeriesPerMetric: number) {}

  /** The exemplar store of the histogram `name`, whose buckets end at `boundaries`. */
  histogram(name: string, boundaries: readonly number[]): HistogramExemplars {
    const store = new HistogramExemplars(name, boundaries, this.maxSeriesPerMetric, () => this.recorded++);
    this.histograms.push(store);
    return store;
  }

  /** Taken before a collection starts, for attach(). */
  mark(): number {
    return this.recorded;
  }

  /** Links the collected data points to their exemplars; `mark`: mark() from before the collection. */
  attach(resourceMetrics: ResourceMetrics, mark: number): void {
    for (const store of this.histograms) store.attach(resourceMetrics, mark);
  }
}
