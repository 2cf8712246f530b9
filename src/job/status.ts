// The runner's live state as read-only views: what the metrics and the debug
// routes read, what the agent keeps. Readers depend on these types, never on
// the agent itself.
import type { Config } from '../config/types.ts';
import type { SpanIds } from './job-trace.ts';
import type { JobResult } from './result.ts';
import type { QueueInfo, SourceJob } from './source.ts';

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

/** A job as its source handed it out, without its begin and finish: what readers such as the metrics may know of it. */
export type HandedOutJob = Pick<SourceJob, 'id' | 'name' | 'url' | 'job' | 'queue'>;

/** A job as it starts, for the queue-time metrics. */
export interface StartedJob {
  readonly runner: string;
  readonly queue: QueueInfo | undefined;
  /** The job itself (the agent always names it); readers that need it record what they can without. */
  readonly job?: HandedOutJob | undefined;
}

/** A finished job, for counters and histograms. */
export interface FinishedJob {
  readonly runner: string;
  readonly result: JobResult;
  /** The job's span, when the job was traced and its span sampled: the job duration's exemplar links to it. */
  readonly span?: SpanIds | undefined;
  /** As StartedJob's. */
  readonly job?: HandedOutJob | undefined;
}

/** The runner's state, read-only. */
export interface RunnerStatus {
  readonly config: Config;
  readonly state: AgentState;
  /** True once the agent has started and until it begins to stop. */
  isReady(): boolean;
  runningJobs(): readonly JobView[];
  /** Requests for jobs in flight now, per runner name. */
  requestsInFlight(): ReadonlyMap<string, number>;
  /** The runners asking for jobs now: none unless the agent runs, and never one its source gave up on (a rejected token). */
  runnersTakingJobs(): ReadonlySet<string>;
  /** Jobs waiting in each runner's own queue (the local queue) at its last look; runners whose source cannot see its queue are absent. */
  pendingJobs(): ReadonlyMap<string, number>;
  /** Successful configuration loads, the first included. */
  readonly configurationLoads: number;
  readonly configurationLoadErrors: number;
  /** Whether the latest load (the first, or the latest SIGHUP reload) succeeded. */
  readonly lastConfigurationLoadSucceeded: boolean;
}
