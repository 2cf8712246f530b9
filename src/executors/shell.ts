// The shell executor: runs one job stage by stage, as GitLab Runner's shell
// executor does, in its own build directory and with each step in its own
// process group.
//
//   prepare_executor        create the job's build directory
//   prepare_script          write the step scripts and file variables
//   get_sources             fetch the job's repository, if it names one
//   step_script             before_script + script in one shell
//   step_<name>             further steps of a coordinator's job, while all succeeds
//   after_script            always (after success, failure, timeout or cancel),
//                           in a new shell, with its own timeout; its result
//                           does not change the job's
//   cleanup_file_variables  remove the scripts and file variables, and the
//                           build directory unless kept
//
// Layout: the project directory (CI_PROJECT_DIR, where the steps start) is
// BUILDS_DIR/JOB_ID; the scripts and file variables live next to it in
// BUILDS_DIR/JOB_ID.tmp (mode 0700), as GitLab keeps them in PROJECT.tmp, so
// the job's directory holds only what the job makes. Everything the job
// prints goes through one JobLog per job: masking (echo lines included) and
// the output limit. A job that does not succeed ends its log with GitLab's
// `ERROR: Job failed: ...` line.
import { ResourceSampler, type ResourceUse } from './resources.ts';
import { Buffer } from 'node:buffer';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JobLog, outputLimitBytes, type JobLogStats, type LogSink } from '../trace/job-log.ts';
import type { ExecutableJob } from './job.ts';
import { jobEnvironment, writeFileVariables } from './job-environment.ts';
import { runInProcessGroup, type GroupResult } from './process-group.ts';
import { detectShell, sourcesScript, stepScript, type ShellKind } from './shell-scripts.ts';
import { StageClock, type BuildStage, type FailureReason, type JobState, type StageTiming } from './stages.ts';

export type { ExecutableJob, JobRepository, JobStep, JobVariable } from './job.ts';
export { jobEnvironment } from './job-environment.ts';
export { detectShell, echoLine, sourcesScript, stepScript, type ShellKind } from './shell-scripts.ts';
export { BUILD_STAGES, type BuildStage, type FailureReason, type JobState, type StageTiming } from './stages.ts';

export interface ShellExecutorOptions {
  /** Root of the build directories (CI_BUILDS_DIR); created if missing. */
  readonly buildsDir: string;
  /** The runner's configured name (CI_RUNNER_DESCRIPTION). */
  readonly runnerName: string;
  /** Receives the job's log, masked and limited. Chunks may be subarrays of the runner's buffers: copy what you keep. */
  readonly log: LogSink;
  /** Bytes of log kept before it is cut; default GitLab's 4 MiB, Infinity for no limit. */
  readonly outputLimitBytes?: number;
  /** Called as each stage starts. Must not throw. */
  readonly onStage?: (stage: BuildStage) => void;
  /** Called with the pid (= process group id) of a step's shell when it starts, and with undefined when it ends. */
  readonly onPid?: (pid: number | undefined) => void;
  /**
   * Cancel: stops the job's script (before_script + script) if it is running
   * or has not started; after_script then runs (if the script had started)
   * and the job is `canceled`. Once the script has ended a cancel changes
   * nothing: after_script is cleanup and ends within its own timeout.
   */
  readonly signal?: AbortSignal;
  /** A second cancel: stops whatever runs, after_script included, and skips what is left but cleanup. */
  readonly forceSignal?: AbortSignal;
  /** Timeout of a job that sets none, in seconds; default 3600 (GitLab's). */
  readonly defaultTimeoutSeconds?: number;
  /** after_script's own timeout in seconds; default 300 (GitLab's). */
  readonly afterScriptTimeoutSeconds?: number;
  /** Seconds between SIGTERM and SIGKILL to a step's process group; default 10. */
  readonly killGraceSeconds?: number;
  /** Keep the project directory after the job (the scripts are removed regardless). */
  readonly keepBuildDir?: boolean;
  /** Force a shell; default bash if on PATH, else sh. */
  readonly shell?: ShellKind;
}

export interface AfterScriptResult {
  /** undefined when the shell could not start. */
  readonly exitCode: number | undefined;
  readonly timedOut: boolean;
  /** Stopped by forceSignal. */
  readonly canceled: boolean;
}

export interface JobResult {
  readonly state: JobState;
  /** undefined unless state is `failed`. */
  readonly failureReason: FailureReason | undefined;
  /** The script's exit status when it ended by itself (0 on success); undefined after a timeout, cancel or system failure. */
  readonly exitCode: number | undefined;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly durationSeconds: number;
  /** The stages entered, in order, with their durations. */
  readonly stages: StageTiming[];
  /** undefined when after_script did not run (none defined, or the script never started). */
  readonly afterScript: AfterScriptResult | undefined;
  readonly log: JobLogStats;
  /** What went wrong for runner_system_failure, or a cleanup that failed; never shown in the job log. */
  readonly systemError: string | undefined;
  /** CPU and peak memory of the job's processes, approximately (see resources.ts). */
  readonly resources: ResourceUse;
}

