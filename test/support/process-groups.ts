// Process groups of the tests' own making, for the tests of what ends them
// (the watchdog, the clean-up after a dead runner): start one, watch it go,
// and end it whatever happened.
import { type ChildProcess, spawn } from 'node:child_process';
import { groupMembers, readProcStat } from '../../src/system/proc-stat.ts';

/** A process group of its own running `script`; resolves once it runs, with its pgid and its leader's start time. */
export async function startGroup(script: string): Promise<{ child: ChildProcess; pgid: number; startTime: string }> {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  const pgid = child.pid!;
  return { child, pgid, startTime: readProcStat(pgid)!.startTime };
}

/** Whether the group still has live members, polled until `want` or `timeoutMs`; returns the last answer. */
export async function groupLiveAfter(pgid: number, want: boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const live = (groupMembers(pgid) ?? []).length > 0;
    if (live === want || performance.now() > deadline) return live;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone
  }
}
