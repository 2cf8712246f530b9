// The build sequence (GitLab Runner's common/build.go role): runs one job's
// stages in GitLab's order on any executor, with GitLab Runner's log framing,
// and owns what is the same for all of them: the job log (masking, limit,
// time prefixes), timeouts, cancel, retries of get_sources, and the result.
//
//   prepare_executor        the executor makes the job's directories ready
//   prepare_script          "Running on HOST..." in the job's login shell
//   get_sources             the repository, GET_SOURCES_ATTEMPTS times at most
//   restore_cache           the job's caches, RESTORE_CACHE_ATTEMPTS times at most
//   download_artifacts      the dependencies' artifacts, ARTIFACT_DOWNLOAD_ATTEMPTS times at most
//   step_script, step_<n>   before_script + script, then named steps, while all succeeds
//   after_script            unless the job's own timeout ended it, or a forced stop
//   archive_cache[_on_failure], upload_artifacts_on_success/_on_failure
//                           by the job's outcome so far, once the preparation succeeded,
//                           unless the job's context ended (as for the quiet cleanup below)
//   cleanup_file_variables  the runner's files of the job are removed (quietly, with no stage
//                           in the log, where GitLab Runner runs none: the preparation failed,
//                           or the job's context ended - its timeout, a forced stop, a cancel
//                           before the script steps)
//
// Stopping: `signal` cancels (the script stops, after_script still runs),
// `forceSignal` stops everything (after_script too), `killSignal` on top of
// that ends what runs at once, without a grace period.
import { Buffer } from 'node:buffer';
import { resolve } from 'node:path';
import { type Executor, type JobEnvironment, PrepareError } from '../job/executor.ts';
import type { JobTrace } from '../job/job-trace.ts';
import type { LogSink } from '../job/log.ts';
import type { Job } from '../job/model.ts';
import { type BuildStage, type JobResult, systemFailureResult } from '../job/result.ts';
import type { ArtifactTransport } from '../job/transfer.ts';
import { trackPath } from '../system/process-record.ts';
import { sleep } from '../system/sleep.ts';
import { JobLog, outputLimitBytes } from '../trace/job-log.ts';
import { type BuildPlan, DEFAULT_AFTER_SCRIPT_TIMEOUT_MS, hostPlanOf, type JobSlot, planBuild, type RunnerSettings } from './plan.ts';
import { Outcome } from './outcome.ts';
import { retryPauseMs, StageRunner } from './stage-runner.ts';
import { type StageEnd, TransferStages } from './transfer-stages.ts';

export type { JobSlot, RunnerSettings } from './plan.ts';

