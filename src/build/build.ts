// The build sequence (GitLab Runner's common/build.go role): runs one job's
// stages in GitLab's order on any executor, and owns what is the same for all
// of them - the job log (masking, output limit, the closing line), timeouts,
// cancel, and the result.
//
//   prepare_executor        the executor prepares the job's environment
//   prepare_script          file variables are written
//   get_sources             the job's repository is fetched, if it names one
//   step_script             before_script + script in one shell
//   step_<name>             further steps of a coordinator's job, while all succeeds
//   after_script            always (after success, failure, timeout or cancel),
//                           with its own timeout; its result does not change the job's
//   cleanup_file_variables  the executor removes what it made
//
// (restore_cache, download_artifacts, archive_cache and upload_artifacts_*
// come with artifacts and cache; until then a job that asks for them gets a
// warning at the top of its log: unsupported.ts.)
//
// Stopping: `signal` cancels (the script stops, after_script still runs),
// `forceSignal` stops everything (after_script too), `killSignal` on top of
// that ends what runs at once, without a grace period.
import { Buffer } from 'node:buffer';
import type { Executor, JobEnvironment, ShellKind, StageCommand } from '../job/executor.ts';
import type { LogSink } from '../job/log.ts';
import type { Job } from '../job/model.ts';
import { type AfterScriptResult, type BuildStage, type FailureReason, type JobResult, type JobState, systemFailureResult } from '../job/result.ts';
import { JobLog, outputLimitBytes } from '../trace/job-log.ts';
import { failureLine } from './failure-line.ts';
import { fileVariableName, jobVariables, maskedValues } from './job-variables.ts';
import { sourcesScript, stepScript } from './scripts.ts';
import { StageClock } from './stage-clock.ts';
import { unsupportedWarning } from './unsupported.ts';

export interface BuildOptions {
  readonly executor: Executor;
  /** The runner's configured name (CI_RUNNER_DESCRIPTION). */
  readonly runnerName: string;
  /** Receives the job's log, masked and limited. Chunks may be subarrays of the runner's buffers: copy what you keep. */
  readonly log: LogSink;
  /** Bytes of log kept before it is cut; default GitLab's 4 MiB, Infinity for no limit. */
  readonly outputLimitBytes?: number;
  /** Called as each stage starts. Must not throw. */
  readonly onStage?: (stage: BuildStage) => void;
  /** Called with the pid of a stage's process when it starts, and with undefined when it ends. */
  readonly onProcess?: (pid: number | undefined) => void;
  /**
   * Cancel: stops the job's script (before_script + script) if it is running
   * or has not started; after_script then runs (if the script had started)
   * and the job is `canceled`. Once the script has ended a cancel changes
   * nothing: after_script is cleanup and ends within its own timeout.
   */
  readonly signal?: AbortSignal;
  /** A second cancel: stops whatever runs, after_script included, and skips what is left but cleanup. */
  readonly forceSignal?: AbortSignal;
  /** The runner exits now: like forceSignal, and what runs is ended at once, without a grace period. */
  readonly killSignal?: AbortSignal;
  /** Timeout of a job that sets none, in seconds; default 3600 (GitLab's). */
  readonly defaultTimeoutSeconds?: number;
  /** after_script's own timeout in seconds; default 300 (GitLab's). */
  readonly afterScriptTimeoutSeconds?: number;
}

export const DEFAULT_JOB_TIMEOUT_SECONDS = 3600;
export const DEFAULT_AFTER_SCRIPT_TIMEOUT_SECONDS = 300;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A step name as a stage label can hold it. */
function stepStage(name: string): BuildStage {
  return /^[a-z0-9_]{1,64}$/.test(name) ? `step_${name}` : 'step_other';
}

/** Runs one job to its end; never rejects (a failure of the runner itself is a runner_system_failure). */
export async function runBuild(job: Job, options: BuildOptions): Promise<JobResult> {
  let build: Build;
  try {
    build = new Build(job, options);
  } catch (error) {
    // Not even a job log: the closing line goes to the sink as is (it holds nothing of the job's).
    try {
      options.log(Buffer.from(`${failureLine('failed', 'runner_system_failure', undefined, 0)}\n`));
    } catch {
      // the result says the rest
    }
    return systemFailureResult(`build: ${message(error)}`);
  }
  return build.run();
}

