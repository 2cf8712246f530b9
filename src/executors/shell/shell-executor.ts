// The shell executor, as GitLab Runner's: each stage's script goes to a login
// shell (`bash -l`, or `sh -l`) on stdin, in the runner's working directory
// and with the runner's own environment (profiles sourced: nvm, rbenv, proxies,
// JAVA_HOME), in its own process group. The job's variables reach it through
// the exports at the top of each script, never through the process
// environment. The runner keeps no secret of its own in its environment:
// runner tokens live in config.toml only, so a job never sees them.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Executor, ExecutorInfo, JobDirectories, JobEnvironment, PrepareContext, ShellKind, StageCommand, StageOutcome } from '../../job/executor.ts';
import type { Job } from '../../job/model.ts';
import type { ResourceUse } from '../../job/result.ts';
import { runInProcessGroup, signalGroup } from '../../system/process-group.ts';
import { detectShell } from './detect-shell.ts';
import { ResourceSampler } from './resources.ts';

export interface ShellExecutorOptions {
  /** Root of the build directories (CI_BUILDS_DIR); created if missing. */
  readonly buildsDir: string;
  /** Where each stage's shell starts (the runner's working directory); default the runner's current one. */
  readonly workingDirectory?: string;
  /** Keep a disposable project directory after the job (the runner's files are removed regardless). */
  readonly keepBuildDir?: boolean;
  /** Seconds between SIGTERM and SIGKILL to a stage's process group; default 10. */
  readonly killGraceSeconds?: number;
  /** The shell (`shell` of [[runners]]); default bash if on PATH, else sh. */
  readonly shell?: ShellKind;
}

export const DEFAULT_KILL_GRACE_SECONDS = 10;

/** Mode of the directories the runner makes for a job: its checkout and files are its own. */
const PRIVATE = 0o700;

export class ShellExecutor implements Executor {
  readonly buildsDir: string;

  constructor(private readonly options: ShellExecutorOptions) {
    this.buildsDir = resolve(options.buildsDir);
  }

  get info(): ExecutorInfo {
    let shell: ShellKind = this.options.shell ?? 'sh';
    try {
      shell = detectShell(this.options.shell).kind;
    } catch {
      // bash asked for and missing: its jobs fail in prepare_executor, and say why
    }
    return { name: 'shell', shell, image: false, services: false, shared: true };
  }

  async prepare(_job: Job, directories: JobDirectories, context: PrepareContext): Promise<JobEnvironment> {
    const shell = detectShell(this.options.shell);
    context.log({ level: 'info', text: `Using Shell (${shell.kind}) executor...` });
    const { projectDir, tempDir, disposable } = directories;
    await mkdir(this.buildsDir, { recursive: true });
    const made = disposable ? [tempDir, projectDir] : [tempDir];
    try {
      // A disposable directory left by an earlier run of the same id (keep_builds_dir) is replaced: each such job starts clean.
      for (const dir of made) await rm(dir, { recursive: true, force: true });
      if (disposable) await mkdir(projectDir, { mode: PRIVATE });
      else await mkdir(dirname(projectDir), { recursive: true });
      await mkdir(tempDir, { recursive: true, mode: PRIVATE });
    } catch (error) {
      for (const dir of made) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    const keepProject = !disposable || this.options.keepBuildDir === true;
    return new ShellEnvironment(shell, {
      workingDirectory: resolve(this.options.workingDirectory ?? process.cwd()),
      graceMs: (this.options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000,
      removed: keepProject ? [tempDir] : [tempDir, projectDir],
    });
  }
}

class ShellEnvironment implements JobEnvironment {
  private readonly sampler = new ResourceSampler();
  /** The process group of the stage that runs now. */
  private group: number | undefined;

  constructor(
    private readonly shellFound: { kind: ShellKind; path: string },
    private readonly settings: { workingDirectory: string; graceMs: number; removed: readonly string[] },
  ) {}

  get shell(): ShellKind {
    return this.shellFound.kind;
  }

  async run(command: StageCommand): Promise<StageOutcome> {
    try {
      // Named `bash` (or `sh`) in its argv[0], so it calls itself that in its messages (`bash: line 9: ...`), as
      // GitLab Runner's, which starts it by name; spawned by its path, as on Deno a command spawned by name gets
      // the path it resolved to as its argv[0].
      const result = await runInProcessGroup({
        command: this.shellFound.path,
        argv0: this.shellFound.kind,
        args: ['-l'],
        stdin: command.script,
        cwd: this.settings.workingDirectory,
        env: runnerEnvironment(this.shellFound.path),
        timeoutMs: command.timeoutMs,
        graceMs: this.settings.graceMs,
        cancelSignals: command.cancel,
        onOutput: command.onOutput,
        onStart: (pid) => {
          this.group = pid;
          this.sampler.track(pid);
          command.onProcess?.(pid);
        },
      });
      return { outcome: result.outcome, exitCode: result.exitCode, signal: result.signal };
    } finally {
      this.group = undefined;
      this.sampler.untrack();
      command.onProcess?.(undefined);
    }
  }

  kill(): void {
    if (this.group === undefined) return;
    try {
      signalGroup(this.group, 'SIGKILL');
    } catch {
      // gone already
    }
  }

  resources(): ResourceUse {
    return this.sampler.use;
  }

  async cleanup(): Promise<void> {
    const failures: string[] = [];
    for (const dir of this.settings.removed) {
      try {
        await rm(dir, { recursive: true, force: true });
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  }
}

/** The runner's environment for a stage's shell, with a PATH that finds the shell it was found with. */
function runnerEnvironment(shellPath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  if (!env['PATH']) env['PATH'] = dirname(shellPath);
  return env;
}
