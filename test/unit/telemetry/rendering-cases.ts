// The collections the kept-text renderings are checked on, shared by prometheus-text.test.ts (the
// text format against the exporter's serializer) and openmetrics-text.test.ts (OpenMetrics against
// renderOpenMetrics of the families): every kind of metric and every escape collection after
// collection, gauges collected with delta temporality (new attributes objects each time), metrics
// whose description, type or buckets change, one attributes object for two points, and churn.
// Each case yields a collection; the test renders it before asking for the next one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
import { Exemplars } from '../../../src/telemetry/exemplars.ts';
import { reportObservedGaugesOnly } from '../../../src/telemetry/gauge-series.ts';

export interface Case {
  readonly what: string;
  readonly collection: ResourceMetrics;
}

class TestReader extends MetricReader {
  constructor(limit: number) {
    super({ cardinalitySelector: () => limit });
    // As the runner's readers: gauges report what was observed at this collection only.
    reportObservedGaugesOnly(this);
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

const TRACE = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

/**
 * Every kind of metric and every escape through the SDK, collection after collection, with the
 * series limit at 4 (the overflow series), exemplars on one histogram (linked as Telemetry does),
 * and a gauge whose name clashes with a counter's family name in some collections only.
 */
export async function* everyKind(): AsyncGenerator<Case> {
  const reader = new TestReader(4);
  const provider = new MeterProvider({
    readers: [reader],
    views: [{ instrumentName: 'ci_runner_test_spread', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const exemplars = new Exemplars(4);
  const meter = provider.getMeter('test');
  const other = provider.getMeter('other');
  let observed = 0;
  const collect = async (what: string): Promise<Case> => {
    const mark = exemplars.mark();
    const { resourceMetrics } = await reader.collect();
    exemplars.attach(resourceMetrics, mark);
    return { what, collection: resourceMetrics };
  };
  try {
    const counter = meter.createCounter('ci_runner_test_requests', { description: 'Requests,\\ "all"\nof them.' });
    const total = meter.createCounter('ci_runner.test-errors_total', { unit: 'By' });
    const updown = meter.createUpDownCounter('ci_runner_test_level', { unit: 'weird\\unit\nx' });
    const gauge = meter.createGauge('ci_runner_test_gauge', { valueType: ValueType.DOUBLE });
    const histogram = meter.createHistogram('ci_runner_test_duration_seconds', { advice: { explicitBucketBoundaries: [0.5, 1, 1e-7, 16 * 1024 * 1024] } });
    const traced = meter.createHistogram('ci_runner_test_traced_seconds', { unit: 'seconds', advice: { explicitBucketBoundaries: [30, 60, 300] } });
    const tracedExemplars = exemplars.histogram('ci_runner_test_traced_seconds', [30, 60, 300]);
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
    meter.createObservableGauge('ci_runner_test_shapes').addCallback((o) => {
      o.observe(7); // no attributes: a new {} each time
      // The same names in another order: other labels text.
      o.observe(observed % 3 === 0 ? 1 : 2, observed % 2 === 0 ? { a: 'x', b: 'y' } : { b: 'y', a: 'x' });
    });
    // A gauge named as the counter ci_runner_test_jobs_total's family (gitlab_runner_jobs and
    // gitlab_runner_jobs_total), observed in some collections only.
    meter.createCounter('ci_runner_test_jobs_total').add(1, { runner: 'a' });
    meter.createObservableGauge('ci_runner_test_jobs', { description: 'Jobs now.' }).addCallback((o) => {
      if (observed % 2 === 1) o.observe(1, { runner: 'a' });
    });
    meter.createCounter('ci_runner_test_cpu_seconds', { unit: 'seconds' }).add(0.5);
    meter.createObservableCounter('ci_runner_test_observed', { unit: 'seconds' }).addCallback((o) =>
      o.observe(observed, { 'http.method': 'GET', '0digit': 'x' })
    );
    // The same name from another meter: a second metric of that name in one collection.
    other.createUpDownCounter('ci_runner_test_requests').add(-1, { k: 'v' });
    meter.createCounter('ci_runner_test_never_recorded');

    yield await collect('before the first observation');
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
      if (round !== 3) traced.record(round * 20, { runner: 'a' });
      // Round 3: an exemplar alone changes (the counts stay); round 4: an untraced observation.
      if (round <= 3) tracedExemplars.record(round * 20, { runner: 'a' }, TRACE, 1_700_000_000_000 + round);
      unbounded.record(round);
      negative.record(-round, { sign: 'minus' });
      yield await collect(`round ${round}`);
    }
    yield await collect('last');
  } finally {
    await provider.shutdown();
  }
}

/**
 * Gauges collected with delta temporality, as the runner's are: each point carries the object
 * its callback observed this time. `runners` are observed in this order on the next collection.
 */
export async function* deltaGauges(rounds: readonly (readonly string[])[]): AsyncGenerator<Case> {
  const reader = new TestReader(100);
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('test');
  let runners: readonly string[] = [];
  let round = 0;
  try {
    meter.createObservableGauge('ci_runner_test_limit', { description: 'Limit.' }).addCallback((o) => {
      for (const runner of runners) o.observe(runner.length + (round > 3 ? 1 : 0), { runner });
    });
    const builds = meter.createObservableGauge('ci_runner_test_builds');
    const load = meter.createObservableGauge('ci_runner_test_load');
    meter.addBatchObservableCallback((o) => {
      for (const runner of runners) for (const stage of ['a', 'b']) o.observe(builds, 0, { runner, stage, state: 'running' });
      o.observe(load, 0.5); // no attributes: the SDK's own new {} each time
    }, [builds, load]);
    for (const next of rounds) {
      runners = next;
      round++;
      yield { what: `round ${round}: ${next.join(',')}`, collection: (await reader.collect()).resourceMetrics };
    }
  } finally {
    await provider.shutdown();
  }
}

const at: [number, number] = [1_700_000_000, 0];

export function sum(name: string, points: readonly [Record<string, string>, number][], description = ''): MetricData {
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

export const collectionOf = (...metrics: MetricData[]): ResourceMetrics => ({
  resource: emptyResource(),
  scopeMetrics: [{ scope: { name: 'test' }, metrics }],
});

/**
 * Metrics whose description, type or buckets change, histogram counts updated in place (as the
 * SDK does) between two collections of one object, one attributes object for two points, values
 * written specially, and names the text format leaves out or fixes. `changed` is the case after
 * which only numbers changed in place: its text must differ from the one before.
 */
export function* changes(): Generator<Case & { readonly changed?: true }> {
  const shared = { runner: 'a' };
  yield { what: 'first', collection: collectionOf(sum('ci_runner_test_x', [[shared, 1]], 'One.'), sum('ci_runner_test_y', [[shared, 2]])) };
  yield { what: 'new description', collection: collectionOf(sum('ci_runner_test_x', [[shared, 1]], 'Two.'), sum('ci_runner_test_y', [[shared, 3]])) };
  const gauge: MetricData = { ...sum('ci_runner_test_x', [[shared, 1]], 'Two.'), isMonotonic: false } as MetricData;
  yield { what: 'a counter become a gauge', collection: collectionOf(gauge) };
  yield { what: 'histogram', collection: collectionOf(histogram('ci_runner_test_h', shared, [1, 2], [1, 2, 3], 9)) };
  yield { what: 'more bounds', collection: collectionOf(histogram('ci_runner_test_h', shared, [1, 2, 5], [1, 2, 3, 0], 9)) };
  yield { what: 'no sum', collection: collectionOf(histogram('ci_runner_test_h', shared, [1, 2, 5], [1, 2, 3, 0])) };
  yield { what: 'bounds ending with Infinity', collection: collectionOf(histogram('ci_runner_test_h', shared, [1, Infinity], [1, 2, 3])) };
  // Kept lines are reused only while the numbers are the same: here the counts move, their total does not.
  const moving = histogram('ci_runner_test_h', shared, [1, 2], [1, 2, 3], 9);
  yield { what: 'before the counts move', collection: collectionOf(moving) };
  const point = moving.dataPoints[0] as { value: { buckets: { counts: number[] } } };
  point.value.buckets.counts[0] = 2; // in place, as the SDK updates them
  point.value.buckets.counts[1] = 1;
  yield { what: 'counts moved in place', collection: collectionOf(moving), changed: true };
  yield { what: 'one attributes object for two points', collection: collectionOf(sum('ci_runner_test_x', [[shared, 1], [shared, 2]])) };
  yield { what: 'again', collection: collectionOf(sum('ci_runner_test_x', [[shared, 1], [shared, 2]])) };
  yield { what: 'two objects', collection: collectionOf(sum('ci_runner_test_x', [[shared, 1], [{ runner: 'b' }, 2]])) };
  yield { what: 'the other order', collection: collectionOf(sum('ci_runner_test_x', [[{ runner: 'b' }, 2], [shared, 1]])) };
  yield { what: 'equal objects, the other order', collection: collectionOf(sum('ci_runner_test_x', [[{ runner: 'a' }, 1], [{ runner: 'b' }, 2]])) };
  yield { what: 'equal objects for two points', collection: collectionOf(sum('ci_runner_test_x', [[{ runner: 'a' }, 1], [{ runner: 'a' }, 2]])) };
  // An inherited name: not a label (Object.entries leaves it out), though for..in sees it.
  const inherited = Object.assign(Object.create({ stage: 'x' }) as Record<string, string>, { runner: 'a' });
  yield { what: 'an inherited attribute', collection: collectionOf(sum('ci_runner_test_x', [[inherited, 1], [{ runner: 'a', stage: 'x' }, 2]])) };
  yield {
    what: 'an inherited attribute, the other order',
    collection: collectionOf(sum('ci_runner_test_x', [[{ runner: 'a', stage: 'x' }, 1], [inherited, 2]])),
  };
  yield { what: 'one fewer', collection: collectionOf(sum('ci_runner_test_x', [[shared, 1]])) };
  yield { what: 'NaN', collection: collectionOf(sum('ci_runner_test_x', [[shared, NaN]])) };
  yield { what: 'NaN again', collection: collectionOf(sum('ci_runner_test_x', [[shared, NaN]])) };
  yield { what: '-0', collection: collectionOf(sum('ci_runner_test_x', [[shared, -0]])) };
  yield { what: '0', collection: collectionOf(sum('ci_runner_test_x', [[shared, 0]])) };
  yield {
    what: 'names the exporter leaves out or fixes',
    collection: collectionOf(sum('', [[shared, 1]]), sum('...', [[shared, 1]]), sum('9lives', [[shared, 1]])),
  };
}

/** 200 collections of 50 series each, all new every time, and a metric that comes and goes; then none. `kept`: what a renderer should keep after it. */
export function* churn(): Generator<Case & { readonly kept: { metrics: number; series: number } }> {
  for (let round = 0; round < 200; round++) {
    // 50 series each round, all new every round (as a label that changes on each collection would be).
    const points: [Record<string, string>, number][] = [];
    for (let i = 0; i < 50; i++) points.push([{ id: `${round}-${i}` }, i]);
    const metrics = [sum('ci_runner_test_churn', points)];
    // A metric that comes and goes.
    if (round % 2 === 0) metrics.push(sum(`ci_runner_test_every_other_${round % 4}`, [[{ a: 'b' }, round]]));
    yield { what: `round ${round}`, collection: collectionOf(...metrics), kept: { metrics: metrics.length, series: 50 + metrics.length - 1 } };
  }
  yield { what: 'nothing left', collection: collectionOf(), kept: { metrics: 0, series: 0 } };
}

/** A kept-text renderer under test. */
export interface KeptTextRenderer {
  render(collection: ResourceMetrics): string;
  readonly kept: { metrics: number; series: number };
}

/**
 * The tests both kept-text renderings share: what is kept follows the collections (churn), and
 * metrics that change are rendered anew; `same` renders with the renderer and its reference and
 * asserts the same bytes.
 */
export function keptTextTests<R extends KeptTextRenderer>(make: () => R, same: (renderer: R, collection: ResourceMetrics, what: string) => string): void {
  test('what is kept follows the collections: series and metrics they no longer have are dropped, so churn does not grow it', () => {
    const renderer = make();
    for (const { what, collection, kept } of churn()) {
      same(renderer, collection, what);
      assert.deepEqual(renderer.kept, kept, what);
    }
  });

  test('a metric whose description, type or buckets change, and one series object reused by two metrics, are rendered anew', () => {
    const renderer = make();
    let before = '';
    for (const { what, collection, changed } of changes()) {
      const rendered = same(renderer, collection, what);
      if (changed) assert.notEqual(rendered, before, `${what}: the text changed`);
      before = rendered;
    }
  });
}
