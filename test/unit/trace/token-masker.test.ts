// Token prefixes masked in every job log, as GitLab Runner's token sanitizer
// does (common/buildlogger/internal/tokensanitizer): the prefix stays, the
// token characters after it ([A-Za-z0-9._=-]) become [MASKED].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { DEFAULT_TOKEN_PREFIXES, DOCUMENTED_EXTRA_TOKEN_PREFIXES, MAX_TOKEN_PREFIXES, TokenMasker, tokenPrefixes } from '../../../src/trace/token-masker.ts';
import { JobLog } from '../../../src/trace/job-log.ts';

/** Feeds the chunks through a TokenMasker, then flushes it. */
function mask(prefixes: readonly string[], ...chunks: string[]): string {
  const parts: Buffer[] = [];
  const masker = new TokenMasker(prefixes, (chunk) => parts.push(Buffer.from(chunk)));
  for (const chunk of chunks) masker.write(Buffer.from(chunk));
  masker.flush();
  return Buffer.concat(parts).toString('utf8');
}

const ALL = [...DEFAULT_TOKEN_PREFIXES];

test("the default prefixes are GitLab's: glpat- alone, and with FF_MASK_ALL_DEFAULT_TOKENS thirteen more", () => {
  assert.equal(DEFAULT_TOKEN_PREFIXES[0], 'glpat-');
  assert.deepEqual(
    [...DEFAULT_TOKEN_PREFIXES].sort(),
    [
      '_gitlab_session=',
      'gldt-',
      'glagent-',
      'glcbt-',
      'glffct-',
      'glft-',
      'glimt-',
      'gloas-',
      'glpat-',
      'glptt-',
      'glrt-',
      'glrtr-',
      'glsoat-',
      'gltok-',
    ].sort(),
  );
  assert.equal(MAX_TOKEN_PREFIXES, 15);
});

test('every default prefix masks the token after it and keeps itself', () => {
  for (const prefix of DEFAULT_TOKEN_PREFIXES) {
    assert.equal(mask(ALL, `token: ${prefix}AbC-12_3.x=y/rest`), `token: ${prefix}[MASKED]/rest`, prefix);
    assert.equal(mask(ALL, `${prefix}abc`), `${prefix}[MASKED]`, `${prefix} at the start and end`);
  }
  // With glpat- alone (FF_MASK_ALL_DEFAULT_TOKENS=false) the others pass.
  assert.equal(mask(['glpat-'], 'glpat-abc glrt-abc gldt-abc'), 'glpat-[MASKED] glrt-abc gldt-abc');
});

test('token boundaries as in GitLab Runner', () => {
  assert.equal(mask(ALL, 'commodo glpat-imperdiet in voluptate'), 'commodo glpat-[MASKED] in voluptate');
  assert.equal(mask(ALL, 'esseglpat-imperdiet=_-. end'), 'esseglpat-[MASKED] end', 'inside a word, = _ - . are token characters');
  assert.equal(mask(ALL, 'glpat-impglpat-erdiet end'), 'glpat-[MASKED] end', 'a prefix inside a token is part of it');
  assert.equal(mask(ALL, 'Lorglpat- ipsum'), 'Lorglpat- ipsum', 'a prefix without a token after it stays');
  assert.equal(mask(ALL, 'glpat-'), 'glpat-');
  assert.equal(mask(ALL, 'GLPAT-abc glpat-abc'), 'GLPAT-abc glpat-[MASKED]', 'prefixes match case-sensitively');
  assert.equal(mask(ALL, 'gglpat-x glglpat-y'), 'gglpat-[MASKED] glglpat-[MASKED]');
  assert.equal(mask(ALL, 'glrtr-abc glrt-abc'), 'glrtr-[MASKED] glrt-[MASKED]', 'overlapping prefixes');
  assert.equal(mask(ALL, '_gitlab_session=abc123; path=/'), '_gitlab_session=[MASKED]; path=/');
  assert.equal(mask([], 'glpat-abc'), 'glpat-abc', 'no prefixes, nothing masked');
});

