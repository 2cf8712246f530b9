// Child processes of the benches that are not runners (a bare runtime, `df`, a reference
// script; runners go through the harness, test/support/runner-process.ts): tracking, bounded
// waits, and the check that a measured pid is the runtime itself.
//
// Every child the bench spawns goes through track(), so that killSpawnedOnExit() can SIGKILL it
// on any exit path of the bench (normal end, signal, uncaught error) and no runner is left
// behind. Every wait here is bounded by WAIT_TIMEOUT_MS so a hung child cannot hang the bench.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { descendants, readStatusMemory } from '../../src/system/proc-stat.ts';
import { killLiveRunners, killRunnersOnExit } from '../../test/support/runner-process.ts';
import { performance } from 'node:perf_hooks';
import { fmtMiB } from './stats.ts';

export const WAIT_TIMEOUT_MS = 30_000;
/** Cap on captured stdout/stderr, so a chatty child cannot grow the bench's memory. */
const STDERR_KEEP_CHARS = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Bookkeeping

const live = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      live.delete(child);
    }
  });
  return child;
}

export function killAll(): void {
  killLiveRunners();
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/**
 * Kills every tracked child whenever the bench exits. Called by the entry point rather than at
 * import time, so importing this module has no side effects on the process.
 */
export function killSpawnedOnExit(): void {
  killRunnersOnExit();
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll();
      process.stderr.write(`\nbench: interrupted by ${signal}, all spawned processes killed\n`);
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    killAll();
    process.stderr.write(`bench: unexpected error: ${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    killAll();
    process.stderr.write(`bench: unexpected error: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------
// Waiting and stopping

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves with a description of how the child exited; rejects after timeoutMs. */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<string> {
  const describe = (): string => child.signalCode !== null ? `signal ${child.signalCode}` : `code ${String(child.exitCode)}`;
  if (hasExited(child)) return Promise.resolve(describe());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`pid ${String(child.pid)} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(describe());
    };
    child.once('exit', onExit);
  });
}

/** Error paths use this so a child that is still running never outlives the step that spawned it. */
async function killIfRunning(child: ChildProcess): Promise<void> {
  if (child.pid !== undefined && !hasExited(child)) {
    child.kill('SIGKILL');
    await waitForExit(child, WAIT_TIMEOUT_MS).catch(() => undefined);
  }
}

export interface ExitResult {
  ms: number;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by `timeoutMs`, 30 s unless given) and measures spawn() to exit. */
export async function runToExit(bin: string, args: string[], cwd: string, timeoutMs = WAIT_TIMEOUT_MS): Promise<ExitResult> {
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  const child = track(spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    if (stdout.length < STDERR_KEEP_CHARS) stdout += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < STDERR_KEEP_CHARS) stderr += s;
  });
  try {
    const ms = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${bin} ${args.join(' ')} did not exit within ${timeoutMs} ms`)), timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      });
    });
    // 'exit' can precede the end of the output streams; wait (bounded) for 'close' to read all of it.
    if (child.stdout !== null && !child.stdout.readableEnded) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WAIT_TIMEOUT_MS);
        child.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return { ms, code: child.exitCode, signal: child.signalCode, stdout, stderr };
  } finally {
    await killIfRunning(child);
  }
}

// ---------------------------------------------------------------------------------------------
// /proc

/** How a process exited, as the bench reports it ("code 0", "signal SIGKILL"). */
export function describeExit(result: { code: number | null; signal: string | null }): string {
  return result.signal !== null ? `signal ${result.signal}` : `code ${String(result.code)}`;
}

/**
 * Checks that the spawned PID is the runtime binary itself (not a wrapper) and has no children:
 * otherwise its RSS would not be the runtime's own memory.
 */
export function checkProcess(pid: number, expectedBin: string): string {
  let exe: string;
  let argv0: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
    argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  } catch {
    return 'not checked (no /proc)';
  }
  const notes: string[] = [];
  let expected = expectedBin;
  try {
    expected = realpathSync(expectedBin);
  } catch {
    // keep as given
  }
  notes.push(exe === expected ? `pid is the runtime binary itself (exe=${exe}, argv0=${argv0})` : `WRAPPER? exe=${exe} is not ${expected} (argv0=${argv0})`);
  const kids = descendants(pid);
  if (kids.length === 0) {
    notes.push('no child processes');
  } else {
    const described = kids.map(({ pid: kid }) => {
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${kid}/comm`, 'utf8').trim();
      } catch {
        // gone
      }
      const rss = readStatusMemory(kid)?.residentBytes;
      return `${kid} ${comm} ${rss === undefined ? '?' : fmtMiB(rss / 1024)} MiB`;
    });
    notes.push(`CHILD PROCESSES (not in RSS figure): ${described.join(', ')}`);
  }
  return notes.join('; ');
}

/** Runs a benchmark's main, reports an error in one line, kills what it spawned and exits with its code. */
export async function runBench(main: () => Promise<number>): Promise<never> {
  let code = 1;
  try {
    code = await main();
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    killAll();
  }
  process.exit(code);
}
