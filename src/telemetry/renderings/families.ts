// One collection as metric families named exactly as our Prometheus text
// names them, for the renderings that are not Prometheus text (line protocol,
// JSON). The naming rules mirror the exporter's PrometheusSerializer with
// plain names (no scope labels, no target_info): test/renderings.test.ts
// checks that every sample of /metrics comes out the same here.
import { DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { AttributeValue } from '@opentelemetry/api';
import { type BucketExemplars, type Exemplar, exemplarsOf } from '../exemplars.ts';

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'untyped';

/** Label name and value pairs, in the order /metrics shows them. */
export type Labels = readonly (readonly [name: string, value: string])[];

export interface Bucket {
  /** The inclusive upper bound; Infinity for the last bucket. */
  readonly le: number;
  /** Cumulative: observations at or below `le`. */
  readonly count: number;
  /** The latest traced observation in this bucket (above the previous bound), if one was kept. */
  readonly exemplar?: Exemplar | undefined;
}

export interface ValueSeries {
  readonly kind: 'value';
  readonly labels: Labels;
  readonly value: number;
}

export interface HistogramSeries {
  readonly kind: 'histogram';
  readonly labels: Labels;
  /** Cumulative buckets in ascending order, the last one `le: Infinity`. */
  readonly buckets: readonly Bucket[];
  /** Absent when the SDK kept no sum (instruments that may record negative values). */
  readonly sum: number | undefined;
  readonly count: number;
}

export type Series = ValueSeries | HistogramSeries;

export interface Family {
  /** The name /metrics uses: sanitized, counters with `_total`. */
  readonly name: string;
  readonly type: FamilyType;
  /** The instrument's description, '' when it has none. */
  readonly help: string;
  /** The instrument's unit, '' when it has none. */
  readonly unit: string;
  readonly series: readonly Series[];
}

/** Characters outside [a-zA-Z0-9_] become `_`, then runs of `_` shrink to one. */
export function sanitizeName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
}

/** A label value as text: strings as they are, anything else as JSON, nothing as ''. */
function labelValue(value: AttributeValue | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function labelsOf(attributes: Readonly<Record<string, AttributeValue | undefined>>): Labels {
  return Object.entries(attributes).map(([key, value]) => [sanitizeName(key), labelValue(value)] as const);
}

/** The metric name /metrics uses, or undefined for a name it leaves out. */
export function familyName(metric: MetricData): string | undefined {
  let name = sanitizeName(metric.descriptor.name);
  if (name === '' || name === '_') return undefined;
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic && !name.endsWith('_total')) name += '_total';
  return name;
}

/** The `le` label of /metrics for a bucket bound. */
export function prometheusBound(le: number): string {
  return le === Infinity ? '+Inf' : String(le);
}

function cumulativeBuckets(boundaries: readonly number[], counts: readonly number[], exemplars: BucketExemplars | undefined): Bucket[] {
  const buckets: Bucket[] = [];
  let total = 0;
  for (const [index, count] of counts.entries()) {
    const bound = boundaries[index];
    // Boundaries may or may not end with Infinity; either way one +Inf bucket ends the list.
    if (bound === undefined && buckets.at(-1)?.le === Infinity) break;
    total += count;
    const exemplar = exemplars?.[index];
    buckets.push(exemplar === undefined ? { le: bound ?? Infinity, count: total } : { le: bound ?? Infinity, count: total, exemplar });
  }
  return buckets;
}

function familyOf(metric: MetricData, name: string): Family {
  const { description, unit } = metric.descriptor;
  const base = { name, help: description, unit };
  switch (metric.dataPointType) {
    case DataPointType.SUM:
    case DataPointType.GAUGE:
      return {
        ...base,
        type: metric.dataPointType === DataPointType.SUM && metric.isMonotonic ? 'counter' : 'gauge',
        series: metric.dataPoints.map((point) => ({ kind: 'value', labels: labelsOf(point.attributes), value: point.value })),
      };
    case DataPointType.HISTOGRAM:
      return {
        ...base,
        type: 'histogram',
        series: metric.dataPoints.map((point) => ({
          kind: 'histogram',
          labels: labelsOf(point.attributes),
          buckets: cumulativeBuckets(point.value.buckets.boundaries, point.value.buckets.counts, exemplarsOf(point)),
          sum: point.value.sum,
          count: point.value.count,
        })),
      };
    default:
      // Exponential histograms: /metrics shows their HELP and TYPE untyped, and no samples.
      return { ...base, type: 'untyped', series: [] };
  }
}

/** Every metric of the collection, in the order /metrics shows them. */
export function families(resourceMetrics: ResourceMetrics): Family[] {
  const result: Family[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = familyName(metric);
      if (name !== undefined) result.push(familyOf(metric, name));
    }
  }
  return result;
}
