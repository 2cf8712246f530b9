// `runner run`: wires configuration, agent, telemetry and server together and
// runs until a stop signal.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Agent } from '../agent/agent.ts';
import { loadConfig } from '../config/load.ts';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../config/listen-address.ts';
import type { Logger } from '../log/logger.ts';
import { runtime } from '../runtime/runtime.ts';
import { startHttpServer, type RunningServer } from '../server/http-server.ts';
import { createRequestListener } from '../server/routes.ts';
import { registerProcessMetrics } from '../telemetry/process-metrics.ts';
import { registerRunnerMetrics } from '../telemetry/runner-metrics.ts';
import { Telemetry } from '../telemetry/telemetry.ts';
import { discardEarlyProfiling, startProfilers, stopProfilers } from '../profiling/profilers.ts';
import { versionInfo } from '../version.ts';
import { UsageError } from './args.ts';

export interface RunOptions {
  readonly configPath: string | undefined;
  /** From --metrics-server/--listen-address; wins over the file. '' disables the server. */
  readonly metricsServer: string | undefined;
  readonly workingDirectory: string | undefined;
  /** --no-pprof: no /debug/pprof routes and no heap sampling, whatever the file says. */
  readonly noPprof: boolean;
}

function checkWorkingDirectory(path: string): string {
  const dir = resolve(path);
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch {
    throw new UsageError(`working directory ${JSON.stringify(path)} does not exist (expected an existing directory)`);
  }
  if (!isDirectory) throw new UsageError(`working directory ${JSON.stringify(path)} is not a directory`);
  return dir;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Resolves with the signal that asked the runner to stop; a second one exits at once. */
function waitForStopSignal(logger: Logger): Promise<string> {
  // Signal listeners alone do not keep the event loop alive: hold it until a signal comes.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  return new Promise((resolve) => {
    let received = false;
    for (const signal of STOP_SIGNALS) {
      process.on(signal, () => {
        if (received) {
          logger.warn('Second stop signal: exiting at once', { signal });
          process.exit(1);
        }
        received = true;
        clearInterval(keepAlive);
        resolve(signal);
      });
    }
  });
}

/** Runs the agent; resolves with the process exit code. */
export async function runCommand(options: RunOptions, logger: Logger): Promise<number> {
  const cwd = process.cwd();
  const workingDirectory = checkWorkingDirectory(options.workingDirectory ?? cwd);
  const flagAddress: ListenAddress | undefined | null =
    options.metricsServer === undefined ? null : parseListenAddress(options.metricsServer);
  const loaded = loadConfig(options.configPath, cwd);
  const { config } = loaded;
  logger.configure(config.logLevel, config.logFormat);
  for (const warning of loaded.warnings) logger.warn(warning);

  logger.info('Starting runner', {
    version: versionInfo.version,
    revision: versionInfo.revision,
    runtime: `${runtime.name} ${runtime.version}`,
    pid: process.pid,
  });
  if (loaded.path) logger.info('Configuration loaded', { file: loaded.path, runners: config.runners.length });
  else logger.info('No config.toml found: using built-in defaults', { looked_for: resolve(cwd, 'config.toml') });
  logger.info('Working directory', { dir: workingDirectory });

  const stopSignal = waitForStopSignal(logger);
  const profilers = config.pprof && !options.noPprof ? await startProfilers(config.pprofMaxSeconds) : undefined;
  if (!profilers) await discardEarlyProfiling();
  logger.info(profilers ? 'Profiling enabled' : 'Profiling disabled', {
    heap: profilers?.heap.kind === 'sampling' ? `sampling every ${profilers.heap.sampler.intervalBytes} bytes` : profilers?.heap.kind,
  });
  const agent = new Agent(config);
  const telemetry = new Telemetry();
  registerRunnerMetrics(telemetry.meter, agent);
  registerProcessMetrics(telemetry.meter);

  const address = flagAddress === null ? config.metricsServer : flagAddress;
  let server: RunningServer | undefined;
  if (address) {
    server = await startHttpServer(address, createRequestListener(agent, telemetry, logger, profilers), (error) =>
      logger.error('Metrics server error', { error: error.message }));
    logger.info('Metrics server listening', { address: formatListenAddress(server.address) });
  } else {
    logger.info('metrics server disabled');
  }
  agent.start();
  logger.info('Runner ready', { concurrent: config.concurrent });

  const signal = await stopSignal;
  logger.info('Stopping runner', { signal });
  const forceTimer = setTimeout(() => {
    logger.error('Shutdown took longer than shutdown_timeout: exiting', { shutdown_timeout: config.shutdownTimeout });
    process.exit(1);
  }, config.shutdownTimeout * 1000);
  forceTimer.unref?.();
  await agent.stop();
  await server?.close();
  await telemetry.shutdown();
  if (profilers) await stopProfilers(profilers);
  clearTimeout(forceTimer);
  logger.info('Runner stopped');
  return 0;
}
