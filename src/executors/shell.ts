// The shell executor: runs one job stage by stage, as GitLab Runner's shell
// executor does, in its own build directory and with each step in its own
// process group.
//
//   prepare_executor        create the job's build directory
//   prepare_script          write the step scripts
//   get_sources             nothing for local jobs
//   step_script             before_script + script in one shell
//   after_script            always (after success, failure, timeout or cancel),
//                           in a new shell, with its own timeout; its result
//                           does not change the job's
//   cleanup_file_variables  remove the scripts, and the build directory unless kept
//
// Layout: the project directory (CI_PROJECT_DIR, where the steps start) is
// BUILDS_DIR/JOB_ID; the scripts live next to it in BUILDS_DIR/JOB_ID.tmp
// (mode 0700), as GitLab keeps them in PROJECT.tmp, so the job's directory
// holds only what the job makes.
//
// Shell: bash with `set -eo pipefail` where bash is on PATH, else sh with
// `set -e`. The script writes each command as `$ command` before running it
// (a multi-line command as its first line and `# collapsed multi-line
// command`, as GitLab does), and sends stderr into stdout (`exec 2>&1`) so the
// log has both in the order the job wrote them. Everything goes through one
// JobLog per job: masking (echo lines included) and the output limit.
import { ResourceSampler, type ResourceUse } from './resources.ts';
import { accessSync, constants as fsConstants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import type { JobSpec } from '../sources/local/job-file.ts';
import { JobLog, outputLimitBytes, type JobLogStats, type LogSink } from '../trace/job-log.ts';
import { architecture, operatingSystem } from '../runtime/runtime.ts';
import { versionInfo } from '../version.ts';
import { runInProcessGroup, type GroupResult } from './process-group.ts';
import { StageClock, type BuildStage, type FailureReason, type JobState, type StageTiming } from './stages.ts';

export { BUILD_STAGES, type BuildStage, type FailureReason, type JobState, type StageTiming } from './stages.ts';

/** A job as the executor runs it: the job file's content plus its id. */
export interface ExecutableJob extends JobSpec {
  /** Names the build directory and is CI_JOB_ID: letters, digits, `.`, `_`, `-`, not starting with `.`. */
  readonly id: string;
}

export type ShellKind = 'bash' | 'sh';

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

/** Variables of the runner's own environment a job gets; everything else stays out. */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR'] as const;
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
const JOB_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Finds an executable on PATH. */
function which(name: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The shell jobs run in: bash if on PATH, else sh. */
export function detectShell(kind?: ShellKind): { kind: ShellKind; path: string } {
  const path = process.env['PATH'] || DEFAULT_PATH;
  if (kind !== 'sh') {
    const bash = which('bash', path);
    if (bash !== undefined) return { kind: 'bash', path: bash };
    if (kind === 'bash') throw new Error('bash not found on PATH');
  }
  return { kind: 'sh', path: which('sh', path) ?? '/bin/sh' };
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The line a command is announced with in the log (GitLab's form). */
export function echoLine(command: string): string {
  const lines = command.trim().split('\n');
  return lines.length > 1 ? `$ ${lines[0]} # collapsed multi-line command` : `$ ${lines[0]}`;
}

/** A step's script: each command announced, then run; the first failure ends it. */
export function stepScript(kind: ShellKind, commands: readonly string[]): string {
  const lines = ['exec 2>&1', kind === 'bash' ? 'set -eo pipefail' : 'set -e'];
  for (const command of commands) {
    lines.push(`command printf '%s\\n' ${shellQuote(echoLine(command))}`, command);
  }
  return lines.join('\n') + '\n';
}

/**
 * get_sources for a job that names a repository: GitLab's GIT_STRATEGY
 * (fetch, the default, reuses a kept checkout; clone starts from an empty
 * directory) and GIT_DEPTH, read from the job's variables at run time.
 */
export function sourcesScript(kind: ShellKind, repository: { url: string; ref: string | undefined }): string {
  return [
    'exec 2>&1',
    kind === 'bash' ? 'set -eo pipefail' : 'set -e',
    'if [ "${GIT_STRATEGY:-fetch}" = clone ]; then find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi',
    'if [ -d .git ]; then echo "Fetching changes..."; else echo "Cloning repository..."; git init -q .; fi',
    'git remote remove origin 2>/dev/null || true',
    `git remote add origin ${shellQuote(repository.url)}`,
    `git fetch -q \${GIT_DEPTH:+--depth "$GIT_DEPTH"} origin ${shellQuote(repository.ref ?? 'HEAD')}`,
    'git checkout -q -f FETCH_HEAD',
    'git clean -q -ffdx',
    'printf "Checked out %s\\n" "$(git rev-parse --short HEAD)"',
  ].join('\n') + '\n';
}

/** GOARCH-style names, as CI_RUNNER_EXECUTABLE_ARCH has them (linux/amd64). */
function goArch(arch: string): string {
  switch (arch) {
    case 'x64': return 'amd64';
    case 'ia32': return '386';
    default: return arch;
  }
}

/** The environment of a job's steps: basics of the runner's own, GitLab's predefined variables, then the job's. */
export function jobEnvironment(
  job: ExecutableJob,
  context: { buildsDir: string; projectDir: string; runnerName: string; timeoutSeconds: number; startedAt: Date },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('LC_') && value !== undefined) env[key] = value;
  }
  env['PATH'] ??= DEFAULT_PATH;
  Object.assign(env, {
    CI: 'true',
    CI_JOB_ID: job.id,
    CI_JOB_NAME: job.name,
    CI_JOB_STATUS: 'running',
    CI_JOB_STARTED_AT: context.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    CI_JOB_TIMEOUT: String(Math.ceil(context.timeoutSeconds)),
    CI_BUILDS_DIR: context.buildsDir,
    CI_PROJECT_DIR: context.projectDir,
    CI_SHARED_ENVIRONMENT: 'true',
    CI_RUNNER_DESCRIPTION: context.runnerName,
    CI_RUNNER_VERSION: versionInfo.version,
    CI_RUNNER_REVISION: versionInfo.revision,
    CI_RUNNER_EXECUTABLE_ARCH: `${operatingSystem}/${goArch(architecture)}`,
  });
  for (const variable of job.variables) env[variable.key] = variable.value;
  return env;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs one job to its end; never rejects (a failure of the runner itself is a runner_system_failure). */
export async function runJob(job: ExecutableJob, options: ShellExecutorOptions): Promise<JobResult> {
  const startedAt = new Date();
  const start = performance.now();
  const timeoutSeconds = job.timeoutSeconds ?? options.defaultTimeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS;
  const deadline = start + timeoutSeconds * 1000;
  const graceMs = (options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000;
  const clock = new StageClock((stage) => options.onStage?.(stage));
  const log = new JobLog({
    secrets: job.variables.filter((v) => v.masked).map((v) => v.value),
    limitBytes: options.outputLimitBytes ?? outputLimitBytes(0),
    sink: options.log,
  });
  const cancel = options.signal;
  const force = options.forceSignal;
  const cancelSignals = [cancel, force].filter((s) => s !== undefined);

  const buildsDir = resolve(options.buildsDir);
  const projectDir = join(buildsDir, job.id);
  const scriptDir = `${projectDir}.tmp`;
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
  let env: Record<string, string> = {};

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
      mkdirSync(projectDir);
      mkdirSync(scriptDir, { mode: 0o700 });
      env = jobEnvironment(job, { buildsDir, projectDir, runnerName: options.runnerName, timeoutSeconds, startedAt });
    } catch (error) {
      systemFailure('prepare_executor', error);
      break prepare;
    }

    clock.enter('prepare_script');
    try {
      // 0600: a command may hold a secret literally.
      writeFileSync(join(scriptDir, 'step_script'), stepScript(shell.kind, [...job.beforeScript, ...job.script]), { mode: 0o600 });
      if (job.afterScript.length > 0) {
        writeFileSync(join(scriptDir, 'after_script'), stepScript(shell.kind, job.afterScript), { mode: 0o600 });
      }
    } catch (error) {
      systemFailure('prepare_script', error);
      break prepare;
    }

    clock.enter('get_sources');
    // Nothing to fetch unless the job names a repository and GIT_STRATEGY is not none.
    const strategy = job.variables.find((v) => v.key === 'GIT_STRATEGY')?.value ?? 'fetch';
    if (job.repository && strategy !== 'none' && !(cancel?.aborted || force?.aborted)) {
      try {
        const sources = join(scriptDir, 'get_sources');
        writeFileSync(sources, sourcesScript(shell.kind, job.repository), { mode: 0o600 });
        const step = await runStep(sources, env, deadline - performance.now(), cancelSignals);
        if (step.outcome !== 'exited' || step.exitCode !== 0) {
          state = step.outcome === 'canceled' ? 'canceled' : 'failed';
          failureReason = step.outcome === 'timeout' ? 'job_execution_timeout' : 'script_failure';
          exitCode = step.outcome === 'exited' ? step.exitCode : undefined;
          break prepare;
        }
      } catch (error) {
        systemFailure('get_sources', error);
        break prepare;
      }
    }

    if (cancel?.aborted || force?.aborted) {
      state = 'canceled';
      break prepare;
    }

    clock.enter('step_script');
    try {
      const step = await runStep(join(scriptDir, 'step_script'), env, deadline - performance.now(), cancelSignals);
      switch (step.outcome) {
        case 'exited':
          exitCode = step.exitCode;
          state = step.exitCode === 0 ? 'success' : 'failed';
          failureReason = step.exitCode === 0 ? undefined : 'script_failure';
          break;
        case 'timeout':
          state = 'failed';
          failureReason = 'job_execution_timeout';
          break;
        case 'canceled':
          state = 'canceled';
          break;
      }
    } catch (error) {
      systemFailure('step_script', error);
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
