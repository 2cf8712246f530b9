// The keys of a local job file that move files between jobs: `artifacts`,
// `cache`, `needs` and `dependencies`, read with the same strictness as the
// rest of the file (job-file.ts): unknown keys are errors, and each error is
// one line naming the file, the key and what was expected.
//
//   artifacts = { paths = ["dist/"], exclude = ["dist/*.map"], untracked = false,
//                 when = "on_success", expire_in = "1 week", name = "build" }
//   cache = { key = "npm", paths = ["node_modules/"], policy = "pull-push",
//             when = "on_success", fallback_keys = ["npm-main"], untracked = false }
//   needs = ["build"]                 # earlier local jobs, by name or by job id
//   dependencies = ["build"]          # whose artifacts to download (a subset of needs)
import { describeValue } from '../../config/describe-value.ts';
import { didYouMean } from '../../config/did-you-mean.ts';
import type { ArtifactSpec, ArtifactWhen, CacheSpec } from '../../job/model.ts';
import { EXPIRE_IN_EXPECTED, parseExpireIn } from './expire-in.ts';
import { JOB_ID_PATTERN } from './job-id.ts';

/** Reports a mistake at `key` (a path such as cache[1].policy) and never returns. */
export type Fail = (key: string, message: string) => never;

/** GitLab's limits: needs per job (ci_needs_size_limit's default), caches per job, fallback keys per cache. */
export const MAX_NEEDS = 50;
export const MAX_CACHES = 4;
export const MAX_FALLBACK_KEYS = 5;

const ARTIFACT_KEYS = ['paths', 'exclude', 'untracked', 'when', 'expire_in', 'name'] as const;
const CACHE_KEYS = ['key', 'paths', 'untracked', 'policy', 'when', 'fallback_keys'] as const;
const WHEN: readonly ArtifactWhen[] = ['on_success', 'on_failure', 'always'];
const POLICIES = ['pull', 'push', 'pull-push'] as const;

// deno-lint-ignore no-control-regex -- control characters are what this matches
const CONTROL = /[\u0000-\u001f\u007f]/;

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function checkKeys(table: Table, allowed: readonly string[], where: string, what: string, fail: Fail): void {
  const extra = Object.keys(table).find((key) => !allowed.includes(key));
  if (extra !== undefined) {
    fail(
      `${where}.${/^[A-Za-z0-9_-]+$/.test(extra) ? extra : JSON.stringify(extra)}`,
      `unknown key${didYouMean(extra, allowed)}: ${what} has only ${allowed.join(', ')}`,
    );
  }
}

function strings(value: unknown, where: string, example: string, fail: Fail): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return fail(where, `expected an array of strings such as ${example}, got ${describeValue(value)}`);
  return value.map((item: unknown, i) => {
    if (typeof item !== 'string' || item === '' || CONTROL.test(item)) {
      return fail(`${where}[${i}]`, `expected a non-empty string without control characters, got ${describeValue(item)}`);
    }
    return item;
  });
}

function bool(value: unknown, where: string, fail: Fail): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') return fail(where, `expected true or false, got ${describeValue(value)}`);
  return value;
}

function when(value: unknown, where: string, fail: Fail): ArtifactWhen {
  if (value === undefined) return 'on_success';
  if (!(WHEN as readonly unknown[]).includes(value)) return fail(where, `expected one of ${WHEN.map((w) => `"${w}"`).join(', ')}, got ${describeValue(value)}`);
  return value as ArtifactWhen;
}

/** `artifacts`: one archive (type archive, format zip), as GitLab's `artifacts:` without reports. */
export function parseArtifacts(value: unknown, fail: Fail): ArtifactSpec[] {
  if (!isTable(value)) return fail('artifacts', `expected a table such as { paths = ["dist/"], expire_in = "1 week" }, got ${describeValue(value)}`);
  checkKeys(value, ARTIFACT_KEYS, 'artifacts', 'artifacts', fail);
  const paths = strings(value['paths'], 'artifacts.paths', '["dist/", "*.log"]', fail);
  const exclude = strings(value['exclude'], 'artifacts.exclude', '["dist/**/*.map"]', fail);
  const untracked = bool(value['untracked'], 'artifacts.untracked', fail);
  if (paths.length === 0 && !untracked) fail('artifacts', 'expected paths (a non-empty array) or untracked = true: there is nothing to collect');
  const expireIn = value['expire_in'];
  if (expireIn !== undefined && (typeof expireIn !== 'string' || parseExpireIn(expireIn) === undefined)) {
    fail('artifacts.expire_in', `expected ${EXPIRE_IN_EXPECTED}, got ${describeValue(expireIn)}`);
  }
  const name = value['name'];
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '' || CONTROL.test(name) || [...name].length > 255)) {
    fail('artifacts.name', `expected a non-empty string of at most 255 printable characters, got ${describeValue(name)}`);
  }
  return [{
    name: name as string | undefined,
    paths,
    exclude,
    untracked,
    when: when(value['when'], 'artifacts.when', fail),
    type: 'archive',
    format: 'zip',
    expireIn: expireIn as string | undefined,
  }];
}