export const DEFAULT_JOB_TIMEOUT_SECONDS = 3600;
export const DEFAULT_AFTER_SCRIPT_TIMEOUT_SECONDS = 300;
export const DEFAULT_KILL_GRACE_SECONDS = 10;

const JOB_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A step name as a stage label and file name can hold it. */
function stepStage(name: string): BuildStage {
  return /^[a-z0-9_]{1,64}$/.test(name) ? `step_${name}` : 'step_other';
}

/** GitLab's closing line for a job that did not succeed. */
export function failureLine(state: JobState, reason: FailureReason | undefined, exitCode: number | undefined, timeoutSeconds: number): string | undefined {
  if (state === 'success') return undefined;
  if (state === 'canceled') return 'ERROR: Job failed: canceled';
  switch (reason) {
    case 'job_execution_timeout': return `ERROR: Job failed: execution took longer than ${timeoutSeconds} seconds`;
    case 'runner_system_failure': return 'ERROR: Job failed (system failure): the runner could not run the job';
    default: return exitCode === undefined ? 'ERROR: Job failed' : `ERROR: Job failed: exit code ${exitCode}`;
  }
}

/** The result of a job the runner could not even start (its log could not be opened). */
export function systemFailureResult(error: string, at: Date = new Date()): JobResult {
  return {
    state: 'failed', failureReason: 'runner_system_failure', exitCode: undefined, startedAt: at, finishedAt: at,
    durationSeconds: 0, stages: [], afterScript: undefined,
    log: { receivedBytes: 0, writtenBytes: 0, droppedBytes: 0, truncated: false, sinkError: undefined },
    systemError: error, resources: { cpuSeconds: 0, peakRssBytes: 0 },
  };
}

