// The OpenMetrics rendering in process: exemplar syntax, counter and gauge families, escapes,
// `# EOF`, units, a histogram without exemplars, exponential histograms; and that it holds
// exactly the samples of the Prometheus text format, which stays what the exporter's serializer
// writes. A real Prometheus reads it in test/e2e/exemplars.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregationType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { families } from '../../../src/telemetry/renderings/families.ts';
import { renderOpenMetrics } from '../../../src/telemetry/renderings/openmetrics.ts';
import type { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { exactSeries, parseOpenMetrics } from '../../support/openmetrics.ts';
import { parsePrometheus, scrapeOf } from '../../support/renderings.ts';

const TRACE = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const BOUNDS = [30, 60, 300];

type Observe = (value: number, attributes: Record<string, string>, timeMs?: number, span?: typeof TRACE | null) => void;

/** A histogram with an exemplar store, as the job duration has; `observe` records into both as job-metrics does, `span` null: untraced. */
function tracedHistogram(telemetry: Telemetry, name: string): Observe {
  const histogram = telemetry.meter.createHistogram(name, { description: 'Durations.', advice: { explicitBucketBoundaries: BOUNDS } });
  const exemplars = telemetry.exemplars.histogram(name, BOUNDS);
  return (value, attributes, timeMs = 1_700_000_000_123, span = TRACE) => {
    histogram.record(value, attributes);
    if (span !== null) exemplars.record(value, attributes, span, timeMs);
  };
}

/** The exposition's samples exactly as Prometheus 2 stores them (labels as written), with their values. */
function exactSamples(samples: readonly { name: string; labels: ReadonlyMap<string, string>; value: number }[]): Map<string, number> {
  return new Map(samples.map((sample) => [exactSeries(sample), sample.value]));
}

test('a bucket carries the exemplar of its latest traced observation: trace_id, span_id, value, timestamp in seconds', async () => {
  const scrape = await scrapeOf((t) => {
    const observe = tracedHistogram(t, 'ci_runner_test_duration_seconds');
    observe(12, { runner: 'a' }, 1_700_000_000_000, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    observe(30, { runner: 'a' }); // a bound belongs to its own bucket, and the latest wins
    observe(500, { runner: 'a' }, 1_700_000_001_500);
  });
  const text = scrape.openMetrics();
  const lines = text.split('\n');
  assert.deepEqual(lines.slice(0, 9), [
    '# TYPE ci_runner_test_duration_seconds histogram',
    '# HELP ci_runner_test_duration_seconds Durations.',
    'ci_runner_test_duration_seconds_bucket{runner="a",le="30"} 2 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 30 1700000000.123',
    'ci_runner_test_duration_seconds_bucket{runner="a",le="60"} 2',
    'ci_runner_test_duration_seconds_bucket{runner="a",le="300"} 2',
    'ci_runner_test_duration_seconds_bucket{runner="a",le="+Inf"} 3 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 500 1700000001.5',
    'ci_runner_test_duration_seconds_count{runner="a"} 3',
    'ci_runner_test_duration_seconds_sum{runner="a"} 542',
    '# EOF',
  ]);
  assert.equal(lines[9], '', 'ends with a newline');
  const { samples } = parseOpenMetrics(text);
  assert.deepEqual(samples.filter((s) => s.exemplar !== undefined).map((s) => s.exemplar), [
    { labels: new Map([['trace_id', TRACE.traceId], ['span_id', TRACE.spanId]]), value: 30, timestamp: 1_700_000_000.123 },
    { labels: new Map([['trace_id', TRACE.traceId], ['span_id', TRACE.spanId]]), value: 500, timestamp: 1_700_000_001.5 },
  ]);
  assert.doesNotMatch(scrape.prometheus(), /#\s*\{|# EOF/, 'the text format has no exemplars');
});

test('a histogram without exemplars, and a series of a traced histogram that had none, have plain buckets', async () => {
  const scrape = await scrapeOf((t) => {
    t.meter.createHistogram('ci_runner_test_size_bytes', { advice: { explicitBucketBoundaries: [1024] } }).record(10, { kind: 'x' });
    const observe = tracedHistogram(t, 'ci_runner_test_duration_seconds');
    observe(1, { runner: 'traced' });
    observe(2, { runner: 'plain' }, undefined, null);
  });
  const text = scrape.openMetrics();
  assert.match(
    text,
    /^# TYPE ci_runner_test_size_bytes histogram\n# HELP ci_runner_test_size_bytes description missing\nci_runner_test_size_bytes_bucket\{kind="x",le="1024"\} 1\nci_runner_test_size_bytes_bucket\{kind="x",le="\+Inf"\} 1\nci_runner_test_size_bytes_count\{kind="x"\} 1\nci_runner_test_size_bytes_sum\{kind="x"\} 10\n/,
  );
  const { samples } = parseOpenMetrics(text);
  const withExemplars = samples.filter((s) => s.exemplar !== undefined).map((s) => exactSeries(s));
  assert.deepEqual(withExemplars, [
    exactSeries({ name: 'ci_runner_test_duration_seconds_bucket', labels: new Map([['runner', 'traced'], ['le', '30']]), value: 0 }),
  ]);
});

test('counters are families without _total and samples with it; gauges keep their name, _total or not; an empty collection is # EOF alone', async () => {
  const scrape = await scrapeOf((t) => {
    t.meter.createCounter('ci_runner_test_requests', { description: 'Requests.' }).add(2, { 'http.method': 'GET' });
    t.meter.createCounter('ci_runner_test_errors_total').add(1);
    t.meter.createObservableCounter('ci_runner_test_observed').addCallback((o) => o.observe(7));
    t.meter.createObservableGauge('nodejs_active_handles_total').addCallback((o) => o.observe(3));
    t.meter.createUpDownCounter('ci_runner_test_level').add(-2.5);
  });
  assert.equal(
    scrape.openMetrics(),
    [
      '# TYPE ci_runner_test_requests counter',
      '# HELP ci_runner_test_requests Requests.',
      'ci_runner_test_requests_total{http_method="GET"} 2',
      '# TYPE ci_runner_test_errors counter',
      '# HELP ci_runner_test_errors description missing',
      'ci_runner_test_errors_total 1',
      '# TYPE ci_runner_test_observed counter',
      '# HELP ci_runner_test_observed description missing',
      'ci_runner_test_observed_total 7',
      '# TYPE nodejs_active_handles_total gauge',
      '# HELP nodejs_active_handles_total description missing',
      'nodejs_active_handles_total 3',
      '# TYPE ci_runner_test_level gauge',
      '# HELP ci_runner_test_level description missing',
      'ci_runner_test_level -2.5',
      '# EOF',
      '',
    ].join('\n'),
  );
  assert.equal((await scrapeOf(() => undefined)).openMetrics(), '# EOF\n');
});

test('label values escape backslash, double quote and newline; HELP escapes them too; values as the text format writes them', async () => {
  const scrape = await scrapeOf((t) => {
    t.meter.createUpDownCounter('ci_runner_test_value', { description: 'A "quoted" \\ help\non two lines' }).add(1, { path: 'C:\\x "y"\nz', empty: '' });
    t.meter.createObservableGauge('ci_runner_test_odd').addCallback((o) => {
      o.observe(NaN, { v: 'nan' });
      o.observe(-Infinity, { v: 'minus' });
      o.observe(1.5e22, { v: 'big' });
      o.observe(-1e-7, { v: 'small' });
    });
  });
  const text = scrape.openMetrics();
  assert.ok(text.includes('# HELP ci_runner_test_value A \\"quoted\\" \\\\ help\\non two lines\n'), text);
  assert.ok(text.includes('ci_runner_test_value{path="C:\\\\x \\"y\\"\\nz",empty=""} 1\n'), text);
  for (
    const line of [
      'ci_runner_test_odd{v="nan"} NaN',
      'ci_runner_test_odd{v="minus"} -Inf',
      'ci_runner_test_odd{v="big"} 1.5e+22',
      'ci_runner_test_odd{v="small"} -1e-7',
    ]
  ) {
    assert.ok(text.includes(`${line}\n`), `${line} in:\n${text}`);
  }
  const { families: read, samples } = parseOpenMetrics(text);
  assert.equal(read.get('ci_runner_test_value')?.help, 'A "quoted" \\ help\non two lines');
  assert.equal(samples.find((s) => s.name === 'ci_runner_test_value')?.labels.get('path'), 'C:\\x "y"\nz');
});

test('# UNIT only where the name ends with the unit; exponential histograms are unknown families without samples', async () => {
  const reader = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    readers: [reader],
    views: [{ instrumentName: 'ci_runner_test_spread', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  try {
    const meter = provider.getMeter('test');
    meter.createUpDownCounter('ci_runner_test_memory_bytes', { unit: 'bytes' }).add(1);
    meter.createUpDownCounter('ci_runner_test_wait', { unit: 's' }).add(1);
    meter.createCounter('ci_runner_test_cpu_seconds', { unit: 'seconds' }).add(1);
    meter.createHistogram('ci_runner_test_spread', { description: 'Spread.' }).record(3);
    const { resourceMetrics } = await reader.collect();
    const text = renderOpenMetrics(families(resourceMetrics));
    assert.ok(text.includes('# TYPE ci_runner_test_memory_bytes gauge\n# UNIT ci_runner_test_memory_bytes bytes\n'), text);
    assert.ok(text.includes('# TYPE ci_runner_test_wait gauge\n# HELP ci_runner_test_wait'), text);
    assert.ok(text.includes('# TYPE ci_runner_test_cpu_seconds counter\n# UNIT ci_runner_test_cpu_seconds seconds\n'), text);
    assert.match(text, /^# TYPE ci_runner_test_spread unknown\n# HELP ci_runner_test_spread Spread.\n#/m);
    parseOpenMetrics(text);
    // The text format shows the exponential histogram untyped and without samples too.
    assert.match(new PrometheusSerializer('', false, undefined, true, true).serialize(resourceMetrics), /^# TYPE ci_runner_test_spread untyped$/m);
  } finally {
    await provider.shutdown();
  }
});

test('an exemplar whose labels are over 128 characters is left out, the bucket kept', async () => {
  const scrape = await scrapeOf((t) => {
    const observe = tracedHistogram(t, 'ci_runner_test_duration_seconds');
    observe(1, { runner: 'a' }, 1_700_000_000_000, { traceId: 'f'.repeat(100), spanId: 'e'.repeat(13) }); // 8 + 100 + 7 + 13 = 128
    observe(100, { runner: 'a' }, 1_700_000_000_000, { traceId: 'f'.repeat(100), spanId: 'e'.repeat(14) }); // 129
  });
  const { samples } = parseOpenMetrics(scrape.openMetrics());
  const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
  assert.deepEqual(buckets.map((s) => [s.labels.get('le'), s.value, s.exemplar?.value]), [['30', 1, 1], ['60', 1, undefined], ['300', 2, undefined], [
    '+Inf',
    2,
    undefined,
  ]]);
});

test("OpenMetrics holds exactly the samples of the text format, label values as written; the text format is the serializer's, byte for byte", async () => {
  const scrape = await scrapeOf((t) => {
    const observe = tracedHistogram(t, 'ci_runner_test_duration_seconds');
    observe(42, { runner: 'a b', stage: 'x"y' });
    observe(0.25, { runner: 'c' });
    t.meter.createHistogram('ci_runner_test_bytes', { advice: { explicitBucketBoundaries: [0.5, 16 * 1024 * 1024, 1e-7] } }).record(2e7);
    t.meter.createCounter('ci_runner_test_jobs').add(3, { runner: 'a\\b\n' });
    t.meter.createObservableGauge('ci_runner_test_temperature').addCallback((o) => o.observe(21.5, { at: 'here' }));
    t.meter.createUpDownCounter('nodejs_active_requests_total').add(0);
  });
  const text = parsePrometheus(scrape.prometheus());
  const open = parseOpenMetrics(scrape.openMetrics());
  const fromText = exactSamples(text.samples);
  const fromOpen = exactSamples(open.samples);
  assert.equal(fromOpen.size, open.samples.length, 'one sample per series');
  assert.deepEqual([...fromOpen.keys()].sort(), [...fromText.keys()].sort());
  for (const [series, value] of fromText) assert.ok(Object.is(fromOpen.get(series), value), `${series}: ${value} vs ${fromOpen.get(series)}`);
  assert.ok(fromText.has('ci_runner_test_bytes_bucket[["le","16777216"]]'), 'le as the text format writes it');
  assert.ok(fromText.has('ci_runner_test_bytes_bucket[["le","1e-7"]]'), 'le as the text format writes it');
  // Every family's help is the text format's.
  for (const [name, help] of text.help) {
    const family = open.families.get(name) ?? open.families.get(name.replace(/_total$/, ''));
    assert.equal(family?.help, help, name);
  }
  assert.equal(scrape.prometheus(), new PrometheusSerializer('', false, undefined, true, true).serialize(scrape.resourceMetrics));
});
