// Masks tokens by their prefix, as GitLab Runner does whether or not a job
// declares them: after a known prefix (`glpat-`, `glrt-`, ...) the run of
// token characters ([A-Za-z0-9._=-]) that follows becomes `[MASKED]`, the
// prefix itself staying visible. A prefix with no token character after it
// is left as it is. Works on a stream: a prefix or a token cut between two
// chunks is still found.
import { Buffer } from 'node:buffer';
import type { LogSink } from '../job/log.ts';
import { MarkerMasker } from './marker-masker.ts';

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

/**
 * Prefixes GitLab's token overview lists that GitLab Runner's masker does not
 * have: the legacy runner registration token's. Masked with the defaults, but
 * outside the 15 GitLab Runner keeps, so no prefix a coordinator sends is
 * dropped for them.
 */
export const DOCUMENTED_EXTRA_TOKEN_PREFIXES = ['GR1348941'] as const;

/** GitLab Runner uses at most this many prefixes, the shortest first. */
export const MAX_TOKEN_PREFIXES = 15;

function isTokenByte(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) ||
    byte === 0x2e || byte === 0x5f || byte === 0x3d || byte === 0x2d; // . _ = -
}

/** The prefixes in force: trimmed, unique, sorted by length then text, at most 15. */
export function tokenPrefixes(prefixes: readonly string[]): string[] {
  const unique = [...new Set(prefixes.map((prefix) => prefix.trim()).filter((prefix) => prefix !== ''))];
  return unique.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)).slice(0, MAX_TOKEN_PREFIXES);
}

export class TokenMasker extends MarkerMasker {
  private readonly prefixes: Buffer[];

  /** PREFIXES as GitLab Runner keeps them (tokenPrefixes), and the UNCAPPED ones besides. */
  constructor(prefixes: readonly string[], sink: LogSink, uncapped: readonly string[] = []) {
    const kept = tokenPrefixes(prefixes);
    const all = [...kept, ...uncapped.filter((prefix) => prefix !== '' && !kept.includes(prefix))];
    const buffers = all.map((prefix) => Buffer.from(prefix, 'utf8'));
    super([...new Set(buffers.map((prefix) => prefix[0]!))], sink);
    this.prefixes = buffers;
  }

  protected isValueByte(byte: number): boolean {
    return isTokenByte(byte);
  }

  /**
   * At `at`: the length of a prefix followed by a token character, 'partial'
   * when the buffer ends before that can be told, undefined otherwise.
   */
  protected markerAt(buf: Buffer, at: number): number | 'partial' | undefined {
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
