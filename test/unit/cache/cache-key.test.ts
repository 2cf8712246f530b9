// Cache keys as GitLab Runner computes them. The sanitizer's table is GitLab
// Runner's own (cache/cachekey/cachekey_test.go TestSanitize), so the two
// implementations answer the same inputs the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { resolveCacheKey, resolveFallbackKeys, sanitizeCacheKey } from '../../../src/cache/cache-key.ts';
import { goPathClean, goQuote } from '../../../src/cache/go-text.ts';
import { keyContext } from './support.ts';

const SANITIZE: ReadonlyArray<readonly [raw: string, expected: string | Error]> = [
  ['', ''],
  ['fallback_key', 'fallback_key'],
  ['some-job/some-ref', 'some-job/some-ref'],
  ['.../....', '.../....'],
  ['...', '...'],
  ['fallback_key/', 'fallback_key'],
  ['fallback_key ', 'fallback_key'],
  ['fallback_key\\', 'fallback_key'],
  ['fallback_key/ \\', 'fallback_key'],
  ['fallback_key/ / \\  \\', 'fallback_key'],
  ['fallback_key/o', 'fallback_key/o'],
  ['fallback_key / \\o', 'fallback_key / /o'],
  ['\t foo bar \t\r', '\t foo bar'],
  [' foo / bar ', ' foo / bar'],
  ['foo\r', 'foo'],
  ['foo\t', 'foo'],
  ['foo \t \r ', 'foo'],
  ['\\', new Error()],
  ['\\.', new Error()],
  ['/', new Error()],
  [' ', new Error()],
  ['.', new Error()],
  ['..', new Error()],
  [' / ', new Error()],
  ['//', new Error()],
  ['//\\', new Error()],
  ['../.', new Error()],
  ['foo\\bar\\..\\..', new Error()],
  ['foo/bar/../..', new Error()],
  [' \t\r\n', new Error()],
  ['something %2F something', 'something / something'],
  ['something %2f something', 'something / something'],
  ['some%2f../job/some/ref/.', 'job/some/ref'],
  ['%2E', new Error()],
  ['%2E%2E', new Error()],
  ['%2E%2E%2E', '...'],
  ['%2e', new Error()],
  ['%2e%2E', new Error()],
  ['.%2E', new Error()],
  ['%2e.', new Error()],
  ['%2E%2e%2E', '...'],
  ['%5C', '%5C'],
  ['%5c', '%5c'],
  ['foo/./bar', 'foo/bar'],
  ['foo/blipp/../bar', 'foo/bar'],
  ['/foo/bar', 'foo/bar'],
  ['//foo/bar', 'foo/bar'],
  ['./foo/bar', 'foo/bar'],
  ['../foo/bar', 'foo/bar'],
  ['.../foo/bar', '.../foo/bar'],
  ['foo/bar/..', 'foo'],
  ['foo/bar/../../../.././blerp', 'blerp'],
  ['a/b/c/../../d', 'a/d'],
  ['job\\name/git\\ref', 'job/name/git/ref'],
  ['foo\\.\\bar', 'foo/bar'],
  ['foo\\blipp\\..\\bar', 'foo/bar'],
  ['\\foo\\bar', 'foo/bar'],
  ['\\\\foo\\bar', 'foo/bar'],
  ['.\\foo\\bar', 'foo/bar'],
  ['..\\foo\\bar', 'foo/bar'],
  ['...\\foo\\bar', '.../foo/bar'],
  ['foo\\bar\\..', 'foo'],
  ['foo\\bar\\..\\..\\..\\..\\.\\blerp', 'blerp'],
  ['foo/ /bar', 'foo/ /bar'],
  ['foo/ /', 'foo'],
  ['foo/ / /', 'foo'],
  // Beyond GitLab's table: Go's unicode.IsSpace takes NBSP but not the BOM, unlike /\s/.
  ['foo\u00a0', 'foo'],
  ['foo\ufeff', 'foo\ufeff'],
];

for (const [raw, expected] of SANITIZE) {
  test(`sanitizeCacheKey(${JSON.stringify(raw)})`, () => {
    const result = sanitizeCacheKey(raw);
    if (expected instanceof Error) {
      assert.equal(result.key, '');
      assert.equal(result.error, `cache key ${goQuote(raw)} could not be sanitized`);
    } else {
      assert.deepEqual(result, { key: expected, error: undefined });
    }
  });
}

