// The OpenMetrics 1.0 text exposition, with the exemplars of the histogram buckets. Prometheus
// asks for it before the text format, so every Prometheus scrape reads this rendering: it must
// give Prometheus exactly the series of the text format (same sample names, labels and values),
// which is why the families come from families.ts, the mirror of the text format's naming.
//
// What differs from the text format, by the specification: a counter family is named without
// `_total` (its sample keeps it), the type of a family with no samples it can carry is `unknown`
// rather than `untyped`, `# UNIT` is given only where the name ends with the unit (Prometheus
// refuses the whole scrape otherwise), HELP escapes double quotes too, the exposition ends with
// `# EOF`, and there are no comments. Bucket bounds (`le`) are written as the text format writes
// them (`30`, not the specification's canonical `30.0`): Prometheus 2 stores `le` as written, and
// a different spelling would make every bucket a new series the day a scrape switches format.
import type { Exemplar } from '../exemplars.ts';
import { type Family, type Labels, prometheusBound } from './families.ts';

/** The text format's HELP for an instrument without a description (the exporter's serializer writes it). */
const NO_DESCRIPTION = 'description missing';

/** The specification's limit on an exemplar's label names and values together, in code points. */
export const MAX_EXEMPLAR_LABEL_CHARACTERS = 128;

/** The escapes of label values and HELP: backslash, newline and double quote. */
function escape(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** A value as the text format writes it (the exporter's serializer): JavaScript's shortest form, +Inf, -Inf, NaN. */
function number(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return `${value}`;
}

/** `{a="x",b="y"}`, or '' for no labels. */
export function labelSet(labels: Labels): string {
  return labels.length === 0 ? '' : `{${labels.map(([name, value]) => `${name}="${escape(value)}"`).join(',')}}`;
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** ` # {labels} value timestamp` after a sample; '' for none, or one whose labels are over the limit. */
export function exemplarText(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return '';
  const labels = Object.entries(exemplar.labels);
  const size = labels.reduce((sum, [name, value]) => sum + codePoints(name) + codePoints(value), 0);
  if (size > MAX_EXEMPLAR_LABEL_CHARACTERS) return '';
  // OpenMetrics timestamps are in seconds; milliseconds are what Prometheus keeps.
  return ` # ${labelSet(labels)} ${number(exemplar.value)} ${exemplar.timeMs / 1000}`;
}

/** OpenMetrics' type of a family: `untyped` is `unknown` there. */
export type OpenMetricsType = 'counter' | 'gauge' | 'histogram' | 'unknown';

/** A family's TYPE, UNIT and HELP lines, of its `help` and `unit` (the instrument's description and unit). */
export function metadata({ help, unit }: { readonly help: string; readonly unit: string }, name: string, type: OpenMetricsType): string {
  // A unit that is not the name's suffix makes Prometheus refuse the scrape: left out then.
  const unitLine = /^[a-zA-Z0-9_:]+$/.test(unit) && name.endsWith(`_${unit}`) ? `# UNIT ${name} ${unit}\n` : '';
  return `# TYPE ${name} ${type}\n${unitLine}# HELP ${name} ${escape(help || NO_DESCRIPTION)}\n`;
}

/** A counter family's name: without `_total`, unless a family of another type has that name (see renderOpenMetrics). */
export function counterFamilyName(name: string, otherNames: ReadonlySet<string>): { readonly name: string; readonly type: OpenMetricsType } {
  const plain = name.replace(/_total$/, '');
  return otherNames.has(plain) ? { name, type: 'unknown' } : { name: plain, type: 'counter' };
}

function samples(family: Family): string {
  let text = '';
  for (const series of family.series) {
    if (series.kind === 'value') {
      text += `${family.name}${labelSet(series.labels)} ${number(series.value)}\n`;
      continue;
    }
    for (const bucket of series.buckets) {
      const labels = labelSet([...series.labels, ['le', prometheusBound(bucket.le)]]);
      text += `${family.name}_bucket${labels} ${number(bucket.count)}${exemplarText(bucket.exemplar)}\n`;
    }
    text += `${family.name}_count${labelSet(series.labels)} ${number(series.count)}\n`;
    if (series.sum !== undefined) text += `${family.name}_sum${labelSet(series.labels)} ${number(series.sum)}\n`;
  }
  return text;
}

/**
 * The exposition, `application/openmetrics-text; version=1.0.0`. A counter
 * `X_total` is the family `X`; where another family already has that name
 * (GitLab Runner's names have the counter gitlab_runner_jobs_total beside the
 * gauge gitlab_runner_jobs) there would be two families of one name, which
 * OpenMetrics forbids, so that counter is the `unknown` family `X_total`
 * instead: the same sample, and a valid exposition.
 */
export function renderOpenMetrics(collection: readonly Family[]): string {
  const otherNames = new Set(collection.filter((family) => family.type !== 'counter').map((family) => family.name));
  let text = '';
  for (const family of collection) {
    if (family.type === 'counter') {
      const { name, type } = counterFamilyName(family.name, otherNames);
      text += metadata(family, name, type) + samples(family);
      continue;
    }
    text += metadata(family, family.name, family.type === 'untyped' ? 'unknown' : family.type) + samples(family);
  }
  return `${text}# EOF\n`;
}
