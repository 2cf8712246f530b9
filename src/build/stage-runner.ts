// The stages of one job as GitLab Runner frames them in its log: a section
// and a cyan title for each, the stage's script run in the job's
// environment, and what GitLab prints around them (the header, retries,
// timeouts, cancel, the closing line).
import { hostname } from 'node:os';
import type { JobEnvironment, StageOutcome } from '../job/executor.ts';
import type { Job } from '../job/model.ts';
import type { BuildStage, ResourceUse, StageTiming } from '../job/result.ts';
import type { TransferRecord } from '../job/transfer.ts';
import type { JobLog } from '../trace/job-log.ts';
import { sleep } from '../system/sleep.ts';
import type { BuildOptions } from './build.ts';
import { error, exitText, info, line, sectionEnd, sectionStart, stageTitle, title, warning } from './log-lines.ts';
import type { Outcome, TimeoutKind } from './outcome.ts';
import { type BuildPlan, stageTimeouts } from './plan.ts';
import { sourcesAuth, sourcesBody, type SourcesPlan, SourcesScriptError } from './shell/sources.ts';
import { afterScriptBody, cleanupBody, prepareBody, stepBody, type StepParts } from './shell/stage-scripts.ts';
import { ScriptBody, stageScript } from './shell/writer.ts';
import { withTraceContext } from './shell/trace-context.ts';
import { versionInfo } from '../version.ts';
import { StageClock } from './stage-clock.ts';
import { sourcesPlanOf, stepCommands, stepPartsOf, stepStage } from './stage-inputs.ts';
import { unsupportedWarnings } from './unsupported.ts';

type Stage = BuildStage | 'clear_worktree';

export interface StageRunnerParts {
  readonly job: Job;
  readonly plan: BuildPlan;
  readonly log: JobLog;
  readonly options: BuildOptions;
  readonly outcome: Outcome;
  /** performance.now() when the job's own timeout ends it. */
  readonly deadline: number;
  readonly environment: () => JobEnvironment;
  /** The plan with the job's directories as the runner reaches them, for stages that run on its host (see hostPlanOf). */
  readonly hostPlan: () => BuildPlan;
}

/** How long the cleanup script may take (GitLab Runner's cleanup stage timeout). */
const CLEANUP_TIMEOUT_MS = 5 * 60_000;

const TIMEOUT_HELP =
  'For more control over job and script timeouts see: https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts';

/** GitLab Runner's pause before another attempt of a stage: exponential from 5 s to 5 min (1 s to 5 s without the flag). */
export function retryPauseMs(attempt: number, exponential: boolean): number {
  return exponential ? Math.min(300_000, 5_000 * 2 ** (attempt - 1)) : Math.min(5_000, 1_000 * 2 ** (attempt - 1));
}

export class StageRunner {
  private readonly clock: StageClock;
  private readonly sections: boolean;
  /** When RUNNER_SCRIPT_TIMEOUT ends the script steps (set as they start). */
  private scriptDeadline: number | undefined;
  /** prepare_script succeeded: the job's cleanup stage runs (GitLab Runner runs none after a failed preparation). */
  prepared = false;
  /** What the artifact and cache stages moved. */
  readonly transfers: TransferRecord[] = [];
  /** The script steps have started: a cancel from now on stops them only, after_script and the cleanup stage still run. */
  scriptStarted = false;

  constructor(private readonly parts: StageRunnerParts) {
    this.clock = new StageClock((stage) => parts.options.onStage?.(stage));
    this.sections = parts.job.features?.traceSections === true;
  }

  private get stopSignals(): AbortSignal[] {
    const { signal, forceSignal, killSignal } = this.parts.options;
    return [signal, forceSignal, killSignal].filter((s) => s !== undefined);
  }

  /** A forced stop or the runner's exit: nothing runs any more. */
  get forced(): boolean {
    return this.parts.options.forceSignal?.aborted === true || this.parts.options.killSignal?.aborted === true;
  }

  private stopped(): boolean {
    return this.stopSignals.some((s) => s.aborted);
  }

