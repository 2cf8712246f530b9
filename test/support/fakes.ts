// A fake source and a fake executor for in-process tests of the agent and the
// build sequence: jobs the test hands out, and stages that end when the test
// says so (or when they are canceled), so scheduling can be checked
// deterministically, with no child process.
import { Buffer } from 'node:buffer';
import type {
  Executor,
  ExecutorFactory,
  ExecutorInfo,
  JobDirectories,
  JobEnvironment,
  PrepareContext,
  StageCommand,
  StageOutcome,
} from '../../src/job/executor.ts';
import type { LogSink } from '../../src/job/log.ts';
import type { Job } from '../../src/job/model.ts';
import type { BuildStage, JobResult, ResourceUse } from '../../src/job/result.ts';
import { type JobControl, type JobSource, SourceError, type SourceFactory, type SourceJob } from '../../src/job/source.ts';
import type { RunnerConfig } from '../../src/config/types.ts';
import type { RunnerSettings } from '../../src/build/plan.ts';

export function fakeJob(id: string, fields: Partial<Job> = {}): Job {
  return { id, name: `job ${id}`, script: ['true'], beforeScript: [], afterScript: [], timeoutSeconds: undefined, variables: [], ...fields };
}

/** Resolves once `probe` holds; polls every few milliseconds, fails after `timeoutMs`. */
export async function until(what: string, probe: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

// ---------------------------------------------------------------------------
// Source

export class FakeSourceJob implements SourceJob {
  readonly url: string;
  readonly log: Buffer[] = [];
  control: JobControl | undefined;
  result: JobResult | undefined;
  abandoned = false;
  /** Make begin() fail, as a log that cannot be opened. */
  failBegin: Error | undefined;

  constructor(readonly job: Job) {
    this.url = `fake://${job.id}`;
  }

  get id(): string {
    return this.job.id;
  }
  get name(): string {
    return this.job.name;
  }
  get logText(): string {
    return Buffer.concat(this.log).toString('utf8');
  }

  async begin(control: JobControl): Promise<LogSink> {
    if (this.failBegin) throw this.failBegin;
    this.control = control;
    return (chunk) => {
      this.log.push(Buffer.from(chunk));
    };
  }

  async finish(result: JobResult): Promise<void> {
    this.result = result;
  }

  async abandon(): Promise<void> {
    this.abandoned = true;
  }
}

type Answer = FakeSourceJob | SourceError | undefined;

/** A source that hands out the jobs queued on it, one per request; or an error the test queued. */
export class FakeSource implements JobSource {
  readonly pending: Answer[] = [];
  /** performance.now() of every request, answered or not. */
  readonly requestTimes: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  /** While set, requests wait for it before answering. */
  gate: Promise<void> | undefined;

  add(...jobs: Job[]): FakeSourceJob[] {
    const added = jobs.map((job) => new FakeSourceJob(job));
    this.pending.push(...added);
    return added;
  }

  fail(error: SourceError): void {
    this.pending.push(error);
  }

  async request(): Promise<SourceJob | undefined> {
    this.requestTimes.push(performance.now());
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      const next = this.pending.shift();
      if (next instanceof SourceError) throw next;
      return next;
    } finally {
      this.inFlight--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** One FakeSource per runner name, made on first use (and again after a close). */
export class FakeSources implements SourceFactory {
  readonly made = new Map<string, FakeSource>();
  readonly executorInfos: ExecutorInfo[] = [];

  of(runner: string): FakeSource {
    let source = this.made.get(runner);
    if (!source) {
      source = new FakeSource();
      this.made.set(runner, source);
    }
    return source;
  }

  key(runner: RunnerConfig): string {
    return runner.name;
  }

  create(runner: RunnerConfig, executor: ExecutorInfo): JobSource {
    this.executorInfos.push(executor);
    return this.of(runner.name);
  }
}

// ---------------------------------------------------------------------------
// Executor

/** A stage that runs until the test ends it or it is canceled. */
export class FakeRun {
  private settle: ((outcome: StageOutcome) => void) | undefined;
  readonly done: Promise<StageOutcome>;

  constructor(readonly job: Job, readonly command: StageCommand) {
    this.done = new Promise((resolve) => {
      this.settle = resolve;
    });
    for (const signal of command.cancel) {
      if (signal.aborted) this.end({ outcome: 'canceled', exitCode: 143 });
      else signal.addEventListener('abort', () => this.end({ outcome: 'canceled', exitCode: 143 }), { once: true });
    }
  }

  get stage(): BuildStage {
    return this.command.stage;
  }

  /** The stage writes `text` and exits with `exitCode`. */
  exit(exitCode = 0, text = ''): void {
    if (text !== '') this.command.onOutput(Buffer.from(text));
    this.end({ outcome: 'exited', exitCode });
  }

  end(outcome: StageOutcome): void {
    this.settle?.(outcome);
    this.settle = undefined;
  }
}

export class FakeExecutor implements Executor, ExecutorFactory {
  readonly info: ExecutorInfo = { name: 'fake', shell: 'bash', image: false, services: false, shared: true };
  /** CI_BUILDS_DIR; a test that runs the stage scripts in a real shell gives a directory of its own. */
  readonly buildsDir: string;

  constructor(options: { buildsDir?: string } = {}) {
    this.buildsDir = options.buildsDir ?? '/builds';
  }
  /** What the job's processes used, as resources() reports it. */
  resourceUse: ResourceUse = { cpuSeconds: 1.5, peakRssBytes: 1024, measuredBy: 'sampled' };
  /** Every stage run so far, in order. */
  readonly runs: FakeRun[] = [];
  readonly prepared: Job[] = [];
  /** The directories each prepared job was given, by job id. */
  readonly directories = new Map<string, JobDirectories>();
  readonly cleanedUp: Job[] = [];
  readonly killed: Job[] = [];
  /**
   * How a stage ends unless the test ends it: by default prepare_script
   * succeeds at once and every other stage keeps running until the test
   * ends it.
   */
  onRun: (run: FakeRun) => void = (run) => {
    if (run.stage === 'prepare_script') run.exit(0);
  };
  /** Make prepare() fail. */
  failPrepare: Error | undefined;

  create(): Executor {
    return this;
  }

  /** Stages running now. */
  get running(): FakeRun[] {
    return this.live;
  }

  private live: FakeRun[] = [];

  async prepare(job: Job, directories: JobDirectories, context?: PrepareContext): Promise<JobEnvironment> {
    if (this.failPrepare) throw this.failPrepare;
    // As the shell executor announces itself.
    context?.log({ level: 'info', text: 'Using Shell (bash) executor...' });
    this.prepared.push(job);
    this.directories.set(job.id, directories);
    return {
      shell: 'bash',
      run: async (command) => {
        const run = new FakeRun(job, command);
        this.runs.push(run);
        this.live.push(run);
        command.onProcess?.(4242);
        this.onRun(run);
        try {
          return await run.done;
        } finally {
          this.live = this.live.filter((r) => r !== run);
          command.onProcess?.(undefined);
        }
      },
      kill: () => {
        this.killed.push(job);
        for (const run of this.live.filter((r) => r.job === job)) run.end({ outcome: 'exited', exitCode: 137 });
      },
      resources: (): ResourceUse => this.resourceUse,
      cleanup: async () => {
        this.cleanedUp.push(job);
      },
    };
  }

  /** The running stage of a job, once it runs. */
  async stageOf(jobId: string, stage: BuildStage = 'step_script'): Promise<FakeRun> {
    let found: FakeRun | undefined;
    await until(`${stage} of job ${jobId}`, () => (found = this.live.find((run) => run.job.id === jobId && run.stage === stage)) !== undefined);
    return found!;
  }
}

// ---------------------------------------------------------------------------
// Runner

/** The runner a test build runs on: no token (a local runner), nothing configured around the job. */
export function runnerSettings(fields: Partial<RunnerSettings> = {}): RunnerSettings {
  return {
    name: 'test-runner',
    token: undefined,
    systemId: 's_0123456789ab',
    environment: [],
    scripts: { preGetSources: undefined, postGetSources: undefined, preBuild: undefined, postBuild: undefined },
    customBuildDir: false,
    debugTraceDisabled: false,
    ...fields,
  };
}
