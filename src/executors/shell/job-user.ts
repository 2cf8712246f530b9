// Running a shell job as another user (`user` of [[runners]]).
//
// GitLab Runner starts `su -s /bin/bash USER -c 'bash -l'`. That does not do
// here: `su -c` puts the shell in a session of its own (against TIOCSTI), so
// the stage's process group holds only su and a timeout or cancel no longer
// reaches the job's processes; it passes the runner's environment on; and
// PAM's session (pam_systemd) may move the job out of the runner's cgroup.
// `setpriv` (util-linux) changes the uid, gid and groups and execs the shell
// in place: the shell keeps the pid that is the process group, the runner
// hands it the environment it chose, and no PAM runs. Capabilities are
// dropped from the inheritable and ambient sets, so a runner holding
// CAP_SETUID without being root cannot pass it on.
//
// A user is held by one running job at a time (UserLeases), so every process
// of that uid is the job's: after each stage they all end (`kill -KILL -1`
// run as the user, which reaches every process the user may signal in one
// pass of the kernel, forks included), and the runner touches the job's
// files (caches, artifacts, removal) only while no process of the user runs.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/table-reader.ts';
import type { Config } from '../../config/types.ts';
import { groupAlive } from '../../system/process-group.ts';
import { DEFAULT_PATH, which } from './detect-shell.ts';

export interface JobUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Capabilities the runner uses for a job's user: chown, read and remove its files, signal it, switch to it. */
const NEEDED_CAPABILITIES: ReadonlyArray<readonly [bit: number, name: string]> = [
  [0, 'CAP_CHOWN'],
  [1, 'CAP_DAC_OVERRIDE'],
  [3, 'CAP_FOWNER'],
  [5, 'CAP_KILL'],
  [6, 'CAP_SETGID'],
  [7, 'CAP_SETUID'],
];

/** A passwd line's fields, when its name (or, for a number, its uid) is `user`. */
function passwdEntry(line: string, user: string): JobUser | undefined {
  const fields = line.split(':');
  if (fields.length < 7) return undefined;
  const [name, , uid, gid, , home] = fields as [string, string, string, string, string, string];
  if (name !== user && !(/^\d+$/.test(user) && uid === user)) return undefined;
  if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  return { name, uid: Number(uid), gid: Number(gid), home };
}

/** The user's passwd entry: /etc/passwd, else `getent passwd` (NSS: LDAP, sssd); undefined when there is none. */
export function lookupUser(user: string): JobUser | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const entry = passwdEntry(line, user);
      if (entry !== undefined) return entry;
    }
  } catch {
    // no /etc/passwd: getent may still know
  }
  try {
    const line = execFileSync('getent', ['passwd', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return passwdEntry(line.trim(), user);
  } catch {
    return undefined;
  }
}

/** Why this process cannot run jobs as other users; undefined when it can. */
export function cannotSwitchUsers(): string | undefined {
  let effective: bigint | undefined;
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (hex !== undefined) effective = BigInt(`0x${hex}`);
  } catch {
    // no /proc: only root can tell
  }
  const uid = process.getuid?.();
  if (effective === undefined) {
    if (uid !== 0) return `the runner runs as uid ${uid ?? 'unknown'}, not root`;
  } else {
    const missing = NEEDED_CAPABILITIES.filter(([bit]) => (effective! & (1n << BigInt(bit))) === 0n).map(([, name]) => name);
    if (missing.length > 0) return `the runner (uid ${uid ?? 'unknown'}) lacks ${missing.join(', ')}: run it as root`;
  }
  if (setprivPath() === undefined) return 'setpriv (util-linux) is not on PATH';
  return undefined;
}

export function setprivPath(): string | undefined {
  return which('setpriv', process.env['PATH'] || DEFAULT_PATH);
}

/**
 * The check of `runner run` (at start and on SIGHUP) for every runner with `user`: the runner can
 * switch users, and each user exists, is not root, and has a uid no other job user has.
 */
