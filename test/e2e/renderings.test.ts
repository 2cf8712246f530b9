// The three renderings of a scrape: Prometheus text (/metrics), InfluxDB line
// protocol (/metrics?format=influx) and JSON (/debug/vars). In process for
// the exact shapes and escaping, then against the real CLI after a job has
// run, for the agreement of all three.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../src/log/logger.ts';
import { startHttpServer } from '../../src/server/http-server.ts';
import { createRequestListener } from '../../src/server/routes.ts';
import { prefersLineProtocol } from '../../src/server/routes/metrics.ts';
import { fixedStatus } from '../support/runner-status.ts';
import { enqueue, waitForResult } from '../../src/sources/local/queue.ts';
import { formatBound, formatFloatField } from '../../src/telemetry/renderings/influx.ts';
import type { VarsDocument } from '../../src/telemetry/renderings/json.ts';
import { type Scrape, Telemetry } from '../../src/telemetry/telemetry.ts';
import { packageRoot } from '../../src/version.ts';
import { startRunner } from '../support/runner-process.ts';
import { hasCommand } from '../support/tools.ts';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

/** A fresh meter, the scrape of whatever `record` makes with it, and the Telemetry shut down. */
async function scrapeOf(record: (telemetry: Telemetry) => void): Promise<Scrape> {
  const telemetry = new Telemetry();
  try {
    record(telemetry);
    return await telemetry.collect();
  } finally {
    await telemetry.shutdown();
  }
}

/** The scrape's line protocol with its one timestamp checked and taken off every line. */
function influxLines(scrape: Scrape): string[] {
  const suffix = ` ${scrape.timeMs}000000`;
  const lines = scrape.influx().split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  for (const line of lines) assert.ok(line.endsWith(suffix), `${line} ends with the scrape's time in ns`);
  return lines.map((line) => line.slice(0, -suffix.length));
}

// --- Parsers the agreement checks read the renderings with ---

interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

function numberOf(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  assert.ok(text !== '' && !Number.isNaN(value), `not a number: ${JSON.stringify(text)}`);
  return value;
}

/** The samples of a Prometheus text exposition. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string>; help: Map<string, string> } {
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
function splitUnescaped(text: string, separator: string): string[] {
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
const unescapeTag = (text: string): string => text.replace(/\\([, ="])/g, '$1');

interface InfluxPoint {
  readonly measurement: string;
  readonly tags: ReadonlyMap<string, string>;
  readonly fields: ReadonlyMap<string, number>;
  readonly timestamp: string;
}

function parseInflux(text: string): InfluxPoint[] {
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
function varsSamples(doc: VarsDocument): Sample[] {
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
function seriesKey(name: string, labels: ReadonlyMap<string, string>): string {
  const stored = [...labels].map(([key, value]) => {
    const text = key === 'le' ? String(numberOf(value)) : value.replace(/[\t\n\f\r]/g, (c) => JSON.stringify(c).slice(1, -1)).replace(/\\+$/, '');
    return [key, text] as const;
  }).filter(([, value]) => value !== '').sort(([a], [b]) => (a < b ? -1 : 1));
  return `${name}${JSON.stringify(stored)}`;
}

function keyed(samples: readonly Sample[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const sample of samples) {
    const key = seriesKey(sample.name, sample.labels);
    assert.ok(!result.has(key), `one sample for ${key}`);
    result.set(key, sample.value);
  }
  return result;
}

function influxSamples(points: readonly InfluxPoint[]): Sample[] {
  return points.flatMap((point) => {
    assert.equal(point.measurement, 'prometheus');
    return [...point.fields].map(([name, value]) => ({ name, labels: point.tags, value }));
  });
}

/** Every sample of the exposition is in the other rendering with the same value (NaN and infinities only in JSON); nothing more is. */
function assertSameSamples(prometheus: ReadonlyMap<string, number>, other: ReadonlyMap<string, number>, what: string, finiteOnly: boolean): void {
  const expected = [...prometheus].filter(([, value]) => !finiteOnly || Number.isFinite(value));
  for (const [key, value] of expected) {
    assert.ok(other.has(key), `${key} missing from ${what}`);
    assert.ok(Object.is(other.get(key), value), `${key}: ${value} in /metrics, ${other.get(key)} in ${what}`);
  }
  assert.equal(other.size, expected.length, `${what} has no samples beyond those of /metrics`);
}

