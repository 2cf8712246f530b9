// Reads a pipe opened with O_NONBLOCK into one buffer reused for every read,
// so however much passes through it the reader allocates nothing per chunk.
//
// Why: the runtimes' own pipe streams allocate a new buffer for every read
// and leave it to the garbage collector, which Bun and Deno collect late: a
// job printing 1 GiB raised the runner's peak RSS by about 60 MiB on Bun and
// 190 MiB on Deno, growing with the output's size (bench/jobs.ts, section 3).
//
// JavaScript has no readiness notification for such an fd, so it is polled:
// it is read until a read comes back short (the pipe is empty), then read
// again on the next turn of the event loop. Where that finds nothing (EAGAIN)
// it waits, first by turning the event loop for up to SPIN_MS when the writer
// has just filled the pipe (a fast writer refills its 64 KiB within
// microseconds, far sooner than a timer fires; without this a 100 MiB job ran
// at 45-85 MB/s instead of 300-500), reading again after 16, 32, 64 and 128
// us; then on timers of 1, 2, 4 ... up to MAX_POLL_MS. Polls that find
// nothing are kept few: each throws an error object, and a stream of those
// costs memory too (40,000 of them raised Bun's peak RSS by 55 MiB), and an
// idle poll costs up to 0.5 ms of CPU (Deno).
import { closeSync, readSync } from 'node:fs';
import { setImmediate } from 'node:timers';

/** Linux's default pipe capacity: one read can empty a full pipe. */
export const PIPE_READ_BYTES = 64 * 1024;
/** At most this much is read in one turn of the event loop, so other work goes on. */
const TURN_BYTES = 1024 * 1024;
/** How long a pipe that a fast writer has just filled is polled without timers. */
const SPIN_MS = 0.25;
/** The first wait of that spin; each following one is twice as long. */
const FIRST_SPIN_WAIT_MS = 0.016;
/** The longest wait between polls of an idle pipe: how late output after a silence may be seen. */
export const MAX_POLL_MS = 200;

export class PipeReader {
  /** Resolves once the pipe is at its end (every writer closed it), fails, or stop() is called; the fd is closed then. */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly buffer: Uint8Array;
  private finished = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes read since the pipe was last found empty. */
  private sinceEmpty = 0;
  /** When the current run of empty polls began, undefined while reads find data. */
  private emptySince: number | undefined;
  private spin = false;
  private spinWaitMs = FIRST_SPIN_WAIT_MS;
  private spinUntil = 0;
  private pollMs = 0;
  /** Bumped by every scheduled read, so a stale spin or timer callback does nothing. */
  private generation = 0;

  /**
   * Starts reading `fd` (opened with O_NONBLOCK; the reader owns and closes it).
   * onData gets each chunk synchronously as a view of the reused buffer:
   * valid only during the call, to be copied by whoever keeps it.
   */
  constructor(private readonly fd: number, private readonly onData: (chunk: Uint8Array) => void, bufferBytes = PIPE_READ_BYTES) {
    this.buffer = new Uint8Array(bufferBytes);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.schedule();
  }

  /** Reads now instead of at the next poll (when the writer is known to have ended, say). */
  wake(): void {
    if (this.finished || this.emptySince === undefined) return;
    this.emptySince = undefined;
    this.schedule();
  }

  /** Stops reading, dropping what is still in the pipe, and closes the fd. */
  stop(): void {
    this.finish();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const generation = ++this.generation;
    setImmediate(() => {
      if (generation === this.generation) this.read();
    });
  }

  private read(): void {
    if (this.finished) return;
    const buffer = this.buffer;
    let turn = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, buffer, 0, buffer.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') this.empty();
        else this.finish();
        return;
      }
      if (n === 0) {
        this.finish();
        return;
      }
      this.emptySince = undefined;
      this.sinceEmpty += n;
      turn += n;
      try {
        this.onData(buffer.subarray(0, n));
      } catch (error) {
        this.finish();
        throw error;
      }
      if (this.finished) return;
      // A short read emptied the pipe: give the writer a turn before the next read.
      if (n < buffer.length || turn >= TURN_BYTES) break;
    }
    this.schedule();
  }

  /** The pipe had nothing: wait (spinning, then on timers) and read again. */
  private empty(): void {
    const now = performance.now();
    if (this.emptySince === undefined) {
      this.emptySince = now;
      this.spin = this.sinceEmpty >= this.buffer.length;
      this.spinWaitMs = FIRST_SPIN_WAIT_MS;
      this.pollMs = 0;
      this.sinceEmpty = 0;
    }
    const generation = ++this.generation;
    if (this.spin && now - this.emptySince + this.spinWaitMs <= SPIN_MS) {
      this.spinUntil = now + this.spinWaitMs;
      this.spinWaitMs *= 2;
      const spinning = (): void => {
        if (generation !== this.generation) return;
        if (performance.now() >= this.spinUntil) this.read();
        else setImmediate(spinning);
      };
      setImmediate(spinning);
      return;
    }
    this.pollMs = Math.min(MAX_POLL_MS, this.pollMs === 0 ? 1 : this.pollMs * 2);
    this.timer = setTimeout(() => {
      if (generation === this.generation) this.read();
    }, this.pollMs);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.generation++;
    clearTimeout(this.timer);
    try {
      closeSync(this.fd);
    } catch {
      // already closed: nothing to release
    }
    this.resolveDone();
  }
}