test('a token or a prefix cut between chunks, at every position, is masked the same', () => {
  const input = 'before glpat-imperdiet_x after glrt-t1_abc';
  const expected = 'before glpat-[MASKED] after glrt-[MASKED]';
  for (let i = 0; i <= input.length; i++) {
    assert.equal(mask(ALL, input.slice(0, i), input.slice(i)), expected, `cut at ${i}`);
    for (let j = i; j <= input.length; j += 3) {
      assert.equal(mask(ALL, input.slice(0, i), input.slice(i, j), input.slice(j)), expected, `cut at ${i} and ${j}`);
    }
  }
  // One byte per chunk.
  assert.equal(mask(ALL, ...input.split('')), expected);
});

test('a prefix at the very end of a chunk is decided by the next one', () => {
  assert.equal(mask(ALL, 'token glpat-', 'abc def'), 'token glpat-[MASKED] def');
  assert.equal(mask(ALL, 'token glpat-', ' def'), 'token glpat- def');
  assert.equal(mask(ALL, 'token gl', 'pat-abc'), 'token glpat-[MASKED]');
  assert.equal(mask(ALL, 'token glpat', '| -imperdiet'), 'token glpat| -imperdiet');
  assert.equal(mask(ALL, 'token glpat-'), 'token glpat-', 'the stream ends: the prefix is passed on as it is');
  // A token running on over several chunks is one [MASKED].
  assert.equal(mask(ALL, 'glpat-abc', 'def', 'ghi jkl'), 'glpat-[MASKED] jkl');
});

test('at most 15 prefixes, the shortest first, trimmed and unique: GitLab drops the rest', () => {
  const custom = Array.from({ length: 11 }, (_, i) => `mask${i + 1}-`);
  const used = tokenPrefixes([...custom, ' glpat- ', ...ALL]);
  assert.deepEqual(used, [
    'gldt-',
    'glft-',
    'glrt-',
    'glcbt-',
    'glimt-',
    'gloas-',
    'glpat-',
    'glptt-',
    'glrtr-',
    'gltok-',
    'mask1-',
    'mask2-',
    'mask3-',
    'mask4-',
    'mask5-',
  ]);
  const text = 'mask5-a mask6-b mask11-c glagent-d _gitlab_session=e glpat-f';
  assert.equal(mask([...custom, ...ALL], text), 'mask5-[MASKED] mask6-b mask11-c glagent-d _gitlab_session=e glpat-[MASKED]');
});

test("GitLab's documented legacy prefix GR1348941 is masked besides the 15 GitLab Runner keeps, never in their place", () => {
  assert.deepEqual([...DOCUMENTED_EXTRA_TOKEN_PREFIXES], ['GR1348941']);
  const custom = Array.from({ length: 15 }, (_, i) => `k${String(i).padStart(2, '0')}-`);
  const parts: Buffer[] = [];
  const masker = new TokenMasker(custom, (chunk) => parts.push(Buffer.from(chunk)), DOCUMENTED_EXTRA_TOKEN_PREFIXES);
  masker.write(Buffer.from('k14-secret GR1348'));
  masker.write(Buffer.from('941Z196cJVyw end'));
  masker.flush();
  assert.equal(Buffer.concat(parts).toString(), 'k14-[MASKED] GR1348941[MASKED] end');
});

test("in the job log, tokens are masked after the masked values, in the job's output and the runner's lines alike", () => {
  const parts: Buffer[] = [];
  const log = new JobLog({ secrets: ['hunter2'], tokenPrefixes: ALL, limitBytes: Infinity, sink: (chunk) => parts.push(Buffer.from(chunk)) });
  log.write(Buffer.from('clone with glpat-'));
  log.write(Buffer.from('abc'));
  // The stage ends with a token: it is masked when the stage's output ends, as GitLab's writer does on close.
  log.endScript();
  log.writeRunner('\nrunner: glrt-secret\n');
  log.write(Buffer.from('hunter2 glcbt-'));
  log.write(Buffer.from('xyz\n'));
  log.end();
  assert.equal(Buffer.concat(parts).toString(), 'clone with glpat-[MASKED]\nrunner: glrt-[MASKED]\n[MASKED] glcbt-[MASKED]\n');
});
