import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { collectEntries, formatArchiveLogLine } from '../../../src/artifacts/paths.ts';
import { skipUnless } from '../../support/tools.ts';
import { makeTree, run, tempDir } from './fixtures.ts';

async function collect(root: string, paths: string[], extra: { exclude?: string[]; untracked?: boolean } = {}) {
  const result = await collectEntries({ projectDir: root, paths, ...extra });
  return { names: result.entries.map((e) => `${e.name}:${e.kind[0]}`), log: result.log.map(formatArchiveLogLine) };
}

test('a directory path brings its whole tree, sorted and de-duplicated, with kinds', async (t) => {
  const dir = tempDir('paths');
  t.after(dir.cleanup);
  makeTree(dir.path, { 'dist/b.js': 'b', 'dist/a/x.js': 'x', 'dist/empty': null, 'dist/link': { link: 'b.js' }, 'other.txt': 'o' });
  const { names, log } = await collect(dir.path, ['dist/', 'dist/b.js']);
  assert.deepEqual(names, ['dist:d', 'dist/a:d', 'dist/a/x.js:f', 'dist/b.js:f', 'dist/empty:d', 'dist/link:s']);
  assert.deepEqual(log, ['dist/: found 6 matching artifact files and directories', 'dist/b.js: found 1 matching artifact files and directories']);
});

test('globs: ** at any depth, * within one directory, hidden files included', async (t) => {
  const dir = tempDir('glob');
  t.after(dir.cleanup);
  makeTree(dir.path, { 'a.txt': '1', '.h.txt': '2', 'd/e/f.txt': '3', 'd/g.log': '4' });
  assert.deepEqual((await collect(dir.path, ['*.txt'])).names, ['.h.txt:f', 'a.txt:f']);
  assert.deepEqual((await collect(dir.path, ['**/*.txt'])).names, ['.h.txt:f', 'a.txt:f', 'd/e/f.txt:f']);
  assert.deepEqual((await collect(dir.path, ['d/*'])).names, ['d/e:d', 'd/e/f.txt:f', 'd/g.log:f']);
  assert.deepEqual((await collect(dir.path, [join(dir.path, 'd', '*.log')])).names, ['d/g.log:f'], 'absolute path inside the project');
});

test("exclude drops matching entries and logs GitLab's count per rule", async (t) => {
  const dir = tempDir('exclude');
  t.after(dir.cleanup);
  makeTree(dir.path, { 'out/a.o': '', 'out/b.o': '', 'out/keep.bin': '', 'out/sub/c.o': '' });
  const { names, log } = await collect(dir.path, ['out'], { exclude: ['out/**/*.o'] });
  assert.deepEqual(names, ['out:d', 'out/keep.bin:f', 'out/sub:d']);
  assert.ok(log.includes('out/**/*.o: excluded 3 files'), log.join('\n'));
});

test("no match: GitLab's warning naming the working directory, not a failure", async (t) => {
  const dir = tempDir('empty');
  t.after(dir.cleanup);
  const { names, log } = await collect(dir.path, ['missing/', '']);
  assert.deepEqual(names, []);
  assert.deepEqual(log, [
    `WARNING: missing/: no matching files. Ensure that the artifact path is relative to the working directory (${dir.path})`,
    'WARNING: No matching files. Path is empty.',
  ]);
});

test('paths outside the project are refused: ../, absolute, and through a symlinked directory', async (t) => {
  const outside = tempDir('outside');
  const dir = tempDir('escape');
  t.after(() => (dir.cleanup(), outside.cleanup()));
  makeTree(outside.path, { 'secret.txt': 's', 'deep/x': 'x' });
  makeTree(dir.path, { 'project/in.txt': 'i', 'project/out': { link: outside.path }, 'project/inner': { link: 'sub' }, 'project/sub/f': 'f' });
  const project = join(dir.path, 'project');
  const { names, log } = await collect(project, ['../', '../project/in.txt', join(outside.path, 'secret.txt'), 'out/secret.txt', 'out/*', 'out', 'inner/f']);
  assert.ok(log.includes('WARNING: processPath: artifact path is not a subpath of project directory: ../'), log.join('\n'));
  assert.ok(log.includes(`WARNING: processPath: artifact path is not a subpath of project directory: ${join(outside.path, 'secret.txt')}`));
  assert.ok(log.includes('WARNING: out/secret.txt: not supported: outside build directory'), log.join('\n'));
  assert.ok(
    log.includes('WARNING: out/deep: not supported: outside build directory') ||
      log.includes('WARNING: out/secret.txt: not supported: outside build directory'),
  );
  // The link itself is kept as a link (GitLab stores symlinks), a link inside the project is followed.
  assert.deepEqual(names, ['in.txt:f', 'inner/f:f', 'out:s']);
});

test('untracked: what git ls-files -o lists, ignored files included', { skip: skipUnless('git', 'git') }, async (t) => {
  const dir = tempDir('untracked');
  t.after(dir.cleanup);
  run('git', ['init', '-q', dir.path]);
  makeTree(dir.path, { 'tracked.txt': 't', '.gitignore': 'ignored.log\n', 'ignored.log': 'i', 'new/file.txt': 'n' });
  run('git', ['-C', dir.path, 'add', 'tracked.txt', '.gitignore']);
  const { names, log } = await collect(dir.path, [], { untracked: true, exclude: ['new/**'] });
  assert.deepEqual(names, ['ignored.log:f']);
  assert.ok(log.includes('untracked: found 1 files'), log.join('\n'));
  assert.ok(log.includes('new/**: excluded 1 files'), log.join('\n'));
  const notRepo = tempDir('norepo');
  t.after(notRepo.cleanup);
  const failed = await collect(notRepo.path, [], { untracked: true });
  assert.match(failed.log.join('\n'), /^WARNING: untracked: exit status 128/m);
});
