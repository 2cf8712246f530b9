// What this runner process owns that must not outlive it: the process groups
// of its jobs' stages and its temporary paths (a job's `<project dir>.tmp`
// with the job token's git settings and file variables, a disposable
// checkout, the GitLab trace buffers). A runner that is killed cannot clean
// up after itself, so it keeps this list on disk, and the next runner that
// starts with the same records directory acts on it (dead-runners.ts).
//
// One file per process, named after it: PID-STARTTIME.jsonl (STARTTIME: field
// 22 of /proc/PID/stat, so a reused pid is told apart), a journal of JSON
// lines. The first line is the header (version 2, pid, start time, boot id);
// each line after it is one change: a group or a path added (`+group`,
// `+path`) or ended (`-group`, `-path`). A change is one write() of one line
// on a descriptor kept open, synchronously (so the jobs' changes never
// interleave), with no rename and no fsync: a stage starts and ends, and a
// job's directories come and go, about six changes per job, and rewriting
// the whole file (a temporary file renamed over it, which ext4 flushes) cost
// milliseconds each under the jobs' own IO. Once the journal has grown well
// beyond what it describes (COMPACT_FACTOR times its live lines, and more
// than COMPACT_MIN_LINES), it is rewritten whole from memory: a temporary
// file, renamed over it; the header is written the same way at open, so a
// record always starts with a whole header. A change whose write failed or
// was cut short (a full disk) makes the next change rewrite the whole file
// rather than append after a torn line. A torn last line (the process died,
// or the machine lost power, during a write) is ignored by the reader.
//
// The file is 0600 in a 0700 directory owned by the runner's user: a record
// says which paths to remove and which groups to signal, so nobody else may
// write one. Runners before the journal wrote PID-STARTTIME.json, one JSON
// object rewritten whole (version 1); the reader still acts on those.
//
// Nothing is recorded until the process opens its record (`runner run` does);
// elsewhere (other commands, in-process tests) tracking does nothing.
import { Buffer } from 'node:buffer';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { bootId, readProcStat } from './proc-stat.ts';

/** The journal's version, in its header. */
export const RECORD_VERSION = 2;
/** The version of the whole-file JSON records of earlier runners (PID-STARTTIME.json). */
export const RECORD_VERSION_1 = 1;

/** The journal is rewritten whole once it holds more than this many times its live lines... */
export const COMPACT_FACTOR = 4;
/** ...and more than this many lines. */
export const COMPACT_MIN_LINES = 64;

/** A process group a stage runs in: its id (its leader's pid), its leader's start time, the grace between SIGTERM and SIGKILL. */
export interface RecordedGroup {
  readonly pgid: number;
  readonly startTime: string;
  readonly graceMs: number;
}

/** The first line of a journal: whose record it is. */
export interface RecordHeader {
  readonly version: number;
  readonly pid: number;
  /** Field 22 of /proc/PID/stat, or `unknown` where /proc cannot tell. */
  readonly startTime: string;
  /** /proc/sys/kernel/random/boot_id; '' where there is none. */
  readonly bootId: string;
}

/** One line after the header: a change to what the process owns. */
export type RecordEntry =
  | { readonly op: '+group'; readonly pgid: number; readonly startTime: string; readonly graceMs: number }
  | { readonly op: '-group'; readonly pgid: number }
  | { readonly op: '+path'; readonly path: string }
  | { readonly op: '-path'; readonly path: string };

/** A version-1 record: the header's fields and the whole lists, in one JSON object. */
export interface RecordV1 extends RecordHeader {
  readonly groups: readonly RecordedGroup[];
  readonly paths: readonly string[];
}

/**
 * A record file's name: the owner PID-STARTTIME, then `.jsonl` (a journal)
 * or `.json` (version 1); `.tmp` after it while it is being written whole.
 */
export const RECORD_NAME = /^([1-9][0-9]*)-([0-9]+|unknown)\.(jsonl|json)(\.tmp)?$/;

/** A journal line: JSON (which never holds a raw newline), then the newline. */
export function recordLine(value: RecordHeader | RecordEntry): string {
  return `${JSON.stringify(value)}\n`;
}

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

