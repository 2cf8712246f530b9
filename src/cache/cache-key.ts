// A cache entry's keys as GitLab Runner computes them for its shell
// executor (shells/abstract.go newCacheConfig, cache/cachekey/cachekey.go
// Sanitize): the key expanded from the job's variables, `JOB_NAME/REF` when
// the entry has none, sanitized into a relative slash path that cannot
// leave the cache directory (or, with FF_HASH_CACHE_KEYS, hashed instead),
// then the entry's fallback_keys and the CACHE_FALLBACK_KEY variable.
//
// The `-protected`/`-non_protected` suffix is not added here: GitLab itself
// appends it to the keys it sends (its "separate caches for protected
// branches" setting); GitLab Runner only refuses a CACHE_FALLBACK_KEY that
// would reach a protected cache that way.
import { createHash } from 'node:crypto';
import { goPathClean, goPathJoin, goQuote, goTrimRightSpace } from './go-text.ts';

/** What a job lends the key computation: its variables and names. */
export interface CacheKeyContext {
  /** GitLab Runner's ExpandValue over the job's variables (the build sequence's expander). */
  readonly expand: (text: string) => string;
  /** A variable's value as is (GitLab Runner's Variables.Value); undefined when the job has none. */
  readonly value: (name: string) => string | undefined;
  /** CI_JOB_NAME: half of the key of an entry without one. */
  readonly jobName: string;
  /** The git ref (CI_COMMIT_REF_NAME): the other half. */
  readonly ref: string;
  /** FF_HASH_CACHE_KEYS: the key's SHA-256 names the cache instead of the sanitized key. Default off in GitLab Runner. */
  readonly hashKeys: boolean;
}

/** A usable cache key. */
export interface CacheKey {
  /** The key as the log shows it: sanitized, or the expanded key as is when hashing. */
  readonly human: string;
  /** The directory name under the project's cache directory: `human`, or its SHA-256 in hex when hashing. */
  readonly storage: string;
  /** The other naming scheme's directory (the hash when not hashing, and back): an older cache to take over. */
  readonly alternate: string;
}

/** A key computed, with the warning GitLab Runner prints for it, or why there is none. */
export interface KeyResolution {
  readonly key: CacheKey | undefined;
  /** Printed as a warning before anything else about this key. */
  readonly warning: string | undefined;
  /** Why there is no key (`empty cache key`); undefined when a key check declined it quietly. */
  readonly error: string | undefined;
}

/** Go's strings.NewReplacer of Sanitize: %2f and %2e decoded, backslashes made slashes, in one pass. */
const NORMALISE = /%2[fFeE]|\\/g;
const NORMALISED: Readonly<Record<string, string>> = { '%2f': '/', '%2F': '/', '%2e': '.', '%2E': '.', '\\': '/' };

/**
 * GitLab Runner's cachekey.Sanitize: URL-encoded `/` and `.` decoded, `\` made
 * `/`, `.` and `..` resolved inside a virtual root (so a key never climbs
 * out), trailing whitespace trimmed off the rightmost segments (dropping
 * those left empty). An empty key stays empty without error; a key that
 * sanitizes to nothing is an error.
 */
export function sanitizeCacheKey(raw: string): { readonly key: string; readonly error: string | undefined } {
  if (raw === '') return { key: '', error: undefined };
  const cleaned = goPathClean('/' + raw.replace(NORMALISE, (match) => NORMALISED[match]!));
  const parts = cleaned.slice(1).split('/');
  let count = parts.length;
  while (count > 0) {
    parts[count - 1] = goTrimRightSpace(parts[count - 1]!);
    if (parts[count - 1] !== '') break;
    count--;
  }
  const key = parts.slice(0, count).join('/');
  if (key === '') return { key: '', error: `cache key ${goQuote(raw)} could not be sanitized` };
  return { key, error: undefined };
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * One key as newCacheConfig computes it. `userKey` is expanded here (an
 * empty one means `JOB_NAME/REF`); `check` may decline the sanitized key,
 * as GitLab Runner's key checks do (no key, no error).
 */
export function resolveCacheKey(context: CacheKeyContext, userKey: string, check?: (humanKey: string) => boolean): KeyResolution {
  const raw = userKey === '' ? goPathJoin('/', context.jobName, context.ref).slice(1) : context.expand(userKey);
  let human: string;
  let warning: string | undefined;
  if (context.hashKeys) {
    human = raw;
  } else {
    const sanitized = sanitizeCacheKey(raw);
    human = sanitized.key;
    if (sanitized.error !== undefined) warning = sanitized.error;
    else if (human !== raw) warning = `cache key ${goQuote(raw)} sanitized to ${goQuote(human)}`;
  }
  if (check !== undefined && !check(human)) return { key: undefined, warning, error: undefined };
  if (human === '') return { key: undefined, warning, error: 'empty cache key' };
  const hashed = sha256(human);
  const key: CacheKey = context.hashKeys ? { human, storage: hashed, alternate: human } : { human, storage: human, alternate: hashed };
  return { key, warning, error: undefined };
}

/** A fallback key's resolution, with the warnings its check printed before it. */
export interface FallbackResolution extends KeyResolution {
  readonly checkWarnings: readonly string[];
}

/**
 * The keys tried after the entry's own when it has no cache, in GitLab
 * Runner's order: the entry's fallback_keys (each expanded, then expanded
 * again as any key is), then CACHE_FALLBACK_KEY, which may not end in
 * `-protected` (trailing dots and spaces aside) so an unprotected ref
 * cannot read a protected ref's cache. Empty keys are left out silently.
 */
export function resolveFallbackKeys(context: CacheKeyContext, fallbackKeys: readonly string[]): FallbackResolution[] {
  const resolutions: FallbackResolution[] = [];
  for (const fallback of fallbackKeys) {
    const key = context.expand(fallback);
    if (key !== '') resolutions.push({ ...resolveCacheKey(context, key), checkWarnings: [] });
  }
  const variable = context.value('CACHE_FALLBACK_KEY') ?? '';
  if (variable !== '') {
    const checkWarnings: string[] = [];
    const notProtected = (human: string): boolean => {
      const blocked = '-protected';
      const allowed = !human.replace(/[. ]+$/, '').endsWith(blocked);
      if (!allowed) checkWarnings.push(`CACHE_FALLBACK_KEY ${goQuote(human)} not allowed to end in ${goQuote(blocked)}`);
      return allowed;
    };
    resolutions.push({ ...resolveCacheKey(context, variable, notProtected), checkWarnings });
  }
  return resolutions;
}
