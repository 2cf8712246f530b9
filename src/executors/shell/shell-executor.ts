// The shell executor: runs each stage's script in a shell on the runner's
// machine, in the job's own build directory, each in its own process group.
//
// Layout: the project directory (CI_PROJECT_DIR, where the stages start) is
// BUILDS_DIR/JOB_ID; the scripts and file variables live next to it in
// BUILDS_DIR/JOB_ID.tmp (mode 0700), as GitLab keeps them in PROJECT.tmp, so
// the job's directory holds only what the job makes.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Executor, ExecutorInfo, JobEnvironment, JobPlacement, ShellKind, StageCommand, StageOutcome } from '../../job/executor.ts';
import type { Job } from '../../job/model.ts';
import type { ResourceUse } from '../../job/result.ts';
import { runInProcessGroup, signalGroup } from '../../system/process-group.ts';
import { DEFAULT_PATH, detectShell } from './detect-shell.ts';
import { ResourceSampler } from './resources.ts';

export interface ShellExecutorOptions {
  /** Root of the build directories (CI_BUILDS_DIR); created if missing. */
  readonly buildsDir: string;
  /** Keep the project directory after the job (the scripts are removed regardless). */
  readonly keepBuildDir?: boolean;
  /** Seconds between SIGTERM and SIGKILL to a stage's process group; default 10. */
  readonly killGraceSeconds?: number;
  /** Force a shell; default bash if on PATH, else sh. */
  readonly shell?: ShellKind;
}

export const DEFAULT_KILL_GRACE_SECONDS = 10;

/** Variables of the runner's own environment a job gets (and every LC_*); everything else stays out. */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR'] as const;

const JOB_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function inheritedVariables(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('LC_') && value !== undefined) env[key] = value;
  }
  env['PATH'] ??= DEFAULT_PATH;
  return env;
}

export class ShellExecutor implements Executor {
  private readonly buildsDir: string;

  constructor(private readonly options: ShellExecutorOptions) {
    this.buildsDir = resolve(options.buildsDir);
  }

  get info(): ExecutorInfo {
    let shell: ShellKind = 'sh';
    try {
      shell = detectShell(this.options.shell).kind;
    } catch {
      // bash forced but missing: its jobs fail in prepare_executor, and say why
    }
    return { name: 'shell', shell, image: false, services: false, shared: true };
  }

  place(job: Job): JobPlacement {
    const projectDir = join(this.buildsDir, job.id);
    return { buildsDir: this.buildsDir, projectDir, tempDir: `${projectDir}.tmp`, baseVariables: inheritedVariables() };
  }

  async prepare(job: Job): Promise<JobEnvironment> {
    if (!JOB_ID.test(job.id)) throw new Error(`job id ${JSON.stringify(job.id)} cannot name a directory`);
    const shell = detectShell(this.options.shell);
    const { projectDir, tempDir } = this.place(job);
    await mkdir(this.buildsDir, { recursive: true });
    const remove = async (): Promise<void> => {
      for (const dir of [tempDir, projectDir]) await rm(dir, { recursive: true, force: true });
    };
    try {
      // A directory left by an earlier run of the same id (keep_builds_dir) is replaced: each job starts clean.
      await remove();
      // 0700: a job's checkout and files are its own.
      await mkdir(projectDir, { mode: 0o700 });
      await mkdir(tempDir, { mode: 0o700 });
    } catch (error) {
      await remove().catch(() => undefined);
      throw error;
    }
    const graceMs = (this.options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000;
    return new ShellEnvironment(shell, projectDir, tempDir, graceMs, this.options.keepBuildDir === true);
  }
}

class ShellEnvironment implements JobEnvironment {
  private readonly sampler = new ResourceSampler();
  /** The process group of the stage that runs now. */
  private group: number | undefined;

  constructor(
    private readonly shellFound: { kind: ShellKind; path: string },
    private readonly projectDir: string,
    private readonly tempDir: string,
    private readonly graceMs: number,
    private readonly keepProjectDir: boolean,
  ) {}

  get shell(): ShellKind {
    return this.shellFound.kind;
  }

  async writeFile(name: string, content: string): Promise<void> {
    await writeFile(join(this.tempDir, name), content, { mode: 0o600 });
  }

  async run(command: StageCommand): Promise<StageOutcome> {
    // The job can write to this directory too. A fresh, unguessable name
    // created exclusively follows nothing it planted (no symlink, no FIFO to
    // block on), and the '-' keeps it apart from every file variable's name.
    // 0600: a command may hold a secret literally.
    const script = join(this.tempDir, `${command.stage}-${randomBytes(6).toString('hex')}`);
    await writeFile(script, command.script, { mode: 0o600, flag: 'wx' });
    try {
      const result = await runInProcessGroup({
        command: this.shellFound.path,
        args: [script],
        cwd: this.projectDir,
        env: command.variables,
        timeoutMs: command.timeoutMs,
        graceMs: this.graceMs,
        cancelSignals: command.cancel,
        onOutput: command.onOutput,
        onStart: (pid) => {
          this.group = pid;
          this.sampler.track(pid);
          command.onProcess?.(pid);
        },
      });
      return { outcome: result.outcome, exitCode: result.exitCode };
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
    for (const dir of this.keepProjectDir ? [this.tempDir] : [this.tempDir, this.projectDir]) {
      try {
        await rm(dir, { recursive: true, force: true });
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  }
}
