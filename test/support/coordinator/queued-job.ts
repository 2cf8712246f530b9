// A job as the test coordinator keeps it: its project, state, trace and
// what the runner sent about it.
import { Buffer } from 'node:buffer';
import { CANCEL_GRACEFULLY_FEATURE } from './gitlab-rules.ts';
import type { Project } from './projects.ts';
import type { CoordinatorJob, GitRepository, JobPayload, JobSpec, JobState, JobUpdate, RunnerInfo, TracePatch } from './types.ts';

export type { Project } from './projects.ts';

export class QueuedJob implements CoordinatorJob {
  state: JobState = 'pending';
  failureReason: string | undefined;
  exitCode: number | undefined;
  runnerInfo: RunnerInfo | undefined;
  runnerToken: string | undefined;
  payload: JobPayload | undefined;
  finalChecksumOk: boolean | undefined;
  finalBytesizeOk: boolean | undefined;
  readonly updates: JobUpdate[] = [];
  readonly tracePatches: TracePatch[] = [];
  readonly queuedAt = Date.now();
  startedAt: number | undefined;
  /** When the first final update was answered 202 (Ci::BuildPendingState#created_at). */
  pendingFinalSince: number | undefined;
  forceMismatch = false;
  private chunks: Buffer[] = [];
  private traceBytes = 0;

  constructor(
    readonly id: number,
    readonly token: string,
    readonly pipelineId: number,
    readonly project: Project,
    readonly repoUrl: string,
    readonly spec: JobSpec,
    /** The commit this job runs. */
    readonly repository: GitRepository | undefined,
  ) {}

  get projectPath(): string {
    return this.project.fullPath;
  }
  get trace(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }
  get traceLength(): number {
    return this.traceBytes;
  }

  appendTrace(data: Buffer): void {
    this.chunks.push(Buffer.from(data));
    this.traceBytes += data.length;
  }

  /** `running` or `canceling`: the states in which the runner may still talk about the job (processing_on_runner?). */
  get processingOnRunner(): boolean {
    return this.state === 'running' || this.state === 'canceling';
  }
  get cancelGracefully(): boolean {
    return this.runnerInfo?.features?.[CANCEL_GRACEFULLY_FEATURE] === true;
  }
}
