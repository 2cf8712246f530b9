// The agent owns the runner's state: its configuration, its lifecycle and the
// jobs it runs. Each [[runners]] entry has a polling loop over its source
// (runner-loop.ts); the agent hands out job slots within `concurrent` and each
// runner's `limit`, runs each job through the build sequence on the runner's
// executor (job-runner.ts), and keeps the live job list that telemetry and the
// debug routes read through RunnerStatus. Sources and executors come from the
// factories it is given: it knows neither kind, and never signals a process.
import type { Config, RunnerConfig } from '../config/types.ts';
import type { JobSlot } from '../build/build.ts';
import type { ExecutorFactory } from '../job/executor.ts';
import type { JobTraceHandle, JobTracer } from '../job/job-trace.ts';
import { systemFailureResult } from '../job/result.ts';
import type { SourceFactory, SourceJob } from '../job/source.ts';
import type { AgentState, FinishedJob, JobView, RunnerStatus, StartedJob } from '../job/status.ts';
import type { Fields, Logger } from '../log/logger.ts';
import type { TransferRecord } from '../job/transfer.ts';
import { runSourceJob } from './job-runner.ts';
import { RunnerLoop, type SlotKeeper } from './runner-loop.ts';

export interface AgentParts {
  readonly logger: Logger;
  /** Makes each runner's job source. */
  readonly sources: SourceFactory;
  /** Makes each runner's executor. */
  readonly executors: ExecutorFactory;
  /** Starts each job's trace; undefined: jobs are not traced. */
  readonly tracer?: JobTracer | undefined;
  /** Told of every job as it starts (the queue-time metrics). */
  readonly onJobStarted?: (job: StartedJob) => void;
  /** Told of every job that ends (the job metrics). */
  readonly onJobFinished?: (job: FinishedJob) => void;
  /** Told of every configuration reload that failed (the CI/CD system-error metric). */
  readonly onConfigurationFailed?: () => void;
  /** GitLab's system_id of this runner process (its job logs' header shows it). */
  readonly systemId: string;
}

interface RunningJob {
  view: JobView;
  readonly source: SourceJob;
  readonly cancel: AbortController;
  readonly force: AbortController;
  readonly kill: AbortController;
  readonly slot: JobSlot;
  readonly projectId: number | undefined;
  readonly done: Promise<void>;
}

export class Agent implements RunnerStatus, SlotKeeper {
  private currentState: AgentState = 'starting';
  private readonly jobs = new Map<number, RunningJob>();
  private nextJobKey = 0;
  /** Slots taken by requests in flight, in total and per runner name. */
  private reservedTotal = 0;
  private readonly reserved = new Map<string, number>();
  private readonly loops = new Map<string, { key: string; loop: RunnerLoop }>();
  private readonly retired = new Set<Promise<void>>();
  private readonly waiters = { slot: new Set<() => void>(), poll: new Set<() => void>() };
  private stopMode: 'graceful' | 'cancel' | undefined;
  private loads = 1;
  private loadErrors = 0;
  private lastLoadSucceeded = true;

  private readonly logger: Logger;
  private readonly sources: SourceFactory;
  private readonly executors: ExecutorFactory;
  private readonly onJobFinished: (job: FinishedJob) => void;
  private readonly onJobStarted: (job: StartedJob) => void;
  private readonly onConfigurationFailed: () => void;
  private readonly systemId: string;
  private readonly tracer: JobTracer | undefined;

  constructor(private currentConfig: Config, parts: AgentParts) {
    this.tracer = parts.tracer;
    this.logger = parts.logger;
    this.sources = parts.sources;
    this.executors = parts.executors;
    this.onJobFinished = parts.onJobFinished ?? (() => undefined);
    this.onJobStarted = parts.onJobStarted ?? (() => undefined);
    this.onConfigurationFailed = parts.onConfigurationFailed ?? (() => undefined);
    this.systemId = parts.systemId;
  }

