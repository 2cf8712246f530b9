// The restore_cache and archive_cache decisions on a fake archiver: which
// keys are tried in which order, policy and when, the log lines in GitLab
// Runner's words, and archives that are never seen half-written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { archiveCaches, type CacheEntry, CachePolicyError, restoreCaches, shouldArchive } from '../../../src/cache/local-cache.ts';
import { type CacheLogLine, helper, renderCacheLogLine } from '../../../src/cache/log-lines.ts';
import { cacheContext, entry, FakeArchiver } from './support.ts';

const NO_URL_DOWN = 'No URL provided, cache will not be downloaded from shared cache server. Instead a local version of cache will be extracted.';
const NO_URL_UP = 'No URL provided, cache will not be uploaded to shared cache server. Cache will be stored only locally.';

/** Lines as compact text: `notice: ...`, `helper warning: ...`. */
const show = (lines: readonly CacheLogLine[]): string[] => lines.map((l) => (l.kind === 'helper' ? `helper ${l.level}: ${l.text}` : `${l.kind}: ${l.text}`));

async function putArchive(cacheDir: string, key: string, content: string): Promise<string> {
  const path = join(cacheDir, key, 'cache.zip');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  return path;
}

test('restore tries the key, then fallback_keys, then CACHE_FALLBACK_KEY; the first that extracts wins', async () => {
  const context = await cacheContext({ CACHE_FALLBACK_KEY: 'global', REF: 'main' });
  const archiver = new FakeArchiver();
  const found = await putArchive(context.cacheDir, 'deps-default', 'zipbytes');
  await putArchive(context.cacheDir, 'global', 'never read');
  const report = await restoreCaches([entry({ key: 'deps-$REF', fallbackKeys: ['deps-feature', 'deps-default'] })], context, archiver);
  assert.deepEqual(show(report.lines), [
    'notice: Checking cache for deps-main...',
    `helper info: ${NO_URL_DOWN}`,
    'helper warning: Cache file does not exist',
    'warning: Failed to extract cache',
    'notice: Checking cache for deps-feature...',
    `helper info: ${NO_URL_DOWN}`,
    'helper warning: Cache file does not exist',
    'warning: Failed to extract cache',
    'notice: Checking cache for deps-default...',
    `helper info: ${NO_URL_DOWN}`,
    'notice: Successfully extracted cache',
  ]);
  assert.deepEqual(archiver.calls, [`extract ${found}`]);
  assert.deepEqual(report.entries, [{ key: 'deps-main', outcome: 'fallback-hit', restoredKey: 'deps-default', bytes: 8 }]);
  assert.equal(report.skipStage, false);
});

test('restore: a hit stops at the key; a corrupt archive falls back like a missing one', async () => {
  const context = await cacheContext({ CACHE_FALLBACK_KEY: 'global' });
  await putArchive(context.cacheDir, 'deps', 'abc');
  const hit = await restoreCaches([entry({ fallbackKeys: ['other'] })], context, new FakeArchiver());
  assert.deepEqual(hit.entries, [{ key: 'deps', outcome: 'hit', restoredKey: 'deps', bytes: 3 }]);
  assert.equal(show(hit.lines).filter((l) => l.startsWith('notice: Checking')).length, 1);

  await putArchive(context.cacheDir, 'deps', 'corrupt');
  await putArchive(context.cacheDir, 'global', 'fine!');
  const fallback = await restoreCaches([entry()], context, new FakeArchiver());
  assert.deepEqual(show(fallback.lines).slice(2, 5), [
    'helper fatal: zip: not a valid zip file',
    'warning: Failed to extract cache',
    'notice: Checking cache for global...',
  ]);
  assert.deepEqual(fallback.entries, [{ key: 'deps', outcome: 'fallback-hit', restoredKey: 'global', bytes: 5 }]);
});

test('restore: a miss everywhere; FF_CLEAN_UP_FAILED_CACHE_EXTRACT removes the paths after each failure, never outside the project', async () => {
  const context = await cacheContext({}, { cleanUpFailedExtract: true });
  await mkdir(join(context.projectDir, 'node_modules', 'x'), { recursive: true });
  const outside = join(dirname(context.projectDir), 'keep');
  await mkdir(outside, { recursive: true });
  const report = await restoreCaches([entry({ paths: ['node_modules', '../keep'], fallbackKeys: ['b'] })], context, new FakeArchiver());
  assert.deepEqual(report.entries, [{ key: 'deps', outcome: 'miss', bytes: 0 }]);
  assert.deepEqual(show(report.lines).filter((l) => l.startsWith('print')), [
    'print: Removing node_modules',
    'print: Removing ../keep',
    'print: Removing node_modules',
    'print: Removing ../keep',
  ]);
  await assert.rejects(stat(join(context.projectDir, 'node_modules')), { code: 'ENOENT' });
  assert.ok((await stat(outside)).isDirectory());
});

