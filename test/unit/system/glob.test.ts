import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileMatcher, expandBraces, splitPattern } from '../../../src/system/glob.ts';

// doublestar v4's Match, as GitLab Runner uses it for artifacts paths and exclude
// (https://docs.gitlab.com/ci/yaml/#artifactspaths and #artifactsexclude examples included).
const CASES: [pattern: string, path: string, matches: boolean][] = [
  ['binaries/**', 'binaries', true],
  ['binaries/**', 'binaries/a/b.bin', true],
  ['binaries/**', 'binariesx/a', false],
  ['path/*xyz/*', 'path/abcxyz/file', true],
  ['path/*xyz/*', 'path/abcxyz/sub/file', false],
  ['*.txt', 'a.txt', true],
  ['*.txt', 'dir/a.txt', false],
  ['**/*.txt', 'a.txt', true],
  ['**/*.txt', 'd/e/a.txt', true],
  ['**/*.o', 'src/x/obj.o', true],
  ['binaries/**/*.o', 'binaries/x.o', true],
  ['binaries/**/*.o', 'binaries/a/b/x.o', true],
  ['binaries/**/*.o', 'other/x.o', false],
  ['a/**/b', 'a/b', true],
  ['a/**/b', 'a/x/y/b', true],
  ['a/*/b', 'a/x/y/b', false],
  ['**', 'any/thing/at/all', true],
  ['?.txt', 'a.txt', true],
  ['?.txt', 'ab.txt', false],
  ['?.txt', '/.txt', false],
  ['[ab].txt', 'b.txt', true],
  ['[!ab].txt', 'c.txt', true],
  ['[!ab].txt', 'a.txt', false],
  ['[^ab].txt', 'a.txt', false],
  ['[a-c]x', 'bx', true],
  ['{foo,bar}/*.log', 'bar/x.log', true],
  ['{foo,bar}/*.log', 'baz/x.log', false],
  ['{a/b,c}/f', 'a/b/f', true],
  ['*', '.env', true],
  ['\\*.txt', '*.txt', true],
  ['\\*.txt', 'a.txt', false],
  ['a.txt', 'aXtxt', false],
];

test('doublestar matching: GitLab documented examples and doublestar v4 semantics', () => {
  for (const [pattern, path, expected] of CASES) {
    assert.equal(compileMatcher(pattern)(path), expected, `${pattern} vs ${path}`);
  }
});

test('splitPattern keeps the static directory prefix as doublestar.SplitPattern does', () => {
  assert.deepEqual(splitPattern('a/b/*.txt'), ['a/b', '*.txt']);
  assert.deepEqual(splitPattern('*.txt'), ['.', '*.txt']);
  assert.deepEqual(splitPattern('a/**/c'), ['a', '**/c']);
  assert.deepEqual(splitPattern('/abs/x/*'), ['/abs/x', '*']);
});

test('braces expand, nested and across slashes, leaving classes alone', () => {
  assert.deepEqual(expandBraces('{a,b{c,d}}/x'), ['a/x', 'bc/x', 'bd/x']);
  assert.deepEqual(expandBraces('[{,]x'), ['[{,]x']);
});
