// Recovery of the local queue's dead claims: jobs claimed by a runner process
// that died (SIGKILL, power loss) are finished as `failed` with
// `runner_system_failure`, not run again, since a half-run job may have had
// side effects.
//
// Any number of live runners may recover at once: a recoverer first renames
// the dead claimer's directory claimed/DEAD to recovering/DEAD@SELF@NONCE,
// and only the one whose rename succeeded writes those jobs' results. If a
// recoverer dies in turn, its recovering/ directory is taken over the same
// way by the next one.
import { appendFile, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJobFile } from './job-file.ts';
import { isOwnerAlive, parseOwner } from './queue-owner.ts';
import {
  claimedDir,
  describeCode,
  type DoneRecord,
  ensureQueue,
  errorCode,
  FILE_MODE,
  jobIdOfFile,
  logPath,
  makeResult,
  nonce,
  QueueError,
  recoveringDir,
  resultPath,
  selfOwnerName,
  tmpDir,
  writeResult,
} from './queue-files.ts';

/** Moves `from` to recovering/DEAD@SELF@NONCE; undefined if another recoverer moved it first. */
async function takeOver(queueDir: string, from: string, dead: string, self: string): Promise<string | undefined> {
  const to = join(recoveringDir(queueDir), `${dead}@${self}@${nonce()}`);
  try {
    await rename(from, to);
    return to;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw new QueueError(`cannot move dead claim ${from} to ${to}: ${describeCode(error)}`);
  }
}

/** Finishes every job in a recovering/ directory this process took over, then removes it. */
async function finishDeadClaims(queueDir: string, dir: string, dead: string, self: string): Promise<DoneRecord[]> {
  const results: DoneRecord[] = [];
  const deadPid = parseOwner(dead)?.pid;
  for (const entry of (await readdir(dir)).sort()) {
    const id = jobIdOfFile(entry);
    if (id === undefined) continue;
    const path = join(dir, entry);
    // The claimer wrote the result but died before removing its job file.
    if (await stat(resultPath(queueDir, id)).then(() => true, () => false)) {
      await rm(path, { force: true });
      continue;
    }
    let name: string | null = null;
    try {
      name = parseJobFile(await readFile(path, 'utf8'), path).name;
    } catch {
      // The result says null; the log below says what happened.
    }
    // claimNext stamps the claim time on the file.
    const startedAt = await stat(path).then((info) => info.mtime, () => new Date());
    await appendFile(
      logPath(queueDir, id),
      `\n[runner] the runner process ${deadPid} (${dead}) that claimed this job died; ${self} finished it as failed ` +
        '(runner_system_failure) without running it again\n',
      { mode: FILE_MODE },
    );
    const result = makeResult({
      id,
      name,
      owner: dead,
      state: 'failed',
      failureReason: 'runner_system_failure',
      exitCode: null,
      startedAt,
      finishedAt: new Date(),
    });
    await writeResult(queueDir, result);
    await rm(path, { force: true });
    results.push(result);
  }
  await rm(dir, { recursive: true, force: true });
  return results;
}

/**
 * Finishes the jobs of dead claimers (see above) and removes their
 * directories and temp files; returns the results written by this call.
 * `isAlive` tells whether an owner (PID-STARTTIME) still runs; by default
 * from /proc. This process's own claims are never recovered.
 */
export async function recoverDeadClaims(
  queueDir: string,
  isAlive: (owner: string) => boolean = isOwnerAlive,
): Promise<DoneRecord[]> {
  await ensureQueue(queueDir);
  const self = selfOwnerName();
  const results: DoneRecord[] = [];

  for (const owner of (await readdir(claimedDir(queueDir))).sort()) {
    if (owner === self || !parseOwner(owner) || isAlive(owner)) continue;
    const dir = await takeOver(queueDir, join(claimedDir(queueDir), owner), owner, self);
    if (dir) results.push(...await finishDeadClaims(queueDir, dir, owner, self));
  }

  // Recoveries whose recoverer died before it was done.
  for (const name of (await readdir(recoveringDir(queueDir))).sort()) {
    const [dead, recoverer, rest] = name.split('@');
    if (dead === undefined || recoverer === undefined || rest === undefined || !parseOwner(dead) || !parseOwner(recoverer)) continue;
    if (recoverer === self || isAlive(recoverer)) continue;
    const dir = await takeOver(queueDir, join(recoveringDir(queueDir), name), dead, self);
    if (dir) results.push(...await finishDeadClaims(queueDir, dir, dead, self));
  }

  // Temp files (OWNER.NONCE.NAME) that dead writers left.
  for (const name of await readdir(tmpDir(queueDir))) {
    const owner = name.slice(0, name.indexOf('.'));
    if (owner !== self && parseOwner(owner) && !isAlive(owner)) await rm(join(tmpDir(queueDir), name), { force: true });
  }
  return results;
}
