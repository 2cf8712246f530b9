// One HTTP request to a coordinator with node:http/node:https - the only
// client that takes a private CA on all three runtimes (Node 20's fetch takes
// none) - through the proxy HTTPS_PROXY/HTTP_PROXY/NO_PROXY name, with a
// timeout and a bound on the response body.
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import type { Readable } from 'node:stream';
import { GarbageNudge } from '../../runtime/gc.ts';

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
  /** The certificates the server showed over https, leaf to root, as PEM; undefined over http or where the runtime cannot tell. */
  readonly certificateChain?: string | undefined;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  readonly timeoutMs: number;
}

/** A request body read from a stream, its length known before it is sent (no chunked encoding). */
export interface StreamBody {
  readonly length: number;
  /** A fresh stream of exactly `length` bytes; called once per request. */
  open(): Readable;
}

export interface StreamRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: StreamBody;
  /** The longest silence, either way, before the request is given up (uploads take long: no bound on the whole). */
  readonly idleTimeoutMs: number;
  /** Aborting ends the request, and the response's body if it is being read. */
  readonly signal?: AbortSignal | undefined;
}

/** A response whose body is not read yet: the caller reads `body` to its end or destroys it. */
export interface StreamResponse {
  readonly status: number;
  readonly statusText: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Readable;
}

/** A job payload is rarely more than a few hundred KiB; more is refused rather than held. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** Origins whose proxy is remembered. */
const MAX_CACHED_ORIGINS = 64;

export class HttpError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HttpError';
  }
}

/** The client of one coordinator: its CA and connection reuse. */
export class HttpClient {
  private readonly ca: string | undefined;
  private readonly agents = new Map<string, http.Agent>();
  /** The proxy of each origin (scheme and host): proxy-from-env reads and parses the environment on every call, and a job's log goes up in a PATCH per MiB. */
  private readonly proxies = new Map<string, string>();

