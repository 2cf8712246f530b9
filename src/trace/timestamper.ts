// GitLab Runner's log line prefixes (FF_TIMESTAMPS): every line of the log
// starts with the time it began, to the microsecond, and the writer it came
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

export function timestamp(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, 23)}${String(micros % 1000).padStart(3, '0')}Z`;
}

interface StreamState {
  /** The unterminated line so far. */
  partial: Buffer[];
  partialLength: number;
  /** When the unterminated line began. */
  startedAt: number;
  continued: boolean;
}

export class Timestamper {
  private readonly streams = new Map<LogStream, StreamState>();

  constructor(private readonly sink: LogSink, private readonly now: () => number = clockMicros) {}

  private state(stream: LogStream): StreamState {
    let state = this.streams.get(stream);
    if (!state) {
      state = { partial: [], partialLength: 0, startedAt: 0, continued: false };
      this.streams.set(stream, state);
    }
    return state;
  }

  private prefix(stream: LogStream, state: StreamState, at: number): Buffer {
    const flag = state.continued ? '+' : ' ';
    state.continued = false;
    return Buffer.from(`${timestamp(at)} ${STREAM_ID[stream]}O${flag}`);
  }

  /** Emits the unterminated line and `tail`, closed by a newline of our own when `close`. */
  private emit(stream: LogStream, state: StreamState, tail: Uint8Array, close: boolean): void {
    const at = state.partialLength > 0 ? state.startedAt : this.now();
    this.sink(this.prefix(stream, state, at));
    for (const part of state.partial) this.sink(part);
    if (tail.length > 0) this.sink(tail);
    if (close) this.sink(Buffer.from('\n'));
    state.partial = [];
    state.partialLength = 0;
  }

  write(stream: LogStream, chunk: Uint8Array): void {
    const state = this.state(stream);
    let from = 0;
    for (let nl = indexOfByte(chunk, NEWLINE, from); nl >= 0; nl = indexOfByte(chunk, NEWLINE, from)) {
      this.emit(stream, state, chunk.subarray(from, nl + 1), false);
      from = nl + 1;
    }
    if (from === chunk.length) return;
    const rest = chunk.subarray(from);
    if (indexOfByte(rest, CARRIAGE_RETURN, 0) >= 0) {
      this.emit(stream, state, rest, true);
      state.continued = true;
      return;
    }
    if (state.partialLength === 0) state.startedAt = this.now();
    state.partial.push(Buffer.from(rest));
    state.partialLength += rest.length;
    if (state.partialLength > MAX_LINE) {
      this.emit(stream, state, new Uint8Array(0), true);
      state.continued = true;
    }
  }

  /** The writer ended (a stage's output): its unterminated line is closed. */
  close(stream: LogStream): void {
    const state = this.state(stream);
    if (state.partialLength > 0) this.emit(stream, state, new Uint8Array(0), true);
    // The next writer of this stream starts afresh, as each of GitLab Runner's writers does.
    state.continued = false;
  }
}
