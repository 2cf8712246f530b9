// The stages of a job, with GitLab Runner's names and in its order, and the
// result a job ends with.

/** GitLab Runner's build stages that this runner goes through, in order. */
export const BUILD_STAGES = [
  'prepare_executor',
  'prepare_script',
  'get_sources',
  'step_script',
  'after_script',
  'cleanup_file_variables',
] as const;

/** The fixed stages, and `step_<name>` for the named steps of a coordinator's job. */
export type BuildStage = (typeof BUILD_STAGES)[number] | `step_${string}`;

export type JobState = 'success' | 'failed' | 'canceled';

/** GitLab's failure reasons that this executor can produce. */
export type FailureReason = 'script_failure' | 'job_execution_timeout' | 'runner_system_failure';

/** The failure reasons a finished job is counted under: the executor's, and GitLab's catch-all (a canceled coordinator job). */
export const COUNTED_FAILURE_REASONS: readonly (FailureReason | 'unknown_failure')[] = ['script_failure', 'job_execution_timeout', 'runner_system_failure', 'unknown_failure'];

/** How long a stage took; only stages that were entered are listed, in the order they ran. */
export interface StageTiming {
  readonly stage: BuildStage;
  readonly durationSeconds: number;
}

/** Records stage changes and their durations. */
export class StageClock {
  private readonly timings: StageTiming[] = [];
  private current: { stage: BuildStage; since: number } | undefined;

  constructor(private readonly onStage: (stage: BuildStage) => void) {}

  enter(stage: BuildStage): void {
    this.close();
    this.current = { stage, since: performance.now() };
    this.onStage(stage);
  }

  /** Ends the current stage; returns all timings so far. */
  close(): StageTiming[] {
    if (this.current !== undefined) {
      this.timings.push({ stage: this.current.stage, durationSeconds: (performance.now() - this.current.since) / 1000 });
      this.current = undefined;
    }
    return [...this.timings];
  }
}
