// Extracts a zip as GitLab Runner's extractor does (helpers/archives/zip_extract.go), with yauzl,
// one entry at a time from the central directory, data streamed to disk: parents created, an
// existing file or link removed before it is written again, symlinks recreated from their data,
// modes restored after all entries (so a read-only directory does not block its children), mtimes
// restored for files and directories. Unlike GitLab's, it refuses what would land outside the
// target: names with `..` or an absolute path, and a name whose parent leads out through a symlink
// (one from the archive itself or already on disk). A filesystem error on one entry is a warning
// and the next entry goes on, as GitLab's; a damaged archive or an escape is an error.
// With an `owner` (a job that runs as another user than the runner), every file, directory and
// link made belongs to it: a file is given to it before its mode is set, so a setuid bit from
// the archive is never one of the runner's.

import { Buffer } from 'node:buffer';
import { close, createWriteStream, fchmod, fchown, futimes, open as fsOpen } from 'node:fs';
import { chmod, lchown, lstat, mkdir, realpath, symlink, unlink, utimes } from 'node:fs/promises';
import { promisify } from 'node:util';
import { isAbsolute, posix, relative, resolve, sep } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { type Entry, open, type ZipFile } from 'yauzl';
import { GarbageNudge, holdYoungGeneration } from '../runtime/gc.ts';

export interface ExtractOptions {
  /** Told of what GitLab logs as a warning and goes on: a failed entry, a `.git` path, an ignored type. */
  readonly onWarning?: ((message: string) => void) | undefined;
  /** Who what is made belongs to; undefined: the runner. */
  readonly owner?: { readonly uid: number; readonly gid: number } | undefined;
}

type Owner = ExtractOptions['owner'];

export interface ExtractResult {
  readonly entries: number;
  /** Uncompressed bytes written to files. */
  readonly bytes: number;
}

/** The error for an entry that would be written outside the target directory. */
export class ZipEscapeError extends Error {
  override readonly name = 'ZipEscapeError';
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
/** PATH_MAX: a link target is never longer, so a longer one is a damaged or hostile entry. */
const MAX_LINK_TARGET = 4096;
/** Regular files written at the same time. */
const FILES_AT_ONCE = 8;

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolveOpen, rejectOpen) => {
    open(path, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: false }, (error, zip) => {
      if (error !== null) rejectOpen(new Error(`${path}: not a readable zip archive: ${error.message}`, { cause: error }));
      else resolveOpen(zip);
    });
  });
}

/** The unix mode an entry carries, or a default as Go's archive/zip gives one (0666 files, 0777 directories). */
function entryMode(entry: Entry): number {
  const isDirName = entry.fileName.endsWith('/');
  const unixMode = entry.versionMadeBy >> 8 === 3 || entry.versionMadeBy >> 8 === 19 ? entry.externalFileAttributes >>> 16 : 0;
  if (unixMode !== 0) return (unixMode & S_IFMT) === 0 ? unixMode | (isDirName ? S_IFDIR : S_IFREG) : unixMode;
  // MS-DOS attributes: bit 4 is a directory, bit 0 read-only.
  const dos = entry.externalFileAttributes & 0xff;
  if (isDirName || (dos & 0x10) !== 0) return S_IFDIR | 0o777;
  return S_IFREG | ((dos & 0x01) !== 0 ? 0o444 : 0o666);
}

/** Reads the next entry, or undefined at the end; an error of the archive rejects. */
function nextEntry(zip: ZipFile): Promise<Entry | undefined> {
  return new Promise((resolveEntry, rejectEntry) => {
    const cleanup = (): void => {
      zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
    };
    const onEntry = (entry: Entry): void => (cleanup(), resolveEntry(entry));
    const onEnd = (): void => (cleanup(), resolveEntry(undefined));
    const onError = (error: Error): void => (cleanup(), rejectEntry(describeArchiveError(error)));
    zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
    zip.readEntry();
  });
}

/** yauzl refuses unsafe names itself; say which entry and why, as an escape. */
function describeArchiveError(error: Error): Error {
  const unsafe = /^(absolute path|invalid relative path|invalid characters in fileName): (.*)$/s.exec(error.message);
  if (unsafe !== null) return new ZipEscapeError(`zip entry "${unsafe[2] ?? ''}" escapes the target directory (${unsafe[1] ?? ''})`, { cause: error });
  return new Error(`damaged zip archive: ${error.message}`, { cause: error });
}

