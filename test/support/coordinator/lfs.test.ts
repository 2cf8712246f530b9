// Git LFS from the test coordinator, as GitLab serves it: the batch API and
// object downloads with the job token as basic auth, and the real git-lfs
// client getting a file's content through them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGitRepository, type JobPayload } from './coordinator.ts';
import { git, gitConfigEnv, gitWithEnv } from './git-client.ts';
import { call, client, withCoordinator } from './http-client.ts';
import { skipUnless } from '../tools.ts';

const lfsSkip = skipUnless('git', 'git') || skipUnless('git-lfs', 'git-lfs', 'version');

/** Bytes that are no text: what LFS is for. */
const CONTENT = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256));
const OID = createHash('sha256').update(CONTENT).digest('hex');
const LFS_JSON = 'application/vnd.git-lfs+json';

const basic = (token: string): string => `Basic ${Buffer.from(`gitlab-ci-token:${token}`).toString('base64')}`;

test('createGitRepository with lfs: the commit holds a pointer, the object sits in .git/lfs/objects', { skip: lfsSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-lfs-'));
  try {
    const repository = createGitRepository(join(dir, 'app'), { 'README.md': '# app\n' }, { lfs: { 'assets/blob.bin': CONTENT } });
    const pointer = await git(repository.path, 'cat-file', 'blob', `${repository.sha}:assets/blob.bin`);
    assert.match(pointer.stdout, new RegExp(`^version https://git-lfs\\.github\\.com/spec/v1\\noid sha256:${OID}\\nsize ${CONTENT.length}\\n$`));
    assert.ok(existsSync(join(repository.path, '.git', 'lfs', 'objects', OID.slice(0, 2), OID.slice(2, 4), OID)));
    assert.match((await git(repository.path, 'show', `${repository.sha}:.gitattributes`)).stdout, /^assets\/blob\.bin filter=lfs diff=lfs merge=lfs -text$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LFS batch API: 401 without the job token; download actions for objects held, 404 errors for others; uploads refused; the href serves the bytes', {
  skip: lfsSkip,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-lfs-'));
  try {
    const repository = createGitRepository(join(dir, 'app'), {}, { lfs: { 'blob.bin': CONTENT } });
    await withCoordinator({}, async (coordinator) => {
      coordinator.enqueueJob({ script: ['true'], repository, projectPath: 'acme/app' });
      const payload = (await client(coordinator).requestJob()).json() as JobPayload;
      const batchUrl = `${coordinator.url}/acme/app.git/info/lfs/objects/batch`;
      const missing = 'f'.repeat(64);
      const body = { operation: 'download', transfers: ['basic'], objects: [{ oid: OID, size: CONTENT.length }, { oid: missing, size: 1 }] };
      const headers = { Accept: LFS_JSON, 'Content-Type': LFS_JSON };

      const anonymous = await call(batchUrl, { method: 'POST', headers, body: JSON.stringify(body) });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="GitLab"');
      const wrong = await call(batchUrl, { method: 'POST', headers: { ...headers, Authorization: basic('glcbt-wrong') }, body: JSON.stringify(body) });
      assert.equal(wrong.status, 401);

      const auth = basic(payload.token);
      const res = await call(batchUrl, { method: 'POST', headers: { ...headers, Authorization: auth }, body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], LFS_JSON);
      const href = `${coordinator.url}/acme/app.git/gitlab-lfs/objects/${OID}`;
      assert.deepEqual(res.json(), {
        objects: [
          { oid: OID, size: CONTENT.length, actions: { download: { href, header: { Authorization: auth } } } },
          { oid: missing, size: 1, error: { code: 404, message: "Object does not exist on the server or you don't have permissions to access it" } },
        ],
      });

      const upload = await call(batchUrl, {
        method: 'POST',
        headers: { ...headers, Authorization: auth },
        body: JSON.stringify({ ...body, operation: 'upload' }),
      });
      assert.equal(upload.status, 403);
      const none = await call(batchUrl, { method: 'POST', headers: { ...headers, Authorization: auth }, body: JSON.stringify({ ...body, objects: [] }) });
      assert.equal(none.status, 404);

      const object = await call(href, { headers: { Authorization: auth } });
      assert.equal(object.status, 200);
      assert.equal(object.headers['content-type'], 'application/octet-stream');
      assert.deepEqual(object.body, CONTENT);
      assert.equal((await call(href)).status, 401);
      assert.equal((await call(href.replace(OID, missing), { headers: { Authorization: auth } })).status, 404);

      coordinator.failNext('lfs', 503);
      assert.equal((await call(href, { headers: { Authorization: auth } })).status, 503, 'failures can be injected into LFS alone');
      assert.deepEqual([...new Set(coordinator.requests.map((r) => r.endpoint))], ['request_job', 'lfs']);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('git-lfs gets the real content through the coordinator with the job token: a clone without smudge then `git lfs pull`, and a smudging clone', {
  skip: lfsSkip,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-lfs-'));
  try {
    const repository = createGitRepository(join(dir, 'app'), { 'README.md': '# app\n' }, { lfs: { 'assets/blob.bin': CONTENT } });
    await withCoordinator({}, async (coordinator) => {
      coordinator.enqueueJob({ script: ['true'], repository, projectPath: 'acme/app' });
      const payload = (await client(coordinator).requestJob()).json() as JobPayload;

      // The LFS filter as `git lfs install` configures it (the system's config is left out): without it
      // `git lfs pull` only fetches ("Git LFS is not installed for this repository").
      const filter = gitConfigEnv({
        'filter.lfs.process': 'git-lfs filter-process',
        'filter.lfs.smudge': 'git-lfs smudge -- %f',
        'filter.lfs.clean': 'git-lfs clean -- %f',
        'filter.lfs.required': 'true',
      });

      // The runner's way: GIT_LFS_SKIP_SMUDGE=1 for the checkout, then `git lfs pull`.
      const skipped = await gitWithEnv({ ...filter, GIT_LFS_SKIP_SMUDGE: '1' }, dir, 'clone', '--quiet', payload.git_info.repo_url, 'pulled');
      assert.equal(skipped.status, 0, skipped.stderr);
      const work = join(dir, 'pulled');
      assert.match(readFileSync(join(work, 'assets', 'blob.bin'), 'utf8'), /^version https:\/\/git-lfs/, 'a pointer before the pull');
      const pull = await gitWithEnv(filter, work, 'lfs', 'pull');
      assert.equal(pull.status, 0, pull.stderr);
      assert.deepEqual(readFileSync(join(work, 'assets', 'blob.bin')), CONTENT);

      // A checkout that smudges.
      const smudged = await gitWithEnv(filter, dir, 'clone', '--quiet', payload.git_info.repo_url, 'smudged');
      assert.equal(smudged.status, 0, smudged.stderr);
      assert.deepEqual(readFileSync(join(dir, 'smudged', 'assets', 'blob.bin')), CONTENT);

      const lfs = coordinator.requests.filter((r) => r.endpoint === 'lfs');
      assert.ok(lfs.some((r) => r.method === 'POST' && r.path === '/acme/app.git/info/lfs/objects/batch' && r.status === 200));
      assert.ok(lfs.some((r) => r.method === 'GET' && r.path === `/acme/app.git/gitlab-lfs/objects/${OID}` && r.status === 200));

      // Once the job is over its token opens nothing.
      await client(coordinator).update(payload.id, { token: payload.token, state: 'success' });
      rmSync(join(work, '.git', 'lfs'), { recursive: true, force: true });
      const late = await gitWithEnv(filter, work, 'lfs', 'fetch');
      assert.notEqual(late.status, 0);
      assert.equal(coordinator.requests.filter((r) => r.endpoint === 'lfs').pop()?.status, 401);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
