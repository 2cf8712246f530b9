// What the end-to-end tests of GitLab jobs share: a test coordinator and the
// runner CLI started against it (one pair per test file, reused by its
// tests), waiting for a job's end, and reading a job's log as GitLab Runner
// frames it (time-prefixed lines, section markers, colours).
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CoordinatorJob, type CoordinatorOptions, type JobSpec, TestCoordinator } from '../../support/coordinator/coordinator.ts';
import { type RunningRunner, type SpawnOptions, startRunner } from '../../support/runner-process.ts';

export const RUNNER_TOKEN = 'glrt-test-runner-token-0123456789';
/** GitLab Runner's short token of RUNNER_TOKEN: the prefix removed, the first 9 characters. */
export const SHORT_TOKEN = 'test-runn';
export const RUNNER_NAME = 'gitlab';

export interface GitLabRunner {
  readonly coordinator: TestCoordinator;
  readonly runner: RunningRunner;
  /** The runner's working directory (config.toml, builds/). */
  readonly dir: string;
  /** Where the runner's GitLab jobs get their project directories by default. */
  readonly buildsDir: string;
  close(): Promise<void>;
}

export interface GitLabRunnerOptions {
  /** Lines added to the [[runners]] table. */
  readonly runner?: string;
  /** Lines added at the top of config.toml (global keys); default concurrent = 4, check_interval = 0.2. */
  readonly global?: string;
  readonly coordinator?: CoordinatorOptions;
  /** Environment of the runner process. */
  readonly env?: SpawnOptions['env'];
  /** A directory to run in (default a new temporary one, removed on close). */
  readonly dir?: string;
}

export function gitlabConfig(url: string, options: GitLabRunnerOptions = {}): string {
  const global = options.global ?? 'concurrent = 4\ncheck_interval = 0.2\n';
  return `${global}log_level = "debug"\n\n[[runners]]\nname = "${RUNNER_NAME}"\nurl = "${url}"\ntoken = "${RUNNER_TOKEN}"\n${options.runner ?? ''}`;
}

