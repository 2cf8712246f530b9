// The executor contract: where a job's stages run. An executor places a job
// (its directories and starting environment, known before anything is made),
// prepares an environment for it, runs one stage's script at a time in it,
// and cleans up. The build sequence (src/build) decides which stages run and
// when; an executor knows nothing of sources, logs or results.
//
// Stopping a stage: aborting one of a command's `cancel` signals ends it
// gracefully (SIGTERM, then SIGKILL after the executor's grace period) - the
// build sequence uses that for a cancel and for a forced stop; `kill()` ends
// whatever runs at once, for a runner that is about to exit.
import type { RunnerConfig } from '../config/types.ts';
import type { Job } from './model.ts';
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
}

/** Where and with what a job will run, as the job sees it, known before anything is made. */
export interface JobPlacement {
  /** CI_BUILDS_DIR. */
  readonly buildsDir: string;
  /** CI_PROJECT_DIR: where the stages start. */
  readonly projectDir: string;
  /** The job's private directory for the runner's files (scripts, file variables). */
  readonly tempDir: string;
  /** Variables every stage starts with before the job's own (the shell executor: PATH, HOME, ... of the runner). */
  readonly baseVariables: Readonly<Record<string, string>>;
}

export interface StageCommand {
  readonly stage: BuildStage;
  /** The stage's script, written for the environment's shell. */
  readonly script: string;
  /** The stage's whole environment. */
  readonly variables: Readonly<Record<string, string>>;
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
}

/** A job's prepared environment. */
export interface JobEnvironment {
  readonly shell: ShellKind;
  /** Writes a file into the job's private directory (mode 0600: it may hold a secret). */
  writeFile(name: string, content: string): Promise<void>;
  /** Runs one stage's script to its end. Rejects only when it cannot be started. */
  run(command: StageCommand): Promise<StageOutcome>;
  /** Ends whatever runs now, without a grace period. */
  kill(): void;
  /** What the job's processes have used so far. */
  resources(): ResourceUse;
  /** Removes what prepare made (the project directory too, unless the runner keeps it). Rejects naming what it could not remove. */
  cleanup(): Promise<void>;
}

export interface Executor {
  readonly info: ExecutorInfo;
  place(job: Job): JobPlacement;
  /** Makes the job's environment (prepare_executor); on failure removes what it made, and rejects. */
  prepare(job: Job): Promise<JobEnvironment>;
}

/** Makes the executor of a runner, as its configuration says. */
export interface ExecutorFactory {
  create(runner: RunnerConfig): Executor;
}
