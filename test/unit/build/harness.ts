// Shared by the build sequence's tests: a build on the fake executor whose
// stages end as the test says, GitLab Runner's log bytes written out
// literally (so a test fails when our log-lines module drifts from them),
// and a way to run a stage's script in a real bash, as a user's job gets it.
import { Buffer } from 'node:buffer';
import { spawnSync, type SpawnSyncOptionsWithStringEncoding } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildOptions, runBuild } from '../../../src/build/build.ts';
import type { Job, JobFeatures } from '../../../src/job/model.ts';
import type { BuildStage, JobResult } from '../../../src/job/result.ts';
import { FakeExecutor, type FakeRun, runnerSettings } from '../../support/fakes.ts';

// GitLab Runner's colours (helpers/ansi_colors.go).
export const GREEN = '\x1b[32;1m';
export const CYAN = '\x1b[36;1m';
export const RED = '\x1b[31;1m';
export const YELLOW = '\x1b[0;33m';
export const RESET = '\x1b[0;m';
export const CLEAR = '\x1b[0K';

/** A runner-side Println line. */
export const printed = (text: string): string => `${CLEAR}${text}${RESET}\n`;
/** A stage's title line (the double reset is GitLab's). */
export const titled = (text: string): string => `${CLEAR}${CYAN}${text}${RESET}${RESET}\n`;
export const warned = (text: string): string => `${YELLOW}WARNING: ${text}${RESET}\n`;
export const failed = (text: string): string => `${RED}ERROR: Job failed: ${text}${RESET}\n`;
export const SUCCEEDED = `${GREEN}Job succeeded${RESET}\n`;

export const TIMEOUT_HELP =
  'For more control over job and script timeouts see: https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts';

/** A GitLab job's features: sections on, time prefixes off (so logs compare byte for byte). */
export const SECTIONS: JobFeatures = { traceSections: true, timestamps: false, tokenMaskPrefixes: [] };

export interface Built {
  result: JobResult;
  log: string;
  /** The stages the build entered (onStage), in order. */
  stages: BuildStage[];
  executor: FakeExecutor;
  /** The pauses before retries, in ms. */
  pauses: number[];
}

/** Runs `job` on a fake executor whose stages end as `onRun` says; retry pauses are recorded, not waited for. */
export async function build(job: Job, onRun: (run: FakeRun) => void, options: Partial<BuildOptions> = {}, executor = new FakeExecutor()): Promise<Built> {
  executor.onRun = onRun;
  const parts: Buffer[] = [];
  const stages: BuildStage[] = [];
  const pauses: number[] = [];
  const result = await runBuild(job, {
    executor,
    runner: runnerSettings(),
    log: (chunk) => parts.push(Buffer.from(chunk)),
    onStage: (stage) => stages.push(stage),
    retryPause: async (ms) => {
      pauses.push(ms);
    },
    ...options,
  });
  return { result, log: Buffer.concat(parts).toString('utf8'), stages, executor, pauses };
}

export const succeed = (run: FakeRun): void => run.exit(0);

/** The log without the resource line (ours, not GitLab's), for comparing whole logs. */
export function withoutResources(log: string): string {
  const at = log.indexOf(`${CLEAR}Job used `);
  return at === -1 ? log : log.slice(0, at) + log.slice(log.indexOf('\n', at) + 1);
}

/** The part of a log from its first stage title on (the header left out). */
export function fromFirstStage(log: string): string {
  const at = log.indexOf(`${CLEAR}${CYAN}`);
  return at === -1 ? '' : log.slice(at);
}

/** The script of the `index`-th run of `stage`. */
export function scriptOf(executor: FakeExecutor, stage: BuildStage, index = 0): string {
  const run = executor.runs.filter((r) => r.stage === stage)[index];
  if (run === undefined) throw new Error(`no run ${index} of ${stage} in ${executor.runs.map((r) => r.stage).join(', ')}`);
  return run.command.script;
}

export interface BashRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a stage script as the shell executor does (on bash's stdin), with
 * nothing of the runner's environment but PATH, and HOME pointing nowhere:
 * what the job sees comes from the script.
 */
export function runBash(script: string, cwd: string = tmpdir()): BashRun {
  // `exec -a bash`: bash named as GitLab Runner starts it (Deno's child_process passes the full path as argv[0]).
  const ran = spawnSync('bash', ['-c', 'exec -a bash bash'], {
    input: script,
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent-runner-home' },
  });
  return { status: ran.status, stdout: ran.stdout, stderr: ran.stderr };
}

/** A builds directory of its own for a test that runs stage scripts; removed by `done`. */
export function buildsRoot(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'runner-build-unit-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Builds `job` on a fake executor placed in a real directory, then runs the
 * script its step_script was given in bash (the project directory made as
 * prepare_executor would); `read(name)` returns what the job wrote to
 * "$OUT/name" (OUT: a job variable pointing to a directory of the test's).
 */
export async function runStepInBash(job: Job, options: Partial<BuildOptions> = {}): Promise<{ bash: BashRun; read: (name: string) => string; built: Built }> {
  const root = buildsRoot();
  try {
    const out = join(root.dir, 'out');
    mkdirSync(out);
    const withOut: Job = { ...job, variables: [{ key: 'OUT', value: out, masked: false }, ...job.variables] };
    const built = await build(withOut, succeed, options, new FakeExecutor({ buildsDir: join(root.dir, 'builds') }));
    const directories = built.executor.directories.get(job.id)!;
    mkdirSync(directories.projectDir, { recursive: true });
    const bash = runBash(scriptOf(built.executor, 'step_script'));
    const files = new Map<string, string>();
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'pwd', 'env']) {
      try {
        files.set(name, readFileSync(join(out, name), 'utf8'));
      } catch {
        // not written
      }
    }
    return {
      bash,
      built,
      read: (name) => {
        const value = files.get(name);
        if (value === undefined) throw new Error(`the job wrote no ${name}: ${bash.stdout}${bash.stderr}`);
        return value;
      },
    };
  } finally {
    root.done();
  }
}

/** A bash that reads no profile or rc file of the machine's (no stdin, no HOME of the runner's). */
const QUIET_BASH: SpawnSyncOptionsWithStringEncoding = {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/nonexistent-runner-home' },
};

/** The body a stage script evals, as bash reads it (its $'...' quoting undone by bash itself). */
export function bodyOf(script: string): string {
  const line = script.split('\n').find((text) => text.startsWith("(trap 'exit 1' TERM; eval ") || text.startsWith(': | eval '));
  if (line === undefined) throw new Error(`no eval line in ${script}`);
  const quoted = line.startsWith(': | eval ') ? line.slice(': | eval '.length) : line.slice("(trap 'exit 1' TERM; eval ".length, -') < /dev/null'.length);
  const ran = spawnSync('bash', ['-c', `printf '%s' ${quoted}`], QUIET_BASH);
  if (ran.status !== 0) throw new Error(`bash could not read the body: ${ran.stderr}`);
  return ran.stdout;
}

/** The value a body exports last for `key` (the shell's last definition wins), bash's quoting undone; undefined if none. */
export function exported(body: string, key: string): string | undefined {
  const lines = body.split('\n').filter((text) => text.startsWith(`export ${key}=`));
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  const ran = spawnSync('bash', ['-c', `${last}; printf '%s' "$${key}"`], QUIET_BASH);
  return ran.stdout;
}
