// The job file's artifacts, cache, needs and dependencies keys, expire_in, and
// their way back into a job file (jobFileText).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../../src/config/validate.ts';
import { DEFAULT_EXPIRE_IN_SECONDS, expiryOf, parseExpireIn } from '../../../../src/sources/local/expire-in.ts';
import { parseJobFile } from '../../../../src/sources/local/job-file.ts';
import { isJobIdRef } from '../../../../src/sources/local/job-file-transfer.ts';
import { jobFileText } from '../../../../src/sources/local/queue.ts';

const MINIMAL = 'name = "build"\nscript = ["make"]\n';
const ID = '0mwrea97y-h22-00002a-9c41e07fd2';

function jobFileError(text: string): string {
  try {
    parseJobFile(text, 'job.toml');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
    return error.message;
  }
  assert.fail(`no error for:\n${text}`);
}

test('artifacts, cache, needs and dependencies are read with their defaults', () => {
  const spec = parseJobFile(
    `${MINIMAL}needs = ["compile", "${ID}"]\ndependencies = ["compile"]\n` +
      `artifacts = { paths = ["dist/", "*.log"], exclude = ["dist/*.map"], when = "always", expire_in = "1 week", name = "bin" }\n` +
      `[[cache]]\nkey = "npm"\npaths = ["node_modules/"]\npolicy = "pull"\nfallback_keys = ["npm-main"]\n` +
      `[[cache]]\npaths = [".m2/"]\nuntracked = true\n`,
    'job.toml',
  );
  assert.deepEqual(spec.artifacts, [{
    name: 'bin',
    paths: ['dist/', '*.log'],
    exclude: ['dist/*.map'],
    untracked: false,
    when: 'always',
    type: 'archive',
    format: 'zip',
    expireIn: '1 week',
  }]);
  assert.deepEqual(spec.cache, [
    { key: 'npm', paths: ['node_modules/'], untracked: false, policy: 'pull', when: 'on_success', fallbackKeys: ['npm-main'] },
    { key: 'default', paths: ['.m2/'], untracked: true, policy: 'pull-push', when: 'on_success', fallbackKeys: [] },
  ]);
  assert.deepEqual(spec.needs, ['compile', ID]);
  assert.deepEqual(spec.dependsOn, ['compile']);
  assert.equal(spec.dependencies, undefined, 'resolved at claim time, not in the file');
  assert.ok(isJobIdRef(ID) && !isJobIdRef('compile'));

  const single = parseJobFile(`${MINIMAL}cache = { key = "k", paths = ["a"] }\nartifacts = { untracked = true }\n`, 'job.toml');
  assert.equal(single.cache?.length, 1);
  assert.equal(single.artifacts?.[0]?.when, 'on_success');
  assert.equal(single.artifacts?.[0]?.expireIn, undefined);
  const none = parseJobFile(MINIMAL, 'job.toml');
  assert.equal(none.artifacts, undefined);
  assert.equal(none.needs, undefined);
});

test('a job file with the new keys reads back the same through jobFileText', () => {
  const spec = parseJobFile(
    `${MINIMAL}needs = ["a", "${ID}"]\ndependencies = ["a"]\n` +
      `artifacts = { paths = ["dist/"], exclude = ["x"], untracked = true, when = "on_failure", expire_in = "never", name = "n" }\n` +
      `cache = [{ key = "k", paths = ["p"], policy = "push", when = "always", fallback_keys = ["f"] }]\n`,
    'job.toml',
  );
  assert.deepEqual(parseJobFile(jobFileText(spec), 'again.toml'), spec);
  assert.throws(
    () => jobFileText({ ...spec, artifacts: [{ ...spec.artifacts![0]!, type: 'junit', format: 'gzip' }] }),
    /artifacts: a local job has one zip archive of type archive, no reports/,
  );
});

