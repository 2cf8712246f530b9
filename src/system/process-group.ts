// Runs one command in its own process group (its own session: spawn with
// `detached: true`), streams its output, and on timeout or cancel ends the
// whole group: SIGTERM to -pgid, SIGKILL after a grace period.
//
// When the command's own process exits, members of its group that are left
// (background jobs such as `sleep 1000 &`) are ended the same way: a step
// owns its group, and a leftover would otherwise keep the output pipe open
// and the step from ending. A process that leaves the group (setsid) escapes
// this; its copy of the output pipe is closed on our side after the grace
// period so the step still ends.
//
// Signals are sent with process.kill(), never child.kill(): Deno's
// child_process reports a child signalled through child.kill() as killed by
// that signal even when it exited 0.
//
// The runner's death: a watchdog per group (system/group-watchdog.ts) ends
// the group when the runner is gone, and the group is listed in the
// process's record (system/process-record.ts) for the next start to end
// what the watchdog could not.
//
// Output: stdout and stderr are both the write end of one named pipe
// (system/named-pipe.ts), whose read end is read into one reused buffer
// (system/pipe-reader.ts), so the runner's memory does not grow with the
// output on any runtime; the runtimes' own pipes allocate a buffer per read,
// which Bun and Deno collect late (a 1 GiB job raised Deno's peak RSS by
// about 100 MiB more than a 100 MiB one). Output is seen within 200 ms of
// being written (sooner while it flows). Where no named pipe can be made
// (no `mkfifo`), the runtime's pipes are used (outputPipe 'runtime').
import { openNamedPipe, type PipeEnds } from './named-pipe.ts';
import { readPipe } from './pipe-handle-reader.ts';
import { watchGroup } from './group-watchdog.ts';
import { groupMembers, readProcStat } from './proc-stat.ts';
import { trackGroup } from './process-record.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { closeSync } from 'node:fs';

export interface GroupCommand {
  readonly command: string;
  readonly args: readonly string[];
  /**
   * argv[0], the name the command calls itself (a shell, in its messages);
   * default `command`. Give `command` as a path then: Deno ignores an argv0
   * equal to the command it spawns, and passes the path it resolved instead.
   */
  readonly argv0?: string | undefined;
  /** Written to the command's stdin, which is then closed; default: no stdin. */
  readonly stdin?: string | undefined;
  /**
   * Instead of `stdin`: an open fd the command reads its stdin from (a regular file: a shell reads its script
   * from one in blocks, from a pipe a byte at a time). The caller keeps and closes it.
   */
  readonly stdinFd?: number | undefined;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  /**
   * Receives stdout and stderr chunks as they arrive, in the order they were
   * written (with outputPipe 'runtime', in that order within each of them);
   * called synchronously, nothing is buffered. A chunk is valid only during
   * the call (its buffer is reused): copy what you keep.
   */
  readonly onOutput: (chunk: Uint8Array) => void;
  /** Called once the process runs, with its pid (which is also its process group id). */
  readonly onStart?: (pid: number) => void;
  /** Milliseconds before the group is ended as timed out; Infinity for none. */
  readonly timeoutMs: number;
  /** Any of these aborting ends the group as canceled. */
  readonly cancelSignals: readonly AbortSignal[];
  /** Milliseconds between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  /**
   * How the output is read: 'named' (the default) through a named pipe read
   * into one reused buffer, falling back to 'runtime' where no named pipe can
   * be made; 'runtime' through the runtime's own pipes and streams.
   */
  readonly outputPipe?: 'named' | 'runtime';
}

export interface GroupResult {
  /** exited: the command ended by itself (whatever its status); otherwise why we ended it. */
  readonly outcome: 'exited' | 'timeout' | 'canceled';
  /** The exit status, 128 + the signal number when a signal ended it (as shells report it). */
  readonly exitCode: number;
  /** The signal that ended the command's own process, if one did. */
  readonly signal: string | undefined;
}

const POLL_MS = 20;
/** After SIGKILL: how long to wait for the group to be gone before giving up on it. */
const AFTER_KILL_MS = 2_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends a signal to every process in the group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/**
 * Whether the group still has a live member. A zombie counts as gone: it has
 * ended and only waits for its parent (or, orphaned, for pid 1) to reap it,
 * which a container's pid 1 may never do. Zombies still answer kill(), so on
 * Linux /proc tells them apart; elsewhere kill() is all there is.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  const members = groupMembers(pgid);
  return members === undefined || members.length > 0;
}

/** State and process group of a process; undefined when it is gone (or there is no /proc). */
export function procStat(pid: number): { state: string; pgrp: number } | undefined {
  return readProcStat(pid) ?? undefined;
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal === null ? undefined : (constants.signals as Record<string, number | undefined>)[signal];
  return 128 + (number ?? 0);
}

/** Reading a started child's output: done once it is all read (or stop() was called). */
interface OutputReading {
  readonly done: Promise<void>;
  /** Writers may have ended (the command exited, its group is gone): look for the end now. */
  wake(): void;
  /** Stops reading; what was not read yet is dropped. */
  stop(): void;
}

