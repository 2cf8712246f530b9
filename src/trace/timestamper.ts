// GitLab Runner's log line prefixes (FF_TIMESTAMPS): every line of the log
// starts with the time it began (the lines of one write: the time of that
// write), to the microsecond, and the writer it came
// from: `2026-12-06T10:00:00.123456Z 00O ` for the runner's own lines, `01O`
// for the job's output (stdout and stderr reach the runner as one stream, in
// the order the job wrote them, so both are marked O). A line that ends
// without a newline but holds a `\r` (a section marker, a progress bar) is
// closed with one; the writer's next line is then marked `+` (continued)
// instead of ` `. A line longer than 8 KiB is cut the same way; what a
// writer leaves unterminated when it ends is closed with a newline.
import { Buffer } from 'node:buffer';
import type { LogSink } from '../job/log.ts';
import { indexOfByte } from '../runtime/runtime.ts';

export type LogStream = 'runner' | 'script';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** A line is cut past this, as GitLab Runner cuts it. */
const MAX_LINE = 8192;
const STREAM_ID: Readonly<Record<LogStream, string>> = { runner: '00', script: '01' };

/** Microseconds since the epoch. */
export const clockMicros = (): number => Math.floor((performance.timeOrigin + performance.now()) * 1000);

let cachedSecond = Number.NaN;
let cachedPrefix = '';

/** `2026-12-06T10:00:00.123456Z`: UTC to the microsecond (the date part kept while the second lasts: a line costs no Date). */
export function timestamp(micros: number): string {
  const second = Math.floor(micros / 1_000_000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  return `${cachedPrefix}${String(micros - second * 1_000_000).padStart(6, '0')}Z`;
}

interface StreamState {
  /** The unterminated line so far. */
  partial: Buffer[];
  partialLength: number;
  /** When the unterminated line began. */
  startedAt: number;
  continued: boolean;
}

/** `2026-12-06T10:00:00.123456Z 01O ` */
const PREFIX_LENGTH = 32;
/** The output buffer is kept between writes up to this size (a larger one, for a rare large write, is let go). */
const KEPT_OUTPUT = 256 * 1024;

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class Timestamper {
  private readonly streams = new Map<LogStream, StreamState>();
  /**
   * What one write or close produces, built in one reused buffer and passed
   * on as one chunk: a line costs two copies, no allocation and no call down
   * the log (the sink copies what it keeps, as every LogSink does).
   */
  private out: Buffer = Buffer.allocUnsafe(0);
  private pos = 0;
  /**
   * The time of the write being split: every line that begins in one write
   * reached the runner at the same moment, so they share it (one clock
   * reading and one formatted prefix per write, not per line).
   */
  private writeTime: number | undefined;
  private lastPrefix = { at: Number.NaN, stream: 'runner' as LogStream, continued: false, bytes: Buffer.allocUnsafe(0) };

  constructor(private readonly sink: LogSink, private readonly now: () => number = clockMicros) {}

  private state(stream: LogStream): StreamState {
    let state = this.streams.get(stream);
    if (!state) {
      state = { partial: [], partialLength: 0, startedAt: 0, continued: false };
      this.streams.set(stream, state);
    }
    return state;
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + bytes, 64 * 1024));
    this.out.copy(grown, 0, 0, this.pos);
    this.out = grown;
  }

  private flush(): void {
    if (this.pos > 0) {
      const chunk = this.out.subarray(0, this.pos);
      this.pos = 0;
      this.sink(chunk);
    }
    if (this.out.length > KEPT_OUTPUT) this.out = Buffer.allocUnsafe(0);
  }

  private time(): number {
    return (this.writeTime ??= this.now());
  }

  private prefix(stream: LogStream, at: number, continued: boolean): Buffer {
    const last = this.lastPrefix;
    if (last.at !== at || last.stream !== stream || last.continued !== continued) {
      this.lastPrefix = { at, stream, continued, bytes: Buffer.from(`${timestamp(at)} ${STREAM_ID[stream]}O${continued ? '+' : ' '}`, 'latin1') };
    }
    return this.lastPrefix.bytes;
  }

  /** Emits the unterminated line and `tail[start, end)`, closed by a newline of our own when `close`. */
  private emit(stream: LogStream, state: StreamState, tail: Buffer, start: number, end: number, close: boolean): void {
    const at = state.partialLength > 0 ? state.startedAt : this.time();
    this.reserve(PREFIX_LENGTH + state.partialLength + (end - start) + 1);
    this.out.set(this.prefix(stream, at, state.continued), this.pos);
    this.pos += PREFIX_LENGTH;
    state.continued = false;
    for (const part of state.partial) this.pos += part.copy(this.out, this.pos);
    this.pos += tail.copy(this.out, this.pos, start, end);
    if (close) this.out[this.pos++] = NEWLINE;
    state.partial = [];
    state.partialLength = 0;
  }

  write(stream: LogStream, chunk: Uint8Array): void {
    try {
      this.split(stream, asBuffer(chunk));
    } finally {
      this.writeTime = undefined;
      this.flush();
    }
  }

  private split(stream: LogStream, chunk: Buffer): void {
    const state = this.state(stream);
    let from = 0;
    for (let nl = indexOfByte(chunk, NEWLINE, from); nl >= 0; nl = indexOfByte(chunk, NEWLINE, from)) {
      this.emit(stream, state, chunk, from, nl + 1, false);
      from = nl + 1;
    }
    if (from === chunk.length) return;
    if (indexOfByte(chunk, CARRIAGE_RETURN, from) >= 0) {
      this.emit(stream, state, chunk, from, chunk.length, true);
      state.continued = true;
      return;
    }
    if (state.partialLength === 0) state.startedAt = this.time();
    // Copied: the writer may reuse its chunk.
    state.partial.push(Buffer.from(chunk.subarray(from)));
    state.partialLength += chunk.length - from;
    if (state.partialLength > MAX_LINE) {
      this.emit(stream, state, chunk, 0, 0, true);
      state.continued = true;
    }
  }

  /** The writer ended (a stage's output): its unterminated line is closed. */
  close(stream: LogStream): void {
    const state = this.state(stream);
    try {
      if (state.partialLength > 0) this.emit(stream, state, this.out, 0, 0, true);
    } finally {
      this.writeTime = undefined;
      this.flush();
    }
    // The next writer of this stream starts afresh, as each of GitLab Runner's writers does.
    state.continued = false;
  }
}
