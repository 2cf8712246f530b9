// Turns a parsed TOML document into a Config: every wrong type or value is an
// error naming the key, every key not in the schema (schema.ts) a warning.
// Defaults come from the schema too, so what it says is what a key does.
import { describeValue } from './describe-value.ts';
import { CUSTOM_BUILD_DIR_KEYS, DOCKER_KEYS, GLOBAL_KEYS, OTEL_KEYS, RUNNER_KEYS } from './schema.ts';
import { readDockerConfig } from './docker-config.ts';
import { checkJobUsers, readJobUsers } from './job-users.ts';
import { readOtelConfig } from './otel-config.ts';
import { ConfigError, type Table, TableReader } from './table-reader.ts';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/logger.ts';
import {
  type Config,
  DEFAULT_CONFIG,
  DEFAULT_RUNNER,
  type DockerConfig,
  type ExecutorName,
  EXECUTORS,
  METRIC_NAME_SETS,
  type MetricNameSet,
  type OtelConfig,
  PPROF_ACCESS,
  type PprofAccess,
  type RunnerConfig,
  type RunnerScripts,
  SHELLS,
} from './types.ts';
export { ConfigError } from './table-reader.ts';

const MAX_RUNNER_NAME = 128;
/** Upper bounds that keep values meaningful (and timers within their 2^31 ms range). */
const MAX_JOBS = 10_000;
const MAX_SECONDS = 86_400;
/** Faster polling than this only loads the coordinator. */
const MIN_CHECK_INTERVAL = 0.05;
const MAX_PROFILE_SECONDS = 3_600;
/** 1 GiB of log per job, in KiB. */
const MAX_OUTPUT_LIMIT_KIB = 1024 * 1024;

const MAX_REQUEST_CONCURRENCY = 100;

/** url, token and tls-ca-file of a runner served by a coordinator; none of them for a local queue. */
function readCoordinator(reader: TableReader, where: string, origin: string): Pick<RunnerConfig, 'url' | 'token' | 'tlsCaFile'> {
  const url = reader.string('url');
  const token = reader.string('token');
  const tlsCaFile = reader.string('tls-ca-file');
  if (url === undefined) {
    if (token !== undefined || tlsCaFile !== undefined) {
      throw new ConfigError(`${origin}: ${where}${token !== undefined ? 'token' : 'tls-ca-file'}: needs url (a runner without url serves the local queue)`);
    }
    return { url: undefined, token: undefined, tlsCaFile: undefined };
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !['http:', 'https:'].includes(parsed.protocol) || parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(
      `${origin}: ${where}url: expected an http:// or https:// URL such as "https://gitlab.example.com/", got ${
        describeValue(url.replace(/\/\/[^/]*@/, '//***@'))
      }`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // Never echo it: the credentials would land in the log.
    throw new ConfigError(`${origin}: ${where}url: must not hold credentials (user:password@); put the runner's token in token`);
  }
  // deno-lint-ignore no-control-regex -- control characters are what this matches
  if (token === undefined || token.trim() === '' || /[\s\u0000-\u001f\u007f]/.test(token)) {
    throw new ConfigError(`${origin}: ${where}token: required with url, the runner's authentication token (a non-empty string without spaces)`);
  }
  if (tlsCaFile !== undefined && parsed.protocol !== 'https:') {
    throw new ConfigError(`${origin}: ${where}tls-ca-file: only meaningful with an https:// url`);
  }
  if (tlsCaFile !== undefined && (tlsCaFile.trim() === '' || tlsCaFile.includes('\u0000'))) {
    throw new ConfigError(`${origin}: ${where}tls-ca-file: expected a non-empty path`);
  }
  return { url: parsed.href.replace(/\/+$/, ''), token, tlsCaFile };
}

function readRunner(table: Table, index: number, origin: string, warnings: string[]): RunnerConfig {
  const where = `runners[${index}].`;
  const reader = new TableReader(table, RUNNER_KEYS, where, origin);
  const name = reader.string('name');
  if (name === undefined || name.trim() === '') {
    throw new ConfigError(`${origin}: ${where}name: required, a non-empty string (it is the "runner" label of every metric)`);
  }
  // deno-lint-ignore no-control-regex -- control characters are what this matches
  if (name.length > MAX_RUNNER_NAME || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new ConfigError(`${origin}: ${where}name: expected at most ${MAX_RUNNER_NAME} printable characters, got ${JSON.stringify(name)}`);
  }
  const executor = reader.choice<ExecutorName>('executor', EXECUTORS);
  const runner: RunnerConfig = {
    name,
    executor,
    limit: reader.integer('limit', 0, MAX_JOBS),
    queueDir: reader.path('queue_dir'),
    buildsDir: reader.path('builds_dir'),
    keepBuildsDir: reader.boolean('keep_builds_dir'),
    cacheDir: reader.path('cache_dir'),
    // 0 means the default, as in GitLab Runner.
    outputLimit: reader.integer('output_limit', 0, MAX_OUTPUT_LIMIT_KIB) || DEFAULT_RUNNER.outputLimit,
    ...readCoordinator(reader, where, origin),
    requestConcurrency: reader.integer('request_concurrency', 1, MAX_REQUEST_CONCURRENCY),
    shell: reader.optionalChoice('shell', SHELLS),
    user: readJobUsers(reader, executor),
    environment: readEnvironment(reader, where, origin),
    scripts: readScripts(reader),
    debugTraceDisabled: reader.boolean('debug_trace_disabled'),
    customBuildDir: reader.subtable('custom_build_dir', CUSTOM_BUILD_DIR_KEYS)?.boolean('enabled') ?? DEFAULT_RUNNER.customBuildDir,
    docker: readDockerTable(reader),
  };
  if (runner.docker !== undefined && runner.executor !== 'docker') {
    warnings.push(`${origin}: ${where}docker: only read by executor = "docker" (this runner's executor is "${runner.executor}")`);
  }
  warnings.push(...reader.unknownKeys());
  return runner;
}

/** `environment = ["KEY=value", ...]`: each entry a variable a shell can name, and a value. */
function readEnvironment(reader: TableReader, where: string, origin: string): string[] {
  const entries = reader.strings('environment');
  entries.forEach((entry, i) => {
    const key = entry.slice(0, Math.max(0, entry.indexOf('=')));
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || entry.includes('\u0000')) {
      throw new ConfigError(
        `${origin}: ${where}environment[${i}]: expected KEY=value with KEY a variable name (letters, digits, _), got ${
          describeValue(entry.replace(/=.*$/s, '=...'))
        }`,
      );
    }
  });
  return entries;
}

