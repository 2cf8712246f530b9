// The environment of a job's steps: basics of the runner's own environment,
// GitLab's predefined variables, then the job's own variables; file variables
// become files in the job's private script directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { architecture, operatingSystem } from '../runtime/runtime.ts';
import { versionInfo } from '../version.ts';
import type { ExecutableJob, JobVariable } from './job.ts';
import { DEFAULT_PATH } from './shell-scripts.ts';

/** Variables of the runner's own environment a job gets; everything else stays out. */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR'] as const;

export interface EnvironmentContext {
  readonly buildsDir: string;
  readonly projectDir: string;
  readonly runnerName: string;
  readonly timeoutSeconds: number;
  readonly startedAt: Date;
  /** Where file variables are written (mode 0600); undefined: before they are. */
  readonly fileVariableDir?: string | undefined;
}

/** GOARCH-style names, as CI_RUNNER_EXECUTABLE_ARCH has them (linux/amd64). */
export function goArch(arch: string): string {
  switch (arch) {
    case 'x64': return 'amd64';
    case 'ia32': return '386';
    default: return arch;
  }
}

/** The file a file variable is written to. */
export function fileVariablePath(dir: string, variable: JobVariable): string {
  return join(dir, variable.key);
}

/** Writes each file variable's value to its file (0600: it may be a secret); the last of a key wins. */
export function writeFileVariables(job: ExecutableJob, dir: string): void {
  for (const variable of job.variables) {
    if (variable.file && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable.key)) throw new Error(`file variable ${JSON.stringify(variable.key)} cannot name a file`);
    if (variable.file) writeFileSync(fileVariablePath(dir, variable), variable.value, { mode: 0o600 });
  }
}

export function jobEnvironment(job: ExecutableJob, context: EnvironmentContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('LC_') && value !== undefined) env[key] = value;
  }
  env['PATH'] ??= DEFAULT_PATH;
  Object.assign(env, {
    CI: 'true',
    CI_JOB_ID: job.id,
    CI_JOB_NAME: job.name,
    CI_JOB_STATUS: 'running',
    CI_JOB_STARTED_AT: context.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    CI_JOB_TIMEOUT: String(Math.ceil(context.timeoutSeconds)),
    CI_SHARED_ENVIRONMENT: 'true',
    CI_RUNNER_DESCRIPTION: context.runnerName,
    CI_RUNNER_VERSION: versionInfo.version,
    CI_RUNNER_REVISION: versionInfo.revision,
    CI_RUNNER_EXECUTABLE_ARCH: `${operatingSystem}/${goArch(architecture)}`,
  });
  const depth = job.repository?.depth;
  if (depth !== undefined && depth > 0) env['GIT_DEPTH'] = String(depth);
  // Where the job runs is the executor's to say, whatever a source sent (set before expansion, so values can use them).
  const location = { CI_BUILDS_DIR: context.buildsDir, CI_PROJECT_DIR: context.projectDir };
  Object.assign(env, location);
  for (const variable of job.variables) {
    if (variable.key in location) continue;
    const value = variable.expand ? expandValue(variable.value, env) : variable.value;
    env[variable.key] = variable.file && context.fileVariableDir !== undefined ? fileVariablePath(context.fileVariableDir, variable) : value;
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
