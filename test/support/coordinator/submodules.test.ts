// Submodules through the test coordinator: other projects served with
// addProject, a superproject whose .gitmodules points at them with a relative
// URL and an absolute one, and real `git clone --recurse-submodules` runs with
// the job token, over HTTP and HTTPS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addSubmodule, createGitRepository, type JobPayload } from './coordinator.ts';
import { git, gitConfigEnv, gitWithEnv } from './git-client.ts';
import { call, client, withCoordinator } from './http-client.ts';
import { skipUnless } from '../tools.ts';
import { selfSignedCertificate } from '../tls.ts';

const gitSkip = skipUnless('git', 'git');
const opensslSkip = skipUnless('openssl', 'openssl', 'version');

test('createGitRepository with submodules and addSubmodule commit .gitmodules and gitlinks, without cloning', { skip: gitSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-submodules-'));
  try {
    const lib = createGitRepository(join(dir, 'lib'), { 'lib.sh': 'echo lib\n' });
    const app = createGitRepository(join(dir, 'app'), { 'README.md': '# app\n' }, {
      submodules: [{ path: 'vendor/lib', url: '../lib.git', sha: lib.sha }],
    });
    assert.equal((await git(app.path, 'config', '--blob', `${app.sha}:.gitmodules`, 'submodule.vendor/lib.url')).stdout.trim(), '../lib.git');
    assert.equal((await git(app.path, 'ls-tree', app.sha, 'vendor/lib')).stdout.trim(), `160000 commit ${lib.sha}\tvendor/lib`);
    assert.equal((await git(app.path, 'status', '--porcelain')).stdout, '', 'the working tree is clean');

    const later = addSubmodule(app, { path: 'tools', name: 'tools', url: 'https://example.com/shared/tools.git', sha: lib.sha });
    assert.notEqual(later.sha, app.sha);
    assert.equal(later.ref, 'main');
    assert.equal((await git(app.path, 'rev-parse', `${later.sha}^`)).stdout.trim(), app.sha);
    assert.equal(
      (await git(app.path, 'config', '--blob', `${later.sha}:.gitmodules`, 'submodule.tools.url')).stdout.trim(),
      'https://example.com/shared/tools.git',
    );
    assert.equal((await git(app.path, 'config', '--blob', `${later.sha}:.gitmodules`, 'submodule.vendor/lib.path')).stdout.trim(), 'vendor/lib');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const tls of [false, true]) {
  const scheme = tls ? 'https' : 'http';
  test(`submodules over ${scheme}: a relative and an absolute URL to other projects of the coordinator, cloned recursively with the job token`, {
    skip: gitSkip || (tls && opensslSkip),
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coordinator-submodules-'));
    try {
      const certificate = tls ? selfSignedCertificate(dir) : undefined;
      await withCoordinator(certificate ? { tls: { key: certificate.key, cert: certificate.cert } } : {}, async (coordinator) => {
        const lib = createGitRepository(join(dir, 'lib'), { 'lib.sh': 'echo lib\n' });
        const tools = createGitRepository(join(dir, 'tools'), { 'tool.sh': 'echo tool\n' });
        const libProject = coordinator.addProject('acme/lib', lib);
        const toolsProject = coordinator.addProject('shared/tools', tools);
        assert.equal(toolsProject.httpUrl, `${coordinator.url}/shared/tools.git`);
        assert.throws(() => coordinator.addProject('acme/lib', tools), /already served/);
        assert.equal(coordinator.addProject('acme/lib', lib).id, libProject.id, 'the same repository again keeps the project');

        const app = createGitRepository(join(dir, 'app'), { 'README.md': '# app\n' }, {
          submodules: [
            { path: 'vendor/lib', url: '../lib.git', sha: lib.sha },
            { path: 'vendor/tools', url: toolsProject.httpUrl, sha: tools.sha },
          ],
        });
        coordinator.enqueueJob({ script: ['true'], repository: app, projectPath: 'acme/app' });
        const payload = (await client(coordinator, certificate?.cert).requestJob()).json() as JobPayload;
        const tlsEnv: Record<string, string> = certificate ? { GIT_SSL_CAINFO: certificate.certFile } : {};
        // The runner's rewrite (GitLab Runner's url.<with token>.insteadOf <server>): how an absolute
        // submodule URL on the GitLab host gets the job token.
        const withToken = coordinator.url.replace('://', `://gitlab-ci-token:${payload.token}@`);
        const rewrite = gitConfigEnv({ [`url.${withToken}/.insteadOf`]: `${coordinator.url}/` });

        // The relative URL resolves against origin, which carries the token; the absolute one is rewritten.
        const clone = await gitWithEnv({ ...tlsEnv, ...rewrite }, dir, 'clone', '--quiet', '--recurse-submodules', payload.git_info.repo_url, 'cloned');
        assert.equal(clone.status, 0, clone.stderr);
        assert.equal(readFileSync(join(dir, 'cloned', 'vendor', 'lib', 'lib.sh'), 'utf8'), 'echo lib\n');
        assert.equal(readFileSync(join(dir, 'cloned', 'vendor', 'tools', 'tool.sh'), 'utf8'), 'echo tool\n');
        assert.equal((await git(join(dir, 'cloned', 'vendor', 'lib'), 'rev-parse', 'HEAD')).stdout.trim(), lib.sha);

        // The runner's remote has no token: the rewrite alone authenticates all three.
        const plain = await gitWithEnv({ ...tlsEnv, ...rewrite }, dir, 'clone', '--quiet', '--recurse-submodules', `${coordinator.url}/acme/app.git`, 'plain');
        assert.equal(plain.status, 0, plain.stderr);
        assert.equal(readFileSync(join(dir, 'plain', 'vendor', 'lib', 'lib.sh'), 'utf8'), 'echo lib\n');

        // Without the rewrite the absolute URL has no token, and GitLab answers 401.
        const without = await gitWithEnv(tlsEnv, dir, 'clone', '--quiet', '--recurse-submodules', payload.git_info.repo_url, 'without');
        assert.notEqual(without.status, 0);
        const statuses = coordinator.requests.filter((r) => r.endpoint === 'git' && r.path.startsWith('/shared/tools.git/')).map((r) => r.status);
        assert.ok(statuses.includes(401) && statuses.includes(200), statuses.join(' '));

        const auth = { Authorization: `Basic ${Buffer.from(`gitlab-ci-token:${payload.token}`).toString('base64')}` };
        const ca = certificate ? { ca: certificate.cert } : {};
        assert.equal((await call(`${coordinator.url}/acme/nothing.git/info/refs?service=git-upload-pack`, { headers: auth, ...ca })).status, 404);
        await client(coordinator, certificate?.cert).update(payload.id, { token: payload.token, state: 'success' });
        assert.equal((await call(`${coordinator.url}/acme/lib.git/info/refs?service=git-upload-pack`, { headers: auth, ...ca })).status, 401);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
