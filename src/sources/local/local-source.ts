// The local queue as a job source: claims job files, writes each job's log
// to done/ID.log as it is produced and its result to done/ID.json, and
// finishes the jobs of runners that died.
import { writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { LogSink } from '../../job/log.ts';
import type { Job } from '../../job/model.ts';
import type { JobResult } from '../../job/result.ts';
import type { JobSource, SourceJob } from '../../job/source.ts';
import { type ClaimedJob, claimNext, finish, leaveQueue, openJobLog, recoverDeadClaims } from './queue.ts';

/** Dead claims are looked for at most this often per queue. */
export const RECOVERY_INTERVAL_MS = 10_000;

export interface RecoveredJob {
  readonly id: string;
  readonly name: string | undefined;
  readonly owner: string | undefined;
}

export class LocalQueueSource implements JobSource {
  private lastRecovery = 0;

  constructor(
    private readonly queueDir: string,
    private readonly onRecovered: (job: RecoveredJob) => void,
  ) {}

  async maintain(): Promise<void> {
    const now = Date.now();
    if (now - this.lastRecovery >= RECOVERY_INTERVAL_MS) {
      this.lastRecovery = now;
      for (const result of await recoverDeadClaims(this.queueDir)) {
        this.onRecovered({ id: result.id, name: result.name ?? undefined, owner: result.owner ?? undefined });
      }
    }
  }

  async request(): Promise<SourceJob | undefined> {
    const claimed = await claimNext(this.queueDir);
    return claimed && new LocalJob(this.queueDir, claimed);
  }

  async close(): Promise<void> {
    await leaveQueue(this.queueDir);
  }
}

class LocalJob implements SourceJob {
  readonly job: Job;
  private log: FileHandle | undefined;

  constructor(private readonly queueDir: string, private readonly claimed: ClaimedJob) {
    this.job = { ...claimed.spec, id: claimed.id };
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

  async finish(result: JobResult): Promise<void> {
    await this.log?.close();
    await finish(this.queueDir, this.claimed, {
      state: result.state,
      failureReason: result.failureReason ?? null,
      exitCode: result.exitCode ?? null,
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
    });
  }
}