function assertAgree(prometheusText: string, influxText: string, vars: VarsDocument): void {
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

// --- Line protocol in process ---

test('line protocol: spaces, commas and equals signs in labels are escaped, quotes and inner backslashes kept', async () => {
  const scrape = await scrapeOf((t) =>
    t.meter.createCounter('ci_runner_test_requests').add(3, {
      runner: 'my runner, the "first"=best',
      path: 'C:\\builds\\x',
      plain: 'ok',
    })
  );
  assert.deepEqual(influxLines(scrape), [
    'prometheus,path=C:\\builds\\x,plain=ok,runner=my\\ runner\\,\\ the\\ "first"\\=best ci_runner_test_requests_total=3',
  ]);
  const [point] = parseInflux(scrape.influx());
  assert.equal(point?.tags.get('runner'), 'my runner, the "first"=best');
  assert.equal(point?.tags.get('path'), 'C:\\builds\\x');
});

test('line protocol: a newline, tab or carriage return in a label is written as \\n, \\t, \\r (what Telegraf stores for it)', async () => {
  const scrape = await scrapeOf((t) => t.meter.createUpDownCounter('ci_runner_test_level').add(-2, { note: 'two\nlines\tand\ra', x: 'y' }));
  assert.deepEqual(influxLines(scrape), ['prometheus,note=two\\nlines\\tand\\ra,x=y ci_runner_test_level=-2']);
  assert.doesNotMatch(scrape.influx().slice(0, -1), /\n/, 'one line');
});

test('line protocol: an empty label is no tag; trailing backslashes are cut; a backslash before an escaped character survives', async () => {
  const scrape = await scrapeOf((t) =>
    t.meter.createCounter('ci_runner_test_requests').add(1, {
      empty: '',
      trailing: 'dir\\\\',
      inner: 'a\\,b',
      only: '\\',
    })
  );
  assert.deepEqual(influxLines(scrape), ['prometheus,inner=a\\\\,b,trailing=dir ci_runner_test_requests_total=1']);
  const [point] = parseInflux(scrape.influx());
  assert.equal(point?.tags.get('inner'), 'a\\,b', 'read back as written to /metrics');
});

test('line protocol: counters keep _total, gauges their name, label names as /metrics sanitizes them', async () => {
  const scrape = await scrapeOf((t) => {
    t.meter.createCounter('ci_runner_test_requests').add(2, { 'http.method': 'GET' });
    t.meter.createCounter('ci_runner_test_errors_total').add(1);
    t.meter.createObservableGauge('ci_runner_test_temperature').addCallback((o) => o.observe(21.5));
    t.meter.createObservableCounter('ci_runner_test_observed').addCallback((o) => o.observe(7));
  });
  assert.deepEqual(influxLines(scrape), [
    'prometheus,http_method=GET ci_runner_test_requests_total=2',
    'prometheus ci_runner_test_errors_total=1',
    'prometheus ci_runner_test_temperature=21.5',
    'prometheus ci_runner_test_observed_total=7',
  ]);
  assert.match(scrape.prometheus(), /^ci_runner_test_requests_total\{http_method="GET"\} 2$/m);
});

test('line protocol: a histogram is a _count and _sum line, then a _bucket line per bound with le as Telegraf writes it', async () => {
  const scrape = await scrapeOf((t) => {
    const histogram = t.meter.createHistogram('ci_runner_test_bytes', { advice: { explicitBucketBoundaries: [0.5, 300, 16 * 1024 * 1024, 1e6] } });
    histogram.record(0.25, { runner: 'r 1' });
    histogram.record(2e7, { runner: 'r 1' });
  });
  assert.deepEqual(influxLines(scrape), [
    'prometheus,runner=r\\ 1 ci_runner_test_bytes_count=2,ci_runner_test_bytes_sum=20000000.25',
    'prometheus,le=0.5,runner=r\\ 1 ci_runner_test_bytes_bucket=1',
    'prometheus,le=300,runner=r\\ 1 ci_runner_test_bytes_bucket=1',
    'prometheus,le=1e+06,runner=r\\ 1 ci_runner_test_bytes_bucket=1',
    'prometheus,le=1.6777216e+07,runner=r\\ 1 ci_runner_test_bytes_bucket=1',
    'prometheus,le=+Inf,runner=r\\ 1 ci_runner_test_bytes_bucket=2',
  ]);
  assert.match(scrape.prometheus(), /^ci_runner_test_bytes_bucket\{runner="r 1",le="16777216"\} 1$/m);
});

test('line protocol: NaN and infinite values are left out, big and small values are written without an exponent', async () => {
  const scrape = await scrapeOf((t) =>
    t.meter.createObservableGauge('ci_runner_test_value').addCallback((o) => {
      o.observe(NaN, { v: 'nan' });
      o.observe(Infinity, { v: 'inf' });
      o.observe(1.5e22, { v: 'big' });
      o.observe(-1e-7, { v: 'small' });
    })
  );
  assert.deepEqual(influxLines(scrape), [
    'prometheus,v=big ci_runner_test_value=15000000000000000000000',
    'prometheus,v=small ci_runner_test_value=-0.0000001',
  ]);
  const values = scrape.vars().metrics[0]?.series.map((series) => ('value' in series ? series.value : undefined));
  assert.deepEqual(values, ['NaN', '+Inf', 1.5e22, -1e-7]);
});

test("number formats: fields as Go's FormatFloat(v, 'f', -1), bucket bounds as FormatFloat(v, 'g', -1)", () => {
  const fields: [number, string][] = [
    [0, '0'],
    [2, '2'],
    [0.1, '0.1'],
    [-3.25, '-3.25'],
    [123456789.125, '123456789.125'],
    [1e21, '1000000000000000000000'],
    [1.5e-7, '0.00000015'],
    [0.000001, '0.000001'],
    [2 ** 53, '9007199254740992'],
  ];
  for (const [value, text] of fields) assert.equal(formatFloatField(value), text, String(value));
  const bounds: [number, string][] = [
    [0.005, '0.005'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [0.5, '0.5'],
    [30, '30'],
    [125000, '125000'],
    [999999, '999999'],
    [1e6, '1e+06'],
    [16777216, '1.6777216e+07'],
    [1.5e300, '1.5e+300'],
    [2.5e-100, '2.5e-100'],
    [-2e6, '-2e+06'],
    [Infinity, '+Inf'],
  ];
  for (const [value, text] of bounds) assert.equal(formatBound(value), text, String(value));
});

/** Why the Go stand-in for Telegraf cannot be built here, or false when it can. */
function telegrafStandInMissing(): false | string {
  const gopath = '/usr/share/gocode/src/github.com';
  if (hasCommand('go', 'version') && existsSync(`${gopath}/influxdata/line-protocol`) && existsSync(`${gopath}/prometheus/common/expfmt`)) return false;
  const reason = 'go with Debian packages golang-github-influxdata-line-protocol-dev and golang-github-prometheus-common-dev not installed';
  process.stderr.write(`SKIP: ${reason}\n`);
  return reason;
}

test("line protocol: byte for byte what Telegraf's parts (expfmt, the metric_version = 2 mapping, the line-protocol encoder) make of /metrics", {
  skip: telegrafStandInMissing(),
  timeout: 120_000,
}, async () => {
  const scrape = await scrapeOf((t) => {
    const labels = {
      runner: 'a b,c=d"e\\f',
      note: 'two\nlines\tand\ra',
      empty: '',
      trailing: 'x\\\\',
      inner: 'a\\,b',
      text: 'ünï cödé ✓',
      eq: '==',
      lead: ' x',
    };
    t.meter.createCounter('ci_runner_test_requests').add(5, labels);
    t.meter.createUpDownCounter('ci_runner_test_level').add(-2.5, { x: 'y' });
    const histogram = t.meter.createHistogram('ci_runner_test_bytes', {
      advice: { explicitBucketBoundaries: [0.00001, 0.0001, 0.5, 999999, 1e6, 16777216, 1e21] },
    });
    histogram.record(2048, labels);
    histogram.record(1.5e22, labels);
    histogram.record(0.1 + 0.2, { runner: 'z' });
    t.meter.createObservableGauge('ci_runner_test_value').addCallback((o) => {
      for (const [v, value] of [['nan', NaN], ['inf', Infinity], ['big', 1.5e22], ['small', -1e-7], ['odd', 123456789.123]] as const) o.observe(value, { v });
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'runner-telegraf-v2-'));
  try {
    const binary = join(dir, 'telegraf-v2');
    const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '' };
    const build = spawnSync('go', ['build', '-o', binary, join(packageRoot(), 'test', 'support', 'telegraf-v2', 'main.go')], { env, encoding: 'utf8' });
    assert.equal(build.status, 0, `go build: ${build.stdout}${build.stderr}`);
    const run = spawnSync(binary, [`${scrape.timeMs}000000`], { input: scrape.prometheus(), encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    // Telegraf's order follows a Go map; ours follows /metrics.
    const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '').sort();
    assert.deepEqual(lines(scrape.influx()), lines(run.stdout));
    assert.equal(lines(run.stdout).length, 23, 'a counter, an up-down counter, two histogram series of 9 points, three finite gauges');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- JSON in process ---

test('/debug/vars document: name, type, help, unit and series of every metric', async () => {
  const scrape = await scrapeOf((t) => {
    t.meter.createCounter('ci_runner_test_requests', { description: 'Requests "served".', unit: 's' }).add(2, { runner: 'a' });
    t.meter.createObservableGauge('ci_runner_test_temperature').addCallback((o) => o.observe(21.5));
    const histogram = t.meter.createHistogram('ci_runner_test_seconds', { description: 'Durations.', advice: { explicitBucketBoundaries: [1, 10] } });
    histogram.record(0.5, { runner: 'a' });
    histogram.record(5, { runner: 'a' });
  });
  const doc = JSON.parse(scrape.json()) as unknown;
  assert.deepEqual(doc, {
    time: new Date(scrape.timeMs).toISOString(),
    metrics: [
      { name: 'ci_runner_test_requests_total', type: 'counter', help: 'Requests "served".', unit: 's', series: [{ labels: { runner: 'a' }, value: 2 }] },
      { name: 'ci_runner_test_temperature', type: 'gauge', help: '', unit: '', series: [{ labels: {}, value: 21.5 }] },
      {
        name: 'ci_runner_test_seconds',
        type: 'histogram',
        help: 'Durations.',
        unit: '',
        series: [{
          labels: { runner: 'a' },
          count: 2,
          sum: 5.5,
          buckets: [{ le: '1', count: 1 }, { le: '10', count: 2 }, { le: '+Inf', count: 2 }],
        }],
      },
    ],
  });
  assert.deepEqual(doc, scrape.vars());
  assertAgree(scrape.prometheus(), scrape.influx(), scrape.vars());
});

test('one scrape, three renderings that agree, whatever the labels hold', async () => {
  const scrape = await scrapeOf((t) => {
    const labels = { runner: 'a b,c=d"e\\f', note: 'two\nlines', empty: '', trailing: 'x\\' };
    t.meter.createCounter('ci_runner_test_requests').add(5, labels);
    t.meter.createHistogram('ci_runner_test_bytes', { advice: { explicitBucketBoundaries: [1024, 16 * 1024 * 1024] } }).record(2048, labels);
    t.meter.createObservableGauge('ci_runner_test_value').addCallback((o) => {
      o.observe(NaN, { v: '1' });
      o.observe(0.1 + 0.2, { v: '2' });
    });
  });
  assertAgree(scrape.prometheus(), scrape.influx(), scrape.vars());
});

// --- The routes in process ---

async function withServer(register: (telemetry: Telemetry) => void, run: (base: string) => Promise<void>): Promise<void> {
  const quiet = (): Logger => new Logger('info', 'text', { write: () => undefined });
  const telemetry = new Telemetry();
  register(telemetry);
  const agent = fixedStatus();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, createRequestListener(agent, telemetry, quiet()));
  try {
    await run(`http://127.0.0.1:${server.address.port}`);
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
}

const oneCounter = (t: Telemetry): void => t.meter.createCounter('ci_runner_test_requests').add(1, { runner: 'a' });

test("/metrics?format=influx and an Accept header for line protocol answer line protocol; Prometheus's Accept gets the text format", async () => {
  await withServer(oneCounter, async (base) => {
    const asked: [string, RequestInit, string][] = [
      ['/metrics?format=influx', {}, 'influx'],
      ['/metrics', { headers: { Accept: 'application/x-influx-line-protocol' } }, 'influx'],
      ['/metrics', { headers: { Accept: 'text/plain;q=0.5, application/x-influx-line-protocol' } }, 'influx'],
      ['/metrics?format=prometheus', { headers: { Accept: 'application/x-influx-line-protocol' } }, 'prometheus'],
      ['/metrics', { headers: { Accept: PROMETHEUS_ACCEPT } }, 'prometheus'],
      ['/metrics', {}, 'prometheus'],
      ['/metrics?format=prometheus', {}, 'prometheus'],
    ];
    for (const [path, init, format] of asked) {
      const res = await fetch(`${base}${path}`, init);
      const body = await res.text();
      const what = `${path} ${JSON.stringify(init)}`;
      assert.equal(res.status, 200, what);
      assert.equal(res.headers.get('vary'), 'Accept', what);
      if (format === 'influx') {
        assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8', what);
        assert.match(body, /^prometheus,runner=a ci_runner_test_requests_total=1 \d{19}\n$/, what);
      } else {
        assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8', what);
        assert.match(body, /^ci_runner_test_requests_total\{runner="a"\} 1$/m, what);
      }
    }
  });
});

test('Accept negotiation: line protocol only when it is named and weighs more than any other type', () => {
  assert.equal(prefersLineProtocol(undefined), false);
  assert.equal(prefersLineProtocol('*/*'), false);
  assert.equal(prefersLineProtocol(PROMETHEUS_ACCEPT), false);
  assert.equal(prefersLineProtocol('application/x-influx-line-protocol'), true);
  assert.equal(prefersLineProtocol('Application/X-Influx-Line-Protocol; q=0.9, */*;q=0.1'), true);
  assert.equal(prefersLineProtocol('application/x-influx-line-protocol, text/plain'), false, 'a tie keeps the default');
  assert.equal(prefersLineProtocol('application/x-influx-line-protocol;q=0'), false);
});

test('/metrics with an unknown or repeated format answers 400 with one line naming it and the accepted ones', async () => {
  await withServer(oneCounter, async (base) => {
    for (
      const [query, message] of [
        ['format=xml', 'bad request: unknown format "xml"; accepted: prometheus, influx\n'],
        ['format=', 'bad request: unknown format ""; accepted: prometheus, influx\n'],
        ['format=Influx', 'bad request: unknown format "Influx"; accepted: prometheus, influx\n'],
        ['format=a%0Ab', 'bad request: unknown format "a\\nb"; accepted: prometheus, influx\n'],
        ['format=influx&format=prometheus', 'bad request: format given 2 times; accepted: prometheus, influx\n'],
      ] as const
    ) {
      const res = await fetch(`${base}/metrics?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(await res.text(), message);
    }
  });
});

test('/debug/vars answers the JSON document; every rendering answers 500 with the reason when collection fails', async () => {
  await withServer(oneCounter, async (base) => {
    const res = await fetch(`${base}/debug/vars`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const doc = await res.json() as VarsDocument;
    assert.deepEqual(doc.metrics, [{
      name: 'ci_runner_test_requests_total',
      type: 'counter',
      help: '',
      unit: '',
      series: [{ labels: { runner: 'a' }, value: 1 }],
    }]);
    const head = await fetch(`${base}/debug/vars`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/debug/vars`, { method: 'POST' })).status, 405);
  });
  await withServer((t) =>
    t.meter.createObservableGauge('broken').addCallback(() => {
      throw new Error('cannot read /proc/self/broken');
    }), async (base) => {
    for (const path of ['/metrics', '/metrics?format=influx', '/debug/vars', '/debug/renderings']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 500, path);
      assert.match(await res.text(), /^metrics collection failed: cannot read \/proc\/self\/broken\n$/, path);
    }
  });
});

// --- The real CLI ---

interface Renderings {
  readonly prometheus: string;
  readonly influx: string;
  readonly vars: VarsDocument;
}

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  const body = await res.text();
  assert.equal(res.status, 200, `${url}: ${body}`);
  return body;
}

test('the real CLI, after a job: /metrics, ?format=influx and /debug/vars hold the same values', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-renderings-'));
  writeFileSync(join(dir, 'config.toml'), 'check_interval = 1\n');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    const { id } = await enqueue(queue, 'name = "hello"\nscript = ["echo hello"]\n', 'hello.toml');
    assert.equal((await waitForResult(queue, id, { timeoutMs: 30_000 })).state, 'success');

    // One collection in all three formats: every sample agrees exactly,
    // also those that move on their own (CPU, memory, open files).
    const one = JSON.parse(await get(`${runner.url}/debug/renderings`)) as Renderings;
    assertAgree(one.prometheus, one.influx, one.vars);
    assert.match(one.prometheus, /^ci_runner_jobs_total\{runner="local"\} 1$/m);
    assert.match(one.influx, /^prometheus,runner=local ci_runner_jobs_total=1 \d{19}$/m);
    assert.match(one.influx, /^prometheus,le=30,runner=local ci_runner_job_duration_seconds_bucket=1 \d{19}$/m);

    // Three requests, three collections: the same metrics and, for the
    // runner's own (which only jobs and configuration move), the same values.
    const prometheus = parsePrometheus(await get(`${runner.url}/metrics`));
    const influx = keyed(influxSamples(parseInflux(await get(`${runner.url}/metrics?format=influx`))));
    const vars = JSON.parse(await get(`${runner.url}/debug/vars`)) as VarsDocument;
    assert.deepEqual(vars.metrics.map((metric) => metric.name), [...prometheus.types.keys()]);
    const own = keyed(prometheus.samples.filter((sample) => sample.name.startsWith('ci_runner_')));
    const ownOf = (samples: ReadonlyMap<string, number>): Map<string, number> => new Map([...samples].filter(([key]) => key.startsWith('ci_runner_')));
    assertSameSamples(own, ownOf(influx), 'the line protocol', true);
    assertSameSamples(own, ownOf(keyed(varsSamples(vars))), '/debug/vars', false);
    assert.equal(own.get(seriesKey('ci_runner_jobs_total', new Map([['runner', 'local']]))), 1);
    assert.equal(own.get(seriesKey('ci_runner_job_duration_seconds_count', new Map([['runner', 'local']]))), 1);
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
