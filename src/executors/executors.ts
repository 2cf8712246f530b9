// Makes each runner's executor from its configuration (`executor = "shell"` or
// `"docker"`). Docker runners share one engine client and start-up sweep per
// runner, kept here across that runner's jobs. The docker executor's code is
// loaded when the first docker runner is made: a runner without one never reads it.
import { resolve } from 'node:path';
import type { RunnerConfig } from '../config/types.ts';
import type { Executor, ExecutorEvents, ExecutorFactory, ExecutorInfo, JobDirectories, JobEnvironment, PrepareContext } from '../job/executor.ts';
import type { Job } from '../job/model.ts';
import { shortToken } from '../job/short-token.ts';
import { dockerHost, parseDockerHost, tlsVerifyFromEnvironment } from './docker/docker-host.ts';
import { CONTAINER_BUILDS_DIR, DOCKER_EXECUTOR_INFO } from './docker/docker-info.ts';
import type { DockerRunner } from './docker/docker-runner.ts';
import { UserLeases } from './shell/job-user.ts';
import { ShellExecutor } from './shell/shell-executor.ts';

type DockerCode = [typeof import('./docker/docker-executor.ts'), typeof import('./docker/docker-runner.ts')];

let dockerCode: Promise<DockerCode> | undefined;

function loadDockerCode(): Promise<DockerCode> {
  dockerCode ??= Promise.all([import('./docker/docker-executor.ts'), import('./docker/docker-runner.ts')]).catch((error: unknown) => {
    // Tried again by the next docker job (a full descriptor table, files replaced by an upgrade).
    dockerCode = undefined;
    throw new Error(`cannot load the docker executor: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  });
  return dockerCode;
}

/** An executor whose code is still loading: what it is is known at once, its work waits for the code. */
class LoadingExecutor implements Executor {
  constructor(
    readonly info: ExecutorInfo,
    readonly buildsDir: string,
    private readonly executor: Promise<Executor>,
  ) {
    // A load that fails fails the job that waits for it (prepare), never the process.
    executor.catch(() => {});
  }

  async prepare(job: Job, directories: JobDirectories, context: PrepareContext): Promise<JobEnvironment> {
    return (await this.executor).prepare(job, directories, context);
  }
}

export interface ExecutorFactoryOptions {
  /** GitLab's system_id of this runner process (labels of docker containers); default ''. */
  readonly systemId?: string;
  /** Told of the docker executor's pulls, starts and waits (the runner's metrics), per runner. */
  readonly events?: (runner: string) => ExecutorEvents;
  /**
   * Remove what a crashed predecessor of each docker runner left, as the runner starts: only the
   * process that runs jobs (`runner run`) does it, never a command that merely reads the config.
   */
  readonly removeLeftovers?: boolean;
  /** Told when that removal fails (the jobs go on). */
  readonly onLeftoverError?: (runner: string, error: Error) => void;
}

/** Executors whose build directories (relative paths) are under `workingDirectory`. */
export function executorFactory(workingDirectory: string, options: ExecutorFactoryOptions = {}): ExecutorFactory {
  const dockerRunners = new Map<string, DockerRunner>();
  const swept = new Set<string>();
  // The shell runners' job users: one job a user, whichever runner it is of.
  const leases = new UserLeases();
  const dockerRunner = (runner: RunnerConfig, code: DockerCode[1]): DockerRunner => {
    const identity = { shortToken: shortToken(runner.token), systemId: options.systemId ?? '', runnerName: runner.name };
    const host = dockerHost(runner.docker?.host);
    const key = JSON.stringify([host, identity]);
    // One per daemon and identity, kept for the process: jobs still running on an engine a reload
    // replaced keep theirs (a client is a keep-alive pool, nothing more).
    let shared = dockerRunners.get(key);
    if (shared === undefined) {
      shared = new code.DockerRunner(host, identity, (error) => options.onLeftoverError?.(runner.name, error));
      dockerRunners.set(key, shared);
    }
    // The leftovers of a crashed predecessor, once per identity and process: never again on a reload, when this process's jobs run.
    const identityKey = JSON.stringify(identity);
    if (options.removeLeftovers === true && !swept.has(identityKey)) {
      swept.add(identityKey);
      void shared.startSweep();
    }
    return shared;
  };
  const dockerExecutor = async (runner: RunnerConfig): Promise<Executor> => {
    const [executorCode, runnerCode] = await loadDockerCode();
    return new executorCode.DockerExecutor({
      runner,
      shared: dockerRunner(runner, runnerCode),
      hostBuildsDir: resolve(workingDirectory, runner.buildsDir),
      hostCacheDir: resolve(workingDirectory, runner.cacheDir),
      workingDirectory,
      systemId: options.systemId ?? '',
      events: options.events?.(runner.name),
    });
  };
  return {
    create: (runner) => {
      switch (runner.executor) {
        case 'shell':
          return new ShellExecutor({
            buildsDir: resolve(workingDirectory, runner.buildsDir),
            workingDirectory,
            keepBuildDir: runner.keepBuildsDir,
            shell: runner.shell,
            users: runner.user,
            leases,
          });
        case 'docker':
          // A daemon address the engine's client cannot use fails here, as the runner starts (and
          // `runner verify`), not in every job's prepare_executor.
          parseDockerHost(dockerHost(runner.docker?.host), { tlsVerify: tlsVerifyFromEnvironment() });
          return new LoadingExecutor(DOCKER_EXECUTOR_INFO, CONTAINER_BUILDS_DIR, dockerExecutor(runner));
        default:
          // The validator accepts only the executors above; a new one must be added here too.
          throw new Error(`no executor named ${JSON.stringify(runner.executor satisfies never)}`);
      }
    },
  };
}
