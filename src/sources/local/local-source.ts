// The local queue as a job source: claims job files, writes each job's log
// to done/ID.log as it is produced and its result to done/ID.json, keeps its
// artifacts in done/ID.artifacts.zip until they expire, and finishes the jobs
// of runners that died. A job whose dependencies' artifacts are missing is
// failed at claim time without running, as GitLab fails it
// (missing_dependency_failure; local-needs.ts).
import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { LogSink } from '../../job/log.ts';
import type { Job } from '../../job/model.ts';
import type { JobResult } from '../../job/result.ts';
import type { JobSource, QueueInfo, SourceJob } from '../../job/source.ts';
import { jobIdTime } from './job-id.ts';
import { LocalArtifactStore, sweepExpired } from './artifact-store.ts';
import { resolveDependencies } from './local-needs.ts';
import { appendLog, type ClaimedJob, claimNext, finish, leaveQueue, markLooked, openJobLog, recoverDeadClaims } from './queue.ts';
import type { DependencySpec } from '../../job/model.ts';

/** Dead claims are looked for at most this often per queue. */
export const RECOVERY_INTERVAL_MS = 10_000;
/** Expired artifacts are looked for at most this often (a bounded number per look). */
export const SWEEP_INTERVAL_MS = 60_000;

/** GitLab's words for missing_dependency_failure. */
const MISSING_DEPENDENCY = 'This job could not start because it could not retrieve the needed artifacts';

/** The first retry of a result that could not be written, then twice as long each time up to the last. */
export const RESULT_RETRY_FIRST_MS = 250;
export const RESULT_RETRY_MAX_MS = 30_000;

/** What the source tells its owner of the queue: a dead runner's job finished, a result that could not be written yet. */
export interface LocalQueueEvents {
  recovered(job: RecoveredJob): void;
  /** The job's result could not be written (a full disk); it is tried again in `retryInMs`, until it is written. */
  resultNotWritten(id: string, error: Error, retryInMs: number): void;
}

export interface RecoveredJob {
  readonly id: string;
  readonly name: string | undefined;
  readonly owner: string | undefined;
}

export class LocalQueueSource implements JobSource {
  private lastRecovery = 0;
  private lastSweep = 0;
  private sweepCursor = '';
  /** Jobs in pending/ at the last claim attempt, less the one claimed. */
  private pending: number | undefined;

  constructor(
    private readonly queueDir: string,
    private readonly events: LocalQueueEvents,
  ) {}

  /** Called at every turn of the runner's loop: the look is recorded first (markLooked). */
  async maintain(): Promise<void> {
    await markLooked(this.queueDir);
    const now = Date.now();
    if (now - this.lastRecovery >= RECOVERY_INTERVAL_MS) {
      this.lastRecovery = now;
      for (const result of await recoverDeadClaims(this.queueDir)) {
        this.events.recovered({ id: result.id, name: result.name ?? undefined, owner: result.owner ?? undefined });
      }
    }
    if (now - this.lastSweep >= SWEEP_INTERVAL_MS) {
      this.lastSweep = now;
      this.sweepCursor = (await sweepExpired(this.queueDir, this.sweepCursor)).cursor;
    }
  }

  pendingJobs(): number | undefined {
    return this.pending;
  }

  async request(): Promise<SourceJob | undefined> {
    for (;;) {
      const claimed = await claimNext(this.queueDir, undefined, (pending) => {
        this.pending = pending;
      });
      if (!claimed) return undefined;
      this.pending = Math.max(0, (this.pending ?? 1) - 1);
      const resolution = await resolveDependencies(this.queueDir, claimed.spec);
      if (resolution.ok) return new LocalJob(this.queueDir, claimed, resolution.dependencies, this.events);
      await appendLog(this.queueDir, claimed.id, `[runner] ${MISSING_DEPENDENCY}: ${resolution.reason}\n`);
      await finish(this.queueDir, claimed, { state: 'failed', failureReason: 'missing_dependency_failure', startedAt: claimed.claimedAt });
    }
  }

  async close(): Promise<void> {
    await leaveQueue(this.queueDir);
  }
}

export class LocalJob implements SourceJob {
  readonly job: Job;
  readonly queue: QueueInfo | undefined;
  readonly artifacts: LocalArtifactStore;
  private log: FileHandle | undefined;

  constructor(
    private readonly queueDir: string,
    private readonly claimed: ClaimedJob,
    dependencies: readonly DependencySpec[],
    private readonly events: Pick<LocalQueueEvents, 'resultNotWritten'>,
  ) {
    // needs/dependsOn as written stay out of the job: `dependencies` is what they resolved to.
    const { needs: _needs, dependsOn: _dependsOn, ...definition } = claimed.spec;
    this.job = { ...definition, id: claimed.id, dependencies };
    // Queued from its submission (the time in its id) to its claim; for a job with needs that
    // includes the wait for them, as it sat in pending/ all along.
    const submittedAt = jobIdTime(claimed.id);
    this.queue = submittedAt === undefined ? undefined : { waitedSeconds: Math.max(0, claimed.claimedAt.getTime() - submittedAt) / 1000 };
    this.artifacts = new LocalArtifactStore(queueDir, claimed.id);
  }

  get id(): string {
    return this.claimed.id;
  }
  get name(): string {
    return this.claimed.spec.name;
  }
  get url(): string {
    return this.claimed.path;
  }

  async begin(): Promise<LogSink> {
    const log = await openJobLog(this.claimed);
    this.log = log;
    // Synchronous writes: the log file is the job's record and must keep every byte in order.
    return (chunk) => {
      writeSync(log.fd, chunk);
    };
  }

  /**
   * Writes the result and leaves claimed/. A result that cannot be written (a
   * full disk) is tried again with backoff until it is: the job stays claimed
   * and its slot busy meanwhile, and `runner submit --wait` gets the result
   * once there is room, instead of a job that stays claimed until a restart.
   */
  async finish(result: JobResult): Promise<void> {
    await this.log?.close().catch(() => undefined);
    const outcome = {
      state: result.state,
      failureReason: result.failureReason ?? null,
      exitCode: result.exitCode ?? null,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
      artifacts: this.artifacts.artifacts,
    };
    for (let delay = RESULT_RETRY_FIRST_MS;; delay = Math.min(delay * 2, RESULT_RETRY_MAX_MS)) {
      try {
        await finish(this.queueDir, this.claimed, outcome);
        return;
      } catch (error) {
        this.events.resultNotWritten(this.claimed.id, error instanceof Error ? error : new Error(String(error)), delay);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