const BAD: ReadonlyArray<readonly [string, string]> = [
  ['artifacts = ["dist/"]', 'job.toml: artifacts: expected a table such as { paths = ["dist/"], expire_in = "1 week" }, got an array'],
  [
    'artifacts = { paths = ["a"], reports = {} }',
    'job.toml: artifacts.reports: unknown key: artifacts has only paths, exclude, untracked, when, expire_in, name',
  ],
  ['artifacts = { paths = [] }', 'job.toml: artifacts: expected paths (a non-empty array) or untracked = true: there is nothing to collect'],
  ['artifacts = { paths = "dist/" }', 'job.toml: artifacts.paths: expected an array of strings such as ["dist/", "*.log"], got the string "dist/"'],
  ['artifacts = { paths = ["a", 1] }', 'job.toml: artifacts.paths[1]: expected a non-empty string without control characters, got integer 1'],
  [
    'artifacts = { paths = ["a"], when = "sometimes" }',
    'job.toml: artifacts.when: expected one of "on_success", "on_failure", "always", got the string "sometimes"',
  ],
  ['artifacts = { paths = ["a"], untracked = "yes" }', 'job.toml: artifacts.untracked: expected true or false, got the string "yes"'],
  [
    'artifacts = { paths = ["a"], expire_in = "1 fortnight" }',
    'job.toml: artifacts.expire_in: expected a duration such as "30 mins", "1 week", "7d", "3600" (seconds) or "never", got the string "1 fortnight"',
  ],
  [
    'artifacts = { paths = ["a"], expire_in = 3600 }',
    'job.toml: artifacts.expire_in: expected a duration such as "30 mins", "1 week", "7d", "3600" (seconds) or "never", got integer 3600',
  ],
  ['artifacts = { paths = ["a"], name = "" }', 'job.toml: artifacts.name: expected a non-empty string of at most 255 printable characters, got the string ""'],
  ['cache = "npm"', 'job.toml: cache: expected a table such as { key = "npm", paths = ["node_modules/"] }, got the string "npm"'],
  ['cache = { key = "a/b" }', 'job.toml: cache.key: a cache key cannot contain "/" or "%2F"'],
  ['cache = { key = ".." }', 'job.toml: cache.key: a cache key cannot be "." or ".."'],
  [
    'cache = [{ key = "a" }, { policy = "pull-only" }]',
    'job.toml: cache[1].policy: expected one of "pull", "push", "pull-push" (or a $VARIABLE holding one), got the string "pull-only"',
  ],
  ['cache = { keys = "a" }', 'job.toml: cache.keys: unknown key (did you mean key?): a cache has only key, paths, untracked, policy, when, fallback_keys'],
  ['cache = [{}, {}, {}, {}, {}]', "job.toml: cache: expected at most 4 caches (GitLab's limit), got 5"],
  ['cache = { fallback_keys = ["a", "b", "c", "d", "e", "f"] }', "job.toml: cache.fallback_keys: expected at most 5 keys (GitLab's limit), got 6"],
  ['cache = { fallback_keys = ["x/y"] }', 'job.toml: cache.fallback_keys[0]: a cache key cannot contain "/" or "%2F"'],
  ['needs = "build"', 'job.toml: needs: expected an array of strings such as ["build"] (job names or job ids), got the string "build"'],
  ['needs = ["a", "a"]', 'job.toml: needs[1]: "a" is listed twice'],
  ['dependencies = ["  "]', 'job.toml: dependencies[0]: expected a job name or id, got the string "  "'],
  ['needs = ["a"]\ndependencies = ["b"]', 'job.toml: dependencies[0]: "b" is not in needs (with needs, dependencies must be a subset of them)'],
];

for (const [text, message] of BAD) {
  test(`bad input: ${text.split('\n').join(' ')}`, () => {
    assert.equal(jobFileError(`${MINIMAL}${text}\n`), message);
  });
}

test('expire_in reads as GitLab (ChronicDuration) reads it', () => {
  const day = 86_400;
  const cases: ReadonlyArray<readonly [string, number | 'never']> = [
    ['3600', 3600],
    ['30 mins', 1800],
    ['1 week', 7 * day],
    ['7d', 7 * day],
    ['2 hrs 30 min', 9000],
    ['1 day and 2 hours', day + 7200],
    ['1d, 2h', day + 7200],
    ['2.5 hours', 9000],
    ['1 month', 30 * day],
    ['1 year', 365.25 * day],
    ['3 Weeks', 21 * day],
    ['never', 'never'],
    [' Never ', 'never'],
  ];
  for (const [text, expected] of cases) assert.equal(parseExpireIn(text), expected, text);
  for (const text of ['', '0', '0 days', 'week', '1 fortnight', '1 week ago', '-1 day', '1:30', 'and', '1 hands']) {
    assert.equal(parseExpireIn(text), undefined, text);
  }
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(expiryOf('1 day', now)?.toISOString(), '2026-01-02T00:00:00.000Z');
  assert.equal(expiryOf('never', now), null);
  assert.equal(expiryOf(undefined, now)?.getTime(), now.getTime() + DEFAULT_EXPIRE_IN_SECONDS * 1000);
  assert.equal(expiryOf('100000000 years', now), null, 'beyond a Date: never');
});