  /** GitLab's CI_CONCURRENT_ID and CI_CONCURRENT_PROJECT_ID: the lowest numbers no other running job of the runner (and project) holds. */
  private slotFor(runner: string, projectId: number | undefined): JobSlot {
    const mine = [...this.jobs.values()].filter((job) => job.view.runner === runner);
    const lowestFree = (used: readonly number[]): number => {
      let id = 0;
      while (used.includes(id)) id++;
      return id;
    };
    return {
      concurrentId: lowestFree(mine.map((job) => job.slot.concurrentId)),
      concurrentProjectId: lowestFree(mine.filter((job) => job.projectId === projectId).map((job) => job.slot.concurrentProjectId)),
    };
  }

  get config(): Config {
    return this.currentConfig;
  }

  get state(): AgentState {
    return this.currentState;
  }

  isReady(): boolean {
    return this.currentState === 'running';
  }

  get configurationLoads(): number {
    return this.loads;
  }

  get lastConfigurationLoadSucceeded(): boolean {
    return this.lastLoadSucceeded;
  }

  get configurationLoadErrors(): number {
    return this.loadErrors;
  }

  runningJobs(): readonly JobView[] {
    return [...this.jobs.values()].map((job) => job.view);
  }

  requestsInFlight(): ReadonlyMap<string, number> {
    return new Map([...this.loops.values()].map(({ loop }) => [loop.runner.name, loop.requestsInFlight]));
  }

  runnersTakingJobs(): ReadonlySet<string> {
    if (this.currentState !== 'running') return new Set();
    return new Set([...this.loops.values()].filter(({ loop }) => loop.takingJobs).map(({ loop }) => loop.runner.name));
  }

  pendingJobs(): ReadonlyMap<string, number> {
    const pending = new Map<string, number>();
    for (const { loop } of this.loops.values()) {
      const count = loop.source.pendingJobs?.();
      if (count !== undefined) pending.set(loop.runner.name, count);
    }
    return pending;
  }

  start(): void {
    if (this.currentState !== 'starting') throw new Error(`agent cannot start from state ${this.currentState}`);
    this.currentState = 'running';
    this.applyRunners();
  }

  /** New settings (SIGHUP): concurrent, limits and runners apply from the next request; running jobs go on. */
  reload(config: Config): void {
    this.currentConfig = config;
    this.loads++;
    this.lastLoadSucceeded = true;
    if (this.currentState === 'running') this.applyRunners();
    this.notify();
  }

  configurationFailed(): void {
    this.loadErrors++;
    this.lastLoadSucceeded = false;
    this.onConfigurationFailed();
  }

  /** Cancels every running job (after_script still runs), and any job a request in flight still brings. */
  cancelAll(): void {
    this.stopMode = 'cancel';
    for (const job of this.jobs.values()) job.cancel.abort();
  }

  /**
   * Stops every running job now, after_script included (a second stop
   * signal, or shutdown_timeout), and has the executors end what runs at
   * once: the process is about to exit and cannot wait for a grace period.
   */
  forceStop(): void {
    for (const job of this.jobs.values()) {
      job.cancel.abort();
      job.force.abort();
      job.kill.abort();
    }
  }

  /** Before the process exits with jobs still running: a last, quick word to their sources. */
  async abandonAll(timeoutMs: number): Promise<void> {
    await Promise.all([...this.jobs.values()].map((job) => job.source.abandon?.(timeoutMs).catch(() => undefined)));
  }

  /**
   * Stops taking jobs. `graceful`: running jobs finish (SIGQUIT); otherwise
   * they are canceled, after_script still running (SIGINT/SIGTERM).
   */
  async stop(mode: 'graceful' | 'cancel'): Promise<void> {
    if (this.currentState === 'stopped') return;
    this.currentState = 'stopping';
    this.stopMode = mode;
    this.notify();
    if (mode === 'cancel') this.cancelAll();
    const loops = [...this.loops.values()].map(({ loop }) => loop);
    this.loops.clear();
    await Promise.all(loops.map((loop) => loop.stop()));
    await Promise.all([...this.jobs.values()].map((job) => job.done));
    await Promise.all(this.retired);
    for (const loop of loops) await this.closeSource(loop);
    this.currentState = 'stopped';
  }

