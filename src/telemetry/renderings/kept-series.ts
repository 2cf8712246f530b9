// What the text renderings (prometheus.ts, openmetrics-text.ts) keep of each metric's series from one
// collection to the next, and how a data point finds its series again.
//
// A series is found by its attributes object first: the SDK keeps one for as long as a cumulative
// series exists and hands it out with each of its points (it never changes one). Gauges are
// collected with delta temporality (gauge-series.ts), and then each point carries the object its
// callback observed this time, a new one on every collection unless the callback keeps its own.
// So a point that is not the kept object is compared with the series at its place in the last
// rendering (callbacks observe in the same order each time): the same attribute names in the same
// order with the same values is the same series, and its kept text is used. The comparison
// allocates nothing; a point that matches neither way gets its text made anew, which is only
// slower, never different.
import type { Attributes } from '@opentelemetry/api';
import { type DataPoint, DataPointType, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';

/** The empty list of names of every series without attributes. */
const NO_KEYS: readonly string[] = [];

/** What a rendering keeps of one series. */
export interface SeriesText {
  /** The rendering that last saw the series. */
  seen: number;
  /** The attributes the series' text was made from, and their names in order (Object.keys; TWIN: not kept). */
  readonly attributes: Attributes;
  keys: readonly string[];
  /** A value's `name{labels} `; a histogram's `name_count{labels} `. */
  readonly first: string;
  /** A histogram's `name_sum{labels} `. */
  readonly sum: string;
  /** A histogram's `name_bucket{labels,le="bound"} `, one per bucket, the last `le="+Inf"`. */
  readonly buckets: readonly string[];
  /** The bounds and the number of counts `buckets` were made for. */
  readonly bounds: readonly number[];
  readonly countsLength: number;
  /** The series' lines at the last rendering; undefined before the first. */
  lines: string | undefined;
  /**
   * What `lines` were made from, reused while they are the same (most series of a scrape have
   * not changed since the one before): the value, or a histogram's count, sum and bucket counts
   * (a copy: the SDK updates its array in place), and what else the format writes of it (extras).
   */
  value: number;
  sumValue: number | undefined;
  counts: readonly number[];
  extras: unknown;
}

/** What a rendering keeps of one metric: what its text was made from, and its series. */
export interface KeptMetric {
  /** The rendering that last saw the metric. */
  seen: number;
  /** What the text was made from: a metric that differs in any of them is made anew. */
  readonly description: string;
  readonly unit: string;
  readonly dataPointType: DataPointType;
  readonly isMonotonic: boolean;
  /** The series by the attributes object they were made for (gauges' later objects are not added). */
  readonly series: Map<Attributes, SeriesText>;
  /** Series of `series` the current rendering has seen. */
  seenSeries: number;
  /** The series of the last rendering in its order, and their lines together: reused while none changed. */
  readonly order: SeriesText[];
  samples: string;
  /** The names of the series made last: the next series with the same names shares the list. */
  lastKeys: readonly string[];
  /** Series texts made for this metric by the current rendering (for tests: a series found again is not made). */
  made: number;
}

const isMonotonic = (metric: MetricData): boolean => metric.dataPointType === DataPointType.SUM && metric.isMonotonic;

/** What a rendering keeps of `metric`, before any series. */
export function keptMetric(metric: MetricData): KeptMetric {
  const { description, unit } = metric.descriptor;
  const { dataPointType } = metric;
  return {
    seen: 0,
    description,
    unit,
    dataPointType,
    isMonotonic: isMonotonic(metric),
    series: new Map(),
    seenSeries: 0,
    order: [],
    samples: '',
    lastKeys: NO_KEYS,
    made: 0,
  };
}

/** A metric's type in the text format: a monotonic sum a counter, other sums gauges; exponential histograms `untyped`. */
export function familyType(metric: MetricData): 'counter' | 'gauge' | 'histogram' | 'untyped' {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return 'untyped';
  }
}

/** Whether `kept` was made from a metric like `metric` (the same description, unit and type). */
function sameMetric(kept: KeptMetric, metric: MetricData): boolean {
  const { description, unit } = metric.descriptor;
  return kept.description === description && kept.unit === unit && kept.dataPointType === metric.dataPointType &&
    kept.isMonotonic === isMonotonic(metric);
}

/**
 * The kept text of `metric` in `metrics` (by name), made if there is none or it was made from
 * another kind of metric. A second metric of one name in a collection gets one of its own, not
 * kept: its `seen` is not `pass`.
 */
