// Reads a pipe through the event loop's own pipe handle (libuv's: epoll says
// when there is data), into one buffer reused for every read, on Node.
//
// Why: PipeReader polls, as JavaScript has no readiness notification for a
// plain fd. Its waits are timers (late: at most one pipeful gets through per
// wait) and its empty polls each throw an error object. `yes | head -c 64M`
// through a named pipe: 99-104 MiB/s with PipeReader, 319-518 MiB/s through
// the handle (Node 20.20, 2026-12-07, docs/benchmarks.md).
//
// Node only. Given a FIFO's fd, Bun 1.4.5's net.Socket never reads from it
// and Deno 2.9.5's throws EEXIST; both keep PipeReader (readPipe).
import { Socket, type SocketConstructorOpts } from 'node:net';
import { PIPE_READ_BYTES, PipeReader } from './pipe-reader.ts';

/** Reading one pipe: PipeReader's interface, which both readers have. */
export interface PipeReading {
  /** Resolves once the pipe is at its end (every writer closed it), fails, or stop() is called; the fd is closed then. */
  readonly done: Promise<void>;
  /** Writers may have ended: look for the end now (a reader told by the event loop needs no telling). */
  wake(): void;
  /** Stops reading, dropping what is still in the pipe, and closes the fd. */
  stop(): void;
}

/** Whether this runtime's net.Socket reads a FIFO's fd (see the top of this file). */
export const PIPE_HANDLES_READ_FIFOS: boolean = process.versions['bun'] === undefined && !('Deno' in globalThis);

/**
 * The constructor's `onread`: Node's net.Socket takes it from its options (net.connect passes
 * them on), and @types/node names it only among connect's.
 */
interface ReadIntoOptions extends SocketConstructorOpts {
  readonly onread: { readonly buffer: Uint8Array; readonly callback: (bytes: number, buffer: Uint8Array) => boolean };
}

export class PipeHandleReader implements PipeReading {
  readonly done: Promise<void>;
  private readonly socket: Socket;

  /**
   * Starts reading `fd` (a pipe's read end; the reader owns and closes it).
   * onData gets each chunk synchronously as a view of the reused buffer:
   * valid only during the call, to be copied by whoever keeps it.
   */
  constructor(fd: number, onData: (chunk: Uint8Array) => void, bufferBytes = PIPE_READ_BYTES) {
    const buffer = new Uint8Array(bufferBytes);
    // No 'data' events: Node reads straight into the buffer and calls back with the count.
    const options: ReadIntoOptions = {
      fd,
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (bytes: number): boolean => {
          try {
            onData(buffer.subarray(0, bytes));
          } catch (error) {
            this.socket.destroy();
            throw error;
          }
          return true;
        },
      },
    };
    this.socket = new Socket(options);
    this.done = new Promise((resolve) => {
      // 'close' follows the end, an error, or destroy(), and the fd is closed by then.
      this.socket.once('close', () => resolve());
    });
    // A read error ends the reading as PipeReader's does: what was read is kept, 'close' follows.
    this.socket.on('error', () => {});
  }

  wake(): void {
    // epoll reports the end as soon as the last writer closes.
  }

  stop(): void {
    this.socket.destroy();
  }
}

/** The reader that gets a pipe's output fastest on this runtime, without allocating per read. */
export function readPipe(fd: number, onData: (chunk: Uint8Array) => void): PipeReading {
  if (PIPE_HANDLES_READ_FIFOS) {
    try {
      return new PipeHandleReader(fd, onData);
    } catch {
      // The handle could not take the fd (it stays open and ours): poll it instead.
    }
  }
  return new PipeReader(fd, onData);
}