  /** Starts loops for new runners, updates kept ones, retires removed ones (their running jobs go on). */
  private applyRunners(): void {
    const { runners, checkInterval } = this.currentConfig;
    const intervalMs = checkInterval * 1000;
    const wanted = new Map(runners.map((runner) => [runner.name, runner]));
    for (const [name, entry] of this.loops) {
      const runner = wanted.get(name);
      if (runner !== undefined && this.sources.key(runner) === entry.key) {
        entry.loop.update(runner, intervalMs);
        continue;
      }
      this.loops.delete(name);
      const retiring = entry.loop.stop().then(() => this.closeSource(entry.loop));
      this.retired.add(retiring);
      void retiring.finally(() => this.retired.delete(retiring));
    }
    runners.forEach((runner, index) => {
      if (this.loops.has(runner.name)) return;
      const loop = new RunnerLoop(runner, intervalMs, this.sources.create(runner, this.executors.create(runner).info), this, this.logger);
      this.loops.set(runner.name, { key: this.sources.key(runner), loop });
      // Spread the runners' requests across the interval, as GitLab Runner does.
      loop.start((intervalMs * index) / runners.length);
    });
  }

  private async closeSource(loop: RunnerLoop): Promise<void> {
    try {
      await loop.source.close();
    } catch (error) {
      this.logger.warn('Closing a job source failed', { runner: loop.runner.name, error: error instanceof Error ? error.message : String(error) });
    }
  }

  // SlotKeeper: a request for a job holds a slot until it brings a job (which keeps it) or none.

  reserve(runner: RunnerConfig): boolean {
    if (this.currentState !== 'running' || this.jobs.size + this.reservedTotal >= this.currentConfig.concurrent) return false;
    const current = this.currentConfig.runners.find((r) => r.name === runner.name) ?? runner;
    if (current.limit !== 0) {
      let used = this.reserved.get(runner.name) ?? 0;
      for (const job of this.jobs.values()) if (job.view.runner === runner.name) used++;
      if (used >= current.limit) return false;
    }
    this.reservedTotal++;
    this.reserved.set(runner.name, (this.reserved.get(runner.name) ?? 0) + 1);
    return true;
  }

  release(runner: RunnerConfig): void {
    this.reservedTotal--;
    this.reserved.set(runner.name, (this.reserved.get(runner.name) ?? 1) - 1);
    // Only loops blocked on a slot: waking the others would make empty polls wake each other in a loop.
    this.notify('slot');
  }

