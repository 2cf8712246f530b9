// Telemetry.collect(): scrapes that come while a collection runs share it,
// and each rendering of a collection is made once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';

test('concurrent collections are one collection; the next one after it is new', async () => {
  const telemetry = new Telemetry();
  try {
    let callbacks = 0;
    telemetry.meter.createObservableGauge('ci_runner_test_gauge').addCallback((result) => {
      callbacks++;
      result.observe(callbacks);
    });
    const burst = await Promise.all([telemetry.collect(), telemetry.collect(), telemetry.collect()]);
    assert.equal(callbacks, 1, 'one collection for the burst');
    assert.ok(burst.every((scrape) => scrape === burst[0]));
    const text = burst[0]!.prometheus();
    assert.equal(burst[1]!.prometheus(), text, 'the same rendering');
    assert.match(text, /^ci_runner_test_gauge 1$/m);
    const later = await telemetry.collect();
    assert.notEqual(later, burst[0]);
    assert.equal(callbacks, 2);
    assert.match(later.prometheus(), /^ci_runner_test_gauge 2$/m);
  } finally {
    await telemetry.shutdown();
  }
});
