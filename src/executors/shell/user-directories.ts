// A job's directories when it runs as another user: the project directory and
// `<project>.tmp` (file variables, git's credentials) are the user's, mode
// 0700, so no other job's user reads them; the directory that holds them is
// root's, mode 1777 (sticky, like /tmp), so the job can remove and make its
// own project directory again (GIT_STRATEGY=clone, empty) but no other entry.
//
// The runner is root here and users may plant entries in a 1777 directory, so
// nothing is ever followed: every directory below builds_dir that the runner
// walks through must be a real directory of root's (lstat), and an entry of a
// user's is removed by that user (rm run as its uid can harm nothing but the
// user's own files), never by the runner. Entries of root's inside a root
// directory cannot be renamed by a user (sticky bit), so what was checked
// stays what it was.
import { type Stats } from 'node:fs';
import { chmod, lchown, lstat, mkdir, rm } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { type JobUser, runSetpriv } from './job-user.ts';

const PRIVATE = 0o700;
const SHARED_PARENT = 0o1777;

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Makes the directories from `buildsDir` (trusted: the runner's configuration) down to `parent`, each a
 * real directory of root's, and `parent` mode 1777.
 */
export async function makeSharedParent(buildsDir: string, parent: string): Promise<void> {
  // What the runner makes here the job's user must pass through, whatever the runner's umask (0077 under systemd).
  const first = await mkdir(buildsDir, { recursive: true });
  if (first !== undefined) {
    for (let dir = buildsDir; dir.length >= first.length; dir = resolve(dir, '..')) await chmod(dir, 0o755);
  }
  const inside = relative(buildsDir, parent);
  if (inside.startsWith('..')) throw new Error(`${parent} is not under the builds directory ${buildsDir}`);
  let current = buildsDir;
  for (const part of inside === '' ? [] : inside.split(sep)) {
    current = resolve(current, part);
    const stats = await lstatOrUndefined(current);
    if (stats === undefined) {
      await mkdir(current, { mode: 0o755 });
      await chmod(current, 0o755);
    } else if (!stats.isDirectory() || stats.uid !== 0) {
      throw new Error(`${current} is not a directory of the runner's (a job's user may have made it): remove it`);
    }
  }
  await chmod(parent, SHARED_PARENT);
}

/** Runs `rm -rf PATH` as the uid that owns it. */
function removeAs(uid: number, gid: number, path: string, setpriv: string): Promise<void> {
  return runSetpriv(setpriv, [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', 'rm', '-r', '-f', '--', path], `removing ${path} as uid ${uid}`);
}

/** Removes what is at `path`: as its owner when a user's, by the runner when root's (nothing of a user's is inside then). */
export async function removeAsOwner(path: string, setpriv: string): Promise<void> {
  const stats = await lstatOrUndefined(path);
  if (stats === undefined) return;
  if (stats.uid === 0) await rm(path, { recursive: true, force: true });
  else await removeAs(stats.uid, stats.gid, path, setpriv);
  if (await lstatOrUndefined(path) !== undefined) throw new Error(`${path} could not be removed`);
}

/**
 * Makes `dir` the user's, mode 0700: a directory the user already owns is kept when `keep` (a project's
 * checkout; no process of the user runs now), anything else there is removed first.
 */
export async function userDirectory(dir: string, user: JobUser, keep: boolean, setpriv: string): Promise<void> {
  const stats = await lstatOrUndefined(dir);
  if (stats !== undefined && keep && stats.isDirectory() && stats.uid === user.uid) {
    await chmod(dir, PRIVATE);
    return;
  }
  await removeAsOwner(dir, setpriv);
  await mkdir(dir, { mode: PRIVATE });
  await lchown(dir, user.uid, user.gid);
  await chmod(dir, PRIVATE);
}
