// The executor contract: where a job's stages run. An executor says where
// build directories go, prepares an environment for a job, runs one stage's
// script at a time in it, and cleans up. The build sequence (src/build)
// decides the job's directories and which stages run, and writes their
// scripts; an executor knows nothing of sources, logs or results.
//
// Stopping a stage: aborting one of a command's `cancel` signals ends it
// gracefully (SIGTERM, then SIGKILL after the executor's grace period) - the
// build sequence uses that for a cancel and for a forced stop; `kill()` ends
// whatever runs at once, for a runner that is about to exit.
import type { RunnerConfig } from '../config/types.ts';
import type { Job, JobVariable } from './model.ts';
import type { BuildStage, ResourceUse } from './result.ts';

/** The shells stage scripts are written for. */
export type ShellKind = 'bash' | 'sh';

/** What an executor tells a coordinator about itself (GitLab's runner info). */
export interface ExecutorInfo {
  /** GitLab's executor name: shell, docker, ... */
  readonly name: string;
  /** The shell its scripts run in. */
  readonly shell: ShellKind;
  /** Whether it runs a job's `image:` and `services:`. */
  readonly image: boolean;
  readonly services: boolean;
  /** Whether jobs share the runner's machine (GitLab's CI_SHARED_ENVIRONMENT). */
  readonly shared: boolean;
  /** prepare_script names the runner's host too: `Running on CONTAINER via HOST...` (GitLab's ShowHostname). */
  readonly showHostname?: boolean;
}

/** A job's directories, as the job sees them. */
export interface JobDirectories {
  /** CI_PROJECT_DIR: where the job's sources go and its stages work. */
  readonly projectDir: string;
  /** RUNNER_TEMP_PROJECT_DIR: the runner's files for the job (file variables, git settings), removed after it. */
  readonly tempDir: string;
  /** The project directory is the job's alone: made empty before it and removed after it (a local job's). */
  readonly disposable: boolean;
}

export interface StageCommand {
  readonly stage: BuildStage;
  /** The stage's whole script, for the environment's shell; it exports the job's variables itself. */
  readonly script: string;
  /** Milliseconds before the stage is ended as timed out; Infinity for none. */
  readonly timeoutMs: number;
  /** Any of these aborting ends the stage as canceled (gracefully). */
  readonly cancel: readonly AbortSignal[];
  /** Receives the stage's output, stdout and stderr merged in order. A chunk is valid only during the call. */
  readonly onOutput: (chunk: Uint8Array) => void;
  /** Told the id of the stage's process when it starts, and undefined when it ends (for the job list). */
  readonly onProcess?: ((pid: number | undefined) => void) | undefined;
}

export interface StageOutcome {
  /** exited: the script ended by itself (whatever its status); otherwise why it was ended. */
  readonly outcome: 'exited' | 'timeout' | 'canceled';
  /** The exit status; 128 + the signal number when a signal ended it. */
  readonly exitCode: number;
  /** The signal that ended the stage's shell itself, if one did (SIGKILL, ...). */
  readonly signal?: string | undefined;
}

/** The job's place among the runner's running jobs, for executors that keep something per slot (docker's build directories). */
export interface ExecutorSlot {
  /** GitLab Runner's short token of the runner ('' for none). */
  readonly shortToken: string;
  readonly concurrentId: number;
  readonly concurrentProjectId: number;
}

/** What prepare_executor gets besides the job and its directories. */
export interface PrepareContext {
  readonly slot: ExecutorSlot;
  /** The job's variables, expanded (an image or service named with `$VAR`; services' environment). */
  readonly variables: readonly JobVariable[];
  /** A line for the job log (plain text, or a warning), as GitLab Runner's executor prints them while it prepares. */
  readonly log: (line: { readonly level: 'info' | 'warning' | 'notice' | 'error'; readonly text: string }) => void;
  /** Aborts when the job is canceled or the runner stops: a pull or a wait for services ends. */
  readonly signal: AbortSignal;
}

/**
 * Where a stage's script runs: in the job's environment, or on the runner's
 * own host with the job's directories as the runner reaches them
 * (hostDirectories) - the docker executor fetches sources there, so that a
 * job's image needs no git.
 */
export type StagePlace = 'job' | 'host';

/** A job's prepared environment. */
export interface JobEnvironment {
  readonly shell: ShellKind;
  /**
   * The job's directories as the runner reaches them, where the job sees
   * them elsewhere (docker's mounts); undefined: the same paths.
   */
  readonly hostDirectories?: JobDirectories | undefined;
  /** CI_BUILDS_DIR as the runner reaches it, with hostDirectories. */
  readonly hostBuildsDir?: string | undefined;
  /**
   * The job's own code writes hostDirectories' project directory (a container shares it): the
   * stages on the host then take only the runner's variables and scripts, never the job's.
   */
  readonly sharedWithJob?: boolean | undefined;
  /** The shell of the stages that run on the host, where it differs from the job's. */
  readonly hostShell?: ShellKind | undefined;
  /**
   * Who the files the runner itself writes into the job's directories (restored caches, downloaded
   * artifacts) must belong to, where the job runs as a user other than the runner's; undefined: the runner.
   */
  readonly fileOwner?: { readonly uid: number; readonly gid: number } | undefined;
  /** Where `stage` runs; undefined: everything in the job's environment. */
  placeOf?(stage: BuildStage): StagePlace;
  /** Runs one stage's script to its end. Rejects only when it cannot be started. */
  run(command: StageCommand): Promise<StageOutcome>;
  /** Ends whatever runs now, without a grace period. */
  kill(): void;
  /** What the job's processes have used so far; undefined where the executor cannot measure it (its docs say why). */
  resources(): ResourceUse | undefined;
  /** Removes the job's temporary directory, and a disposable project directory. Rejects naming what it could not remove. */
  cleanup(): Promise<void>;
}

export interface Executor {
  readonly info: ExecutorInfo;
  /** CI_BUILDS_DIR: where project directories go, as jobs see it. */
  readonly buildsDir: string;
  /**
   * Makes the job's directories ready (prepare_executor); on failure removes what it made, and rejects
   * (with a PrepareError for a failure of the job's own making: a refused or missing image).
   */
  prepare(job: Job, directories: JobDirectories, context: PrepareContext): Promise<JobEnvironment>;
}

/** Makes the executor of a runner, as its configuration says. */
export interface ExecutorFactory {
  create(runner: RunnerConfig): Executor;
}

/**
 * A preparation that failed because of what the job asked for (an image
 * outside allowed_images, a missing image with pull_policy never), not
 * because of the runner: the job fails with `reason` and this message.
 */
export class PrepareError extends Error {
  override name = 'PrepareError';
  constructor(
    message: string,
    readonly reason: 'image_pull_failure' | 'runner_configuration_error' | 'runner_system_failure',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What an executor tells the runner's metrics as it works (the docker executor's pulls, starts and waits). */
export interface ExecutorEvents {
  /** An image was looked for under `policy`: pulled, found locally, or failed. */
  imagePull(event: { readonly policy: string; readonly result: 'pulled' | 'local' | 'failed'; readonly seconds: number }): void;
  /** A container was started: `seconds` from the start request to the daemon's answer. */
  containerStarted(event: { readonly type: 'build' | 'service'; readonly seconds: number }): void;
  /** A container the runner made began or stopped running (+1, -1). */
  containersRunning(event: { readonly type: 'build' | 'service'; readonly change: 1 | -1 }): void;
  /** The wait for a job's services ended: all up, or not (the job goes on, as in GitLab). */
  servicesWaited(event: { readonly result: 'up' | 'not_up'; readonly seconds: number }): void;
}
