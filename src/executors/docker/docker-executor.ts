// The docker executor (`executor = "docker"`): each job in a container of its
// `image:` with its `services:` beside it on a network of the job's own, as
// GitLab Runner's docker executor runs them, through the Docker Engine API.
// prepare_executor checks the images against allowed_images, gets them by the
// pull policies, starts the services and waits for them, and makes the build
// container; the stages then run in docker-environment.ts.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import type { DockerConfig, RunnerConfig } from '../../config/types.ts';
import {
  type Executor,
  type ExecutorEvents,
  type ExecutorInfo,
  type JobDirectories,
  type JobEnvironment,
  type PrepareContext,
  PrepareError,
} from '../../job/executor.ts';
import type { Job, JobVariable } from '../../job/model.ts';
import { detectShell } from '../shell/detect-shell.ts';
import { DockerEnvironment, STAGE_SCRIPT } from './docker-environment.ts';
import { DockerEngine } from './engine.ts';
import { effectivePolicies, fetchImage, isAllowed, type PrepareLog, refuseImage } from './images.ts';
import { JobCgroup } from './job-cgroup.ts';
import { containerName, type JobIdentity, jobLabels, LABEL_PREFIX, networkName, projectUniqueName } from './naming.ts';
import type { DockerRunner } from './docker-runner.ts';
import { CONTAINER_BUILDS_DIR, CONTAINER_CACHE_DIR, DOCKER_EXECUTOR_INFO } from './docker-info.ts';
import { trackPath } from '../../system/process-record.ts';
import {
  configService,
  healthPorts,
  jobService,
  serviceEnvironment,
  serviceSuffix,
  serviceWarning,
  sharedHostConfig,
  type StartedService,
  startingLine,
  uniqueAliases,
  waitForService,
} from './services.ts';

/** GitLab Runner's stop grace period (the daemon's default). */
const GRACE_MS = 10_000;

/**
 * GitLab Runner's BashDetectShellScript: bash where the image has it, else sh. Here it runs the
 * stage's script file ($0) rather than reading the script from stdin.
 */
export const DETECT_SHELL_SCRIPT = [
  'if [ -x /usr/local/bin/bash ]; then exec /usr/local/bin/bash "$0"',
  'elif [ -x /usr/bin/bash ]; then exec /usr/bin/bash "$0"',
  'elif [ -x /bin/bash ]; then exec /bin/bash "$0"',
  'elif [ -x /usr/local/bin/sh ]; then exec /usr/local/bin/sh "$0"',
  'elif [ -x /usr/bin/sh ]; then exec /usr/bin/sh "$0"',
  'elif [ -x /bin/sh ]; then exec /bin/sh "$0"',
  'elif [ -x /busybox/sh ]; then exec /busybox/sh "$0"',
  'else echo shell not found; exit 1',
  'fi',
].join('\n');

export const DEFAULT_DOCKER_CONFIG: DockerConfig = {
  host: undefined,
  image: undefined,
  pullPolicy: ['always'],
  allowedImages: [],
  allowedServices: [],
  allowedPullPolicies: [],
  privileged: false,
  volumes: [],
  memoryBytes: undefined,
  nanoCpus: undefined,
  networkMode: undefined,
  services: [],
  waitForServicesTimeout: 30,
  disableCache: false,
  user: undefined,
};

export interface DockerExecutorOptions {
  readonly runner: RunnerConfig;
  /** The runner's shared part: its engine and its start-up sweep. */
  readonly shared: DockerRunner;
  /** Where host-side build directories go (builds_dir, absolute). */
  readonly hostBuildsDir: string;
  /** The runner's cache_dir (absolute): /cache in the containers. */
  readonly hostCacheDir: string;
  readonly workingDirectory: string;
  readonly systemId: string;
  readonly events?: ExecutorEvents | undefined;
}

export class DockerExecutor implements Executor {
  readonly buildsDir = CONTAINER_BUILDS_DIR;
  readonly info: ExecutorInfo = DOCKER_EXECUTOR_INFO;
  private readonly config: DockerConfig;

  constructor(private readonly options: DockerExecutorOptions) {
    this.config = options.runner.docker ?? DEFAULT_DOCKER_CONFIG;
  }

  private get engine(): DockerEngine {
    return this.options.shared.engine;
  }

