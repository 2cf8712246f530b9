// A watchdog for one process group: ends the group when the runner dies.
//
// A job's stage runs in a process group (and session) of its own, so that it
// can be ended as a whole; the flip side is that nothing ends it when the
// runner itself is killed (SIGKILL, OOM killer, a crash): it would run on
// unsupervised, with no timeout, while the next runner reports the job
// failed. The kernel tells the watchdog of the runner's death: its stdin is a
// pipe whose only write end the runner holds, which reaches its end the
// moment the runner is gone, however it died, on every runtime (no
// prctl(PR_SET_PDEATHSIG) there, which would in any case reach one process
// only, and fire when the spawning thread ends rather than the process).
//
// The watchdog is a POSIX shell (about 1 MiB, a millisecond to start) in a
// session of its own, so neither a signal to the runner's process group nor
// the group it watches ends it. It reads one line: `release` (the runner
// says the group is over: exit) or the end of the pipe (the runner is gone:
// SIGTERM to the group, SIGKILL after the grace period, as a timeout would).
// Before it signals it checks the group leader's start time in /proc: the
// pid of a leader that is gone cannot have been reused while its group
// still had members (Linux keeps a pid in use while it names a group), so a
// leader pid that now shows another start time means the group is empty and
// the number is someone else's.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The name the watchdog goes by in `ps` (its $0), and that tests look for. */
export const WATCHDOG_NAME = 'runner-watchdog';

const SCRIPT = `
pgid=$1 start=$2 grace=$3
IFS= read -r word
[ "$word" = release ] && exit 0
if [ "$start" != unknown ] && IFS= read -r stat < "/proc/$pgid/stat" 2>/dev/null; then
  set -f
  set -- \${stat##*) }
  [ "\${20}" = "$start" ] || exit 0
fi
kill -TERM -"$pgid" 2>/dev/null || exit 0
while [ "$grace" -gt 0 ]; do
  sleep 1
  kill -0 -"$pgid" 2>/dev/null || exit 0
  grace=$((grace - 1))
done
kill -KILL -"$pgid" 2>/dev/null
exit 0
`;

/** /bin/sh where it is (nearly everywhere), else whichever sh PATH finds. */
const SHELL = existsSync('/bin/sh') ? '/bin/sh' : 'sh';

export interface GroupWatchdog {
  /** The group is over: the watchdog exits without signalling anything. Safe to call twice. */
  release(): void;
  /** Closes the pipe without a release, as the runner's death does (tests use it to stand in for that death). */
  abandon(): void;
}

/**
 * Starts a watchdog for process group `pgid`, whose leader started at
 * `leaderStartTime` (field 22 of /proc/PID/stat; undefined where /proc cannot
 * tell). Best effort: where no shell can be started the group is simply not
 * watched (the next start of the runner still ends it, see dead-runners.ts).
 */
export function watchGroup(pgid: number, leaderStartTime: string | undefined, graceMs: number): GroupWatchdog {
  let child: ChildProcess | undefined;
  try {
    child = spawn(SHELL, ['-c', SCRIPT, WATCHDOG_NAME, String(pgid), leaderStartTime ?? 'unknown', String(Math.max(0, Math.ceil(graceMs / 1000)))], {
      // Its own session: a signal to the runner's group (a terminal's ^C, a test's kill) leaves it be.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env['PATH'] || '/usr/bin:/bin', LC_ALL: 'C' },
    });
  } catch {
    child = undefined;
  }
  // A shell that could not start, or a watchdog killed by someone: nothing to act on.
  child?.on('error', () => {});
  child?.stdin?.on('error', () => {});
  let done = false;
  const close = (line: string | undefined): void => {
    if (done || child?.stdin === null || child?.stdin === undefined) return;
    done = true;
    if (line === undefined) child.stdin.destroy();
    else child.stdin.end(line);
  };
  return { release: () => close('release\n'), abandon: () => close(undefined) };
}
