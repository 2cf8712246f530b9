import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sanitizeGzipHeaderText, writeGzip } from '../../../src/artifacts/gzip-writer.ts';
import { skipUnless } from '../../support/tools.ts';
import { makeTree, openFilesUnder, run, tempDir } from './fixtures.ts';

const MTIME = new Date('2024-05-06T07:08:09Z');

/** The FNAME and FCOMMENT of each member, read with Python's gzip internals-free parser. */
function memberHeaders(path: string): { name: string; comment: string; mtime: number }[] {
  const script = `
import json, sys, zlib
data = open(sys.argv[1], "rb").read()
out = []
while data:
    assert data[:3] == b"\\x1f\\x8b\\x08", data[:3]
    flags = data[3]; mtime = int.from_bytes(data[4:8], "little"); pos = 10
    name = comment = b""
    if flags & 8:
        end = data.index(b"\\0", pos); name = data[pos:end]; pos = end + 1
    if flags & 16:
        end = data.index(b"\\0", pos); comment = data[pos:end]; pos = end + 1
    d = zlib.decompressobj(-15); d.decompress(data[pos:]); rest = d.unused_data
    out.append({"name": name.decode("latin1"), "comment": comment.decode("latin1"), "mtime": mtime})
    data = rest[8:]
print(json.dumps(out))
`;
  return JSON.parse(run('python3', ['-c', script, path])) as { name: string; comment: string; mtime: number }[];
}

test('gzip format: one member per file, accepted by gzip -t, contents concatenated byte-exact', {
  skip: skipUnless('gzip', 'gzip') || skipUnless('python3', 'python3'),
}, async (t) => {
  const dir = tempDir('gzip');
  t.after(dir.cleanup);
  const big = randomBytes(2 << 20);
  makeTree(dir.path, { 'reports/junit.xml': '<testsuites/>\n', 'reports/sub/b 100%.xml': '<b/>', 'reports/é.xml': 'e' });
  mkdirSync(join(dir.path, 'bin'));
  writeFileSync(join(dir.path, 'bin/big'), big);
  utimesSync(join(dir.path, 'reports/junit.xml'), MTIME, MTIME);
  const names = ['reports/junit.xml', 'reports/sub/b 100%.xml', 'reports/é.xml', 'bin/big', 'reports/missing.xml'];
  const warnings: string[] = [];
  const out = join(dir.path, 'junit.gz');
  const bytes = await writeGzip(names.map((name) => ({ name, kind: 'file' as const })), out, {
    projectDir: dir.path,
    onWarning: (line) => warnings.push(line),
  });
  assert.equal(bytes, readFileSync(out).length);
  run('gzip', ['-t', out]);
  const plain = Buffer.from(run('sh', ['-c', `gzip -dc '${out}' | base64 -w0`]), 'base64');
  assert.ok(plain.equals(Buffer.concat([Buffer.from('<testsuites/>\n<b/>e'), big])));
  assert.deepEqual(memberHeaders(out).map(({ name, comment }) => [name, comment]), [
    ['junit.xml', 'reports/junit.xml'],
    ['e:b%20100%25.xml', 'e:reports%2Fsub%2Fb%20100%25.xml'],
    ['e:%C3%A9.xml', 'e:reports%2F%C3%A9.xml'],
    ['big', 'bin/big'],
  ]);
  assert.equal(memberHeaders(out)[0]?.mtime, MTIME.getTime() / 1000);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /^File ignored: .*missing\.xml/);
});

test('gzip format refuses what is not a regular file, as GitLab does', async (t) => {
  const dir = tempDir('gzip-dir');
  t.after(dir.cleanup);
  makeTree(dir.path, { 'reports': null });
  await assert.rejects(
    writeGzip([{ name: 'reports', kind: 'directory' }], join(dir.path, 'x.gz'), { projectDir: dir.path }),
    /the "reports" is not a regular file/,
  );
  assert.deepEqual(openFilesUnder(dir.path), [], 'the output is closed before the error is told');
  assert.equal(existsSync(join(dir.path, 'x.gz')), false, 'the partial output is removed');
});

test('an output that cannot be written fails the gzip with its error, never hangs', async (t) => {
  const dir = tempDir('gzip-out');
  t.after(dir.cleanup);
  makeTree(dir.path, { 'a.xml': 'x'.repeat(200_000) });
  await assert.rejects(
    writeGzip([{ name: 'a.xml', kind: 'file' }], join(dir.path, 'missing-dir', 'x.gz'), { projectDir: dir.path }),
    /ENOENT/,
  );
});

test('sanitizeGzipHeaderText escapes like Go url.PathEscape only when needed', () => {
  assert.equal(sanitizeGzipHeaderText('plain/name-1_2.~$&+:=@.xml'), 'plain/name-1_2.~$&+:=@.xml');
  assert.equal(sanitizeGzipHeaderText('a;b,c?ü'), 'e:a%3Bb%2Cc%3F%C3%BC');
});
