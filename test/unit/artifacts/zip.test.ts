import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectEntries } from '../../../src/artifacts/paths.ts';
import { extractZip, ZipEscapeError } from '../../../src/artifacts/zip-reader.ts';
import { looksCompressible, writeZip } from '../../../src/artifacts/zip-writer.ts';
import { skipUnless } from '../../support/tools.ts';
import { makeTree, pythonZipInfo, run, tempDir } from './fixtures.ts';

const MTIME = new Date('2024-03-01T12:34:56Z');

function sampleTree(root: string): Buffer {
  const big = randomBytes(3 << 20);
  makeTree(root, {
    'app/bin/run.sh': '#!/bin/sh\necho hi\n',
    'app/data/big.bin': '',
    'app/data/empty.txt': '',
    'app/empty-dir': null,
    'app/private': null,
    'app/private/key': 'k',
    'app/latest': { link: 'data/big.bin' },
    'app/ünïcode name.txt': 'u',
  });
  writeFileSync(join(root, 'app/data/big.bin'), big);
  chmodSync(join(root, 'app/bin/run.sh'), 0o755);
  chmodSync(join(root, 'app/private/key'), 0o600);
  chmodSync(join(root, 'app/private'), 0o700);
  utimesSync(join(root, 'app/data/big.bin'), MTIME, MTIME);
  return big;
}

async function zipTree(root: string, zipPath: string, paths = ['app']): Promise<number> {
  const { entries } = await collectEntries({ projectDir: root, paths });
  return writeZip(entries, zipPath, { projectDir: root });
}

test('the zip is accepted by unzip -t, zipinfo and Python, with modes, dirs and symlinks as GitLab writes them', {
  skip: skipUnless('unzip', 'unzip', '-v') || skipUnless('python3', 'python3'),
}, async (t) => {
  const dir = tempDir('zip');
  t.after(dir.cleanup);
  const src = join(dir.path, 'src');
  sampleTree(src);
  const zipPath = join(dir.path, 'a.zip');
  const bytes = await zipTree(src, zipPath);
  assert.equal(bytes, statSync(zipPath).size);
  assert.match(run('unzip', ['-t', zipPath]), /No errors detected/);
  const listing = run('zipinfo', [zipPath]);
  assert.match(listing, /^lrwxrwxrwx .* app\/latest$/m);
  assert.match(listing, /^-rwxr-xr-x .* app\/bin\/run.sh$/m);
  assert.match(listing, /^drwx------ .* app\/private\/$/m);
  const info = pythonZipInfo(zipPath);
  assert.equal(info.bad, null);
  assert.deepEqual(Object.keys(info.entries), [
    'app/',
    'app/bin/',
    'app/bin/run.sh',
    'app/data/',
    'app/data/big.bin',
    'app/data/empty.txt',
    'app/empty-dir/',
    'app/latest',
    'app/private/',
    'app/private/key',
    'app/ünïcode name.txt',
  ]);
  assert.equal(info.entries['app/latest']?.mode, 0o120777);
  assert.equal(info.entries['app/latest']?.data, 'data/big.bin');
  assert.equal(info.entries['app/private/key']?.mode, 0o100600);
  assert.equal(info.entries['app/data/big.bin']?.size, 3 << 20);
});

test('round trip: extraction restores bytes, modes, mtimes and symlinks, overwriting what is there', async (t) => {
  const dir = tempDir('roundtrip');
  t.after(dir.cleanup);
  const src = join(dir.path, 'src');
  const big = sampleTree(src);
  const zipPath = join(dir.path, 'a.zip');
  await zipTree(src, zipPath);
  const out = join(dir.path, 'out');
  makeTree(out, { 'app/data/empty.txt': 'old content', 'app/bin/run.sh': { link: join(dir.path, 'victim') } });
  writeFileSync(join(dir.path, 'victim'), 'untouched');
  const result = await extractZip(zipPath, out);
  assert.equal(result.entries, 11);
  assert.ok(readFileSync(join(out, 'app/data/big.bin')).equals(big));
  assert.equal(readFileSync(join(out, 'app/data/empty.txt'), 'utf8'), '');
  assert.equal(readFileSync(join(out, 'app/bin/run.sh'), 'utf8'), '#!/bin/sh\necho hi\n');
  assert.equal(readFileSync(join(dir.path, 'victim'), 'utf8'), 'untouched', 'an existing link is replaced, not written through');
  assert.equal(statSync(join(out, 'app/bin/run.sh')).mode & 0o7777, 0o755);
  assert.equal(statSync(join(out, 'app/private/key')).mode & 0o7777, 0o600);
  assert.equal(statSync(join(out, 'app/private')).mode & 0o7777, 0o700);
  assert.equal(statSync(join(out, 'app/data/big.bin')).mtime.getTime(), MTIME.getTime());
  assert.equal(readlinkSync(join(out, 'app/latest')), 'data/big.bin');
  assert.ok(statSync(join(out, 'app/empty-dir')).isDirectory());
  assert.equal(readFileSync(join(out, 'app/ünïcode name.txt'), 'utf8'), 'u');
});

