// The variables a job's stages see: what the executor starts every stage
// with, GitLab's predefined variables, then the job's own (expanded where the
// source asks for it). File variables hold the path of a file in the job's
// private directory, which the build sequence writes in prepare_script.
import { join } from 'node:path';
import type { JobPlacement } from '../job/executor.ts';
import type { Job, JobVariable } from '../job/model.ts';
import { architecture, goArch, operatingSystem } from '../runtime/runtime.ts';
import { versionInfo } from '../version.ts';

export interface VariablesContext {
  readonly placement: JobPlacement;
  readonly runnerName: string;
  readonly timeoutSeconds: number;
  readonly startedAt: Date;
  /** GitLab's CI_SHARED_ENVIRONMENT: jobs share the runner's machine (the shell executor). */
  readonly shared: boolean;
}

/** The name a file variable's file gets in the job's private directory (it must name a file). */
export function fileVariableName(variable: JobVariable): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable.key)) throw new Error(`file variable ${JSON.stringify(variable.key)} cannot name a file`);
  return variable.key;
}

export function jobVariables(job: Job, context: VariablesContext): Record<string, string> {
  const { placement } = context;
  const env: Record<string, string> = { ...placement.baseVariables };
  Object.assign(env, {
    CI: 'true',
    CI_JOB_ID: job.id,
    CI_JOB_NAME: job.name,
    CI_JOB_STATUS: 'running',
    CI_JOB_STARTED_AT: context.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    CI_JOB_TIMEOUT: String(Math.ceil(context.timeoutSeconds)),
    ...(context.shared ? { CI_SHARED_ENVIRONMENT: 'true' } : {}),
    CI_RUNNER_DESCRIPTION: context.runnerName,
    CI_RUNNER_VERSION: versionInfo.version,
    CI_RUNNER_REVISION: versionInfo.revision,
    CI_RUNNER_EXECUTABLE_ARCH: `${operatingSystem}/${goArch(architecture)}`,
  });
  const depth = job.repository?.depth;
  if (depth !== undefined && depth > 0) env['GIT_DEPTH'] = String(depth);
  // Where the job runs is the executor's to say, whatever a source sent (set before expansion, so values can use them).
  const location = { CI_BUILDS_DIR: placement.buildsDir, CI_PROJECT_DIR: placement.projectDir };
  Object.assign(env, location);
  for (const variable of job.variables) {
    if (variable.key in location) continue;
    const value = variable.expand ? expandValue(variable.value, env) : variable.value;
    env[variable.key] = variable.file ? join(placement.tempDir, variable.key) : value;
  }
  return env;
}

/**
 * GitLab Runner's expansion of a variable's value (Go's os.Expand): `$NAME`
 * and `${NAME}` become the variable's value so far (empty when unset), `$$`
 * a literal `$`; anything else is kept.
 */
export function expandValue(value: string, env: Readonly<Record<string, string>>): string {
  if (!value.includes('$')) return value;
  return value.replace(/\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (match, braced?: string, bare?: string) => {
    if (match === '$$') return '$';
    return env[(braced ?? bare)!] ?? '';
  });
}

/** The values to mask in the log: masked variables as sent and as the job sees them (expanded). */
export function maskedValues(job: Job, env: Readonly<Record<string, string>>): string[] {
  return job.variables.filter((v) => v.masked).flatMap((v) => [v.value, ...(v.file ? [] : [env[v.key] ?? ''])]);
}
