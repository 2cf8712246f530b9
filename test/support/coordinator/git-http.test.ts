// Git over smart HTTP from the test coordinator, as GitLab serves it: the job
// token as basic auth, real git clones and shallow fetches, and HTTPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGitRepository, type JobPayload } from './coordinator.ts';
import { git, gitWithEnv } from './git-client.ts';
import { call, client, variable, withCoordinator } from './http-client.ts';
import { skipUnless } from '../tools.ts';
import { selfSignedCertificate } from '../tls.ts';

const gitSkip = skipUnless('git', 'git');

test('git over smart HTTP: 401 without the job token, clone and shallow fetch of the commit with it, 401 once the job is over', { skip: gitSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-git-'));
  try {
    const repository = createGitRepository(join(dir, 'app'), { 'README.md': '# app\n', 'src/main.sh': 'echo main\n' }, {
      message: 'Add app\n\nWith a description.',
    });
    execFileSync('git', ['-C', repository.path, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '--quiet', '--allow-empty', '-m', 'Second']);
    await withCoordinator({}, async (coordinator) => {
      const queued = coordinator.enqueueJob({ script: ['true'], repository, projectPath: 'acme/app' });
      const bare = `${coordinator.url}/acme/app.git`;

      // Before a runner takes the job its token opens nothing.
      assert.notEqual((await git(dir, 'clone', '--quiet', queued.repoUrl, 'early')).status, 0);
      const payload = (await client(coordinator).requestJob()).json() as JobPayload;
      assert.equal(payload.git_info.sha, repository.sha);
      assert.equal(payload.git_info.ref, 'main');
      assert.equal(payload.git_info.depth, 20);
      assert.deepEqual(payload.git_info.refspecs, [
        `+refs/pipelines/${queued.pipelineId}:refs/pipelines/${queued.pipelineId}`,
        '+refs/heads/main:refs/remotes/origin/main',
      ]);
      assert.equal(variable(payload, 'CI_COMMIT_TITLE')?.value, 'Add app');
      assert.equal(variable(payload, 'CI_COMMIT_DESCRIPTION')?.value, 'With a description.');

      const anonymous = await call(`${bare}/info/refs?service=git-upload-pack`);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="GitLab"');
      assert.notEqual((await git(dir, 'clone', '--quiet', bare, 'anonymous')).status, 0);

      const clone = await git(dir, 'clone', '--quiet', payload.git_info.repo_url, 'cloned');
      assert.equal(clone.status, 0, clone.stderr);
      assert.equal(readFileSync(join(dir, 'cloned', 'src', 'main.sh'), 'utf8'), 'echo main\n');

      // The way a runner fetches: init, add the remote, fetch the refspecs and the commit shallowly.
      const work = join(dir, 'work');
      assert.equal((await git(dir, 'init', '--quiet', work)).status, 0);
      assert.equal((await git(work, 'remote', 'add', 'origin', payload.git_info.repo_url)).status, 0);
      const fetch = await git(work, 'fetch', '--quiet', '--depth', '1', 'origin', ...payload.git_info.refspecs);
      assert.equal(fetch.status, 0, fetch.stderr);
      assert.equal((await git(work, 'rev-parse', `refs/pipelines/${queued.pipelineId}`)).stdout.trim(), repository.sha);
      const bySha = await git(work, 'fetch', '--quiet', '--depth', '1', 'origin', repository.sha);
      assert.equal(bySha.status, 0, bySha.stderr);
      assert.equal((await git(work, 'checkout', '--quiet', repository.sha)).status, 0);
      assert.equal(readFileSync(join(work, 'README.md'), 'utf8'), '# app\n');
      assert.equal((await git(work, 'rev-list', '--count', 'HEAD')).stdout.trim(), '1', 'shallow');

      assert.equal((await git(work, 'push', 'origin', 'HEAD:refs/heads/other')).status === 0, false, 'a job token cannot push');

      await client(coordinator).update(payload.id, { token: payload.token, state: 'success' });
      assert.notEqual((await git(dir, 'clone', '--quiet', payload.git_info.repo_url, 'late')).status, 0);
      const statuses = coordinator.requests.filter((r) => r.endpoint === 'git').map((r) => r.status);
      assert.ok(statuses.includes(401) && statuses.includes(200) && statuses.includes(403), statuses.join(' '));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const opensslSkip = skipUnless('openssl', 'openssl', 'version');

test('with tls the coordinator speaks HTTPS, and git clones over it', { skip: opensslSkip || gitSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-tls-'));
  try {
    const { key, cert: ca, certFile } = selfSignedCertificate(dir);
    const repository = createGitRepository(join(dir, 'repo'), { 'a.txt': 'over tls\n' });
    await withCoordinator({ tls: { key, cert: ca } }, async (coordinator) => {
      assert.match(coordinator.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      coordinator.enqueueJob({ script: ['true'], repository });
      const res = await client(coordinator, ca).requestJob();
      assert.equal(res.status, 201);
      const payload = res.json() as JobPayload;
      assert.match(payload.git_info.repo_url, /^https:\/\/gitlab-ci-token:/);
      assert.equal(variable(payload, 'CI_SERVER_PROTOCOL')?.value, 'https');
      // GIT_SSL_CAINFO: Debian's GnuTLS build of git ignored -c http.sslCAInfo here.
      const clone = await gitWithEnv({ GIT_SSL_CAINFO: certFile }, dir, 'clone', '--quiet', payload.git_info.repo_url, join(dir, 'cloned'));
      assert.equal(clone.status, 0, clone.stderr);
      assert.equal(readFileSync(join(dir, 'cloned', 'a.txt'), 'utf8'), 'over tls\n');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
