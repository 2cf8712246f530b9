// The job log pipeline between what a job and the runner write and the log's
// sink, in GitLab Runner's order: the masked values (secret-masker.ts), token
// prefixes (token-masker.ts) and credential URL parameters (url-sanitizer.ts)
// become [MASKED]; lines get their time prefix when timestamps are on
// (timestamper.ts); then the output limit. Synchronous, and in memory bounded
// by the longest secret, prefix or line.
//
// Two writers share the log: the job's output (write) and the runner's own
// lines (writeRunner). The maskers hold back bytes that may start a secret;
// they are flushed whenever the writer changes, so every byte is passed on
// (and time-stamped) as the writer's it came from.
import { Buffer } from 'node:buffer';
import type { LogSink, LogStats } from '../job/log.ts';
import { SecretMasker } from './secret-masker.ts';
import { type LogStream, Timestamper } from './timestamper.ts';
import { TokenMasker } from './token-masker.ts';
import { UrlSanitizer } from './url-sanitizer.ts';

export { MASK, SecretMasker } from './secret-masker.ts';

/** GitLab Runner's default `output_limit`, in KiB. */
export const DEFAULT_OUTPUT_LIMIT_KIB = 4096;

/** `output_limit` (KiB, 0 meaning the default, as in GitLab Runner) in bytes. */
export function outputLimitBytes(kib: number): number {
  return (kib || DEFAULT_OUTPUT_LIMIT_KIB) * 1024;
}

export interface JobLogOptions {
  /** Values to mask (raw UTF-8 text); empty strings are ignored. */
  readonly secrets: readonly string[];
  /** Token prefixes after which a token is masked (token-masker.ts); default none. */
  readonly tokenPrefixes?: readonly string[];
  /** Token prefixes masked besides those, outside GitLab Runner's limit of 15. */
  readonly uncappedTokenPrefixes?: readonly string[];
  /** Prefix every line with its time and writer (GitLab's FF_TIMESTAMPS); default off. */
  readonly timestamps?: boolean;
  /** Output bytes (after masking) passed on before the log is cut; Infinity for no limit. */
  readonly limitBytes: number;
  /** Receives the masked, limited log; see SecretMasker for the ownership of the chunks. */
  readonly sink: LogSink;
  /** The clock of the time prefixes, in microseconds since the epoch (tests). */
  readonly clock?: () => number;
}

/** The notice appended once when the log is cut (GitLab Runner's wording and colour). */
export function limitNotice(limitBytes: number): string {
  return `\n\x1b[33;1mJob's log exceeded limit of ${limitBytes} bytes.\n` +
    'Job execution will continue but no more output will be collected.\x1b[0;m\n';
}

/**
 * One job's log: write() the job's output as it arrives, endScript() when a
 * stage's output ends, writeRunner() for the runner's lines, end() last.
 * Past the limit the input is still consumed (the job never blocks on its
 * log) and counted, but not passed on.
 */
export class JobLog {
  private readonly masker: SecretMasker;
  private readonly tokens: TokenMasker;
  private readonly urls: UrlSanitizer;
  private readonly timestamper: Timestamper | undefined;
  private readonly limit: number;
  private readonly sink: LogSink;
  private stream: LogStream = 'runner';
  private received = 0;
  private written = 0;
  private dropped = 0;
  private truncated = false;
  private sinkError: string | undefined;

  constructor(options: JobLogOptions) {
    const { limitBytes } = options;
    if (!(limitBytes === Infinity || (Number.isSafeInteger(limitBytes) && limitBytes >= 0))) {
      throw new RangeError(`JobLog: limitBytes must be a non-negative integer or Infinity, got ${limitBytes}`);
    }
    this.limit = limitBytes;
    this.sink = options.sink;
    this.timestamper = options.timestamps ? new Timestamper((chunk) => this.limited(chunk), options.clock) : undefined;
    const stamped: LogSink = this.timestamper ? (chunk) => this.timestamper!.write(this.stream, chunk) : (chunk) => this.limited(chunk);
    this.urls = new UrlSanitizer(stamped);
    this.tokens = new TokenMasker(options.tokenPrefixes ?? [], (chunk) => this.urls.write(chunk), options.uncappedTokenPrefixes);
    this.masker = new SecretMasker(options.secrets, (chunk) => this.tokens.write(chunk));
  }

  get stats(): LogStats {
    return {
      receivedBytes: this.received,
      writtenBytes: this.written,
      droppedBytes: this.dropped,
      truncated: this.truncated,
      sinkError: this.sinkError,
    };
  }

  /** Passes on every byte the maskers hold back: the writer changes, or a stage's output ended. */
  private flushMaskers(): void {
    this.masker.flush();
    this.tokens.flush();
    this.urls.flush();
  }

  private switchTo(stream: LogStream): void {
    if (this.stream === stream) return;
    this.flushMaskers();
    this.stream = stream;
  }

  /** The job's output. */
  write(chunk: Uint8Array): void {
    this.switchTo('script');
    this.received += chunk.length;
    this.masker.write(chunk);
  }

  /** A stage's output ended: what it left unterminated is closed (with timestamps on). */
  endScript(): void {
    if (this.stream !== 'script') return;
    this.flushMaskers();
    this.timestamper?.close('script');
  }

  /** Text of the runner's own (header, stage titles, warnings, the closing line), passed on at once. */
  writeRunner(text: string): void {
    this.switchTo('runner');
    this.masker.write(Buffer.from(text));
    this.flushMaskers();
  }

  /** The runner's writer ends; the next runner line starts afresh (GitLab's closing line comes from a writer of its own). */
  endRunner(): void {
    this.switchTo('runner');
    this.timestamper?.close('runner');
  }

  end(): void {
    this.flushMaskers();
    this.timestamper?.close(this.stream);
    this.masker.end();
  }

  /** A failing sink must not take the runner down: the job goes on, and the failure is reported with its result. */
  private pass(chunk: Uint8Array): void {
    if (this.sinkError !== undefined) return;
    try {
      this.sink(chunk);
    } catch (error) {
      this.sinkError = error instanceof Error ? error.message : String(error);
    }
  }

  /**
   * GitLab Runner's limit writer: a write that reaches the limit (not only
   * one past it) is cut there, on a UTF-8 character boundary, and followed by
   * the notice; nothing is passed on after it.
   */
  private limited(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.truncated) {
      this.dropped += chunk.length;
      return;
    }
    const room = this.limit - this.written;
    if (chunk.length < room) {
      this.written += chunk.length;
      this.pass(chunk);
      return;
    }
    const kept = characterBoundary(chunk, room);
    if (kept > 0) {
      this.written += kept;
      this.pass(chunk.subarray(0, kept));
    }
    this.dropped += chunk.length - kept;
    this.truncated = true;
    this.pass(Buffer.from(limitNotice(this.limit)));
  }
}

/** `at`, or less (at most 3 bytes) so that bytes [0, result) do not end inside a UTF-8 character. */
function characterBoundary(bytes: Uint8Array, at: number): number {
  let end = at;
  // A continuation byte (10xxxxxx) at `end` means the character before it goes on past the cut.
  while (end > 0 && at - end < 3 && end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
  return end < bytes.length && (bytes[end]! & 0xc0) === 0x80 ? at : end;
}
