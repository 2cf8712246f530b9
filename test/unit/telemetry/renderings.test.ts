// The renderings of a scrape in process: InfluxDB line protocol
// (/metrics?format=influx) and JSON (/debug/vars) in their exact shapes and
// escaping, and their agreement with the Prometheus text. The real CLI's
// three renderings are checked in test/e2e/renderings.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBound, formatFloatField } from '../../../src/telemetry/renderings/influx.ts';
import type { Scrape } from '../../../src/telemetry/telemetry.ts';
import { packageRoot } from '../../../src/version.ts';
import { assertAgree, parseInflux, scrapeOf } from '../../support/renderings.ts';
import { hasCommand } from '../../support/tools.ts';

/** The scrape's line protocol with its one timestamp checked and taken off every line. */
function influxLines(scrape: Scrape): string[] {
  const suffix = ` ${scrape.timeMs}000000`;
  const lines = scrape.influx().split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  for (const line of lines) assert.ok(line.endsWith(suffix), `${line} ends with the scrape's time in ns`);
  return lines.map((line) => line.slice(0, -suffix.length));
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
