// Runs one job handed out by a source: its log goes to the source as it is
// produced, then the runner's one-line resource summary, then its result.
import { Buffer } from 'node:buffer';
import { resolve } from 'node:path';
import type { RunnerConfig } from '../config/types.ts';
import { runJob, systemFailureResult, type BuildStage, type JobResult } from '../executors/shell.ts';
import type { LogSink } from '../trace/job-log.ts';
import type { SourceJob } from '../sources/source.ts';

export interface JobHooks {
  readonly onStage: (stage: BuildStage) => void;
  readonly onPid: (pid: number | undefined) => void;
  /** First abort: cancel (after_script still runs). */
  readonly cancel: AbortController;
  /** Second abort: stop everything now. */
  readonly force: AbortController;
}

export function resourceLine(result: JobResult): string {
  const { cpuSeconds, peakRssBytes } = result.resources;
  return `\n[runner] job used ${cpuSeconds.toFixed(2)} s of CPU, peak RSS ${(peakRssBytes / 1024 / 1024).toFixed(1)} MiB (approximate: sampled every second from /proc)\n`;
}

export async function runSourceJob(
  runner: RunnerConfig,
  workingDirectory: string,
  sourceJob: SourceJob,
  hooks: JobHooks,
): Promise<JobResult> {
  let sink: LogSink;
  try {
    sink = await sourceJob.begin({
      cancel: () => hooks.cancel.abort(),
      abort: () => {
        hooks.cancel.abort();
        hooks.force.abort();
      },
    });
  } catch (error) {
    // Not even a log: the job is still finished upstream, as failed, so it is not left claimed.
    const result = systemFailureResult(`cannot start the job's log: ${error instanceof Error ? error.message : String(error)}`);
    await sourceJob.finish(result);
    return result;
  }
  const result = await runJob(sourceJob.job, {
    buildsDir: resolve(workingDirectory, runner.buildsDir),
    runnerName: runner.name,
    log: sink,
    outputLimitBytes: runner.outputLimit * 1024,
    keepBuildDir: runner.keepBuildsDir,
    onStage: hooks.onStage,
    onPid: hooks.onPid,
    signal: hooks.cancel.signal,
    forceSignal: hooks.force.signal,
  });
  // The one line the runner adds to every job's log: what the job used.
  try {
    sink(Buffer.from(resourceLine(result)));
  } catch {
    // The log's sink failed already (result.log.sinkError says why); the result matters more.
  }
  await sourceJob.finish(result);
  return result;
}
