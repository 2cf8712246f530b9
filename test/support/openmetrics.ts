// Reading an OpenMetrics 1.0 text exposition in tests, strictly: only TYPE, UNIT and HELP
// comments, in that order, once per family; sample names that belong to their family's type;
// exemplars only where OpenMetrics allows them (counter totals, histogram buckets); `# EOF` last.
// Prometheus itself is the real consumer (test/e2e/exemplars.test.ts); this reads every line.
import assert from 'node:assert/strict';
import { numberOf, type Sample } from './renderings.ts';

export interface OpenMetricsExemplar {
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
  /** Seconds, as written; undefined when the exemplar has none. */
  readonly timestamp: number | undefined;
}

export interface OpenMetricsSample extends Sample {
  readonly exemplar: OpenMetricsExemplar | undefined;
}

export interface OpenMetricsFamily {
  readonly type: string;
  readonly unit: string | undefined;
  readonly help: string | undefined;
}

/** The sample name suffixes of each type; `''` is the family's own name. */
const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  unknown: [''],
};

const unescape = (text: string): string => text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** `{name="value",...}` at `text[start]`: the labels, and where they end. */
function labelsAt(text: string, start: number, line: string): { labels: Map<string, string>; end: number } {
  const labels = new Map<string, string>();
  assert.equal(text[start], '{', line);
  if (text[start + 1] === '}') return { labels, end: start + 2 };
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"([,}])/y;
  pair.lastIndex = start + 1;
  for (;;) {
    const match = pair.exec(text);
    assert.ok(match, `a label at ${pair.lastIndex} of: ${line}`);
    assert.ok(!labels.has(match[1]!), `label ${match[1]} once: ${line}`);
    labels.set(match[1]!, unescape(match[2]!));
    if (match[3] === '}') return { labels, end: pair.lastIndex };
  }
}

function exemplarOf(text: string, line: string): OpenMetricsExemplar {
  const { labels, end } = labelsAt(text, 0, line);
  const [value = '', timestamp, ...more] = text.slice(end + 1).split(' ');
  assert.ok(text[end] === ' ' && more.length === 0, `exemplar value and timestamp: ${line}`);
  const size = [...labels].reduce((sum, [name, v]) => sum + [...name].length + [...v].length, 0);
  assert.ok(size <= 128, `exemplar labels of at most 128 characters: ${line}`);
  return { labels, value: numberOf(value), timestamp: timestamp === undefined ? undefined : numberOf(timestamp) };
}

/** The families and samples of an exposition; throws an AssertionError on the first line that breaks the format. */
export function parseOpenMetrics(text: string): { families: Map<string, OpenMetricsFamily>; samples: OpenMetricsSample[] } {
  assert.ok(text.endsWith('# EOF\n'), 'ends with # EOF and a newline');
  const lines = text.slice(0, -'# EOF\n'.length).split('\n');
  assert.equal(lines.pop(), '', 'every line ends with a newline');
  const families = new Map<string, OpenMetricsFamily>();
  const samples: OpenMetricsSample[] = [];
  let current: { name: string; type: string; unit?: string; help?: string; sampled: boolean } | undefined;
  for (const line of lines) {
    const meta = /^# (TYPE|UNIT|HELP) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = '', value = ''] = meta;
      if (kind === 'TYPE') {
        assert.ok(!families.has(name), `family ${name} once`);
        assert.ok(value in SUFFIXES, `a type this runner may write: ${line}`);
        current = { name, type: value, sampled: false };
        families.set(name, { type: value, unit: undefined, help: undefined });
        continue;
      }
      assert.ok(current?.name === name && !current.sampled, `${kind} right after the TYPE of its family: ${line}`);
      if (kind === 'UNIT') {
        assert.ok(current.help === undefined && current.unit === undefined, `UNIT before HELP, once: ${line}`);
        assert.ok(name.endsWith(`_${value}`), `the unit ends the name: ${line}`);
        current.unit = value;
      } else {
        assert.equal(current.help, undefined, `HELP once: ${line}`);
        assert.doesNotMatch(value, /(^|[^\\])(\\\\)*"/, `double quotes escaped in HELP: ${line}`);
        current.help = unescape(value);
      }
      families.set(name, { type: current.type, unit: current.unit, help: current.help });
      continue;
    }
    assert.ok(!line.startsWith('#'), `no comments but TYPE, UNIT, HELP and EOF: ${line}`);
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? '';
    assert.ok(current !== undefined, `a sample after its family's TYPE: ${line}`);
    const suffix = SUFFIXES[current.type]!.find((s) => name === `${current!.name}${s}`);
    assert.ok(suffix !== undefined, `${name} is a sample of the ${current.type} ${current.name}`);
    current.sampled = true;
    const { labels, end } = line[name.length] === '{' ? labelsAt(line, name.length, line) : { labels: new Map<string, string>(), end: name.length };
    const [sample = '', exemplar] = line.slice(end).split(' # ');
    const value = /^ (\S+)$/.exec(sample);
    assert.ok(value !== null, `one value and no timestamp: ${line}`);
    if (exemplar !== undefined) assert.ok(suffix === '_bucket' || suffix === '_total', `an exemplar only on a bucket or a total: ${line}`);
    samples.push({ name, labels, value: numberOf(value[1]!), exemplar: exemplar === undefined ? undefined : exemplarOf(exemplar, line) });
  }
  return { families, samples };
}

/** A sample's series exactly as Prometheus 2 stores it: the name and every label value as written. */
export function exactSeries(sample: Sample): string {
  const labels = [...sample.labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${sample.name}${JSON.stringify(labels)}`;
}