/** The runtime's pipes: one stream each for stdout and stderr. */
function readStreams(child: ChildProcess, onOutput: (chunk: Uint8Array) => void): OutputReading {
  const streams = [child.stdout, child.stderr].filter((s) => s !== null);
  const done = Promise.all(streams.map((stream) =>
    new Promise<void>((resolve) => {
      stream.on('data', (chunk: Uint8Array) => onOutput(chunk));
      stream.once('close', () => resolve()).once('error', () => resolve());
    })
  )).then(() => {});
  return {
    done,
    wake: () => {},
    stop: () => {
      for (const stream of streams) stream.destroy();
    },
  };
}

function readNamedPipe(pipe: PipeEnds, onOutput: (chunk: Uint8Array) => void): OutputReading {
  return readPipe(pipe.readFd, onOutput);
}

/**
 * Runs the command in its own process group until it and the rest of its
 * group have ended and its output is drained. Rejects only when the command
 * cannot be started.
 */
export async function runInProcessGroup(options: GroupCommand): Promise<GroupResult> {
  const pipe = options.outputPipe === 'runtime' ? undefined : await openNamedPipe().catch(() => undefined);
  let child: ChildProcess;
  try {
    child = spawn(options.command, [...options.args], {
      ...(options.argv0 === undefined ? {} : { argv0: options.argv0 }),
      cwd: options.cwd,
      env: { ...options.env },
      detached: true,
      stdio: [options.stdinFd ?? (options.stdin === undefined ? 'ignore' : 'pipe'), ...(pipe ? [pipe.writeFd, pipe.writeFd] : ['pipe', 'pipe'] as const)],
    });
  } catch (error) {
    if (pipe) { for (const fd of [pipe.readFd, pipe.writeFd]) closeSync(fd); }
    throw error;
  }

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  // Assigned once the child runs; the exit handler below may run before that.
  // deno-lint-ignore prefer-const -- the exit handler refers to it before its assignment
  let output: OutputReading | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      output?.wake();
      resolve();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } catch (error) {
    if (pipe) closeSync(pipe.readFd);
    throw error;
  } finally {
    // The child has its copies; ours would keep the pipe from ever reaching its end.
    if (pipe) closeSync(pipe.writeFd);
  }
  // Later errors (there are none we act on: signals go through process.kill) must not crash the process.
  child.on('error', () => {});
  const pgid = child.pid;
  if (pgid === undefined) {
    if (pipe) closeSync(pipe.readFd);
    throw new Error(`${options.command}: started without a pid`);
  }
  // Watched and recorded before its script arrives on stdin: should the runner die from here on, the group
  // ends with it (group-watchdog.ts), and what the watchdog missed the next start ends (dead-runners.ts).
  const leaderStart = readProcStat(pgid)?.startTime;
  const watchdog = watchGroup(pgid, leaderStart, options.graceMs);
  const untrack = leaderStart === undefined ? () => {} : trackGroup({ pgid, startTime: leaderStart, graceMs: options.graceMs });

  output = pipe ? readNamedPipe(pipe, options.onOutput) : readStreams(child, options.onOutput);
  if (exitInfo !== undefined) output.wake();
  if (options.stdinFd === undefined && options.stdin !== undefined && child.stdin) {
    // A command that ends before reading all of it closes the pipe: that is its business, not an error of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);
  }
  options.onStart?.(pgid);

  let outcome: GroupResult['outcome'] = 'exited';
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  let terminating = false;
  let killedAt: number | undefined;
  const terminate = (): void => {
    if (terminating) return;
    terminating = true;
    signalGroup(pgid, 'SIGTERM');
    killTimer = setTimeout(() => {
      killedAt = performance.now();
      signalGroup(pgid, 'SIGKILL');
    }, options.graceMs);
  };
  const stop = (why: 'timeout' | 'canceled'): void => {
    if (exitInfo !== undefined || outcome !== 'exited') return;
    outcome = why;
    terminate();
  };

  const timer = Number.isFinite(options.timeoutMs) ? setTimeout(() => stop('timeout'), Math.max(0, options.timeoutMs)) : undefined;
  const onAbort = (): void => stop('canceled');
  for (const signal of options.cancelSignals) {
    if (signal.aborted) stop('canceled');
    else signal.addEventListener('abort', onAbort, { once: true });
  }

  try {
    await exited;
    if (timer !== undefined) clearTimeout(timer);
    for (const signal of options.cancelSignals) signal.removeEventListener('abort', onAbort);

    // Leftover members of the group: end them (TERM, then KILL after the grace period).
    while (groupAlive(pgid)) {
      terminate();
      if (killedAt !== undefined && performance.now() - killedAt > AFTER_KILL_MS) break;
      await sleep(POLL_MS);
    }
    if (killTimer !== undefined) clearTimeout(killTimer);
    output.wake();

    // Output still held open by a process that left the group: stop reading after the grace period.
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const cut = new Promise<void>((resolve) => {
      graceTimer = setTimeout(() => {
        output.stop();
        resolve();
      }, options.graceMs);
    });
    await Promise.race([output.done, cut]);
    clearTimeout(graceTimer);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (killTimer !== undefined) clearTimeout(killTimer);
    for (const signal of options.cancelSignals) signal.removeEventListener('abort', onAbort);
    watchdog.release();
    untrack();
  }

  const info = exitInfo ?? { code: null, signal: null };
  return { outcome, exitCode: exitStatus(info.code, info.signal), signal: info.signal ?? undefined };
}