export function metricFor<M extends KeptMetric>(metrics: Map<string, M>, metric: MetricData, pass: number, made: (metric: MetricData) => M): M {
  const key = metric.descriptor.name;
  let kept = metrics.get(key);
  if (kept !== undefined && kept.seen === pass) return made(metric);
  if (kept === undefined || !sameMetric(kept, metric)) metrics.set(key, kept = made(metric));
  kept.seen = pass;
  return kept;
}

/** A value as both text formats write it (the exporter's serializer): JavaScript's shortest form, +Inf, -Inf, NaN. */
export function valueText(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return `${value}`;
}

/** Same numbers in the same order (NaN the same as NaN, 0 not -0: as they are written). */
function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** The empty lists of every value series (one each would be 32 bytes a series for nothing). */
const NO_NUMBERS: readonly number[] = [];
const NO_TEXT: readonly string[] = [];

/**
 * A new series' text with the prefixes the format made: a value's `first` alone, a histogram's
 * `first` (the _count line's), `sum` and `buckets`.
 */
export function seriesText(
  kept: KeptMetric,
  attributes: Attributes,
  first: string,
  histogram?: { readonly of: Histogram; readonly sum: string; readonly buckets: readonly string[] },
): SeriesText {
  const unrendered = {
    seen: 0,
    attributes,
    keys: keysOf(kept, attributes),
    lines: undefined,
    value: 0,
    sumValue: undefined,
    counts: NO_NUMBERS,
    extras: undefined,
  };
  if (histogram === undefined) return { first, sum: '', buckets: NO_TEXT, bounds: NO_NUMBERS, countsLength: 0, ...unrendered };
  const { of, sum, buckets } = histogram;
  return { first, sum, buckets, bounds: of.buckets.boundaries, countsLength: of.buckets.counts.length, ...unrendered };
}

/** What differs between the text formats in their samples. */
export interface SamplesFormat {
  /** A new series' text (seriesText()) for a point of the metric whose samples are named `name`. */
  made(kept: KeptMetric, name: string, attributes: Attributes, histogram: Histogram | undefined): SeriesText;
  /** What the format writes of a histogram point beside its numbers (exemplars), compared by identity; undefined for nothing. */
  extras(point: DataPoint<Histogram>): readonly unknown[] | undefined;
  /** A histogram series' lines, with `extras(point)`. */
  histogramLines(series: SeriesText, histogram: Histogram, extras: readonly unknown[] | undefined): string;
}

/** The names of a series made for the second point of one attributes object: never found again. */
const TWIN: readonly string[] = [];

/** The names of `attributes` in order, for a series of `kept`: the list of the series made before it if the same. */
function keysOf(kept: KeptMetric, attributes: Attributes): readonly string[] {
  const keys = Object.keys(attributes);
  const last = kept.lastKeys;
  if (keys.length === last.length && keys.every((key, i) => key === last[i])) return last;
  return kept.lastKeys = keys;
}

/** Whether `attributes` has exactly the own names of `series.attributes`, in the same order, with the same values. */
function sameAttributes(series: SeriesText, attributes: Attributes): boolean {
  const keys = series.keys;
  const kept = series.attributes;
  let i = 0;
  for (const key in attributes) {
    // An inherited name is not one Object.entries (the label text) would see: not the same.
    if (key !== keys[i] || !Object.hasOwn(attributes, key) || attributes[key] !== kept[key]) return false;
    i++;
  }
  return i === keys.length;
}

/**
 * The kept series of the point at `position` of the metric with `attributes`, or undefined for
 * none (then the caller makes one and calls keepMade()). A series already seen by this rendering is
 * never returned: one attributes object for two points of a metric gets a series of its own.
 */
function findSeries(kept: KeptMetric, attributes: Attributes, position: number, pass: number): SeriesText | undefined {
  const there = kept.order[position];
  if (there !== undefined && there.seen !== pass && there.keys !== TWIN && (there.attributes === attributes || sameAttributes(there, attributes))) return there;
  const series = kept.series.get(attributes);
  return series === undefined || series.seen === pass ? undefined : series;
}

/** Marks a series findSeries() gave seen by the rendering `pass`. */
function seen(kept: KeptMetric, series: SeriesText, pass: number): SeriesText {
  if (series.seen !== pass) {
    series.seen = pass;
    kept.seenSeries++;
  }
  return series;
}

/**
 * Keeps a series just made for a point, under its attributes object, and marks it seen; unless
 * a series of that object was seen by this rendering already (one object for two points of a
 * metric, which the SDK never hands out): then it is the point's alone and not kept.
 */
function keepMade(kept: KeptMetric, series: SeriesText, pass: number): SeriesText {
  kept.made++;
  if (kept.series.get(series.attributes)?.seen === pass) {
    series.seen = pass;
    series.keys = TWIN;
    return series;
  }
  kept.series.set(series.attributes, series);
  return seen(kept, series, pass);
}

