// The exemplar store of a histogram in process: the bucket an observation's exemplar goes to,
// the latest one per bucket and series, the bound on the series it keeps, forgetting the
// series a collection no longer has, and carrying exemplars to a copied data point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { emptyResource } from '@opentelemetry/resources';
import { DataPointType, MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { bucketIndex, carryExemplars, Exemplars, exemplarsOf } from '../../../src/telemetry/exemplars.ts';

const NAME = 'ci_runner_test_duration_seconds';
const BOUNDS = [30, 60, 300];
const span = (n: number): { traceId: string; spanId: string } => ({ traceId: n.toString(16).padStart(32, '0'), spanId: n.toString(16).padStart(16, '0') });

/** A meter provider whose histogram NAME keeps at most `limit` series (the overflow series included), and an exemplar registry bounded alike. */
function rig(limit = 100): {
  exemplars: Exemplars;
  observe: (value: number, attributes: Record<string, string>, traced?: number) => void;
  collect: () => Promise<ResourceMetrics>;
  points: (collection: ResourceMetrics) => { attributes: Record<string, unknown>; point: object }[];
  shutdown: () => Promise<void>;
  store: ReturnType<Exemplars['histogram']>;
} {
  const reader = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [reader], views: [{ instrumentName: '*', aggregationCardinalityLimit: limit }] });
  const histogram = provider.getMeter('test').createHistogram(NAME, { advice: { explicitBucketBoundaries: BOUNDS } });
  const exemplars = new Exemplars(limit);
  const store = exemplars.histogram(NAME, BOUNDS);
  return {
    exemplars,
    store,
    observe(value, attributes, traced) {
      histogram.record(value, attributes);
      if (traced !== undefined) store.record(value, attributes, span(traced), 1_700_000_000_000 + traced);
    },
    async collect() {
      const mark = exemplars.mark();
      const { resourceMetrics } = await reader.collect();
      exemplars.attach(resourceMetrics, mark);
      return resourceMetrics;
    },
    points: (collection) =>
      collection.scopeMetrics.flatMap((scope) => scope.metrics).flatMap((metric) =>
        metric.dataPointType === DataPointType.HISTOGRAM ? metric.dataPoints.map((point) => ({ attributes: point.attributes, point })) : []
      ),
    shutdown: () => provider.shutdown(),
  };
}

/** Each bucket's exemplar as [trace number, value], or undefined. */
function buckets(point: object): ([number, number] | undefined)[] | undefined {
  return exemplarsOf(point)?.map((e) => (e === undefined ? undefined : [parseInt(e.labels['trace_id']!, 16), e.value]));
}

test("an observation's bucket: at most its bound, past the last bound the +Inf bucket", () => {
  assert.deepEqual([0, 29.9, 30, 30.1, 60, 300, 301, Infinity].map((v) => bucketIndex(BOUNDS, v)), [0, 0, 0, 1, 1, 2, 3, 3]);
  assert.equal(bucketIndex([], 5), 0);
});

test('each bucket of each series keeps its latest exemplar, with the span ids as trace_id and span_id; untraced and negative observations keep none', async () => {
  const { observe, collect, points, shutdown, store } = rig();
  try {
    observe(10, { runner: 'a', stage: 's' }, 1);
    observe(20, { stage: 's', runner: 'a' }, 2); // the same series, its attributes in another order
    observe(100, { runner: 'a', stage: 's' }, 3);
    observe(40, { runner: 'a', stage: 's' }); // untraced: the 60 bucket keeps none
    observe(5, { runner: 'b', stage: 's' }, 4);
    store.record(-1, { runner: 'b', stage: 's' }, span(5), 0);
    store.record(NaN, { runner: 'b', stage: 's' }, span(6), 0);
    const collected = points(await collect());
    assert.equal(collected.length, 2);
    const [a, b] = collected;
    assert.deepEqual(buckets(a!.point), [[2, 20], undefined, [3, 100], undefined]);
    assert.deepEqual(buckets(b!.point), [[4, 5], undefined, undefined, undefined]);
    assert.deepEqual(exemplarsOf(a!.point)?.[0], { labels: { trace_id: span(2).traceId, span_id: span(2).spanId }, value: 20, timeMs: 1_700_000_000_002 });
    // A later collection has new data points, linked alike.
    observe(15, { runner: 'a', stage: 's' }, 7);
    const [again] = points(await collect());
    assert.notEqual(again!.point, a!.point);
    assert.deepEqual(buckets(again!.point), [[7, 15], undefined, [3, 100], undefined]);
    assert.equal(store.seriesKept, 2);
  } finally {
    await shutdown();
  }
});

test('the store keeps no more series than the SDK: the oldest go first, and series the collection lacks (the overflow) are forgotten', async () => {
  const limit = 3;
  const { observe, collect, points, shutdown, store } = rig(limit);
  try {
    for (let i = 1; i <= 6; i++) observe(1, { runner: `r${i}` }, i);
    assert.equal(store.seriesKept, limit, 'bounded before any collection');
    // The SDK kept r1 and r2, then folded the rest into its overflow series.
    const collected = points(await collect());
    assert.deepEqual(collected.map((p) => p.attributes), [{ runner: 'r1' }, { runner: 'r2' }, { 'otel.metric.overflow': true }]);
    assert.deepEqual(collected.map((p) => buckets(p.point)), [undefined, undefined, undefined], 'r1 and r2 were pushed out by r4 to r6');
    assert.equal(store.seriesKept, 0, 'r4 to r6 are not in the collection: forgotten');
    observe(2, { runner: 'r1' }, 7);
    const [r1] = points(await collect());
    assert.deepEqual(buckets(r1!.point), [[7, 2], undefined, undefined, undefined]);
    assert.equal(store.seriesKept, 1);
  } finally {
    await shutdown();
  }
});

test('a series recorded while a collection was under way is not forgotten by it', async () => {
  const { observe, exemplars, shutdown, store } = rig();
  try {
    const empty: ResourceMetrics = { resource: emptyResource(), scopeMetrics: [] };
    const mark = exemplars.mark();
    observe(1, { runner: 'late' }, 1);
    exemplars.attach(empty, mark);
    assert.equal(store.seriesKept, 1, 'recorded after the mark: kept');
    exemplars.attach(empty, exemplars.mark());
    assert.equal(store.seriesKept, 0, 'absent from a collection that began after it: forgotten');
  } finally {
    await shutdown();
  }
});

test('carryExemplars links a copied data point (a renamed metric, say) to the exemplars of the original', async () => {
  const { observe, collect, points, shutdown } = rig();
  try {
    observe(50, { runner: 'a' }, 9);
    const [original] = points(await collect());
    const copy = { ...original!.point };
    assert.equal(exemplarsOf(copy), undefined);
    carryExemplars(original!.point, copy);
    assert.deepEqual(buckets(copy), [undefined, [9, 50], undefined, undefined]);
    const plain = {};
    carryExemplars({}, plain);
    assert.equal(exemplarsOf(plain), undefined, 'nothing to carry from a point without exemplars');
  } finally {
    await shutdown();
  }
});
