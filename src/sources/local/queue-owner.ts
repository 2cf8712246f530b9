// Who claimed a job of the local queue: an owner names the claiming process as
// PID-STARTTIME, STARTTIME being field 22 of /proc/PID/stat (clock ticks since
// boot), so a pid the kernel has since given to another process is told apart.
//
// An owner is alive while /proc/PID/stat exists, is not a zombie, and shows
// the same start time. Without /proc (not Linux) the start time is recorded as
// `unknown` and only the pid's existence is checked (signal 0). Pids are per
// pid namespace: runners in different containers must not share a queue
// directory unless they share the pid namespace too.
import { isProcessAlive, readProcStat } from '../../system/proc-stat.ts';

/** Matches an owner: PID-STARTTIME with STARTTIME digits or `unknown`. */
export const OWNER_PATTERN = /^([1-9][0-9]*)-([0-9]+|unknown)$/;

/** The start time of a process (field 22 of /proc/PID/stat), or undefined where /proc cannot tell. */
export function processStartTime(pid: number): string | undefined {
  return readProcStat(pid)?.startTime;
}

/** The owner name of a process (by default this one): PID-STARTTIME. */
export function ownerOf(pid: number = process.pid): string {
  return `${pid}-${processStartTime(pid) ?? 'unknown'}`;
}

/** The pid and start time an owner name holds; undefined if `name` is not an owner name. */
export function parseOwner(name: string): { pid: number; startTime: string } | undefined {
  const match = OWNER_PATTERN.exec(name);
  if (!match) return undefined;
  const pid = Number(match[1]);
  return Number.isSafeInteger(pid) ? { pid, startTime: match[2]! } : undefined;
}

/**
 * Whether the process an owner names still runs: its pid exists, is no
 * zombie, and has the owner's start time. A name that is not an owner name is
 * reported alive, so nothing acts on a directory it does not understand.
 */
export function isOwnerAlive(owner: string): boolean {
  const parsed = parseOwner(owner);
  return parsed === undefined || isProcessAlive(parsed.pid, parsed.startTime);
}
