// Masks the values of URL parameters that carry credentials, as GitLab
// Runner does in every job log: after `?` or `&`, the value of
// private_token, authenticity_token, rss_token, X-Amz-Signature,
// X-Amz-Credential or X-Amz-Security-Token (any letter case) becomes
// `[MASKED]`, up to the next `?`, `&`, white space or control character.
// Works on a stream: a parameter cut between two chunks is still found.
import { Buffer } from 'node:buffer';
import type { LogSink } from '../job/log.ts';
import { MarkerMasker } from './marker-masker.ts';

export const MASKED_URL_PARAMETERS = [
  'private_token',
  'authenticity_token',
  'rss_token',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
] as const;

const KEYS = MASKED_URL_PARAMETERS.map((key) => Buffer.from(`${key}=`));
const QUESTION = 0x3f;
const AMPERSAND = 0x26;

function endsValue(byte: number): boolean {
  return byte === QUESTION || byte === AMPERSAND || byte <= 0x20 || byte === 0x7f;
}

function lower(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}

export class UrlSanitizer extends MarkerMasker {
  constructor(sink: LogSink) {
    super([QUESTION, AMPERSAND], sink);
  }

  protected isValueByte(byte: number): boolean {
    return !endsValue(byte);
  }

  /** `?key=` or `&key=` at `at`. */
  protected markerAt(buf: Buffer, at: number): number | 'partial' | undefined {
    const key = this.keyAt(buf, at + 1);
    return typeof key === 'number' ? 1 + key : key;
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
