// Runs one job handed out by a source: its log goes to the source as it is
// produced, then its result.
import { resolve } from 'node:path';
import type { JobSlot } from '../build/build.ts';
import type { RunnerConfig } from '../config/types.ts';
import type { Executor } from '../job/executor.ts';
import type { JobTrace } from '../job/job-trace.ts';
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
  /** The job's trace, if the runner traces jobs. */
  readonly trace?: JobTrace | undefined;
}

/** Where the job runs among the runner's: GitLab's system_id and the job's slot. */
export interface JobPlace {
  readonly systemId: string;
  readonly slot: JobSlot;
}

export async function runSourceJob(runner: RunnerConfig, sourceJob: SourceJob, executor: Executor, place: JobPlace, hooks: JobHooks): Promise<JobResult> {
  // The job engine (stages, artifacts, caches, zip) loads with the first job, not at start (issue 17).
  let runBuild: typeof import('../build/build.ts').runBuild;
  try {
    ({ runBuild } = await import('../build/build.ts'));
  } catch (error) {
    // Its files replaced or removed under a running runner: the job still ends upstream, as failed.
    return await failBeforeStart(sourceJob, 'cannot load the job engine', error);
  }
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
    return await failBeforeStart(sourceJob, "cannot start the job's log", error);
  }
  const result = await runBuild(sourceJob.job, {
    executor,
    runner: {
      name: runner.name,
      token: runner.token,
      systemId: place.systemId,
      environment: runner.environment,
      scripts: runner.scripts,
      customBuildDir: runner.customBuildDir,
      debugTraceDisabled: runner.debugTraceDisabled,
      coordinatorUrl: runner.url,
      cacheDir: resolve(runner.cacheDir),
    },
    artifacts: sourceJob.artifacts,
    slot: place.slot,
    log: sink,
    outputLimitBytes: runner.outputLimit * 1024,
    onStage: hooks.onStage,
    onProcess: hooks.onProcess,
    trace: hooks.trace,
    signal: hooks.cancel.signal,
    forceSignal: hooks.force.signal,
    killSignal: hooks.kill.signal,
  });
  await sourceJob.finish(result);
  return result;
}

/** Ends a job that could not start as a system failure, so it is not left claimed upstream. */
async function failBeforeStart(sourceJob: SourceJob, what: string, error: unknown): Promise<JobResult> {
  const result = systemFailureResult(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  await sourceJob.finish(result);
  return result;
}
