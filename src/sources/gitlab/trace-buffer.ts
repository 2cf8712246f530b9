// A job's log on its way to the coordinator: appended to a private file as
// the job prints (so memory does not grow with output, and nothing is lost
// while the coordinator is away), read back in slices from any offset (a 416
// answer can ask to resume anywhere), with its running CRC-32 and size for
// the final update.
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
// zlib's native CRC-32 (Node >= 20.15, Bun, Deno): a JavaScript loop cost ~180 ms per 64 MiB on the job's event loop.
import { crc32 } from 'node:zlib';

export class TraceBuffer {
  private readonly fd: number;
  private length = 0;
  private crc = 0;
  private closed = false;

  /** Creates `path` (mode 0600: a log may hold what masking missed). */
  constructor(private readonly path: string) {
    this.fd = openSync(path, 'wx+', 0o600);
  }

  get size(): number {
    return this.length;
  }

  /** GitLab's checksum form: crc32:<8 hex digits>. */
  get checksum(): string {
    return `crc32:${this.crc.toString(16).padStart(8, '0')}`;
  }

  append(chunk: Uint8Array): void {
    let written = 0;
    while (written < chunk.length) written += writeSync(this.fd, chunk, written, chunk.length - written, this.length + written);
    this.length += chunk.length;
    this.crc = crc32(chunk, this.crc);
  }

  /** Up to `max` bytes from `offset` (fewer at the end). */
  read(offset: number, max: number): Buffer {
    const buffer = Buffer.allocUnsafe(Math.max(0, Math.min(max, this.length - offset)));
    let filled = 0;
    while (filled < buffer.length) {
      const n = readSync(this.fd, buffer, filled, buffer.length - filled, offset + filled);
      if (n === 0) break;
      filled += n;
    }
    return buffer.subarray(0, filled);
  }

  /** Closes and removes the file. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    rmSync(this.path, { force: true });
  }
}
