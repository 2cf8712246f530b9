// InfluxDB line protocol in the shape Telegraf's prometheus input writes with
// metric_version = 2, so that reading this through [[inputs.http]] with
// data_format = "influx" stores the same points as scraping /metrics with
// [[inputs.prometheus]]:
//
//   prometheus,runner=local ci_runner_jobs_total=2 1767225600123000000
//   prometheus,runner=local ci_runner_job_duration_seconds_count=2,ci_runner_job_duration_seconds_sum=3.5 1767225600123000000
//   prometheus,le=30,runner=local ci_runner_job_duration_seconds_bucket=2 1767225600123000000
//
// Measurement `prometheus`; labels as tags, sorted by key; one float field
// named after the metric as /metrics names it (counters with `_total`);
// a histogram series as one line with `<name>_count` and `<name>_sum`, then
// a line per bucket with `<name>_bucket` and an `le` tag. Escaping, number
// formats and what cannot be written follow Telegraf's own influx serializer.
import type { Family, Labels } from './families.ts';

/** Digits, without sign, and the decimal exponent of the first one: 1234.5 is {digits: '12345', exponent: 3}. */
function shortestDigits(value: number): { digits: string; exponent: number } {
  // Without an argument toExponential() gives the fewest digits that read back as the value.
  const [mantissa = '0', exponent = '0'] = Math.abs(value).toExponential().split('e');
  return { digits: mantissa.replace('.', ''), exponent: Number(exponent) };
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64), Telegraf's float fields: shortest digits, never an exponent. */
export function formatFloatField(value: number): string {
  const { digits, exponent } = shortestDigits(value);
  const sign = value < 0 ? '-' : '';
  if (exponent >= digits.length - 1) return sign + digits + '0'.repeat(exponent - digits.length + 1);
  if (exponent >= 0) return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
}

/** Go's strconv.FormatFloat(v, 'g', -1, 64), how Telegraf writes a bucket bound into `le`: 0.5, 3600, 1.6777216e+07, +Inf. */
export function formatBound(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  const { digits, exponent } = shortestDigits(value);
  if (exponent >= -4 && exponent < 6) return formatFloatField(value);
  const sign = value < 0 ? '-' : '';
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const magnitude = String(Math.abs(exponent)).padStart(2, '0');
  return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${magnitude}`;
}

const CONTROL_ESCAPES: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

/**
 * A tag key, tag value or field key: tab, newline, form feed and carriage
 * return become `\t` `\n` `\f` `\r` (line protocol cannot hold them, and this
 * is what Telegraf stores for them too); comma, space and equals sign get a
 * backslash. Other backslashes stay as they are.
 */
export function escapeKey(text: string): string {
  return text.replace(/[\t\n\f\r ,=]/g, (c) => CONTROL_ESCAPES[c] ?? `\\${c}`);
}

/** A tag value (or key) as written, or undefined for one line protocol cannot hold: empty, or empty once trailing backslashes are cut. */
export function escapeTag(text: string): string | undefined {
  // A trailing backslash would escape the separator after it; Telegraf cuts it off.
  const escaped = escapeKey(text).replace(/\\+$/, '');
  return escaped === '' ? undefined : escaped;
}

/** `,key=value` pairs sorted by key (as Telegraf orders tags); a label that cannot be a tag is left out. */
function tagSet(labels: Labels, le?: number): string {
  const tags = new Map<string, string>();
  for (const [name, value] of labels) tags.set(name, value);
  if (le !== undefined) tags.set('le', formatBound(le));
  let result = '';
  for (const name of [...tags.keys()].sort()) {
    const key = escapeTag(name);
    const value = escapeTag(tags.get(name)!);
    if (key !== undefined && value !== undefined) result += `,${key}=${value}`;
  }
  return result;
}

/** `key=value` pairs; NaN and infinite values are left out (Telegraf drops them), so this may be ''. */
function fieldSet(fields: readonly (readonly [string, number | undefined])[]): string {
  return fields
    .filter((field): field is readonly [string, number] => field[1] !== undefined && Number.isFinite(field[1]))
    .map(([key, value]) => `${escapeKey(key)}=${formatFloatField(value)}`)
    .join(',');
}

/** Every series of the collection as line protocol, all with the collection's time (Unix milliseconds). */
export function renderInflux(collection: readonly Family[], timeMs: number): string {
  const timestamp = `${Math.round(timeMs)}000000`;
  const lines: string[] = [];
  const line = (labels: Labels, fields: readonly (readonly [string, number | undefined])[], le?: number): void => {
    const set = fieldSet(fields);
    if (set !== '') lines.push(`prometheus${tagSet(labels, le)} ${set} ${timestamp}\n`);
  };
  for (const family of collection) {
    for (const series of family.series) {
      if (series.kind === 'value') {
        line(series.labels, [[family.name, series.value]]);
        continue;
      }
      line(series.labels, [[`${family.name}_count`, series.count], [`${family.name}_sum`, series.sum]]);
      for (const bucket of series.buckets) line(series.labels, [[`${family.name}_bucket`, bucket.count]], bucket.le);
    }
  }
  return lines.join('');
}
