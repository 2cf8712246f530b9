// /proc/PID/stat, the kernel's one-line view of a process (Linux).
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** R, S, D, Z (zombie), T, ... */
  readonly state: string;
  /** Process group id. */
  readonly pgrp: number;
  /** Field 22, starttime, as the decimal text the kernel wrote (clock ticks since boot). */
  readonly startTime: string;
}

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
  return { state, pgrp, startTime };
}
