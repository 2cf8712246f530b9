// What a local queue holds now, for `runner list`, `runner cancel` and
// `runner submit --wait`: the jobs that have not ended (pending, claimed by a
// runner process, being recovered from a dead one), who claims jobs from it,
// and the removal of a pending job.
//
// Cancelling takes a pending job the way a runner claims one: one rename()
// out of pending/ (into tmp/, under this process's name), so of a canceller
// and a claimer racing for the job exactly one gets it. The canceller then
// writes done/ID.json as `canceled`, so a `runner submit --wait` following
// the job ends too. A job already claimed is running in some runner process:
// the local queue has no way to tell that process to cancel it (a coordinator
// does that for GitLab jobs), so cancelling it is refused with what to do
// instead.
import { appendFile, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJobFile } from './job-file.ts';
import { isJobId, jobIdTime } from './job-id.ts';
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
  pendingDir,
  QueueError,
  readResult,
  recoveringDir,
  selfOwnerName,
  tempName,
  tmpDir,
  writeResult,
} from './queue-files.ts';

export interface QueuedJob {
  readonly id: string;
  /** pending: waiting for a runner; running: claimed by `owner`; recovering: its claimer died, a live runner is finishing it as failed. */
  readonly state: 'pending' | 'running' | 'recovering';
  /** The job's name; null if its file cannot be read. */
  readonly name: string | null;
  /** The claiming runner process (PID-STARTTIME), for running and recovering jobs. */
  readonly owner: string | undefined;
  /** Whether the claimer still runs (false: its job is recovered at the next look of a live runner). */
  readonly ownerAlive: boolean | undefined;
  /** Submission time (ms since 1970, from the id). */
  readonly submittedAt: number;
  /** When it was claimed (the claimed file's time); undefined while pending. */
  readonly claimedAt: number | undefined;
}

async function nameOf(path: string): Promise<string | null> {
  try {
    return parseJobFile(await readFile(path, 'utf8'), path).name;
  } catch {
    return null;
  }
}

const entries = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

