// GitLab Runner's `gzip` artifact format (helpers/archives/gzip_create.go), used for reports such
// as junit: every file is its own gzip member, the members concatenated in one stream. A member's
// header names the file (FNAME: its base name) and carries its path relative to the project in the
// FCOMMENT field, plus its mtime; a name with non-ASCII characters or `%` is written as `e:` and its
// URL path escaping, as GitLab's sanitizePath does, since gzip header strings are Latin-1.
// node:zlib's gzip stream cannot write FNAME or FCOMMENT, so the header and the CRC-32/size trailer
// are written here around a raw deflate stream.

import { Buffer } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createDeflateRaw } from 'node:zlib';
import type { ArchiveEntry } from './paths.ts';
import { archiveSink } from './archive-sink.ts';

export interface GzipWriteOptions {
  /** The directory the names are relative to. */
  readonly projectDir: string;
  /** Told of a file that vanished before it was written: `File ignored: ...`, as GitLab logs it. */
  readonly onWarning?: ((message: string) => void) | undefined;
}

/** The output went away (its error is the one told). */
class OutputClosed extends Error {
  constructor() {
    super('the archive output was closed');
  }
}

const FNAME = 0x08;
const FCOMMENT = 0x10;
const OS_UNKNOWN = 255;

/** Go's url.PathEscape: everything but unreserved characters and `$&+:=@` is %XX-escaped, by UTF-8 byte. */
function pathEscape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~$&+:=@]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** GitLab's sanitizePath for the gzip header's name and comment. */
export function sanitizeGzipHeaderText(text: string): string {
  return /[\u0080-\u{10ffff}%]/u.test(text) ? `e:${pathEscape(text)}` : text;
}

function memberHeader(name: string, comment: string, mtime: Date): Buffer {
  const seconds = Math.floor(mtime.getTime() / 1000);
  const fixed = Buffer.alloc(10);
  fixed[0] = 0x1f;
  fixed[1] = 0x8b;
  fixed[2] = 8; // deflate
  fixed[3] = (name !== '' ? FNAME : 0) | (comment !== '' ? FCOMMENT : 0);
  fixed.writeUInt32LE(seconds > 0 && seconds <= 0xffffffff ? seconds : 0, 4);
  fixed[8] = 0; // default compression level, as Go writes it
  fixed[9] = OS_UNKNOWN;
  const parts = [fixed];
  if (name !== '') parts.push(Buffer.from(`${name}\0`, 'latin1'));
  if (comment !== '') parts.push(Buffer.from(`${comment}\0`, 'latin1'));
  return Buffer.concat(parts);
}

/**
 * Streams the gzip members of `entries` (regular files only; anything else is an error, as in
 * GitLab) into `destination` (a file path, or a Writable, which is ended); resolves to the bytes written.
 */
export async function writeGzip(
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>,
  destination: string | Writable,
  options: GzipWriteOptions,
): Promise<number> {
  const out = new PassThrough();
  let bytes = 0;
  out.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  const sink = archiveSink(destination);
  const written = pipeline(out, sink.stream);
  written.catch(() => {}); // awaited below
  // A failed output destroys `out`: no 'drain' comes then, but 'close' does.
  const write = async (chunk: Buffer): Promise<void> => {
    if (out.destroyed) throw new OutputClosed();
    if (out.write(chunk)) return;
    await new Promise<void>((resolveDrain, rejectClosed) => {
      const drained = (): void => {
        out.off('close', closed);
        resolveDrain();
      };
      const closed = (): void => {
        out.off('drain', drained);
        rejectClosed(new OutputClosed());
      };
      out.once('drain', drained);
      out.once('close', closed);
    });
  };
  try {
    for await (const entry of entries) {
      const path = resolve(options.projectDir, entry.name);
      let stats;
      try {
        stats = await lstat(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        options.onWarning?.(`File ignored: ${(error as Error).message}`);
        continue;
      }
      if (!stats.isFile()) throw new Error(`the "${entry.name}" is not a regular file`);
      await write(memberHeader(sanitizeGzipHeaderText(basename(entry.name)), sanitizeGzipHeaderText(entry.name), stats.mtime));
      let crc = 0;
      let size = 0;
      const deflate = createDeflateRaw();
      const source = createReadStream(path);
      source.on('data', (chunk) => {
        crc = crc32(chunk as Buffer, crc);
        size += (chunk as Buffer).length;
      });
      await pipeline(source, deflate, async (compressed: AsyncIterable<Buffer>) => {
        for await (const chunk of compressed) await write(chunk);
      }).catch((error: unknown) => {
        throw new Error(`${entry.name}: ${(error as Error).message}`, { cause: error });
      });
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(size % 0x100000000, 4);
      await write(trailer);
    }
    out.end();
  } catch (error) {
    out.destroy(error as Error);
    const outputError = await written.then(() => undefined, (failure: unknown) => failure);
    await sink.settle(true);
    // The output's own error says more than "closed".
    const closed = error instanceof OutputClosed || (error instanceof Error && error.cause instanceof OutputClosed);
    throw closed && outputError !== undefined ? outputError : error;
  }
  await written.catch(async (error: unknown) => {
    await sink.settle(true);
    throw error;
  });
  await sink.settle(false);
  return bytes;
}
