// A docker job's prepared environment. The build container is made once and
// started again for each stage that runs in the job (GitLab Runner's docker
// executor does the same), its output read from an attach made before the
// start; get_sources and the runner's cleanup run on the runner's host, in the
// host side of the project's bind mount, so that the job's image needs no git.
//
// The stage script reaches the container as a file in the job's temporary
// directory (mounted with the project), removed when the stage ends. The
// container runs with docker-init as its first process, told to pass signals
// to the whole process group (TINI_KILL_PROCESS_GROUP): a cancel or timeout
// sends SIGTERM to every process of the stage, as the shell executor does,
// then SIGKILL after the grace period.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutorEvents, JobDirectories, JobEnvironment, ShellKind, StageCommand, StageOutcome, StagePlace } from '../../job/executor.ts';
import type { BuildStage, ResourceUse } from '../../job/result.ts';
import { runInProcessGroup } from '../../system/process-group.ts';
import type { DockerEngine } from './engine.ts';
import type { JobCgroup } from './job-cgroup.ts';

/** The stages the runner runs on its host: the checkout (git, git-lfs and the job's credentials) and the runner's cleanup. */
const HOST_STAGES: ReadonlySet<BuildStage> = new Set(['get_sources', 'cleanup_file_variables']);

/** The file each stage's script is written to, in the job's temporary directory. */
export const STAGE_SCRIPT = '.runner-stage-script';

export interface DockerEnvironmentParts {
  readonly engine: DockerEngine;
  readonly buildContainer: string;
  readonly serviceContainers: readonly string[];
  /** The job's network, when the runner made it (removed with the job). */
  readonly network: string | undefined;
  readonly cgroup: JobCgroup | undefined;
  readonly hostDirectories: JobDirectories;
  readonly hostBuildsDir: string;
  /** The host side of the job's temporary directory in the container, where stage scripts are written for it. */
  readonly containerTempDir: string;
  /** What is removed on the host after the job (its directories). */
  readonly hostRemoved: readonly string[];
  /** Told of each of those once it is removed. */
  readonly untrack: (dir: string) => void;
  readonly host: { readonly shell: { readonly kind: ShellKind; readonly path: string }; readonly workingDirectory: string };
  readonly graceMs: number;
  readonly events: ExecutorEvents | undefined;
}

export class DockerEnvironment implements JobEnvironment {
  /** Scripts are written in the portable form; the container runs them with bash where its image has it, else sh. */
  readonly shell: ShellKind = 'sh';
  readonly hostShell: ShellKind;
  readonly hostDirectories: JobDirectories;
  readonly hostBuildsDir: string;
  /** The job's own code (in the container) writes the directories the host stages work in. */
  readonly sharedWithJob = true;
  private running = false;
  private finalUse: ResourceUse | undefined;
  private cleaned = false;

  constructor(private readonly parts: DockerEnvironmentParts) {
    this.hostShell = parts.host.shell.kind;
    this.hostDirectories = parts.hostDirectories;
    this.hostBuildsDir = parts.hostBuildsDir;
  }

  placeOf(stage: BuildStage): StagePlace {
    return HOST_STAGES.has(stage) ? 'host' : 'job';
  }

  run(command: StageCommand): Promise<StageOutcome> {
    return this.placeOf(command.stage) === 'host' ? this.runOnHost(command) : this.runInContainer(command);
  }

  private async runOnHost(command: StageCommand): Promise<StageOutcome> {
    const { shell, workingDirectory } = this.parts.host;
    try {
      const result = await runInProcessGroup({
        command: shell.path,
        argv0: shell.kind,
        args: ['-l'],
        // What the checkout writes, the job's user in the container may change (GitLab's helper runs with umask 0000).
        stdin: `umask 0000\n${command.script}`,
        cwd: workingDirectory,
        env: hostEnvironment(),
        // The project directory is the container's too: git on the host runs no hook or fsmonitor a job may have planted in it.
        timeoutMs: command.timeoutMs,
        graceMs: this.parts.graceMs,
        cancelSignals: command.cancel,
        onOutput: command.onOutput,
        onStart: (pid) => command.onProcess?.(pid),
      });
      return { outcome: result.outcome, exitCode: result.exitCode, signal: result.signal };
    } finally {
      command.onProcess?.(undefined);
    }
  }