/** Writes all of `text` at the descriptor's position (a write may take part of it); throws on failure. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length;) {
    const written = writeSync(fd, bytes, offset, bytes.length - offset);
    if (written <= 0) throw new Error(`wrote ${offset} of ${bytes.length} bytes`);
    offset += written;
  }
}

class RecordWriter {
  private readonly groups = new Map<number, RecordedGroup>();
  /** Path -> how many holders track it (a docker job's directory is tracked by its executor and by the build). */
  private readonly paths = new Map<string, number>();
  private readonly header: RecordHeader;
  readonly file: string;
  /** The journal, open for writing at its end; undefined until it was first written whole. */
  private fd: number | undefined;
  /** Lines in the journal, the header included. */
  private lines = 0;
  /** The last change could not be appended whole: the next one rewrites the file. */
  private stale = true;
  private failed = false;
  private closed = false;

  constructor(readonly dir: string, private readonly onError: (error: Error) => void) {
    const owner = selfOwner();
    this.header = { version: RECORD_VERSION, pid: owner.pid, startTime: owner.startTime, bootId: bootId() ?? '' };
    this.file = join(dir, `${owner.pid}-${owner.startTime}.jsonl`);
  }

  get empty(): boolean {
    return this.groups.size === 0 && this.paths.size === 0;
  }

  addGroup(group: RecordedGroup): () => void {
    this.groups.set(group.pgid, group);
    this.record({ op: '+group', pgid: group.pgid, startTime: group.startTime, graceMs: group.graceMs });
    return () => {
      if (this.groups.get(group.pgid) !== group) return;
      this.groups.delete(group.pgid);
      this.record({ op: '-group', pgid: group.pgid });
    };
  }

  addPath(path: string): () => void {
    const count = this.paths.get(path) ?? 0;
    this.paths.set(path, count + 1);
    // A second holder changes nothing the next start would do.
    if (count === 0) this.record({ op: '+path', path });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const left = (this.paths.get(path) ?? 1) - 1;
      if (left > 0) {
        this.paths.set(path, left);
        return;
      }
      this.paths.delete(path);
      this.record({ op: '-path', path });
    };
  }

  /** Appends one change (already made in memory), or rewrites the file when it is stale or has grown enough. */
  private record(entry: RecordEntry): void {
    if (this.closed) return;
    const live = 1 + this.groups.size + this.paths.size;
    if (this.fd === undefined || this.stale || (this.lines + 1 > COMPACT_MIN_LINES && this.lines + 1 > COMPACT_FACTOR * live)) {
      this.rewrite();
      return;
    }
    const line = recordLine(entry);
    try {
      // One write: a line either lands whole or, cut short, is the torn last line the reader ignores.
      const written = writeSync(this.fd, line);
      const length = Buffer.byteLength(line);
      if (written !== length) throw new Error(`wrote ${written} of ${length} bytes`);
      this.lines++;
      this.failed = false;
    } catch (error) {
      this.stale = true;
      this.fail(error);
    }
  }

  /** Writes the header and the live groups and paths to a temporary file, renamed over the journal; appends go on there. */
  rewrite(): void {
    const temporary = `${this.file}.tmp`;
    const lines = [
      recordLine(this.header),
      ...[...this.groups.values()].map(({ pgid, startTime, graceMs }) => recordLine({ op: '+group', pgid, startTime, graceMs })),
      ...[...this.paths.keys()].map((path) => recordLine({ op: '+path', path })),
    ];
    let fd: number | undefined;
    try {
      fd = openSync(temporary, 'w', 0o600);
      writeAll(fd, lines.join(''));
      renameSync(temporary, this.file);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      this.stale = true;
      this.fail(error);
      return;
    }
    // The descriptor follows its file through the rename: it is the journal's now, positioned at its end.
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = fd;
    this.lines = lines.length;
    this.stale = false;
    this.failed = false;
  }

  private fail(error: unknown): void {
    // Told once per run of failures (a full disk), not once per stage.
    if (!this.failed) this.onError(new Error(`cannot write ${this.file}: ${describe(error)}`, { cause: error }));
    this.failed = true;
  }

  /** Stops recording: the file goes when nothing is left in it, else it is brought up to date (if a write had failed) and stays. */
  close(): void {
    if (this.closed) return;
    if (this.empty) {
      rmSync(this.file, { force: true });
      rmSync(`${this.file}.tmp`, { force: true });
    } else if (this.stale) {
      this.rewrite();
    }
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

let current: RecordWriter | undefined;

/**
 * Starts recording this process's groups and paths in `dir` (made 0700 if
 * missing); returns the record file's path. Throws naming the directory when
 * it cannot be used. `onError` hears of a record that could not be written
 * (the process goes on; only the clean-up after its death suffers; the next
 * change tries again).
 */
export function openProcessRecord(dir: string, onError: (error: Error) => void): string {
  ensurePrivateDirectory(dir);
  current?.close();
  const writer = new RecordWriter(dir, onError);
  writer.rewrite();
  current = writer;
  return writer.file;
}

/**
 * Stops recording. The file is removed when nothing is left in it; what is
 * left (a job's directory whose removal failed, the groups of a forced exit)
 * stays for the next start to deal with. Changes after this (a job's
 * clean-up finishing late) are not written.
 */
export function closeProcessRecord(): void {
  const writer = current;
  current = undefined;
  writer?.close();
}

/** Records a stage's process group until the returned function is called. */
export function trackGroup(group: RecordedGroup): () => void {
  return current?.addGroup(group) ?? (() => {});
}

/** Records a temporary path (removed, whole, after this process's death) until the returned function is called. */
export function trackPath(path: string): () => void {
  return current?.addPath(path) ?? (() => {});
}