  private write(text: string): void {
    this.parts.log.writeRunner(text);
  }

  header(): void {
    const { plan, options, job } = this.parts;
    this.write(line(`Running with ${versionInfo.name} ${versionInfo.version} (${versionInfo.revision.slice(0, 8)})`));
    if (plan.shortToken !== '') this.write(line(`  on ${options.runner.name} ${plan.shortToken}, system ID: ${options.runner.systemId}`));
    if (plan.flags.changed.length > 0) this.write(line(`  feature flags: ${plan.flags.changed.join(', ')}`));
    if (plan.warnings.length > 0) this.write(warning(plan.warnings.join('\n')));
    const unsupported = unsupportedWarnings(job, options.executor.info, options.artifacts !== undefined);
    for (const text of [...unsupported, ...(job.warnings ?? [])]) this.write(warning(text));
  }

  enter(stage: Stage): void {
    if (stage !== 'clear_worktree') {
      this.clock.enter(stage);
      this.parts.options.trace?.stageStarted(stage);
    }
    if (this.sections) this.write(sectionStart(stage));
    this.write(title(stageTitle(stage, this.parts.options.executor.info.name)));
  }

  /** `failed`: the stage ended in an error (its span says so). */
  leave(stage: Stage, failed = false): void {
    if (stage !== 'clear_worktree') this.parts.options.trace?.stageEnded(stage, failed);
    this.parts.log.endScript();
    if (this.sections) this.write(sectionEnd(stage));
  }

  /** A warning line of the runner's own. */
  warn(text: string): void {
    this.write(warning(text));
  }

  /** A line the executor prints while it prepares (`Using Shell (bash) executor...`, `Pulling docker image ...`). */
  executorLine(entry: { readonly level: 'info' | 'warning' | 'notice' | 'error'; readonly text: string }): void {
    const render = { info: line, warning, notice: info, error }[entry.level];
    this.write(render(entry.text));
  }

  /** A stage's whole script. Throws when it cannot be written: GitLab Runner then enters no section for the stage. */
  private scriptOf(write: (body: ScriptBody) => void, stage?: BuildStage): string {
    const { plan } = this.parts;
    const environment = this.parts.environment();
    const shell = stage !== undefined && environment.placeOf?.(stage) === 'host' ? environment.hostShell ?? environment.shell : environment.shell;
    const body = new ScriptBody(shell, { exitCodeCheck: plan.flags.flags.FF_ENABLE_BASH_EXIT_CODE_CHECK });
    write(body);
    return stageScript(body, { xtrace: plan.settings.debugTrace, legacyEval: plan.flags.flags.FF_USE_LEGACY_BASH_EVAL });
  }

  private execute(stage: Stage, script: string, timeoutMs: number, cancel: readonly AbortSignal[]): Promise<StageOutcome> {
    const carrier = this.parts.options.trace?.carrier();
    return this.parts.environment().run({
      stage: stage === 'clear_worktree' ? 'get_sources' : stage,
      script: carrier === undefined ? script : withTraceContext(script, carrier),
      timeoutMs,
      cancel,
      onOutput: (chunk) => this.parts.log.write(chunk),
      onProcess: this.parts.options.onProcess,
    });
  }

  /** Runs a script in its section; a stage a timeout ended gets GitLab's warning after the section. Rejects when it cannot start. */
  private async stage(stage: Stage, script: string, timeoutMs: number, cancel: readonly AbortSignal[]): Promise<StageOutcome> {
    this.enter(stage);
    let result: StageOutcome;
    let failed = true;
    try {
      result = await this.execute(stage, script, timeoutMs, cancel);
      failed = result.outcome !== 'exited' || result.exitCode !== 0 || result.signal !== undefined;
    } finally {
      this.leave(stage, failed);
    }
    if (result.outcome === 'timeout') this.write(warning(`${stage} could not run to completion because the timeout was exceeded. ${TIMEOUT_HELP}`));
    // What the runner's exit or a forced stop ended (a kill's exit status 137) was stopped, not failed.
    if (result.outcome === 'exited' && this.forced && (result.exitCode !== 0 || result.signal !== undefined)) {
      return { outcome: 'canceled', exitCode: result.exitCode };
    }
    return result;
  }