  async prepare(job: Job, directories: JobDirectories, context: PrepareContext): Promise<JobEnvironment> {
    await this.options.shared.ready();
    const log: PrepareLog = context.log;
    const expand = expander(context.variables);
    const image = this.buildImage(job, expand, log);
    log({ level: 'info', text: `Using Docker executor with image ${image} ...` });
    const identity: JobIdentity = {
      shortToken: context.slot.shortToken,
      systemId: this.options.systemId,
      runnerName: this.options.runner.name,
      jobId: job.id,
      projectId: job.project?.id ?? 0,
      concurrentProjectId: context.slot.concurrentProjectId,
      random: randomBytes(8).toString('hex'),
    };
    const made = new Made(this.engine, this.options.events, jobLabels(identity, 'build'));
    try {
      const host = await this.hostDirectories(directories, identity);
      made.hostDirs.push(host.root, host.privateDir);
      // Recorded until removed: the next start removes the job's stage scripts and the token's git settings should the runner die.
      for (const dir of made.hostDirs) made.untrack.set(dir, trackPath(dir));
      const hostCache = await this.projectCacheDir(directories);
      const network = await this.network(identity, made);
      const cgroup = await this.cgroup(identity);
      made.cgroup = cgroup;
      const hostConfig = sharedHostConfig({ networkMode: network, cgroupParent: cgroup?.parent, privileged: this.config.privileged });
      const services = await this.startServices(job, identity, context, expand, network, hostConfig, made);
      await this.waitForServices(services, network, context);
      const policies = effectivePolicies(image, job.image?.pullPolicies ?? [], this.config);
      const info = await fetchImage(this.engine, image, policies, {
        log,
        signal: context.signal,
        platform: job.image?.platform,
        observe: (event) => this.options.events?.imagePull(event),
      });
      const name = containerName(identity, 'build');
      const created = await this.engine.containerCreate(name, {
        Image: info.id,
        Cmd: ['sh', '-c', DETECT_SHELL_SCRIPT, posix.join(directories.tempDir, STAGE_SCRIPT)],
        ...(job.image !== undefined && job.image.entrypoint.length > 0 ? { Entrypoint: [...job.image.entrypoint] } : {}),
        // Entrypoints read the job's variables from the environment; masked ones reach only the stage scripts.
        Env: [...context.variables.filter((v) => !v.masked && !v.file).map((v) => `${v.key}=${v.value}`), 'TINI_KILL_PROCESS_GROUP=1'],
        Labels: jobLabels(identity, 'build'),
        Hostname: projectUniqueName(identity),
        ...(this.config.user ?? job.image?.user ? { User: this.config.user ?? job.image?.user } : {}),
        Tty: false,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          ...hostConfig,
          Init: true,
          Binds: this.binds(host.root, hostCache),
          ...(this.config.memoryBytes === undefined ? {} : { Memory: this.config.memoryBytes }),
          ...(this.config.nanoCpus === undefined ? {} : { NanoCpus: this.config.nanoCpus }),
        },
        ...(this.userNetwork(network) ? { NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ['build', name] } } } } : {}),
      }, context.signal);
      made.containers.push(created.id);
      return new DockerEnvironment({
        engine: this.engine,
        buildContainer: created.id,
        serviceContainers: services.map((service) => service.id),
        network: made.network,
        cgroup,
        hostDirectories: host.directories,
        hostBuildsDir: host.root,
        containerTempDir: host.containerTempDir,
        hostRemoved: made.hostDirs,
        untrack: (dir) => made.untrack.get(dir)?.(),
        host: { shell: detectShell(this.options.runner.shell), workingDirectory: this.options.workingDirectory },
        graceMs: GRACE_MS,
        events: this.options.events,
      });
    } catch (error) {
      await made.undo();
      throw error;
    }
  }

  /** The job's image (`Using default image` when it names none), refused outside allowed_images. */
  private buildImage(job: Job, expand: (text: string) => string, log: PrepareLog): string {
    const named = job.image === undefined ? undefined : expand(job.image.name);
    if (named === undefined) log({ level: 'notice', text: 'Using default image' });
    const image = named ?? this.config.image;
    if (image === undefined || image === '') throw new PrepareError('no Docker image specified to run the build in', 'runner_system_failure');
    const always = this.config.image === undefined ? [] : [expand(this.config.image)];
    if (!isAllowed(image, this.config.allowedImages, always)) throw refuseImage(image, 'images', this.config.allowedImages, log);
    return image;
  }

  /**
   * The host side of /builds: a directory of the job's own under builds_dir/docker (made empty,
   * removed after the job), so that no job ever meets a directory another job's container could
   * write. The runner's own files of the job (the job token's git settings, file variables for
   * get_sources) go to a private directory beside it that no container sees.
   */
  private async hostDirectories(directories: JobDirectories, identity: JobIdentity): Promise<HostLayout> {
    const base = resolve(this.options.hostBuildsDir, 'docker');
    const root = join(base, `${identity.random}-builds`);
    const privateDir = join(base, `${identity.random}-runner`);
    const map = (path: string): string => {
      const inside = posix.relative(CONTAINER_BUILDS_DIR, path);
      if (inside === '' || inside.startsWith('..') || posix.isAbsolute(inside)) {
        throw new PrepareError(`${path} is not a directory under ${CONTAINER_BUILDS_DIR}`, 'runner_configuration_error');
      }
      return resolve(root, inside);
    };
    const projectDir = map(directories.projectDir);
    const containerTempDir = map(directories.tempDir);
    // Only the runner's user reaches builds_dir/docker on the host; under the job's root, whatever user the container runs as may write.
    await mkdir(base, { recursive: true, mode: 0o700 });
    // Also when an older runner made it: the stage scripts below it hold the job's masked variables, and stay after a crash.
    await chmod(base, 0o700);
    await mkdir(privateDir, { mode: 0o700 });
    await mkdir(root, { mode: 0o700 });
    for (const dir of [dirname(projectDir), projectDir, containerTempDir]) await mkdir(dir, { recursive: true });
    for (const dir of [root, dirname(projectDir), projectDir, containerTempDir]) await chmod(dir, 0o777);
    return { root, privateDir, containerTempDir, directories: { projectDir, tempDir: privateDir, disposable: true } };
  }

  /** /builds, the project's /cache and the configured volumes (a configured /cache is the project's cache directory). */
  private binds(hostRoot: string, hostCache: string): string[] {
    const binds = [`${hostRoot}:${CONTAINER_BUILDS_DIR}`];
    const destination = (volume: string): string => {
      const parts = volume.split(':');
      return parts.length === 1 ? parts[0]! : parts[1]!;
    };
    const configured = this.config.volumes.filter((volume) => volume !== CONTAINER_CACHE_DIR);
    const cacheBound = configured.some((volume) => destination(volume) === CONTAINER_CACHE_DIR);
    if (!this.config.disableCache && !cacheBound) binds.push(`${hostCache}:${CONTAINER_CACHE_DIR}`);
    return [...binds, ...configured];
  }

  /** The project's part of cache_dir, mounted at /cache: never another project's caches. */
  private async projectCacheDir(directories: JobDirectories): Promise<string> {
    const project = posix.relative(CONTAINER_BUILDS_DIR, directories.projectDir).replace(/\.\.+/g, '_');
    const dir = resolve(this.options.hostCacheDir, project);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  private userNetwork(network: string): boolean {
    return !['', 'bridge', 'host', 'none', 'default'].includes(network) && !network.startsWith('container:');
  }

  /** network_mode, or a network of the job's own. */
  private async network(identity: JobIdentity, made: Made): Promise<string> {
    if (this.config.networkMode !== undefined && this.config.networkMode !== '') return this.config.networkMode;
    const name = networkName(identity);
    await this.engine.networkCreate(name, jobLabels(identity, 'network'));
    made.network = name;
    return name;
  }

  /** A cgroup parent of the job's own where the daemon manages cgroups itself on this host (cgroupfs). */
  private async cgroup(identity: JobIdentity): Promise<JobCgroup | undefined> {
    if (!(await this.options.shared.cgroupfs())) return undefined;
    return new JobCgroup(`${this.options.shared.cgroupPrefix}${identity.jobId.replace(/[^-\w]/g, '_')}-${identity.random}`);
  }

  private async startServices(
    job: Job,
    identity: JobIdentity,
    context: PrepareContext,
    expand: (text: string) => string,
    network: string,
    hostConfig: ReturnType<typeof sharedHostConfig>,
    made: Made,
  ): Promise<StartedService[]> {
    const configNames = this.config.services.map((service) => service.name);
    const requests = [...this.config.services.map(configService), ...(job.services ?? []).map((service) => jobService(service, expand))];
    const taken = new Set<string>();
    const started: StartedService[] = [];
    for (const [index, request] of requests.entries()) {
      if (!request.fromConfig && !isAllowed(request.image, this.config.allowedServices, configNames)) {
        throw refuseImage(request.image, 'services', this.config.allowedServices, context.log);
      }
      context.log({ level: 'info', text: startingLine(request.image) });
      const policies = effectivePolicies(request.image, request.pullPolicies, this.config);
      const info = await fetchImage(this.engine, request.image, policies, {
        log: context.log,
        signal: context.signal,
        observe: (event) => this.options.events?.imagePull(event),
      });
      const aliases = uniqueAliases(request.image, request.aliases, taken, index, (text) => context.log({ level: 'warning', text }));
      const name = containerName(identity, serviceSuffix(request.image, index));
      const environment = serviceEnvironment(context.variables, request.environment);
      const created = await this.engine.containerCreate(name, {
        Image: info.id,
        ...(request.entrypoint === undefined ? {} : { Entrypoint: [...request.entrypoint] }),
        ...(request.command === undefined ? {} : { Cmd: [...request.command] }),
        Env: environment,
        Labels: { ...jobLabels(identity, 'service'), 'com.gitlab.gitlab-runner.service': request.image },
        Tty: false,
        HostConfig: hostConfig,
        ...(this.userNetwork(network) ? { NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: aliases } } } } : {}),
      }, context.signal);
      made.containers.push(created.id);
      const startedAt = performance.now();
      await this.engine.containerStart(created.id, context.signal);
      this.options.events?.containerStarted({ type: 'service', seconds: (performance.now() - startedAt) / 1000 });
      this.options.events?.containersRunning({ type: 'service', change: 1 });
      made.runningServices++;
      started.push({ id: created.id, name, image: request.image, ports: healthPorts(environment, info.exposedTcpPorts) });
    }
    return started;
  }

  /** GitLab's wait: every service at once, up to wait_for_services_timeout; one that does not answer gets a warning. */
  private async waitForServices(services: readonly StartedService[], network: string, context: PrepareContext): Promise<void> {
    const timeout = this.config.waitForServicesTimeout;
    if (services.length === 0 || timeout <= 0) return;
    context.log({ level: 'info', text: `Waiting for services to be up and running (timeout ${timeout} seconds)...` });
    const startedAt = performance.now();
    const deadline = startedAt + timeout * 1000;
    const results = await Promise.all(services.map(async (service) => {
      const inspected = await this.engine.containerInspect(service.id, context.signal);
      const problem = await waitForService(inspected?.networkIps[network], service, deadline, context.signal);
      return { service, problem };
    }));
    if (context.signal.aborted) throw new Error('canceled while waiting for services', { cause: context.signal.reason });
    const failed = results.filter((result) => result.problem !== undefined);
    this.options.events?.servicesWaited({ result: failed.length === 0 ? 'up' : 'not_up', seconds: (performance.now() - startedAt) / 1000 });
    for (const { service, problem } of failed) {
      const block = await serviceWarning(this.engine, service, problem!, context.signal);
      for (const text of block.split('\n').slice(0, -1)) context.log({ level: 'info', text });
    }
  }
}

