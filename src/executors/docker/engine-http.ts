// The Docker Engine API's wire: where the daemon listens (DOCKER_HOST), one
// request over node:http - the HTTP client with unix sockets (`socketPath`)
// on Node, Bun and Deno alike - with a deadline, an abort signal and errors
// that say which call failed and what the daemon answered, and readers for
// the daemon's JSON that never trust its shape.
import { Buffer } from 'node:buffer';
import http from 'node:http';
import type { DockerEndpoint } from './docker-host.ts';

/**
 * Every path is versioned, so that a newer daemon keeps answering as the one
 * this client was written for: 1.41 is Docker 20.10's API, and newer daemons
 * accept it (they support every version down to 1.24 at least).
 */
export const API_VERSION = '1.41';

/** Simple calls answer in milliseconds; a daemon busy with I/O may take seconds. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** An inspect or a list is rarely more than a few hundred KiB; more is refused rather than held. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** What is kept of an error response: the daemon's `{"message": ...}` is one line. */
const MAX_ERROR_BYTES = 64 * 1024;

/**
 * status: the daemon answered with an error status; stream: it reported an error inside a
 * successful stream; network: it could not be reached or the connection broke; timeout, canceled:
 * the call was given up; response: its answer was not what the API describes.
 */
export type DockerErrorKind = 'status' | 'stream' | 'network' | 'timeout' | 'canceled' | 'response';

export class DockerApiError extends Error {
  /** The HTTP status, when the daemon answered. */
  readonly status: number | undefined;
  /** The daemon's own `message`, when it gave one. */
  readonly daemonMessage: string | undefined;
  readonly kind: DockerErrorKind;

  constructor(message: string, details: { kind: DockerErrorKind; status?: number; daemonMessage?: string }, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DockerApiError';
    this.kind = details.kind;
    this.status = details.status;
    this.daemonMessage = details.daemonMessage;
  }
}

export type QueryValue = string | number | boolean | undefined;

export interface WireRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The path without the version prefix, its variable parts already encoded. */
  readonly path: string;
  readonly query?: Readonly<Record<string, QueryValue>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Statuses besides 2xx that are answers, not errors (404 for an inspect, 304 for a start). */
  readonly accept?: readonly number[];
  /** Said before the request in error messages: what the call was for (`pull alpine:3`). */
  readonly context?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface ConsumedStream {
  readonly done: Promise<void>;
  stop(): void;
}

export interface WireResponse {
  readonly status: number;
  readonly body: Buffer;
}

/**
 * Deno's node:http resends a request that was destroyed on a reused keep-alive connection, so a
 * canceled or timed-out POST /containers/create would run twice (denoland/deno#36786, open in Deno
 * 2.9.6; checked here): on Deno every call gets a connection of its own.
 */
const REUSE_CONNECTIONS = !('Deno' in globalThis);

/** The connections to one daemon: a keep-alive pool for calls, plain connections for streams the daemon takes over. */
export class DockerWire {
  private readonly pooled = new http.Agent({ keepAlive: REUSE_CONNECTIONS });
  /** An attach's connection is hijacked by the daemon and never reusable: it gets its own, never pooled. */
  private readonly unpooled = new http.Agent({ keepAlive: false });

  constructor(readonly endpoint: DockerEndpoint) {}

