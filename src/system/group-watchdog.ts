// A watchdog for the process groups of a runner's stages: ends them when the
// runner dies.
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
// the groups it watches end it. One watchdog serves all the groups of the
// process: a spawn blocks the runtime's event loop for the fork and exec
// (2-30 ms on a busy 2-core machine), and a watchdog per stage doubled the
// spawns of a trivial job. It reads lines: `watch PGID START GRACE` (a group
// to end should the runner die), `release PGID` (the group is over),
// `end PGID` (end that group now as on the runner's death; tests use it),
// and at the end of the pipe (the runner is gone) it ends every group it
// still watches: SIGTERM to the group, SIGKILL after the grace period, as a
// timeout would. Before it signals it checks the group leader's start time
// in /proc: the pid of a leader that is gone cannot have been reused while
// its group still had members (Linux keeps a pid in use while it names a
// group), so a leader pid that now shows another start time means the group
// is empty and the number is someone else's. Idle (no group watched) for a
// second, it is let go, so a process that runs no more stages can exit; a
// watchdog that died (killed by someone) is replaced at the next watch, and
// told of the groups still watched.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The name the watchdog goes by in `ps` (its $0), and that tests look for. */
export const WATCHDOG_NAME = 'runner-watchdog';

/** How long a watchdog with no group to watch is kept for the next stage. */
export const WATCHDOG_IDLE_MS = 1_000;

const SCRIPT = `
end_group() {
  pgid=$1 start=$2 grace=$3
  if [ "$start" != unknown ] && IFS= read -r stat < "/proc/$pgid/stat" 2>/dev/null; then
    set -f
    set -- \${stat##*) }
    [ "\${20}" = "$start" ] || return 0
  fi
  kill -TERM -"$pgid" 2>/dev/null || return 0
  while [ "$grace" -gt 0 ]; do
    sleep 1
    kill -0 -"$pgid" 2>/dev/null || return 0
    grace=$((grace - 1))
  done
  kill -KILL -"$pgid" 2>/dev/null
  return 0
}
groups=
while IFS=' ' read -r word pgid start grace; do
  case $word in
    watch) groups="$groups $pgid:$start:$grace" ;;
    release|end)
      kept=
      for g in $groups; do
        if [ "\${g%%:*}" != "$pgid" ]; then kept="$kept $g"
        elif [ "$word" = end ]; then rest=\${g#*:}; end_group "$pgid" "\${rest%%:*}" "\${rest#*:}" & fi
      done
      groups=$kept ;;
  esac
done
for g in $groups; do
  rest=\${g#*:}
  end_group "\${g%%:*}" "\${rest%%:*}" "\${rest#*:}" &
done
wait
exit 0
`;

/** /bin/sh where it is (nearly everywhere), else whichever sh PATH finds. */
const SHELL = existsSync('/bin/sh') ? '/bin/sh' : 'sh';

export interface GroupWatchdog {
  /** The group is over: the watchdog forgets it without signalling anything. Safe to call twice. */
  release(): void;
  /** Has the watchdog end the group as on the runner's death (tests use it to stand in for that death). */
  abandon(): void;
}

interface Watched {
  readonly pgid: number;
  readonly line: string;
}

/** One watchdog process and the groups it was told of; a new process when the last one is gone. */
export class SharedWatchdog {
  private child: ChildProcess | undefined;
  private readonly watched = new Map<number, Watched>();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  /** Watches group `pgid` (its leader started at `leaderStartTime`; undefined where /proc cannot tell). */
  watch(pgid: number, leaderStartTime: string | undefined, graceMs: number): GroupWatchdog {
    const entry: Watched = { pgid, line: `watch ${pgid} ${leaderStartTime ?? 'unknown'} ${Math.max(0, Math.ceil(graceMs / 1000))}\n` };
    this.watched.set(pgid, entry);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.child === undefined) {
      // A new watchdog (the first, or after one died): it learns of every group still watched.
      this.child = this.start();
      for (const w of this.watched.values()) this.send(w.line);
    } else {
      this.send(entry.line);
    }
    let done = false;
    const forget = (word: 'release' | 'end'): void => {
      if (done) return;
      done = true;
      if (this.watched.get(pgid) !== entry) return;
      this.watched.delete(pgid);
      this.send(`${word} ${pgid}\n`);
      if (this.watched.size === 0) this.idleSoon();
    };
    return { release: () => forget('release'), abandon: () => forget('end') };
  }

  /** Closes the pipe as the runner's death does: every group still watched is ended (tests stand in for that death with it). */
  close(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.watched.clear();
    const child = this.child;
    this.child = undefined;
    child?.stdin?.destroy();
  }

  private idleSoon(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.watched.size === 0) this.close();
    }, WATCHDOG_IDLE_MS);
  }

  private send(line: string): void {
    const stdin = this.child?.stdin;
    if (stdin !== null && stdin !== undefined && !stdin.destroyed) stdin.write(line);
  }

  /** Best effort: where no shell can be started the groups are simply not watched (the next start of the runner still ends them, see dead-runners.ts). */
  private start(): ChildProcess | undefined {
    let child: ChildProcess;
    try {
      child = spawn(SHELL, ['-c', SCRIPT, WATCHDOG_NAME], {
        // Its own session: a signal to the runner's group (a terminal's ^C, a test's kill) leaves it be.
        detached: true,
        stdio: ['pipe', 'ignore', 'ignore'],
        env: { PATH: process.env['PATH'] || '/usr/bin:/bin', LC_ALL: 'C' },
      });
    } catch {
      return undefined;
    }
    // A shell that could not start, or a watchdog killed by someone: the next watch starts another.
    const gone = (): void => {
      if (this.child === child) this.child = undefined;
    };
    child.on('error', gone);
    child.on('exit', gone);
    child.stdin?.on('error', () => {});
    return child;
  }
}

const processWatchdog = new SharedWatchdog();

/**
 * Watches process group `pgid`, whose leader started at `leaderStartTime`
 * (field 22 of /proc/PID/stat; undefined where /proc cannot tell), with this
 * process's watchdog.
 */
export function watchGroup(pgid: number, leaderStartTime: string | undefined, graceMs: number): GroupWatchdog {
  return processWatchdog.watch(pgid, leaderStartTime, graceMs);
}
