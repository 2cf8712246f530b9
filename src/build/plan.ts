// Everything a build decides before it runs anything: the job's variables
// (expanded), its settings and feature flags with their warnings, its
// directories, what is masked in its log, and its timeouts.
import type { RunnerScripts } from '../config/types.ts';
import type { ExecutorInfo, JobDirectories } from '../job/executor.ts';
import type { Job, JobVariable } from '../job/model.ts';
import { parseGoDuration } from '../system/go-duration.ts';
import { type FlagResolution, type HonouredFlag, resolveFlags } from './feature-flags.ts';
import { expandList, maskedValues, valueOf, variableList } from './job-variables.ts';
import { ConfigurationError, jobDirectories, shortToken } from './project-dir.ts';
import { type JobSettings, readSettings } from './settings.ts';
import { DEFAULT_TOKEN_PREFIXES, DOCUMENTED_EXTRA_TOKEN_PREFIXES } from '../trace/token-masker.ts';

/** The runner a job runs on, as the build needs it. */
export interface RunnerSettings {
  readonly name: string;
  /** The runner's token (for its short form in paths and the log); undefined for a runner without one. */
  readonly token: string | undefined;
  /** GitLab's system_id of this runner process. */
  readonly systemId: string;
  /** The coordinator's URL (`url`), whose projects git reaches with the job token; undefined for a runner without one. */
  readonly coordinatorUrl?: string | undefined;
  readonly environment: readonly string[];
  readonly scripts: RunnerScripts;
  readonly customBuildDir: boolean;
  readonly debugTraceDisabled: boolean;
  /** Where jobs' caches are kept (cache_dir), absolute; default `cache` under the working directory, as GitLab's shell executor. */
  readonly cacheDir?: string | undefined;
}

/** The job's place among the runner's running jobs (GitLab's CI_CONCURRENT_ID, CI_CONCURRENT_PROJECT_ID). */
export interface JobSlot {
  readonly concurrentId: number;
  readonly concurrentProjectId: number;
}

/** GitLab Runner's default after_script timeout. */
export const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 5 * 60_000;

export interface BuildPlan {
  readonly directories: JobDirectories | undefined;
  /** Why the job cannot run as configured (GIT_CLONE_PATH), if so. */
  readonly configurationError: ConfigurationError | undefined;
  readonly variables: readonly JobVariable[];
  readonly settings: JobSettings;
  readonly flags: FlagResolution;
  /** Warnings of the settings and flags, for the top of the log. */
  readonly warnings: readonly string[];
  readonly secrets: readonly string[];
  readonly tokenPrefixes: readonly string[];
  /** Prefixes GitLab documents but GitLab Runner's masker lacks (masked with its defaults, outside its limit of 15). */
  readonly uncappedTokenPrefixes: readonly string[];
  readonly shortToken: string;
  /** RUNNER_SCRIPT_TIMEOUT and RUNNER_AFTER_SCRIPT_TIMEOUT as the job set them (read as the script starts: stageTimeouts). */
  readonly timeouts: { readonly script: string | undefined; readonly afterScript: string | undefined };
  /** after_script's timeout when the job sets none. */
  readonly afterScriptTimeoutMs: number;
}

export interface PlanInput {
  readonly job: Job;
  readonly executor: { readonly info: ExecutorInfo; readonly buildsDir: string };
  readonly runner: RunnerSettings;
  readonly slot: JobSlot;
  readonly timeoutSeconds: number;
  readonly startedAt: Date;
  /** The after_script timeout when the job sets no RUNNER_AFTER_SCRIPT_TIMEOUT. */
  readonly afterScriptTimeoutMs: number;
}

/** A stage timeout as the job sets it (RUNNER_SCRIPT_TIMEOUT, RUNNER_AFTER_SCRIPT_TIMEOUT), read when the script steps start. */
export interface StageTimeouts {
  /** RUNNER_SCRIPT_TIMEOUT in ms, undefined for none. */
  readonly scriptMs: number | undefined;
  readonly afterScriptMs: number;
  /** GitLab Runner's warnings of values it ignores, each its own line in the log. */
  readonly warnings: readonly string[];
}

/**
 * GitLab Runner's reading of RUNNER_SCRIPT_TIMEOUT and
 * RUNNER_AFTER_SCRIPT_TIMEOUT as the script steps start: a Go duration, the
 * default for empty, malformed, negative, zero, or longer than what is left
 * of the job (`remainingMs`).
 */
export function stageTimeouts(
  raw: { script: string | undefined; afterScript: string | undefined },
  remainingMs: number,
  afterScriptDefaultMs: number,
): StageTimeouts {
  const warnings: string[] = [];
  const read = (name: string, text: string | undefined, fallback: number | undefined): number | undefined => {
    const value = text ?? '';
    if (value.trim() === '') return fallback;
    // Go parses the value as it is: surrounding spaces make it malformed.
    const ms = parseGoDuration(value);
    if (ms === undefined) warnings.push(`Ignoring malformed ${name} timeout: ${value}`);
    else if (ms < 0) warnings.push(`Ignoring relative ${name} timeout: ${value}`);
    else if (ms > remainingMs) warnings.push(`${name} timeout: ${value} is longer than job timeout. Setting to job timeout`);
    else if (ms !== 0) return ms;
    return fallback;
  };
  return {
    scriptMs: read('RUNNER_SCRIPT_TIMEOUT', raw.script, undefined),
    afterScriptMs: read('RUNNER_AFTER_SCRIPT_TIMEOUT', raw.afterScript, afterScriptDefaultMs)!,
    warnings,
  };
}

