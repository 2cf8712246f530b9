// The local queue's directory layout and the file operations every part of it
// shares: creating the layout, atomic writes, and the done/ID.json records.
//
//   QUEUE_DIR/                      mode 0700, created if missing
//     tmp/                          files being written, renamed into place when complete
//     pending/ID.toml               queued jobs, oldest id first
//     claimed/OWNER/ID.toml         jobs being run by the process OWNER (PID-STARTTIME)
//     recovering/DEAD@OWNER@NONCE/  claims of the dead process DEAD being finished by OWNER
//     done/ID.json                  results (never a variable's value)
//     done/ID.log                   logs (masked)
//     done/ID.artifacts.zip         the job's artifacts archive, until it expires (artifact-store.ts)
//
// Every file is mode 0600: job files can hold masked values, and logs hold
// whatever a job printed. Results and job files are written to tmp/ first,
// synced, and renamed into place, so a reader sees a whole file or none.
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { makeDirectories } from '../../system/make-directories.ts';
import { join } from 'node:path';
import { JOB_STATES, type JobState } from '../../job/result.ts';
import { isJobId } from './job-id.ts';
import { ownerOf } from './queue-owner.ts';

/** A one-line error about the queue directory or a file in it, naming the path. */
export class QueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueError';
  }
}

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;
const SUBDIRS = ['tmp', 'pending', 'claimed', 'recovering', 'done'] as const;

export const pendingDir = (queueDir: string): string => join(queueDir, 'pending');
export const claimedDir = (queueDir: string): string => join(queueDir, 'claimed');
export const recoveringDir = (queueDir: string): string => join(queueDir, 'recovering');
export const tmpDir = (queueDir: string): string => join(queueDir, 'tmp');
/** done/ID.json: the result of a finished job. */
export const resultPath = (queueDir: string, id: string): string => join(queueDir, 'done', `${id}.json`);
/** done/ID.log: the log of a job, written while it runs. */
export const logPath = (queueDir: string, id: string): string => join(queueDir, 'done', `${id}.log`);

/** The id a queued job file's name holds (ID.toml), or undefined for any other name. */
export function jobIdOfFile(name: string): string | undefined {
  if (!name.endsWith('.toml')) return undefined;
  const id = name.slice(0, -'.toml'.length);
  return isJobId(id) ? id : undefined;
}

export function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** An errno code as a reason people read. */
export function describeCode(error: unknown): string {
  const code = errorCode(error);
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return code ?? (error instanceof Error ? error.message.split('\n')[0] ?? 'error' : String(error));
  }
}

const ready = new Set<string>();

/** Creates the queue directory (mode 0700) and its layout if missing; cached per directory. */
export async function ensureQueue(queueDir: string): Promise<void> {
  if (ready.has(queueDir)) return;
  try {
    await makeDirectories(queueDir, DIR_MODE);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') throw new QueueError(`queue directory ${queueDir}: expected a directory, got a file`);
    throw new QueueError(`cannot create queue directory ${queueDir}: ${describeCode(error)}`);
  }
  for (const sub of SUBDIRS) {
    const dir = join(queueDir, sub);
    try {
      await mkdir(dir, { mode: DIR_MODE });
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw new QueueError(`cannot create queue directory ${dir}: ${describeCode(error)}`);
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) throw new QueueError(`queue directory ${dir}: expected a directory, got something else`);
    }
  }
  ready.add(queueDir);
}

/** A short random name part. */
export function nonce(): string {
  return Math.floor(Math.random() * 2 ** 48).toString(36);
}

/** Names a temporary file after its writer, so recovery can remove those a dead writer left. */
export function tempName(target: string, owner: string): string {
  return `${owner}.${nonce()}.${target.slice(target.lastIndexOf('/') + 1)}`;
}

let selfOwner: string | undefined;

/** This process's owner name (cached: it never changes). */
export function selfOwnerName(): string {
  selfOwner ??= ownerOf();
  return selfOwner;
}

