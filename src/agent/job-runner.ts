// Runs one job handed out by a source: its log goes to the source as it is
// produced, then the runner's one-line resource summary, then its result.
import { Buffer } from 'node:buffer';
import { runBuild } from '../build/build.ts';
import type { RunnerConfig } from '../config/types.ts';
import type { Executor } from '../job/executor.ts';
import type { LogSink } from '../job/log.ts';
import { type BuildStage, type JobResult, systemFailureResult } from '../job/result.ts';
import type { SourceJob } from '../job/source.ts';

export interface JobHooks {
  readonly onStage: (stage: BuildStage) => void;
  readonly onProcess: (pid: number | undefined) => void;
  /** First abort: cancel (after_script still runs). */
  readonly cancel: AbortController;
  /** Second abort: stop everything. */
  readonly force: AbortController;
  /** The runner exits now: end what runs at once. */
  readonly kill: AbortController;
}

export function resourceLine(result: JobResult): string {
  const { cpuSeconds, peakRssBytes } = result.resources;
  return `\n[runner] job used ${cpuSeconds.toFixed(2)} s of CPU, peak RSS ${
    (peakRssBytes / 1024 / 1024).toFixed(1)
  } MiB (approximate: sampled every second from /proc)\n`;
}

export async function runSourceJob(runner: RunnerConfig, sourceJob: SourceJob, executor: Executor, hooks: JobHooks): Promise<JobResult> {
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
  const result = await runBuild(sourceJob.job, {
    executor,
    runnerName: runner.name,
    log: sink,
    outputLimitBytes: runner.outputLimit * 1024,
    onStage: hooks.onStage,
    onProcess: hooks.onProcess,
    signal: hooks.cancel.signal,
    forceSignal: hooks.force.signal,
    killSignal: hooks.kill.signal,
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