test('restore: entries without paths skip the stage; bad keys and an unset cache_dir are noticed and skipped', async () => {
  const context = await cacheContext();
  const none = await restoreCaches([entry({ paths: [] })], context, new FakeArchiver());
  assert.deepEqual(none, { skipStage: true, lines: [], entries: [] });
  const untracked = await restoreCaches([entry({ paths: [], untracked: true, key: '/' })], context, new FakeArchiver());
  assert.equal(untracked.skipStage, false);
  assert.deepEqual(show(untracked.lines), ['warning: cache key "/" could not be sanitized', 'notice: Skipping cache extraction due to empty cache key']);
  const unset = await restoreCaches([entry()], { ...context, cacheDir: '' }, new FakeArchiver());
  assert.deepEqual(show(unset.lines), ['notice: Skipping cache extraction due to unset cache directory']);
  const blocked = await restoreCaches([entry()], await cacheContext({ CACHE_FALLBACK_KEY: 'main-protected' }), new FakeArchiver());
  assert.equal(show(blocked.lines)[0], 'warning: CACHE_FALLBACK_KEY "main-protected" not allowed to end in "-protected"');
  assert.equal(show(blocked.lines).filter((l) => l.startsWith('notice: Checking')).length, 1);
});

test('policy and when decide each stage, as GitLab Runner does', async () => {
  const rows: ReadonlyArray<readonly [policy: string, pulls: boolean, pushes: boolean]> = [
    ['pull-push', true, true],
    ['', true, true],
    ['pull', true, false],
    ['push', false, true],
    ['$POLICY', true, false], // expanded from the job's variables
  ];
  for (const [policy, pulls, pushes] of rows) {
    const context = await cacheContext({ POLICY: 'pull' });
    const restored = await restoreCaches([entry({ policy })], context, new FakeArchiver());
    assert.equal(show(restored.lines).includes('notice: Not downloading cache deps due to policy'), !pulls, policy);
    const archived = await archiveCaches([entry({ policy })], context, new FakeArchiver(), true);
    assert.equal(show(archived.lines).includes('notice: Not uploading cache deps due to policy'), !pushes, policy);
    assert.equal(archived.entries[0]!.outcome === 'skipped', !pushes, policy);
  }
  const context = await cacheContext();
  await assert.rejects(restoreCaches([entry({ policy: 'pul' })], context, new FakeArchiver()), new CachePolicyError('unknown cache policy pul for deps'));
  await assert.rejects(archiveCaches([entry({ policy: 'x', when: 'always' })], context, new FakeArchiver(), false), CachePolicyError);

  const whens: ReadonlyArray<readonly [string, boolean, boolean]> = [['on_success', true, false], ['', true, false], ['on_failure', false, true], [
    'always',
    true,
    true,
  ], ['never', false, false]];
  for (const [when, afterSuccess, afterFailure] of whens) {
    assert.equal(shouldArchive(when, true), afterSuccess, when);
    assert.equal(shouldArchive(when, false), afterFailure, when);
    const report = await archiveCaches([entry({ when: when as CacheEntry['when'] })], context, new FakeArchiver(), false);
    assert.equal(report.skipStage, !afterFailure, when);
  }
});

test('archive: the zip goes through a temporary file, then metadata.json, then GitLab lines', async () => {
  const context = await cacheContext();
  const archiver = new FakeArchiver();
  archiver.collectLines = [helper('info', 'node_modules: found 2 matching artifact files and directories')];
  const report = await archiveCaches([entry({ key: 'deps<&>' })], context, archiver, true);
  assert.deepEqual(show(report.lines), [
    'notice: Creating cache deps<&>...',
    'helper info: node_modules: found 2 matching artifact files and directories',
    `helper info: ${NO_URL_UP}`,
    'notice: Created cache',
  ]);
  assert.deepEqual(archiver.calls, ['collect node_modules', 'create archive_X']);
  const dir = join(context.cacheDir, 'deps<&>');
  assert.deepEqual((await readdir(dir)).sort(), ['cache.zip', 'metadata.json']);
  assert.equal(await readFile(join(dir, 'cache.zip'), 'utf8'), 'node_modules/a.js');
  assert.equal(await readFile(join(dir, 'metadata.json'), 'utf8'), '{"cachekey":"deps\\u003c\\u0026\\u003e"}');
  assert.deepEqual(report.entries, [{ key: 'deps<&>', outcome: 'created', bytes: 17 }]);
});