test("extraction of a zip from Debian's zip -r --symlinks keeps modes and links", { skip: skipUnless('zip', 'zip', '-v') }, async (t) => {
  const dir = tempDir('foreign');
  t.after(dir.cleanup);
  const src = join(dir.path, 'src');
  sampleTree(src);
  run('zip', ['-qr', '--symlinks', join(dir.path, 'z.zip'), 'app'], src);
  const out = join(dir.path, 'out');
  await extractZip(join(dir.path, 'z.zip'), out);
  assert.equal(readlinkSync(join(out, 'app/latest')), 'data/big.bin');
  assert.equal(statSync(join(out, 'app/bin/run.sh')).mode & 0o777, 0o755);
});

/** Writes a hostile zip with Python: entries are [name, data, unix mode]. */
function hostileZip(path: string, entries: [string, string, number][]): void {
  const script = `
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, data, mode in json.loads(sys.argv[2]):
        i = zipfile.ZipInfo(name)
        i.create_system = 3
        i.external_attr = mode << 16
        z.writestr(i, data)
`;
  run('python3', ['-c', script, path, JSON.stringify(entries)]);
}

test('extraction refuses names and symlinks that escape the target, naming the entry', { skip: skipUnless('python3', 'python3') }, async (t) => {
  const dir = tempDir('escape');
  t.after(dir.cleanup);
  const outside = join(dir.path, 'outside');
  mkdirSync(outside);
  const cases: [string, [string, string, number][], RegExp][] = [
    ['dotdot', [['ok.txt', 'x', 0o100644], ['../evil.txt', 'x', 0o100644]], /zip entry "\.\.\/evil\.txt" escapes the target directory/],
    ['absolute', [[`${outside}/abs.txt`, 'x', 0o100644]], /zip entry ".*abs\.txt" escapes the target directory/],
    [
      'symlink',
      [['link', outside, 0o120777], ['link/evil.txt', 'x', 0o100644]],
      /zip entry "link\/evil\.txt" escapes the target directory through the symlink "link"/,
    ],
    ['relative symlink', [['a/up', '../..', 0o120777], ['a/up/evil.txt', 'x', 0o100644]], /zip entry "a\/up\/evil\.txt" escapes/],
  ];
  for (const [label, entries, message] of cases) {
    const zipPath = join(dir.path, `${label}.zip`);
    hostileZip(zipPath, entries);
    const target = join(dir.path, `target-${label.replace(' ', '-')}`);
    await assert.rejects(extractZip(zipPath, target), (error: Error) => {
      assert.ok(error instanceof ZipEscapeError, `${label}: ${error.name}: ${error.message}`);
      assert.match(error.message, message, label);
      return true;
    });
    assert.ok(!existsSync(join(outside, 'evil.txt')) && !existsSync(join(outside, 'abs.txt')) && !existsSync(join(dir.path, 'evil.txt')), label);
  }
});

test('a damaged archive is a one-line error, not a partial success', async (t) => {
  const dir = tempDir('damaged');
  t.after(dir.cleanup);
  writeFileSync(join(dir.path, 'bad.zip'), 'PK\u0003\u0004 this is not a zip');
  await assert.rejects(extractZip(join(dir.path, 'bad.zip'), join(dir.path, 'out')), /bad\.zip: not a readable zip archive/);
});

