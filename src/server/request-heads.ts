// Counts the HTTP/1.1 requests in a connection's raw bytes, as they arrive,
// before the runtime's HTTP parser sees them: the end of each request head
// (its empty line), then its body skipped by Content-Length or by chunked
// framing, so that bytes inside a body are never taken for a request.
//
// It only counts; it never changes the bytes. Where it cannot follow the
// framing (a head larger than the parser accepts, a Content-Length or a
// Transfer-Encoding the parser will refuse), it stops counting for good:
// the parser then answers 400 or 431 and closes the connection itself.

const LF = 10;
const CR = 13;

/** A chunk-size line longer than this (hex size plus extensions) is not followed. */
const MAX_CHUNK_LINE = 4096;

type State =
  /** Before or inside a request head. */
  | 'head'
  /** Inside a body of known length. */
  | 'body'
  /** Reading a chunk-size line. */
  | 'chunk-size'
  /** Inside a chunk's data. */
  | 'chunk-data'
  /** The line end after a chunk's data. */
  | 'chunk-end'
  /** The trailer lines after the last chunk, up to an empty line. */
  | 'trailers'
  /** The framing could not be followed: nothing more is counted. */
  | 'lost';

export class RequestHeadCounter {
  /** Request heads seen complete so far. */
  heads = 0;
  private state: State = 'head';
  /** The current head's text so far (its header lines are read at its end). */
  private head = '';
  /** The current line's length, CRs not counted (0 at an empty line). */
  private lineLength = 0;
  /** Body or chunk bytes still to skip. */
  private remaining = 0;
  private chunkLine = '';
  /** Whether the current head has begun (a byte other than CR or LF seen). */
  private inHead = false;

  /** @param maxHeadBytes a head that has not ended within this many bytes is not followed (the parser answers 431). */
  constructor(private readonly maxHeadBytes: number) {}

  /** Whether the framing is lost and the counting has stopped. */
  get lost(): boolean {
    return this.state === 'lost';
  }

  /**
   * Reads the next bytes of the connection; returns how many request heads
   * they completed. With `stopAt`, it stops once that many heads are counted
   * in all (a connection past its limit is closed: counting the rest of a
   * batch of thousands would only cost time), and the counter is of no
   * further use.
   */
  feed(bytes: Uint8Array, stopAt = Infinity): number {
    const before = this.heads;
    let i = 0;
    while (i < bytes.length && this.state !== 'lost' && this.heads < stopAt) {
      switch (this.state) {
        case 'head':
          i = this.readHead(bytes, i);
          break;
        case 'body':
        case 'chunk-data': {
          const take = Math.min(this.remaining, bytes.length - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = this.state === 'body' ? 'head' : 'chunk-end';
          break;
        }
        case 'chunk-end':
          // The CRLF after the data; a stray byte there is the parser's 400 to give.
          if (bytes[i] === LF) this.state = 'chunk-size';
          else if (bytes[i] !== CR) this.state = 'lost';
          i++;
          break;
        case 'chunk-size':
          i = this.readChunkSize(bytes, i);
          break;
        case 'trailers':
          i = this.readTrailers(bytes, i);
          break;
      }
    }
    return this.heads - before;
  }

  private readHead(bytes: Uint8Array, from: number): number {
    let start = from;
    for (let i = from; i < bytes.length; i++) {
      const byte = bytes[i];
      if (byte === CR) continue;
      if (byte !== LF) {
        this.lineLength++;
        this.inHead = true;
        continue;
      }
      if (this.lineLength > 0) {
        this.lineLength = 0;
        continue;
      }
      // An empty line: the end of a head, or one of the empty lines a parser skips before a request line.
      if (this.inHead) {
        this.head += text(bytes, start, i + 1);
        this.endHead();
        return i + 1;
      }
      start = i + 1;
    }
    this.head += text(bytes, start, bytes.length);
    if (this.head.length > this.maxHeadBytes) this.state = 'lost';
    return bytes.length;
  }

  /** A head has ended: count it and find how its body is framed. */
  private endHead(): void {
    this.heads++;
    const head = this.head;
    this.head = '';
    this.lineLength = 0;
    this.inHead = false;
    if (head.length > this.maxHeadBytes) {
      this.state = 'lost';
      return;
    }
    const lengths: string[] = [];
    const codings: string[] = [];
    for (const line of head.split('\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') lengths.push(...value.split(',').map((v) => v.trim()));
      else if (name === 'transfer-encoding') codings.push(...value.split(',').map((v) => v.trim().toLowerCase()));
    }
    if (codings.length > 0) {
      // The parser refuses a Transfer-Encoding that does not end in chunked, or one with a Content-Length.
      this.state = codings.at(-1) === 'chunked' && lengths.length === 0 ? 'chunk-size' : 'lost';
      this.chunkLine = '';
      return;
    }
    if (lengths.length === 0) {
      this.state = 'head';
      return;
    }
    const length = lengths[0]!;
    if (!/^\d{1,15}$/.test(length) || lengths.some((other) => other !== length)) {
      this.state = 'lost';
      return;
    }
    this.remaining = Number(length);
    this.state = this.remaining === 0 ? 'head' : 'body';
  }

  private readChunkSize(bytes: Uint8Array, from: number): number {
    const end = bytes.indexOf(LF, from);
    const stop = end < 0 ? bytes.length : end;
    this.chunkLine += text(bytes, from, stop);
    if (this.chunkLine.length > MAX_CHUNK_LINE) {
      this.state = 'lost';
      return stop;
    }
    if (end < 0) return stop;
    const line = this.chunkLine.replace(/\r$/, '');
    this.chunkLine = '';
    const semicolon = line.indexOf(';');
    const hex = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
    if (!/^[0-9a-fA-F]{1,13}$/.test(hex)) {
      this.state = 'lost';
      return end + 1;
    }
    this.remaining = parseInt(hex, 16);
    if (this.remaining === 0) {
      this.state = 'trailers';
      this.lineLength = 0;
    } else this.state = 'chunk-data';
    return end + 1;
  }

  private readTrailers(bytes: Uint8Array, from: number): number {
    for (let i = from; i < bytes.length; i++) {
      const byte = bytes[i];
      if (byte === CR) continue;
      if (byte !== LF) {
        this.lineLength++;
        if (this.lineLength > this.maxHeadBytes) {
          this.state = 'lost';
          return i + 1;
        }
        continue;
      }
      if (this.lineLength === 0) {
        this.state = 'head';
        return i + 1;
      }
      this.lineLength = 0;
    }
    return bytes.length;
  }
}

function text(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}