  private remaining(): number {
    return this.parts.deadline - performance.now();
  }

  /** prepare_script: the login shell starts; a profile that fails it fails the job, as in GitLab Runner. */
  async prepareScript(): Promise<boolean> {
    const { outcome, plan } = this.parts;
    let result: StageOutcome;
    try {
      const via = this.parts.options.executor.info.showHostname === true ? hostname() : undefined;
      result = await this.stage(
        'prepare_script',
        this.scriptOf((body) => prepareBody(body, plan.directories!.tempDir, via)),
        this.remaining(),
        this.stopSignals,
      );
    } catch (error) {
      outcome.systemFailure('prepare_script', error);
      return false;
    }
    if (result.outcome === 'exited' && (result.exitCode !== 0 || result.signal !== undefined)) {
      const why = exitText(result.exitCode, result.signal);
      outcome.fail(
        'script_failure',
        `prepare environment: ${why}. Check https://docs.gitlab.com/runner/shells/#shell-profile-loading for more information`,
        result.exitCode,
      );
      return false;
    }
    this.prepared = outcome.fromStage(result, 'job');
    return this.prepared;
  }

  /**
   * get_sources, GET_SOURCES_ATTEMPTS times at most as GitLab Runner tries
   * it: any failure is tried again (a script that cannot be written too),
   * after `Retrying...` and a pause, and the worktree is cleared before the
   * second attempt. A cancel or a timeout ends it.
   */
  async getSources(): Promise<boolean> {
    const { job, plan, outcome, options } = this.parts;
    const repository = job.repository;
    if (repository === undefined) return true;
    const attempts = plan.settings.getSourcesAttempts;
    const pause = options.retryPause ?? sleep;
    const environment = this.parts.environment();
    const hooks = (job.hooks?.preGetSources?.length ?? 0) + (job.hooks?.postGetSources?.length ?? 0);
    if (hooks > 0 && environment.sharedWithJob === true && environment.placeOf?.('get_sources') === 'host') {
      this.write(warning("hooks:pre_get_sources_script and hooks:post_get_sources_script are not run: this executor fetches the sources on the runner's host"));
    }
    for (let attempt = 1;; attempt++) {
      if (this.stopped()) {
        outcome.cancel();
        return false;
      }
      let result: StageOutcome | undefined;
      let failure: unknown;
      try {
        // A failed clear_worktree is that attempt's failure (GitLab Runner's retry callback).
        if (attempt === 2) result = await this.clearWorktree();
        if (result === undefined || (result.outcome === 'exited' && result.exitCode === 0)) {
          result = await this.stage(
            'get_sources',
            this.scriptOf((body) => sourcesBody(body, this.sourcesPlan(repository)), 'get_sources'),
            this.remaining(),
            this.stopSignals,
          );
        }
      } catch (error) {
        result = undefined;
        failure = error;
      }
      if (result !== undefined) {
        if (outcome.fromStage(result, 'job')) return true;
        if (result.outcome !== 'exited') return false;
      }
      if (attempt >= attempts) {
        if (failure !== undefined) outcome.systemFailure('get_sources', failure, failure instanceof SourcesScriptError ? failure.message : undefined);
        return false;
      }
      this.write(warning('Retrying...'));
      const pauseMs = retryPauseMs(attempt, plan.flags.flags.FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY);
      options.trace?.event('retry', { attempt: attempt + 1, backoff_ms: pauseMs });
      await pause(pauseMs, AbortSignal.any(this.stopSignals));
    }
  }

  private clearWorktree(): Promise<StageOutcome> {
    const { projectDir } = this.parts.hostPlan().directories!;
    const script = this.scriptOf((body) => {
      body.notice('Deleting tracked and untracked files...');
      body.ifTest(`-d ${body.quote(projectDir)}`, () => {
        body.command('cd', projectDir);
        body.command('git', 'rm', '-rf', '--ignore-unmatch', '--quiet', '.');
        body.command('git', 'clean', '-ffdx', '-q');
      });
    }, 'get_sources');
    return this.stage('clear_worktree', script, this.remaining(), this.stopSignals);
  }

