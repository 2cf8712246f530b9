// The metrics server as `runner run` starts it: the routes behind the web
// config's access rules, HTTPS when the web config asks for it, the web
// config kept current (SIGHUP, file changes), and the warnings an operator
// needs about who can reach it.
import type { Meter } from '@opentelemetry/api';
import type { Config } from '../config/types.ts';
import { formatListenAddress, type ListenAddress } from '../config/listen-address.ts';
import type { Logger } from '../log/logger.ts';
import { type RunningServer, startHttpServer } from '../server/http-server.ts';
import type { RequestListener } from '../server/router.ts';
import { isLoopbackAddress, withWebAccess } from '../server/web-config/web-access.ts';
import type { LoadedWebConfig } from '../server/web-config/load-web-config.ts';
import { WebConfigReloader } from '../server/web-config/web-config-reloader.ts';
import type { WebConfig } from '../server/web-config/web-config.ts';
import { observeWebConfigLoads } from '../telemetry/web-config-metrics.ts';

export interface MetricsServer {
  readonly address: ListenAddress;
  /** config.toml was reloaded: its pprof settings apply now, and the web config is read again. */
  reload(config: Config): void;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  readonly address: ListenAddress;
  /** --web-config-file, which wins over web_config_file. */
  readonly webConfigFlag: string | undefined;
  readonly cwd: string;
  readonly meter: Meter;
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

/** How a client proves who it is, for the log. */
function authentication(config: WebConfig): string {
  const ways: string[] = [];
  if (config.users.size > 0) ways.push('basic auth');
  if (config.tls?.clientAuthType === 'RequireAndVerifyClientCert') ways.push('client certificate');
  return ways.length > 0 ? ways.join(' and ') : 'none';
}

/** What about pprof_users cannot work with this web config. */
function pprofUserWarnings(config: Config, web: WebConfig): string[] {
  if (config.pprofUsers.length === 0) return [];
  if (web.users.size === 0) return ['pprof_users is set but the web config has no basic_auth_users: no client can fetch profiles'];
  const unknown = config.pprofUsers.filter((user) => !web.users.has(user));
  return unknown.length === 0 ? [] : [`pprof_users names users that are not in the web config's basic_auth_users: ${unknown.join(', ')}`];
}

export async function startMetricsServer(config: Config, routes: RequestListener, options: MetricsServerOptions, logger: Logger): Promise<MetricsServer> {
  let settings = config;
  const pathOf = (c: Config): string | undefined => options.webConfigFlag ?? c.webConfigFile;
  // deno-lint-ignore prefer-const -- the reloader applies TLS changes to it, and is made before it
  let server: RunningServer | undefined;
  const described = (loaded: LoadedWebConfig) => ({
    file: loaded.path,
    tls: loaded.config.tls === undefined ? 'off' : `on (client certificates: ${loaded.config.tls.clientAuthType})`,
    authentication: authentication(loaded.config),
  });
  const reloader = new WebConfigReloader(pathOf(config), options.cwd, (tls) => server!.reconfigure(tls), {
    loaded: (loaded, why) => {
      logger.info('Web config loaded', { ...described(loaded), trigger: why });
      for (const warning of pprofUserWarnings(settings, loaded.config)) logger.warn(warning);
    },
    failed: (error, why) => logger.error('Loading the web config failed; keeping the current one', { error: error.message, trigger: why }),
  });
  const first = await reloader.loadFirst();
  if (first !== undefined) observeWebConfigLoads(options.meter, reloader);
  const listener = withWebAccess(routes, {
    webConfig: () => reloader.config,
    pprofAccess: () => settings.pprofAccess,
    pprofUsers: () => settings.pprofUsers,
  });
  server = await startHttpServer(options.address, listener, {
    onError: (error) => logger.error('Metrics server error', { error: error.message }),
    onClientRefused: (reason, address) => logger.warn('Client certificate refused', { reason, client: address }),
  }, reloader.serverTls);
  const running = server;
  logger.info('Metrics server listening', {
    address: formatListenAddress(running.address),
    scheme: running.tls ? 'https' : 'http',
    ...(first === undefined ? {} : described(first)),
  });
  if (!running.tls && !isLoopbackHost(options.address.host)) {
    logger.warn(
      'The metrics server serves plain HTTP beyond this machine: whoever reaches it reads the metrics, the job list and the profiles, unencrypted; set web_config_file for TLS and authentication (docs/security.md)',
      { address: formatListenAddress(running.address), authentication: authentication(reloader.config) },
    );
  }
  for (const warning of pprofUserWarnings(config, reloader.config)) logger.warn(warning);
  reloader.startWatching();
  return {
    address: running.address,
    reload(next) {
      settings = next;
      void reloader.reload('SIGHUP', pathOf(next));
    },
    async close() {
      reloader.stop();
      await running.close();
    },
  };
}
