// The kept-text OpenMetrics rendering (src/telemetry/renderings/openmetrics-text.ts) against
// renderOpenMetrics of the collection's families, the rendering it replaces in scrapes: the same
// collections rendered by both, byte for byte, collection after collection, on the edge cases the
// text format's test covers (rendering-cases.ts) and those of OpenMetrics' own: exemplars that
// change while the counts do not, a counter whose family name a gauge takes in some collections
// only, units. What it keeps follows the collections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyResource } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { families } from '../../../src/telemetry/renderings/families.ts';
import { renderOpenMetrics } from '../../../src/telemetry/renderings/openmetrics.ts';
import { OpenMetricsText } from '../../../src/telemetry/renderings/openmetrics-text.ts';
import { deltaGauges, everyKind, keptTextTests } from './rendering-cases.ts';

/** Renders with both and asserts the same bytes; returns the text. */
function assertSame(text: OpenMetricsText, collection: ResourceMetrics, what: string): string {
  const expected = renderOpenMetrics(families(collection));
  const actual = text.render(collection);
  assert.equal(actual, expected, what);
  return actual;
}

test('every kind of metric and every escape, collection after collection: the bytes of renderOpenMetrics', async () => {
  const text = new OpenMetricsText();
  const rendered: string[] = [];
  for await (const { what, collection } of everyKind()) {
    rendered.push(assertSame(text, collection, what));
    assert.equal(rendered.at(-1), assertSame(new OpenMetricsText(), collection, `${what}: fresh`), `${what}: kept text and fresh text agree`);
  }
  const [, round1, round2, round3, round4] = rendered as [string, string, string, string, string];
  // The collections hold what the comparison is about.
  const le60 = /^ci_runner_test_traced_seconds_bucket\{runner="a",le="60"\} (\d+)( # .*)?$/m;
  assert.equal(le60.exec(round2)?.[2], ' # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 40 1700000000.002');
  assert.equal(le60.exec(round3)?.[1], le60.exec(round2)?.[1], 'round 3: the same count');
  assert.equal(le60.exec(round3)?.[2], ' # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 60 1700000000.003', 'a new exemplar');
  assert.match(round4, /^# TYPE ci_runner_test_traced_seconds histogram\n# UNIT ci_runner_test_traced_seconds seconds\n/m);
  assert.match(round4, /^# TYPE ci_runner_test_cpu_seconds counter\n# UNIT ci_runner_test_cpu_seconds seconds\n/m);
  // The gauge ci_runner_test_jobs is there in even rounds: then the counter is the unknown family ci_runner_test_jobs_total.
  assert.match(round1, /^# TYPE ci_runner_test_jobs counter$/m);
  assert.match(round2, /^# TYPE ci_runner_test_jobs gauge$/m);
  assert.match(round2, /^# TYPE ci_runner_test_jobs_total unknown$/m);
  assert.match(round3, /^# TYPE ci_runner_test_jobs counter$/m);
  assert.match(round4, /^ci_runner_test_requests_total\{otel_metric_overflow="true"\} \d+$/m);
  assert.match(round4, /^ci_runner_test_odd\{v="nan"\} NaN$/m);
  assert.match(round4, /^ci_runner_test_shapes 7$/m);
  assert.match(round4, /^# TYPE ci_runner_test_spread unknown$/m);
});

test('an empty collection is # EOF alone', () => {
  const text = new OpenMetricsText();
  assertSame(text, { resource: emptyResource(), scopeMetrics: [] }, 'no scopes');
  assertSame(text, { resource: emptyResource(), scopeMetrics: [{ scope: { name: 'x' }, metrics: [] }] }, 'an empty scope');
  assert.deepEqual(text.kept, { metrics: 0, series: 0 });
});

keptTextTests(() => new OpenMetricsText(), assertSame);

test('gauges collected with delta temporality (a new attributes object each time) reuse their kept text while their series stay in place', async () => {
  const text = new OpenMetricsText();
  const made: number[] = [];
  for await (const { what, collection } of deltaGauges([['a', 'b'], ['a', 'b'], ['b'], []])) {
    assertSame(text, collection, what);
    made.push(text.seriesMade);
  }
  // 2 limits, 4 builds and the load, found again in round 2; round 3: b moved up a place (its limit and builds made again).
  assert.deepEqual(made, [7, 7, 10, 10]);
  assert.deepEqual(text.kept, { metrics: 1, series: 1 });
});