  /** One call whose whole answer, read into memory (at most 16 MiB), arrives within `timeoutMs`. */
  async call(request: WireRequest, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<WireResponse> {
    const exchange = this.start(request, this.pooled);
    const timer = setTimeout(() => exchange.fail(this.error(request, 'timeout', `no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    try {
      const response = await exchange.response;
      return {
        status: response.statusCode ?? 0,
        body: await readBody(response, MAX_RESPONSE_BYTES, () => this.error(request, 'response', 'answer too large')),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A call whose answer is a stream: resolves once the response's headers have arrived (within
   * `headersTimeoutMs`) with its body not read yet; the caller reads it to its end or destroys it.
   * No deadline applies to the body: it ends when the daemon ends it, or the signal aborts it.
   */
  async open(request: WireRequest, options: { readonly hijacked?: boolean; readonly headersTimeoutMs?: number } = {}): Promise<http.IncomingMessage> {
    const exchange = this.start(request, options.hijacked ? this.unpooled : this.pooled);
    const timeoutMs = options.headersTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timer = setTimeout(() => exchange.fail(this.error(request, 'timeout', `no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    try {
      return await exchange.response;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads a streamed answer chunk by chunk (nothing is kept here). `done` resolves when the daemon
   * ends the stream (and `onEnd` accepts the end) or `stop()` ends it; it rejects with what
   * `onChunk` or `onEnd` threw, with the signal's cancel, or when the connection breaks.
   */
  consume(request: WireRequest, response: http.IncomingMessage, onChunk: (chunk: Buffer) => void, onEnd: () => void = () => undefined): ConsumedStream {
    let stopped = false;
    let ended = false;
    let thrown: { error: unknown } | undefined;
    let broken: Error | undefined;
    const done = new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => {
        if (thrown !== undefined || stopped) return;
        try {
          onChunk(chunk);
        } catch (error) {
          thrown = { error };
          response.destroy();
        }
      });
      response.on('end', () => {
        ended = true;
        if (thrown !== undefined) return;
        try {
          onEnd();
          resolve();
        } catch (error) {
          reject(error);
        }
      });
      response.on('error', (error: Error) => {
        broken = error;
      });
      // 'close' comes last whatever happened: the one place that decides how a stream that did not end ended.
      response.on('close', () => {
        if (thrown !== undefined) reject(thrown.error);
        else if (ended) return;
        else if (stopped) resolve();
        else if (broken instanceof DockerApiError) reject(broken);
        else reject(this.networkError(request, broken ?? new Error('the connection closed before the stream ended')));
      });
    });
    return {
      done,
      stop: () => {
        stopped = true;
        response.destroy();
      },
    };
  }

  /** An error about `request`, in the client's words: `docker: POST /containers/create: ...`. */
  error(request: WireRequest, kind: DockerErrorKind, text: string, details: { status?: number; daemonMessage?: string; cause?: unknown } = {}): DockerApiError {
    const context = request.context === undefined ? '' : `${request.context}: `;
    const message = `docker: ${context}${request.method} ${request.path}: ${text.replace(/\s*\n\s*/g, ' ')}`;
    const { cause, ...rest } = details;
    return new DockerApiError(message, { kind, ...rest }, cause === undefined ? undefined : { cause });
  }

  /** Ends every connection, the streams' included. */
  close(): void {
    this.pooled.destroy();
    this.unpooled.destroy();
  }

  /**
   * Sends the request. `response` resolves with an accepted answer (its body unread) or rejects with
   * the daemon's error; `fail` gives the request up with an error, before or after the answer came.
   */
  private start(request: WireRequest, agent: http.Agent): { response: Promise<http.IncomingMessage>; fail(error: DockerApiError): void } {
    const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    const target = 'socketPath' in this.endpoint ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.hostname, port: this.endpoint.port };
    let req: http.ClientRequest | undefined;
    let res: http.IncomingMessage | undefined;
    const fail = (error: DockerApiError): void => {
      req?.destroy(error);
      res?.destroy(error);
    };
    const abort = (): void => fail(this.error(request, 'canceled', 'canceled', { cause: request.signal?.reason }));
    const response = new Promise<http.IncomingMessage>((resolve, reject) => {
      if (request.signal?.aborted) {
        reject(this.error(request, 'canceled', 'canceled', { cause: request.signal.reason }));
        return;
      }
      req = http.request(
        {
          ...target,
          agent,
          method: request.method,
          path: `/v${API_VERSION}${request.path}${queryString(request.query)}`,
          headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(body.length) },
        },
        (answer) => {
          res = answer;
          answer.once('close', () => request.signal?.removeEventListener('abort', abort));
          const status = answer.statusCode ?? 0;
          if ((status >= 200 && status < 300) || request.accept?.includes(status)) {
            resolve(answer);
            return;
          }
          readBody(answer, MAX_ERROR_BYTES, undefined).then(
            (text) => reject(this.statusError(request, status, text)),
            (error: unknown) => reject(error instanceof DockerApiError ? error : this.statusError(request, status, Buffer.alloc(0))),
          );
        },
      );
      req.on('error', (error: Error) => {
        request.signal?.removeEventListener('abort', abort);
        reject(error instanceof DockerApiError ? error : this.networkError(request, error));
      });
      request.signal?.addEventListener('abort', abort, { once: true });
      req.end(body);
    });
    return { response, fail };
  }

  /** The daemon's error answer: `409 Conflict. The container name ... is already in use ...`. */
  statusError(request: WireRequest, status: number, body: Buffer): DockerApiError {
    const text = body.toString('utf8').trim();
    let daemonMessage = text;
    try {
      const message = asRecord(JSON.parse(text))['message'];
      if (typeof message === 'string') daemonMessage = message;
    } catch {
      // Not JSON (a proxy's page, a plain-text 404): the text itself is the best message there is.
    }
    const reason = http.STATUS_CODES[status] ?? '';
    const statusText = `${status} ${reason}`.trim();
    // Some of the daemon's messages repeat the status ("Conflict. The container name ..."): said once.
    const said = reason !== '' && daemonMessage.startsWith(`${reason}. `) ? daemonMessage.slice(reason.length + 2) : daemonMessage;
    return this.error(request, 'status', said === '' ? statusText : `${statusText}. ${said}`, { status, daemonMessage });
  }

  /** A broken connection, or a failure to make one. */
  networkError(request: WireRequest, error: Error): DockerApiError {
    const code = (error as NodeJS.ErrnoException).code;
    const line = error.message.split('\n')[0] ?? 'network error';
    return this.error(request, 'network', `cannot talk to the daemon at ${this.endpoint.host}: ${code && !line.includes(code) ? `${code}: ` : ''}${line}`, {
      cause: error,
    });
  }
}

/** The query string: `undefined` values left out, booleans as 1/0 as the daemon reads them. */
function queryString(query: Readonly<Record<string, QueryValue>> | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(name, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** Reads a response's body whole; past `max` bytes, fails with `tooLarge()`, or keeps only the first `max` bytes when it is undefined. */
function readBody(response: http.IncomingMessage, max: number, tooLarge: (() => DockerApiError) | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      if (size >= max) {
        if (tooLarge !== undefined) response.destroy(tooLarge());
        return;
      }
      parts.push(chunk);
      size += chunk.length;
    });
    response.on('end', () => resolve(Buffer.concat(parts).subarray(0, max)));
    response.on('error', reject);
  });
}