  /**
   * The script steps while all succeeds, then after_script unless the job's
   * timeout or a forced stop ended the job. RUNNER_SCRIPT_TIMEOUT and
   * RUNNER_AFTER_SCRIPT_TIMEOUT are read (and warned of) as they start.
   */
  async script(): Promise<void> {
    const { job, plan, outcome } = this.parts;
    if (this.stopped()) {
      outcome.cancel();
      return;
    }
    const timeouts = stageTimeouts(plan.timeouts, this.remaining(), plan.afterScriptTimeoutMs);
    for (const text of timeouts.warnings) this.write(warning(text));
    this.scriptStarted = true;
    if (timeouts.scriptMs !== undefined) this.scriptDeadline = performance.now() + timeouts.scriptMs;
    const steps = [
      { stage: 'step_script' as BuildStage, commands: [...job.beforeScript, ...job.script] },
      ...(job.extraSteps ?? []).map((step) => ({ stage: stepStage(step.name), commands: stepCommands(this.parts.plan, step) })),
    ];
    for (const step of steps) {
      if (this.stopped()) {
        // Canceled between two steps: the next one does not start, and the job is canceled all the same.
        outcome.cancel();
        if (!this.forced) this.write(warning('script canceled externally (UI, API)'));
        break;
      }
      if (!await this.step(step.stage, step.commands)) break;
    }
    if (this.forced || outcome.jobTimedOut) return;
    if (job.afterScript.length > 0) await this.afterScript(timeouts.afterScriptMs);
  }

  private async step(stage: BuildStage, commands: readonly string[]): Promise<boolean> {
    const { outcome, options } = this.parts;
    const byScript = this.scriptDeadline !== undefined && this.scriptDeadline < this.parts.deadline;
    const timeout: TimeoutKind = byScript ? 'script' : 'job';
    let result: StageOutcome;
    try {
      const script = this.scriptOf((body) =>
        stepBody(body, this.stepParts(), commands, { pre: options.runner.scripts.preBuild, post: options.runner.scripts.postBuild })
      );
      result = await this.stage(stage, script, (byScript ? this.scriptDeadline! : this.parts.deadline) - performance.now(), this.stopSignals);
    } catch (error) {
      outcome.systemFailure(stage, error);
      return false;
    }
    const succeeded = outcome.fromStage(result, timeout);
    if (result.outcome === 'canceled' && !this.forced) this.write(warning('script canceled externally (UI, API)'));
    return succeeded;
  }

  /** get_sources' plan: where the runner reaches the project (the stage runs on its host where the executor says so). */
  private sourcesPlan(repository: NonNullable<Job['repository']>): SourcesPlan {
    const environment = this.parts.environment();
    const shared = environment.placeOf?.('get_sources') === 'host' && environment.sharedWithJob === true;
    return sourcesPlanOf(this.parts.job, this.planFor('get_sources'), this.parts.options, repository, shared);
  }

  private planFor(stage: BuildStage): BuildPlan {
    return this.parts.environment().placeOf?.(stage) === 'host' ? this.parts.hostPlan() : this.parts.plan;
  }

  private stepParts(status?: string): StepParts {
    return stepPartsOf(this.parts.job, this.parts.plan, status);
  }

