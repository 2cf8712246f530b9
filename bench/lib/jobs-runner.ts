// Runner processes for the jobs bench: a scratch working directory per runner (config.toml and
// queue/ in /tmp, removed afterwards), starting `runner run --metrics-server 127.0.0.1:0` there
// and waiting for its "Runner ready" line, stopping it together with every job process it
// started, and reading VmHWM/VmRSS from /proc/PID/status.
//
// Jobs run in their own process groups (src/system/process-group.ts), so killing the runner
// alone would leave a running job behind. Every stop here therefore first lists the runner's
// descendants from /proc, then stops the runner, then SIGKILLs whatever of those descendants
// (and their process groups) is still alive. killJobTreesOnExit() does the same on every exit
// path of the bench; it must be called before killSpawnedOnExit() so that its handlers run
// first, while the runner is still alive and its descendants can still be found.
//
// Every child goes through track() from processes.ts, and every wait here is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { STDERR_KEEP_CHARS, WAIT_TIMEOUT_MS, hasExited, stop, track, waitForExit } from './processes.ts';
import type { RuntimeSpec } from './runtimes.ts';

const READY_RE = /Runner ready\b[^\n]*/;
const PID_RE = /Starting runner\b[^\n]*\bpid=(\d+)/;

// ---------------------------------------------------------------------------------------------
// Scratch working directories

const workDirs = new Set<string>();

/** A fresh directory in the system temp dir holding config.toml; removed by removeWorkDir() or at exit. */
export function makeWorkDir(configToml: string): string {
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
// /proc

interface ProcId {
  pid: number;
  /** Field 22 of /proc/PID/stat, so a reused pid is never mistaken for the process seen before. */
  startTime: string;
}

function readStat(pid: number): { ppid: number; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): ppid (field 4) is fields[1], starttime (field 22) fields[19].
    const ppid = Number(fields[1]);
    const startTime = fields[19];
    if (!Number.isInteger(ppid) || startTime === undefined) return undefined;
    return { ppid, startTime };
  } catch {
    return undefined;
  }
}

/** Every live descendant of pid (children, grandchildren, ...), found by scanning /proc. */
export function descendants(pid: number): ProcId[] {
  const children = new Map<number, ProcId[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ pid: Number(entry), startTime: stat.startTime });
    children.set(stat.ppid, list);
  }
  const found: ProcId[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** SIGKILLs each process (if it is still the same process) and the process group it may lead. */
function killProcs(procs: readonly ProcId[]): void {
  for (const proc of procs) {
    if (readStat(proc.pid)?.startTime !== proc.startTime) continue;
    for (const target of [-proc.pid, proc.pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader, or already gone
      }
    }
  }
}

/** A `Vm...:` line of /proc/PID/status in KiB, or undefined if unreadable. */
export function readStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Runners

export interface QueueRunner {
  readonly child: ChildProcess;
  readonly pid: number;
  /** performance.now() when the bench saw the "Runner ready" line. */
  readonly readyAt: number;
  /** The last lines the runner wrote to stderr, for error messages. */
  tail(): string;
}

const live = new Set<QueueRunner>();

/** Kills every live runner and every process it started, now (synchronous: usable in 'exit'). */
export function killRunnerTrees(): void {
  for (const runner of live) {
    const procs = descendants(runner.pid);
    try {
      runner.child.kill('SIGKILL');
    } catch {
      // already gone
    }
    killProcs(procs);
  }
  live.clear();
}

let registered = false;

/**
 * On every exit path (normal exit, signal, uncaught error): kill the runners with their job
 * processes, and remove the scratch working directories. Call before killSpawnedOnExit().
 */
export function killJobTreesOnExit(): void {
  if (registered) return;
  registered = true;
  process.on('exit', () => {
    killRunnerTrees();
    for (const dir of workDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // nothing more to do at exit
      }
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, killRunnerTrees);
  process.on('uncaughtException', killRunnerTrees);
  process.on('unhandledRejection', killRunnerTrees);
}

export function runnerCommand(spec: RuntimeSpec): string[] {
  return [...spec.runnerArgs, 'run', '--metrics-server', '127.0.0.1:0'];
}

/** Spawns the runner in workDir and waits (bounded) for its "Runner ready" line. */
export async function startQueueRunner(spec: RuntimeSpec, workDir: string): Promise<QueueRunner> {
  const child = track(spawn(spec.bin, runnerCommand(spec), { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderrText = '';
  let readyAt: number | undefined;
  let wake: (() => void) | undefined;
  child.stdout?.resume();
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderrText += s;
    if (readyAt === undefined && READY_RE.test(stderrText)) {
      readyAt = performance.now();
      wake?.();
    }
    if (stderrText.length > STDERR_KEEP_CHARS) stderrText = stderrText.slice(-STDERR_KEEP_CHARS);
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => { spawnError = err; wake?.(); });
  child.once('exit', () => wake?.());
  const tail = (): string => {
    const lines = stderrText.trimEnd().split('\n').slice(-15).join('\n');
    return lines === '' ? '(no stderr output)' : `runner stderr:\n${lines}`;
  };
  const runner: QueueRunner = {
    child,
    pid: child.pid ?? -1,
    get readyAt(): number { return readyAt ?? NaN; },
    tail,
  };
  if (child.pid !== undefined) live.add(runner);
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, WAIT_TIMEOUT_MS);
      wake = () => { clearTimeout(timer); resolve(); };
      if (readyAt !== undefined || hasExited(child) || spawnError !== undefined) wake();
    });
    wake = undefined;
    if (spawnError !== undefined) throw new Error(`cannot spawn ${spec.bin}: ${spawnError.message}`);
    if (readyAt === undefined) {
      throw new Error(hasExited(child)
        ? `runner exited (${child.signalCode ?? `code ${String(child.exitCode)}`}) before logging "Runner ready"`
        : `no "Runner ready" line within ${WAIT_TIMEOUT_MS} ms`);
    }
    // The runner logs its own pid: check it is the spawned process (not a wrapper around it).
    const logged = PID_RE.exec(stderrText)?.[1];
    if (logged !== undefined && Number(logged) !== child.pid) {
      throw new Error(`runner logged pid=${logged} but the spawned pid is ${String(child.pid)}: VmHWM would not be the runner's`);
    }
    return runner;
  } catch (err) {
    await killQueueRunner(runner);
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n${tail()}`);
  }
}

/**
 * Clean stop: SIGTERM (the runner cancels running jobs), wait up to 30 s, else SIGKILL; then
 * SIGKILL whatever the runner had started that is still alive. Returns how the runner exited.
 */
export async function stopQueueRunner(runner: QueueRunner): Promise<string> {
  const procs = hasExited(runner.child) ? [] : descendants(runner.pid);
  try {
    return await stop(runner.child);
  } finally {
    killProcs(procs);
    live.delete(runner);
  }
}

/** Error paths: SIGKILL the runner and every process it started, now. */
export async function killQueueRunner(runner: QueueRunner): Promise<void> {
  const procs = hasExited(runner.child) ? [] : descendants(runner.pid);
  if (runner.child.pid !== undefined && !hasExited(runner.child)) runner.child.kill('SIGKILL');
  killProcs(procs);
  live.delete(runner);
  if (runner.child.pid !== undefined) await waitForExit(runner.child, WAIT_TIMEOUT_MS).catch(() => undefined);
}