// 3,000 files in the suite (a few seconds); RUNNER_TEST_MANY_FILES=1 makes it 66,000, over the
// 65,535 entries that make yazl write the zip64 end records (about 150 s per runtime here).
const MANY_FILES = process.env['RUNNER_TEST_MANY_FILES'] === '1' ? 66_000 : 3_000;

test(`${MANY_FILES} files: collected, zipped${MANY_FILES > 65_535 ? ' as zip64' : ''} and extracted`, {
  skip: skipUnless('unzip', 'unzip', '-v'),
}, async (t) => {
  const dir = tempDir('many');
  t.after(dir.cleanup);
  const src = join(dir.path, 'src');
  const count = MANY_FILES;
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(src, 'many', `d${d}`), { recursive: true });
    for (let f = 0; f < count / 100; f++) writeFileSync(join(src, 'many', `d${d}`, `f${f}`), `${d}/${f}`);
  }
  const { entries, log } = await collectEntries({ projectDir: src, paths: ['many'] });
  assert.equal(entries.length, count + 101);
  assert.deepEqual(log.map((line) => line.message), [`many: found ${count + 101} matching artifact files and directories`]);
  const zipPath = join(dir.path, 'many.zip');
  await writeZip(entries, zipPath, { projectDir: src });
  assert.match(run('unzip', ['-t', '-q', zipPath]), /No errors detected/);
  assert.match(run('zipinfo', ['-h', zipPath]), new RegExp(`number of entries: ${count + 101}`));
  const out = join(dir.path, 'out');
  const result = await extractZip(zipPath, out);
  assert.equal(result.entries, count + 101);
  assert.equal(readFileSync(join(out, `many/d99/f${count / 100 - 1}`), 'utf8'), `99/${count / 100 - 1}`);
  assert.ok(lstatSync(join(out, 'many/d0')).isDirectory());
});

test('yazl keeps its entries in the list the writer compacts (yazl is pinned: a release that changes this must fail here, not go quadratic)', async () => {
  const { ZipFile } = await import('yazl');
  const zip = new ZipFile();
  zip.addBuffer(Buffer.from('a'), 'a.txt');
  const internals = zip as unknown as { entries?: unknown };
  assert.ok(Array.isArray(internals.entries) && internals.entries.length === 1, 'yazl 3.3.1 holds its entries in `entries`');
  zip.end();
  zip.outputStream.resume();
});

test("yazl's CRC-32 is zlib's native one, with buffer-crc32's contract (a previous CRC continued)", async () => {
  await import('../../../src/artifacts/zip-writer.ts');
  const { createRequire } = await import('node:module');
  const fromYazl = createRequire(createRequire(import.meta.url).resolve('yazl'));
  const crc32 = fromYazl('buffer-crc32') as { unsigned: (data: Uint8Array | string, previous?: number) => number };
  assert.equal(crc32.unsigned(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32.unsigned('6789', crc32.unsigned('12345')), 0xcbf43926);
  assert.equal(crc32.unsigned(Buffer.alloc(0)), 0);
});

test('random data is stored and text deflated; both come back byte for byte', { skip: skipUnless('unzip', 'unzip', '-v') }, async (t) => {
  const dir = tempDir('zip-methods');
  t.after(dir.cleanup);
  const src = join(dir.path, 'src');
  mkdirSync(src);
  const random = randomBytes(200_000);
  const text = Buffer.from('a line of a log that repeats\n'.repeat(10_000));
  writeFileSync(join(src, 'random.bin'), random);
  writeFileSync(join(src, 'small-random.bin'), random.subarray(0, 1000));
  writeFileSync(join(src, 'text.log'), text);
  const zipPath = join(dir.path, 'm.zip');
  await zipTree(src, zipPath, ['random.bin', 'small-random.bin', 'text.log']);
  const listing = run('zipinfo', [zipPath]);
  assert.match(listing, / stor .* random\.bin$/m);
  assert.match(listing, / defN .* text\.log$/m);
  assert.ok(looksCompressible(text) && !looksCompressible(random));
  const out = join(dir.path, 'out');
  await extractZip(zipPath, out);
  assert.deepEqual(readFileSync(join(out, 'random.bin')), random);
  assert.deepEqual(readFileSync(join(out, 'small-random.bin')), random.subarray(0, 1000));
  assert.deepEqual(readFileSync(join(out, 'text.log')), text);
});