export function planBuild(input: PlanInput): BuildPlan {
  const { job, executor, runner, slot } = input;
  const short = shortToken(runner.token);
  const context = (directories: JobDirectories | undefined) => ({
    buildsDir: executor.buildsDir,
    projectDir: directories?.projectDir ?? '',
    tempDir: directories?.tempDir ?? '',
    runnerName: runner.name,
    shortToken: short,
    environment: runner.environment,
    concurrentId: slot.concurrentId,
    concurrentProjectId: slot.concurrentProjectId,
    timeoutSeconds: input.timeoutSeconds,
    startedAt: input.startedAt,
    shared: executor.info.shared,
  });
  // The settings come from the variables as GitLab Runner resolves them before the directories are known.
  const early = expandList(variableList(job, context(undefined)), '');
  const lookup = (key: string): string | undefined => valueOf(early, key);
  const flags = resolveFlags(lookup, job.features ? { FF_TIMESTAMPS: job.features.timestamps } : { FF_TIMESTAMPS: false });
  const { settings, warnings: settingsWarnings } = readSettings(lookup, {
    allowGitFetch: job.allowGitFetch ?? false,
    depth: job.repository?.depth ?? 0,
    debugTraceDisabled: runner.debugTraceDisabled,
  });
  // GitLab Runner collects the flags' errors twice (build_settings.go), so they are in its log twice.
  const warnings = [...settingsWarnings, ...flags.errors, ...flags.errors, ...flags.unsupported];

  let directories: JobDirectories | undefined;
  let configurationError: ConfigurationError | undefined;
  try {
    directories = jobDirectories(job, {
      buildsDir: executor.buildsDir,
      shortToken: short,
      concurrentProjectId: slot.concurrentProjectId,
      empty: settings.gitStrategy === 'empty',
      clonePath: settings.clonePath,
      customBuildDir: runner.customBuildDir,
      shared: executor.info.shared,
    });
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    configurationError = error;
  }
  const variables = expandList(variableList(job, context(directories), flags.all), directories?.tempDir ?? '');
  const prefixes = flags.flags.FF_MASK_ALL_DEFAULT_TOKENS ? DEFAULT_TOKEN_PREFIXES : DEFAULT_TOKEN_PREFIXES.slice(0, 1);
  return {
    directories,
    configurationError,
    variables,
    settings,
    flags,
    warnings,
    secrets: [...maskedValues(variables), ...(job.secrets ?? [])],
    tokenPrefixes: [...prefixes, ...(job.features?.tokenMaskPrefixes ?? [])],
    uncappedTokenPrefixes: flags.flags.FF_MASK_ALL_DEFAULT_TOKENS ? DOCUMENTED_EXTRA_TOKEN_PREFIXES : [],
    shortToken: short,
    timeouts: { script: valueOf(variables, 'RUNNER_SCRIPT_TIMEOUT'), afterScript: valueOf(variables, 'RUNNER_AFTER_SCRIPT_TIMEOUT') },
    afterScriptTimeoutMs: input.afterScriptTimeoutMs,
  };
}

/** Whether a flag is on for this build. */
export function flagOn(plan: BuildPlan, flag: HonouredFlag): boolean {
  return plan.flags.flags[flag];
}

/** The variables that name the job's directories, mapped for the host side. */
const DIRECTORY_VARIABLES: Readonly<Record<string, (directories: JobDirectories, buildsDir: string) => string>> = {
  CI_BUILDS_DIR: (_directories, buildsDir) => buildsDir,
  CI_PROJECT_DIR: (directories) => directories.projectDir,
  RUNNER_TEMP_PROJECT_DIR: (directories) => directories.tempDir,
};

/**
 * The plan for a stage the runner runs on its own host (docker's
 * get_sources and cleanup, the cache and artifact stages): the job's
 * directories where the runner reaches them, and CI_BUILDS_DIR,
 * CI_PROJECT_DIR and RUNNER_TEMP_PROJECT_DIR naming them. Variables a job
 * built from those (`$CI_PROJECT_DIR/x`) keep the job's paths. With
 * `runnerVariablesOnly` (directories the job's code shares) only CI_, GITLAB_,
 * RUNNER_ and FF_ variables are kept.
 */
export function hostPlanOf(
  plan: BuildPlan,
  directories: JobDirectories,
  buildsDir: string,
  options: { readonly runnerVariablesOnly?: boolean } = {},
): BuildPlan {
  const variables = plan.variables
    // A job's own variables (GIT_CONFIG_*, LD_PRELOAD, PATH...) never reach a shell on the runner's host that the job does not own.
    .filter((variable) => options.runnerVariablesOnly !== true || RUNNER_VARIABLE.test(variable.key))
    .map((variable) => {
      const mapped = DIRECTORY_VARIABLES[variable.key];
      return mapped === undefined || variable.file ? variable : { ...variable, value: mapped(directories, buildsDir) };
    });
  return { ...plan, directories, variables };
}

/** The variables of the runner's and GitLab's own naming, which git and the shell do not read. */
const RUNNER_VARIABLE = /^(CI|GITLAB|RUNNER|FF)_/;
