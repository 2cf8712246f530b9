// The embedded node:http server: bound to the configured address, with limits
// that really fire so one slow or oversized client cannot hold it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { formatListenAddress, type ListenAddress } from '../config/listen-address.ts';
import type { RequestListener } from './router.ts';

export const SERVER_LIMITS = {
  /** Whole request headers must arrive within this time. */
  headersTimeoutMs: 10_000,
  /** The whole request (headers and any body) must arrive within this time. */
  requestTimeoutMs: 30_000,
  /** Node checks the two timeouts above only at this interval (default 30 s). */
  connectionsCheckingIntervalMs: 1_000,
  /** Idle keep-alive connections are closed after this time. */
  keepAliveTimeoutMs: 5_000,
  /** Request headers larger than this are answered 431. */
  maxHeaderSize: 16 * 1024,
  /**
   * Requests one connection may have unanswered at once: HTTP/1.1 lets a
   * client send many before reading an answer (pipelining), and each would
   * cost a scrape. Past it, the connection is closed.
   */
  maxUnansweredPerConnection: 8,
  /** Answer bytes a connection may leave unread; a client that reads nothing is closed past it. */
  maxUnreadBytesPerConnection: 8 * 1024 * 1024,
} as const;

/**
 * The listener behind limits per connection: a connection with too many
 * requests unanswered, or too many answer bytes unread, is closed instead of
 * served, and the requests it had queued are dropped rather than worked on
 * for a client that is not reading.
 */
export function perConnectionLimits(listener: RequestListener): RequestListener {
  const unanswered = new WeakMap<Socket, number>();
  return (req, res) => {
    const socket = req.socket;
    const count = (unanswered.get(socket) ?? 0) + 1;
    if (socket.destroyed || count > SERVER_LIMITS.maxUnansweredPerConnection || socket.writableLength > SERVER_LIMITS.maxUnreadBytesPerConnection) {
      socket.destroy();
      return;
    }
    unanswered.set(socket, count);
    res.once('close', () => unanswered.set(socket, (unanswered.get(socket) ?? 1) - 1));
    listener(req, res);
  };
}

export class ServerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerStartError';
  }
}

export interface RunningServer {
  /** The address actually bound (port 0 resolved to the chosen port). */
  readonly address: ListenAddress;
  close(): Promise<void>;
}

function describeListenError(address: ListenAddress, error: NodeJS.ErrnoException): string {
  const where = formatListenAddress(address);
  switch (error.code) {
    case 'EADDRINUSE':
      return `metrics server address ${where} is already in use (choose another port or stop the other process)`;
    case 'EACCES':
      return `metrics server address ${where}: permission denied (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `metrics server address ${where}: no such address on this machine`;
    case 'EINVAL':
      return `metrics server address ${where}: not a usable address on this machine`;
    // Bun reports a host name that does not resolve as ENOENT.
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'ENOENT':
      return `metrics server address ${where}: host ${JSON.stringify(address.host)} does not resolve`;
    default:
      return `metrics server address ${where}: ${error.message}`;
  }
}

function boundAddress(server: Server, requested: ListenAddress): ListenAddress {
  const info = server.address() as AddressInfo | string | null;
  if (info === null || typeof info === 'string') return requested;
  // An empty host means every interface; keep it so the log says so.
  return { host: requested.host === '' ? '' : info.address, port: info.port };
}

/** Starts the server; `onError` hears errors after it listens (they must not crash the agent). */
export function startHttpServer(address: ListenAddress, listener: RequestListener, onError: (error: Error) => void = () => undefined): Promise<RunningServer> {
  const server = createServer(
    {
      headersTimeout: SERVER_LIMITS.headersTimeoutMs,
      requestTimeout: SERVER_LIMITS.requestTimeoutMs,
      connectionsCheckingInterval: SERVER_LIMITS.connectionsCheckingIntervalMs,
      keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
      maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
    },
    perConnectionLimits(listener),
  );
  return new Promise((resolve, reject) => {
    const onStartError = (error: NodeJS.ErrnoException): void => reject(new ServerStartError(describeListenError(address, error)));
    server.once('error', onStartError);
    const ready = (): void => {
      server.off('error', onStartError);
      server.on('error', onError);
      resolve({
        address: boundAddress(server, address),
        close: () => closeServer(server),
      });
    };
    if (address.host === '') server.listen(address.port, ready);
    else server.listen(address.port, address.host, ready);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Idle keep-alive sockets would otherwise hold close() open until they time out.
    server.closeIdleConnections?.();
    setTimeout(() => server.closeAllConnections?.(), 1_000).unref?.();
  });
}
