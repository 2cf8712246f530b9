// The runner's configuration after validation, with GitLab Runner's defaults.
import type { LogFormat, LogLevel } from '../log/logger.ts';
import type { ListenAddress } from './listen-address.ts';

export const EXECUTORS = ['shell', 'docker'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

export const SHELLS = ['bash', 'sh'] as const;
export type ShellName = (typeof SHELLS)[number];

/** Scripts of the runner's configuration run around every job's (GitLab Runner's keys of the same names). */
export interface RunnerScripts {
  /** In get_sources, before the job's own pre_get_sources_script hook and the fetch. */
  readonly preGetSources: string | undefined;
  /** In get_sources, after the fetch and the job's post_get_sources_script hook. */
  readonly postGetSources: string | undefined;
  /** Before the commands of every script step, in the same shell. */
  readonly preBuild: string | undefined;
  /** After the commands of every script step that succeeded, in the same shell. */
  readonly postBuild: string | undefined;
}

/** GitLab Runner's image pull policies. */
export const PULL_POLICIES = ['always', 'if-not-present', 'never'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

/** A service every job of a docker runner gets ([[runners.docker.services]]), before the job's own. */
export interface DockerServiceConfig {
  readonly name: string;
  readonly alias: string | undefined;
  readonly entrypoint: readonly string[] | undefined;
  readonly command: readonly string[] | undefined;
  /** `KEY=value` variables of the service's container. */
  readonly environment: readonly string[];
}

/** [runners.docker]: how the docker executor runs jobs. */
export interface DockerConfig {
  /** The Docker Engine's address (unix:///path or tcp://host:port); undefined: DOCKER_HOST, else the local socket. */
  readonly host: string | undefined;
  /** The image of a job that names none. */
  readonly image: string | undefined;
  /** Tried in order until one gets the image. */
  readonly pullPolicy: readonly PullPolicy[];
  /** Globs an image a job names must match; empty: any image. */
  readonly allowedImages: readonly string[];
  readonly allowedServices: readonly string[];
  /** Pull policies a job may ask for; empty: those of pull_policy. */
  readonly allowedPullPolicies: readonly PullPolicy[];
  readonly privileged: boolean;
  /** `host:container[:mode]` binds and `/container` volumes of every job container. */
  readonly volumes: readonly string[];
  /** The memory limit of each container in bytes; undefined: none. */
  readonly memoryBytes: number | undefined;
  /** The CPU limit of each container in billionths of a CPU; undefined: none. */
  readonly nanoCpus: number | undefined;
  /** A network the containers join instead of a network made for each job. */
  readonly networkMode: string | undefined;
  readonly services: readonly DockerServiceConfig[];
  /** Seconds to wait for services' ports; 0 or less: no wait. */
  readonly waitForServicesTimeout: number;
  /** No /cache mount in job containers. */
  readonly disableCache: boolean;
  /** The user the job's commands run as in the build container; undefined: the image's. */
  readonly user: string | undefined;
}

export interface RunnerConfig {
  /** Unique; the value of the `runner` label on every metric. */
  readonly name: string;
  readonly executor: ExecutorName;
  /** Jobs this runner may run at once; 0 = no limit besides `concurrent`. */
  readonly limit: number;
  /** The local queue directory this runner serves (relative paths: to the working directory). */
  readonly queueDir: string;
  /** Where jobs' build directories are made (relative paths: to the working directory). */
  readonly buildsDir: string;
  /** Keep each job's build directory after the job instead of removing it. */
  readonly keepBuildsDir: boolean;
  /** Where jobs' caches are kept (GitLab's cache_dir; relative paths: to the working directory). */
  readonly cacheDir: string;
  /** Maximum job log size in KiB (GitLab's output_limit). */
  readonly outputLimit: number;
  /** A GitLab-compatible coordinator (its base URL, without /api/v4); undefined: the local queue. */
  readonly url: string | undefined;
  /** The runner's authentication token at `url`. A secret: never logged or shown. */
  readonly token: string | undefined;
  /** PEM file of CAs trusted for an https `url` (GitLab's tls-ca-file); undefined: the system's. */
  readonly tlsCaFile: string | undefined;
  /** Requests for new jobs this runner may have in flight at once (GitLab's request_concurrency). */
  readonly requestConcurrency: number;
  /** The shell stages run in; undefined: bash where it is on PATH, else sh. */
  readonly shell: ShellName | undefined;
  /** The users the shell executor runs jobs as, one for each job running at once; empty: the runner's own user. */
  readonly user: readonly string[];
  /** `KEY=value` variables every job of this runner gets (before the job's own, which win). */
  readonly environment: readonly string[];
  readonly scripts: RunnerScripts;
  /** `[runners.custom_build_dir] enabled`: jobs may choose their directory with GIT_CLONE_PATH. */
  readonly customBuildDir: boolean;
  /** Jobs may not turn on CI_DEBUG_TRACE (it shows every command with its variables, masked values excepted). */
  readonly debugTraceDisabled: boolean;
  /** [runners.docker]; undefined when the table is absent. */
  readonly docker: DockerConfig | undefined;
}

export const DEFAULT_RUNNER: Omit<RunnerConfig, 'name'> = {
  executor: 'shell',
  limit: 0,
  queueDir: 'queue',
  buildsDir: 'builds',
  keepBuildsDir: false,
  cacheDir: 'cache',
  outputLimit: 4096,
  url: undefined,
  token: undefined,
  tlsCaFile: undefined,
  requestConcurrency: 1,
  shell: undefined,
  user: [],
  environment: [],
  scripts: { preGetSources: undefined, postGetSources: undefined, preBuild: undefined, postBuild: undefined },
  customBuildDir: false,
  debugTraceDisabled: false,
  docker: undefined,
};

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The [otel] table. A key left out is left to the OTEL_* environment, then to the default. */
export interface OtelConfig {
  /** OTLP/HTTP base URL; metrics go to its /v1/metrics. */
  readonly endpoint: string | undefined;
  /** The metrics URL as is. */
  readonly metricsEndpoint: string | undefined;
  /** The traces URL as is. */
  readonly tracesEndpoint: string | undefined;
  readonly protocol: OtlpProtocol | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** A PEM file of the CA certificates the collector's certificate is checked against. */
  readonly certificate: string | undefined;
  readonly timeoutSeconds: number | undefined;
  readonly metricsIntervalSeconds: number | undefined;
  readonly serviceName: string | undefined;
  readonly resourceAttributes: Readonly<Record<string, string>>;
}

/** Which names /metrics serves: ours (`ci_runner_*`), GitLab Runner's current ones, or both. */
export const METRIC_NAME_SETS = ['ci_runner', 'gitlab_runner', 'both'] as const;
export type MetricNameSet = (typeof METRIC_NAME_SETS)[number];

/** Who may fetch /debug/pprof beyond what /metrics asks: clients on this machine only, or any client the web config lets in. */
export const PPROF_ACCESS = ['loopback', 'any'] as const;
export type PprofAccess = (typeof PPROF_ACCESS)[number];

export interface Config {
  /** Jobs running at once across all runners (> 0). */
  readonly concurrent: number;
  /** Seconds between requests for new jobs of each runner (fractions allowed). */
  readonly checkInterval: number;
  /** Seconds a forceful shutdown may take. */
  readonly shutdownTimeout: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Undefined: the metrics server is disabled. */
  readonly metricsServer: ListenAddress | undefined;
  readonly runners: readonly RunnerConfig[];
  /** /debug/pprof routes and the always-on heap sampling behind them. */
  readonly pprof: boolean;
  /** The longest CPU or allocs profile window a request may ask for, in seconds. */
  readonly pprofMaxSeconds: number;
  /** Who may fetch profiles, on top of the web config's checks. */
  readonly pprofAccess: PprofAccess;
  /** Basic auth users who may fetch profiles; empty: any user the web config lets in. */
  readonly pprofUsers: readonly string[];
  /** The exporter toolkit's web config file (TLS, client certificates, basic auth); undefined: plain HTTP, no authentication. */
  readonly webConfigFile: string | undefined;
  /** [otel]: OTLP push of the metrics; undefined when the table is absent (the environment may still ask for it). */
  readonly otel?: OtelConfig | undefined;
  /** The names /metrics and its other renderings serve the runner's metrics under (process and runtime metrics keep theirs). */
  readonly metricNames: MetricNameSet;
}

export const DEFAULT_CONFIG: Config = {
  concurrent: 1,
  checkInterval: 3,
  shutdownTimeout: 30,
  logLevel: 'info',
  logFormat: 'text',
  metricsServer: undefined,
  // One local runner, so a fresh install runs jobs with no server.
  runners: [{ name: 'local', ...DEFAULT_RUNNER }],
  pprof: true,
  pprofMaxSeconds: 300,
  pprofAccess: 'loopback',
  pprofUsers: [],
  webConfigFile: undefined,
  otel: undefined,
  metricNames: 'ci_runner',
};

/** A configuration together with where it came from and what was odd about it. */
export interface LoadedConfig {
  readonly config: Config;
  /** The file it was read from; undefined for the built-in defaults. */
  readonly path: string | undefined;
  readonly warnings: readonly string[];
}