  private async afterScript(timeoutMs: number): Promise<void> {
    const { job, plan, outcome, options } = this.parts;
    const force = [options.forceSignal, options.killSignal].filter((s) => s !== undefined);
    const remaining = this.remaining();
    let result: StageOutcome | undefined;
    try {
      const script = this.scriptOf((body) => afterScriptBody(body, this.stepParts(outcome.ciJobStatus), job.afterScript));
      result = await this.stage('after_script', script, Math.min(timeoutMs, remaining), force);
    } catch (error) {
      outcome.note(`after_script: ${error instanceof Error ? error.message : String(error)}`);
    }
    outcome.afterScript = {
      exitCode: result?.outcome === 'exited' ? result.exitCode : undefined,
      timedOut: result?.outcome === 'timeout',
      canceled: result?.outcome === 'canceled',
    };
    if (result === undefined || (result.outcome === 'exited' && result.exitCode === 0)) return;
    if (result.outcome === 'timeout' && remaining <= timeoutMs) {
      // The job's own timeout passed during after_script: GitLab Runner ends the job as timed out.
      outcome.fromStage(result, 'job');
      return;
    }
    const why = result.outcome === 'timeout'
      ? 'context deadline exceeded'
      : result.outcome === 'canceled'
      ? 'canceled'
      : exitText(result.exitCode, result.signal);
    if (plan.settings.afterScriptIgnoreErrors) {
      this.write(warning(`after_script failed, but job will continue unaffected: ${why}`));
    } else if (!outcome.failed) {
      // An earlier failure stays the job's; GitLab Runner then says nothing of after_script's.
      outcome.fail('script_failure', why, result.outcome === 'exited' ? result.exitCode : undefined);
    }
  }

  /**
   * cleanup_file_variables' script, where it has something to do: git's
   * credential helpers told to forget the job token (after whatever the job
   * did with git, as GitLab Runner does for every job), and
   * FF_ENABLE_JOB_CLEANUP for a project directory kept between jobs. Only
   * the runner exiting stops it; a failure is noted, never the job's.
   */
  async cleanupScript(): Promise<void> {
    const { job, plan, outcome, options } = this.parts;
    if (plan.directories === undefined) return;
    const jobCleanup = plan.flags.flags.FF_ENABLE_JOB_CLEANUP && !plan.directories.disposable;
    try {
      const credentialOrigin = job.repository === undefined ? undefined : sourcesAuth(this.sourcesPlan(job.repository)).origin;
      if (!jobCleanup && credentialOrigin === undefined) return;
      // after_script's CI_JOB_STATUS stays for the stages after it, as in GitLab Runner.
      const status = this.scriptStarted ? outcome.ciJobStatus : undefined;
      const parts = stepPartsOf(job, this.planFor('cleanup_file_variables'), status);
      const script = this.scriptOf((body) => cleanupBody(body, parts, plan.settings, { credentialOrigin, jobCleanup }), 'cleanup_file_variables');
      const result = await this.execute('cleanup_file_variables', script, CLEANUP_TIMEOUT_MS, options.killSignal ? [options.killSignal] : []);
      if (result.outcome !== 'exited' || result.exitCode !== 0) {
        outcome.note(`cleanup_file_variables: the cleanup script ended ${result.outcome} with exit status ${result.exitCode}`);
      }
    } catch (error) {
      outcome.note(`cleanup_file_variables: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The resource line (where the executor measured it), then GitLab's closing line from a writer of its own. */
  closingLines(resources: ResourceUse | undefined): void {
    const { log, outcome } = this.parts;
    if (resources !== undefined) {
      const mib = resources.peakRssBytes === undefined ? undefined : (resources.peakRssBytes / 1024 / 1024).toFixed(1);
      const cpu = `Job used ${resources.cpuSeconds.toFixed(2)} s of CPU`;
      this.write(
        line(
          mib === undefined
            ? `${cpu}, peak RSS not sampled (the job's processes ended before the first sample)`
            : resources.measuredBy === 'cgroup'
            ? `${cpu}, peak memory ${mib} MiB (the job's containers' cgroup, services included)`
            : `${cpu}, peak RSS ${mib} MiB (approximate: sampled every second from /proc)`,
        ),
      );
    }
    log.endRunner();
    if (!outcome.failed) this.write(info('Job succeeded'));
    else if (outcome.failureReason === 'runner_system_failure') this.write(error(`Job failed (system failure): ${outcome.failure}`));
    else this.write(error(`Job failed: ${outcome.failure}`));
  }

  timings(): StageTiming[] {
    return this.clock.close();
  }
}
