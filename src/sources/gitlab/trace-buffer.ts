// A job's log on its way to the coordinator: appended to a private file as
// the job prints (so memory does not grow with output, and nothing is lost
// while the coordinator is away), read back in slices from any offset (a 416
// answer can ask to resume anywhere), with its CRC-32 and size for the
// updates.
//
// The job's output is what the runner's one event loop spends the most on
// while a loud job runs, so an append only writes: the CRC-32 is taken from
// the slices as they are read back for their PATCH (the bytes pass through
// memory then anyway), and whatever the PATCHes have not covered when a
// checksum is asked for is read back for it. The slices are read into one
// buffer, reused for every PATCH: a fresh 1 MiB per PATCH was 64 allocations
// per 64 MiB left to the garbage collector. They are read asynchronously (on
// the runtime's I/O threads): a synchronous read of 1 MiB held the event loop
// about 1 ms per PATCH, time taken from the job's output (docs/benchmarks.md,
// issue 17).
import { Buffer } from 'node:buffer';
import { closeSync, openSync, read as readAt, readSync, rmSync, writeSync } from 'node:fs';
// zlib's native CRC-32 (Node >= 20.15, Bun, Deno): a JavaScript loop cost ~180 ms per 64 MiB on the job's event loop.
import { crc32 } from 'node:zlib';

/** The buffer a checksum's catch-up reads through (not the slice buffer: a PATCH may be in flight with it). */
const CATCH_UP_BYTES = 256 * 1024;

export class TraceBuffer {
  private readonly fd: number;
  private length = 0;
  /** CRC-32 of the first `crcEnd` bytes. */
  private crc = 0;
  private crcEnd = 0;
  private slice: Buffer | undefined;
  private closed = false;
  /** A slice being read: the fd is closed only once it is done (a closed fd's number may be reused by then). */
  private reading = false;

  /** Creates `path` (mode 0600: a log may hold what masking missed). */
  constructor(private readonly path: string) {
    this.fd = openSync(path, 'wx+', 0o600);
  }

  get size(): number {
    return this.length;
  }

  /** GitLab's checksum form, crc32:<8 hex digits>, of the whole log so far. */
  get checksum(): string {
    if (this.crcEnd < this.length) {
      const scratch = Buffer.allocUnsafe(Math.min(CATCH_UP_BYTES, this.length - this.crcEnd));
      while (this.crcEnd < this.length) {
        const n = this.readInto(scratch, this.crcEnd, Math.min(scratch.length, this.length - this.crcEnd));
        if (n === 0) throw new Error(`trace buffer ${this.path}: ${this.length - this.crcEnd} bytes missing at ${this.crcEnd}`);
        this.crc = crc32(scratch.subarray(0, n), this.crc);
        this.crcEnd += n;
      }
    }
    return `crc32:${this.crc.toString(16).padStart(8, '0')}`;
  }

  append(chunk: Uint8Array): void {
    let written = 0;
    while (written < chunk.length) written += writeSync(this.fd, chunk, written, chunk.length - written, this.length + written);
    this.length += chunk.length;
  }

  /**
   * Up to `max` bytes from `offset` (fewer at the end), in a buffer that the
   * next read() reuses: valid until then (until the PATCH that sends it is
   * answered). One read at a time.
   */
  async read(offset: number, max: number): Promise<Buffer> {
    if (this.reading) throw new Error(`trace buffer ${this.path}: a slice is being read already`);
    if (this.closed) throw new Error(`trace buffer ${this.path}: closed`);
    const want = Math.max(0, Math.min(max, this.length - offset));
    if (this.slice === undefined || this.slice.length < want) this.slice = Buffer.allocUnsafe(Math.max(want, Math.min(max, 1024 * 1024)));
    const slice = this.slice;
    let filled = 0;
    this.reading = true;
    try {
      while (filled < want) {
        const n = await readPositioned(this.fd, slice, filled, want - filled, offset + filled);
        if (n === 0) break;
        filled += n;
      }
    } finally {
      this.reading = false;
      if (this.closed) closeSync(this.fd);
    }
    const chunk = slice.subarray(0, filled);
    // The slice extends the checksum when it reaches past what it covers (a 416 may have moved the offset back).
    if (offset <= this.crcEnd && offset + filled > this.crcEnd) {
      this.crc = crc32(chunk.subarray(this.crcEnd - offset), this.crc);
      this.crcEnd = offset + filled;
    }
    return chunk;
  }

  private readInto(buffer: Buffer, offset: number, want: number): number {
    let filled = 0;
    while (filled < want) {
      const n = readSync(this.fd, buffer, filled, want - filled, offset + filled);
      if (n === 0) break;
      filled += n;
    }
    return filled;
  }

  /** Closes and removes the file (the fd once a slice being read is done). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.reading) closeSync(this.fd);
    rmSync(this.path, { force: true });
  }
}

function readPositioned(fd: number, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => readAt(fd, buffer, at, length, position, (error, n) => (error ? reject(error) : resolve(n))));
}
