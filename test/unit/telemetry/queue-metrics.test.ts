// The queue-time metrics made from started jobs' QueueInfo, and the local queues' pending gauge,
// read back from the Prometheus exposition as a scrape serves it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunnerStatus } from '../../../src/job/status.ts';
import { registerQueueMetrics } from '../../../src/telemetry/queue-metrics.ts';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { fixedStatus } from '../../support/runner-status.ts';

async function exposition(act: (metrics: ReturnType<typeof registerQueueMetrics>) => void): Promise<string> {
  const telemetry = new Telemetry();
  try {
    act(registerQueueMetrics(telemetry.meter));
    return (await telemetry.collect()).prometheus();
  } finally {
    await telemetry.shutdown();
  }
}

test("queue time goes to GitLab Runner's buckets, by runner and GitLab's project_jobs_running", async () => {
  const body = await exposition((metrics) => {
    metrics.jobStarted({ runner: 'gl', queue: { waitedSeconds: 2.5, size: 7, depth: 3, projectJobsRunning: '+Inf' } });
    metrics.jobStarted({ runner: 'gl', queue: { waitedSeconds: 400, size: 4, depth: 1, projectJobsRunning: '+Inf' } });
    metrics.jobStarted({ runner: 'local', queue: { waitedSeconds: 0.2 } });
  });
  const buckets = [...body.matchAll(/^ci_runner_job_queue_duration_seconds_bucket\{runner="gl",project_jobs_running="\+Inf",le="([^"]+)"\} (\d+)$/gm)]
    .map(([, le, count]) => [le, Number(count)]);
  assert.deepEqual(buckets, [['1', 0], ['3', 1], ['10', 1], ['30', 1], ['60', 1], ['120', 1], ['300', 1], ['900', 2], ['1800', 2], ['3600', 2], ['+Inf', 2]]);
  assert.match(body, /^ci_runner_job_queue_duration_seconds_sum\{runner="gl",project_jobs_running="\+Inf"\} 402\.5$/m);
  assert.match(body, /^ci_runner_job_queue_duration_seconds_count\{runner="local"\} 1$/m);
  // The latest job's size and depth; none for a runner whose jobs never carried them.
  assert.match(body, /^ci_runner_job_queue_size\{runner="gl"\} 4$/m);
  assert.match(body, /^ci_runner_job_queue_depth\{runner="gl"\} 1$/m);
  assert.doesNotMatch(body, /^ci_runner_job_queue_(size|depth)\{runner="local"\}/m);
});

test('a job whose source cannot tell its queue time is not observed, never a made-up zero', async () => {
  const body = await exposition((metrics) => metrics.jobStarted({ runner: 'x', queue: undefined }));
  assert.doesNotMatch(body, /^ci_runner_job_queue_duration_seconds_count/m);
});

test('the local queue pending gauge reads each runner whose source sees its queue', async () => {
  const status: RunnerStatus = { ...fixedStatus(), pendingJobs: () => new Map([['local', 5], ['other', 0]]) };
  const body = await exposition((metrics) => metrics.observe(status));
  assert.match(body, /^ci_runner_local_queue_pending_jobs\{runner="local"\} 5$/m);
  assert.match(body, /^ci_runner_local_queue_pending_jobs\{runner="other"\} 0$/m);
});
