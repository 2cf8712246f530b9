// Writes the zip GitLab Runner's archiver writes (helpers/archives/zip_create.go), with yazl,
// streaming: regular files deflated and read from disk while the zip is written, directories as
// stored entries named `dir/`, symlinks as stored entries whose data is the link's target and whose
// external attributes carry S_IFLNK, so unzip and GitLab Runner's extractor recreate the link. Mode
// and mtime come from lstat at write time (the extended-timestamp extra field gives the mtime to the
// second, as GitLab's). yazl switches to zip64 by itself past 4 GiB or 65,535 entries.

import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import type { ArchiveEntry } from './paths.ts';

export interface ZipWriteOptions {
  /** The directory the entries' names are relative to. */
  readonly projectDir: string;
  /** Told of an entry skipped as GitLab skips it (vanished, a socket or pipe): `File ignored: ...`. */
  readonly onWarning?: ((message: string) => void) | undefined;
}

/**
 * Streams a zip of `entries` into `destination` (a file path, created or truncated, or a Writable,
 * which is ended) and resolves to the number of bytes written. Rejects on the first read or write
 * error, naming the entry.
 */
export async function writeZip(
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>,
  destination: string | Writable,
  options: ZipWriteOptions,
): Promise<number> {
  const zip = new ZipFile();
  let bytes = 0;
  // yazl emits headers, data and descriptors as separate small chunks; one write per chunk would
  // be a system call each, so they are gathered into writes of up to BATCH bytes.
  let batch: Buffer[] = [];
  let batched = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback): void {
      bytes += chunk.length;
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= BATCH) {
        const out = Buffer.concat(batch);
        batch = [];
        batched = 0;
        callback(null, out);
      } else callback();
    },
    flush(callback): void {
      callback(null, batched > 0 ? Buffer.concat(batch) : undefined);
    },
  });
  const sink = typeof destination === 'string' ? createWriteStream(destination) : destination;
  const output = zip.outputStream as Readable;
  const written = pipeline(output, counter, sink);
  let failure: Error | undefined;
  const failed = new Promise<never>((_, reject) => {
    const fail = (error: Error): void => {
      failure ??= error;
      reject(failure);
    };
    zip.on('error', fail);
    written.catch(fail);
  });
  failed.catch(() => {}); // observed below; avoids an unhandled rejection while the feed is idle
  const feeding = feed(zip, entries, options, failed).catch((error: unknown) => {
    output.destroy(error as Error);
    throw error;
  });
  await Promise.race([feeding, failed]);
  await Promise.race([written, failed]);
  if (failure !== undefined) throw failure;
  return bytes;
}

/**
 * yazl looks for its next entry from the first one on every step, which is quadratic in the entry
 * count (a 30k-entry zip spent seconds there). Entries before the one whose data is being read are
 * finished, so they are moved out of its list while writing and put back before the central
 * directory is written. If a yazl release renames that list, this falls back to yazl's own pace.
 */
interface YazlInternals {
  entries?: unknown;
}

/** Files up to this size are read whole ahead of their turn: one read instead of a stream's open/read/read/close. */
const SMALL_FILE = 64 * 1024;
/** Output writes are gathered up to this size. */
const BATCH = 256 * 1024;
/** Entries stat'ed (and small files read) ahead of the one being written: the disk's latency overlaps. */
const AHEAD = 16;

type Prepared =
  | { kind: 'ignored'; warning: string }
  | { kind: 'directory'; entry: ArchiveEntry; stats: Stats }
  | { kind: 'symlink'; entry: ArchiveEntry; stats: Stats; target: Buffer }
  | { kind: 'file'; entry: ArchiveEntry; stats: Stats; path: string; data: Buffer | undefined };

async function prepare(entry: ArchiveEntry, projectDir: string): Promise<Prepared> {
  const path = resolve(projectDir, entry.name);
  try {
    const stats = await lstat(path);
    if (stats.isDirectory()) return { kind: 'directory', entry, stats };
    if (stats.isSymbolicLink()) return { kind: 'symlink', entry, stats, target: Buffer.from(await readlink(path), 'utf8') };
    if (!stats.isFile()) return { kind: 'ignored', warning: `File ignored: ${entry.name}` };
    const data = stats.size <= SMALL_FILE ? await readSmall(path, stats.size) : undefined;
    return { kind: 'file', entry, stats, path, data };
  } catch (error) {
    // GitLab's createZipEntry: a file that vanished since it was listed is skipped with a warning.
    return { kind: 'ignored', warning: `File ignored: ${(error as Error).message}` };
  }
}

/** A small file in one read (open, read, close): a byte more than lstat said, to see it grew past SMALL_FILE. */
async function readSmall(path: string, size: number): Promise<Buffer | undefined> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(size + 1);
    const { bytesRead } = await handle.read(buffer, 0, size + 1, 0);
    // It grew since lstat: stream it instead, as a large file.
    return bytesRead > size ? undefined : buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The entries prepared in order, up to AHEAD at a time; bounded: AHEAD small files at most in memory. */
async function* prepared(entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>, projectDir: string): AsyncGenerator<Prepared> {
  const queue: Promise<Prepared>[] = [];
  for await (const entry of entries) {
    queue.push(prepare(entry, projectDir));
    if (queue.length >= AHEAD) yield await (queue.shift() as Promise<Prepared>);
  }
  while (queue.length > 0) yield await (queue.shift() as Promise<Prepared>);
}

async function feed(
  zip: ZipFile,
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>,
  options: ZipWriteOptions,
  failed: Promise<never>,
): Promise<void> {
  const internals = zip as unknown as YazlInternals;
  const finished: unknown[] = [];
  const compact = (): void => {
    const list = internals.entries;
    if (!Array.isArray(list) || list.length < 2) return;
    for (const entry of list.splice(0, list.length - 1)) finished.push(entry);
  };
  const output = zip.outputStream as Readable & Partial<Pick<Writable, 'writableNeedDrain'>>;

  for await (const item of prepared(entries, options.projectDir)) {
    if (item.kind === 'ignored') {
      options.onWarning?.(item.warning);
      continue;
    }
    const { entry, stats } = item;
    const common = { mtime: stats.mtime, mode: stats.mode & 0xffff };
    if (item.kind === 'directory') {
      zip.addEmptyDirectory(`${entry.name}/`, common);
    } else if (item.kind === 'symlink') {
      zip.addBuffer(item.target, entry.name, { ...common, compress: false });
    } else {
      const path = item.path;
      // yazl keeps this callback for the zip's lifetime: it must not keep the file's bytes alive.
      let held = item.data;
      item.data = undefined;
      const started = new Promise<void>((resolveStarted, rejectStarted) => {
        zip.addReadStreamLazy(entry.name, { ...common, compress: true }, (callback) => {
          const stream = held !== undefined ? Readable.from([held]) : createReadStream(path);
          held = undefined;
          stream.on('error', (error: Error) => {
            const named = new Error(`${entry.name}: ${error.message}`, { cause: error });
            rejectStarted(named);
            zip.emit('error', named);
          });
          callback(null, stream);
          resolveStarted();
        });
      });
      // One file's data at a time: the next entry is added once this one is being read.
      await Promise.race([started, failed]);
      compact();
    }
    // Headers of directories and links are written without backpressure; wait for the reader here.
    if (output.readableLength > 1 << 20) await Promise.race([once(output, 'data'), failed]);
  }
  if (Array.isArray(internals.entries) && finished.length > 0) internals.entries = finished.concat(internals.entries);
  zip.end();
}