/** Runs one job to its end; never rejects (a failure of the runner itself is a runner_system_failure). */
export async function runJob(job: ExecutableJob, options: ShellExecutorOptions): Promise<JobResult> {
  const startedAt = new Date();
  const start = performance.now();
  const timeoutSeconds = job.timeoutSeconds ?? options.defaultTimeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS;
  const deadline = start + timeoutSeconds * 1000;
  const graceMs = (options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000;
  const clock = new StageClock((stage) => options.onStage?.(stage));
  const buildsDir = resolve(options.buildsDir);
  const projectDir = join(buildsDir, job.id);
  const scriptDir = `${projectDir}.tmp`;
  // Computed first: masking needs the values as the job will see them (expanded), not only as sent.
  const env = jobEnvironment(job, { buildsDir, projectDir, runnerName: options.runnerName, timeoutSeconds, startedAt, fileVariableDir: scriptDir });
  const maskedValues = job.variables.filter((v) => v.masked).flatMap((v) => [v.value, ...(v.file ? [] : [env[v.key] ?? ''])]);
  const log = new JobLog({
    secrets: [...maskedValues, ...(job.secrets ?? [])],
    limitBytes: options.outputLimitBytes ?? outputLimitBytes(0),
    sink: options.log,
  });
  const cancel = options.signal;
  const force = options.forceSignal;
  const cancelSignals = [cancel, force].filter((s) => s !== undefined);
  const stopped = (): boolean => cancel?.aborted === true || force?.aborted === true;

  let state: JobState = 'failed';
  let failureReason: FailureReason | undefined;
  let exitCode: number | undefined;
  let afterScript: AfterScriptResult | undefined;
  const errors: string[] = [];
  let created = false;

  const systemFailure = (what: string, error: unknown): void => {
    state = 'failed';
    failureReason = 'runner_system_failure';
    errors.push(`${what}: ${message(error)}`);
  };

  const resources = new ResourceSampler();
  let shell: { kind: ShellKind; path: string } = { kind: 'sh', path: '/bin/sh' };

  const runStep = async (
    script: string, env: Record<string, string>, timeoutMs: number, signals: readonly AbortSignal[],
  ): Promise<GroupResult> => {
    try {
      return await runInProcessGroup({
        command: shell.path, args: [script], cwd: projectDir, env, timeoutMs, graceMs,
        cancelSignals: signals,
        onOutput: (chunk) => log.write(chunk),
        onStart: (pid) => {
          resources.track(pid);
          options.onPid?.(pid);
        },
      });
    } finally {
      resources.untrack();
      options.onPid?.(undefined);
    }
  };

  /** Runs a step of the job under the job's deadline; records how it ended and returns whether it succeeded. */
  const jobStep = async (stage: BuildStage, scriptName: string): Promise<boolean> => {
    clock.enter(stage);
    try {
      const step = await runStep(join(scriptDir, scriptName), env, deadline - performance.now(), cancelSignals);
      state = step.outcome === 'canceled' ? 'canceled' : step.outcome === 'exited' && step.exitCode === 0 ? 'success' : 'failed';
      failureReason = step.outcome === 'timeout' ? 'job_execution_timeout' : state === 'failed' ? 'script_failure' : undefined;
      exitCode = step.outcome === 'exited' ? step.exitCode : undefined;
    } catch (error) {
      systemFailure(stage, error);
    }
    return state === 'success';
  };

  for (const warning of job.warnings ?? []) log.write(Buffer.from(`WARNING: ${warning}\n`));

  prepare: {
    clock.enter('prepare_executor');
    try {
      if (!JOB_ID.test(job.id)) throw new Error(`job id ${JSON.stringify(job.id)} cannot name a directory`);
      shell = detectShell(options.shell);
      mkdirSync(buildsDir, { recursive: true });
      // A directory left by an earlier run of the same id (keepBuildDir) is replaced: each job starts clean.
      rmSync(projectDir, { recursive: true, force: true });
      rmSync(scriptDir, { recursive: true, force: true });
      created = true;
      // 0700: a job's checkout and files are its own.
      mkdirSync(projectDir, { mode: 0o700 });
      mkdirSync(scriptDir, { mode: 0o700 });
    } catch (error) {
      systemFailure('prepare_executor', error);
      break prepare;
    }

    clock.enter('prepare_script');
    try {
      // 0600: a command may hold a secret literally.
      writeFileSync(join(scriptDir, 'step_script'), stepScript(shell.kind, [...job.beforeScript, ...job.script]), { mode: 0o600 });
      // Files by position: two steps may share a stage label (step_other) but never a script.
      for (const [index, step] of (job.extraSteps ?? []).entries()) {
        writeFileSync(join(scriptDir, `step_${index}`), stepScript(shell.kind, step.script), { mode: 0o600 });
      }
      if (job.afterScript.length > 0) {
        writeFileSync(join(scriptDir, 'after_script'), stepScript(shell.kind, job.afterScript), { mode: 0o600 });
      }
      if (job.repository) writeFileSync(join(scriptDir, 'get_sources'), sourcesScript(shell.kind, job.repository), { mode: 0o600 });
      writeFileVariables(job, scriptDir);
    } catch (error) {
      systemFailure('prepare_script', error);
      break prepare;
    }

    // Nothing to fetch unless the job names a repository and GIT_STRATEGY is not none.
    if (job.repository && env['GIT_STRATEGY'] !== 'none' && !stopped()) {
      if (!await jobStep('get_sources', 'get_sources')) break prepare;
    } else {
      clock.enter('get_sources');
    }

    if (stopped()) {
      state = 'canceled';
      break prepare;
    }

    if (await jobStep('step_script', 'step_script')) {
      for (const [index, step] of (job.extraSteps ?? []).entries()) {
        if (stopped() || !await jobStep(stepStage(step.name), `step_${index}`)) break;
      }
    }

    if (force?.aborted) break prepare;
    clock.enter('after_script');
    if (job.afterScript.length > 0) {
      const afterEnv = { ...env, CI_JOB_STATUS: state };
      const afterTimeoutMs = (options.afterScriptTimeoutSeconds ?? DEFAULT_AFTER_SCRIPT_TIMEOUT_SECONDS) * 1000;
      try {
        const after = await runStep(join(scriptDir, 'after_script'), afterEnv, afterTimeoutMs, force ? [force] : []);
        afterScript = {
          exitCode: after.outcome === 'exited' ? after.exitCode : undefined,
          timedOut: after.outcome === 'timeout',
          canceled: after.outcome === 'canceled',
        };
      } catch (error) {
        errors.push(`after_script: ${message(error)}`);
        afterScript = { exitCode: undefined, timedOut: false, canceled: false };
      }
    }
  }

  clock.enter('cleanup_file_variables');
  if (created) {
    for (const dir of options.keepBuildDir ? [scriptDir] : [scriptDir, projectDir]) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (error) {
        errors.push(`cleanup_file_variables: ${message(error)}`);
      }
    }
  }
  // A job whose log was lost cannot be reported as it ran.
  if (log.stats.sinkError !== undefined) systemFailure('job log', log.stats.sinkError);
  const closing = failureLine(state, failureReason, exitCode, timeoutSeconds);
  if (closing !== undefined) log.writeLine(closing);
  log.end();
  const stages = clock.close();

  const finishedAt = new Date();
  return {
    state,
    failureReason: state === 'failed' ? failureReason : undefined,
    exitCode,
    startedAt,
    finishedAt,
    durationSeconds: (performance.now() - start) / 1000,
    stages,
    afterScript,
    log: log.stats,
    systemError: errors.length > 0 ? errors.join('; ') : undefined,
    resources: resources.use,
  };
}