/** A coordinator (trace update interval 1 s unless said otherwise) and `runner run` in a new directory, configured for it. */
export async function startGitLabRunner(options: GitLabRunnerOptions = {}): Promise<GitLabRunner> {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], traceUpdateIntervalSeconds: 1, ...options.coordinator });
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'runner-gitlab-'));
  try {
    writeFileSync(join(dir, 'config.toml'), gitlabConfig(coordinator.url, options), { mode: 0o600 });
    const runner = await startRunner([], { cwd: dir, ...(options.env ? { env: options.env } : {}) });
    return {
      coordinator,
      runner,
      dir,
      buildsDir: join(dir, 'builds', SHORT_TOKEN),
      close: async () => {
        // A stop, not a kill: the runner removes its own temporary files (the logs it holds for the coordinator).
        await runner.stop('SIGTERM', 5_000);
        await coordinator.close();
        if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await coordinator.close();
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * One runner for a whole test file: started by the first test that needs it,
 * closed by the file's `after` hook (`shared.close`).
 */
export function sharedGitLabRunner(options: GitLabRunnerOptions = {}): { get(): Promise<GitLabRunner>; close(): Promise<void> } {
  let started: Promise<GitLabRunner> | undefined;
  return {
    get: () => (started ??= startGitLabRunner(options)),
    close: async () => {
      if (started) await (await started.catch(() => undefined))?.close();
    },
  };
}

/**
 * Starts `runner run` in `dir` without GIT_SSL_CAINFO in its environment: git
 * prefers that variable to any http.sslCAInfo, so a machine that sets it (to
 * the system's CAs) would hide the CA the runner gives git for an https
 * coordinator. NODE_EXTRA_CA_CERTS in `env` makes a runner on any of the
 * three runtimes trust a private CA for its own calls.
 */
export async function startRunnerWithoutGitCaVariable(dir: string, env: Readonly<Record<string, string>>): Promise<RunningRunner> {
  const saved = process.env['GIT_SSL_CAINFO'];
  delete process.env['GIT_SSL_CAINFO'];
  try {
    return await startRunner([], { cwd: dir, env });
  } finally {
    if (saved !== undefined) process.env['GIT_SSL_CAINFO'] = saved;
  }
}

/** A job that needs no repository: GIT_STRATEGY none (GitLab always sends a repository; the coordinator serves none unless given). */
export function withoutSources(spec: JobSpec): JobSpec {
  return { ...spec, variables: [{ key: 'GIT_STRATEGY', value: 'none' }, ...(spec.variables ?? [])] };
}

export async function finished(coordinator: TestCoordinator, job: CoordinatorJob, timeoutMs = 30_000): Promise<CoordinatorJob> {
  try {
    return await coordinator.waitFor(`job ${job.id} to finish`, () => {
      const now = coordinator.job(job.id);
      return ['success', 'failed', 'canceled'].includes(now.state) ? now : undefined;
    }, timeoutMs);
  } catch (error) {
    // Where it stopped: never picked up (pending, no trace), or stuck in one of its stages.
    const now = coordinator.job(job.id);
    const tail = now.trace.subarray(Math.max(0, now.trace.length - 2000)).toString('utf8');
    throw new Error(`${(error as Error).message}: it is ${now.state}, the end of its trace: ${JSON.stringify(tail)}`, { cause: error });
  }
}

/** Queues `spec` and resolves with the job once it has finished at the coordinator. */
export async function runJob(coordinator: TestCoordinator, spec: JobSpec, timeoutMs = 30_000): Promise<CoordinatorJob> {
  return finished(coordinator, coordinator.enqueueJob(spec), timeoutMs);
}

/** FF_TIMESTAMPS's line prefix: `2006-01-02T15:04:05.000000Z 00O ` (stream 00 the runner, 01 the script; `+` a continued line). */
export const TIMESTAMP_PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9a-f]{2}[OE][ +]/;

// deno-lint-ignore no-control-regex -- ANSI escapes are what this removes
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const SECTION = /section_(start|end):\d+:[A-Za-z0-9_.-]+(\[[^\]]*\])?\r/g;

/**
 * The lines of a job's log as a reader of GitLab's job page sees them: time
 * prefixes, section markers and colours removed, and the empty lines a
 * marker alone leaves dropped.
 */
export function logLines(trace: Buffer | string): string[] {
  const text = typeof trace === 'string' ? trace : trace.toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: string[] = [];
  for (const raw of lines) {
    const withoutPrefix = raw.replace(TIMESTAMP_PREFIX, '');
    const visible = withoutPrefix.replace(SECTION, '').replace(ANSI, '');
    if (visible === '' && withoutPrefix.includes('section_')) continue;
    out.push(visible);
  }
  return out;
}

/** The log as text: logLines joined, each line ending with \n. */
export function logText(trace: Buffer | string): string {
  return logLines(trace).map((line) => `${line}\n`).join('');
}

/** The lines between the title of a stage (e.g. 'Getting source from Git repository') and the next stage's title. */
export function stageLines(trace: Buffer | string, title: string): string[] {
  const lines = logLines(trace);
  const start = lines.indexOf(title);
  if (start < 0) return [];
  const titles =
    /^(Preparing the ".*" executor|Preparing environment|Getting source from Git repository|Deleting all tracked and untracked files due to source fetch failure|Executing ".*" stage of the job script|Running after_script|Cleaning up project directory and file based variables|Job used .*)$/;
  const end = lines.findIndex((line, i) => i > start && titles.test(line));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** What the job printed between `BEGIN name` and `END name` markers (for a script that prints a file or a listing). */
export function between(trace: Buffer | string, name: string): string[] {
  const lines = logLines(trace);
  const start = lines.indexOf(`BEGIN ${name}`);
  const end = lines.indexOf(`END ${name}`, start + 1);
  if (start < 0 || end < 0) throw new Error(`no BEGIN/END ${name} in the log:\n${lines.join('\n')}`);
  return lines.slice(start + 1, end);
}

/** A script line that prints `command`'s output between `BEGIN name` / `END name` lines. */
export function show(name: string, command: string): string {
  return `echo "BEGIN ${name}"; ${command}; echo "END ${name}"`;
}
