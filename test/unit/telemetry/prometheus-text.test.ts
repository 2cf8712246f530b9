// The Prometheus text rendering (src/telemetry/renderings/prometheus.ts) against the exporter's
// PrometheusSerializer: the same collections rendered by both, byte for byte, collection after
// collection (the second and later ones read the kept text), with the edge cases of escaping,
// values, histograms, units, overflow and names (rendering-cases.ts, shared with the OpenMetrics
// rendering's test); gauges collected with delta temporality find their kept text again; and the
// bound on what it keeps while series come and go. The runner's own scrapes, overflow included:
// series-limit.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { emptyResource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { PrometheusText } from '../../../src/telemetry/renderings/prometheus.ts';
import { deltaGauges, everyKind, keptTextTests } from './rendering-cases.ts';

const serializer = new PrometheusSerializer('', false, undefined, true, true);

/** Renders with both and asserts the same bytes; returns the text. */
function assertSame(text: PrometheusText, collection: ResourceMetrics, what: string): string {
  const expected = serializer.serialize(collection);
  const actual = text.render(collection);
  assert.equal(actual, expected, what);
  return actual;
}

test('every kind of metric and every escape, collection after collection: the bytes of the exporter', async () => {
  const text = new PrometheusText();
  let rendered = '';
  for await (const { what, collection } of everyKind()) {
    rendered = assertSame(text, collection, what);
    assert.equal(rendered, assertSame(new PrometheusText(), collection, `${what}: fresh`), `${what}: kept text and fresh text agree`);
  }
  // The collection holds what the comparison is about.
  assert.match(rendered, /^ci_runner_test_requests_total\{otel_metric_overflow="true"\} \d+$/m);
  assert.match(rendered, /^ci_runner_test_odd\{v="nan"\} NaN$/m);
  assert.match(rendered, /^ci_runner_test_odd\{v="inf"\} \+Inf$/m);
  assert.match(rendered, /^ci_runner_test_odd\{v="-inf"\} -Inf$/m);
  assert.match(rendered, /^ci_runner_test_shapes 7$/m);
  assert.match(rendered, /^ci_runner_test_requests_total\{runner="a \\"quoted\\" \\\\ back\\\\slash\\nnew line",stage=""\} 10$/m);
  assert.match(rendered, /^# HELP ci_runner_test_requests_total Requests,\\\\ "all"\\nof them\.$/m);
  assert.match(rendered, /^# UNIT ci_runner_test_level weird\\\\unit\\nx$/m);
  assert.match(rendered, /^# TYPE ci_runner_test_spread untyped$/m);
  assert.match(rendered, /^ci_runner_test_duration_seconds_bucket\{runner="a",le="1e-7"\} /m);
  assert.match(rendered, /^ci_runner_test_spread_plain_bucket\{le="\+Inf"\} 4$/m);
  assert.match(rendered, /^ci_runner_test_requests\{k="v"\} -1$/m);
  assert.match(rendered, /^ci_runner_test_observed_total\{http_method="GET",0digit="x"\} /m);
});

test('an empty collection is what the exporter writes for none', () => {
  const text = new PrometheusText();
  assertSame(text, { resource: emptyResource(), scopeMetrics: [] }, 'no scopes');
  assertSame(text, { resource: emptyResource(), scopeMetrics: [{ scope: { name: 'x' }, metrics: [] }] }, 'an empty scope');
  assert.deepEqual(text.kept, { metrics: 0, series: 0 });
});

keptTextTests(() => new PrometheusText(), assertSame);

test('gauges collected with delta temporality (a new attributes object each time) reuse their kept text while their series stay in place', async () => {
  const text = new PrometheusText();
  const rounds = [['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'c'], ['c', 'a'], ['c', 'a', 'b'], []];
  const made: number[] = [];
  let rendered = '';
  for await (const { what, collection } of deltaGauges(rounds)) {
    rendered = assertSame(text, collection, what);
    assert.equal(rendered, assertSame(new PrometheusText(), collection, `${what}: fresh`), `${what}: kept text and fresh text agree`);
    made.push(text.seriesMade);
  }
  // Round 1: 3 limits, 6 builds and the load; rounds 2 and 3 (values change in round 4 only) find them all again.
  assert.deepEqual(made.slice(0, 3), [10, 10, 10]);
  // A runner removed: those after it moved up a place, and are made again (c's limit and builds).
  assert.equal(made[3]! - made[2]!, 3);
  assert.equal(made[6], made[5], 'nothing to make for no runners');
  assert.match(rendered, /^ci_runner_test_load 0\.5$/m);
  assert.deepEqual(text.kept, { metrics: 1, series: 1 }, 'with no runners only the load is kept');
});
