// SIGHUP: read config.toml again and hand the new settings to the agent,
// without dropping running jobs. A bad file keeps the old configuration.
import type { Agent } from '../agent/agent.ts';
import type { Config } from '../config/types.ts';
import { loadConfig } from '../config/load.ts';
import { formatListenAddress } from '../config/listen-address.ts';
import type { Logger } from '../log/logger.ts';
import { checkJobUsersOnHost } from '../executors/shell/job-user.ts';

export function reloadConfig(path: string | undefined, cwd: string, current: Config, agent: Agent | undefined, logger: Logger): Config {
  let next: Config;
  try {
    const loaded = loadConfig(path, cwd);
    checkJobUsersOnHost(loaded.config, loaded.path ?? 'config');
    for (const warning of loaded.warnings) logger.warn(warning);
    next = loaded.config;
  } catch (error) {
    agent?.configurationFailed();
    logger.error('Reloading the configuration failed; keeping the current one', { error: error instanceof Error ? error.message : String(error) });
    return current;
  }
  const address = (c: Config): string => (c.metricsServer ? formatListenAddress(c.metricsServer) : '');
  if (address(next) !== address(current)) {
    logger.warn('The metrics server address changed: it takes effect after a restart', { now: address(current), configured: address(next) });
  }
  logger.configure(next.logLevel, next.logFormat);
  agent?.reload(next);
  logger.info('Configuration reloaded', { concurrent: next.concurrent, runners: next.runners.map((r) => r.name).join(',') });
  return next;
}
