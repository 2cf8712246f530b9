import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatGoDuration } from '../../../src/system/go-duration.ts';
import { formatJobLine } from '../../../src/server/routes/jobs-list.ts';

const DURATIONS: ReadonlyArray<[number, string]> = [
  [0, '0s'],
  [0.0005, '500ns'],
  [0.0015, '1.5µs'],
  [1.5, '1.5ms'],
  [250, '250ms'],
  [1000, '1s'],
  [1500, '1.5s'],
  [62_500, '1m2.5s'],
  [3_600_000, '1h0m0s'],
  [3_723_000, '1h2m3s'],
  [90_061_000, '25h1m1s'],
  // Rounding carries into the next unit instead of printing 60s or 1000ms.
  [119_999.9, '1m59.9999s'],
  [119_999.9999999, '2m0s'],
  [3_599_999.9999999, '1h0m0s'],
  [999.9999999, '1s'],
  [0.0000001, '0s'],
  [1234.5678901, '1.23456789s'],
];

for (const [ms, expected] of DURATIONS) {
  test(`Go duration of ${ms} ms is ${expected}`, () => {
    assert.equal(formatGoDuration(ms), expected);
  });
}

test('a job line has GitLab Runner keys first, then ours, values with spaces quoted', () => {
  const line = formatJobLine({
    id: '42',
    name: 'unit tests',
    runner: 'local',
    url: 'https://gitlab.example.com/g/p/-/jobs/42',
    state: 'running',
    stage: 'step_script',
    executorStage: 'step_script',
    startedAt: 1_000,
    stageStartedAt: 2_000,
    pid: 1234,
  }, 63_500);
  assert.equal(
    line,
    'url=https://gitlab.example.com/g/p/-/jobs/42 state=running stage=step_script executor_stage=step_script ' +
      'duration=1m2.5s id=42 name="unit tests" runner=local pid=1234',
  );
});
