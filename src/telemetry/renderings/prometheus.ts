// The Prometheus text exposition (format 0.0.4), byte for byte what the exporter's
// PrometheusSerializer('', false, undefined, true, true) writes: plain names, no otel_scope_*
// labels and no target_info, as Prometheus users expect. Its own serializer rebuilds every line
// from scratch on each scrape (sanitizing and escaping every label of every series, HELP and TYPE
// of every metric); most of a scrape's text is the same from one scrape to the next, so this one
// keeps, per metric, its HELP/TYPE lines and, per series, the `name{labels} ` text before the
// value and the series' lines of the last rendering, which it reuses while the series' numbers
// are the same (and a metric's samples together while none of its series changed). That costs
// about 450 bytes a series for as long as the series exists (the SDK keeps about 400 of its own
// per series). test/unit/telemetry/prometheus-text.test.ts renders the same collections with both
// and compares the bytes.
//
// What is kept is bounded by what the SDK itself keeps: a series is found by its attributes
// object, which the SDK keeps as the key of its series for as long as the series exists (and
// hands out with each of its data points; it never changes one), and each rendering drops the
// series and metrics the collection it renders no longer has.
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { DataPointType, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

/** What the exporter's serializer writes for a collection without metrics (no newline after it). */
const NO_REGISTERED_METRICS = '# no registered metrics';

/** The exporter's escapes of HELP, UNIT and names: backslash and newline. */
function escapeString(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** The exporter's label values: strings escaped (double quotes too), other values as JSON, nothing as ''. */
function escapeLabelValue(value: AttributeValue | undefined): string {
  const text = value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return escapeString(text).replace(/"/g, '\\"');
}

/** Characters outside [a-zA-Z0-9_] become `_`, then runs of `_` shrink to one. */
function sanitize(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

/** A value as the exporter writes it: JavaScript's shortest form, +Inf, -Inf, NaN. */
function valueString(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return `${value}`;
}

/** `a="x",b="y"` of the attributes, in their order; '' for none. */
function labelText(attributes: Attributes): string {
  let text = '';
  for (const [key, value] of Object.entries(attributes)) text += `${text.length > 0 ? ',' : ''}${sanitize(key)}="${escapeLabelValue(value)}"`;
  return text;
}

/** `name{labels} `, or `name ` without labels: the text before a sample's value. */
function prefix(name: string, labels: string): string {
  return labels === '' ? `${name} ` : `${name}{${labels}} `;
}

/** The exposition's name of a metric, or undefined for one the exporter leaves out (empty, `_`). */
function metricName(metric: MetricData): string | undefined {
  let name = sanitize(escapeString(metric.descriptor.name));
  if (name === '' || name === '_') return undefined;
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic && !name.endsWith('_total')) name += '_total';
  return name;
}

function typeOf(metric: MetricData): string {
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

function header(metric: MetricData, name: string): string {
  const { description, unit } = metric.descriptor;
  const unitLine = unit ? `# UNIT ${name} ${escapeString(unit)}\n` : '';
  return `# HELP ${name} ${escapeString(description || 'description missing')}\n${unitLine}# TYPE ${name} ${typeOf(metric)}\n`;
}

/** The kept text of one series. */
interface SeriesText {
  /** The rendering that last saw the series. */
  seen: number;
  /** A value's `name{labels} `; a histogram's `name_count{labels} `. */
  readonly first: string;
  /** A histogram's `name_sum{labels} `. */
  readonly sum: string;
  /** A histogram's `name_bucket{labels,le="bound"} `, one per bucket, the last `le="+Inf"`. */
  readonly buckets: readonly string[];
  /** The bounds and the number of counts `buckets` were made for. */
  readonly bounds: readonly number[];
  readonly countsLength: number;
  /**
   * The series' lines at the last rendering, reused while what they were made from is the same
   * (most series of a scrape have not changed since the one before): the value, or a histogram's
   * count, sum and bucket counts (a copy: the SDK updates its array in place).
   */
  lines: string | undefined;
  value: number;
  sumValue: number | undefined;
  counts: readonly number[];
}

/** The kept text of one metric, and of its series by their attributes object. */
interface MetricText {
  seen: number;
  /** What the text was made from: a metric that differs in any of them is made anew. */
  readonly description: string;
  readonly unit: string;
  readonly dataPointType: DataPointType;
  readonly isMonotonic: boolean;
  /** undefined: a name the exporter leaves out. */
  readonly name: string | undefined;
  readonly header: string;
  readonly series: Map<Attributes, SeriesText>;
  /** Series of `series` the current rendering has seen. */
  seenSeries: number;
  /** The series of the last rendering in its order, and their lines together: reused while none changed. */
  readonly order: SeriesText[];
  samples: string;
}

const isMonotonic = (metric: MetricData): boolean => metric.dataPointType === DataPointType.SUM && metric.isMonotonic;

function sameMetric(kept: MetricText, metric: MetricData): boolean {
  const { description, unit } = metric.descriptor;
  return kept.description === description && kept.unit === unit && kept.dataPointType === metric.dataPointType &&
    kept.isMonotonic === isMonotonic(metric);
}

/**
 * The bucket lines' bounds, as the exporter takes them: one per count, the
 * count past the last bound `+Inf`; where the bounds end with Infinity
 * themselves, the counts after it are left out.
 */
function bucketBounds(histogram: Histogram): string[] {
  const { boundaries, counts } = histogram.buckets;
  const bounds: string[] = [];
  let infinityDefined = false;
  for (let index = 0; index < counts.length; index++) {
    const bound = boundaries[index];
    if (bound === undefined && infinityDefined) break;
    if (bound === Infinity) infinityDefined = true;
    bounds.push(bound === undefined || bound === Infinity ? '+Inf' : String(bound));
  }
  return bounds;
}

/** Same numbers in the same order (NaN the same as NaN, 0 not -0: as they are written). */
function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Drops the entries the rendering `pass` did not see. */
function forgetUnseen<K>(map: Map<K, { seen: number }>, pass: number): void {
  for (const [key, entry] of map) if (entry.seen !== pass) map.delete(key);
}

function madeMetric(metric: MetricData): MetricText {
  const name = metricName(metric);
  return {
    seen: 0,
    description: metric.descriptor.description,
    unit: metric.descriptor.unit,
    dataPointType: metric.dataPointType,
    isMonotonic: isMonotonic(metric),
    name,
    header: name === undefined ? '' : header(metric, name),
    series: new Map(),
    seenSeries: 0,
    order: [],
    samples: '',
  };
}

/** The empty lists of every value series (one each would be 32 bytes a series for nothing). */
const NO_NUMBERS: readonly number[] = [];
const NO_TEXT: readonly string[] = [];

function madeSeries(name: string, attributes: Attributes, histogram: Histogram | undefined): SeriesText {
  const labels = labelText(attributes);
  const unrendered = { lines: undefined, value: 0, sumValue: undefined, counts: NO_NUMBERS };
  if (histogram === undefined) return { seen: 0, first: prefix(name, labels), sum: '', buckets: NO_TEXT, bounds: NO_NUMBERS, countsLength: 0, ...unrendered };
  const comma = labels === '' ? '' : ',';
  return {
    seen: 0,
    first: prefix(`${name}_count`, labels),
    sum: prefix(`${name}_sum`, labels),
    buckets: bucketBounds(histogram).map((le) => `${name}_bucket{${labels}${comma}le="${le}"} `),
    bounds: histogram.buckets.boundaries,
    countsLength: histogram.buckets.counts.length,
    ...unrendered,
  };
}

/** The kept text of a series of `kept`, made if it has none or its buckets changed. */
function seriesOf(kept: MetricText, name: string, attributes: Attributes, histogram: Histogram | undefined, pass: number): SeriesText {
  let series = kept.series.get(attributes);
  if (series !== undefined && series.seen === pass) {
    // One attributes object for two points of a metric (the SDK never hands out one twice): a series of its own, not kept.
    const twin = madeSeries(name, attributes, histogram);
    twin.seen = pass;
    return twin;
  }
  if (
    series === undefined ||
    (histogram !== undefined && (series.countsLength !== histogram.buckets.counts.length || !sameNumbers(series.bounds, histogram.buckets.boundaries)))
  ) {
    kept.series.set(attributes, series = madeSeries(name, attributes, histogram));
  }
  if (series.seen !== pass) {
    series.seen = pass;
    kept.seenSeries++;
  }
  return series;
}

/** A histogram series' lines in the exporter's order: _count, _sum (when the SDK kept one), then the cumulative buckets. */
function histogramLines(series: SeriesText, histogram: Histogram): string {
  let lines = `${series.first}${valueString(histogram.count)}\n`;
  if (histogram.sum !== undefined && histogram.sum !== null) lines += `${series.sum}${valueString(histogram.sum)}\n`;
  const counts = histogram.buckets.counts;
  let cumulative = 0;
  for (let b = 0; b < series.buckets.length; b++) {
    cumulative += counts[b]!;
    lines += `${series.buckets[b]!}${valueString(cumulative)}\n`;
  }
  return lines;
}

/** The text of one metric: HELP, UNIT and TYPE, then its samples as the exporter orders them. */
function metricText(kept: MetricText, metric: MetricData, pass: number): string {
  const name = kept.name;
  if (name === undefined) return '';
  kept.seenSeries = 0;
  const order = kept.order;
  // Whether every series' lines and their order are those of the last rendering.
  let same = metric.dataPoints.length === order.length;
  switch (metric.dataPointType) {
    case DataPointType.SUM:
    case DataPointType.GAUGE: {
      const points = metric.dataPoints;
      for (let p = 0; p < points.length; p++) {
        const point = points[p]!;
        const series = seriesOf(kept, name, point.attributes, undefined, pass);
        if (series.lines === undefined || !Object.is(series.value, point.value)) {
          series.lines = `${series.first}${valueString(point.value)}\n`;
          series.value = point.value;
          same = false;
        }
        if (order[p] !== series) {
          order[p] = series;
          same = false;
        }
      }
      break;
    }
    case DataPointType.HISTOGRAM: {
      const points = metric.dataPoints;
      for (let p = 0; p < points.length; p++) {
        const point = points[p]!;
        const histogram = point.value;
        const series = seriesOf(kept, name, point.attributes, histogram, pass);
        const counts = histogram.buckets.counts;
        if (
          series.lines === undefined || !Object.is(series.value, histogram.count) || !Object.is(series.sumValue, histogram.sum) ||
          !sameNumbers(series.counts, counts)
        ) {
          series.lines = histogramLines(series, histogram);
          series.value = histogram.count;
          series.sumValue = histogram.sum;
          series.counts = counts.slice();
          same = false;
        }
        if (order[p] !== series) {
          order[p] = series;
          same = false;
        }
      }
      break;
    }
    default:
      // Exponential histograms: the exporter writes their HELP and TYPE (untyped) and no samples.
      order.length = 0;
      return kept.header;
  }
  if (!same) {
    order.length = metric.dataPoints.length;
    let samples = '';
    for (let i = 0; i < order.length; i++) samples += order[i]!.lines!;
    kept.samples = samples;
  }
  const text = kept.header + kept.samples;
  if (kept.series.size > kept.seenSeries) forgetUnseen(kept.series, pass);
  return text;
}

/** Renders collections as the exporter's serializer does, keeping the text that repeats between them. */
export class PrometheusText {
  private readonly metrics = new Map<string, MetricText>();
  private pass = 0;

  /** Metrics and series whose text is kept: what the last rendering had (for tests of the bound). */
  get kept(): { metrics: number; series: number } {
    let series = 0;
    for (const metric of this.metrics.values()) series += metric.series.size;
    return { metrics: this.metrics.size, series };
  }

  render(resourceMetrics: ResourceMetrics): string {
    const pass = ++this.pass;
    let text = '';
    let seenMetrics = 0;
    const scopes = resourceMetrics.scopeMetrics;
    for (let s = 0; s < scopes.length; s++) {
      const metrics = scopes[s]!.metrics;
      for (let m = 0; m < metrics.length; m++) {
        const metric = metrics[m]!;
        const key = metric.descriptor.name;
        let kept = this.metrics.get(key);
        if (kept !== undefined && kept.seen === pass) {
          // A second metric of that name in one collection: rendered, nothing of it kept.
          text += metricText(madeMetric(metric), metric, pass);
          continue;
        }
        if (kept === undefined || !sameMetric(kept, metric)) this.metrics.set(key, kept = madeMetric(metric));
        kept.seen = pass;
        seenMetrics++;
        text += metricText(kept, metric, pass);
      }
    }
    if (this.metrics.size > seenMetrics) forgetUnseen(this.metrics, pass);
    return text === '' ? NO_REGISTERED_METRICS : text;
  }
}
