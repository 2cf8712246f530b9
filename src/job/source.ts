// The source contract: where jobs come from (the local queue, a GitLab
// coordinator). The agent asks a source for jobs and hands each job's log and
// result back to it; it knows nothing else of either.
import type { RunnerConfig } from '../config/types.ts';
import type { ExecutorInfo } from './executor.ts';
import type { LogSink } from './log.ts';
import type { Job } from './model.ts';
import type { JobResult } from './result.ts';
import type { ArtifactTransport } from './transfer.ts';

/** What a source may do to a job it handed out (a coordinator's cancel). */
export interface JobControl {
  /** Stop the script; after_script still runs (GitLab's `canceling`). */
  cancel(): void;
  /** Stop everything now (GitLab's `canceled`, or the job is gone). */
  abort(): void;
}

/** How long a job waited before a runner took it, and what its queue looked like then. */
export interface QueueInfo {
  /** Seconds from the job's entering its queue to this runner's taking it. */
  readonly waitedSeconds: number;
  /** The coordinator's queue size and search depth when it handed the job out, where it says (GitLab's job_info). */
  readonly size?: number | undefined;
  readonly depth?: number | undefined;
  /** GitLab's project_jobs_running_on_instance_runners_count (a bucket such as "0", "3+" or "+Inf"), where sent. */
  readonly projectJobsRunning?: string | undefined;
}

export interface SourceJob {
  /** Unique among the source's jobs. */
  readonly id: string;
  readonly name: string;
  /** The job's address at its coordinator, or its queue file for local jobs. */
  readonly url: string;
  readonly job: Job;
  /** How long the job was queued; undefined where the source cannot tell. */
  readonly queue?: QueueInfo | undefined;
  /** Where the job's artifacts go and its dependencies' come from; undefined: the source keeps none (the job is warned). */
  readonly artifacts?: ArtifactTransport | undefined;
  /** Starts the job's log upstream; the returned sink receives every log byte, in order. */
  begin(control: JobControl): Promise<LogSink>;
  /** Records the job's end upstream; resolves when that is done or given up. */
  finish(result: JobResult): Promise<void>;
  /** The runner exits now, with the job still running: a quick, best-effort word upstream, within `timeoutMs`. */
  abandon?(timeoutMs: number): Promise<void>;
}

export interface JobSource {
  /** One job, or undefined when there is none now. Throws SourceError when the source cannot be asked. */
  request(): Promise<SourceJob | undefined>;
  /** Jobs waiting in the source's own queue at its last look (the local queue), undefined for a source that cannot see its queue. */
  pendingJobs?(): number | undefined;
  /** Housekeeping the source needs whether or not a slot is free (the local queue: finishing dead runners' jobs). */
  maintain?(): Promise<void>;
  /** Releases what the source holds (the runner is stopping or the source was removed). */
  close(): Promise<void>;
}

export class SourceError extends Error {
  constructor(
    message: string,
    /** The source will never work as configured (a rejected token): stop polling it. */
    readonly fatal = false,
    /** The server asked for this pause (Retry-After), in ms. */
    readonly retryAfterMs: number | undefined = undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SourceError';
  }
}

/** Makes the source of a runner; `key` says when a reloaded runner needs a new one. */
export interface SourceFactory {
  key(runner: RunnerConfig): string;
  /** `executor`: what runs the runner's jobs, for a coordinator that asks (GitLab's runner info). */
  create(runner: RunnerConfig, executor: ExecutorInfo): JobSource;
}

/** One request to a coordinator, as the API metrics count it; status 0 when no answer came. */
export interface CoordinatorCall {
  readonly endpoint: string;
  readonly method: string;
  readonly status: number;
  readonly seconds: number;
}

/** Receives every request a coordinator source makes. */
export type CoordinatorObserver = (call: CoordinatorCall) => void;
