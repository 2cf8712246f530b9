// Where a docker runner's daemon listens: the runner's `host`, else DOCKER_HOST, read into an
// address the engine's HTTP client can use. Pure, and loaded at start: a host the client cannot
// use fails the runner's start (executors.ts), before the executor's code is loaded.

/** The daemon's address: the runner's `host`, else DOCKER_HOST, else the local socket (GitLab Runner's order). */
export function dockerHost(configured: string | undefined, environment: Readonly<Record<string, string | undefined>> = process.env): string {
  return configured ?? (environment['DOCKER_HOST'] || 'unix:///var/run/docker.sock');
}

/** Where the daemon listens: a unix socket or a TCP address (plain HTTP). */
export type DockerEndpoint =
  | { readonly host: string; readonly socketPath: string }
  | { readonly host: string; readonly hostname: string; readonly port: number };

/**
 * Reads a DOCKER_HOST value: `unix:///path`, `tcp://host:port` or `http://host:port` (port 2375 when
 * left out). TLS is not supported: `https://`, or `tcp://` with DOCKER_TLS_VERIFY set, is refused.
 */
export function parseDockerHost(value: string, options: { readonly tlsVerify: boolean }): DockerEndpoint {
  const expected = 'expected unix:///path/to/docker.sock, tcp://host:port or http://host:port';
  const invalid = (why: string): Error => new Error(`invalid Docker host ${JSON.stringify(value)}: ${why}; ${expected}`);
  if (value.startsWith('unix://')) {
    const socketPath = value.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw invalid('the socket path must be absolute');
    return { host: value, socketPath };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('not a URL');
  }
  if (url.protocol === 'https:' || (url.protocol === 'tcp:' && options.tlsVerify)) {
    throw new Error(
      `Docker host ${JSON.stringify(value)} asks for TLS${
        url.protocol === 'tcp:' ? ' (DOCKER_TLS_VERIFY is set)' : ''
      }, which this client does not support; ${expected} without TLS`,
    );
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:') throw invalid(`unsupported scheme ${url.protocol}`);
  if (url.hostname === '') throw invalid('no host name');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.username !== '') throw invalid('no path, query or user may follow the address');
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  return { host: value, hostname, port: url.port === '' ? 2375 : Number(url.port) };
}

/** DOCKER_TLS_VERIFY as the Docker CLI reads it: set to anything but the empty string. */
export function tlsVerifyFromEnvironment(environment: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return (environment['DOCKER_TLS_VERIFY'] ?? '') !== '';
}
