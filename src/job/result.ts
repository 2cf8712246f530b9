// How a job went: GitLab Runner's build stages, job states and failure
// reasons, and the result every executor's run ends with.
import type { LogStats } from './log.ts';
import type { TransferRecord } from './transfer.ts';

/**
 * GitLab Runner's build stages, in the order a job goes through them. The
 * cache and artifact stages are entered only by jobs that have something for
 * them; `step_<name>` stages follow step_script for a coordinator's named steps.
 */
export const BUILD_STAGES = [
  'prepare_executor',
  'prepare_script',
  'get_sources',
  'restore_cache',
  'download_artifacts',
  'step_script',
  'after_script',
  'archive_cache',
  'archive_cache_on_failure',
  'upload_artifacts_on_success',
  'upload_artifacts_on_failure',
  'cleanup_file_variables',
] as const;

/** The fixed stages, and `step_<name>` for the named steps of a coordinator's job. */
export type BuildStage = (typeof BUILD_STAGES)[number] | `step_${string}`;

/** How a job ended (GitLab's `canceled` included; a timeout is `failed` with job_execution_timeout). */
export const JOB_STATES = ['success', 'failed', 'canceled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** GitLab's failure reasons that a run can end with. */
export type FailureReason = 'script_failure' | 'job_execution_timeout' | 'runner_system_failure' | 'runner_configuration_error' | 'image_pull_failure';

/** The failure reasons a finished job is counted under: a run's, and GitLab's catch-all. */
export const COUNTED_FAILURE_REASONS: readonly (FailureReason | 'unknown_failure')[] = [
  'script_failure',
  'job_execution_timeout',
  'runner_system_failure',
  'runner_configuration_error',
  'image_pull_failure',
  'unknown_failure',
];

/** How long a stage took; only stages that were entered are listed, in the order they ran. */
export interface StageTiming {
  readonly stage: BuildStage;
  readonly durationSeconds: number;
}

/** What a job's processes used, as the executor measures it. */
export interface ResourceUse {
  readonly cpuSeconds: number;
  /**
   * The peak resident memory: summed over the processes (sampled), or the cgroup's peak usage (page cache included);
   * undefined when no sample saw a process's memory (its processes ended before the first sample).
   */
  readonly peakRssBytes: number | undefined;
  /**
   * sampled: /proc read about once a second (approximate: the last interval of a stage is not seen);
   * cgroup: the kernel's own totals for the job's containers, services included (exact).
   */
  readonly measuredBy: 'sampled' | 'cgroup';
}

export interface AfterScriptResult {
  /** undefined when the script could not start. */
  readonly exitCode: number | undefined;
  readonly timedOut: boolean;
  /** Stopped by a forced stop. */
  readonly canceled: boolean;
}

export interface JobResult {
  readonly state: JobState;
  /** undefined unless state is `failed`. */
  readonly failureReason: FailureReason | undefined;
  /** The script's exit status when it ended by itself (0 on success); undefined after a timeout, cancel or system failure. */
  readonly exitCode: number | undefined;
  /** Why the job did not succeed, as GitLab's closing line says it (`exit status 1`, `canceled`, ...). */
  readonly failure?: string | undefined;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly durationSeconds: number;
  /** The stages entered, in order, with their durations. */
  readonly stages: StageTiming[];
  /** undefined when after_script did not run (none defined, or the script never started). */
  readonly afterScript: AfterScriptResult | undefined;
  readonly log: LogStats;
  /** What went wrong for runner_system_failure, or a cleanup that failed; never shown in the job log. */
  readonly systemError: string | undefined;
  /** CPU and peak memory of the job's processes, approximately (as the executor measures them). */
  readonly resources: ResourceUse | undefined;
  /** What the artifact and cache stages moved, in order. */
  readonly transfers: readonly TransferRecord[];
}

/** The result of a job the runner could not even start (its log could not be opened). */
export function systemFailureResult(error: string, at: Date = new Date()): JobResult {
  return {
    state: 'failed',
    failureReason: 'runner_system_failure',
    exitCode: undefined,
    startedAt: at,
    finishedAt: at,
    durationSeconds: 0,
    stages: [],
    afterScript: undefined,
    log: { receivedBytes: 0, writtenBytes: 0, droppedBytes: 0, truncated: false, sinkError: undefined },
    systemError: error,
    resources: undefined,
    transfers: [],
  };
}