/** The job files of `dir` as (id, path), oldest first. */
async function jobFiles(dir: string): Promise<{ id: string; path: string }[]> {
  return (await entries(dir))
    .flatMap((name) => {
      const id = jobIdOfFile(name);
      return id === undefined ? [] : [{ id, path: join(dir, name) }];
    })
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * Every job of the queue that has not ended, running (and recovering) ones
 * first, each group oldest first. A job moving meanwhile may be missed or seen twice (the
 * places are read one after the other); a second id is dropped.
 */
export async function listJobs(queueDir: string): Promise<QueuedJob[]> {
  const jobs: QueuedJob[] = [];
  const seen = new Set<string>();
  const add = async (state: QueuedJob['state'], path: string, id: string, owner: string | undefined): Promise<void> => {
    if (seen.has(id)) return;
    seen.add(id);
    const claimedAt = owner === undefined ? undefined : await stat(path).then((info) => info.mtimeMs, () => undefined);
    const ownerAlive = owner === undefined ? undefined : parseOwner(owner) !== undefined && isOwnerAlive(owner);
    jobs.push({ id, state, name: await nameOf(path), owner, ownerAlive, submittedAt: jobIdTime(id)!, claimedAt });
  };
  for (const owner of (await entries(claimedDir(queueDir))).sort()) {
    for (const { id, path } of await jobFiles(join(claimedDir(queueDir), owner))) await add('running', path, id, owner);
  }
  // recovering/DEAD@RECOVERER@NONCE: the job's owner is the dead claimer.
  for (const dir of (await entries(recoveringDir(queueDir))).sort()) {
    const dead = dir.split('@')[0]!;
    for (const { id, path } of await jobFiles(join(recoveringDir(queueDir), dir))) await add('recovering', path, id, dead);
  }
  for (const { id, path } of await jobFiles(pendingDir(queueDir))) await add('pending', path, id, undefined);
  const rank = (job: QueuedJob): number => (job.state === 'pending' ? 1 : 0);
  return jobs.sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The runner processes that serve the queue now: those with a claim
 * directory (a runner makes its claimed/OWNER/ when it first asks for a job
 * and removes it when it stops) whose process still runs.
 */
export async function liveClaimers(queueDir: string): Promise<string[]> {
  return (await entries(claimedDir(queueDir))).filter((owner) => parseOwner(owner) !== undefined && isOwnerAlive(owner)).sort();
}

export interface Claimer {
  /** The runner process, PID-STARTTIME. */
  readonly owner: string;
  /** When it last looked at the queue (its claim directory's mtime, see markLooked), ms since 1970. */
  readonly lookedAt: number;
}

/** The live claimers (liveClaimers) with when each last looked at the queue; one that vanished meanwhile is left out. */
export async function claimerLooks(queueDir: string): Promise<Claimer[]> {
  const looks = await Promise.all(
    (await liveClaimers(queueDir)).map(async (owner) => {
      const info = await stat(join(claimedDir(queueDir), owner)).catch(() => undefined);
      // Rounded: Node derives mtimeMs from seconds and nanoseconds in floating point, 1 ms stamped reads back as 0.999.
      return info === undefined ? [] : [{ owner, lookedAt: Math.round(info.mtimeMs) }];
    }),
  );
  return looks.flat();
}

/** The pid of an owner name, for messages. */
export function ownerPid(owner: string): string {
  return String(parseOwner(owner)?.pid ?? owner);
}

/**
 * Removes a pending job from the queue and records it as canceled
 * (done/ID.json, a line in done/ID.log). A job that is running, has ended or
 * does not exist is a QueueError saying so; nothing is changed then.
 */
export async function cancelPendingJob(queueDir: string, id: string): Promise<DoneRecord> {
  if (!isJobId(id)) {
    throw new QueueError(
      `${JSON.stringify(id)} is not a job id (expected an id as 'runner submit' and 'runner list' print, such as 0mwrea97y-h22-00002a-9c41e07fd2)`,
    );
  }
  await ensureQueue(queueDir);
  const from = join(pendingDir(queueDir), `${id}.toml`);
  const taken = join(tmpDir(queueDir), tempName(from, selfOwnerName()));
  try {
    await rename(from, taken);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw new QueueError(`cannot take ${from} out of the queue: ${describeCode(error)}`);
    throw await notPending(queueDir, id);
  }
  const name = await nameOf(taken);
  const now = new Date();
  await appendFile(logPath(queueDir, id), `[runner] canceled while pending by 'runner cancel' (process ${process.pid}); it never ran\n`, { mode: FILE_MODE });
  const result = makeResult({ id, name, owner: selfOwnerName(), state: 'canceled', failureReason: null, exitCode: null, startedAt: now, finishedAt: now });
  await writeResult(queueDir, result);
  // The job file may hold masked values: it goes once the result is there.
  await rm(taken, { force: true });
  return result;
}

/** Why a job that is not in pending/ cannot be canceled. */
async function notPending(queueDir: string, id: string): Promise<QueueError> {
  const running = (await listJobs(queueDir)).find((job) => job.id === id);
  if (running !== undefined) {
    const by = running.owner === undefined ? '' : ` in runner process ${ownerPid(running.owner)}`;
    return new QueueError(
      `job ${id} is ${running.state === 'running' ? `running${by}` : `being finished as failed (its runner process ${ownerPid(running.owner ?? '')} died)`}: ` +
        `the local queue cannot cancel a job that has started; stop that runner (SIGINT or SIGTERM cancel its jobs) or wait for the job to end`,
    );
  }
  const done = await readResult(queueDir, id);
  if (done !== undefined) return new QueueError(`job ${id} has already ended (${done.state}): there is nothing to cancel`);
  return new QueueError(`no job ${id} in queue ${queueDir} (see 'runner list')`);
}
