// Writes the zip GitLab Runner's archiver writes (helpers/archives/zip_create.go), with yazl,
// streaming: regular files deflated and read from disk while the zip is written, directories as
// stored entries named `dir/`, symlinks as stored entries whose data is the link's target and whose
// external attributes carry S_IFLNK, so unzip and GitLab Runner's extractor recreate the link. Mode
// and mtime come from lstat at write time (the extended-timestamp extra field gives the mtime to the
// second, as GitLab's). yazl switches to zip64 by itself past 4 GiB or 65,535 entries.

import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createRequire } from 'node:module';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import type { ArchiveEntry } from './paths.ts';
import { archiveSink } from './archive-sink.ts';
import { GarbageNudge, holdYoungGeneration } from '../runtime/gc.ts';
import { WrittenEntries } from './yazl-written-entries.ts';
import { nativeUnsignedCrc32 } from './native-crc32.ts';

useNativeCrc32();

/**
 * yazl computes every entry's CRC-32 with buffer-crc32, a byte-at-a-time loop in JavaScript: a
 * profile of a 256 MiB archive spent 1.4 s of the main thread there, a seventh of the whole, while
 * zlib's own crc32 (node:zlib, on Node >= 20.15, Bun and Deno) does the same bytes in 0.06 s. The
 * module yazl loaded is given zlib's function under the same name and contract; where zlib has
 * none, or yazl no longer loads it, nothing changes. The release bundles have no node_modules to
 * reach yazl's copy through: their build hands yazl the same function (deploy/package/bundle.ts).
 */
function useNativeCrc32(): void {
  if (nativeUnsignedCrc32 === undefined) return;
  try {
    const fromYazl = createRequire(createRequire(import.meta.url).resolve('yazl'));
    const crc32 = fromYazl('buffer-crc32') as { unsigned?: unknown };
    if (typeof crc32.unsigned === 'function') crc32.unsigned = nativeUnsignedCrc32;
  } catch {
    // yazl keeps its own, or (in a release bundle) already has the native one.
  }
}

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
  const release = holdYoungGeneration();
  try {
    return await write(entries, destination, options);
  } finally {
    release();
  }
}

async function write(
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>,
  destination: string | Writable,
  options: ZipWriteOptions,
): Promise<number> {
  const zip = new ZipFile();
  copySmallWrites(zip.outputStream as unknown as Writable);
  let bytes = 0;
  // yazl emits headers, data and descriptors as separate small chunks; one write per chunk would
  // be a system call each, so small ones are gathered into writes of up to BATCH bytes. Large
  // chunks (file data) go on as they are, not copied once more.
  let batch: Buffer[] = [];
  let batched = 0;
  const nudge = new GarbageNudge();
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback): void {
      bytes += chunk.length;
      nudge.add(chunk.length);
      if (chunk.length >= BATCH / 4) {
        if (batched > 0) this.push(gather());
        callback(null, chunk);
        return;
      }
      batch.push(chunk);
      batched += chunk.length;
      callback(null, batched >= BATCH ? gather() : undefined);
    },
    flush(callback): void {
      callback(null, batched > 0 ? gather() : undefined);
    },
  });
  function gather(): Buffer {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  }
  const sink = archiveSink(destination);
  const output = zip.outputStream as Readable;
  const written = pipeline(output, counter, sink.stream);
  const failure = new Failure();
  zip.on('error', (error: Error) => failure.fail(error));
  written.catch((error: Error) => failure.fail(error));
  const feeding = feed(zip, entries, options, failure, nudge).catch((error: unknown) => {
    output.destroy(error as Error);
    throw error;
  });
  let done = false;
  try {
    await failure.race(feeding);
    await failure.race(written);
    done = failure.error === undefined;
  } finally {
    if (!done) output.destroy(failure.error);
    await written.catch(() => {});
    await sink.settle(!done);
  }
  if (failure.error !== undefined) throw failure.error;
  return bytes;
}

/**
 * yazl writes a small file's deflated bytes as zlib handed them over: on Node a view into zlib's
 * 16 KiB output buffer, which the view keeps alive. Ten thousand such views waiting in the output
 * stream held 160 MiB for 2 MiB of data; a copy of a small chunk holds only its own bytes.
 */
function copySmallWrites(stream: Writable): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) =>
    write(
      Buffer.isBuffer(chunk) && chunk.length < COPIED_BELOW && chunk.buffer.byteLength > 2 * chunk.length ? Buffer.from(chunk) : chunk,
      ...rest,
    )) as Writable['write'];
}

/**
 * The first error of a zip being written, and waits that end with it. Not a promise raced with
 * Promise.race: every race leaves a reaction on a promise that never settles, and with it what
 * the race resolved to (`once(stream, 'data')` resolves to the chunk) - thousands of waits kept
 * 30 MiB of 256 KiB chunks alive until the zip was done.
 */
class Failure {
  error: Error | undefined;
  private readonly waiters = new Set<(error: Error) => void>();

  fail(error: Error): void {
    this.error ??= error;
    for (const reject of this.waiters) reject(this.error);
    this.waiters.clear();
  }

  /** `work`'s result, or the failure's error if that comes first. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.error !== undefined) {
      work.catch(() => {});
      return Promise.reject(this.error);
    }
    return new Promise<T>((resolveRace, rejectRace) => {
      this.waiters.add(rejectRace);
      work.then((value) => {
        this.waiters.delete(rejectRace);
        resolveRace(value);
      }, (error: unknown) => {
        this.waiters.delete(rejectRace);
        rejectRace(error);
      });
    });
  }

  /** The next chunk `stream` hands on (not kept), or the failure. */
  nextChunk(stream: Readable): Promise<void> {
    return this.race(once(stream, 'data').then(() => undefined));
  }
}

