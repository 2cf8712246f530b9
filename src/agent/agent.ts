// The agent owns the runner's state: its configuration, its lifecycle and the
// jobs it runs. It polls each runner's source, starts jobs within `concurrent`
// and each runner's `limit`, and keeps the live job list that telemetry and
// the debug routes read through AgentView.
import { resolve } from 'node:path';
import type { Config, RunnerConfig } from '../config/types.ts';
import type { JobResult as ExecutorResult } from '../executors/shell.ts';
import { claimNext, leaveQueue, recoverDeadClaims, type ClaimedJob } from '../sources/local/queue.ts';
import type { Logger } from '../log/logger.ts';
import { runLocalJob } from './local-job.ts';

export type AgentState = 'starting' | 'running' | 'stopping' | 'stopped';

/** A running job as the debug job list and the build-state metrics see it. */
export interface JobView {
  readonly id: string;
  readonly name: string;
  readonly runner: string;
  /** The job's address at its coordinator, or its queue file for local jobs. */
  readonly url: string;
  readonly state: string;
  readonly stage: string;
  readonly executorStage: string;
  /** Milliseconds since the Unix epoch. */
  readonly startedAt: number;
  /** When the job entered its current stage, ms since the Unix epoch. */
  readonly stageStartedAt: number;
  readonly pid: number | undefined;
}

/** A finished job, for counters and histograms. */
export interface FinishedJob {
  readonly runner: string;
  readonly result: ExecutorResult;
}

export interface AgentView {
  readonly config: Config;
  readonly state: AgentState;
  /** True once the agent has started and until it begins to stop. */
  isReady(): boolean;
  runningJobs(): readonly JobView[];
  /** Successful configuration loads, the first included. */
  readonly configurationLoads: number;
  readonly configurationLoadErrors: number;
}

interface RunningJob {
  view: JobView;
  readonly cancel: AbortController;
  readonly force: AbortController;
  readonly done: Promise<void>;
}

/** Dead claims are looked for at most this often per queue. */
const RECOVERY_INTERVAL_MS = 10_000;

export class Agent implements AgentView {
  private currentState: AgentState = 'starting';
  private readonly jobs = new Map<string, RunningJob>();
  private wake: () => void = () => undefined;
  private loop: Promise<void> | undefined;
  private readonly lastRecovery = new Map<string, number>();
  private loads = 1;
  private loadErrors = 0;

  constructor(
    private currentConfig: Config,
    private readonly workingDirectory: string,
    private readonly logger: Logger,
    private readonly onJobFinished: (job: FinishedJob) => void = () => undefined,
  ) {}

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

  get configurationLoadErrors(): number {
    return this.loadErrors;
  }

  /** New settings (SIGHUP): concurrent, limits and runners apply from the next poll; running jobs go on. */
  reload(config: Config): void {
    this.currentConfig = config;
    this.loads++;
    this.wake();
  }

  configurationFailed(): void {
    this.loadErrors++;
  }

  /** Cancels every running job (after_script still runs). */
  cancelAll(): void {
    for (const job of this.jobs.values()) job.cancel.abort();
  }

  runningJobs(): readonly JobView[] {
    return [...this.jobs.values()].map((job) => job.view);
  }

  start(): void {
    if (this.currentState !== 'starting') throw new Error(`agent cannot start from state ${this.currentState}`);
    this.currentState = 'running';
    this.loop = this.pollLoop();
  }

  /**
   * Stops taking jobs. `graceful`: running jobs finish (SIGQUIT); otherwise
   * they are canceled, after_script still running (SIGINT/SIGTERM).
   */
  async stop(mode: 'graceful' | 'cancel'): Promise<void> {
    if (this.currentState === 'stopped') return;
    this.currentState = 'stopping';
    this.wake();
    if (mode === 'cancel') this.cancelAll();
    await this.loop;
    await Promise.all([...this.jobs.values()].map((job) => job.done));
    for (const runner of this.currentConfig.runners) await leaveQueue(this.queueDir(runner)).catch(() => undefined);
    this.currentState = 'stopped';
  }

