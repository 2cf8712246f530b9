// Docker's multiplexed stream (a container's attach and logs streams when it
// has no TTY): frames of an 8-byte header - the stream type, three zero bytes,
// the payload's size as a big-endian uint32 - then the payload. The network
// cuts it anywhere: a header may be split across chunks, a payload may span
// many chunks, several frames may share one. The demultiplexer is a state
// machine that hands payloads on as views of the chunks it is given, so it
// holds at most a header's 8 bytes between chunks, however large a frame is.

/** Where a payload was written in the container. */
export type OutputStream = 'stdout' | 'stderr';

/** The stream is not a multiplexed stream, ends inside a frame, or the daemon reported an error in it. */
export class MultiplexedStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultiplexedStreamError';
  }
}

const HEADER_SIZE = 8;
/** Stream type 0 is stdin; the daemon never sends it, but Docker's own reader treats it as stdout. */
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
/** The daemon's own error (a failure while it streamed logs): the payload is its message. */
const SYSTEM_ERROR = 3;
/** How much of a system error's message is kept: it is one line of text. */
const MAX_ERROR_MESSAGE = 4096;

/**
 * Splits a multiplexed stream into its stdout and stderr payloads, in order.
 * `onPayload` gets views of the chunks written: valid only during the call.
 * Zero-length frames produce no call.
 */
export class Demultiplexer {
  private readonly header = new Uint8Array(HEADER_SIZE);
  /** Bytes of the current header received so far (0 while inside a payload). */
  private headerFilled = 0;
  /** Payload bytes of the current frame not received yet. */
  private remaining = 0;
  private stream: OutputStream | 'error' = 'stdout';
  /** A system error's message, gathered until its frame ends. */
  private errorText = '';
  private readonly errorDecoder = new TextDecoder();
  /** Bytes consumed so far, to say where a stream went wrong. */
  private offset = 0;

  constructor(private readonly onPayload: (payload: Uint8Array, stream: OutputStream) => void) {}

  /** Consumes one chunk; throws a MultiplexedStreamError on a header that is not Docker's. */
  write(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(HEADER_SIZE - this.headerFilled, chunk.length - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFilled);
        this.headerFilled += take;
        at += take;
        if (this.headerFilled < HEADER_SIZE) break;
        this.startFrame();
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      const payload = chunk.subarray(at, at + take);
      this.remaining -= take;
      this.offset += take;
      at += take;
      if (this.stream === 'error') this.gatherError(payload);
      else this.onPayload(payload, this.stream);
    }
  }

  /** Says the stream ended; throws if it ended inside a frame. */
  end(): void {
    if (this.headerFilled > 0 || this.remaining > 0) {
      const inside = this.headerFilled > 0 ? `a frame header (${this.headerFilled} of ${HEADER_SIZE} bytes)` : `a frame (${this.remaining} bytes missing)`;
      throw new MultiplexedStreamError(`multiplexed stream ended inside ${inside}`);
    }
  }

  private startFrame(): void {
    const [type = 0, zero1, zero2, zero3] = this.header;
    // The three zero bytes are checked too: they tell a raw (TTY) stream apart far more often than the type byte alone.
    if (type > SYSTEM_ERROR || zero1 !== 0 || zero2 !== 0 || zero3 !== 0) {
      const bytes = Array.from(this.header, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
      throw new MultiplexedStreamError(`not a multiplexed stream: frame header ${bytes} at byte ${this.offset}`);
    }
    this.stream = type === STDOUT || type === STDIN ? 'stdout' : type === STDERR ? 'stderr' : 'error';
    this.remaining = new DataView(this.header.buffer).getUint32(4, false);
    this.headerFilled = 0;
    this.offset += HEADER_SIZE;
    this.errorText = '';
    if (this.remaining === 0 && this.stream === 'error') this.gatherError(new Uint8Array(0));
  }

  private gatherError(part: Uint8Array): void {
    if (this.errorText.length < MAX_ERROR_MESSAGE) {
      this.errorText += this.errorDecoder.decode(part.subarray(0, MAX_ERROR_MESSAGE), { stream: this.remaining > 0 });
    }
    if (this.remaining > 0) return;
    throw new MultiplexedStreamError(`the daemon reported an error in the stream: ${this.errorText.slice(0, MAX_ERROR_MESSAGE).trim() || '(no message)'}`);
  }
}