export function checkJobUsersOnHost(config: Config, origin: string): void {
  const uids = new Map<number, string>();
  let reason: string | undefined;
  for (const [i, runner] of config.runners.entries()) {
    for (const [j, name] of runner.user.entries()) {
      const key = `${origin}: runners[${i}].${runner.user.length === 1 ? 'user' : `user[${j}]`}`;
      reason ??= cannotSwitchUsers();
      if (reason !== undefined) throw new ConfigError(`${key}: cannot run jobs as ${JSON.stringify(name)}: ${reason}`);
      const user = lookupUser(name);
      if (user === undefined) throw new ConfigError(`${key}: no user ${JSON.stringify(name)} on this machine (create it with useradd)`);
      if (user.uid === 0) throw new ConfigError(`${key}: ${JSON.stringify(name)} is root (uid 0); jobs need an unprivileged user`);
      const other = uids.get(user.uid);
      if (other !== undefined) {
        throw new ConfigError(`${key}: ${JSON.stringify(name)} has uid ${user.uid}, as ${JSON.stringify(other)} has; each job needs a uid of its own`);
      }
      uids.set(user.uid, name);
    }
  }
}

/** The argv of `setpriv` that runs `command` as `user`, with the user's groups and no capabilities. */
export function setprivArgs(user: JobUser, command: readonly string[]): string[] {
  return [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--inh-caps=-all', '--ambient-caps=-all', '--', ...command];
}

/** Users held by running jobs, across all runners of this process: one job a user. */
export class UserLeases {
  private readonly held = new Set<string>();

  /** The first of `users` no running job holds, now held; undefined when every one is. */
  take(users: readonly string[]): string | undefined {
    const free = users.find((user) => !this.held.has(user));
    if (free !== undefined) this.held.add(free);
    return free;
  }

  release(user: string): void {
    this.held.delete(user);
  }
}

/** Runs setpriv with `args` to its end; rejects, saying `what` failed, unless it exits 0. */
export function runSetpriv(setpriv: string, args: readonly string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(setpriv, args, { stdio: 'ignore', env: { PATH: process.env['PATH'] || DEFAULT_PATH } });
    child.once('error', (error) => reject(new Error(`${what}: ${error.message}`, { cause: error })));
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${what}: exited with ${code ?? signal}`))));
  });
}

/**
 * Ends every process of `user` (SIGKILL): `kill -KILL -1` run as the user reaches all the processes it
 * may signal in one pass, so none can fork its way out. Rejects when that cannot be done.
 */
export function endProcessesOf(user: JobUser, setpriv: string, shell: string): Promise<void> {
  // One at a time for a user: two such killers would kill each other (each is a process of the user).
  const previous = ending.get(user.uid) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => endWithRetries(user, setpriv, shell));
  ending.set(user.uid, next);
  void next.catch(() => undefined).finally(() => {
    if (ending.get(user.uid) === next) ending.delete(user.uid);
  });
  return next;
}

/** The kill in flight for each uid. */
const ending = new Map<number, Promise<void>>();
/** A process of the user may kill the killer before it acts (it runs as the user too): try again, then fail. */
const KILL_ATTEMPTS = 3;

async function endWithRetries(user: JobUser, setpriv: string, shell: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      return await runSetpriv(setpriv, setprivArgs(user, [shell, '-c', 'kill -9 -1 2>/dev/null; exit 0']), `ending the processes of user ${user.name}`);
    } catch (error) {
      if (attempt >= KILL_ATTEMPTS) throw error;
    }
  }
}

const ESCAPEE_POLL_MS = 100;

/** Whether the process exists (a zombie not yet reaped included): kill(0) needs no /proc, which may hide it (hidepid). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Once a stage's shell and the rest of its process group have ended, calls `end` at once: a process
 * that left the group (setsid) and holds the output pipe would otherwise keep the stage open for
 * the kill grace period. Costs one kill(0) a poll while the shell runs. Returns the stop.
 */
export function watchForEscapees(pgid: number, end: () => Promise<void>): () => void {
  const timer = setInterval(() => {
    if (exists(pgid) || groupAlive(pgid)) return;
    clearInterval(timer);
    void end().catch(() => undefined);
  }, ESCAPEE_POLL_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}