/** Where a docker job's directories are on the host. */
interface HostLayout {
  /** Mounted at /builds. */
  readonly root: string;
  /** The runner's own files of the job: never mounted. */
  readonly privateDir: string;
  /** The host side of the container's temporary directory (stage scripts). */
  readonly containerTempDir: string;
  /** As the host stages see them: the mounted project directory, the private temporary directory. */
  readonly directories: JobDirectories;
}

/** What a failed preparation has made so far, removed again. */
class Made {
  readonly containers: string[] = [];
  readonly hostDirs: string[] = [];
  /** Ends the recording of a host directory (system/process-record.ts). */
  readonly untrack = new Map<string, () => void>();
  network: string | undefined;
  cgroup: JobCgroup | undefined;
  runningServices = 0;

  constructor(private readonly engine: DockerEngine, private readonly events: ExecutorEvents | undefined, private readonly labels: Record<string, string>) {}

  async undo(): Promise<void> {
    // Also by label: a create the job's cancel cut short may have made a container whose id never came back.
    const { [`${LABEL_PREFIX}.type`]: _type, ...job } = this.labels;
    const labelled = await this.engine.containerList({ labels: job, all: true }).catch(() => []);
    const ids = new Set([...this.containers, ...labelled.map((container) => container.id)]);
    await Promise.all([...ids].map((id) => this.engine.containerRemove(id, { force: true, volumes: true }).catch(() => undefined)));
    for (let i = 0; i < this.runningServices; i++) this.events?.containersRunning({ type: 'service', change: -1 });
    if (this.network !== undefined) await this.engine.networkRemove(this.network).catch(() => undefined);
    this.cgroup?.remove();
    for (const dir of this.hostDirs) await rm(dir, { recursive: true, force: true }).then(() => this.untrack.get(dir)?.(), () => undefined);
  }
}

/** `$VAR` and `${VAR}` in an image or service name, from the job's variables (GitLab expands them). */
function expander(variables: readonly JobVariable[]): (text: string) => string {
  const values = new Map(variables.map((v) => [v.key, v.value]));
  return (text) => text.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_all, braced: string | undefined, bare: string | undefined) => values.get((braced ?? bare)!) ?? '');
}
