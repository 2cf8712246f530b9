// The JSON document of /debug/vars: every metric with its metadata and
// series, for scripts (in the spirit of Go's expvar). Names, label names and
// bucket bounds are exactly those of /metrics; the shape is in docs/metrics.md.
import { type Family, type Labels, prometheusBound } from './families.ts';

/** A sample value: a number, or "NaN", "+Inf", "-Inf", which JSON numbers cannot hold. */
export type JsonNumber = number | 'NaN' | '+Inf' | '-Inf';

export interface VarsBucket {
  /** The upper bound as the `le` label of /metrics writes it: "0.5", "3600", "+Inf". */
  readonly le: string;
  /** Cumulative, as in /metrics. */
  readonly count: number;
}

export interface VarsValueSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: JsonNumber;
}

export interface VarsHistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly count: number;
  /** null when the SDK kept no sum. */
  readonly sum: JsonNumber | null;
  readonly buckets: readonly VarsBucket[];
}

export interface VarsMetric {
  readonly name: string;
  readonly type: Family['type'];
  readonly help: string;
  readonly unit: string;
  readonly series: readonly (VarsValueSeries | VarsHistogramSeries)[];
}

export interface VarsDocument {
  /** When the collection was made: RFC 3339, UTC, milliseconds. */
  readonly time: string;
  readonly metrics: readonly VarsMetric[];
}

function jsonNumber(value: number): JsonNumber {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

function labelObject(labels: Labels): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of labels) result[name] = value;
  return result;
}

export function varsDocument(collection: readonly Family[], timeMs: number): VarsDocument {
  return {
    time: new Date(timeMs).toISOString(),
    metrics: collection.map((family) => ({
      name: family.name,
      type: family.type,
      help: family.help,
      unit: family.unit,
      series: family.series.map((series) =>
        series.kind === 'value' ? { labels: labelObject(series.labels), value: jsonNumber(series.value) } : {
          labels: labelObject(series.labels),
          count: series.count,
          sum: series.sum === undefined ? null : jsonNumber(series.sum),
          buckets: series.buckets.map((bucket) => ({ le: prometheusBound(bucket.le), count: bucket.count })),
        }
      ),
    })),
  };
}

/** The document as sent: indented two spaces, ending with a newline. */
export function renderJson(collection: readonly Family[], timeMs: number): string {
  return JSON.stringify(varsDocument(collection, timeMs), null, 2) + '\n';
}
