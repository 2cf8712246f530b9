// Masks tokens by their prefix, as GitLab Runner does whether or not a job
// declares them: after a known prefix (`glpat-`, `glrt-`, ...) the run of
// token characters ([A-Za-z0-9._=-]) that follows becomes `[MASKED]`, the
// prefix itself staying visible. A prefix with no token character after it
// is left as it is. Works on a stream: a prefix or a token cut between two
// chunks is still found.
import { Buffer } from 'node:buffer';
import type { LogSink } from '../job/log.ts';
import { indexOfByte } from '../runtime/runtime.ts';

/** The prefixes GitLab Runner masks with FF_MASK_ALL_DEFAULT_TOKENS (its default); `glpat-` alone without it. */
export const DEFAULT_TOKEN_PREFIXES = [
  'glpat-',
  'gloas-',
  'gldt-',
  'glrt-',
  'glcbt-',
  'glrtr-',
  'glptt-',
  'glft-',
  'glimt-',
  'glagent-',
  'glsoat-',
  'glffct-',
  '_gitlab_session=',
  'gltok-',
] as const;

/** GitLab Runner uses at most this many prefixes, the shortest first. */
export const MAX_TOKEN_PREFIXES = 15;

const MASK = Buffer.from('[MASKED]');

function isTokenByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) ||
    byte === 0x2e || byte === 0x5f || byte === 0x3d || byte === 0x2d; // . _ = -
}

/** The prefixes in force: trimmed, unique, sorted by length then text, at most 15. */
export function tokenPrefixes(prefixes: readonly string[]): string[] {
  const unique = [...new Set(prefixes.map((prefix) => prefix.trim()).filter((prefix) => prefix !== ''))];
  return unique.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)).slice(0, MAX_TOKEN_PREFIXES);
}

export class TokenMasker {
  private readonly prefixes: Buffer[];
  /** The bytes a prefix can start with: only at those is a prefix looked for. */
  private readonly firstBytes: number[];
  private held: Buffer = Buffer.alloc(0);
  /** Inside a masked token: its characters are dropped until one that is not. */
  private inToken = false;

  constructor(prefixes: readonly string[], private readonly sink: LogSink) {
    this.prefixes = tokenPrefixes(prefixes).map((prefix) => Buffer.from(prefix, 'utf8'));
    this.firstBytes = [...new Set(this.prefixes.map((prefix) => prefix[0]!))];
  }

  write(chunk: Uint8Array): void {
    if (this.prefixes.length === 0) {
      this.sink(chunk);
      return;
    }
    const buf = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.held = Buffer.alloc(0);
    this.process(buf, false);
  }

  /** The stream ended: what is held back is passed on. */
  flush(): void {
    const held = this.held;
    this.held = Buffer.alloc(0);
    if (held.length > 0) this.process(held, true);
    this.inToken = false;
  }

  private process(buf: Buffer, final: boolean): void {
    let at = 0;
    if (this.inToken) {
      while (at < buf.length && isTokenByte(buf[at]!)) at++;
      if (at === buf.length) return; // still in the token
      this.inToken = false;
    }
    let emitFrom = at;
    // The next position of each first byte (native searches: most of a log holds no candidate).
    const next = this.firstBytes.map((byte) => indexOfByte(buf, byte, at));
    for (;;) {
      let candidate = -1;
      for (let i = 0; i < next.length; i++) {
        if (next[i]! >= 0 && next[i]! < at) next[i] = indexOfByte(buf, this.firstBytes[i]!, at);
        if (next[i]! >= 0 && (candidate < 0 || next[i]! < candidate)) candidate = next[i]!;
      }
      if (candidate < 0) break;
      at = candidate;
      const prefix = this.prefixAt(buf, at);
      if (prefix === 'partial' && !final) {
        // Maybe a prefix, or a prefix whose next byte is not here yet: decide with the next chunk.
        if (at > emitFrom) this.sink(buf.subarray(emitFrom, at));
        this.held = Buffer.from(buf.subarray(at));
        return;
      }
      if (typeof prefix !== 'number') {
        at++;
        continue;
      }
      const tokenStart = at + prefix;
      this.sink(buf.subarray(emitFrom, tokenStart));
      this.sink(MASK);
      let end = tokenStart;
      while (end < buf.length && isTokenByte(buf[end]!)) end++;
      if (end === buf.length) {
        this.inToken = !final;
        return;
      }
      at = end;
      emitFrom = end;
    }
    if (emitFrom < buf.length) this.sink(buf.subarray(emitFrom));
  }

  /**
   * At `at`: the length of a prefix followed by a token character, 'partial'
   * when the buffer ends before that can be told, undefined otherwise.
   */
  private prefixAt(buf: Buffer, at: number): number | 'partial' | undefined {
    const remaining = buf.length - at;
    let partial = false;
    for (const prefix of this.prefixes) {
      const n = Math.min(prefix.length, remaining);
      if (buf.compare(prefix, 0, n, at, at + n) !== 0) continue;
      if (remaining <= prefix.length) {
        partial = true;
        continue;
      }
      if (isTokenByte(buf[at + prefix.length]!)) return prefix.length;
    }
    return partial ? 'partial' : undefined;
  }
}
