// Running one job through the build sequence on the real shell executor, in
// a builds directory of its own, for the shell executor's tests; and reading
// the job's log as GitLab Runner frames it (colours, stage titles).
//
// Each stage runs in a login shell with the runner's own environment, so a
// run gets a HOME of its own (a fresh directory, with the profile files the
// test asks for): the profiles of the machine's user are not the test's.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type BuildOptions, runBuild } from '../../src/build/build.ts';
import { stageTitle } from '../../src/build/log-lines.ts';
import { ShellExecutor, type ShellExecutorOptions } from '../../src/executors/shell/shell-executor.ts';
import type { Job } from '../../src/job/model.ts';
import { runnerSettings } from './fakes.ts';
import type { BuildStage, JobResult } from '../../src/job/result.ts';
import { procStat } from '../../src/system/process-group.ts';

export interface Run {
  result: JobResult;
  log: string;
  stages: BuildStage[];
  pids: Array<number | undefined>;
  buildsDir: string;
  /** The HOME the job's shells had (removed after the run). */
  home: string;
}

export type JobInput = Partial<Job> & Pick<Job, 'script'>;
export type ExtraOptions = Partial<Omit<BuildOptions, 'log' | 'executor'>> & Partial<ShellExecutorOptions> & {
  onLog?: (text: string) => void;
  /** Files to put in the run's HOME, by path relative to it (`.profile`, `.bash_profile`). */
  homeFiles?: Readonly<Record<string, string>>;
  /** Variables of the runner's own environment during the run (undefined: unset); restored afterwards. */
  runnerEnvironment?: Readonly<Record<string, string | undefined>>;
};

/** The stages of a job that runs its script, with no repository (no cache, no artifacts). */
export const SCRIPT_STAGES: readonly BuildStage[] = [
  'prepare_executor',
  'prepare_script',
  'step_script',
  'after_script',
  'cleanup_file_variables',
];

let counter = 0;

/** Sets the runner's environment variables for the length of `body`, then restores them. */
export async function withEnvironment<T>(variables: Readonly<Record<string, string | undefined>>, body: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(variables)) {
    saved.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return await body();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Runs a job in a fresh builds directory (removed afterwards unless kept) and collects what it reported. */
export async function run(input: JobInput, extra: ExtraOptions = {}, keepRoot = false): Promise<Run> {
  const buildsDir = mkdtempSync(join(tmpdir(), 'runner-shell-test-'));
  const home = mkdtempSync(join(tmpdir(), 'runner-shell-home-'));
  const job: Job = {
    id: `job-${process.pid}-${++counter}`,
    name: 'test job',
    beforeScript: [],
    afterScript: [],
    timeoutSeconds: 20,
    variables: [],
    ...input,
  };
  const parts: Buffer[] = [];
  const stages: BuildStage[] = [];
  const pids: Array<number | undefined> = [];
  const { onLog, homeFiles, runnerEnvironment, keepBuildDir, killGraceSeconds, shell, workingDirectory, buildsDir: otherBuildsDir, ...options } = extra;
  try {
    for (const [path, text] of Object.entries(homeFiles ?? {})) {
      mkdirSync(dirname(join(home, path)), { recursive: true });
      writeFileSync(join(home, path), text);
    }
    const executor = new ShellExecutor({
      buildsDir: otherBuildsDir ?? buildsDir,
      killGraceSeconds: killGraceSeconds ?? 0.5,
      keepBuildDir,
      shell,
      workingDirectory,
    });
    const result = await withEnvironment({ HOME: home, ...runnerEnvironment }, () =>
      runBuild(job, {
        runner: runnerSettings(),
        onStage: (stage) => stages.push(stage),
        onProcess: (pid) => pids.push(pid),
        ...options,
        executor,
        log: (chunk) => {
          parts.push(Buffer.from(chunk));
          onLog?.(Buffer.concat(parts).toString('utf8'));
        },
      }));
    return { result, log: Buffer.concat(parts).toString('utf8'), stages, pids, buildsDir, home };
  } finally {
    rmSync(home, { recursive: true, force: true });
    if (!keepRoot) rmSync(buildsDir, { recursive: true, force: true });
  }
}

// deno-lint-ignore no-control-regex -- ANSI escape sequences are what this matches
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Text without its ANSI colours and erase-line codes. */
export function plain(text: string): string {
  return text.replace(ANSI_ESCAPE, '');
}

/** The log's lines without colours (no trailing empty line). */
export function logLines(log: string): string[] {
  const lines = plain(log).split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** GitLab's stage title line as it is in the log (cyan, after an erase-line code). */
const TITLE = '\x1b[0K\x1b[36;1m';

/**
 * The lines a stage wrote, without colours: from after its title to the next
 * stage's title, a runner warning or the runner's closing lines.
 */
export function stageLines(log: string, stage: BuildStage): string[] {
  const raw = log.split('\n');
  const start = raw.indexOf(`${TITLE}${stageTitle(stage, 'shell')}\x1b[0;m\x1b[0;m`);
  assert.ok(start >= 0, `no ${stage} stage in the log:\n${plain(log)}`);
  const lines: string[] = [];
  for (const line of raw.slice(start + 1)) {
    if (line.startsWith(TITLE) || line.startsWith('\x1b[0;33mWARNING: ') || line.startsWith('\x1b[0KJob used ')) break;
    lines.push(plain(line));
  }
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The log's last line without colours: GitLab's `Job succeeded` or `ERROR: Job failed: ...`. */
export function closingLine(log: string): string {
  return logLines(log).at(-1) ?? '';
}

/** GitLab's green `$ command` line, as the log has it. */
export function echoLine(command: string): string {
  return `\x1b[32;1m$ ${command}\x1b[0;m\n`;
}

/** Whether a process has ended: gone, or a zombie nobody reaps (a container's pid 1 may not). */
export function ended(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
    throw error;
  }
  return procStat(pid)?.state === 'Z';
}

export function pidAfter(log: string, label: string): number {
  const match = new RegExp(`${label} (\\d+)`).exec(log);
  assert.ok(match, `no "${label} PID" in the log:\n${log}`);
  return Number(match[1]);
}
