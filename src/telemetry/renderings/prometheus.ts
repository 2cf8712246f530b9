// The Prometheus text exposition (format 0.0.4), byte for byte what the exporter's
// PrometheusSerializer('', false, undefined, true, true) writes: plain names, no otel_scope_*
// labels and no target_info, as Prometheus users expect. Its own serializer rebuilds every line
// from scratch on each scrape (sanitizing and escaping every label of every series, HELP and TYPE
// of every metric); most of a scrape's text is the same from one scrape to the next, so this one
// keeps, per metric, its HELP/TYPE lines and, per series, the `name{labels} ` text before the
// value and the series' lines of the last rendering, which it reuses while the series' numbers
// are the same (and a metric's samples together while none of its series changed). That costs
// about 450 bytes a series for as long as the series exists (the SDK keeps about 400 of its own
// per series), and for a gauge the attributes object of the point its text was made for. test/unit/telemetry/prometheus-text.test.ts renders the same collections with both
// and compares the bytes.
//
// What is kept is bounded by what the SDK itself keeps: a series is found by its attributes
// (kept-series.ts: the object, or for gauges, whose points carry new objects on each collection,
// equal attributes at the same place), and each rendering drops the series and metrics the
// collection it renders no longer has.
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { DataPointType, type Histogram, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import {
  familyType,
  forgetUnseen,
  type KeptMetric,
  keptMetric,
  KeptTexts,
  metricFor,
  type SamplesFormat,
  samplesText,
  type SeriesText,
  seriesText,
  valueText,
} from './kept-series.ts';

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

function header(metric: MetricData, name: string): string {
  const { description, unit } = metric.descriptor;
  const unitLine = unit ? `# UNIT ${name} ${escapeString(unit)}\n` : '';
  return `# HELP ${name} ${escapeString(description || 'description missing')}\n${unitLine}# TYPE ${name} ${familyType(metric)}\n`;
}

/** The kept text of one metric. */
interface MetricText extends KeptMetric {
  /** undefined: a name the exporter leaves out. */
  readonly name: string | undefined;
  readonly header: string;
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

function madeMetric(metric: MetricData): MetricText {
  const name = metricName(metric);
  return { ...keptMetric(metric), name, header: name === undefined ? '' : header(metric, name) };
}

/** The exporter's samples: the `name{labels} ` prefixes, and a histogram's lines in its order: _count, _sum (when the SDK kept one), then the cumulative buckets. */
const PROMETHEUS: SamplesFormat = {
  made(kept, name, attributes, histogram) {
    const labels = labelText(attributes);
    if (histogram === undefined) return seriesText(kept, attributes, prefix(name, labels));
    const comma = labels === '' ? '' : ',';
    return seriesText(kept, attributes, prefix(`${name}_count`, labels), {
      of: histogram,
      sum: prefix(`${name}_sum`, labels),
      buckets: bucketBounds(histogram).map((le) => `${name}_bucket{${labels}${comma}le="${le}"} `),
    });
  },
  extras: () => undefined,
  histogramLines(series: SeriesText, histogram: Histogram): string {
    let lines = `${series.first}${valueText(histogram.count)}\n`;
    if (histogram.sum !== undefined && histogram.sum !== null) lines += `${series.sum}${valueText(histogram.sum)}\n`;
    const counts = histogram.buckets.counts;
    let cumulative = 0;
    for (let b = 0; b < series.buckets.length; b++) {
      cumulative += counts[b]!;
      lines += `${series.buckets[b]!}${valueText(cumulative)}\n`;
    }
    return lines;
  },
};

/** The text of one metric: HELP, UNIT and TYPE, then its samples as the exporter orders them. */
function metricText(kept: MetricText, metric: MetricData, pass: number): string {
  return kept.name === undefined ? '' : kept.header + samplesText(kept, metric, kept.name, pass, PROMETHEUS);
}

/** Renders collections as the exporter's serializer does, keeping the text that repeats between them. */
export class PrometheusText extends KeptTexts<MetricText> {
  render(resourceMetrics: ResourceMetrics): string {
    const pass = ++this.pass;
    let text = '';
    let seenMetrics = 0;
    const scopes = resourceMetrics.scopeMetrics;
    for (let s = 0; s < scopes.length; s++) {
      const metrics = scopes[s]!.metrics;
      for (let m = 0; m < metrics.length; m++) {
        const metric = metrics[m]!;
        // A second metric of one name in a collection: rendered, nothing of it kept.
        const kept = metricFor(this.metrics, metric, pass, madeMetric);
        if (kept.seen === pass) seenMetrics++;
        text += metricText(kept, metric, pass);
        this.rendered(kept);
      }
    }
    if (this.metrics.size > seenMetrics) forgetUnseen(this.metrics, pass);
    return text === '' ? NO_REGISTERED_METRICS : text;
  }
}
