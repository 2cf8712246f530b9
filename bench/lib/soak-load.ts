// The soak bench's load on one runner: scrapes of /metrics at a fixed rate (with /debug/jobs/list
// now and then) and trivial jobs written into its local queue at a fixed interval.
//
// Both keep to their schedule from the time they started (tick n is due at start + n x period)
// rather than waiting a period after each request, so a slow answer does not lower the rate.
// A scrape tick that finds MAX_IN_FLIGHT scrapes still unanswered is skipped and counted: the
// runner not keeping up shows as skips, not as a pile of requests. Ticks that fell behind by
// more than a period (this process starved of CPU) are skipped the same way rather than sent in
// a burst.

import { Agent, request } from 'node:http';
import { enqueue } from '../../src/sources/local/queue.ts';
import { TRIVIAL_JOB_TOML } from './jobs-payload.ts';

const MAX_IN_FLIGHT = 4;
const REQUEST_TIMEOUT_MS = 10_000;

/** Runs `tick` every `periodMs` on the schedule start + n x period until stopped; ticks already a period late are passed to `late`. */
class Schedule {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private n = 0;
  private readonly start = performance.now();

  constructor(private readonly periodMs: number, private readonly tick: () => void, private readonly late: () => void) {
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    const due = this.start + ++this.n * this.periodMs;
    this.timer = setTimeout(() => {
      for (; performance.now() - (this.start + this.n * this.periodMs) > this.periodMs; this.n++) this.late();
      this.tick();
      this.arm();
    }, Math.max(0, due - performance.now()));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** Counts of one kind of request. */
export interface RequestCounts {
  ok: number;
  failed: number;
  skipped: number;
  /** The first failure, to print. */
  firstError: string | undefined;
}

const counts = (): RequestCounts => ({ ok: 0, failed: 0, skipped: 0, firstError: undefined });

/**
 * GET /metrics `perSecond` times a second on keep-alive connections, as Prometheus scrapes,
 * except every FRESH_EVERY-th on a connection of its own (so connection set-up and teardown are
 * part of the load too), and GET /debug/jobs/list every `listEverySeconds` on a fresh connection.
 * Bodies are read to the end and dropped.
 */
export class Scrapes {
  static readonly FRESH_EVERY = 10;
  readonly metrics = counts();
  readonly lists = counts();
  /** Milliseconds per /metrics answer since the last resetLatencies(). */
  latencies: number[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  private inFlight = 0;
  private sent = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly schedules: Schedule[];

  constructor(private readonly url: string, perSecond: number, listEverySeconds: number) {
    this.schedules = [
      new Schedule(1000 / perSecond, () => this.scrape(), () => this.metrics.skipped++),
      new Schedule(listEverySeconds * 1000, () => this.track(this.get('/debug/jobs/list', false, this.lists)), () => this.lists.skipped++),
    ];
  }

  resetLatencies(): void {
    this.latencies = [];
  }

  private scrape(): void {
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.metrics.skipped++;
      return;
    }
    const started = performance.now();
    this.inFlight++;
    const fresh = ++this.sent % Scrapes.FRESH_EVERY === 0;
    this.track(
      this.get('/metrics', !fresh, this.metrics, () => this.latencies.push(performance.now() - started)).finally(() => this.inFlight--),
    );
  }

  private track(done: Promise<void>): void {
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }

  private get(path: string, keepAlive: boolean, into: RequestCounts, onOk?: () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const fail = (message: string): void => {
        into.failed++;
        into.firstError ??= `GET ${path}: ${message}`;
        resolve();
      };
      const req = request(`${this.url}${path}`, keepAlive ? { agent: this.agent } : { agent: false, headers: { connection: 'close' } }, (res) => {
        res.resume();
        res.on('error', (error) => fail(error.message));
        res.on('end', () => {
          if (res.statusCode === 200) {
            into.ok++;
            onOk?.();
            resolve();
          } else fail(`HTTP ${res.statusCode}`);
        });
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', (error) => fail(error.message));
      req.end();
    });
  }

  /** Stops sending and waits for the answers still due. */
  async stop(): Promise<void> {
    for (const schedule of this.schedules) schedule.stop();
    await Promise.all([...this.pending]);
    this.agent.destroy();
  }
}

/** A trivial job (`script = ["true"]`) written into the queue every `everyMs`, as `runner submit` writes it (enqueue()). */
export class JobFeed {
  readonly ids: string[] = [];
  readonly counts = counts();
  private busy = false;
  private readonly schedule: Schedule;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly queueDir: string, everyMs: number) {
    this.schedule = new Schedule(everyMs, () => this.submit(), () => this.counts.skipped++);
  }

  private submit(): void {
    // One write at a time: a slow disk shows as skipped submissions, not as writes piling up.
    if (this.busy) {
      this.counts.skipped++;
      return;
    }
    this.busy = true;
    this.writing = enqueue(this.queueDir, TRIVIAL_JOB_TOML, `soak job ${this.ids.length}`).then(
      ({ id }) => {
        this.ids.push(id);
        this.counts.ok++;
      },
      (error: unknown) => {
        this.counts.failed++;
        this.counts.firstError ??= error instanceof Error ? error.message : String(error);
      },
    ).finally(() => {
      this.busy = false;
    });
  }

  async stop(): Promise<void> {
    this.schedule.stop();
    await this.writing;
  }
}
