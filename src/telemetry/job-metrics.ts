// Metrics that follow the jobs: live build state from the agent's view (so
// they always match it), counters and histograms from finished jobs.
import type { Meter } from '@opentelemetry/api';
import { BUILD_STAGES, COUNTED_FAILURE_REASONS } from '../job/result.ts';
import type { FinishedJob, RunnerStatus } from '../job/status.ts';
import type { Exemplars } from './exemplars.ts';
import { registerTransferMetrics } from './transfer-metrics.ts';
import { AttributeSets } from './attribute-sets.ts';

/** Named step stages remembered for ci_runner_builds; coordinators send few (GitLab: release). */
const MAX_NAMED_STEPS = 32;
/** Runner names remembered across reloads for ci_runner_builds. */
const MAX_RUNNERS_REMEMBERED = 256;

const JOB_DURATION = 'ci_runner_job_duration_seconds';
/** GitLab Runner's job duration buckets. */
const JOB_DURATION_BUCKETS = [30, 60, 300, 600, 1800, 3600, 7200, 10800, 18000, 36000];
const STAGE_DURATION_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600];

export interface JobMetrics {
  jobFinished(job: FinishedJob): void;
  /** Starts observing the agent's live state. */
  observe(agent: RunnerStatus): void;
}

/** `exemplars`: where the job duration histogram keeps the traced jobs' exemplars; none, no exemplars. */
export function registerJobMetrics(meter: Meter, exemplars?: Exemplars): JobMetrics {
  const jobs = meter.createCounter('ci_runner_jobs_total', { description: 'Jobs this runner has finished, by runner.' });
  const failed = meter.createCounter('ci_runner_failed_jobs_total', { description: 'Jobs that failed, by runner and failure reason.' });
  const duration = meter.createHistogram(JOB_DURATION, {
    description: 'Job durations in seconds.',
    advice: { explicitBucketBoundaries: JOB_DURATION_BUCKETS },
  });
  // A slow bucket links to the trace of its latest job: the trace id of the job's span.
  const durationExemplars = exemplars?.histogram(JOB_DURATION, JOB_DURATION_BUCKETS);
  const stageDuration = meter.createHistogram('ci_runner_job_stage_duration_seconds', {
    description: 'Durations of the job stages in seconds.',
    advice: { explicitBucketBoundaries: STAGE_DURATION_BUCKETS },
  });

  const cpu = meter.createHistogram('ci_runner_job_cpu_seconds', {
    description: "CPU seconds used by each job's processes (shell: sampled from /proc, an approximation; docker: the containers' cgroup).",
    advice: { explicitBucketBoundaries: [0.1, 1, 10, 60, 300, 1800, 3600, 14400] },
  });
  const peakRss = meter.createHistogram('ci_runner_job_peak_rss_bytes', {
    description: "Peak memory of each job's processes together (shell: resident, sampled from /proc; docker: the containers' cgroup peak).",
    advice: { explicitBucketBoundaries: [16, 64, 256, 1024, 4096, 16384].map((mib) => mib * 1024 * 1024) },
  });
  const transfers = registerTransferMetrics(meter);

  return {
    jobFinished({ runner, result, span }) {
      // Absent where the executor could not measure them: never a made-up zero.
      if (result.resources !== undefined) {
        cpu.record(result.resources.cpuSeconds, { runner });
        if (result.resources.peakRssBytes !== undefined) peakRss.record(result.resources.peakRssBytes, { runner });
      }
      jobs.add(1, { runner });
      if (result.state === 'failed') failed.add(1, { runner, failure_reason: result.failureReason ?? 'unknown_failure' });
      duration.record(result.durationSeconds, { runner });
      if (span !== undefined) durationExemplars?.record(result.durationSeconds, { runner }, span, result.finishedAt.getTime());
      for (const { stage, durationSeconds } of result.stages) stageDuration.record(durationSeconds, { runner, stage });
      transfers.jobFinished({ runner, result });
    },

    observe(agent) {
      const builds = meter.createObservableGauge('ci_runner_builds', {
        description: 'Jobs running now, by runner, stage and state.',
      });
      const stageAge = meter.createObservableGauge('ci_runner_job_stage_age_max_seconds', {
        description: 'How long the oldest job now in each stage has been in it (0 when none is).',
      });
      const limit = meter.createObservableGauge('ci_runner_limit', { description: 'The limit setting of each runner (0 = no limit).' });
      const loaded = meter.createObservableCounter('ci_runner_configuration_loaded_total', { description: 'Configuration loads, the first one included.' });
      const loadErrors = meter.createObservableCounter('ci_runner_configuration_loading_error_total', { description: 'Configuration reloads that failed.' });
      const lastLoad = meter.createObservableGauge('ci_runner_configuration_last_load_successful', {
        description: 'Whether the latest configuration load succeeded (1) or failed and the previous configuration is still in use (0).',
      });
      // The attribute sets observed on every scrape, each made once (attribute-sets.ts).
      const limitSets = new AttributeSets((runner: string) => ({ runner }));
      // Keyed by the runner's name, its length first so that no name and stage can read as another pair.
      const stageKey = (runner: string, stage: string): string => `${runner.length}:${runner}${stage}`;
      const stageSets = new AttributeSets((key: string) => {
        const colon = key.indexOf(':');
        const end = colon + 1 + Number(key.slice(0, colon));
        return { runner: key.slice(colon + 1, end), stage: key.slice(end) };
      });
      const buildSets = new AttributeSets((key: string) => ({ ...stageSets.get(key), state: 'running' }));
      // Named steps (step_release, ...) seen so far: once observed their series must go on reading 0.
      const namedSteps = new Set<string>();
      // Runners whose job counters were started at 0 (see remember).
      const runnersSeen = new Set<string>();
      // The job counters of a runner start at 0 rather than appearing with
      // their first event: rate() and increase() cannot see the event that
      // creates a series, and alerts on a rare failure reason would miss it.
      const remember = (runner: string): void => {
        if (runnersSeen.has(runner) || runnersSeen.size >= MAX_RUNNERS_REMEMBERED) return;
        runnersSeen.add(runner);
        jobs.add(0, { runner });
        for (const reason of COUNTED_FAILURE_REASONS) failed.add(0, { runner, failure_reason: reason });
        transfers.remember(runner);
      };
      meter.addBatchObservableCallback((result) => {
        const now = Date.now();
        const running = agent.runningJobs();
        for (const job of running) {
          if (!(BUILD_STAGES as readonly string[]).includes(job.stage) && namedSteps.size < MAX_NAMED_STEPS) namedSteps.add(job.stage);
        }
        // Every runner x stage series of the runners there are now is observed
        // each time, 0 included, so a stage's series does not come and go with
        // its jobs. A runner removed by a reload is there as long as a job of
        // its own runs; then its gauges go (gauge-series.ts), while its job
        // counters stay, as Prometheus expects of counters.
        const present = new Set<string>();
        for (const runner of agent.config.runners) {
          remember(runner.name);
          present.add(runner.name);
          result.observe(limit, runner.limit, limitSets.get(runner.name));
        }
        for (const job of running) {
          remember(job.runner);
          present.add(job.runner);
        }
        for (const name of present) {
          for (const stage of [...BUILD_STAGES, ...namedSteps]) {
            let count = 0;
            let oldest = 0;
            for (const job of running) {
              if (job.runner !== name || job.stage !== stage) continue;
              count++;
              oldest = Math.max(oldest, (now - job.stageStartedAt) / 1000);
            }
            const key = stageKey(name, stage);
            result.observe(builds, count, buildSets.get(key));
            result.observe(stageAge, oldest, stageSets.get(key));
          }
        }
        result.observe(loaded, agent.configurationLoads);
        result.observe(loadErrors, agent.configurationLoadErrors);
        result.observe(lastLoad, agent.lastConfigurationLoadSucceeded ? 1 : 0);
      }, [builds, stageAge, limit, loaded, loadErrors, lastLoad]);
    },
  };
}