function parseOneCache(value: unknown, where: string, fail: Fail): CacheSpec {
  if (!isTable(value)) return fail(where, `expected a table such as { key = "npm", paths = ["node_modules/"] }, got ${describeValue(value)}`);
  checkKeys(value, CACHE_KEYS, where, 'a cache', fail);
  const keyOf = (key: unknown, at: string): string => {
    // GitLab's rules for cache:key (Gitlab::Ci::Config::Entry::Key): the key names a file.
    if (typeof key !== 'string' || key === '' || CONTROL.test(key)) return fail(at, `expected a non-empty string, got ${describeValue(key)}`);
    if (key.includes('/') || key.toLowerCase().includes('%2f')) return fail(at, 'a cache key cannot contain "/" or "%2F"');
    if (key === '.' || key === '..' || key.toLowerCase() === '%2e' || key.toLowerCase() === '%2e%2e') return fail(at, 'a cache key cannot be "." or ".."');
    return key;
  };
  const policy = value['policy'] ?? 'pull-push';
  // A $VARIABLE is expanded and checked by the build, as GitLab Runner does.
  if (typeof policy !== 'string' || !((POLICIES as readonly string[]).includes(policy) || policy.includes('$'))) {
    fail(`${where}.policy`, `expected one of ${POLICIES.map((p) => `"${p}"`).join(', ')} (or a $VARIABLE holding one), got ${describeValue(policy)}`);
  }
  const fallbackKeys = strings(value['fallback_keys'], `${where}.fallback_keys`, '["npm-main"]', fail)
    .map((key, i) => keyOf(key, `${where}.fallback_keys[${i}]`));
  if (fallbackKeys.length > MAX_FALLBACK_KEYS) {
    fail(`${where}.fallback_keys`, `expected at most ${MAX_FALLBACK_KEYS} keys (GitLab's limit), got ${fallbackKeys.length}`);
  }
  return {
    key: value['key'] === undefined ? 'default' : keyOf(value['key'], `${where}.key`),
    paths: strings(value['paths'], `${where}.paths`, '["node_modules/"]', fail),
    untracked: bool(value['untracked'], `${where}.untracked`, fail),
    policy: policy as string,
    when: when(value['when'], `${where}.when`, fail),
    fallbackKeys,
  };
}

/** `cache`: a table or an array of at most MAX_CACHES tables. */
export function parseCache(value: unknown, fail: Fail): CacheSpec[] {
  if (!Array.isArray(value)) return [parseOneCache(value, 'cache', fail)];
  if (value.length > MAX_CACHES) fail('cache', `expected at most ${MAX_CACHES} caches (GitLab's limit), got ${value.length}`);
  return value.map((entry: unknown, i) => parseOneCache(entry, `cache[${i}]`, fail));
}

/** `needs` / `dependencies`: earlier local jobs, each a job id (as `runner submit` printed it) or a job name. */
export function parseJobRefs(value: unknown, key: 'needs' | 'dependencies', fail: Fail): string[] {
  const refs = strings(value, key, '["build"] (job names or job ids)', fail);
  if (refs.length > MAX_NEEDS) fail(key, `expected at most ${MAX_NEEDS} jobs (GitLab's limit), got ${refs.length}`);
  refs.forEach((ref, i) => {
    if (ref.trim() === '' || [...ref].length > 255) fail(`${key}[${i}]`, `expected a job name or id, got ${describeValue(ref)}`);
    if (refs.indexOf(ref) !== i) fail(`${key}[${i}]`, `${JSON.stringify(ref)} is listed twice`);
  });
  return refs;
}

/** Whether a `needs`/`dependencies` entry names a job by its id rather than its name. */
export function isJobIdRef(ref: string): boolean {
  return JOB_ID_PATTERN.test(ref);
}