/** Calls `onLine` with each line of a JSON-lines stream (the pull's progress), holding at most one line of at most 1 MiB. */
export class LineSplitter {
  private static readonly MAX_LINE = 1024 * 1024;
  private pending: Buffer[] = [];
  private pendingSize = 0;

  /** `tooLong` makes the error thrown for a line longer than 1 MiB: that is no progress stream. */
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly tooLong: (max: number) => Error,
  ) {}

  write(chunk: Buffer): void {
    let from = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, from)) {
      this.keep(chunk.subarray(from, newline));
      const line = Buffer.concat(this.pending).toString('utf8');
      this.pending = [];
      this.pendingSize = 0;
      from = newline + 1;
      if (line.trim() !== '') this.onLine(line);
    }
    if (from < chunk.length) this.keep(chunk.subarray(from));
  }

  /** The last line, if the stream did not end with a newline. */
  end(): void {
    const line = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    if (line.trim() !== '') this.onLine(line);
  }

  private keep(part: Buffer): void {
    this.pendingSize += part.length;
    if (this.pendingSize > LineSplitter.MAX_LINE) throw this.tooLong(LineSplitter.MAX_LINE);
    // A copy: the chunk's memory is the stream's, reused or freed once the handler returns.
    this.pending.push(Buffer.from(part));
  }
}

// Readers for the daemon's JSON: a missing or mistyped field reads as empty rather than throwing,
// so that a daemon adding, dropping or nulling a field cannot break a job.

export function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function asNumber(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

export function asBoolean(value: unknown): boolean {
  return value === true;
}

/** An array of strings, its other items dropped; null when it is no array (Docker's "not set"). */
export function asStringArray(value: unknown): string[] | null {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : null;
}

/** An object's string values (labels), others dropped. */
export function asStringRecord(value: unknown): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, item] of Object.entries(asRecord(value))) if (typeof item === 'string') result[key] = item;
  return result;
}

/** Parses an answer's JSON body; a body that is not JSON is the daemon's fault, said as such. */
export function parseJson(wire: DockerWire, request: WireRequest, body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw wire.error(request, 'response', `the answer is not JSON: ${JSON.stringify(body.subarray(0, 80).toString('utf8'))}`, { cause: error });
  }
}