  /** `caFile`: PEM CAs trusted besides the system's (GitLab's tls-ca-file); read now, so a bad path fails at once. */
  constructor(caFile: string | undefined) {
    try {
      this.ca = caFile === undefined ? undefined : readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new HttpError(`cannot read tls-ca-file ${caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }

  private proxyFor(url: URL): string {
    const origin = `${url.protocol}//${url.host}`;
    let proxy = this.proxies.get(origin);
    if (proxy === undefined) {
      // Bounded: redirects to object storage could name many hosts.
      if (this.proxies.size >= MAX_CACHED_ORIGINS) this.proxies.clear();
      proxy = getProxyForUrl(url.href);
      this.proxies.set(origin, proxy);
    }
    return proxy;
  }

  private agentFor(url: URL): http.Agent {
    const proxy = this.proxyFor(url);
    const key = `${url.protocol}|${url.host}|${proxy}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      const tls = this.ca === undefined ? {} : { ca: this.ca };
      if (proxy === '') {
        agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true, ...tls }) : new http.Agent({ keepAlive: true });
      } else {
        agent = url.protocol === 'https:' ? new HttpsProxyAgent(proxy, { keepAlive: false, ...tls }) : new HttpProxyAgent(proxy, { keepAlive: false });
      }
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** A request's options: the proxy's agent, the CA, the body's length, and the host's certificate check. */
  private options(url: URL, method: string, headers: Readonly<Record<string, string>> | undefined, length: number | undefined): https.RequestOptions {
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    return {
      method,
      agent: this.agentFor(url),
      headers: { ...headers, ...(length !== undefined ? { 'content-length': String(length) } : {}) },
      ...(this.ca === undefined ? {} : { ca: this.ca }),
      // Through a proxy tunnel the TLS layer is not told the host (and an IP gets no SNI): check the certificate against it here.
      ...(url.protocol === 'https:' ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(hostname, cert) } : {}),
    };
  }

  request(request: HttpRequest): Promise<HttpResponse> {
    const { url } = request;
    const body = request.body === undefined ? undefined : typeof request.body === 'string' ? Buffer.from(request.body) : request.body;
    const module = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = module.request(url, this.options(url, request.method, request.headers, body?.length), (res) => {
        // Now: once the body has been read, a keep-alive socket goes back to its pool and res.socket is gone.
        const certificateChain = url.protocol === 'https:' ? peerChain(res.socket) : undefined;
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new HttpError(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          parts.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          const headers: Record<string, string | undefined> = {};
          for (const [name, value] of Object.entries(res.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(parts), certificateChain });
        });
        res.on('error', fail);
      });
      const timer = setTimeout(() => req.destroy(new HttpError(`no answer within ${request.timeoutMs / 1000} s`)), request.timeoutMs);
      function fail(error: Error): void {
        clearTimeout(timer);
        reject(error instanceof HttpError ? error : new HttpError(describeNetworkError(error)));
      }
      req.on('error', fail);
      req.end(body);
    });
  }

  /**
   * One request whose body streams both ways, nothing held whole: redirects
   * are not followed (the caller decides where credentials may go).
   */
  stream(request: StreamRequest): Promise<StreamResponse> {
    const { url, body } = request;
    const module = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      let settled = false;
      let response: http.IncomingMessage | undefined;
      const req = module.request(url, this.options(url, request.method, request.headers, body?.length), (res) => {
        settled = true;
        response = res;
        const headers: Record<string, string | undefined> = {};
        for (const [name, value] of Object.entries(res.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        const status = res.statusCode ?? 0;
        // A stall while the body is read fails the body's stream, as it fails the request before.
        res.on('error', () => undefined);
        resolve({ status, statusText: `${status} ${res.statusMessage || (http.STATUS_CODES[status] ?? '')}`.trim(), headers, body: res });
      });
      req.setTimeout(request.idleTimeoutMs, () => req.destroy(new HttpError(`no data for ${request.idleTimeoutMs / 1000} s`)));
      const abort = (): void => {
        req.destroy(new HttpError('canceled'));
        response?.destroy(new HttpError('canceled'));
      };
      if (request.signal?.aborted) abort();
      request.signal?.addEventListener('abort', abort, { once: true });
      req.on('close', () => request.signal?.removeEventListener('abort', abort));
      req.on('error', (error: Error) => {
        if (settled) return;
        settled = true;
        source?.destroy();
        reject(error instanceof HttpError ? error : new HttpError(describeNetworkError(error), { cause: error }));
      });
      const source = body?.open();
      if (source === undefined) {
        req.end();
        return;
      }
      source.on('error', (error: Error) => req.destroy(new HttpError(`reading the request body: ${error.message}`, { cause: error })));
      const nudge = new GarbageNudge();
      source.on('data', (chunk: Buffer) => nudge.add(chunk.length));
      source.pipe(req);
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** The chain a TLS socket verified, as PEM certificates (GitLab Runner's CI_SERVER_TLS_CA_FILE when no CA file is configured). */
function peerChain(socket: unknown): string | undefined {
  const tls = socket as { getPeerCertificate?: (detailed: boolean) => DetailedCertificate | undefined } | null;
  if (typeof tls?.getPeerCertificate !== 'function') return undefined;
  let certificate: DetailedCertificate | undefined;
  try {
    certificate = tls.getPeerCertificate(true);
  } catch {
    return undefined;
  }
  const pems: string[] = [];
  const seen = new Set<string>();
  for (let current = certificate; current?.raw !== undefined && current.raw.length > 0; current = current.issuerCertificate) {
    const base64 = Buffer.from(current.raw).toString('base64');
    if (seen.has(base64)) break; // a root certificate is its own issuer
    seen.add(base64);
    pems.push(`-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----`);
  }
  return pems.length > 0 ? `${pems.join('\n')}\n` : undefined;
}

interface DetailedCertificate {
  readonly raw?: Uint8Array;
  readonly issuerCertificate?: DetailedCertificate;
}

/** A network error in one line, without the URL (it could carry credentials). */
function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message.split('\n')[0]}` : error.message.split('\n')[0] ?? 'network error';
}
