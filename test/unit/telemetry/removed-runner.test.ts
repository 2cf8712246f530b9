// A runner removed by a reload (SIGHUP) takes its gauges with it: no
// ci_runner_limit, ci_runner_builds, stage age, request concurrency, queue
// gauges of it at the next scrape (the dashboard's runner list reads
// ci_runner_limit). Its job counters stay, as counters should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Config, DEFAULT_CONFIG, DEFAULT_RUNNER } from '../../../src/config/types.ts';
import type { JobView, RunnerStatus } from '../../../src/job/status.ts';
import { registerRequestConcurrency } from '../../../src/telemetry/api-metrics.ts';
import { registerJobMetrics } from '../../../src/telemetry/job-metrics.ts';
import { registerQueueMetrics } from '../../../src/telemetry/queue-metrics.ts';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { fixedStatus } from '../../support/runner-status.ts';

function configWith(names: readonly string[]): Config {
  return { ...DEFAULT_CONFIG, runners: names.map((name) => ({ ...DEFAULT_RUNNER, name, limit: 3 })) };
}

const RUNNER_GAUGES = [
  'ci_runner_limit',
  'ci_runner_builds',
  'ci_runner_job_stage_age_max_seconds',
  'ci_runner_request_concurrency',
  'ci_runner_local_queue_pending_jobs',
  'ci_runner_job_queue_size',
];

/** The gauge names that have a series labelled runner="NAME". */
function gaugesOf(body: string, name: string): string[] {
  return RUNNER_GAUGES.filter((gauge) => new RegExp(`^${gauge}\\{runner="${name}"[,}]`, 'm').test(body));
}

function job(runner: string): JobView {
  const now = Date.now();
  return {
    id: '1',
    name: 'j',
    runner,
    url: '',
    state: 'running',
    stage: 'step_script',
    executorStage: 'step_script',
    startedAt: now,
    stageStartedAt: now,
    pid: undefined,
  };
}

test('a runner removed by a reload loses every gauge series at the next scrape; its job counters stay', async () => {
  const telemetry = new Telemetry();
  let names = ['kept', 'removed'];
  let running: JobView[] = [];
  const status: RunnerStatus = {
    ...fixedStatus(),
    get config() {
      return configWith(names);
    },
    runningJobs: () => running,
    requestsInFlight: () => new Map(names.map((name) => [name, 1])),
    pendingJobs: () => new Map(names.map((name) => [name, 2])),
  };
  try {
    const jobs = registerJobMetrics(telemetry.meter);
    const queue = registerQueueMetrics(telemetry.meter);
    jobs.observe(status);
    queue.observe(status);
    registerRequestConcurrency(telemetry.meter, status);
    queue.jobStarted({ runner: 'removed', queue: { waitedSeconds: 1, size: 4, depth: 1 } });

    const before = (await telemetry.collect()).prometheus();
    assert.deepEqual(gaugesOf(before, 'removed'), RUNNER_GAUGES);
    assert.match(before, /^ci_runner_jobs_total\{runner="removed"\} 0$/m);

    // Removed while one of its jobs still runs: its builds go on until the job ends.
    names = ['kept'];
    running = [job('removed')];
    const during = (await telemetry.collect()).prometheus();
    assert.match(during, /^ci_runner_builds\{runner="removed",stage="step_script",state="running"\} 1$/m);
    assert.doesNotMatch(during, /^ci_runner_limit\{runner="removed"\}/m);

    running = [];
    const after = (await telemetry.collect()).prometheus();
    assert.deepEqual(gaugesOf(after, 'removed'), [], after);
    assert.deepEqual(gaugesOf(after, 'kept').sort(), RUNNER_GAUGES.filter((gauge) => gauge !== 'ci_runner_job_queue_size').sort());
    assert.match(after, /^ci_runner_jobs_total\{runner="removed"\} 0$/m, 'a counter stays');
  } finally {
    await telemetry.shutdown();
  }
});