/** Files up to this size are read whole ahead of their turn: one read instead of a stream's open/read/read/close. */
const SMALL_FILE = 64 * 1024;
/** Bytes looked at to decide whether a file is deflated or stored. */
const SAMPLE = 16 * 1024;
/** Order-0 entropy (bits a byte) at and above which a sample is taken as already compressed. */
const INCOMPRESSIBLE_BITS = 7.9;
/**
 * Small files deflated at once on zlib's thread pool (4 threads). Each deflate holds 256 KiB of
 * zlib state until done; more than the pool runs at once only waits, holding memory.
 */
const DEFLATING = 8;
/** Reads of a large file: fewer, larger chunks through yazl's CRC and deflate streams. */
const READ_CHUNK = 256 * 1024;
/** Chunks yazl writes below this size are copied out of the larger buffers they are views of. */
const COPIED_BELOW = 16 * 1024;
/** Output writes are gathered up to this size. */
const BATCH = 256 * 1024;
/** Entries stat'ed (and small files read) ahead of the one being written: the disk's latency overlaps. */
const AHEAD = 16;

type Prepared =
  | { kind: 'ignored'; warning: string }
  | { kind: 'directory'; entry: ArchiveEntry; stats: Stats }
  | { kind: 'symlink'; entry: ArchiveEntry; stats: Stats; target: Buffer }
  | { kind: 'file'; entry: ArchiveEntry; stats: Stats; path: string; data: Buffer | undefined; compress: boolean };

async function prepare(entry: ArchiveEntry, projectDir: string): Promise<Prepared> {
  const path = resolve(projectDir, entry.name);
  try {
    const stats = await lstat(path);
    if (stats.isDirectory()) return { kind: 'directory', entry, stats };
    if (stats.isSymbolicLink()) return { kind: 'symlink', entry, stats, target: Buffer.from(await readlink(path), 'utf8') };
    if (!stats.isFile()) return { kind: 'ignored', warning: `File ignored: ${entry.name}` };
    const data = stats.size <= SMALL_FILE ? await readSmall(path, stats.size) : undefined;
    const sample = data ?? await readSample(path);
    return { kind: 'file', entry, stats, path, data, compress: looksCompressible(sample) };
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

/** The head of a large file, to judge whether deflating it is worth its time. */
async function readSample(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(SAMPLE);
    const { bytesRead } = await handle.read(buffer, 0, SAMPLE, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * Whether deflate is likely to shrink data that starts as `sample` does. Already-compressed data
 * (images, archives, random bytes) uses nearly all 256 byte values evenly; deflating it costs the
 * most CPU of anything in an archive (40 MB/s at level 6, against 90 MB/s for text) and gains
 * nothing, so such files are stored, as Info-ZIP's `zip` stores a file whose deflate did not
 * shrink it (and git archive does the same). GitLab Runner's archiver deflates everything; the
 * method is per entry, and every reader takes both. The test is the order-0 entropy of up to
 * SAMPLE bytes: random bytes measure 7.99 bits a byte there, text and binaries 4 to 6.5.
 */
export function looksCompressible(sample: Uint8Array): boolean {
  if (sample.length < 512) return true;
  const counts = new Uint32Array(256);
  const length = Math.min(sample.length, SAMPLE);
  for (let i = 0; i < length; i++) counts[sample[i]!]!++;
  let bits = 0;
  for (const count of counts) if (count > 0) bits -= count * Math.log2(count / length);
  return bits / length < INCOMPRESSIBLE_BITS;
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
  failure: Failure,
  nudge: GarbageNudge,
): Promise<void> {
  const writtenEntries = new WrittenEntries(zip);
  const output = zip.outputStream as Readable & Partial<Pick<Writable, 'writableNeedDrain'>>;

  for await (const item of prepared(entries, options.projectDir)) {
    nudge.addEntry();
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
    } else if (item.data !== undefined && writtenEntries.tracked) {
      // A small file already read: yazl deflates it at once on zlib's thread pool, so up to
      // DEFLATING small files compress side by side (and beside a large file's stream) where a
      // stream each would go one at a time. Bounded: at most DEFLATING entries wait unwritten.
      nudge.add(item.data.length);
      zip.addBuffer(item.data, entry.name, { ...common, compress: item.compress });
      item.data = undefined;
      while (writtenEntries.compact() > DEFLATING) await failure.nextChunk(output);
    } else {
      const path = item.path;
      // yazl keeps this callback until the entry is written: it must not keep the file's bytes alive after.
      let held = item.data;
      item.data = undefined;
      const started = new Promise<void>((resolveStarted, rejectStarted) => {
        zip.addReadStreamLazy(entry.name, { ...common, compress: item.compress }, (callback) => {
          const stream = held !== undefined ? Readable.from([held]) : createReadStream(path, { highWaterMark: READ_CHUNK });
          held = undefined;
          stream.on('data', (chunk: Buffer) => nudge.add(chunk.length));
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
      await failure.race(started);
      writtenEntries.compact();
    }
    // Headers of directories and links are written without backpressure; wait for the reader here.
    if (output.readableLength > 1 << 20) await failure.nextChunk(output);
  }
  writtenEntries.restore();
  zip.end();
}