class Build {
  private readonly startedAt = new Date();
  private readonly start = performance.now();
  private readonly timeoutSeconds: number;
  private readonly deadline: number;
  private readonly clock: StageClock;
  private readonly variables: Record<string, string>;
  private readonly log: JobLog;
  private readonly stopSignals: readonly AbortSignal[];
  private environment: JobEnvironment | undefined;
  private state: JobState = 'failed';
  private failureReason: FailureReason | undefined;
  private exitCode: number | undefined;
  private afterScript: AfterScriptResult | undefined;
  private readonly errors: string[] = [];

  constructor(private readonly job: Job, private readonly options: BuildOptions) {
    this.timeoutSeconds = job.timeoutSeconds ?? options.defaultTimeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS;
    this.deadline = this.start + this.timeoutSeconds * 1000;
    this.clock = new StageClock((stage) => options.onStage?.(stage));
    const { executor } = options;
    this.variables = jobVariables(job, {
      placement: executor.place(job),
      runnerName: options.runnerName,
      timeoutSeconds: this.timeoutSeconds,
      startedAt: this.startedAt,
      shared: executor.info.shared,
    });
    // Masking needs the values as the job will see them (expanded), not only as sent.
    this.log = new JobLog({
      secrets: [...maskedValues(job, this.variables), ...(job.secrets ?? [])],
      limitBytes: options.outputLimitBytes ?? outputLimitBytes(0),
      sink: options.log,
    });
    this.stopSignals = [options.signal, options.forceSignal, options.killSignal].filter((s) => s !== undefined);
  }

  async run(): Promise<JobResult> {
    const warning = unsupportedWarning(this.job, this.options.executor.info);
    for (const line of [...(warning === undefined ? [] : [warning]), ...(this.job.warnings ?? [])]) {
      this.log.write(Buffer.from(`WARNING: ${line}\n`));
    }
    const kill = (): void => this.environment?.kill();
    this.options.killSignal?.addEventListener('abort', kill, { once: true });
    try {
      if (await this.prepare() && await this.getSources()) await this.script();
    } catch (error) {
      // A stage throwing outside its own handling is the runner's failure, never the end of the job's bookkeeping.
      this.systemFailure('build', error);
    }
    try {
      await this.cleanup();
    } finally {
      this.options.killSignal?.removeEventListener('abort', kill);
    }
    return this.result();
  }

  private stopped(): boolean {
    return this.stopSignals.some((signal) => signal.aborted);
  }

  private get forced(): boolean {
    return this.options.forceSignal?.aborted === true || this.options.killSignal?.aborted === true;
  }

  private systemFailure(what: string, error: unknown): void {
    this.state = 'failed';
    this.failureReason = 'runner_system_failure';
    // An exit code of an earlier step does not describe this end.
    this.exitCode = undefined;
    this.errors.push(`${what}: ${message(error)}`);
  }

  /** prepare_executor and prepare_script; false when the job cannot go on. */
  private async prepare(): Promise<boolean> {
    this.clock.enter('prepare_executor');
    try {
      this.environment = await this.options.executor.prepare(this.job);
    } catch (error) {
      this.systemFailure('prepare_executor', error);
      return false;
    }
    this.clock.enter('prepare_script');
    try {
      for (const variable of this.job.variables) {
        if (variable.file) await this.environment.writeFile(fileVariableName(variable), variable.value);
      }
    } catch (error) {
      this.systemFailure('prepare_script', error);
      return false;
    }
    return true;
  }

  /** get_sources: nothing to fetch unless the job names a repository and GIT_STRATEGY is not none. */
  private async getSources(): Promise<boolean> {
    const { repository } = this.job;
    if (repository === undefined || this.variables['GIT_STRATEGY'] === 'none' || this.stopped()) {
      this.clock.enter('get_sources');
      return true;
    }
    return this.jobStep('get_sources', (shell) => sourcesScript(shell, repository));
  }

