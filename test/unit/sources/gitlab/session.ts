// An in-process GitLab source against the test coordinator, for the unit
// tests of the GitLab source and its jobs: a session, a job taken from it,
// results to finish it with, and a control that records what it was told.
import assert from 'node:assert/strict';
import { DEFAULT_RUNNER } from '../../../../src/config/types.ts';
import type { ExecutorInfo } from '../../../../src/job/executor.ts';
import type { JobResult, JobState } from '../../../../src/job/result.ts';
import type { JobControl, SourceJob } from '../../../../src/job/source.ts';
import { Logger } from '../../../../src/log/logger.ts';
import type { GitLabJobOptions } from '../../../../src/sources/gitlab/gitlab-job.ts';
import { GitLabSource } from '../../../../src/sources/gitlab/gitlab-source.ts';
import { type CoordinatorJob, type JobSpec, TestCoordinator } from '../../../support/coordinator/coordinator.ts';

export const TOKEN = 'glrt-in-process';
export const SYSTEM_ID = 's_0123456789ab';
export const SHELL: ExecutorInfo = { name: 'shell', shell: 'bash', image: false, services: false, shared: true };

export interface Session {
  coordinator: TestCoordinator;
  source: GitLabSource;
  logs: string[];
  close(): Promise<void>;
}

/** `traceUpdateIntervalSeconds`: the coordinator's X-GitLab-Trace-Update-Interval, which the job follows once answered. */
export async function session(options: GitLabJobOptions = {}, traceUpdateIntervalSeconds = 0.05): Promise<Session> {
  // The coordinator sets the trace interval: 50 ms by default, so the log goes out quickly; a keep-alive
  // follows 200 ms without contact (GitLab Runner's 30 s force-send interval, shortened).
  const coordinator = await TestCoordinator.start({ runnerTokens: [TOKEN], traceUpdateIntervalSeconds });
  const logs: string[] = [];
  const logger = new Logger('info', 'text', { write: (line) => logs.push(line) });
  const runner = { ...DEFAULT_RUNNER, name: 'in-process', url: coordinator.url, token: TOKEN };
  const source = new GitLabSource(runner, SHELL, SYSTEM_ID, logger, () => undefined, {
    updateIntervalMs: 50,
    forceSendIntervalMs: 200,
    finalReportLimitMs: 20_000,
    ...options,
  });
  return {
    coordinator,
    source,
    logs,
    close: async () => {
      await source.close();
      await coordinator.close();
    },
  };
}

export function result(state: JobState, fields: Partial<JobResult> = {}): JobResult {
  const now = new Date();
  return {
    state,
    failureReason: state === 'failed' ? 'script_failure' : undefined,
    exitCode: state === 'success' ? 0 : 1,
    startedAt: now,
    finishedAt: now,
    durationSeconds: 0,
    stages: [],
    afterScript: undefined,
    log: { receivedBytes: 0, writtenBytes: 0, droppedBytes: 0, truncated: false, sinkError: undefined },
    systemError: undefined,
    resources: { cpuSeconds: 0, peakRssBytes: 0, measuredBy: 'sampled' },
    transfers: [],
    ...fields,
  };
}

export function recordingControl(): JobControl & { calls: string[] } {
  const calls: string[] = [];
  return { calls, cancel: () => calls.push('cancel'), abort: () => calls.push('abort') };
}

export async function takeJob(s: Session, script = ['echo hi'], spec: Partial<JobSpec> = {}): Promise<{ queued: CoordinatorJob; job: SourceJob }> {
  const queued = s.coordinator.enqueueJob({ name: 'unit', script, ...spec });
  const job = await s.source.request();
  assert.ok(job, 'a job was handed out');
  assert.equal(job.id, String(queued.id));
  return { queued, job };
}
