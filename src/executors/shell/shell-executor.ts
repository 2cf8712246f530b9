// The shell executor, as GitLab Runner's: each stage's script goes to a login
// shell (`bash -l`, or `sh -l`) on stdin, in the runner's working directory
// and with the runner's own environment (profiles sourced: nvm, rbenv, proxies,
// JAVA_HOME), in its own process group. The job's variables reach it through
// the exports at the top of each script, never through the process
// environment.
//
// With `user` (job-user.ts) the shell runs as one of the runner's job users
// instead, held by this job alone, in the builds directory, with that user's
// login environment and none of the runner's: what the service was started
// with (OTEL_* headers, proxies with credentials) stays with the runner.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Executor, ExecutorInfo, JobDirectories, JobEnvironment, PrepareContext, ShellKind, StageCommand, StageOutcome } from '../../job/executor.ts';
import type { Job } from '../../job/model.ts';
import type { ResourceUse } from '../../job/result.ts';
import { PrepareError } from '../../job/executor.ts';
import { runInProcessGroup, signalGroup } from '../../system/process-group.ts';
import { DEFAULT_PATH, detectShell } from './detect-shell.ts';
import { cannotSwitchUsers, endProcessesOf, type JobUser, lookupUser, setprivArgs, setprivPath, UserLeases, watchForEscapees } from './job-user.ts';
import { ResourceSampler } from './resources.ts';
import { makeSharedParent, userDirectory } from './user-directories.ts';
import { openScriptFile } from './script-file.ts';
import { closeSync } from 'node:fs';

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
  /** `user` of [[runners]]: jobs run as one of these users, each held by one job at a time; none: as the runner's user. */
  readonly users?: readonly string[];
  /** Which users running jobs hold: one for all the runners of a process (a user serves one job at a time). */
  readonly leases?: UserLeases;
}

/** The leases of executors made without their own: still one job a user within the process. */
const PROCESS_LEASES = new UserLeases();

/** The job's user, and how the runner acts as it. */
interface AsUser {
  readonly user: JobUser;
  readonly setpriv: string;
  /** Frees the user for the next job. */
  readonly release: () => void;
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
    if ((this.options.users?.length ?? 0) > 0) return await this.prepareAsUser(shell, directories, context);
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
      scriptDir: tempDir,
      graceMs: (this.options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000,
      removed: keepProject ? [tempDir] : [tempDir, projectDir],
    });
  }

  /** Takes a free user of the runner's, ends whatever of it still runs, and makes the job's directories its own. */
  private async prepareAsUser(shell: { kind: ShellKind; path: string }, directories: JobDirectories, context: PrepareContext): Promise<JobEnvironment> {
    const users = this.options.users ?? [];
    const reason = cannotSwitchUsers();
    if (reason !== undefined) throw new PrepareError(`cannot run jobs as user ${users.join(', ')}: ${reason}`, 'runner_system_failure');
    const setpriv = setprivPath()!;
    const leases = this.options.leases ?? PROCESS_LEASES;
    const name = leases.take(users);
    if (name === undefined) throw new PrepareError(`every user of this runner (${users.join(', ')}) is running a job`, 'runner_system_failure');
    try {
      const user = lookupUser(name);
      if (user === undefined) throw new PrepareError(`no user ${JSON.stringify(name)} on this machine`, 'runner_system_failure');
      if (user.uid === 0) throw new PrepareError(`user ${JSON.stringify(name)} is root: jobs need an unprivileged user`, 'runner_system_failure');
      // Nothing of the user's may run while the runner works on its files: not even what a login or a crashed runner left.
      await endProcessesOf(user, setpriv, shell.path);
      const { projectDir, tempDir, disposable } = directories;
      await makeSharedParent(this.buildsDir, dirname(projectDir));
      await userDirectory(tempDir, user, false, setpriv);
      await userDirectory(projectDir, user, !disposable, setpriv);
      context.log({ level: 'info', text: `Running as user ${user.name} (uid ${user.uid})` });
      const keepProject = !disposable || this.options.keepBuildDir === true;
      return new ShellEnvironment(shell, {
        workingDirectory: this.buildsDir,
        scriptDir: tempDir,
        graceMs: (this.options.killGraceSeconds ?? DEFAULT_KILL_GRACE_SECONDS) * 1000,
        removed: keepProject ? [tempDir] : [tempDir, projectDir],
        asUser: { user, setpriv, release: () => leases.release(name) },
      });
    } catch (error) {
      leases.release(name);
      if (error instanceof PrepareError) throw error;
      throw new PrepareError(`preparing the job for user ${name}: ${error instanceof Error ? error.message : String(error)}`, 'runner_system_failure', {
        cause: error,
      });
    }
  }
}

