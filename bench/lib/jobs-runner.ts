// Runner processes for the jobs and GitLab benches, on the shared harness
// (test/support/runner-process.ts): a scratch working directory per runner
// (config.toml and queue/ in /tmp, removed afterwards), `runner run
// --metrics-server 127.0.0.1:0` started there until its "Runner ready" line,
// and stopped together with every job process it started.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLOCK_TICKS_PER_SECOND } from '../../src/system/proc-stat.ts';
import { READY, RunnerProcess } from '../../test/support/runner-process.ts';
import { describeExit, WAIT_TIMEOUT_MS } from './processes.ts';
import type { RuntimeSpec } from './runtimes.ts';

const PID_RE = /Starting runner\b[^\n]*\bpid=(\d+)/;

// ---------------------------------------------------------------------------------------------
// Scratch working directories

const workDirs = new Set<string>();
let cleanupRegistered = false;

/** A fresh directory in the system temp dir holding config.toml; removed by removeWorkDir() or at exit. */
export function makeWorkDir(configToml: string): string {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on('exit', () => {
      for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'runner-bench-jobs-'));
  workDirs.add(dir);
  writeFileSync(join(dir, 'config.toml'), configToml);
  return dir;
}

export function removeWorkDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  workDirs.delete(dir);
}

// ---------------------------------------------------------------------------------------------
// Runners

export type QueueRunner = RunnerProcess;

export function runnerCommand(spec: RuntimeSpec): string[] {
  return [...spec.runnerArgs, 'run', '--metrics-server', '127.0.0.1:0'];
}

/** Starts the runner in workDir and waits (bounded) for its "Runner ready" line. */
export async function startQueueRunner(spec: RuntimeSpec, workDir: string, env?: Readonly<Record<string, string>>): Promise<QueueRunner> {
  const runner = await RunnerProcess.start(['run', '--metrics-server', '127.0.0.1:0'], READY, {
    cwd: workDir,
    ...(env === undefined ? {} : { env }),
    command: [spec.bin, ...spec.runnerArgs],
    timeoutMs: WAIT_TIMEOUT_MS,
  });
  // The runner logs its own pid: check it is the spawned process (not a wrapper around it), or its memory would not be the runner's.
  const logged = PID_RE.exec(runner.logs())?.[1];
  if (logged !== undefined && Number(logged) !== runner.pid) {
    runner.kill();
    throw new Error(`runner logged pid=${logged} but the spawned pid is ${runner.pid}: VmHWM would not be the runner's\n${runner.tail()}`);
  }
  return runner;
}

/**
 * Clean stop: SIGTERM (the runner cancels running jobs), wait up to 30 s, else SIGKILL; then
 * SIGKILL whatever the runner had started that is still alive. Returns how the runner exited.
 */
export async function stopQueueRunner(runner: QueueRunner): Promise<string> {
  return describeExit(await runner.stop('SIGTERM', WAIT_TIMEOUT_MS));
}

/**
 * A runner in a fresh work directory holding `configToml`, for `use`; stopped and the directory
 * removed afterwards, whatever `use` did. `before` runs in the directory before the runner starts
 * (to queue jobs for it).
 */
export async function withQueueRunner<T>(
  spec: RuntimeSpec,
  configToml: string,
  options: { readonly env?: Readonly<Record<string, string>>; readonly before?: (dir: string) => Promise<void> },
  use: (runner: QueueRunner, dir: string) => Promise<T>,
): Promise<T> {
  const dir = makeWorkDir(configToml);
  try {
    await options.before?.(dir);
    const runner = await startQueueRunner(spec, dir, options.env);
    try {
      return await use(runner, dir);
    } finally {
      await stopQueueRunner(runner);
    }
  } finally {
    removeWorkDir(dir);
  }
}

/** Error paths: SIGKILL the runner and every process it started, now. */
export async function killQueueRunner(runner: QueueRunner): Promise<void> {
  runner.kill();
  await runner.exit();
}

/** CPU time of a process, in seconds: its own, and that of the children it has waited for (and theirs, transitively). */
export interface ProcessCpu {
  readonly self: number;
  readonly children: number;
}

/** A process's CPU from /proc/PID/stat (utime + stime, cutime + cstime); undefined when it is gone or there is no /proc. */
export function processCpu(pid: number): ProcessCpu | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The fields after the command name (which may hold spaces) start after its last ')', at field 3.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const seconds = (field: number): number => Number(fields[field - 3]) / CLOCK_TICKS_PER_SECOND;
  const cpu = { self: seconds(14) + seconds(15), children: seconds(16) + seconds(17) };
  return Number.isFinite(cpu.self) && Number.isFinite(cpu.children) ? cpu : undefined;
}
