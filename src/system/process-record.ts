// What this runner process owns that must not outlive it: the process groups
// of its jobs' stages and its temporary paths (a job's `<project dir>.tmp`
// with the job token's git settings and file variables, a disposable
// checkout, the GitLab trace buffers). A runner that is killed cannot clean
// up after itself, so it keeps this list on disk, and the next runner that
// starts with the same records directory acts on it (dead-runners.ts).
//
// One file per process, named after it: PID-STARTTIME.json (STARTTIME: field
// 22 of /proc/PID/stat, so a reused pid is told apart), holding that, the boot
// id, the groups and the paths. It is rewritten whole (a temporary file
// renamed over it, synchronously, so the jobs' updates never interleave) each
// time a stage starts or ends and each time a job's directories come or go:
// a few hundred microseconds against a stage's process start. The file is
// 0600 in a 0700 directory owned by the runner's user: a record says which
// paths to remove and which groups to signal, so nobody else may write one.
//
// Nothing is recorded until the process opens its record (`runner run` does);
// elsewhere (other commands, in-process tests) tracking does nothing.
import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootId, readProcStat } from './proc-stat.ts';

export const RECORD_VERSION = 1;

/** A process group a stage runs in: its id (its leader's pid), its leader's start time, the grace between SIGTERM and SIGKILL. */
export interface RecordedGroup {
  readonly pgid: number;
  readonly startTime: string;
  readonly graceMs: number;
}

/** The contents of a record file. */
export interface ProcessRecordData {
  readonly version: number;
  readonly pid: number;
  /** Field 22 of /proc/PID/stat, or `unknown` where /proc cannot tell. */
  readonly startTime: string;
  /** /proc/sys/kernel/random/boot_id; '' where there is none. */
  readonly bootId: string;
  readonly groups: readonly RecordedGroup[];
  readonly paths: readonly string[];
}

/** A record file's name: the owner PID-STARTTIME, `.json`; `.json.tmp` while it is being written. */
export const RECORD_NAME = /^([1-9][0-9]*)-([0-9]+|unknown)\.json(\.tmp)?$/;

/** The owner name of this process: PID-STARTTIME. */
export function selfOwner(): { pid: number; startTime: string } {
  return { pid: process.pid, startTime: readProcStat(process.pid)?.startTime ?? 'unknown' };
}

/**
 * Makes `dir` (mode 0700) if it is missing, and makes sure it is a directory
 * of this user's that nobody else can write (a group- or world-writable one
 * is made 0700); throws naming the directory otherwise.
 */
export function ensurePrivateDirectory(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot make ${dir}: ${describe(error)}`, { cause: error });
  }
  checkPrivateDirectory(dir);
}

/** Throws naming `dir` unless it is a directory (not a link) of this user's; makes it 0700 if others could write it. */
export function checkPrivateDirectory(dir: string): void {
  const info = lstatSync(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) throw new Error(`${dir} belongs to uid ${info.uid}, not to this runner's uid ${uid}`);
  if ((info.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

function describe(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

class RecordWriter {
  private readonly groups = new Map<number, RecordedGroup>();
  /** Path -> how many holders track it (a docker job's directory is tracked by its executor and by the build). */
  private readonly paths = new Map<string, number>();
  private readonly owner = selfOwner();
  private readonly boot = bootId() ?? '';
  readonly file: string;
  private failed = false;

  constructor(readonly dir: string, private readonly onError: (error: Error) => void) {
    this.file = join(dir, `${this.owner.pid}-${this.owner.startTime}.json`);
  }

  get empty(): boolean {
    return this.groups.size === 0 && this.paths.size === 0;
  }

  addGroup(group: RecordedGroup): () => void {
    this.groups.set(group.pgid, group);
    this.write();
    return () => {
      if (this.groups.get(group.pgid) !== group) return;
      this.groups.delete(group.pgid);
      this.write();
    };
  }

  addPath(path: string): () => void {
    this.paths.set(path, (this.paths.get(path) ?? 0) + 1);
    this.write();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const count = (this.paths.get(path) ?? 1) - 1;
      if (count > 0) this.paths.set(path, count);
      else this.paths.delete(path);
      this.write();
    };
  }

  write(): void {
    const data: ProcessRecordData = {
      version: RECORD_VERSION,
      pid: this.owner.pid,
      startTime: this.owner.startTime,
      bootId: this.boot,
      groups: [...this.groups.values()],
      paths: [...this.paths.keys()],
    };
    const temporary = `${this.file}.tmp`;
    try {
      writeFileSync(temporary, JSON.stringify(data) + '\n', { mode: 0o600 });
      renameSync(temporary, this.file);
      this.failed = false;
    } catch (error) {
      // Told once per run of failures (a full disk), not once per stage.
      if (!this.failed) this.onError(new Error(`cannot write ${this.file}: ${describe(error)}`, { cause: error }));
      this.failed = true;
    }
  }

  remove(): void {
    rmSync(this.file, { force: true });
    rmSync(`${this.file}.tmp`, { force: true });
  }
}

let current: RecordWriter | undefined;

/**
 * Starts recording this process's groups and paths in `dir` (made 0700 if
 * missing); returns the record file's path. Throws naming the directory when
 * it cannot be used. `onError` hears of a record that could not be written
 * later (the process goes on; only the clean-up after its death suffers).
 */
export function openProcessRecord(dir: string, onError: (error: Error) => void): string {
  ensurePrivateDirectory(dir);
  const writer = new RecordWriter(dir, onError);
  writer.write();
  current = writer;
  return writer.file;
}

/**
 * Stops recording. The file is removed when nothing is left in it; what is
 * left (a job's directory whose removal failed, the groups of a forced exit)
 * stays for the next start to deal with.
 */
export function closeProcessRecord(): void {
  const writer = current;
  current = undefined;
  if (writer?.empty) writer.remove();
}

/** Records a stage's process group until the returned function is called. */
export function trackGroup(group: RecordedGroup): () => void {
  return current?.addGroup(group) ?? (() => {});
}

/** Records a temporary path (removed, whole, after this process's death) until the returned function is called. */
export function trackPath(path: string): () => void {
  return current?.addPath(path) ?? (() => {});
}
