// GitLab Runner's stages of a shell-executor job as they appear in its log
// (common/build.go executeScript and GetStageDescription; shells/abstract.go
// for what each stage script echoes), on top of gitlab-log.ts. A corpus job's
// expectation is written with these: the framing here, the job's own output
// literally in its data file.
import { GitLabLog, type StageOutput } from './gitlab-log.ts';

/** What the machine the jobs run on decides in a log, the same under any runner. */
export interface Machine {
  /** `hostname`'s output: prepare_script prints `Running on $(hostname)...`. */
  readonly hostname: string;
  /** Whether `git lfs version` works: get_sources then runs `git lfs pull; echo` (an empty line). */
  readonly gitLfs: boolean;
}

/** What the coordinator and the runner's configuration decide for one job. */
export interface JobFacts {
  readonly machine: Machine;
  readonly runnerName: string;
  readonly shortToken: string;
  /** CI_PROJECT_DIR: <builds_dir>/<short token>/<concurrent project id>/<project path> */
  readonly projectDir: string;
  readonly sha: string;
  readonly ref: string;
  /** git_info.depth. */
  readonly depth: number;
  /** FF_TIMESTAMPS as the job resolves it. */
  readonly timestamps: boolean;
  /** Feature flags the job sets to other than GitLab Runner's default, as the header lists them (`FF_X:false`). */
  readonly featureFlags: readonly string[];
}

export interface FetchOptions {
  /** No checkout there yet: `git init` creates one and `git remote add` succeeds. */
  readonly fresh: boolean;
  /** What `git clean -ffdx` removes of an earlier job's files, in git's order (`Removing <path>`). */
  readonly removed?: readonly string[];
  /** The submodule part (GIT_SUBMODULE_STRATEGY); default `Skipping Git submodules setup`. */
  readonly submodules?: (output: StageOutput) => void;
}

/** The log of one job, stage by stage. */
export class ExpectedLog {
  readonly log: GitLabLog;

  constructor(readonly facts: JobFacts) {
    this.log = new GitLabLog(facts.timestamps);
  }

  /** The header, prepare_executor and prepare_script (bash.go writePrepareScript: `echo "Running on $(hostname)..."`). */
  start(): this {
    const { runnerName, shortToken, featureFlags, machine } = this.facts;
    this.log.header(runnerName, shortToken, featureFlags);
    this.log.stage('prepare_executor', 'Preparing the "shell" executor', undefined, (log) => log.println('Using Shell (bash) executor...'));
    this.log.stage('prepare_script', 'Preparing environment', (o) => o.out(`Running on ${machine.hostname}...`));
    return this;
  }

  /**
   * get_sources with the fetch (or clone: the same on an emptied directory)
   * strategy: abstract.go setupExternalGitConfig (the Gitaly correlation id),
   * writeRefspecFetchCmd, writeCheckoutCmd, the LFS pull, submodules.
   */
  fetch(options: FetchOptions): this {
    const { projectDir, sha, ref, depth, machine } = this.facts;
    this.log.stage('get_sources', 'Getting source from Git repository', (o) => {
      o.notice('Gitaly correlation ID: {{CORRELATION_ID}}');
      o.notice(depth > 0 ? `Fetching changes with git depth set to ${depth}...` : 'Fetching changes...');
      o.out(`${options.fresh ? 'Initialized empty' : 'Reinitialized existing'} Git repository in ${projectDir}/.git/`);
      if (options.fresh) o.notice('Created fresh repository.');
      o.notice(`Checking out ${sha.slice(0, 8)} as detached HEAD (ref is ${ref})...`);
      for (const path of options.removed ?? []) o.out(`Removing ${path}`);
      if (machine.gitLfs) o.out('');
      if (options.submodules) options.submodules(o);
      else o.notice('Skipping Git submodules setup');
    });
    return this;
  }

  /** GIT_STRATEGY=clone: the project directory is removed first, so it is always a fresh fetch. */
  clone(options: Omit<FetchOptions, 'fresh' | 'removed'> = {}): this {
    return this.fetch({ ...options, fresh: true });
  }

  /** GIT_STRATEGY=none: handleGetSourcesStrategy, then no checkout (GetGitCheckout is false) and no submodules. */
  none(): this {
    this.log.stage('get_sources', 'Getting source from Git repository', (o) => {
      o.notice('Skipping Git repository setup');
      o.notice('Skipping Git checkout');
      o.notice('Skipping Git submodules setup');
    });
    return this;
  }

  /** step_script: before_script and script, in one shell. */
  script(body: (output: StageOutput) => void): this {
    this.log.stage('step_script', 'Executing "step_script" stage of the job script', body);
    return this;
  }

  /** after_script: the notice `Running after script...` (abstract.go writeAfterScript), then the commands. */
  after(body: (output: StageOutput) => void): this {
    this.log.stage('after_script', 'Running after_script', (o) => {
      o.notice('Running after script...');
      body(o);
    });
    return this;
  }

  /** cleanup_file_variables: prints nothing (FF_ENABLE_JOB_CLEANUP is off). */
  cleanup(): this {
    this.log.stage('cleanup_file_variables', 'Cleaning up project directory and file based variables');
    return this;
  }

  /** The build logger's warning after a stage that ran out of RUNNER_SCRIPT_TIMEOUT (build.go warnTimeoutExceeded). */
  scriptTimedOut(stage = 'step_script'): this {
    this.log.warning(
      `${stage} could not run to completion because the timeout was exceeded. For more control over job and script timeouts see: ` +
        'https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts',
    );
    return this;
  }

  /** AFTER_SCRIPT_IGNORE_ERRORS (default true): build.go executeUserScripts. */
  afterScriptFailed(error: string): this {
    this.log.warning(`after_script failed, but job will continue unaffected: ${error}`);
    return this;
  }

  succeeded(): this {
    this.log.succeeded();
    return this;
  }

  failed(error: string): this {
    this.log.failed(error);
    return this;
  }
}
