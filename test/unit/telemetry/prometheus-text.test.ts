// The Prometheus text rendering (src/telemetry/renderings/prometheus.ts) against the exporter's
// PrometheusSerializer: the same collections rendered by both, byte for byte, collection after
// collection (the second and later ones read the kept text), with the edge cases of escaping,
// values, histograms, units, overflow and names; and the bound on what it keeps while series come
// and go. The runner's own scrapes, overflow included: series-limit.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { ValueType } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  MeterProvider,
  type MetricData,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { PrometheusText } from '../../../src/telemetry/renderings/prometheus.ts';

const serializer = new PrometheusSerializer('', false, undefined, true, true);

class TestReader extends MetricReader {
  constructor(limit: number) {
    super({ cardinalitySelector: () => limit });
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Renders with both and asserts the same bytes; returns the text. */
function assertSame(text: PrometheusText, collection: ResourceMetrics, what: string): string {
  const expected = serializer.serialize(collection);
  const actual = text.render(collection);
  assert.equal(actual, expected, what);
  return actual;
}

test('every kind of metric and every escape, collection after collection: the bytes of the exporter', async () => {
  const reader = new TestReader(4);
  const provider = new MeterProvider({
    readers: [reader],
    views: [{ instrumentName: 'ci_runner_test_spread', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('test');
  const other = provider.getMeter('other');
  let observed = 0;
  try {
    const counter = meter.createCounter('ci_runner_test_requests', { description: 'Requests,\\ "all"\nof them.' });
    const total = meter.createCounter('ci_runner.test-errors_total', { unit: 'By' });
    const updown = meter.createUpDownCounter('ci_runner_test_level', { unit: 'weird\\unit\nx' });
    const gauge = meter.createGauge('ci_runner_test_gauge', { valueType: ValueType.DOUBLE });
    const histogram = meter.createHistogram('ci_runner_test_duration_seconds', { advice: { explicitBucketBoundaries: [0.5, 1, 1e-7, 16 * 1024 * 1024] } });
    const unbounded = meter.createHistogram('ci_runner_test_spread_plain', { advice: { explicitBucketBoundaries: [] } });
    const negative = meter.createHistogram('ci_runner_test_negative', { advice: { explicitBucketBoundaries: [0] } });
    meter.createHistogram('ci_runner_test_spread').record(3);
    meter.createObservableGauge('ci_runner_test_odd').addCallback((o) => {
      observed++;
      o.observe(NaN, { v: 'nan' });
      o.observe(Infinity, { v: 'inf' });
      o.observe(-Infinity, { v: '-inf' });
      o.observe(observed * 1e21, { v: 'big' });
      o.observe(observed * 1e-9, { v: 'small' });
    });
    meter.createObservableCounter('ci_runner_test_observed').addCallback((o) => o.observe(observed, { 'http.method': 'GET', '0digit': 'x' }));
    // The same name from another meter: a second metric of that name in one collection.
    other.createUpDownCounter('ci_runner_test_requests').add(-1, { k: 'v' });
    meter.createCounter('ci_runner_test_never_recorded');

    const text = new PrometheusText();
    assertSame(text, (await reader.collect()).resourceMetrics, 'before the first observation');
    for (let round = 1; round <= 4; round++) {
      counter.add(round, { runner: 'a "quoted" \\ back\\slash\nnew line', stage: '' });
      counter.add(1, { runner: `r${round}` }); // round 3 and 4 go past the limit of 4: the overflow series
      counter.add(2);
      counter.add(1, { number: 3, flag: true, list: ['a', 'b"'], le: 'own le' } as never);
      total.add(0.5, { 'a.b-c': 'x' });
      updown.add(-round * 1.5, { unicode: 'zürich ✓' });
      gauge.record(round === 2 ? NaN : 1 / 3, { g: 'x' });
      histogram.record(round * 0.3, { runner: 'a' });
      histogram.record(2e7, { runner: `h${round % 2}` });
      unbounded.record(round);
      negative.record(-round, { sign: 'minus' });
      const collection = (await reader.collect()).resourceMetrics;
      const rendered = assertSame(text, collection, `round ${round}`);
      assert.equal(rendered, assertSame(new PrometheusText(), collection, 'fresh'), `round ${round}: kept text and fresh text agree`);
    }
    const last = (await reader.collect()).resourceMetrics;
    const rendered = assertSame(text, last, 'last');
    // The collection holds what the comparison is about.
    assert.match(rendered, /^ci_runner_test_requests_total\{otel_metric_overflow="true"\} \d+$/m);
    assert.match(rendered, /^ci_runner_test_odd\{v="nan"\} NaN$/m);
    assert.match(rendered, /^ci_runner_test_odd\{v="inf"\} \+Inf$/m);
    assert.match(rendered, /^ci_runner_test_odd\{v="-inf"\} -Inf$/m);
    assert.match(rendered, /^ci_runner_test_requests_total\{runner="a \\"quoted\\" \\\\ back\\\\slash\\nnew line",stage=""\} 10$/m);
    assert.match(rendered, /^# HELP ci_runner_test_requests_total Requests,\\\\ "all"\\nof them\.$/m);
    assert.match(rendered, /^# UNIT ci_runner_test_level weird\\\\unit\\nx$/m);
    assert.match(rendered, /^# TYPE ci_runner_test_spread untyped$/m);
    assert.match(rendered, /^ci_runner_test_duration_seconds_bucket\{runner="a",le="1e-7"\} /m);
    assert.match(rendered, /^ci_runner_test_spread_plain_bucket\{le="\+Inf"\} 4$/m);
    assert.match(rendered, /^ci_runner_test_requests\{k="v"\} -1$/m);
    assert.match(rendered, /^ci_runner_test_observed_total\{http_method="GET",0digit="x"\} /m);
  } finally {
    await provider.shutdown();
  }
});

test('an empty collection is what the exporter writes for none', () => {
  const text = new PrometheusText();
  assertSame(text, { resource: emptyResource(), scopeMetrics: [] }, 'no scopes');
  assertSame(text, { resource: emptyResource(), scopeMetrics: [{ scope: { name: 'x' }, metrics: [] }] }, 'an empty scope');
  assert.deepEqual(text.kept, { metrics: 0, series: 0 });
});

const at: [number, number] = [1_700_000_000, 0];

function sum(name: string, points: readonly [Record<string, string>, number][], description = ''): MetricData {
  return {
    descriptor: { name, description, unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    isMonotonic: true,
    dataPoints: points.map(([attributes, value]) => ({ attributes, startTime: at, endTime: at, value })),
  };
}

function histogram(name: string, attributes: Record<string, string>, boundaries: number[], counts: number[], sum?: number): MetricData {
  const count = counts.reduce((a, b) => a + b, 0);
  return {
    descriptor: { name, description: 'H.', unit: 's', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints: [{ attributes, startTime: at, endTime: at, value: { buckets: { boundaries, counts }, count, ...(sum === undefined ? {} : { sum }) } }],
  };
}

const collectionOf = (...metrics: MetricData[]): ResourceMetrics => ({ resource: emptyResource(), scopeMetrics: [{ scope: { name: 'test' }, metrics }] });

test('what is kept follows the collections: series and metrics they no longer have are dropped, so churn does not grow it', () => {
  const text = new PrometheusText();
  for (let round = 0; round < 200; round++) {
    // 50 series each round, all new every round (as a label that changes on each collection would be).
    const points: [Record<string, string>, number][] = [];
    for (let i = 0; i < 50; i++) points.push([{ id: `${round}-${i}` }, i]);
    const metrics = [sum('ci_runner_test_churn', points)];
    // A metric that comes and goes.
    if (round % 2 === 0) metrics.push(sum(`ci_runner_test_every_other_${round % 4}`, [[{ a: 'b' }, round]]));
    assertSame(text, collectionOf(...metrics), `round ${round}`);
    assert.deepEqual(text.kept, { metrics: metrics.length, series: 50 + metrics.length - 1 }, `round ${round}`);
  }
  assertSame(text, collectionOf(), 'nothing left');
  assert.deepEqual(text.kept, { metrics: 0, series: 0 });
});

test('a metric whose description, type or buckets change, and one series object reused by two metrics, are rendered anew', () => {
  const text = new PrometheusText();
  const shared = { runner: 'a' };
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, 1]], 'One.'), sum('ci_runner_test_y', [[shared, 2]])), 'first');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, 1]], 'Two.'), sum('ci_runner_test_y', [[shared, 3]])), 'new description');
  const gauge = { ...sum('ci_runner_test_x', [[shared, 1]], 'Two.'), isMonotonic: false };
  assertSame(text, collectionOf(gauge), 'a counter become a gauge');
  assertSame(text, collectionOf(histogram('ci_runner_test_h', shared, [1, 2], [1, 2, 3], 9)), 'histogram');
  assertSame(text, collectionOf(histogram('ci_runner_test_h', shared, [1, 2, 5], [1, 2, 3, 0], 9)), 'more bounds');
  assertSame(text, collectionOf(histogram('ci_runner_test_h', shared, [1, 2, 5], [1, 2, 3, 0])), 'no sum');
  assertSame(text, collectionOf(histogram('ci_runner_test_h', shared, [1, Infinity], [1, 2, 3])), 'bounds ending with Infinity');
  // Kept lines are reused only while the numbers are the same: here the counts move, their total does not.
  const moving = histogram('ci_runner_test_h', shared, [1, 2], [1, 2, 3], 9);
  const before = assertSame(text, collectionOf(moving), 'before the counts move');
  const point = moving.dataPoints[0] as { value: { buckets: { counts: number[] } } };
  point.value.buckets.counts[0] = 2; // in place, as the SDK updates them
  point.value.buckets.counts[1] = 1;
  assert.notEqual(assertSame(text, collectionOf(moving), 'counts moved in place'), before);
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, 1], [shared, 2]])), 'one attributes object for two points');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, 1], [shared, 2]])), 'again');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, 1], [{ runner: 'b' }, 2]])), 'two objects');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[{ runner: 'b' }, 2], [shared, 1]])), 'the other order');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, 1]])), 'one fewer');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, NaN]])), 'NaN');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, NaN]])), 'NaN again');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, -0]])), '-0');
  assertSame(text, collectionOf(sum('ci_runner_test_x', [[shared, 0]])), '0');
  assertSame(text, collectionOf(sum('', [[shared, 1]]), sum('...', [[shared, 1]]), sum('9lives', [[shared, 1]])), 'names the exporter leaves out or fixes');
});
