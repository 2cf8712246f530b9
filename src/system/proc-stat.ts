// What the kernel tells about a process under /proc/PID (Linux): its one-line
// stat, its memory from status, its open descriptors and their limit.
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (zombie), T, ... */
  readonly state: string;
  /** Parent process id. */
  readonly ppid: number;
  /** Process group id. */
  readonly pgrp: number;
  /** Field 22, starttime, as the decimal text the kernel wrote (clock ticks since boot). */
  readonly startTime: string;
  /** CPU of the process and of its children it has waited for (fields 14-17), in clock ticks. */
  readonly cpuTicks: number;
}

/**
 * One buffer for every /proc read. A /proc file reports size 0, so
 * readFileSync reads it in 64 KiB chunks: a 64 KiB allocation (and a copy)
 * for a 300-byte stat line, on every scrape and for every process a /proc
 * walk visits. The files read here are a few KiB at most; reads are synchronous,
 * so nothing else uses the buffer meanwhile.
 */
const procBuffer = Buffer.allocUnsafe(16 * 1024);

/** A /proc file's text (latin1); throws as readFileSync does (ENOENT, ESRCH when the process is gone). */
function readProcFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    let length = 0;
    for (;;) {
      const read = readSync(fd, procBuffer, length, procBuffer.length - length, null);
      if (read === 0) return procBuffer.toString('latin1', 0, length);
      length += read;
      // Larger than any file read here should be: read it whole the ordinary way.
      if (length === procBuffer.length) return readFileSync(path, 'latin1');
    }
  } finally {
    closeSync(fd);
  }
}

/** USER_HZ: the unit of /proc's CPU times; 100 on every Linux architecture in use. */
export const CLOCK_TICKS_PER_SECOND = 100;

let procMounted: boolean | undefined;

function hasProc(): boolean {
  if (procMounted === undefined) {
    try {
      readProcFile('/proc/self/stat');
      procMounted = true;
    } catch {
      procMounted = false;
    }
  }
  return procMounted;
}

/** The process's stat; undefined if there is no such process; null if /proc cannot tell. */
export function readProcStat(pid: number): ProcStat | undefined | null {
  let text: string;
  try {
    text = readProcFile(`/proc/${pid}/stat`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return hasProc() ? undefined : null;
    return null;
  }
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses,
  // so the fields after it start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const ppid = Number(rest[4 - 3]);
  const pgrp = Number(rest[5 - 3]);
  const startTime = rest[22 - 3];
  if (state === undefined || startTime === undefined || !/^[0-9]+$/.test(startTime)) return null;
  let cpuTicks = 0;
  for (let field = 14; field <= 17; field++) cpuTicks += Number(rest[field - 3]) || 0;
  return { state, ppid, pgrp, startTime, cpuTicks };
}

/** A small /proc file's text; undefined when it cannot be read (the process is gone, no /proc). */
function readProcText(path: string): string | undefined {
  try {
    return readProcFile(path);
  } catch {
    return undefined;
  }
}

/** A process's memory as /proc/PID/status gives it, in bytes; a figure the kernel leaves out (a zombie's) is undefined. */
export interface StatusMemory {
  /** VmRSS: resident set size. */
  readonly residentBytes: number | undefined;
  /** VmHWM: the highest resident set size so far. */
  readonly peakResidentBytes: number | undefined;
  /** VmSize: virtual memory size. */
  readonly virtualBytes: number | undefined;
  /** VmData: private data mappings, the brk heap and anonymous memory (prom-client's process_heap_bytes). */
  readonly dataBytes: number | undefined;
}

const STATUS_MEMORY_LINE = /^(VmRSS|VmHWM|VmSize|VmData):\s+(\d+) kB$/gm;

/** The memory lines of /proc/PID/status; undefined when the process is gone or there is no /proc. */
export function readStatusMemory(pid: number | 'self'): StatusMemory | undefined {
  const text = readProcText(`/proc/${pid}/status`);
  if (text === undefined) return undefined;
  const bytes = new Map<string, number>();
  for (const [, key, kib] of text.matchAll(STATUS_MEMORY_LINE)) bytes.set(key!, Number(kib) * 1024);
  return { residentBytes: bytes.get('VmRSS'), peakResidentBytes: bytes.get('VmHWM'), virtualBytes: bytes.get('VmSize'), dataBytes: bytes.get('VmData') };
}

/** Resident memory of a process in bytes (VmRSS), undefined when it is gone. */
export function readRssBytes(pid: number): number | undefined {
  return readStatusMemory(pid)?.residentBytes;
}

/** Open file descriptors of a process, undefined when /proc cannot tell. */
export function countOpenFds(pid: number | 'self'): number | undefined {
  try {
    const count = readdirSync(`/proc/${pid}/fd`).length;
    // Listing our own fd directory holds one descriptor open for the listing itself.
    return pid === 'self' || pid === process.pid ? count - 1 : count;
  } catch {
    return undefined;
  }
}

/** The soft limit of open files ("Max open files" in /proc/PID/limits); undefined when unlimited or unknown. */
export function readOpenFilesLimit(pid: number | 'self'): number | undefined {
  const soft = /^Max open files\s+(\d+)/m.exec(readProcText(`/proc/${pid}/limits`) ?? '')?.[1];
  return soft === undefined ? undefined : Number(soft);
}

/**
 * Child pids of a process, empty when unknown. Linux lists children per
 * thread (/proc/PID/task/TID/children), under the thread that forked them,
 * so every thread is read: Deno spawns from a thread other than its main one.
 */
export function readChildren(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const task of tasks) {
    for (const child of (readProcText(`/proc/${pid}/task/${task}/children`) ?? '').split(/\s+/)) {
      if (/^\d+$/.test(child)) children.push(Number(child));
    }
  }
  return children;
}

/** A process as it was seen: its pid and start time, so a reused pid is never taken for it. */
export interface ProcessId {
  readonly pid: number;
  readonly startTime: string;
}

/** Every live descendant of a process (children, their children, ...), found by parent id across /proc. */
export function descendants(pid: number): ProcessId[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const children = new Map<number, ProcessId[]>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (!stat) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push({ pid: Number(entry), startTime: stat.startTime });
    children.set(stat.ppid, siblings);
  }
  const found: ProcessId[] = [];
  for (const queue = [pid]; queue.length > 0;) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/**
 * The live members of a process group (zombies left out: they have ended and
 * only wait to be reaped, which a container's pid 1 may never do), from
 * /proc; undefined where there is no /proc.
 */
export function groupMembers(pgid: number): ProcessId[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: ProcessId[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') members.push({ pid: Number(entry), startTime: stat.startTime });
  }
  return members;
}

/** Whether the process seen as `id` still runs (a new process with its pid is another one). */
export function isSameProcess(id: ProcessId): boolean {
  return readProcStat(id.pid)?.startTime === id.startTime;
}

/** This boot's id (/proc/sys/kernel/random/boot_id): pids and start times of another boot name nothing now. Undefined without /proc. */
export function bootId(): string | undefined {
  return readProcText('/proc/sys/kernel/random/boot_id')?.trim() || undefined;
}

/** Whether a pid exists, asked with signal 0 (for systems without /proc). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process seen as pid + start time still runs: the pid exists,
 * is no zombie, and has that start time (`unknown`: recorded where /proc
 * could not tell, then the pid's existence is all that is checked; likewise
 * where there is no /proc now).
 */
export function isProcessAlive(pid: number, startTime: string): boolean {
  const stat = readProcStat(pid);
  if (stat === undefined) return false;
  if (stat === null) return pidExists(pid);
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === 'unknown' || stat.startTime === startTime;
}