function openEntry(zip: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolveStream, rejectStream) => {
    zip.openReadStream(entry, (error, stream) => (error !== null ? rejectStream(error) : resolveStream(stream)));
  });
}

const openFd = promisify(fsOpen);
const fchmodFd = promisify(fchmod);
const futimesFd = promisify(futimes);
const fchownFd = promisify(fchown);
const closeFd = promisify(close);

/**
 * `data` piped into `out` to its end. Not stream.pipeline: that aborts an AbortController of its
 * own when done, whose DOMException (with its stack) was a tenth of the main thread's time for
 * thousands of small files, and garbage besides.
 */
function copy(data: Readable, out: Writable, nudge: GarbageNudge): Promise<void> {
  return new Promise((resolveCopy, rejectCopy) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      data.destroy();
      out.destroy();
      rejectCopy(error);
    };
    data.on('error', fail);
    out.on('error', fail);
    data.on('data', (chunk: Buffer) => nudge.add(chunk.length));
    out.on('finish', () => {
      if (settled) return;
      settled = true;
      resolveCopy();
    });
    data.pipe(out);
  });
}

/**
 * Writes one file as GitLab does (an existing file or link is removed first, never written
 * through), then sets its exact mode (no umask) and mtime on the descriptor.
 */
async function writeFile(path: string, mode: number, mtime: Date, data: Readable, nudge: GarbageNudge, owner: Owner): Promise<void> {
  let fd: number;
  try {
    fd = await openFd(path, 'wx', mode & 0o777);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      data.destroy();
      throw error;
    }
    await unlink(path).catch(() => {});
    fd = await openFd(path, 'wx', mode & 0o777).catch((again: unknown) => {
      data.destroy();
      throw again;
    });
  }
  try {
    if (owner !== undefined) await fchownFd(fd, owner.uid, owner.gid);
    await copy(data, createWriteStream(path, { fd, autoClose: false }), nudge);
    await fchmodFd(fd, mode & 0o7777);
    await futimesFd(fd, new Date(), mtime);
  } finally {
    await closeFd(fd);
  }
}

/** Extracts `zipPath` into `targetDir` (created if missing). */
export async function extractZip(zipPath: string, targetDir: string, options: ExtractOptions = {}): Promise<ExtractResult> {
  const release = holdYoungGeneration();
  try {
    return await extract(zipPath, targetDir, options);
  } finally {
    release();
  }
}

