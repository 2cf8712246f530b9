// `runner run`: wires configuration, agent, telemetry and server together and
// runs until a stop signal.
import { resolve } from 'node:path';
import type { Agent } from '../agent/agent.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { loadSystemId } from '../config/system-id.ts';
import { tokenFileWarning } from '../config/file-permissions.ts';
import { type ListenAddress, parseListenAddress } from '../config/listen-address.ts';
import type { Logger } from '../log/logger.ts';
import { runtime } from '../runtime/runtime.ts';
import { createRequestListener } from '../server/routes.ts';
import type { OtlpPush } from '../telemetry/otlp-push.ts';
import { shownUrl } from '../config/otel-config.ts';
import { otlpMetricsSettings } from '../telemetry/otlp-settings.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import { discardEarlyProfiling, startProfilers, stopProfilers } from '../profiling/profilers.ts';
import { versionInfo } from '../version.ts';
import { checkWorkingDirectory } from './args.ts';
import { handleSignals, type StopMode } from './signals.ts';
import { reloadConfig } from './reload.ts';
import { loadWebConfigFile } from '../server/web-config/web-config-reloader.ts';
import { checkJobUsersOnHost } from '../executors/shell/job-user.ts';
import { agentWithMetrics } from './agent-with-metrics.ts';
import { runnerTracing } from './job-tracing.ts';
import { type MetricsServer, startMetricsServer } from './metrics-server.ts';
import { processRecordsDir, startProcessRecord } from './process-records.ts';
import { closeProcessRecord } from '../system/process-record.ts';

/** How long a forced exit waits for coordinators to hear that their jobs failed. */
const ABANDON_REPORT_MS = 3_000;
/** From 'Runner ready' to releaseStartupGarbage(): the start's own follow-up work (the queues' first scans) is done by then. */
const STARTUP_SETTLE_MS = 1_000;

export interface RunOptions {
  readonly configPath: string | undefined;
  /** From --metrics-server/--listen-address; wins over the file. '' disables the server. */
  readonly metricsServer: string | undefined;
  readonly workingDirectory: string | undefined;
  /** --no-pprof: no /debug/pprof routes and no heap sampling, whatever the file says. */
  readonly noPprof: boolean;
  /** --web-config-file: wins over web_config_file. */
  readonly webConfigFile?: string | undefined;
}

/** Runs the agent; resolves with the process exit code. */
/**
 * The OTLP push the [otel] table and the OTEL_* environment ask for; a bad value is a ConfigError
 * naming it. The exporters are loaded only then (about 50 ms of start-up on Node).
 */
async function otlpPushOf(config: Config, logger: Logger): Promise<(OtlpPush & { describe: Record<string, string> }) | undefined> {
  try {
    const settings = otlpMetricsSettings(config.otel, process.env);
    if (settings === undefined) return undefined;
    const { otlpPush } = await import('../telemetry/otlp-push.ts');
    const push = otlpPush(settings, { warn: (message, fields) => logger.warn(message, fields) });
    return { ...push, describe: { endpoint: shownUrl(settings.url), protocol: settings.protocol, interval_s: String(settings.intervalMs / 1000) } };
  } catch (error) {
    throw new ConfigError((error as Error).message, { cause: error });
  }
}

/**
 * One line per [[runners]] entry: where its jobs come from (the queue
 * directory `runner submit` writes to, or the coordinator); after a reload,
 * only for the runners it added or whose source changed (`before`).
 */
function logServedRunners(config: Config, workingDirectory: string, logger: Logger, before?: Config): void {
  if (config.runners.length === 0) logger.warn('No [[runners]] in the configuration: this runner takes no jobs');
  const source = (runner: Config['runners'][number]): string => `${runner.name}\n${runner.url ?? ''}\n${runner.queueDir}\n${runner.executor}`;
  const known = new Set(before?.runners.map(source));
  for (const runner of config.runners) {
    if (known.has(source(runner))) continue;
    const from = runner.url === undefined ? { queue_dir: resolve(workingDirectory, runner.queueDir) } : { url: shownUrl(runner.url) };
    logger.info('Serving runner', { runner: runner.name, executor: runner.executor, ...from });
  }
}