/** Drops the entries the rendering `pass` did not see. */
export function forgetUnseen<K>(map: Map<K, { seen: number }>, pass: number): void {
  for (const [key, entry] of map) if (entry.seen !== pass) map.delete(key);
}

/**
 * Puts `series` at `position` of the rendering's order; returns whether it was there already.
 * After the last point: finishSamples().
 */
function place(kept: KeptMetric, series: SeriesText, position: number): boolean {
  if (kept.order[position] === series) return true;
  kept.order[position] = series;
  return false;
}

/** The samples of the metric's `count` points: the kept ones if `same` (no series changed or moved), else joined anew; forgets the series not seen. */
function finishSamples(kept: KeptMetric, count: number, same: boolean, pass: number): string {
  const order = kept.order;
  if (!same || order.length !== count) {
    order.length = count;
    let samples = '';
    for (let i = 0; i < count; i++) samples += order[i]!.lines!;
    kept.samples = samples;
  }
  if (kept.series.size > kept.seenSeries) forgetUnseen(kept.series, pass);
  return kept.samples;
}

/** The kept text of the series of the point at `position` with `attributes`, made if it has none or its buckets changed. */
function seriesOf(
  kept: KeptMetric,
  format: SamplesFormat,
  name: string,
  attributes: Attributes,
  histogram: Histogram | undefined,
  position: number,
  pass: number,
): SeriesText {
  const series = findSeries(kept, attributes, position, pass);
  if (
    series === undefined ||
    (histogram !== undefined && (series.countsLength !== histogram.buckets.counts.length || !sameNumbers(series.bounds, histogram.buckets.boundaries)))
  ) {
    return keepMade(kept, format.made(kept, name, attributes, histogram), pass);
  }
  return seen(kept, series, pass);
}

/** Same extras in the same places, by identity. */
function sameExtras(a: unknown, b: readonly unknown[] | undefined): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The samples of `metric` (named `name`) in the collection's order, from the series' kept lines
 * where their numbers are those of the last rendering; '' for exponential histograms, which
 * neither format gives samples.
 */
export function samplesText(kept: KeptMetric, metric: MetricData, name: string, pass: number, format: SamplesFormat): string {
  kept.seenSeries = 0;
  // Whether every series' lines and their order are those of the last rendering.
  let same = true;
  switch (metric.dataPointType) {
    case DataPointType.SUM:
    case DataPointType.GAUGE: {
      const points = metric.dataPoints;
      for (let p = 0; p < points.length; p++) {
        const point = points[p]!;
        const series = seriesOf(kept, format, name, point.attributes, undefined, p, pass);
        if (series.lines === undefined || !Object.is(series.value, point.value)) {
          series.lines = `${series.first}${valueText(point.value)}\n`;
          series.value = point.value;
          same = false;
        }
        if (!place(kept, series, p)) same = false;
      }
      break;
    }
    case DataPointType.HISTOGRAM: {
      const points = metric.dataPoints;
      for (let p = 0; p < points.length; p++) {
        const point = points[p]!;
        const histogram = point.value;
        const extras = format.extras(point);
        const series = seriesOf(kept, format, name, point.attributes, histogram, p, pass);
        const counts = histogram.buckets.counts;
        if (
          series.lines === undefined || !Object.is(series.value, histogram.count) || !Object.is(series.sumValue, histogram.sum) ||
          !sameNumbers(series.counts, counts) || !sameExtras(series.extras, extras)
        ) {
          series.lines = format.histogramLines(series, histogram, extras);
          series.value = histogram.count;
          series.sumValue = histogram.sum;
          series.counts = counts.slice();
          series.extras = extras;
          same = false;
        }
        if (!place(kept, series, p)) same = false;
      }
      break;
    }
    default:
      kept.order.length = 0;
      return '';
  }
  return finishSamples(kept, metric.dataPoints.length, same, pass);
}

/** What a renderer keeps: its metrics' texts by name, and the count of its renderings. */
export abstract class KeptTexts<M extends KeptMetric> {
  protected readonly metrics = new Map<string, M>();
  /** The rendering under way, or the last one. */
  protected pass = 0;
  private made = 0;

  /** Metrics and series whose text is kept: what the last rendering had (for tests of the bound). */
  get kept(): { metrics: number; series: number } {
    let series = 0;
    for (const metric of this.metrics.values()) series += metric.series.size;
    return { metrics: this.metrics.size, series };
  }

  /** Series texts the renderings have made so far (for tests of what is found again). */
  get seriesMade(): number {
    return this.made;
  }

  /** Counts the series texts made for `kept` by the rendering that just rendered it. */
  protected rendered(kept: M): void {
    this.made += kept.made;
    kept.made = 0;
  }
}