  waitForChange(ms: number, signal: AbortSignal, reason: 'slot' | 'poll'): Promise<void> {
    const waiters = this.waiters[reason];
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Wakes loops waiting for a slot, and with `poll` those waiting for their next request too. */
  private notify(reason: 'slot' | 'poll' = 'poll'): void {
    const waiting = reason === 'poll' ? [...this.waiters.slot, ...this.waiters.poll] : [...this.waiters.slot];
    for (const wake of waiting) wake();
  }

  /** The job's trace; undefined when it is not traced, or when the tracer failed: telemetry never fails a job. */
  private startTrace(runner: RunnerConfig, sourceJob: SourceJob, fields: Fields): JobTraceHandle | undefined {
    try {
      return this.tracer?.startJob({ name: runner.name, systemId: this.systemId }, sourceJob);
    } catch (error) {
      this.logger.warn('The job could not be traced; it runs untraced', { ...fields, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  }

  /** Runs a job in the slot its request reserved. */
  run(runner: RunnerConfig, sourceJob: SourceJob): void {
    this.reservedTotal--;
    this.reserved.set(runner.name, (this.reserved.get(runner.name) ?? 1) - 1);
    const now = Date.now();
    const key = this.nextJobKey++;
    const cancel = new AbortController();
    const force = new AbortController();
    const kill = new AbortController();
    const fields = { job: sourceJob.id, name: sourceJob.name, runner: runner.name };
    // Assigned right below; the hooks only run once the job is under way.
    // deno-lint-ignore prefer-const -- the hooks above its assignment refer to it
    let job: RunningJob;
    this.logger.info('Job started', fields);
    this.onJobStarted({ runner: runner.name, queue: sourceJob.queue, job: sourceJob });
    const trace = this.startTrace(runner, sourceJob, fields);
    const projectId = sourceJob.job.project?.id;
    const slot = this.slotFor(runner.name, projectId);
    const done = runSourceJob(runner, sourceJob, this.executors.create(runner), { systemId: this.systemId, slot }, {
      onStage: (stage) => {
        job.view = { ...job.view, stage, executorStage: stage, stageStartedAt: Date.now() };
      },
      onProcess: (pid) => {
        job.view = { ...job.view, pid };
      },
      cancel,
      force,
      kill,
      trace,
    }).then(
      (result) => {
        trace?.finish(result);
        this.logger.log(result.systemError === undefined ? 'info' : 'warn', 'Job finished', {
          ...fields,
          state: result.state,
          failure_reason: result.failureReason,
          exit_code: result.exitCode,
          duration_s: result.durationSeconds.toFixed(3),
          system_error: result.systemError,
          ...transferLogFields(result.transfers),
        });
        this.onJobFinished({ runner: runner.name, result, span: trace?.jobSpan, job: sourceJob });
      },
      (error: unknown) => {
        trace?.finish(systemFailureResult(error instanceof Error ? error.message : String(error)));
        this.logger.error('Job could not be run', { ...fields, error: error instanceof Error ? error.message : String(error) });
      },
    ).finally(() => {
      this.jobs.delete(key);
      this.notify();
    });
    job = {
      view: {
        id: sourceJob.id,
        name: sourceJob.name,
        runner: runner.name,
        url: sourceJob.url,
        state: 'running',
        stage: 'prepare_executor',
        executorStage: 'prepare_executor',
        startedAt: now,
        stageStartedAt: now,
        pid: undefined,
      },
      source: sourceJob,
      cancel,
      force,
      kill,
      slot,
      projectId,
      done,
    };
    this.jobs.set(key, job);
    // A request answered after a cancel-stop began: the job is ours now, so it is run - as canceled at once.
    if (this.stopMode === 'cancel') cancel.abort();
  }
}

/**
 * The "Job finished" line's summary of what the artifact and cache stages
 * moved: bytes by kind and direction, and the cache restores' outcomes (in
 * order, comma-separated); nothing for a job without transfers, so that the
 * line stays as it was for them.
 */
export function transferLogFields(transfers: readonly TransferRecord[]): Fields {
  if (transfers.length === 0) return {};
  const bytes = (kind: TransferRecord['kind'], direction: TransferRecord['direction']): number | undefined => {
    const matching = transfers.filter((t) => t.kind === kind && t.direction === direction);
    return matching.length === 0 ? undefined : matching.reduce((sum, t) => sum + t.bytes, 0);
  };
  const restores = transfers.filter((t) => t.kind === 'cache' && t.direction === 'download')
    .map((t) => (t.result === 'failure' ? 'failure' : t.cache ?? (t.bytes > 0 ? 'hit' : 'miss')));
  const failed = transfers.filter((t) => t.result === 'failure').length;
  return {
    artifact_upload_bytes: bytes('artifact', 'upload'),
    artifact_download_bytes: bytes('artifact', 'download'),
    cache_upload_bytes: bytes('cache', 'upload'),
    cache_download_bytes: bytes('cache', 'download'),
    cache: restores.length === 0 ? undefined : restores.join(','),
    transfer_failures: failed === 0 ? undefined : failed,
  };
}