  private async runInContainer(command: StageCommand): Promise<StageOutcome> {
    const { engine, buildContainer, events } = this.parts;
    const scriptPath = join(this.parts.containerTempDir, STAGE_SCRIPT);
    await writeFile(scriptPath, command.script, { mode: 0o644 });
    let ended: 'timeout' | 'canceled' | undefined;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    let started = false;
    /** SIGTERM to the stage's processes, SIGKILL after the grace period; only once the container runs (before: it never starts). */
    const terminate = (): void => {
      void engine.containerKill(buildContainer, 'SIGTERM').catch(() => undefined);
      graceTimer ??= setTimeout(() => void engine.containerKill(buildContainer, 'SIGKILL').catch(() => undefined), this.parts.graceMs);
    };
    const stop = (why: 'timeout' | 'canceled'): void => {
      if (ended !== undefined) return;
      ended = why;
      if (started) terminate();
    };
    const onCancel = (): void => stop('canceled');
    const timer = Number.isFinite(command.timeoutMs) ? setTimeout(() => stop('timeout'), Math.max(0, command.timeoutMs)) : undefined;
    try {
      const attached = await engine.containerAttach(buildContainer, { onOutput: (payload) => command.onOutput(payload) });
      try {
        for (const signal of command.cancel) {
          if (signal.aborted) onCancel();
          signal.addEventListener('abort', onCancel, { once: true });
        }
        // Stopped before it started: it does not start at all.
        if (ended !== undefined) return { outcome: ended, exitCode: 0 };
        const startedAt = performance.now();
        await engine.containerStart(buildContainer);
        started = true;
        this.running = true;
        events?.containerStarted({ type: 'build', seconds: (performance.now() - startedAt) / 1000 });
        events?.containersRunning({ type: 'build', change: 1 });
        // A stop that came while it started.
        if (ended !== undefined) terminate();
        const exitCode = await engine.containerWait(buildContainer, 'not-running');
        // A broken or corrupt output stream is the runner's failure, never a silently short log.
        await attached.done;
        if (ended !== undefined) return { outcome: ended, exitCode };
        return { outcome: 'exited', exitCode };
      } finally {
        attached.close();
        if (this.running) events?.containersRunning({ type: 'build', change: -1 });
        this.running = false;
      }
    } finally {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      for (const signal of command.cancel) signal.removeEventListener('abort', onCancel);
      await rm(scriptPath, { force: true }).catch(() => undefined);
    }
  }

  kill(): void {
    // Whether it runs yet or not: a kill between start and the answer must not be lost.
    void this.parts.engine.containerKill(this.parts.buildContainer, 'SIGKILL').catch(() => undefined);
  }

  resources(): ResourceUse | undefined {
    return this.finalUse ?? this.parts.cgroup?.read();
  }

  /** Removes the job's containers and network, keeps the job's final figures, then removes its cgroup and host directories. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    const { engine, events } = this.parts;
    const failures: string[] = [];
    const removeContainer = async (id: string): Promise<void> => {
      try {
        await engine.containerRemove(id, { force: true, volumes: true });
      } catch (error) {
        failures.push((error as Error).message);
      }
    };
    await Promise.all([this.parts.buildContainer, ...this.parts.serviceContainers].map(removeContainer));
    for (const _ of this.parts.serviceContainers) events?.containersRunning({ type: 'service', change: -1 });
    if (this.parts.network !== undefined) await engine.networkRemove(this.parts.network).catch((error: Error) => failures.push(error.message));
    this.finalUse = this.parts.cgroup?.read();
    this.parts.cgroup?.remove();
    for (const dir of this.parts.hostRemoved) {
      await rm(dir, { recursive: true, force: true }).then(() => this.parts.untrack(dir), (error: Error) => failures.push(error.message));
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  }
}

function hostEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  const overrides: [string, string][] = [['core.hooksPath', '/dev/null'], ['core.fsmonitor', 'false']];
  const base = Number(env['GIT_CONFIG_COUNT'] ?? 0) || 0;
  overrides.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${base + i}`] = key;
    env[`GIT_CONFIG_VALUE_${base + i}`] = value;
  });
  env['GIT_CONFIG_COUNT'] = String(base + overrides.length);
  return env;
}