async function extract(zipPath: string, targetDir: string, options: ExtractOptions): Promise<ExtractResult> {
  await mkdir(targetDir, { recursive: true });
  const root = await realpath(targetDir);
  const warn = options.onWarning ?? ((): void => {});
  const zip = await openZip(zipPath);
  const seenWarnings = new Set<string>();
  const warnOnce = (kind: string, message: string): void => {
    // GitLab's pathErrorTracker: one warning per kind of failure, not one per file.
    if (seenWarnings.has(kind)) return;
    seenWarnings.add(kind);
    warn(`${message} (suppressing repeats)`);
  };
  const directories: { path: string; mode: number; mtime: Date }[] = [];
  const owner = options.owner;
  /** What the runner made becomes the owner's (lchown: a link itself, never its target). */
  const giveAway = async (path: string): Promise<void> => {
    if (owner !== undefined) await lchown(path, owner.uid, owner.gid);
  };
  const nudge = new GarbageNudge({ onNode: false });
  let checkedParent = '';
  let entries = 0;
  let bytes = 0;

  /** Creates the parents of `name`, refusing any that is (or leads through) a symlink out of the target. */
  const ensureParent = async (name: string): Promise<void> => {
    const parent = posix.dirname(name);
    if (parent === '.' || parent === checkedParent) return;
    let current = root;
    for (const part of parent.split('/')) {
      current = resolve(current, part);
      let stats;
      try {
        stats = await lstat(current);
      } catch {
        const made = await mkdir(current, { mode: 0o777 }).then(() => true, (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
          return false;
        });
        if (made) await giveAway(current);
        continue;
      }
      if (stats.isSymbolicLink()) {
        const real = await realpath(current).catch(() => undefined);
        const rel = real === undefined ? '..' : relative(root, real);
        if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
          throw new ZipEscapeError(`zip entry "${name}" escapes the target directory through the symlink "${relative(root, current)}"`);
        }
        current = real ?? current;
      }
    }
    checkedParent = parent;
  };

  /** One entry; a filesystem error is a warning (GitLab's), an escape or a damaged entry throws. */
  const extractEntry = async (entry: Entry, name: string, mode: number): Promise<void> => {
    const path = resolve(root, name);
    try {
      await ensureParent(name);
      const type = mode & S_IFMT;
      if (type === S_IFDIR) {
        // Writable until the end, when its own mode is set: its children come first.
        const made = await mkdir(path, { mode: (mode & 0o777) | 0o700 }).then(() => true, (error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
          return false;
        });
        if (made) await giveAway(path);
        directories.push({ path, mode: mode & 0o7777, mtime: entry.getLastModDate() });
      } else if (type === S_IFLNK) {
        if (entry.uncompressedSize > MAX_LINK_TARGET) throw new Error(`symlink target of ${entry.uncompressedSize} bytes is too long`);
        const chunks: Buffer[] = [];
        for await (const chunk of await openEntry(zip, entry)) chunks.push(chunk as Buffer);
        await unlink(path).catch(() => {});
        await symlink(Buffer.concat(chunks).toString('utf8'), path);
        await giveAway(path);
        checkedParent = ''; // a link may now stand where a checked directory was
      } else if (type === S_IFREG) {
        await writeFile(path, mode, entry.getLastModDate(), await openEntry(zip, entry), nudge, options.owner);
        bytes += entry.uncompressedSize;
      } else {
        warn(`File ignored: "${name}"`);
      }
    } catch (error) {
      if (error instanceof ZipEscapeError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw new Error(`zip entry "${name}": ${(error as Error).message}`, { cause: error });
      warnOnce(code, `${name}: ${(error as Error).message}`);
    }
  };

  try {
    const inFlight = new Set<Promise<void>>();
    const inFlightNames = new Set<string>();
    let fatal: unknown;
    const settle = async (): Promise<void> => {
      await Promise.all(inFlight);
      if (fatal !== undefined) throw fatal;
    };
    try {
      for (let entry = await nextEntry(zip); entry !== undefined; entry = await nextEntry(zip)) {
        entries++;
        nudge.addEntry();
        const name = posix.normalize(entry.fileName).replace(/\/+$/, '');
        if (name === '' || name === '.') continue;
        if (name === '..' || name.startsWith('../') || posix.isAbsolute(name)) {
          throw new ZipEscapeError(`zip entry "${entry.fileName}" escapes the target directory`);
        }
        if ((name === '.git' || name.startsWith('.git/')) && !seenWarnings.has('.git')) {
          seenWarnings.add('.git');
          warn('Part of .git directory is on the list of files to extract');
          warn('This may introduce unexpected problems');
        }
        const mode = entryMode(entry);
        if ((mode & S_IFMT) !== S_IFREG || inFlightNames.has(name)) {
          // Directories and links change what later names resolve to: they wait for the files before them.
          await settle();
          await extractEntry(entry, name, mode);
          continue;
        }
        // Regular files cannot redirect one another, so a few are written at once: the disk's latency overlaps.
        if (inFlight.size >= FILES_AT_ONCE) await Promise.race(inFlight);
        if (fatal !== undefined) throw fatal;
        const job: Promise<void> = extractEntry(entry, name, mode).catch((error: unknown) => {
          fatal ??= error;
        }).finally(() => {
          inFlight.delete(job);
          inFlightNames.delete(name);
        });
        inFlight.add(job);
        inFlightNames.add(name);
      }
      await settle();
    } finally {
      await Promise.allSettled(inFlight);
    }
  } finally {
    zip.close();
  }
  // Deepest first, so a directory's own mtime is set after its children were written.
  for (const directory of directories.reverse()) {
    try {
      if ((await lstat(directory.path)).isSymbolicLink()) continue; // never chmod through a link
      await chmod(directory.path, directory.mode);
      await utimes(directory.path, new Date(), directory.mtime);
    } catch (error) {
      warnOnce(`dir:${(error as NodeJS.ErrnoException).code ?? ''}`, `${relative(root, directory.path)}: ${(error as Error).message}`);
    }
  }
  return { entries, bytes };
}