class ShellEnvironment implements JobEnvironment {
  private readonly sampler = new ResourceSampler();
  /** The process group of the stage that runs now. */
  private group: number | undefined;

  constructor(
    private readonly shellFound: { kind: ShellKind; path: string },
    private readonly settings: {
      workingDirectory: string;
      /** The job's temporary directory: a stage's script file is made there where /dev/shm cannot take it (script-file.ts). */
      scriptDir: string;
      graceMs: number;
      removed: readonly string[];
      asUser?: AsUser;
    },
  ) {}

  get shell(): ShellKind {
    return this.shellFound.kind;
  }

  /** Files the runner writes for the job (caches, artifacts) belong to its user. */
  get fileOwner(): { uid: number; gid: number } | undefined {
    const user = this.settings.asUser?.user;
    return user === undefined ? undefined : { uid: user.uid, gid: user.gid };
  }

  async run(command: StageCommand): Promise<StageOutcome> {
    let stopWatching = (): void => {};
    // The script from a file, not a pipe (script-file.ts); where no file can be made, from a pipe as before.
    let scriptFd: number | undefined;
    try {
      scriptFd = openScriptFile(this.settings.scriptDir, command.script);
    } catch {
      scriptFd = undefined;
    }
    try {
      // Named `bash` (or `sh`) in its argv[0], so it calls itself that in its messages (`bash: line 9: ...`), as
      // GitLab Runner's, which starts it by name; spawned by its path, as on Deno a command spawned by name gets
      // the path it resolved to as its argv[0].
      // As a job user: setpriv execs the shell by name (its argv[0]) from the runner's PATH, where it was found.
      const asUser = this.settings.asUser;
      const endUserProcesses = (): Promise<void> => endProcessesOf(asUser!.user, asUser!.setpriv, this.shellFound.path);
      const result = await runInProcessGroup({
        ...(asUser === undefined
          ? { command: this.shellFound.path, argv0: this.shellFound.kind, args: ['-l'] }
          : { command: asUser.setpriv, args: [...setprivArgs(asUser.user, [this.shellFound.kind, '-l'])] }),
        stdin: command.script,
        stdinFd: scriptFd,
        cwd: this.settings.workingDirectory,
        env: asUser === undefined ? runnerEnvironment(this.shellFound.path) : userEnvironment(asUser.user, this.shellFound.path),
        timeoutMs: command.timeoutMs,
        graceMs: this.settings.graceMs,
        cancelSignals: command.cancel,
        onOutput: command.onOutput,
        onStart: (pid) => {
          this.group = pid;
          this.sampler.track(pid);
          command.onProcess?.(pid);
          if (asUser !== undefined) stopWatching = watchForEscapees(pid, endUserProcesses);
        },
      });
      // What left the stage's process group (setsid, a daemon) ends too: the runner works on the job's files next.
      if (asUser !== undefined) await endUserProcesses();
      return { outcome: result.outcome, exitCode: result.exitCode, signal: result.signal };
    } finally {
      if (scriptFd !== undefined) closeSync(scriptFd);
      stopWatching();
      this.group = undefined;
      this.sampler.untrack();
      command.onProcess?.(undefined);
    }
  }

  kill(): void {
    const asUser = this.settings.asUser;
    if (asUser !== undefined) void endProcessesOf(asUser.user, asUser.setpriv, this.shellFound.path).catch(() => undefined);
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
    const asUser = this.settings.asUser;
    try {
      // No process of the user may change the directories while the runner removes them.
      if (asUser !== undefined) await endProcessesOf(asUser.user, asUser.setpriv, this.shellFound.path);
      await this.removeDirectories();
    } finally {
      asUser?.release();
    }
  }

  private async removeDirectories(): Promise<void> {
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

/** Of the runner's environment a job user gets only what says how to run programs: PATH, the locale and the time zone. */
const PASSED_TO_USERS = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TZ)$/;

/** A job user's environment: its login variables (as `su` sets them) and the runner's PATH and locale; its login shell adds its profile. */
function userEnvironment(user: JobUser, shellPath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && PASSED_TO_USERS.test(key)) env[key] = value;
  env['PATH'] ||= process.env['PATH'] || DEFAULT_PATH;
  return { ...env, HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: shellPath };
}