export async function runCommand(options: RunOptions, logger: Logger): Promise<number> {
  const cwd = process.cwd();
  const workingDirectory = checkWorkingDirectory(options.workingDirectory ?? cwd);
  const flagAddress: ListenAddress | undefined | null = options.metricsServer === undefined ? null : parseListenAddress(options.metricsServer);
  const loaded = loadConfig(options.configPath, cwd);
  const { config } = loaded;
  // Jobs to run as users this runner cannot switch to, or that do not exist, would all fail: refuse to start instead.
  checkJobUsersOnHost(config, loaded.path ?? 'config');
  // With the configuration, before anything starts: a state file that cannot be read is as fatal as a bad config.toml (GitLab Runner's).
  const systemId = loadSystemId(loaded.path ?? options.configPath, cwd);
  const address = flagAddress === null ? config.metricsServer : flagAddress;
  // A web config that cannot be used stops the start as a bad config.toml does, before anything starts.
  const webConfigFile = options.webConfigFile ?? config.webConfigFile;
  if (address && webConfigFile !== undefined) await loadWebConfigFile(webConfigFile, cwd);
  const push = await otlpPushOf(config, logger);
  const tracing = runnerTracing(config, process.env, logger);
  await tracing.load(config);
  logger.configure(config.logLevel, config.logFormat);
  for (const warning of loaded.warnings) logger.warn(warning);
  const exposed = tokenFileWarning(loaded.path, config);
  if (exposed !== undefined) logger.warn(exposed);

  logger.info('Starting runner', {
    version: versionInfo.version,
    revision: versionInfo.revision,
    runtime: `${runtime.name} ${runtime.version}`,
    pid: process.pid,
  });
  if (loaded.path) logger.info('Configuration loaded', { file: loaded.path, runners: config.runners.length });
  else logger.info('No config.toml found: using built-in defaults', { looked_for: resolve(cwd, 'config.toml') });
  logger.info('Working directory', { dir: workingDirectory });
  if (systemId.warning !== undefined) logger.warn(systemId.warning);
  logger.info('Runner system ID', { system_id: systemId.id });
  // Before anything of this process runs: the job groups a killed predecessor left are ended and its temporary files removed.
  await startProcessRecord(processRecordsDir(systemId.path), logger);

  let requestStop: (request: { mode: StopMode; signal: string }) => void = () => undefined;
  const stopRequested = new Promise<{ mode: StopMode; signal: string }>((resolve) => {
    requestStop = resolve;
  });
  // Made after the signal handlers, which must be in place first; they see undefined until then.
  // deno-lint-ignore prefer-const -- the signal handlers refer to it before its assignment
  let agent: Agent | undefined;
  let server: MetricsServer | undefined;
  let configuration = config;
  // A graceful stop waits for the jobs however long they take; a cancel, even one during a drain, is bounded by shutdown_timeout.
  let forceTimer: ReturnType<typeof setTimeout> | undefined;
  // Kills the jobs' process groups, tells coordinators their jobs failed (a few seconds at most), exits 1.
  let forced = false;
  const exitNow = (): void => {
    forced = true;
    agent?.forceStop();
    void (agent?.abandonAll(ABANDON_REPORT_MS) ?? Promise.resolve()).finally(() => {
      closeProcessRecord();
      process.exit(1);
    });
  };
  const armShutdownTimeout = (): void => {
    if (forceTimer !== undefined) return;
    forceTimer = setTimeout(() => {
      logger.error('Shutdown took longer than shutdown_timeout: exiting', { shutdown_timeout: configuration.shutdownTimeout });
      exitNow();
    }, configuration.shutdownTimeout * 1000);
    forceTimer.unref?.();
  };
  handleSignals(logger, {
    stop: (mode, signal) => {
      if (agent?.state === 'stopping' && mode === 'cancel') {
        logger.info('Canceling running jobs', { signal });
        agent.cancelAll();
        armShutdownTimeout();
      }
      requestStop({ mode, signal });
    },
    force: () => exitNow(),
    reload: () => {
      // The file found at startup must stay: a missing one is an error, not a switch to the defaults.
      const before = configuration;
      configuration = reloadConfig(loaded.path ?? options.configPath, cwd, configuration, agent, logger);
      if (configuration !== before) logServedRunners(configuration, workingDirectory, logger, before);
      server?.reload(configuration);
      // A GitLab runner added now may be asked for its jobs' traces.
      tracing.load(configuration).then(
        (now) => now && logger.info('OTLP job tracing enabled', tracing.describe),
        (error: unknown) => logger.error('Loading the job tracing failed', { error: error instanceof Error ? error.message : String(error) }),
      );
    },
  });
  // Profiles are only ever read through the server's /debug/pprof: without the server, sampling would cost and serve nobody.
  const profilingOff = !address ? 'metrics server disabled' : options.noPprof ? '--no-pprof' : !config.pprof ? 'pprof = false' : undefined;
  const profilers = profilingOff === undefined ? await startProfilers(config.pprofMaxSeconds) : undefined;
  if (!profilers) await discardEarlyProfiling();
  if (profilers) {
    logger.info('Profiling enabled', {
      heap: profilers.heap.kind === 'sampling' ? `sampling every ${profilers.heap.sampler.intervalBytes} bytes` : profilers.heap.kind,
    });
  } else {
    logger.info('Profiling disabled', { reason: profilingOff });
  }
  const telemetry = new Telemetry(push);
  if (push !== undefined) logger.info('OTLP metrics push enabled', push.describe);
  tracing.attach(telemetry.meter);
  if (tracing.describe !== undefined) logger.info('OTLP job tracing enabled', tracing.describe);
  agent = agentWithMetrics(telemetry, configuration, workingDirectory, logger, systemId.id, tracing.tracer);

  if (address) {
    const routes = createRequestListener(agent, telemetry, logger, profilers);
    server = await startMetricsServer(config, routes, { address, webConfigFlag: options.webConfigFile, cwd, meter: telemetry.meter }, logger);
  } else {
    logger.info('metrics server disabled');
  }
  logServedRunners(config, workingDirectory, logger);
  agent.start();
  logger.info('Runner ready', { concurrent: config.concurrent });
  // What starting left behind goes back once the start has settled, where the runtime can return it.
  const settled = setTimeout(
    () => void import('../runtime/gc.ts').then(({ releaseStartupGarbage }) => releaseStartupGarbage(), () => undefined),
    STARTUP_SETTLE_MS,
  );
  settled.unref?.();

  const { mode, signal } = await stopRequested;
  clearTimeout(settled);
  logger.info(mode === 'graceful' ? 'Stopping runner when running jobs have finished' : 'Stopping runner', {
    signal,
    running_jobs: agent.runningJobs().length,
  });
  if (mode === 'cancel') armShutdownTimeout();
  await agent.stop(mode);
  await server?.close();
  // The last spans first: the metrics' last push then counts what they cost.
  await tracing.shutdown();
  await telemetry.shutdown();
  if (profilers) await stopProfilers(profilers);
  clearTimeout(forceTimer);
  closeProcessRecord();
  logger.info('Runner stopped');
  // A forced stop exits 1 even when the jobs, killed, let the normal shutdown finish first.
  return forced ? 1 : 0;
}
