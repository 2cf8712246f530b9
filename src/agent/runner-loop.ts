// The polling loop of one [[runners]] entry: asks its source for jobs every
// check_interval (at once again after a job arrived), with up to
// request_concurrency requests in flight, each only when a job slot is free,
// and backs off - exponentially, jittered, capped - while the source fails.
import type { RunnerConfig } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { sleep } from '../system/sleep.ts';
import { type JobSource, SourceError, type SourceJob } from '../job/source.ts';

/** Longest pause between requests to a failing source. */
export const MAX_BACKOFF_MS = 60_000;

/** What a loop needs from the agent: job slots, and where its jobs go. */
export interface SlotKeeper {
  /** Takes a slot for a request if `concurrent` and the runner's `limit` allow one now. */
  reserve(runner: RunnerConfig): boolean;
  /** Gives back a slot taken for a request that brought no job. */
  release(runner: RunnerConfig): void;
  /** Runs a job in the slot reserved for its request; the slot is free again when the job ends. */
  run(runner: RunnerConfig, job: SourceJob): void;
  /**
   * Resolves after `ms`, or earlier: for `slot` when a slot may have become
   * free, for `poll` when a job ended or the configuration was reloaded (a
   * reason to ask for a job at once).
   */
  waitForChange(ms: number, signal: AbortSignal, reason: 'slot' | 'poll'): Promise<void>;
}

/** Exponential backoff from the check interval, doubled per failure, capped, with +-20 % jitter. */
export function backoffMs(intervalMs: number, failures: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, Math.max(intervalMs, 1000) * 2 ** Math.min(failures - 1, 16));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class RunnerLoop {
  private readonly stopper = new AbortController();
  private readonly workers: Promise<void>[] = [];
  private inFlight = 0;
  private liveWorkers = 0;
  private failures = 0;
  private pausedUntil = 0;
  private disabled = false;

  constructor(
    private runnerConfig: RunnerConfig,
    private checkIntervalMs: number,
    readonly source: JobSource,
    private readonly slots: SlotKeeper,
    private readonly logger: Logger,
  ) {}

  get runner(): RunnerConfig {
    return this.runnerConfig;
  }

  /** Requests for jobs in flight now (ci_runner_request_concurrency). */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Whether the loop still asks for jobs: not stopped, and its source did not refuse it for good (a rejected token). */
  get takingJobs(): boolean {
    return !this.disabled && !this.stopper.signal.aborted;
  }

  /** New settings of the same runner (SIGHUP): used from the next request; request_concurrency adds or retires workers. */
  update(runner: RunnerConfig, checkIntervalMs: number): void {
    this.runnerConfig = runner;
    this.checkIntervalMs = checkIntervalMs;
    if (!this.stopper.signal.aborted) this.startWorkers(0);
  }

  /** Starts polling after `offsetMs` (to spread runners across the interval). */
  start(offsetMs: number): void {
    this.startWorkers(offsetMs);
  }

  /** One worker per allowed request in flight; a worker whose index is no longer allowed ends after its request. */
  private startWorkers(offsetMs: number): void {
    for (let index = this.liveWorkers; index < this.runnerConfig.requestConcurrency; index++) {
      this.liveWorkers++;
      const worker = this.work(index, offsetMs).finally(() => {
        this.liveWorkers--;
      });
      this.workers.push(worker);
    }
  }

  /** Stops polling; resolves when no request is in flight. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await Promise.all(this.workers);
  }

  private async work(index: number, offsetMs: number): Promise<void> {
    const signal = this.stopper.signal;
    if (offsetMs > 0) await sleep(offsetMs, signal);
    while (!signal.aborted && !this.disabled && index < this.runnerConfig.requestConcurrency) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) {
        await sleep(wait, signal);
        continue;
      }
      await this.maintain();
      if (!this.slots.reserve(this.runnerConfig)) {
        await this.slots.waitForChange(this.checkIntervalMs, signal, 'slot');
        continue;
      }
      const job = await this.requestOne();
      if (job) {
        this.slots.run(this.runnerConfig, job);
        continue;
      }
      this.slots.release(this.runnerConfig);
      if (this.pausedUntil <= Date.now()) await this.slots.waitForChange(this.checkIntervalMs, signal, 'poll');
    }
  }

  private async maintain(): Promise<void> {
    try {
      await this.source.maintain?.();
    } catch (error) {
      this.logger.warn('Job source housekeeping failed', { runner: this.runnerConfig.name, error: error instanceof Error ? error.message : String(error) });
    }
  }

  private async requestOne(): Promise<SourceJob | undefined> {
    this.inFlight++;
    try {
      const job = await this.source.request();
      if (this.failures > 0) this.logger.info('Requests for jobs work again', { runner: this.runnerConfig.name, failed_requests: this.failures });
      this.failures = 0;
      return job;
    } catch (error) {
      this.onFailure(error);
      return undefined;
    } finally {
      this.inFlight--;
    }
  }

  private onFailure(error: unknown): void {
    const text = error instanceof Error ? error.message : String(error);
    if (error instanceof SourceError && error.fatal) {
      if (!this.disabled) this.logger.error('Runner stops asking for jobs', { runner: this.runnerConfig.name, error: text });
      this.disabled = true;
      return;
    }
    this.failures++;
    const pause = Math.max(backoffMs(this.checkIntervalMs, this.failures), error instanceof SourceError ? error.retryAfterMs ?? 0 : 0);
    this.pausedUntil = Date.now() + Math.min(pause, MAX_BACKOFF_MS * 5);
    // The first failure and then every 10th: a long outage must not flood the log.
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.logger.warn('Requesting a job failed', {
        runner: this.runnerConfig.name,
        error: text,
        failed_requests: this.failures,
        retry_in_s: (pause / 1000).toFixed(1),
      });
    }
  }
}
