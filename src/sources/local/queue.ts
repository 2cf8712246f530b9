// The local queue: a directory that jobs are submitted to and that any number
// of runner processes on the machine take jobs from (layout in queue-files.ts).
//
//   enqueue      validates a job file and writes it to pending/ atomically
//   claimNext    moves the oldest pending job into claimed/OWNER/ with one
//                rename(): of several processes racing for a job exactly one
//                rename succeeds, the others get ENOENT and try the next job
//   finish       writes done/ID.json atomically, then removes the claimed
//                job file (it may hold secrets)
//   recoverDeadClaims  finishes as failed the jobs of claimers that died
//                (queue-recover.ts)
//   waitForResult      polls for done/ID.json (for `runner submit --wait`)
//
// The job's log goes to done/ID.log (ClaimedJob.logPath, mode 0600 through
// openJobLog) while it runs, so a waiter can follow it; done/ID.json appears
// only when the job has ended.
import { appendFile, type FileHandle, open, readdir, readFile, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import { makeDirectories } from '../../system/make-directories.ts';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { ConfigError } from '../../config/validate.ts';
import type { JobState } from '../../job/result.ts';
import { type LocalJobDefinition, parseJobFile } from './job-file.ts';
import { NeedsGate } from './local-needs.ts';
import { newJobId } from './job-id.ts';
import { parseOwner } from './queue-owner.ts';
import {
  claimedDir,
  describeCode,
  DIR_MODE,
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
  resultPath,
  selfOwnerName,
  type StoredArtifacts,
  writeAtomic,
  writeResult,
} from './queue-files.ts';

export { artifactsPath, type DoneRecord, logPath, QueueError, readResult, resultPath, type StoredArtifacts } from './queue-files.ts';
export { isOwnerAlive, ownerOf, parseOwner, processStartTime } from './queue-owner.ts';
export { recoverDeadClaims } from './queue-recover.ts';

/** A job this process has claimed and must finish(). */
export interface ClaimedJob {
  readonly id: string;
  readonly spec: LocalJobDefinition;
  /** The claiming process, PID-STARTTIME. */
  readonly owner: string;
  /** claimed/OWNER/ID.toml (`url=` of /debug/jobs/list for local jobs). */
  readonly path: string;
  /** done/ID.log: where the job's (masked) log goes. */
  readonly logPath: string;
  readonly claimedAt: Date;
}

/** How a job ended, as finish() records it. */
export interface JobOutcome {
  readonly state: JobState;
  /** Required when failed; none on success. */
  readonly failureReason?: string | null;
  readonly exitCode?: number | null;
  readonly startedAt: Date;
  /** Default: now. */
  readonly finishedAt?: Date;
  /** The archive the job uploaded, if it did. */
  readonly artifacts?: StoredArtifacts | undefined;
}

/**
 * A job file's TOML for a job definition (the inverse of parseJobFile). A
 * definition a job file cannot express (several artifacts, reports) is a
 * ConfigError; resolved `dependencies` (DependencySpec) are not written.
 */
export function jobFileText(spec: LocalJobDefinition): string {
  const document: Record<string, unknown> = { name: spec.name, script: spec.script };
  if (spec.beforeScript.length > 0) document['before_script'] = spec.beforeScript;
  if (spec.afterScript.length > 0) document['after_script'] = spec.afterScript;
  if (spec.timeoutSeconds !== undefined) document['timeout'] = spec.timeoutSeconds;
  if (spec.repository) {
    document['repository'] = spec.repository.url;
    if (spec.repository.ref !== undefined) document['ref'] = spec.repository.ref;
  }
  if (spec.needs !== undefined) document['needs'] = spec.needs;
  if (spec.dependsOn !== undefined) document['dependencies'] = spec.dependsOn;
  if (spec.traceContext !== undefined) {
    const { traceId, parentSpanId, traceFlags, traceState } = spec.traceContext;
    document['traceparent'] = `00-${traceId}-${parentSpanId}-${traceFlags.toString(16).padStart(2, '0')}`;
    if (traceState !== undefined) document['tracestate'] = traceState;
  }
  if (spec.artifacts !== undefined && spec.artifacts.length > 0) {
    const [artifacts, ...more] = spec.artifacts;
    if (more.length > 0 || artifacts!.type !== 'archive' || artifacts!.format !== 'zip') {
      throw new ConfigError(`job ${spec.name}: artifacts: a local job has one zip archive of type archive, no reports`);
    }
    const { name, paths, exclude, untracked, when, expireIn } = artifacts!;
    document['artifacts'] = {
      paths,
      ...(exclude.length > 0 ? { exclude } : {}),
      ...(untracked ? { untracked } : {}),
      when,
      ...(expireIn !== undefined ? { expire_in: expireIn } : {}),
      ...(name !== undefined ? { name } : {}),
    };
  }
  if (spec.cache !== undefined && spec.cache.length > 0) {
    document['cache'] = spec.cache.map((c) => ({
      key: c.key,
      paths: c.paths,
      untracked: c.untracked,
      policy: c.policy,
      when: c.when,
      fallback_keys: c.fallbackKeys,
    }));
  }
  if (spec.variables.length > 0) {
    // fromEntries: a variable named __proto__ stays a plain key.
    document['variables'] = Object.fromEntries(spec.variables.map((v) => [v.key, v.masked ? { value: v.value, masked: true } : v.value]));
  }
  return `${stringify(document)}\n`;
}

/**
 * Validates a job (TOML text, or a job definition) and queues it; `origin` names it in
 * error messages (a ConfigError, and then nothing is queued). The id is unique
 * across concurrent submitters and sorts by submission time.
 */
export async function enqueue(queueDir: string, source: string | LocalJobDefinition, origin: string): Promise<{ id: string; path: string }> {
  const text = typeof source === 'string' ? source : jobFileText(source);
  parseJobFile(text, origin);
  await ensureQueue(queueDir);
  const id = newJobId();
  const path = join(pendingDir(queueDir), `${id}.toml`);
  await writeAtomic(queueDir, path, text);
  return { id, path };
}

function checkOwner(owner: string): void {
  if (!parseOwner(owner)) throw new QueueError(`queue owner ${JSON.stringify(owner)}: expected PID-STARTTIME such as 1234-567890`);
}

/**
 * Claims the oldest pending job for `owner` (by default this process), or
 * returns undefined if none is pending. A pending file that is not a valid job
 * (put there by hand), or cannot be read, is finished at once as failed
 * (data_integrity_failure, the reason in its log) and the next one is tried.
 */
export async function claimNext(
  queueDir: string,
  owner: string = selfOwnerName(),
  /** Told how many jobs were pending when the queue was listed (the claimed one included). */
  onListed?: (pending: number) => void,
): Promise<ClaimedJob | undefined> {
  checkOwner(owner);
  await ensureQueue(queueDir);
  const ownerDir = join(claimedDir(queueDir), owner);
  try {
    await makeDirectories(ownerDir, DIR_MODE);
  } catch (error) {
    throw new QueueError(`cannot create claim directory ${ownerDir}: ${describeCode(error)}`);
  }
  const names = (await readdir(pendingDir(queueDir))).filter((name) => jobIdOfFile(name) !== undefined).sort();
  onListed?.(names.length);
  const gate = new NeedsGate(queueDir);
  for (const name of names) {
    const id = jobIdOfFile(name)!;
    const pending = join(pendingDir(queueDir), name);
    const path = join(ownerDir, name);
    // Read once, before the claim: a pending file is put there whole (renamed in) and never
    // changed, so what is read here is what is claimed.
    let job: LocalJobDefinition | Error;
    try {
      job = parseJobFile(await readFile(pending, 'utf8'), path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue; // another process took it
      if (!(error instanceof ConfigError) && errorCode(error) === undefined) throw error;
      job = error instanceof ConfigError ? error : new Error(`cannot read job file ${pending}: ${describeCode(error)}`, { cause: error });
    }
    // A job whose needs have not ended stays pending (GitLab's needs: wait for them).
    if (!(await gate.ready(id, job instanceof Error ? undefined : job))) continue;
    try {
      await rename(pending, path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw new QueueError(`cannot claim ${pending}: ${describeCode(error)}`);
      // Another process took it, unless our own claim directory is gone.
      if (!(await stat(ownerDir).catch(() => undefined))?.isDirectory()) {
        throw new QueueError(`claim directory ${ownerDir}: expected a directory, but it disappeared`);
      }
      continue;
    }
    const claimedAt = new Date();
    // The claim time, for recovery to report when a dead claimer's job started.
    await utimes(path, claimedAt, claimedAt).catch(() => undefined);
    if (job instanceof Error) {
      await appendLog(queueDir, id, `[runner] invalid job file: ${job.message}\n`);
      await writeResult(
        queueDir,
        makeResult({
          id,
          name: null,
          owner,
          state: 'failed',
          failureReason: 'data_integrity_failure',
          exitCode: null,
          startedAt: claimedAt,
          finishedAt: new Date(),
        }),
      );
      // Recursive: what cannot be read may be a directory by a job file's name.
      await rm(path, { force: true, recursive: true });
      continue;
    }
    return { id, spec: job, owner, path, logPath: logPath(queueDir, id), claimedAt };
  }
  return undefined;
}

/** Appends to done/ID.log (created mode 0600). */
export async function appendLog(queueDir: string, id: string, text: string): Promise<void> {
  await appendFile(logPath(queueDir, id), text, { mode: FILE_MODE });
}

/** Opens done/ID.log for the job's log, truncated, mode 0600; the caller closes it. */
export async function openJobLog(job: ClaimedJob): Promise<FileHandle> {
  return open(job.logPath, 'w', FILE_MODE);
}

/** Records how a claimed job ended (done/ID.json) and removes its claimed file. */
export async function finish(queueDir: string, job: ClaimedJob, outcome: JobOutcome): Promise<DoneRecord> {
  const result = makeResult({
    id: job.id,
    name: job.spec.name,
    owner: job.owner,
    state: outcome.state,
    failureReason: outcome.failureReason,
    exitCode: outcome.exitCode,
    startedAt: outcome.startedAt,
    finishedAt: outcome.finishedAt ?? new Date(),
    artifacts: outcome.artifacts,
  });
  await writeResult(queueDir, result);
  try {
    await rm(job.path, { force: true });
  } catch (error) {
    throw new QueueError(`cannot remove claimed job file ${job.path}: ${describeCode(error)}`);
  }
  return result;
}

/**
 * Where a job is: pending, claimed (running, or being recovered), done, or
 * undefined if the queue has no such job. The places are looked at in the
 * order a job moves through them, so a job moving meanwhile is still found.
 */
export async function jobState(queueDir: string, id: string): Promise<'pending' | 'claimed' | 'done' | undefined> {
  const file = `${id}.toml`;
  const exists = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined)) !== undefined;
  if (await exists(join(pendingDir(queueDir), file))) return 'pending';
  for (const parent of [claimedDir(queueDir), recoveringDir(queueDir)]) {
    for (const dir of await readdir(parent).catch(() => [])) {
      if (await exists(join(parent, dir, file))) return 'claimed';
    }
  }
  return (await exists(resultPath(queueDir, id))) ? 'done' : undefined;
}

export interface WaitOptions {
  /** Between polls; clamped to 10..1000 ms. Default 200. */
  readonly intervalMs?: number;
  /** Give up (QueueError) after this long; default: wait as long as the job is queued or running. */
  readonly timeoutMs?: number;
  /** Abort the wait (rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/**
 * Resolves with done/ID.json once the job has ended. Rejects with a QueueError
 * if the queue has no such job, or when timeoutMs passes.
 */
export async function waitForResult(queueDir: string, id: string, options: WaitOptions = {}): Promise<DoneRecord> {
  const interval = Math.min(1000, Math.max(10, options.intervalMs ?? 200));
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  let missing = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const result = await readResult(queueDir, id);
    if (result) return result;
    const state = await jobState(queueDir, id);
    // Twice: a recoverer taking over another's recovery can hide a job from one look.
    missing = state === undefined ? missing + 1 : 0;
    if (missing >= 2) throw new QueueError(`queue ${queueDir}: no job ${id} (not pending, claimed or done)`);
    if (state === 'done') continue;
    if (Date.now() >= deadline) throw new QueueError(`job ${id} in ${queueDir} did not finish within ${options.timeoutMs} ms`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(interval, Math.max(0, deadline - Date.now())));
      function done(): void {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', done);
        resolve();
      }
      options.signal?.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Stamps this process's claim directory with the time (its mtime) at each
 * turn of the runner's loop, whether or not it has a free slot, so that
 * `runner submit --wait` can tell a job the runner has not looked at yet from
 * one it looked at and left pending. Before the first claim attempt there is
 * no directory to stamp; never fails.
 */
export async function markLooked(queueDir: string, owner: string = selfOwnerName(), at: Date = new Date()): Promise<void> {
  await utimes(join(claimedDir(queueDir), owner), at, at).catch(() => undefined);
}

/** Removes this process's empty claim directory (at clean shutdown); never fails. */
export async function leaveQueue(queueDir: string, owner: string = selfOwnerName()): Promise<void> {
  await rmdir(join(claimedDir(queueDir), owner)).catch(() => undefined);
}
