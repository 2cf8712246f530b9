// The series limit per metric is set on every reader (not by a view): the scrapes' reader folds
// the series past it into the overflow series, which the text format writes as the exporter's
// serializer does, and the OTLP push's reader keeps the same limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { InstrumentType } from '@opentelemetry/sdk-metrics';
import { otlpPush } from '../../../src/telemetry/otlp-push.ts';
import { otlpMetricsSettings } from '../../../src/telemetry/otlp-settings.ts';
import { SERIES_LIMIT_PER_METRIC, Telemetry } from '../../../src/telemetry/telemetry.ts';

const serializer = new PrometheusSerializer('', false, undefined, true, true);

test("the runner's scrapes: the reader's series limit folds the rest into the overflow series, rendered as the exporter does", async () => {
  const telemetry = new Telemetry();
  try {
    const counter = telemetry.meter.createCounter('ci_runner_test_requests');
    for (let i = 0; i < SERIES_LIMIT_PER_METRIC + 10; i++) counter.add(1, { runner: `r${i}` });
    for (let round = 0; round < 3; round++) {
      counter.add(1, { runner: 'r0' });
      const scrape = await telemetry.collect();
      assert.equal(scrape.prometheus(), serializer.serialize(scrape.resourceMetrics), `round ${round}`);
      assert.match(scrape.prometheus(), /^ci_runner_test_requests_total\{otel_metric_overflow="true"\} 11$/m);
      assert.equal(scrape.prometheus().split('\n').filter((line) => line.startsWith('ci_runner_test_requests_total{')).length, SERIES_LIMIT_PER_METRIC);
    }
  } finally {
    await telemetry.shutdown();
  }
});

test('the OTLP push keeps as many series per metric as the scrapes, for every kind of instrument', async () => {
  const settings = otlpMetricsSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
  assert.ok(settings);
  const push = otlpPush(settings, { warn: () => undefined });
  try {
    for (const type of Object.values(InstrumentType)) assert.equal(push.reader.selectCardinalityLimit(type), SERIES_LIMIT_PER_METRIC, type);
  } finally {
    await push.reader.shutdown();
  }
});
