// How a job is going, stage after stage: its state, GitLab's failure reason,
// the exit status, and the text of GitLab's closing line (`exit status 3`,
// `execution took longer than 1h0m0s seconds`, `canceled`, ...).
import type { StageOutcome } from '../job/executor.ts';
import type { AfterScriptResult, FailureReason, JobState } from '../job/result.ts';
import { exitText, timeoutText } from './log-lines.ts';

/** How a timed-out stage ran out of time: the job's own timeout, or RUNNER_SCRIPT_TIMEOUT. */
export type TimeoutKind = 'job' | 'script';

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Outcome {
  state: JobState = 'success';
  failureReason: FailureReason | undefined;
  exitCode: number | undefined;
  /** The closing line's reason; undefined on success. */
  failure: string | undefined;
  /** What the log says of a system failure; the runner's own errors may name its paths, so by default it says little. */
  systemText: string | undefined;
  afterScript: AfterScriptResult | undefined;
  /** The job's own timeout ended it: nothing more runs. */
  jobTimedOut = false;
  private readonly errors: string[] = [];

  constructor(private readonly timeoutSeconds: number) {}

  get systemError(): string | undefined {
    return this.errors.length > 0 ? this.errors.join('; ') : undefined;
  }

  get failed(): boolean {
    return this.state !== 'success';
  }

  /** CI_JOB_STATUS as after_script sees it. */
  get ciJobStatus(): string {
    if (this.state === 'success') return 'success';
    if (this.state === 'canceled') return 'canceled';
    return this.failureReason === 'job_execution_timeout' ? 'timedout' : 'failed';
  }

  /** Records how a script stage ended; true when it succeeded. */
  fromStage(stage: StageOutcome, timeout: TimeoutKind): boolean {
    if (stage.outcome === 'canceled') {
      this.state = 'canceled';
      this.failureReason = undefined;
      this.exitCode = undefined;
      this.failure = 'canceled';
      return false;
    }
    if (stage.outcome === 'timeout') {
      this.state = 'failed';
      this.failureReason = 'job_execution_timeout';
      this.exitCode = undefined;
      this.jobTimedOut = timeout === 'job';
      this.failure = timeout === 'job' ? timeoutText(this.timeoutSeconds) : 'script timeout: context deadline exceeded';
      return false;
    }
    this.exitCode = stage.exitCode;
    if (stage.exitCode === 0 && stage.signal === undefined) {
      // A stage tried again (get_sources) leaves nothing of its failed attempts.
      this.state = 'success';
      this.failureReason = undefined;
      this.failure = undefined;
      return true;
    }
    this.state = 'failed';
    this.failureReason = 'script_failure';
    this.failure = exitText(stage.exitCode, stage.signal);
    return false;
  }

  fail(reason: FailureReason, text: string, exitCode?: number): void {
    this.state = 'failed';
    this.failureReason = reason;
    this.exitCode = exitCode;
    this.failure = text;
  }

  /** The runner itself failed: `what` and the error go to the runner's log, `shown` (if any) to the job's. */
  systemFailure(what: string, error: unknown, shown?: string): void {
    this.state = 'failed';
    this.failureReason = 'runner_system_failure';
    // An exit code of an earlier step does not describe this end.
    this.exitCode = undefined;
    this.systemText = shown;
    this.failure = shown ?? 'the runner could not run the job';
    this.errors.push(`${what}: ${message(error)}`);
  }

  /** A problem that does not change the job's result (a cleanup that failed), for the runner's log. */
  note(text: string): void {
    this.errors.push(text);
  }

  cancel(): void {
    this.state = 'canceled';
    this.failureReason = undefined;
    // An earlier step's exit status does not describe this end.
    this.exitCode = undefined;
    this.failure = 'canceled';
  }
}
