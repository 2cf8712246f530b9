// Masks the values of URL parameters that carry credentials, as GitLab
// Runner does in every job log: after `?` or `&`, the value of
// private_token, authenticity_token, rss_token, X-Amz-Signature,
// X-Amz-Credential or X-Amz-Security-Token (any letter case) becomes
// `[MASKED]`, up to the next `?`, `&`, white space or control character.
// Works on a stream: a parameter cut between two chunks is still found.
import { Buffer } from 'node:buffer';
import type { LogSink } from '../job/log.ts';
import { indexOfByte } from '../runtime/runtime.ts';

export const MASKED_URL_PARAMETERS = [
  'private_token',
  'authenticity_token',
  'rss_token',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
] as const;

const MASK = Buffer.from('[MASKED]');
const KEYS = MASKED_URL_PARAMETERS.map((key) => Buffer.from(`${key}=`));
const QUESTION = 0x3f;
const AMPERSAND = 0x26;

function endsValue(byte: number): boolean {
  return byte === QUESTION || byte === AMPERSAND || byte <= 0x20 || byte === 0x7f;
}

function lower(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}

export class UrlSanitizer {
  private held: Buffer = Buffer.alloc(0);
  private inValue = false;

  constructor(private readonly sink: LogSink) {}

  write(chunk: Uint8Array): void {
    const buf = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.held = Buffer.alloc(0);
    this.process(buf, false);
  }

  flush(): void {
    const held = this.held;
    this.held = Buffer.alloc(0);
    if (held.length > 0) this.process(held, true);
    this.inValue = false;
  }

  private process(buf: Buffer, final: boolean): void {
    let at = 0;
    if (this.inValue) {
      while (at < buf.length && !endsValue(buf[at]!)) at++;
      if (at === buf.length) return;
      this.inValue = false;
    }
    let emitFrom = at;
    for (;;) {
      const question = indexOfByte(buf, QUESTION, at);
      const ampersand = indexOfByte(buf, AMPERSAND, at);
      const candidate = question < 0 ? ampersand : ampersand < 0 ? question : Math.min(question, ampersand);
      if (candidate < 0) break;
      const key = this.keyAt(buf, candidate + 1);
      if (key === 'partial' && !final) {
        if (candidate > emitFrom) this.sink(buf.subarray(emitFrom, candidate));
        this.held = Buffer.from(buf.subarray(candidate));
        return;
      }
      if (typeof key !== 'number') {
        at = candidate + 1;
        continue;
      }
      const valueStart = candidate + 1 + key;
      this.sink(buf.subarray(emitFrom, valueStart));
      this.sink(MASK);
      let end = valueStart;
      while (end < buf.length && !endsValue(buf[end]!)) end++;
      if (end === buf.length) {
        this.inValue = !final;
        return;
      }
      at = end;
      emitFrom = end;
    }
    if (emitFrom < buf.length) this.sink(buf.subarray(emitFrom));
  }

  /** The length of `key=` at `at`, 'partial' when the buffer ends before that can be told. */
  private keyAt(buf: Buffer, at: number): number | 'partial' | undefined {
    const remaining = buf.length - at;
    let partial = false;
    for (const key of KEYS) {
      const n = Math.min(key.length, remaining);
      let k = 0;
      while (k < n && lower(buf[at + k]!) === key[k]) k++;
      if (k < n) continue;
      if (n < key.length) partial = true;
      else return key.length;
    }
    return partial || remaining === 0 ? 'partial' : undefined;
  }
}
