// The streaming scan the token masker and the URL sanitizer share: find a
// marker (a token prefix, `?private_token=`), pass it on, and replace the run
// of value bytes after it with `[MASKED]`. A marker or a value cut between two
// chunks is still found: what might be the start of a marker is held back
// until the next chunk tells, and a value still running at a chunk's end
// keeps being dropped in the next.
import { Buffer } from 'node:buffer';
import type { LogSink } from '../job/log.ts';
import { indexOfByte } from '../runtime/runtime.ts';

const MASK = Buffer.from('[MASKED]');

export abstract class MarkerMasker {
  private held: Buffer = Buffer.alloc(0);
  /** Inside a masked value: its bytes are dropped until one that is not. */
  private inValue = false;

  /** `firstBytes`: the bytes a marker can start with; only at those is one looked for (none: everything passes). */
  constructor(private readonly firstBytes: readonly number[], private readonly sink: LogSink) {}

  /** The length of the marker at `at` (the value starts after it), 'partial' when the buffer ends before that can be told. */
  protected abstract markerAt(buf: Buffer, at: number): number | 'partial' | undefined;

  /** Whether a byte belongs to a masked value. */
  protected abstract isValueByte(byte: number): boolean;

  write(chunk: Uint8Array): void {
    if (this.firstBytes.length === 0) {
      this.sink(chunk);
      return;
    }
    const buf = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.held = Buffer.alloc(0);
    this.process(buf, false);
  }

  /** The stream ended: what is held back is passed on. */
  flush(): void {
    const held = this.held;
    this.held = Buffer.alloc(0);
    if (held.length > 0) this.process(held, true);
    this.inValue = false;
  }

  private process(buf: Buffer, final: boolean): void {
    let at = 0;
    if (this.inValue) {
      while (at < buf.length && this.isValueByte(buf[at]!)) at++;
      if (at === buf.length) return; // still in the value
      this.inValue = false;
    }
    let emitFrom = at;
    // The next position of each first byte (native searches: most of a log holds no candidate).
    const next = this.firstBytes.map((byte) => indexOfByte(buf, byte, at));
    for (;;) {
      let candidate = -1;
      for (let i = 0; i < next.length; i++) {
        if (next[i]! >= 0 && next[i]! < at) next[i] = indexOfByte(buf, this.firstBytes[i]!, at);
        if (next[i]! >= 0 && (candidate < 0 || next[i]! < candidate)) candidate = next[i]!;
      }
      if (candidate < 0) break;
      at = candidate;
      const marker = this.markerAt(buf, at);
      if (marker === 'partial' && !final) {
        // Maybe a marker, or one whose next byte is not here yet: decide with the next chunk.
        if (at > emitFrom) this.sink(buf.subarray(emitFrom, at));
        this.held = Buffer.from(buf.subarray(at));
        return;
      }
      if (typeof marker !== 'number') {
        at++;
        continue;
      }
      const valueStart = at + marker;
      this.sink(buf.subarray(emitFrom, valueStart));
      this.sink(MASK);
      let end = valueStart;
      while (end < buf.length && this.isValueByte(buf[end]!)) end++;
      if (end === buf.length) {
        this.inValue = !final;
        return;
      }
      at = end;
      emitFrom = end;
    }
    if (emitFrom < buf.length) this.sink(buf.subarray(emitFrom));
  }
}
