// Running one job through the build sequence on the real shell executor, in
// a builds directory of its own, for the shell executor's tests.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BuildOptions, runBuild } from '../../src/build/build.ts';
import { ShellExecutor, type ShellExecutorOptions } from '../../src/executors/shell/shell-executor.ts';
import type { Job } from '../../src/job/model.ts';
import type { BuildStage, JobResult } from '../../src/job/result.ts';
import { procStat } from '../../src/system/process-group.ts';

export interface Run {
  result: JobResult;
  log: string;
  stages: BuildStage[];
  pids: Array<number | undefined>;
  buildsDir: string;
}

export type JobInput = Partial<Job> & Pick<Job, 'script'>;
export type ExtraOptions = Partial<Omit<BuildOptions, 'log' | 'executor'>> & Partial<Omit<ShellExecutorOptions, 'buildsDir'>> & {
  onLog?: (text: string) => void;
};

/** The stages of a job that runs its script (no cache, no artifacts). */
export const SCRIPT_STAGES: readonly BuildStage[] = [
  'prepare_executor',
  'prepare_script',
  'get_sources',
  'step_script',
  'after_script',
  'cleanup_file_variables',
];

let counter = 0;

/** Runs a job in a fresh builds directory (removed afterwards unless kept) and collects what it reported. */
export async function run(input: JobInput, extra: ExtraOptions = {}, keepRoot = false): Promise<Run> {
  const buildsDir = mkdtempSync(join(tmpdir(), 'runner-shell-test-'));
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
  const { onLog, keepBuildDir, killGraceSeconds, shell, ...options } = extra;
  try {
    const executor = new ShellExecutor({ buildsDir, killGraceSeconds: killGraceSeconds ?? 0.5, keepBuildDir, shell });
    const result = await runBuild(job, {
      runnerName: 'test-runner',
      onStage: (stage) => stages.push(stage),
      onProcess: (pid) => pids.push(pid),
      ...options,
      executor,
      log: (chunk) => {
        parts.push(Buffer.from(chunk));
        onLog?.(Buffer.concat(parts).toString('utf8'));
      },
    });
    return { result, log: Buffer.concat(parts).toString('utf8'), stages, pids, buildsDir };
  } finally {
    if (!keepRoot) rmSync(buildsDir, { recursive: true, force: true });
  }
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
