// The variables of a job, as GitLab Runner builds them: one ordered list in
// which the last definition of a key wins, made of (in this order) every
// feature flag with its resolved value (`FF_TIMESTAMPS=true`, ...), the
// runner's own (`CI_RUNNER_SHORT_TOKEN`, then `environment = [...]` from
// config.toml), the build's (`CI_BUILDS_DIR`, `CI_PROJECT_DIR`,
// `CI_CONCURRENT_ID`, ...), the job's as its source sent them (but those
// named like a feature flag, which only feed its resolution), and last the
// ones a job cannot override (`CI_SHARED_ENVIRONMENT`, `CI_RUNNER_VERSION`,
// ..., `RUNNER_TEMP_PROJECT_DIR`). Values are then expanded once against the
// list (expand.ts), raw ones excepted. Every stage exports the whole list.
import type { Job, JobVariable } from '../job/model.ts';
import { architecture, goArch, operatingSystem } from '../runtime/runtime.ts';
import { versionInfo } from '../version.ts';
import { expand, specialName } from './expand.ts';
import { isKnownFlag } from './feature-flags.ts';

export interface VariableContext {
  readonly buildsDir: string;
  readonly projectDir: string;
  /** RUNNER_TEMP_PROJECT_DIR: where file variables are written. */
  readonly tempDir: string;
  readonly runnerName: string;
  /** CI_RUNNER_SHORT_TOKEN; empty for a runner without a token. */
  readonly shortToken: string;
  /** `environment = ["KEY=value", ...]` of the runner's configuration. */
  readonly environment: readonly string[];
  readonly concurrentId: number;
  readonly concurrentProjectId: number;
  readonly timeoutSeconds: number;
  readonly startedAt: Date;
  /** GitLab's CI_SHARED_ENVIRONMENT: jobs share the runner's machine (the shell executor). */
  readonly shared: boolean;
}

const variable = (key: string, value: string): JobVariable => ({ key, value, masked: false, expand: true });

/** `KEY=value` entries of `environment`; one without `=` is left out, as GitLab Runner does. */
export function environmentVariables(entries: readonly string[]): JobVariable[] {
  return entries.flatMap((entry) => {
    const at = entry.indexOf('=');
    return at === -1 ? [] : [variable(entry.slice(0, at), entry.slice(at + 1))];
  });
}

/**
 * The job's variables in GitLab Runner's order, not yet expanded. Without
 * `flags` it is the list GitLab Runner resolves the flags and settings from
 * (the job's FF_* variables in it); with them, the job's final list.
 */
export function variableList(job: Job, context: VariableContext, flags?: ReadonlyArray<readonly [string, boolean]>): JobVariable[] {
  const jobVariables = flags === undefined ? job.variables : job.variables.filter((v) => !isKnownFlag(v.key));
  return [
    ...(flags ?? []).map(([name, value]) => variable(name, String(value))),
    ...(job.image ? [variable('CI_JOB_IMAGE', job.image.name)] : []),
    variable('CI_RUNNER_SHORT_TOKEN', context.shortToken),
    ...environmentVariables(context.environment),
    // What a coordinator sends for every job, for the jobs of a source that sends none (the local queue).
    variable('CI', 'true'),
    variable('CI_JOB_ID', job.id),
    variable('CI_JOB_NAME', job.name),
    variable('CI_JOB_STARTED_AT', context.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')),
    variable('CI_RUNNER_DESCRIPTION', context.runnerName),
    variable('CI_BUILDS_DIR', context.buildsDir),
    variable('CI_PROJECT_DIR', context.projectDir),
    variable('CI_CONCURRENT_ID', String(context.concurrentId)),
    variable('CI_CONCURRENT_PROJECT_ID', String(context.concurrentProjectId)),
    variable('CI_SERVER', 'yes'),
    variable('CI_JOB_STATUS', 'running'),
    variable('CI_JOB_TIMEOUT', String(Math.ceil(context.timeoutSeconds))),
    ...jobVariables,
    ...(context.shared ? [variable('CI_SHARED_ENVIRONMENT', 'true')] : [variable('CI_DISPOSABLE_ENVIRONMENT', 'true')]),
    variable('CI_RUNNER_VERSION', versionInfo.version),
    variable('CI_RUNNER_REVISION', versionInfo.revision),
    variable('CI_RUNNER_EXECUTABLE_ARCH', `${operatingSystem}/${goArch(architecture)}`),
    variable('RUNNER_TEMP_PROJECT_DIR', context.tempDir),
  ];
}

/** The path a file variable's content is written to. */
export function fileVariablePath(tempDir: string, key: string): string {
  return `${tempDir}/${key}`;
}

/** Looks keys up in a list as GitLab Runner does: the last definition wins, a file variable is its path. */
export function listLookup(list: readonly JobVariable[], tempDir: string): (key: string) => string {
  const last = new Map(list.map((entry) => [entry.key, entry]));
  return (key) => {
    const special = specialName(key);
    if (special !== undefined) return special;
    const entry = last.get(key);
    if (entry === undefined) return '';
    return entry.file ? fileVariablePath(tempDir, key) : entry.value;
  };
}

/** Every value expanded once against the unexpanded list; raw ones (expand false) as they are. */
export function expandList(list: readonly JobVariable[], tempDir: string): JobVariable[] {
  const lookup = listLookup(list, tempDir);
  return list.map((entry) => (entry.expand ? { ...entry, value: expand(entry.value, lookup) } : entry));
}

/** A variable's value in an expanded list (the last definition; file variables: their content), or undefined. */
export function valueOf(list: readonly JobVariable[], key: string): string | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (list[i]!.key === key) return list[i]!.value;
  return undefined;
}

/** The values to mask in the log: those of the masked variables as the job sees them (expanded). */
export function maskedValues(list: readonly JobVariable[]): string[] {
  return [...new Set(list.filter((v) => v.masked).map((v) => v.value.trim()).filter((value) => value !== ''))];
}
