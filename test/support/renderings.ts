// Reading the three renderings of a scrape (Prometheus text, line protocol,
// the /debug/vars document) back into samples, and checking that they agree.
import assert from 'node:assert/strict';
import type { VarsDocument } from '../../src/telemetry/renderings/json.ts';
import { type Scrape, Telemetry } from '../../src/telemetry/telemetry.ts';

/** A fresh meter, the scrape of whatever `record` makes with it, and the Telemetry shut down. */
export async function scrapeOf(record: (telemetry: Telemetry) => void): Promise<Scrape> {
  const telemetry = new Telemetry();
  try {
    record(telemetry);
    return await telemetry.collect();
  } finally {
    await telemetry.shutdown();
  }
}

export interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

export function numberOf(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  assert.ok(text !== '' && !Number.isNaN(value), `not a number: ${JSON.stringify(text)}`);
  return value;
}

/** The samples of a Prometheus text exposition. */
export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string>; help: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const unescape = (s: string): string => s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : types).set(meta[2]!, meta[1] === 'HELP' ? unescape(meta[3]!) : meta[3]!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    assert.ok(name, `a sample line: ${line}`);
    const labels = new Map<string, string>();
    let rest = line.slice(name.length);
    if (rest.startsWith('{')) {
      const pair = /^[{,]([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/;
      for (let match = pair.exec(rest); match; match = pair.exec(rest)) {
        labels.set(match[1]!, unescape(match[2]!));
        rest = rest.slice(match[0].length);
      }
      assert.ok(rest.startsWith('}'), `labels end: ${line}`);
      rest = rest.slice(1);
    }
    assert.match(rest, /^ \S+$/, line);
    samples.push({ name, labels, value: numberOf(rest.slice(1)) });
  }
  return { samples, types, help };
}

/**
 * Splits at the separator where it is not escaped, the way Telegraf's parser
 * reads measurement, tags and field keys: a backslash escapes the character
 * after it, except a second backslash, which starts over.
 */
export function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length && text[i + 1] !== '\\') {
      i++;
      continue;
    }
    if (text[i] === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** What Telegraf's parser makes of an escaped tag key or value. */
export const unescapeTag = (text: string): string => text.replace(/\\([, ="])/g, '$1');

export interface InfluxPoint {
  readonly measurement: string;
  readonly tags: ReadonlyMap<string, string>;
  readonly fields: ReadonlyMap<string, number>;
  readonly timestamp: string;
}

export function parseInflux(text: string): InfluxPoint[] {
  assert.ok(text === '' || text.endsWith('\n'), 'line protocol ends with a newline');
  return text.split('\n').filter((line) => line !== '').map((line) => {
    const [head = '', fieldSet = '', timestamp = '', ...extra] = splitUnescaped(line, ' ');
    assert.deepEqual(extra, [], `three parts: ${line}`);
    const [measurement = '', ...tagPairs] = splitUnescaped(head, ',');
    const tags = new Map<string, string>();
    for (const pair of tagPairs) {
      const [key, value, ...more] = splitUnescaped(pair, '=');
      assert.ok(key && value && more.length === 0, `tag ${pair} in ${line}`);
      tags.set(unescapeTag(key), unescapeTag(value));
    }
    const fields = new Map<string, number>();
    for (const pair of splitUnescaped(fieldSet, ',')) {
      const [key, value, ...more] = splitUnescaped(pair, '=');
      assert.ok(key && value && more.length === 0, `field ${pair} in ${line}`);
      assert.match(value, /^-?\d+(\.\d+)?$/, `a float field written as Telegraf writes one: ${line}`);
      fields.set(unescapeTag(key), Number(value));
    }
    assert.match(timestamp, /^\d{19}$/, `nanoseconds: ${line}`);
    return { measurement: unescapeTag(measurement), tags, fields, timestamp };
  });
}

/** The samples of a /debug/vars document, named and labelled as /metrics names them. */
export function varsSamples(doc: VarsDocument): Sample[] {
  const samples: Sample[] = [];
  const value = (v: number | string): number => (typeof v === 'number' ? v : numberOf(v));
  for (const metric of doc.metrics) {
    for (const series of metric.series) {
      const labels = new Map(Object.entries(series.labels));
      if ('value' in series) {
        samples.push({ name: metric.name, labels, value: value(series.value) });
        continue;
      }
      samples.push({ name: `${metric.name}_count`, labels, value: series.count });
      if (series.sum !== null) samples.push({ name: `${metric.name}_sum`, labels, value: value(series.sum) });
      for (const bucket of series.buckets) {
        samples.push({ name: `${metric.name}_bucket`, labels: new Map([...labels, ['le', bucket.le]]), value: bucket.count });
      }
    }
  }
  return samples;
}

/**
 * A sample's identity as InfluxDB would store it: empty labels are no tag,
 * control characters read as their escapes, trailing backslashes are cut,
 * and a bucket bound is compared as a number.
 */
export function seriesKey(name: string, labels: ReadonlyMap<string, string>): string {
  const stored = [...labels].map(([key, value]) => {
    const text = key === 'le' ? String(numberOf(value)) : value.replace(/[\t\n\f\r]/g, (c) => JSON.stringify(c).slice(1, -1)).replace(/\\+$/, '');
    return [key, text] as const;
  }).filter(([, value]) => value !== '').sort(([a], [b]) => (a < b ? -1 : 1));
  return `${name}${JSON.stringify(stored)}`;
}

export function keyed(samples: readonly Sample[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const sample of samples) {
    const key = seriesKey(sample.name, sample.labels);
    assert.ok(!result.has(key), `one sample for ${key}`);
    result.set(key, sample.value);
  }
  return result;
}

export function influxSamples(points: readonly InfluxPoint[]): Sample[] {
  return points.flatMap((point) => {
    assert.equal(point.measurement, 'prometheus');
    return [...point.fields].map(([name, value]) => ({ name, labels: point.tags, value }));
  });
}

/** Every sample of the exposition is in the other rendering with the same value (NaN and infinities only in JSON); nothing more is. */
export function assertSameSamples(prometheus: ReadonlyMap<string, number>, other: ReadonlyMap<string, number>, what: string, finiteOnly: boolean): void {
  const expected = [...prometheus].filter(([, value]) => !finiteOnly || Number.isFinite(value));
  for (const [key, value] of expected) {
    assert.ok(other.has(key), `${key} missing from ${what}`);
    assert.ok(Object.is(other.get(key), value), `${key}: ${value} in /metrics, ${other.get(key)} in ${what}`);
  }
  assert.equal(other.size, expected.length, `${what} has no samples beyond those of /metrics`);
}

export function assertAgree(prometheusText: string, influxText: string, vars: VarsDocument): void {
  const prometheus = parsePrometheus(prometheusText);
  const fromPrometheus = keyed(prometheus.samples);
  assert.ok(fromPrometheus.size > 0, 'samples to compare');
  const points = parseInflux(influxText);
  assertSameSamples(fromPrometheus, keyed(influxSamples(points)), 'the line protocol', true);
  assertSameSamples(fromPrometheus, keyed(varsSamples(vars)), '/debug/vars', false);
  assert.deepEqual(new Set(points.map((point) => point.timestamp)), new Set([`${Date.parse(vars.time)}000000`]), "one timestamp, the collection's");
  assert.deepEqual(vars.metrics.map((metric) => metric.name), [...prometheus.types.keys()], 'the same metrics in the same order');
  for (const metric of vars.metrics) {
    assert.equal(metric.type, prometheus.types.get(metric.name), `type of ${metric.name}`);
    assert.equal(metric.help || 'description missing', prometheus.help.get(metric.name), `help of ${metric.name}`);
  }
}
