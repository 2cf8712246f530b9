// The keys of config.toml, with their TOML type and default: the validator
// reads no key that is not here (validate.ts), every other key is warned
// about, and docs/configuration.md's tables are checked against this list.
import { DEFAULT_CONFIG, DEFAULT_RUNNER } from './types.ts';

export type KeyType =
  | 'integer'
  | 'number'
  | 'string'
  | 'boolean'
  | 'array of strings'
  | 'string or array of strings'
  | 'table'
  | 'table of strings'
  | 'array of tables';

export interface KeySpec {
  readonly type: KeyType;
  /** What an absent key means; undefined: nothing (the key is required, or its absence means "none"). */
  readonly default: number | string | boolean | undefined;
}

/** The top level of config.toml. */
export const GLOBAL_KEYS: Readonly<Record<string, KeySpec>> = {
  concurrent: { type: 'integer', default: DEFAULT_CONFIG.concurrent },
  check_interval: { type: 'number', default: DEFAULT_CONFIG.checkInterval },
  shutdown_timeout: { type: 'integer', default: DEFAULT_CONFIG.shutdownTimeout },
  log_level: { type: 'string', default: DEFAULT_CONFIG.logLevel },
  log_format: { type: 'string', default: DEFAULT_CONFIG.logFormat },
  metrics_server: { type: 'string', default: undefined },
  listen_address: { type: 'string', default: undefined },
  pprof: { type: 'boolean', default: DEFAULT_CONFIG.pprof },
  pprof_max_seconds: { type: 'integer', default: DEFAULT_CONFIG.pprofMaxSeconds },
  pprof_access: { type: 'string', default: DEFAULT_CONFIG.pprofAccess },
  pprof_users: { type: 'array of strings', default: undefined },
  web_config_file: { type: 'string', default: undefined },
  runners: { type: 'array of tables', default: undefined },
  otel: { type: 'table', default: undefined },
  metric_names: { type: 'string', default: DEFAULT_CONFIG.metricNames },
};

/** Each [[runners]] table. */
export const RUNNER_KEYS: Readonly<Record<string, KeySpec>> = {
  name: { type: 'string', default: undefined },
  executor: { type: 'string', default: DEFAULT_RUNNER.executor },
  limit: { type: 'integer', default: DEFAULT_RUNNER.limit },
  queue_dir: { type: 'string', default: DEFAULT_RUNNER.queueDir },
  builds_dir: { type: 'string', default: DEFAULT_RUNNER.buildsDir },
  keep_builds_dir: { type: 'boolean', default: DEFAULT_RUNNER.keepBuildsDir },
  cache_dir: { type: 'string', default: DEFAULT_RUNNER.cacheDir },
  output_limit: { type: 'integer', default: DEFAULT_RUNNER.outputLimit },
  url: { type: 'string', default: undefined },
  token: { type: 'string', default: undefined },
  'tls-ca-file': { type: 'string', default: undefined },
  request_concurrency: { type: 'integer', default: DEFAULT_RUNNER.requestConcurrency },
  shell: { type: 'string', default: undefined },
  user: { type: 'string or array of strings', default: undefined },
  environment: { type: 'array of strings', default: undefined },
  pre_get_sources_script: { type: 'string', default: undefined },
  post_get_sources_script: { type: 'string', default: undefined },
  pre_build_script: { type: 'string', default: undefined },
  post_build_script: { type: 'string', default: undefined },
  debug_trace_disabled: { type: 'boolean', default: DEFAULT_RUNNER.debugTraceDisabled },
  custom_build_dir: { type: 'table', default: undefined },
  docker: { type: 'table', default: undefined },
};

/** The [runners.custom_build_dir] table. */
export const CUSTOM_BUILD_DIR_KEYS: Readonly<Record<string, KeySpec>> = {
  enabled: { type: 'boolean', default: DEFAULT_RUNNER.customBuildDir },
};

/** The [runners.docker] table (executor = "docker"); GitLab Runner's keys of the same names. */
export const DOCKER_KEYS: Readonly<Record<string, KeySpec>> = {
  host: { type: 'string', default: undefined },
  image: { type: 'string', default: undefined },
  pull_policy: { type: 'string or array of strings', default: 'always' },
  allowed_images: { type: 'array of strings', default: undefined },
  allowed_services: { type: 'array of strings', default: undefined },
  allowed_pull_policies: { type: 'array of strings', default: undefined },
  privileged: { type: 'boolean', default: false },
  volumes: { type: 'array of strings', default: undefined },
  memory: { type: 'string', default: undefined },
  cpus: { type: 'string', default: undefined },
  network_mode: { type: 'string', default: undefined },
  services: { type: 'array of tables', default: undefined },
  wait_for_services_timeout: { type: 'integer', default: 30 },
  disable_cache: { type: 'boolean', default: false },
  user: { type: 'string', default: undefined },
};

/** Each [[runners.docker.services]] table. */
export const DOCKER_SERVICE_KEYS: Readonly<Record<string, KeySpec>> = {
  name: { type: 'string', default: undefined },
  alias: { type: 'string', default: undefined },
  entrypoint: { type: 'array of strings', default: undefined },
  command: { type: 'array of strings', default: undefined },
  environment: { type: 'array of strings', default: undefined },
};

/** The [otel] table: where the runner sends its metrics and traces over OTLP (the OTEL_* environment otherwise). */
export const OTEL_KEYS: Readonly<Record<string, KeySpec>> = {
  endpoint: { type: 'string', default: undefined },
  metrics_endpoint: { type: 'string', default: undefined },
  traces_endpoint: { type: 'string', default: undefined },
  protocol: { type: 'string', default: 'http/protobuf' },
  headers: { type: 'table of strings', default: undefined },
  certificate: { type: 'string', default: undefined },
  timeout: { type: 'number', default: 10 },
  metrics_interval: { type: 'number', default: 60 },
  service_name: { type: 'string', default: 'runner' },
  resource_attributes: { type: 'table of strings', default: undefined },
};