/** Writes `data` to `target` atomically: a temp file in QUEUE_DIR/tmp (mode 0600), synced, renamed. */
export async function writeAtomic(queueDir: string, target: string, data: string): Promise<void> {
  const temp = join(tmpDir(queueDir), tempName(target, selfOwnerName()));
  try {
    const handle = await open(temp, 'wx', FILE_MODE);
    try {
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new QueueError(`cannot write ${target}: ${describeCode(error)}`);
  }
}

// ---------------------------------------------------------------------------
// Results

/** done/ID.json: how a job of the queue ended. Holds no variable value, masked or not. */
export interface DoneRecord {
  readonly id: string;
  /** The job's name; null if its file could not be read. */
  readonly name: string | null;
  readonly state: JobState;
  /** null on success; GitLab's reasons such as script_failure, job_execution_timeout, runner_system_failure. */
  readonly failure_reason: string | null;
  /** The script's exit code; null if it did not exit with one (killed, never started). */
  readonly exit_code: number | null;
  /** ISO 8601. */
  readonly started_at: string;
  /** ISO 8601. */
  readonly finished_at: string;
  readonly duration_seconds: number;
  /** The process that ran the job (PID-STARTTIME). */
  readonly owner: string;
  /** The job's artifacts archive, when it uploaded one. */
  readonly artifacts?: StoredArtifacts | undefined;
}

/** Where a job's artifacts archive is kept and until when. */
export interface StoredArtifacts {
  /** done/ID.artifacts.zip, absolute when the queue directory is. */
  readonly path: string;
  /** ISO 8601; null: never expires. */
  readonly expires_at: string | null;
  readonly bytes: number;
}

/** done/ID.artifacts.zip: a job's artifacts archive. */
export const artifactsPath = (queueDir: string, id: string): string => join(queueDir, 'done', `${id}.artifacts.zip`);

const FAILURE_REASON = /^[a-z][a-z_]*$/;

/** Builds a result, checking it; RangeError for a result that does not make sense. */
export function makeResult(fields: {
  id: string;
  name: string | null;
  owner: string;
  state: JobState;
  failureReason: string | null | undefined;
  exitCode: number | null | undefined;
  startedAt: Date;
  finishedAt: Date;
  artifacts?: StoredArtifacts | undefined;
}): DoneRecord {
  const { id, state, startedAt, finishedAt } = fields;
  const failureReason = fields.failureReason ?? null;
  const exitCode = fields.exitCode ?? null;
  if (!(JOB_STATES as readonly string[]).includes(state)) {
    throw new RangeError(`job ${id}: state must be one of ${JOB_STATES.join(', ')}, got ${JSON.stringify(state)}`);
  }
  if (state === 'success' && failureReason !== null) throw new RangeError(`job ${id}: a successful job has no failure_reason`);
  if (state === 'failed' && failureReason === null) throw new RangeError(`job ${id}: a failed job needs a failure_reason`);
  if (failureReason !== null && !FAILURE_REASON.test(failureReason)) {
    throw new RangeError(`job ${id}: failure_reason must be lower_snake_case such as script_failure, got ${JSON.stringify(failureReason)}`);
  }
  if (exitCode !== null && !Number.isSafeInteger(exitCode)) throw new RangeError(`job ${id}: exit_code must be an integer or null, got ${exitCode}`);
  if (Number.isNaN(startedAt.getTime()) || Number.isNaN(finishedAt.getTime())) throw new RangeError(`job ${id}: invalid start or finish time`);
  return {
    id,
    name: fields.name,
    state,
    failure_reason: failureReason,
    exit_code: exitCode,
    started_at: startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    duration_seconds: Math.max(0, finishedAt.getTime() - startedAt.getTime()) / 1000,
    owner: fields.owner,
    ...(fields.artifacts ? { artifacts: fields.artifacts } : {}),
  };
}

export async function writeResult(queueDir: string, result: DoneRecord): Promise<void> {
  await writeAtomic(queueDir, resultPath(queueDir, result.id), `${JSON.stringify(result, null, 2)}\n`);
}

/** done/ID.json, or undefined while there is none; a file that is not a result is a QueueError. */
export async function readResult(queueDir: string, id: string): Promise<DoneRecord | undefined> {
  const path = resultPath(queueDir, id);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw new QueueError(`cannot read job result ${path}: ${describeCode(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const result = value as Partial<DoneRecord> | undefined;
  if (
    typeof result !== 'object' || result === null || result.id !== id ||
    !(JOB_STATES as readonly unknown[]).includes(result.state) || typeof result.finished_at !== 'string'
  ) {
    throw new QueueError(`job result ${path}: expected a JSON object with id "${id}", state (${JOB_STATES.join(', ')}) and finished_at`);
  }
  return result as DoneRecord;
}
