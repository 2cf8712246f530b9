// One real round trip: a cache saved with Debian's `zip` and restored with
// `unzip` through the cache module, into a fresh checkout of the project,
// byte for byte, then restored by a later job through a fallback key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { archiveCaches, type CacheArchiver, restoreCaches } from '../../../src/cache/local-cache.ts';
import { skipUnless } from '../../support/tools.ts';
import { cacheContext, entry } from './support.ts';

const run = promisify(execFile);

/** A stand-in for src/artifacts: the entry's paths as `zip -r` walks them, `unzip -o` to extract. */
const cliArchiver: CacheArchiver = {
  async collect(set, projectDir) {
    const files: string[] = [];
    let newest = 0;
    for (const path of set.paths) {
      const info = await stat(join(projectDir, path)).catch(() => undefined);
      if (info === undefined) continue;
      files.push(path);
      newest = Math.max(newest, Date.now());
    }
    return { files, newestModifiedMs: newest, lines: [] };
  },
  async createZip(files, projectDir, destPath) {
    // To stdout: zip would add `.zip` to the temporary file's name, and append to it.
    const zip = spawn('zip', ['-q', '-r', '-', ...files], { cwd: projectDir, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => zip.on('close', resolve));
    await pipeline(zip.stdout, createWriteStream(destPath));
    assert.equal(await exited, 0);
  },
  async extractZip(zipPath, projectDir) {
    await mkdir(projectDir, { recursive: true });
    await run('unzip', ['-q', '-o', zipPath, '-d', projectDir]);
    return { lines: [] };
  },
};

test('a cache zipped by zip(1) is restored by unzip(1) byte for byte, also through a fallback key', {
  skip: skipUnless('zip', 'zip') || skipUnless('unzip', 'unzip', '-v'),
}, async () => {
  const context = await cacheContext({ CI_COMMIT_REF_SLUG: 'main' });
  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
  await mkdir(join(context.projectDir, 'vendor', 'deep'), { recursive: true });
  await writeFile(join(context.projectDir, 'vendor', 'deep', 'lib.bin'), bytes);
  await writeFile(join(context.projectDir, 'vendor', 'a.txt'), 'hello\n');

  const saved = await archiveCaches([entry({ key: 'vendor-$CI_COMMIT_REF_SLUG', paths: ['vendor', 'missing'] })], context, cliArchiver, true);
  assert.equal(saved.entries[0]!.outcome, 'created');
  const archive = join(context.cacheDir, 'vendor-main', 'cache.zip');
  assert.equal(saved.entries[0]!.bytes, (await stat(archive)).size);
  await run('unzip', ['-t', '-q', archive]);

  await rm(context.projectDir, { recursive: true });
  const restored = await restoreCaches([entry({ key: 'vendor-feature', fallbackKeys: ['vendor-$CI_COMMIT_REF_SLUG'] })], context, cliArchiver);
  assert.deepEqual(restored.entries, [{ key: 'vendor-feature', outcome: 'fallback-hit', restoredKey: 'vendor-main', bytes: saved.entries[0]!.bytes }]);
  assert.deepEqual(await readFile(join(context.projectDir, 'vendor', 'deep', 'lib.bin')), bytes);
  assert.equal(await readFile(join(context.projectDir, 'vendor', 'a.txt'), 'utf8'), 'hello\n');
});