  /** Stops every running job at once, after_script included (a second stop signal). */
  forceStop(): void {
    for (const job of this.jobs.values()) {
      job.cancel.abort();
      job.force.abort();
    }
  }

  private queueDir(runner: RunnerConfig): string {
    return resolve(this.workingDirectory, runner.queueDir);
  }

  private canStart(runner: RunnerConfig): boolean {
    if (this.currentState !== 'running' || this.jobs.size >= this.currentConfig.concurrent) return false;
    if (runner.limit === 0) return true;
    let running = 0;
    for (const job of this.jobs.values()) if (job.view.runner === runner.name) running++;
    return running < runner.limit;
  }

  /** Polls the runners in turn, check_interval spread across them; a finished job wakes it at once. */
  private async pollLoop(): Promise<void> {
    let turn = 0;
    while (this.currentState === 'running') {
      const runners = this.currentConfig.runners;
      const runner = runners[turn++ % Math.max(runners.length, 1)];
      let started = false;
      if (runner) {
        try {
          started = await this.poll(runner);
        } catch (error) {
          this.logger.error('Polling the job queue failed', { runner: runner.name, error: error instanceof Error ? error.message : String(error) });
        }
      }
      if (started) continue;
      const delay = (this.currentConfig.checkInterval * 1000) / Math.max(runners.length, 1);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
    }
  }

  /** Claims and starts as many jobs as the limits allow; true if it started any. */
  private async poll(runner: RunnerConfig): Promise<boolean> {
    const queueDir = this.queueDir(runner);
    const now = Date.now();
    if (now - (this.lastRecovery.get(queueDir) ?? 0) >= RECOVERY_INTERVAL_MS) {
      this.lastRecovery.set(queueDir, now);
      for (const result of await recoverDeadClaims(queueDir)) {
        this.logger.warn('Job of a runner that died finished as failed', { job: result.id, name: result.name ?? undefined, owner: result.owner ?? undefined, failure_reason: 'runner_system_failure' });
      }
    }
    let started = false;
    while (this.canStart(runner)) {
      const claimed = await claimNext(queueDir);
      if (!claimed) break;
      this.startJob(runner, queueDir, claimed);
      started = true;
    }
    return started;
  }

  private startJob(runner: RunnerConfig, queueDir: string, claimed: ClaimedJob): void {
    const now = Date.now();
    const cancel = new AbortController();
    const force = new AbortController();
    // Assigned right below; the hooks only run once the job is under way.
    let job: RunningJob;
    this.logger.info('Job started', { job: claimed.id, name: claimed.spec.name, runner: runner.name });
    const done = runLocalJob(runner, queueDir, this.workingDirectory, claimed, {
      onStage: (stage) => { job.view = { ...job.view, stage, executorStage: stage, stageStartedAt: Date.now() }; },
      onPid: (pid) => { job.view = { ...job.view, pid }; },
      signal: cancel.signal,
      forceSignal: force.signal,
    }).then(
      (result) => {
        this.logger.info('Job finished', {
          job: claimed.id, name: claimed.spec.name, runner: runner.name, state: result.state,
          failure_reason: result.failureReason, exit_code: result.exitCode, duration_s: result.durationSeconds.toFixed(3),
        });
        this.onJobFinished({ runner: runner.name, result });
      },
      (error: unknown) => {
        this.logger.error('Job could not be run', { job: claimed.id, runner: runner.name, error: error instanceof Error ? error.message : String(error) });
      },
    ).finally(() => {
      this.jobs.delete(claimed.id);
      this.wake();
    });
    job = {
      view: {
        id: claimed.id, name: claimed.spec.name, runner: runner.name, url: claimed.path, state: 'running',
        stage: 'prepare_executor', executorStage: 'prepare_executor', startedAt: now, stageStartedAt: now, pid: undefined,
      },
      cancel,
      force,
      done,
    };
    this.jobs.set(claimed.id, job);
  }
}
