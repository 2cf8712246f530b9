// Queue time and depth: how long jobs waited before this runner took them, and how full the queue
// was, as GitLab Runner reports them (commands/builds_helper.go) from the payload's job_info, and
// for the local queue from a job's submission time and the pending/ directory.
import type { Meter } from '@opentelemetry/api';
import type { RunnerStatus, StartedJob } from '../job/status.ts';

/** GitLab Runner's gitlab_runner_job_queue_duration_seconds buckets. */
const QUEUE_DURATION_BUCKETS = [1, 3, 10, 30, 60, 120, 300, 900, 1800, 3600];
/** Runners whose last queue size/depth is kept (the configured ones; a runner reloaded away is forgotten at the next collection). */
const MAX_RUNNERS = 256;

export interface QueueMetrics {
  jobStarted(job: StartedJob): void;
  /** Starts observing the local queues' pending jobs. */
  observe(agent: RunnerStatus): void;
}

export function registerQueueMetrics(meter: Meter): QueueMetrics {
  const waited = meter.createHistogram('ci_runner_job_queue_duration_seconds', {
    description: 'How long jobs waited in their queue before this runner took them (GitLab: job_info.time_in_queue_seconds; local queue: from submission).',
    advice: { explicitBucketBoundaries: QUEUE_DURATION_BUCKETS },
  });
  const size = meter.createObservableGauge('ci_runner_job_queue_size', {
    description: "The coordinator's queue size for this runner when it handed out the runner's latest job (GitLab's job_info.queue_size).",
  });
  const depth = meter.createObservableGauge('ci_runner_job_queue_depth', {
    description: "How deep the coordinator searched its queue for the runner's latest job (GitLab's job_info.queue_depth).",
  });
  const latest = new Map<string, { size?: number | undefined; depth?: number | undefined }>();
  let agentOf: RunnerStatus | undefined;
  meter.addBatchObservableCallback((result) => {
    if (agentOf !== undefined) {
      // A runner removed by a reload: its series go with it (gauge-series.ts).
      const configured = new Set(agentOf.config.runners.map((runner) => runner.name));
      for (const runner of latest.keys()) if (!configured.has(runner)) latest.delete(runner);
    }
    for (const [runner, sent] of latest) {
      if (sent.size !== undefined) result.observe(size, sent.size, { runner });
      if (sent.depth !== undefined) result.observe(depth, sent.depth, { runner });
    }
  }, [size, depth]);

  return {
    jobStarted({ runner, queue }) {
      // A source that cannot tell records nothing: never a made-up zero.
      if (queue === undefined) return;
      waited.record(queue.waitedSeconds, queue.projectJobsRunning === undefined ? { runner } : { runner, project_jobs_running: queue.projectJobsRunning });
      if ((queue.size !== undefined || queue.depth !== undefined) && (latest.has(runner) || latest.size < MAX_RUNNERS)) {
        latest.set(runner, { size: queue.size, depth: queue.depth });
      }
    },

    observe(agent) {
      agentOf = agent;
      const pending = meter.createObservableGauge('ci_runner_local_queue_pending_jobs', {
        description: "Jobs waiting in each local-queue runner's pending/ directory at its latest poll.",
      });
      pending.addCallback((result) => {
        for (const [runner, count] of agent.pendingJobs()) result.observe(count, { runner });
      });
    },
  };
}