test('archive: no files is a warning and still "Created cache"; an archive newer than every file is kept', async () => {
  const context = await cacheContext();
  const empty = new FakeArchiver();
  empty.files = [];
  const none = await archiveCaches([entry()], context, empty, true);
  assert.deepEqual(show(none.lines), ['notice: Creating cache deps...', 'helper warning: No files to cache.', 'notice: Created cache']);
  assert.equal(none.entries[0]!.outcome, 'no-files');

  const path = await putArchive(context.cacheDir, 'deps', 'old');
  await utimes(path, 2_000, 2_000);
  const archiver = new FakeArchiver();
  archiver.newestModifiedMs = 1_000_000;
  const kept = await archiveCaches([entry()], context, archiver, true);
  assert.deepEqual(show(kept.lines).slice(1, 3), [
    'helper info: Primary cache does not exist remotely, uploading existing archive',
    `helper info: ${NO_URL_UP}`,
  ]);
  assert.deepEqual(kept.entries, [{ key: 'deps', outcome: 'up-to-date', bytes: 3 }]);
  assert.equal(await readFile(path, 'utf8'), 'old');
  archiver.newestModifiedMs = 3_000_000;
  assert.equal((await archiveCaches([entry()], context, archiver, true)).entries[0]!.outcome, 'created');
  assert.equal(await readFile(path, 'utf8'), 'node_modules/a.js');
});

test('archive: while a new archive is written the old one stays whole; a failed write leaves it and no temporary file', async () => {
  const context = await cacheContext();
  const path = await putArchive(context.cacheDir, 'deps', 'previous archive');
  const archiver = new FakeArchiver();
  archiver.newestModifiedMs = Date.now() + 60_000;
  archiver.content = 'the complete new archive';
  let open!: () => void;
  archiver.gate = new Promise((resolve) => (open = resolve));
  const running = archiveCaches([entry()], context, archiver, true);
  while ((await readdir(dirname(path))).length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(await readFile(path, 'utf8'), 'previous archive');
  open();
  assert.equal((await running).entries[0]!.outcome, 'created');
  assert.equal(await readFile(path, 'utf8'), 'the complete new archive');

  archiver.gate = undefined;
  archiver.createError = new Error('disk full');
  const failed = await archiveCaches([entry()], context, archiver, true);
  assert.deepEqual(show(failed.lines).slice(-2), ['helper fatal: disk full', 'warning: Failed to create cache']);
  assert.equal(await readFile(path, 'utf8'), 'the complete new archive');
  assert.deepEqual((await readdir(dirname(path))).sort(), ['cache.zip', 'metadata.json']);
});

test('archive: of two jobs saving one key, the last to finish wins and nothing is left behind', async () => {
  const context = await cacheContext();
  const gates = [0, 1].map(() => {
    let open!: () => void;
    return { promise: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
  });
  const jobs = ['first job', 'second job'].map((content, index) => {
    const archiver = new FakeArchiver();
    archiver.content = content;
    archiver.gate = gates[index]!.promise;
    archiver.newestModifiedMs = Date.now() + 60_000;
    return archiveCaches([entry()], context, archiver, true);
  });
  const dir = join(context.cacheDir, 'deps');
  while ((await readdir(dir).catch(() => [])).length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  gates[1]!.open();
  await jobs[1];
  gates[0]!.open();
  await jobs[0];
  assert.equal(await readFile(join(dir, 'cache.zip'), 'utf8'), 'first job');
  assert.deepEqual((await readdir(dir)).sort(), ['cache.zip', 'metadata.json']);
});

test('archive: an archive under the hashed name is taken over when the key has none (FF_HASH_CACHE_KEYS transition)', async () => {
  const context = await cacheContext();
  const hashed = await putArchive(context.cacheDir, createHash('sha256').update('deps').digest('hex'), 'from hashed');
  const archiver = new FakeArchiver();
  archiver.newestModifiedMs = 0;
  const report = await archiveCaches([entry()], context, archiver, true);
  assert.equal(show(report.lines)[1], 'helper info: Renamed alternate cache file to primary');
  await assert.rejects(stat(hashed), { code: 'ENOENT' });
  assert.equal(await readFile(join(context.cacheDir, 'deps', 'cache.zip'), 'utf8'), 'from hashed');
});

test('lines render as GitLab Runner writes them: script notices and warnings, helper lines padded to 50 columns', () => {
  assert.equal(renderCacheLogLine({ kind: 'notice', text: 'Created cache' }), '\x1b[32;1mCreated cache\x1b[0;m\n');
  assert.equal(renderCacheLogLine({ kind: 'warning', text: 'Failed to extract cache' }), '\x1b[0;33mFailed to extract cache\x1b[0;m\n');
  assert.equal(renderCacheLogLine({ kind: 'print', text: 'Removing x' }), '\x1b[0;mRemoving x\n');
  assert.equal(renderCacheLogLine(helper('warning', 'Cache file does not exist')), `\x1b[0;33mWARNING: Cache file does not exist${' '.repeat(16)}\x1b[0;m \n`);
  assert.equal(renderCacheLogLine(helper('fatal', 'file does not exist')), `\x1b[31;1mFATAL: file does not exist${' '.repeat(24)}\x1b[0;m \n`);
  assert.equal(renderCacheLogLine(helper('info', NO_URL_UP)), `${NO_URL_UP}\x1b[0;m \n`);
});
