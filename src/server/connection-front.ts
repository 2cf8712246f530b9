// A front between each connection and the runtime's HTTP parser. Node's and
// Deno's node:http parse every request a connection has already sent and
// call the handler for each before they read any other connection: 10
// connections that pipeline 2000 requests each and never read an answer
// kept another client waiting 0.66 s on node and 1.58 s on deno even with a
// handler that only closes them (docs/benchmarks.md, "Pipelined scrapes
// nobody reads"). The front counts the requests in the raw bytes
// (RequestHeadCounter) and closes a connection with more unanswered than
// the limit before the parser gets the batch.
//
// It sits where the server hands a new connection to its HTTP layer (the
// `connection` listener, or `secureConnection` for TLS, where the bytes are
// already decrypted): the runtime's listener is taken off and called with
// the fronted connection instead, so the server keeps its own connection
// tracking, timeouts, close and closeIdleConnections.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { RequestHeadCounter } from './request-heads.ts';

export interface FrontLimits {
  /** Requests a connection may have sent and not had answered; past it, it is closed. */
  readonly maxUnanswered: number;
  /** A head longer than this is left to the parser (which answers 431). */
  readonly maxHeadBytes: number;
}

/**
 * The connection as the HTTP layer sees it: the bytes of `socket` once
 * counted, its answers written through to it, and the socket's addresses
 * and timeout.
 */
export class FrontedSocket extends Duplex {
  private readonly counter: RequestHeadCounter;
  private answered = 0;

  constructor(readonly socket: Socket, private readonly limits: FrontLimits) {
    super({ allowHalfOpen: true });
    this.counter = new RequestHeadCounter(limits.maxHeadBytes);
    socket.on('data', (bytes: Buffer) => this.received(bytes));
    socket.on('end', () => this.push(null));
    socket.on('timeout', () => this.emit('timeout'));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  /** Requests counted and not yet answered. */
  get unanswered(): number {
    return this.counter.heads - this.answered;
  }

  /** An answer to one of its requests is done (or abandoned). */
  answer(): void {
    this.answered++;
  }

  private received(bytes: Buffer): void {
    if (this.destroyed) return;
    this.counter.feed(bytes, this.answered + this.limits.maxUnanswered + 1);
    if (this.unanswered > this.limits.maxUnanswered) {
      // Before the parser sees any of this batch: none of its requests is dispatched.
      this.socket.destroy();
      return;
    }
    if (!this.push(bytes)) this.socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.socket.write(chunk, encoding, done);
  }

  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], done: (error?: Error | null) => void): void {
    this.socket.cork();
    for (let i = 0; i < chunks.length - 1; i++) this.socket.write(chunks[i]!.chunk, chunks[i]!.encoding);
    const last = chunks[chunks.length - 1]!;
    this.socket.write(last.chunk, last.encoding, done);
    this.socket.uncork();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.socket.end(done);
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.socket.destroy();
    done(error);
  }

  setTimeout(ms: number, onTimeout?: () => void): this {
    this.socket.setTimeout(ms);
    if (onTimeout !== undefined) this.once('timeout', onTimeout);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delayMs?: number): this {
    this.socket.setKeepAlive(enable, delayMs);
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.socket.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** True on a TLS connection, as node:http reads it for the request's protocol. */
  get encrypted(): boolean {
    return (this.socket as { encrypted?: boolean }).encrypted === true;
  }
}

/**
 * Puts the front before `server`'s HTTP layer: `event` is where the server
 * hands it a connection (`connection`, or `secureConnection` for HTTPS).
 * Call it right after creating the server, before adding listeners of one's
 * own to that event.
 */
export function installConnectionFront(server: Server, event: 'connection' | 'secureConnection', limits: FrontLimits): void {
  const httpLayer = server.listeners(event) as ((socket: Duplex) => void)[];
  if (httpLayer.length === 0) throw new Error(`the server has no ${event} listener to put the connection front before`);
  server.removeAllListeners(event);
  server.on(event, (socket: Socket) => {
    const fronted = new FrontedSocket(socket, limits);
    for (const listener of httpLayer) listener.call(server, fronted);
  });
  server.on('request', (req, res) => {
    const fronted = req.socket as unknown;
    if (fronted instanceof FrontedSocket) res.once('close', () => fronted.answer());
  });
}
