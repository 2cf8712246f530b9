// Closed-loop GET /metrics load for the profiler-overhead bench.
//
// `clients` workers each send one GET /metrics, read the whole answer, and send the next one at
// once, over a keep-alive node:http Agent limited to `clients` sockets, so after the first
// request every scrape reuses an open connection (the number of connections opened is counted as
// a check). The counters are read while the load runs (snapshot()), so the bench can discard a
// warm-up and measure the following window without a gap in the load.

import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { WAIT_TIMEOUT_MS } from './processes.ts';

/** Bound on one scrape; a runner that stops answering cannot stall a worker longer than this. */
const SCRAPE_TIMEOUT_MS = 5_000;
/** Pause after a failed scrape, so a dead runner does not turn the workers into a busy loop. */
const ERROR_BACKOFF_MS = 20;

export interface LoadSnapshot {
  /** Completed 200 answers with their body fully read. */
  readonly ok: number;
  readonly errors: number;
  readonly bytes: number;
  readonly connections: number;
}

export class ClosedLoopLoad {
  private readonly agent: Agent;
  private readonly seenSockets = new WeakSet<Socket>();
  private stopped = false;
  private workers: Promise<void>[] = [];
  private ok = 0;
  private errors = 0;
  private bytes = 0;
  private connections = 0;
  /** The first error, for the report. */
  firstError: string | undefined;

  constructor(private readonly url: URL, private readonly clients: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets: clients, maxFreeSockets: clients });
  }

  start(): void {
    for (let i = 0; i < this.clients; i++) this.workers.push(this.worker());
  }

  snapshot(): LoadSnapshot {
    return { ok: this.ok, errors: this.errors, bytes: this.bytes, connections: this.connections };
  }

  /** Lets the in-flight scrapes finish (bounded), then closes every connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(this.workers),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, WAIT_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    this.agent.destroy();
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      try {
        this.bytes += await this.scrape();
        this.ok++;
      } catch (err) {
        this.errors++;
        this.firstError ??= err instanceof Error ? err.message : String(err);
        await new Promise((resolve) => setTimeout(resolve, ERROR_BACKOFF_MS));
      }
    }
  }

  /** One GET /metrics; resolves with the body size once the whole body is read. */
  private scrape(): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(this.url, { method: 'GET', agent: this.agent }, (res) => {
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
        });
        res.on('end', () => {
          if (res.statusCode === 200 && size > 0) resolve(size);
          else reject(new Error(`GET ${this.url.pathname} answered HTTP ${String(res.statusCode)} with ${size} bytes`));
        });
        res.on('error', reject);
      });
      req.on('socket', (socket: Socket) => {
        if (!this.seenSockets.has(socket)) {
          this.seenSockets.add(socket);
          this.connections++;
        }
      });
      req.setTimeout(SCRAPE_TIMEOUT_MS, () => req.destroy(new Error(`GET ${this.url.pathname}: no answer within ${SCRAPE_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
}
