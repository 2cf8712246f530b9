// The OpenMetrics exposition that every Prometheus scrape reads, byte for byte what
// renderOpenMetrics (openmetrics.ts) writes of the collection's families, made the way
// prometheus.ts makes the text format: it keeps, per metric, its TYPE/UNIT/HELP lines and, per
// series, the text before each sample's value and the series' lines of the last rendering,
// reused while the series' numbers and exemplars are the same (and a metric's samples together
// while none of its series changed). renderOpenMetrics builds every family, label list and line
// anew on each scrape. test/unit/telemetry/openmetrics-text.test.ts renders the same collections
// with both and compares the bytes.
//
// What is kept is bounded as in prometheus.ts: each rendering drops the series and metrics the
// collection it renders no longer has; kept-series.ts does the keeping for both.
import type { MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { type BucketExemplars, exemplarsOf } from '../exemplars.ts';
import { familyName, type Labels, labelsOf, prometheusBound } from './families.ts';
import {
  familyType,
  forgetUnseen,
  type KeptMetric,
  keptMetric,
  KeptTexts,
  metricFor,
  type SamplesFormat,
  samplesText,
  seriesText,
  valueText,
} from './kept-series.ts';
import { counterFamilyName, exemplarText, labelSet, metadata, type OpenMetricsType } from './openmetrics.ts';

/** The kept text of one metric. */
interface MetricText extends KeptMetric {
  /** The samples' name (a counter's with `_total`); undefined: a metric the text format leaves out. */
  readonly name: string | undefined;
  /** A counter's family name without `_total`, as renderOpenMetrics takes it; '' for the others. */
  readonly plainName: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'untyped';
  /** TYPE, UNIT and HELP, and whether they were made for a counter that is an `unknown` family (a name clash). */
  header: string;
  headerClashes: boolean | undefined;
}

function madeMetric(metric: MetricData): MetricText {
  const name = familyName(metric);
  const type = familyType(metric);
  const plainName = type === 'counter' && name !== undefined ? name.replace(/_total$/, '') : '';
  return { ...keptMetric(metric), name, plainName, type, header: '', headerClashes: undefined };
}

/** The metric's TYPE, UNIT and HELP; a counter whose family name another family has is the `unknown` family of its sample name. */
function headerOf(kept: MetricText, name: string, otherNames: ReadonlySet<string>): string {
  const clashes = kept.type === 'counter' && otherNames.has(kept.plainName);
  if (kept.headerClashes !== clashes) {
    const help = { help: kept.description, unit: kept.unit };
    let family: { readonly name: string; readonly type: OpenMetricsType } = { name, type: kept.type === 'untyped' ? 'unknown' : kept.type };
    if (kept.type === 'counter') family = counterFamilyName(name, otherNames);
    kept.header = metadata(help, family.name, family.type);
    kept.headerClashes = clashes;
  }
  return kept.header;
}

/** The `le` values of a histogram's buckets as families.ts takes them: one per count, the count past the last bound +Inf, and nothing after a +Inf. */
function bucketBounds(boundaries: readonly number[], counts: readonly number[]): number[] {
  const bounds: number[] = [];
  for (let index = 0; index < counts.length; index++) {
    const bound = boundaries[index];
    if (bound === undefined && bounds.at(-1) === Infinity) break;
    bounds.push(bound ?? Infinity);
  }
  return bounds;
}

/** renderOpenMetrics' samples: label sets as it writes them, and a histogram's lines in its order: the buckets with their exemplars, _count, then _sum. */
const OPENMETRICS: SamplesFormat = {
  made(kept, name, attributes, histogram) {
    const labels: Labels = labelsOf(attributes);
    const labelText = labelSet(labels);
    if (histogram === undefined) return seriesText(kept, attributes, `${name}${labelText} `);
    return seriesText(kept, attributes, `${name}_count${labelText} `, {
      of: histogram,
      sum: `${name}_sum${labelText} `,
      buckets: bucketBounds(histogram.buckets.boundaries, histogram.buckets.counts).map((le) =>
        `${name}_bucket${labelSet([...labels, ['le', prometheusBound(le)]])} `
      ),
    });
  },
  extras: (point) => exemplarsOf(point),
  histogramLines(series, histogram, extras) {
    const exemplars = extras as BucketExemplars | undefined;
    const counts = histogram.buckets.counts;
    let lines = '';
    let cumulative = 0;
    for (let b = 0; b < series.buckets.length; b++) {
      cumulative += counts[b]!;
      lines += `${series.buckets[b]!}${valueText(cumulative)}${exemplarText(exemplars?.[b])}\n`;
    }
    lines += `${series.first}${valueText(histogram.count)}\n`;
    if (histogram.sum !== undefined) lines += `${series.sum}${valueText(histogram.sum)}\n`;
    return lines;
  },
};

/** Renders collections as renderOpenMetrics does, keeping the text that repeats between them. */
export class OpenMetricsText extends KeptTexts<MetricText> {
  /** The collection's metrics' kept texts in its order (one of a name already seen: made for this rendering alone). */
  private readonly inOrder: MetricText[] = [];
  /** The names of the families that are not counters, made again when the metrics change. */
  private otherNames = new Set<string>();

  render(resourceMetrics: ResourceMetrics): string {
    const pass = ++this.pass;
    const inOrder = this.inOrder;
    let count = 0;
    let changed = false;
    const scopes = resourceMetrics.scopeMetrics;
    for (let s = 0; s < scopes.length; s++) {
      const metrics = scopes[s]!.metrics;
      for (let m = 0; m < metrics.length; m++) {
        // A second metric of one name in a collection: rendered, nothing of it kept.
        const kept = metricFor(this.metrics, metrics[m]!, pass, madeMetric);
        // A metric made anew, one of a name seen before, or one in another place: the family names may have changed.
        if (inOrder[count] !== kept || kept.seen !== pass) changed = true;
        inOrder[count++] = kept;
      }
    }
    if (inOrder.length !== count) changed = true;
    inOrder.length = count;
    if (changed) {
      this.otherNames = new Set();
      for (const kept of inOrder) if (kept.name !== undefined && kept.type !== 'counter') this.otherNames.add(kept.name);
    }
    let text = '';
    let i = 0;
    for (let s = 0; s < scopes.length; s++) {
      const metrics = scopes[s]!.metrics;
      for (let m = 0; m < metrics.length; m++) {
        const kept = inOrder[i++]!;
        if (kept.name === undefined) continue;
        text += headerOf(kept, kept.name, this.otherNames) + samplesText(kept, metrics[m]!, kept.name, pass, OPENMETRICS);
        this.rendered(kept);
      }
    }
    if (this.metrics.size > count || changed) forgetUnseen(this.metrics, pass);
    return `${text}# EOF\n`;
  }
}
