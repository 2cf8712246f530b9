// /proc/PID/stat, the kernel's one-line view of a process (Linux).
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (zombie), T, ... */
  readonly state: string;
  /** Process group id. */
  readonly pgrp: number;
  /** Field 22, starttime, as the decimal text the kernel wrote (clock ticks since boot). */
  readonly startTime: string;
  /** CPU of the process and of its children it has waited for (fields 14-17), in clock ticks. */
  readonly cpuTicks: number;
}

/** USER_HZ: the unit of /proc's CPU times; 100 on every Linux architecture in use. */
export const CLOCK_TICKS_PER_SECOND = 100;

let procMounted: boolean | undefined;

function hasProc(): boolean {
  if (procMounted === undefined) {
    try {
      readFileSync('/proc/self/stat');
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
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return hasProc() ? undefined : null;
    return null;
  }
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses,
  // so the fields after it start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const pgrp = Number(rest[5 - 3]);
  const startTime = rest[22 - 3];
  if (state === undefined || startTime === undefined || !/^[0-9]+$/.test(startTime)) return null;
  let cpuTicks = 0;
  for (let field = 14; field <= 17; field++) cpuTicks += Number(rest[field - 3]) || 0;
  return { state, pgrp, startTime, cpuTicks };
}

/** Resident memory of a process in bytes (VmRSS), undefined when it is gone. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const match = readFileSync(`/proc/${pid}/status`, 'latin1').match(/^VmRSS:\s+(\d+) kB/m);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Child pids of a process (Linux's /proc/PID/task/PID/children), empty when unknown. */
export function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
