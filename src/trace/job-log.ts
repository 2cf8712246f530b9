// The job log pipeline between a job's stdout/stderr and its log sinks:
// masks secrets (secret-masker.ts) and enforces the output limit,
// synchronously and in memory bounded by the longest secret.
import { Buffer } from 'node:buffer';
import type { LogSink, LogStats } from '../job/log.ts';
import { SecretMasker } from './secret-masker.ts';

const NEWLINE = 0x0a;

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
  /** Output bytes (after masking) passed on before the log is cut; Infinity for no limit. */
  readonly limitBytes: number;
  /** Receives the masked, limited log; see SecretMasker for the ownership of the chunks. */
  readonly sink: LogSink;
}

/** The notice appended once when the log is cut (GitLab Runner's wording). */
export function limitNotice(limitBytes: number): string {
  return `\n[runner] Job's log exceeded limit of ${limitBytes} bytes.\n` +
    'Job execution will continue but no more output will be collected.\n';
}

/**
 * One job's log: write() the job's output as it arrives, end() when the job's
 * streams close. Past the limit the input is still consumed (the job never
 * blocks on its log) and counted, but not passed on.
 */
export class JobLog {
  private readonly masker: SecretMasker;
  private readonly limit: number;
  private readonly sink: LogSink;
  private received = 0;
  private written = 0;
  private dropped = 0;
  private truncated = false;
  private sinkError: string | undefined;
  /** The last byte received; a log starts at a line start. */
  private lastByte = NEWLINE;

  constructor(options: JobLogOptions) {
    const { limitBytes } = options;
    if (!(limitBytes === Infinity || (Number.isSafeInteger(limitBytes) && limitBytes >= 0))) {
      throw new RangeError(`JobLog: limitBytes must be a non-negative integer or Infinity, got ${limitBytes}`);
    }
    this.limit = limitBytes;
    this.sink = options.sink;
    this.masker = new SecretMasker(options.secrets, (chunk) => this.limited(chunk));
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

  write(chunk: Uint8Array): void {
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1]!;
    this.received += chunk.length;
    this.masker.write(chunk);
  }

  /** A line of the runner's own (GitLab's closing `ERROR: Job failed` line), on a line of its own. */
  writeLine(text: string): void {
    this.write(Buffer.from(`${this.lastByte === NEWLINE ? '' : '\n'}${text}\n`));
  }

  end(): void {
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

  private limited(chunk: Uint8Array): void {
    const room = this.limit - this.written;
    if (chunk.length <= room) {
      this.written += chunk.length;
      this.pass(chunk);
      return;
    }
    if (room > 0) {
      this.written += room;
      this.pass(chunk.subarray(0, room));
    }
    this.dropped += chunk.length - Math.max(room, 0);
    if (!this.truncated) {
      this.truncated = true;
      this.pass(Buffer.from(limitNotice(this.limit)));
    }
  }
}