function readOtelTable(reader: TableReader): OtelConfig | undefined {
  const table = reader.subtable('otel', OTEL_KEYS);
  return table === undefined ? undefined : readOtelConfig(table);
}

function readDockerTable(reader: TableReader): DockerConfig | undefined {
  const table = reader.subtable('docker', DOCKER_KEYS);
  return table === undefined ? undefined : readDockerConfig(table);
}

function readScripts(reader: TableReader): RunnerScripts {
  return {
    preGetSources: reader.string('pre_get_sources_script'),
    postGetSources: reader.string('post_get_sources_script'),
    preBuild: reader.string('pre_build_script'),
    postBuild: reader.string('post_build_script'),
  };
}

/** Validates a parsed document; `origin` names the file in messages. */
export function validateConfig(document: Table, origin: string): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const reader = new TableReader(document, GLOBAL_KEYS, '', origin);
  const metricsServer = reader.string('metrics_server');
  const listenAddress = reader.string('listen_address');
  if (metricsServer !== undefined && listenAddress !== undefined && metricsServer.trim() !== listenAddress.trim()) {
    throw new ConfigError(
      `${origin}: metrics_server ${JSON.stringify(metricsServer)} and listen_address ${JSON.stringify(listenAddress)} differ: set only one`,
    );
  }
  const addressKey = metricsServer !== undefined ? 'metrics_server' : 'listen_address';
  const address = metricsServer ?? listenAddress;

  const config: Config = {
    concurrent: reader.integer('concurrent', 1, MAX_JOBS),
    checkInterval: reader.fractionalSeconds('check_interval', MIN_CHECK_INTERVAL, MAX_SECONDS),
    shutdownTimeout: reader.seconds('shutdown_timeout', MAX_SECONDS),
    logLevel: reader.choice<LogLevel>('log_level', LOG_LEVELS),
    logFormat: reader.choice<LogFormat>('log_format', LOG_FORMATS),
    metricsServer: address === undefined ? undefined : reader.address(addressKey, address),
    // No [[runners]] at all: the built-in local runner; `runners = []` means none.
    runners: document['runners'] === undefined ? DEFAULT_CONFIG.runners : reader.tables('runners').map((table, i) => readRunner(table, i, origin, warnings)),
    pprof: reader.boolean('pprof'),
    pprofMaxSeconds: reader.integer('pprof_max_seconds', 1, MAX_PROFILE_SECONDS),
    pprofAccess: reader.choice<PprofAccess>('pprof_access', PPROF_ACCESS),
    pprofUsers: reader.strings('pprof_users'),
    // '' is no web config file, as the exporter toolkit's flag default.
    webConfigFile: reader.string('web_config_file') || undefined,
    otel: readOtelTable(reader),
    metricNames: reader.choice<MetricNameSet>('metric_names', METRIC_NAME_SETS),
  };
  warnings.unshift(...reader.unknownKeys());

  const seen = new Set<string>();
  for (const [i, runner] of config.runners.entries()) {
    if (seen.has(runner.name)) {
      throw new ConfigError(`${origin}: runners[${i}].name: ${JSON.stringify(runner.name)} is already used by another runner; names must be unique`);
    }
    seen.add(runner.name);
  }
  checkJobUsers(config, origin);
  return { config, warnings };
}