test('a sanitized key never leaves its directory, and sanitizing it again changes nothing (GitLab: invariants, idempotence)', () => {
  const inputs = ['a', 'a/b', '../a', 'a/../b', 'a/./b', 'a\\b', 'a\\..\\\\b', '/a/b/', ' a ', '...', '%2e%2e/%2f', 'a/b/c/../../d/e', '.../foo/bar'];
  for (const raw of inputs) {
    const { key } = sanitizeCacheKey(raw);
    if (key === '') continue;
    assert.ok(!key.startsWith('/') && !key.endsWith('/') && !key.endsWith(' ') && !key.includes('\\'), key);
    assert.ok(key.split('/').every((segment) => segment !== '.' && segment !== '..'), key);
    assert.deepEqual(sanitizeCacheKey(key), { key, error: undefined });
  }
});

test('Go quoting and path cleaning match Go at their edges', () => {
  assert.equal(goQuote('a"b\\c\n\x07\x7f\u00e9\u200b'), '"a\\"b\\\\c\\n\\a\\x7fé\\u200b"');
  assert.equal(goPathClean(''), '.');
  assert.equal(goPathClean('/..'), '/');
  assert.equal(goPathClean('a/../..'), '..');
  assert.equal(goPathClean('a/b/'), 'a/b');
});

const context = keyContext;

test('an entry without a key uses JOB_NAME/REF, joined as Go joins paths', () => {
  assert.equal(resolveCacheKey(context(), '').key?.human, 'build/main');
  assert.equal(resolveCacheKey(context({}, { ref: '' }), '').key?.human, 'build');
  assert.equal(resolveCacheKey(context({}, { jobName: 'a/../../x', ref: 'feature/y' }), '').key?.human, 'x/feature/y');
  assert.deepEqual(resolveCacheKey(context({}, { jobName: '', ref: '' }), ''), { key: undefined, warning: undefined, error: 'empty cache key' });
});

test('a key is expanded from the job variables, then sanitized with GitLab warning', () => {
  const vars = { CI_COMMIT_REF_SLUG: 'main', DIR: '../../etc' };
  assert.equal(resolveCacheKey(context(vars), 'deps-$CI_COMMIT_REF_SLUG').key?.human, 'deps-main');
  const escaped = resolveCacheKey(context(vars), '${DIR}/x');
  assert.equal(escaped.key?.human, 'etc/x');
  assert.equal(escaped.warning, 'cache key "../../etc/x" sanitized to "etc/x"');
  const empty = resolveCacheKey(context(vars), '..');
  assert.deepEqual(empty, { key: undefined, warning: 'cache key ".." could not be sanitized', error: 'empty cache key' });
  // a key that expands to nothing is empty, not the default key (GitLab defaults only an unset key)
  assert.deepEqual(resolveCacheKey(context(vars), '$UNSET'), { key: undefined, warning: undefined, error: 'empty cache key' });
});

test('the other naming scheme is the SHA-256 of the key; FF_HASH_CACHE_KEYS swaps them and skips sanitizing', () => {
  const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
  assert.deepEqual(resolveCacheKey(context(), 'a/b').key, { human: 'a/b', storage: 'a/b', alternate: sha('a/b') });
  const hashed = resolveCacheKey(context({}, { hashKeys: true }), '../a/b ');
  assert.deepEqual(hashed, { key: { human: '../a/b ', storage: sha('../a/b '), alternate: '../a/b ' }, warning: undefined, error: undefined });
});

test('fallback keys: fallback_keys in order (expanded), then CACHE_FALLBACK_KEY; empty ones left out', () => {
  const vars = { REF: 'main', CACHE_FALLBACK_KEY: 'global' };
  const found = resolveFallbackKeys(context(vars), ['deps-$REF', '$UNSET', 'deps-default/']);
  assert.deepEqual(found.map((f) => f.key?.human), ['deps-main', 'deps-default', 'global']);
  assert.equal(found[1]!.warning, 'cache key "deps-default/" sanitized to "deps-default"');
  assert.deepEqual(resolveFallbackKeys(context({}), []), []);
});

test('CACHE_FALLBACK_KEY may not end in -protected (trailing dots and spaces aside)', () => {
  for (const blocked of ['main-protected', 'main-protected..', 'main-protected. .', 'x/main-protected/']) {
    const [found] = resolveFallbackKeys(context({ CACHE_FALLBACK_KEY: blocked }), []);
    assert.equal(found!.key, undefined, blocked);
    assert.equal(found!.error, undefined, 'declined quietly, no "Skipping" notice');
    const human = sanitizeCacheKey(blocked).key;
    assert.deepEqual(found!.checkWarnings, [`CACHE_FALLBACK_KEY ${goQuote(human)} not allowed to end in "-protected"`]);
  }
  for (const allowed of ['main-non_protected', 'protected', 'main-protected-x']) {
    const [found] = resolveFallbackKeys(context({ CACHE_FALLBACK_KEY: allowed }), []);
    assert.equal(found!.key?.human, allowed);
    assert.deepEqual(found!.checkWarnings, []);
  }
});