  /** step_script, the named steps while all succeeds, then after_script unless forced. */
  private async script(): Promise<void> {
    if (this.stopped()) {
      this.state = 'canceled';
      return;
    }
    if (await this.jobStep('step_script', (shell) => stepScript(shell, [...this.job.beforeScript, ...this.job.script]))) {
      for (const step of this.job.extraSteps ?? []) {
        if (this.stopped() || !await this.jobStep(stepStage(step.name), (shell) => stepScript(shell, step.script))) break;
      }
    }
    if (this.forced) return;
    this.clock.enter('after_script');
    if (this.job.afterScript.length > 0) await this.runAfterScript();
  }

  private command(stage: BuildStage, script: string, variables: Record<string, string>, timeoutMs: number, cancel: readonly AbortSignal[]): StageCommand {
    return {
      stage,
      script,
      variables,
      timeoutMs,
      cancel,
      onOutput: (chunk) => this.log.write(chunk),
      onProcess: this.options.onProcess,
    };
  }

  /** Runs a step of the job under the job's deadline; records how it ended and returns whether it succeeded. */
  private async jobStep(stage: BuildStage, script: (shell: ShellKind) => string): Promise<boolean> {
    this.clock.enter(stage);
    try {
      const environment = this.environment!;
      const command = this.command(stage, script(environment.shell), this.variables, this.deadline - performance.now(), this.stopSignals);
      const step = await environment.run(command);
      this.state = step.outcome === 'canceled' ? 'canceled' : step.outcome === 'exited' && step.exitCode === 0 ? 'success' : 'failed';
      this.failureReason = step.outcome === 'timeout' ? 'job_execution_timeout' : this.state === 'failed' ? 'script_failure' : undefined;
      this.exitCode = step.outcome === 'exited' ? step.exitCode : undefined;
    } catch (error) {
      this.systemFailure(stage, error);
    }
    return this.state === 'success';
  }

  /** after_script: its own timeout, stopped only by a forced stop, told how the job went. */
  private async runAfterScript(): Promise<void> {
    const variables = { ...this.variables, CI_JOB_STATUS: this.state };
    const timeoutMs = (this.options.afterScriptTimeoutSeconds ?? DEFAULT_AFTER_SCRIPT_TIMEOUT_SECONDS) * 1000;
    const force = [this.options.forceSignal, this.options.killSignal].filter((s) => s !== undefined);
    try {
      const after = await this.environment!.run(
        this.command('after_script', stepScript(this.environment!.shell, this.job.afterScript), variables, timeoutMs, force),
      );
      this.afterScript = {
        exitCode: after.outcome === 'exited' ? after.exitCode : undefined,
        timedOut: after.outcome === 'timeout',
        canceled: after.outcome === 'canceled',
      };
    } catch (error) {
      this.errors.push(`after_script: ${message(error)}`);
      this.afterScript = { exitCode: undefined, timedOut: false, canceled: false };
    }
  }

  private async cleanup(): Promise<void> {
    this.clock.enter('cleanup_file_variables');
    try {
      await this.environment?.cleanup();
    } catch (error) {
      this.errors.push(`cleanup_file_variables: ${message(error)}`);
    }
  }

  private result(): JobResult {
    const { log } = this;
    // A job whose log was lost cannot be reported as it ran.
    if (log.stats.sinkError !== undefined) this.systemFailure('job log', log.stats.sinkError);
    const closing = failureLine(this.state, this.failureReason, this.exitCode, this.timeoutSeconds);
    if (closing !== undefined) log.writeLine(closing);
    log.end();
    return {
      state: this.state,
      failureReason: this.state === 'failed' ? this.failureReason : undefined,
      exitCode: this.exitCode,
      startedAt: this.startedAt,
      finishedAt: new Date(),
      durationSeconds: (performance.now() - this.start) / 1000,
      stages: this.clock.close(),
      afterScript: this.afterScript,
      log: log.stats,
      systemError: this.errors.length > 0 ? this.errors.join('; ') : undefined,
      resources: this.environment?.resources() ?? { cpuSeconds: 0, peakRssBytes: 0 },
    };
  }
}