export interface BuildOptions {
  readonly executor: Executor;
  /** The job's trace: a span per stage, and the context the stages' processes join. */
  readonly trace?: JobTrace | undefined;
  readonly runner: RunnerSettings;
  /** Default: the first slot of both kinds. */
  readonly slot?: JobSlot;
  /** Receives the job's log, masked and limited. Chunks may be subarrays of the runner's buffers: copy what you keep. */
  readonly log: LogSink;
  /** Where the job's artifacts go and its dependencies' come from (the job's source); undefined: none (warned). */
  readonly artifacts?: ArtifactTransport | undefined;
  /** Bytes of log kept before it is cut; default GitLab's 4 MiB, Infinity for no limit. */
  readonly outputLimitBytes?: number;
  /** Called as each stage starts. Must not throw. */
  readonly onStage?: (stage: BuildStage) => void;
  /** Called with the pid of a stage's process when it starts, and with undefined when it ends. */
  readonly onProcess?: (pid: number | undefined) => void;
  /**
   * Cancel: stops the job's script if it is running or has not started;
   * after_script then runs (if the script had started) and the job is
   * `canceled`. Once the script has ended a cancel changes nothing.
   */
  readonly signal?: AbortSignal;
  /** A second cancel: stops whatever runs, after_script included, and skips what is left but cleanup. */
  readonly forceSignal?: AbortSignal;
  /** The runner exits now: like forceSignal, and what runs is ended at once, without a grace period. */
  readonly killSignal?: AbortSignal;
  /** Timeout of a job that sets none, in seconds; default 3600. */
  readonly defaultTimeoutSeconds?: number;
  /** after_script's timeout when the job sets no RUNNER_AFTER_SCRIPT_TIMEOUT, in seconds; default 300 (GitLab's). */
  readonly afterScriptTimeoutSeconds?: number;
  /**
   * The pause before another attempt of get_sources (GitLab's backoff: 5 s,
   * 10 s, ... with FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY); resolves early
   * when `signal` aborts. Default a timer; tests pass one that does not wait.
   */
  readonly retryPause?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export const DEFAULT_JOB_TIMEOUT_SECONDS = 3600;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs one job to its end; never rejects (a failure of the runner itself is a runner_system_failure). */
export async function runBuild(job: Job, options: BuildOptions): Promise<JobResult> {
  let build: Build;
  try {
    build = new Build(job, options);
  } catch (error) {
    // Not even a job log: the closing line goes to the sink as is (it holds nothing of the job's).
    try {
      options.log(Buffer.from('\x1b[31;1mERROR: Job failed (system failure): the runner could not run the job\x1b[0;m\n'));
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
  private readonly log: JobLog;
  private readonly outcome: Outcome;
  private readonly stages: StageRunner;
  private transfersMemo: TransferStages | undefined;
  private readonly transferStop = new AbortController();
  /** The job's own timeout has passed. */
  private deadlinePassed = false;
  private readonly plan: ReturnType<typeof planBuild>;
  private environment: JobEnvironment | undefined;
  /** Ends the recording of the job's directories on the runner's side (system/process-record.ts). */
  private untrackDirectories: () => void = () => {};

  constructor(private readonly job: Job, private readonly options: BuildOptions) {
    this.timeoutSeconds = job.timeoutSeconds ?? options.defaultTimeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS;
    this.plan = planBuild({
      job,
      executor: options.executor,
      runner: options.runner,
      slot: options.slot ?? { concurrentId: 0, concurrentProjectId: 0 },
      timeoutSeconds: this.timeoutSeconds,
      startedAt: this.startedAt,
      afterScriptTimeoutMs: options.afterScriptTimeoutSeconds === undefined ? DEFAULT_AFTER_SCRIPT_TIMEOUT_MS : options.afterScriptTimeoutSeconds * 1000,
    });
    this.log = new JobLog({
      secrets: this.plan.secrets,
      tokenPrefixes: this.plan.tokenPrefixes,
      uncappedTokenPrefixes: this.plan.uncappedTokenPrefixes,
      timestamps: this.plan.flags.flags.FF_TIMESTAMPS,
      limitBytes: options.outputLimitBytes ?? outputLimitBytes(0),
      sink: options.log,
    });
    this.outcome = new Outcome(this.timeoutSeconds);
    this.stages = new StageRunner({
      job,
      plan: this.plan,
      log: this.log,
      options,
      outcome: this.outcome,
      deadline: this.start + this.timeoutSeconds * 1000,
      environment: () => this.environment!,
      hostPlan: () => this.hostPlan(),
    });
  }

  /** The plan as the runner reaches the job's directories (an executor's host side), made once the environment says where. */
  private hostPlanMemo: BuildPlan | undefined;
  private hostPlan(): BuildPlan {
    const environment = this.environment;
    if (environment?.hostDirectories === undefined) return this.plan;
    this.hostPlanMemo ??= hostPlanOf(this.plan, environment.hostDirectories, environment.hostBuildsDir ?? this.options.executor.buildsDir, {
      runnerVariablesOnly: environment.sharedWithJob === true,
    });
    return this.hostPlanMemo;
  }

  /** The cache and artifact stages, run by the runner itself: on the host side of the job's directories. */
  private transferStages(): TransferStages | undefined {
    if (this.plan.directories === undefined || this.environment === undefined) return undefined;
    const { job, options } = this;
    this.transfersMemo ??= new TransferStages({
      job,
      plan: this.hostPlan(),
      transport: options.artifacts,
      cacheDir: options.runner.cacheDir ?? resolve('cache'),
      enter: (stage) => this.stages.enter(stage),
      leave: (stage) => this.stages.leave(stage),
      output: (text) => this.log.write(Buffer.from(text)),
      records: this.stages.transfers,
      signal: this.transferStop.signal,
      fileOwner: this.environment.fileOwner,
    });
    return this.transfersMemo;
  }

  async run(): Promise<JobResult> {
    this.stages.header();
    const kill = (): void => {
      this.environment?.kill();
      this.transferStop.abort();
    };
    const force = (): void => this.transferStop.abort();
    // A cancel before the script ends the job's context (GitLab Runner narrows it to the script only as the script starts).
    const cancel = (): void => {
      if (!this.stages.scriptStarted) this.transferStop.abort();
    };
    const timedOut = (): void => {
      this.deadlinePassed = true;
      this.transferStop.abort();
    };
    this.options.killSignal?.addEventListener('abort', kill, { once: true });
    this.options.forceSignal?.addEventListener('abort', force, { once: true });
    this.options.signal?.addEventListener('abort', cancel, { once: true });
    // Transfers stop with the job's own timeout too (a timer past setTimeout's range would fire at once).
    const timeoutMs = this.timeoutSeconds * 1000 - (performance.now() - this.start);
    const deadline = timeoutMs < 2 ** 31 ? setTimeout(timedOut, Math.max(0, timeoutMs)) : undefined;
    try {
      if (await this.prepare()) {
        if (await this.stages.getSources() && await this.beforeScript()) await this.stages.script();
        await this.afterJob();
      }
    } catch (error) {
      // A stage throwing outside its own handling is the runner's failure, never the end of the job's bookkeeping.
      this.outcome.systemFailure('build', error);
    }
    try {
      await this.cleanup();
    } finally {
      clearTimeout(deadline);
      this.options.killSignal?.removeEventListener('abort', kill);
      this.options.forceSignal?.removeEventListener('abort', force);
      this.options.signal?.removeEventListener('abort', cancel);
    }
    return this.result();
  }

  /** restore_cache and download_artifacts, each tried as often as the job allows; false when the job cannot go on. */
  private async beforeScript(): Promise<boolean> {
    const { settings } = this.plan;
    return await this.attempt(settings.restoreCacheAttempts, () => this.transferStages()!.restoreCache()) &&
      await this.attempt(settings.downloadArtifactsAttempts, () => this.transferStages()!.downloadArtifacts());
  }

  /** GitLab Runner's attemptExecuteStage: `Retrying...` and a pause between tries; the last failure is the job's. */
  private async attempt(attempts: number, stage: () => Promise<StageEnd>): Promise<boolean> {
    const pause = this.options.retryPause ?? sleep;
    for (let attempt = 1;; attempt++) {
      if (this.stopped()) {
        this.outcome.cancel();
        return false;
      }
      const end = await stage();
      if (end.ok) return true;
      if (this.endedByStop()) return false;
      if (attempt >= attempts) {
        this.failWith(end);
        return false;
      }
      this.stages.warn('Retrying...');
      const pauseMs = retryPauseMs(attempt, this.plan.flags.flags.FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY);
      this.options.trace?.event('retry', { attempt: attempt + 1, backoff_ms: pauseMs });
      await pause(pauseMs, this.transferStop.signal);
    }
  }

  private stopped(): boolean {
    const { signal, forceSignal, killSignal } = this.options;
    return [signal, forceSignal, killSignal].some((s) => s?.aborted === true);
  }

  /**
   * archive_cache and upload_artifacts by the job's outcome; their failures
   * become the job's only when nothing failed before (pickPriorityError:
   * the cache's first, then the upload's).
   */
  private async afterJob(): Promise<void> {
    if (this.contextEnded()) return;
    const succeeded = !this.outcome.failed;
    const cache = await this.transferStages()!.archiveCache(succeeded);
    if (this.endedByStop() || this.contextEnded()) return;
    const upload = await this.transferStages()!.uploadArtifacts(succeeded);
    if (this.endedByStop()) return;
    const failure = [cache, upload].find((end): end is Extract<StageEnd, { ok: false }> => !end.ok);
    if (succeeded && failure !== undefined && !this.outcome.failed) this.failWith(failure);
  }

  private failWith(end: Extract<StageEnd, { ok: false }>): void {
    // An error GitLab Runner meets writing the stage's script (an unknown cache policy) is a system failure there.
    if (end.system) this.outcome.systemFailure('transfer stage', new Error(end.failure), end.failure);
    else this.outcome.fail('script_failure', end.failure, end.exitCode);
  }

  /**
   * A transfer stage ended by the job's timeout, a forced stop or a cancel
   * before the script: the job ends as that, never as the transfer's failure.
   */
  private endedByStop(): boolean {
    if (this.deadlinePassed) {
      if (!this.outcome.jobTimedOut) this.outcome.fromStage({ outcome: 'timeout', exitCode: 0 }, 'job');
      return true;
    }
    if (this.stages.forced || (this.options.signal?.aborted === true && !this.stages.scriptStarted)) {
      this.outcome.cancel();
      return true;
    }
    return false;
  }

  /** The job's context ended (its timeout, a forced stop, a cancel before the script): GitLab Runner runs no stage more. */
  private contextEnded(): boolean {
    const { outcome, stages } = this;
    return outcome.jobTimedOut || stages.forced || this.transferStop.signal.aborted || (outcome.state === 'canceled' && !stages.scriptStarted);
  }

  /** prepare_executor and prepare_script; false when the job cannot go on. */
  private async prepare(): Promise<boolean> {
    const { configurationError, directories } = this.plan;
    this.stages.enter('prepare_executor');
    if (configurationError !== undefined || directories === undefined) {
      this.outcome.fail('runner_configuration_error', configurationError?.message ?? 'no build directory');
      this.stages.leave('prepare_executor');
      return false;
    }
    try {
      this.environment = await this.options.executor.prepare(this.job, directories, {
        slot: { shortToken: this.plan.shortToken, ...(this.options.slot ?? { concurrentId: 0, concurrentProjectId: 0 }) },
        variables: this.plan.variables,
        log: (entry) => this.stages.executorLine(entry),
        signal: this.transferStop.signal,
      });
      // Recorded from here until the cleanup removed them: should the runner die, its next start removes the job's
      // token and file variables (the temporary directory) and a disposable checkout.
      const host = this.environment.hostDirectories ?? directories;
      const untrack = [host.tempDir, ...(host.disposable ? [host.projectDir] : [])].map((dir) => trackPath(resolve(dir)));
      this.untrackDirectories = () => untrack.forEach((done) => done());
    } catch (error) {
      if (error instanceof PrepareError && error.reason !== 'runner_system_failure') this.outcome.fail(error.reason, error.message);
      else this.outcome.systemFailure('prepare_executor', error, error instanceof PrepareError ? error.message : undefined);
      return false;
    } finally {
      this.stages.leave('prepare_executor');
    }
    return this.stages.prepareScript();
  }

  private async cleanup(): Promise<void> {
    // Where GitLab Runner runs no stage more, the runner's files (file variables, the job token's git
    // settings) are still removed here, only without a stage in the log.
    const quiet = !this.stages.prepared || this.contextEnded();
    if (!quiet) this.stages.enter('cleanup_file_variables');
    try {
      if (!quiet) await this.stages.cleanupScript();
      await this.environment?.cleanup();
      this.untrackDirectories();
    } catch (error) {
      this.outcome.note(`cleanup_file_variables: ${message(error)}`);
    } finally {
      if (!quiet) this.stages.leave('cleanup_file_variables');
    }
  }

  private result(): JobResult {
    const resources = this.environment?.resources();
    // A job whose log was lost cannot be reported as it ran.
    if (this.log.stats.sinkError !== undefined) this.outcome.systemFailure('job log', this.log.stats.sinkError);
    this.stages.closingLines(resources);
    this.log.end();
    const { state, failureReason, exitCode, failure, systemError, afterScript } = this.outcome;
    return {
      state,
      failureReason: state === 'failed' ? failureReason : undefined,
      exitCode,
      failure,
      startedAt: this.startedAt,
      finishedAt: new Date(),
      durationSeconds: (performance.now() - this.start) / 1000,
      stages: this.stages.timings(),
      afterScript,
      log: this.log.stats,
      systemError,
      resources,
      transfers: this.stages.transfers,
    };
  }
}
