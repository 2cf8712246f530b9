// Runs one job claimed from a local queue: its log goes to the queue's
// done/ID.log as it is produced, its result to done/ID.json.
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RunnerConfig } from '../config/types.ts';
import { runJob, type JobResult as ExecutorResult } from '../executors/shell.ts';
import type { BuildStage } from '../executors/stages.ts';
import { finish, openJobLog, type ClaimedJob } from '../sources/local/queue.ts';

export interface LocalJobHooks {
  readonly onStage: (stage: BuildStage) => void;
  readonly onPid: (pid: number | undefined) => void;
  /** First abort: cancel (after_script still runs). */
  readonly signal: AbortSignal;
  /** Second abort: stop everything now. */
  readonly forceSignal: AbortSignal;
}

export async function runLocalJob(
  runner: RunnerConfig,
  queueDir: string,
  workingDirectory: string,
  claimed: ClaimedJob,
  hooks: LocalJobHooks,
): Promise<ExecutorResult> {
  const log = await openJobLog(claimed);
  let result: ExecutorResult;
  try {
    result = await runJob({ ...claimed.spec, id: claimed.id }, {
      buildsDir: resolve(workingDirectory, runner.buildsDir),
      runnerName: runner.name,
      // Synchronous writes: the log file is the job's record and must keep every byte in order.
      log: (chunk) => { writeSync(log.fd, chunk); },
      outputLimitBytes: runner.outputLimit * 1024,
      keepBuildDir: runner.keepBuildsDir,
      ...hooks,
    });
    // The one line the runner adds to a job's log: what the job used.
    const { cpuSeconds, peakRssBytes } = result.resources;
    writeSync(log.fd, `\n[runner] job used ${cpuSeconds.toFixed(2)} s of CPU, peak RSS ${(peakRssBytes / 1024 / 1024).toFixed(1)} MiB (approximate: sampled every second from /proc)\n`);
  } finally {
    await log.close();
  }
  await finish(queueDir, claimed, {
    state: result.state,
    failureReason: result.failureReason ?? null,
    exitCode: result.exitCode ?? null,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
  });
  return result;
}
