// The embedded server: node:http, or node:https with the web config's TLS,
// bound to the configured address, with limits that really fire so one slow
// or oversized client cannot hold it. TLS settings change without a restart:
// a new certificate is swapped into the listening server where the runtime
// can (setSecureContext); otherwise, and for a new client policy, a new
// server takes the port over (a few milliseconds with no listener).
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { formatListenAddress, type ListenAddress } from '../config/listen-address.ts';
import { httpConnectionFront, tlsServerAbilities } from '../runtime/runtime.ts';
import { installConnectionFront } from './connection-front.ts';
import type { RequestListener } from './router.ts';
import { clientCertificateRefusal, clientPolicyOptions, HANDSHAKE_TIMEOUT_MS, secureContextOptions, type ServerTls } from './web-config/tls-options.ts';

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
   * cost a scrape. Past it, the connection is closed: by the connection
   * front (connection-front.ts) before the runtime's parser sees the batch
   * where the runtime needs one, else by perConnectionLimits.
   */
  maxUnansweredPerConnection: 8,
  /** Answer bytes a connection may leave unread; a client that reads nothing is closed past it. */
  maxUnreadBytesPerConnection: 8 * 1024 * 1024,
} as const;

/**
 * The listener behind limits per connection (on Node and Deno the connection
 * front has closed most such connections before the parser dispatched their
 * requests; this catches the rest, and Bun's): a connection with too many
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
  /** Whether it serves HTTPS now. */
  readonly tls: boolean;
  /** Serves new connections with these TLS settings (undefined: plain HTTP); connections already open keep theirs. */
  reconfigure(tls: ServerTls | undefined): Promise<void>;
  close(): Promise<void>;
}

export interface ServerEvents {
  /** Errors after it listens (they must not crash the agent). */
  readonly onError?: (error: Error) => void;
  /** A client certificate refused after the handshake (wrong SAN, not verified). */
  readonly onClientRefused?: (reason: string, address: string | undefined) => void;
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

const HTTP_OPTIONS = {
  headersTimeout: SERVER_LIMITS.headersTimeoutMs,
  requestTimeout: SERVER_LIMITS.requestTimeoutMs,
  connectionsCheckingInterval: SERVER_LIMITS.connectionsCheckingIntervalMs,
  keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
  maxHeaderSize: SERVER_LIMITS.maxHeaderSize,
};

const FRONT_LIMITS = { maxUnanswered: SERVER_LIMITS.maxUnansweredPerConnection, maxHeadBytes: SERVER_LIMITS.maxHeaderSize };

/**
 * A server for these settings; `current` gives the TLS settings in force, which the certificate checks read.
 * node:https (and node:tls under it) loads only for a server with TLS: about 6 ms of a plain server's start on Node (issue 17).
 */
async function createServerFor(
  tls: ServerTls | undefined,
  listener: RequestListener,
  current: () => ServerTls | undefined,
  events: ServerEvents,
): Promise<Server> {
  if (tls === undefined) {
    const server = createHttpServer(HTTP_OPTIONS, perConnectionLimits(listener));
    if (httpConnectionFront) installConnectionFront(server, 'connection', FRONT_LIMITS);
    return server;
  }
  const { createServer: createHttpsServer } = await import('node:https');
  const server = createHttpsServer(
    { ...HTTP_OPTIONS, ...secureContextOptions(tls), ...clientPolicyOptions(tls.config), handshakeTimeout: HANDSHAKE_TIMEOUT_MS },
    perConnectionLimits(listener),
  ) as unknown as Server;
  // Before the certificate check below, so that it still sees the TLS socket itself.
  if (httpConnectionFront) installConnectionFront(server, 'secureConnection', FRONT_LIMITS);
  server.on('secureConnection', (socket: TLSSocket) => {
    const settings = current();
    const refusal = settings === undefined ? undefined : clientCertificateRefusal(socket, settings.config);
    if (refusal === undefined) return;
    events.onClientRefused?.(refusal, socket.remoteAddress);
    socket.destroy();
  });
  // A failed handshake is the client's problem, not the server's: it is not an error of ours.
  server.on('tlsClientError', () => undefined);
  return server;
}

function listen(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onStartError = (error: NodeJS.ErrnoException): void => reject(new ServerStartError(describeListenError(address, error)));
    server.once('error', onStartError);
    const ready = (): void => {
      server.off('error', onStartError);
      resolve();
    };
    if (address.host === '') server.listen(address.port, ready);
    else server.listen(address.port, address.host, ready);
  });
}

/** Whether going from `before` to `after` needs a new server rather than a new certificate in the one listening. */
function needsNewServer(before: ServerTls | undefined, after: ServerTls | undefined): boolean {
  if (before === undefined || after === undefined) return before !== after;
  const policy = (tls: ServerTls): string => JSON.stringify(clientPolicyOptions(tls.config));
  return !tlsServerAbilities.swapCertificate || policy(before) !== policy(after);
}

/** Starts the server, with TLS when `tls` is given. */
export async function startHttpServer(
  address: ListenAddress,
  listener: RequestListener,
  events: ServerEvents = {},
  tls?: ServerTls,
): Promise<RunningServer> {
  let settings = tls;
  const current = (): ServerTls | undefined => settings;
  const onError = (error: Error): void => events.onError?.(error);
  let server = await createServerFor(settings, listener, current, events);
  await listen(server, address);
  server.on('error', onError);
  // The port chosen for port 0 is kept, so a new server takes over the same one.
  const bound = boundAddress(server, address);
  const retained: ListenAddress = { host: address.host, port: bound.port };
  return {
    address: bound,
    get tls() {
      return settings !== undefined;
    },
    async reconfigure(next) {
      const before = settings;
      if (!needsNewServer(before, next)) {
        settings = next;
        (server as unknown as { setSecureContext(options: object): void }).setSecureContext(secureContextOptions(next!));
        return;
      }
      const replacement = await createServerFor(next, listener, current, events);
      await closeServer(server, false);
      await listen(replacement, retained);
      replacement.on('error', onError);
      server = replacement;
      settings = next;
    },
    close: () => closeServer(server, true),
  };
}

/** Stops listening; `all` also ends the connections (idle ones at once, the rest after a second). */
function closeServer(server: Server, all: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (!all) {
      // The port is free once the listener is closed; open connections finish on their own.
      server.close();
      server.closeIdleConnections?.();
      resolve();
      return;
    }
    server.close(() => resolve());
    // Idle keep-alive sockets would otherwise hold close() open until they time out.
    server.closeIdleConnections?.();
    setTimeout(() => server.closeAllConnections?.(), 1_000).unref?.();
  });
}
