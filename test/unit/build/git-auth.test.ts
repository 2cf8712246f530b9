// How git gets the job token: the rewrites GitLab Runner's default mode
// writes (helpers/url/gitauth_test.go's cases, restated for a runner without
// clone_url, whose base is the runner's own url).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gitAuth, type GitAuthInput } from '../../../src/build/shell/git-auth.ts';

const TOKEN = 'abc123';
const REPO = `https://gitlab-ci-token:${TOKEN}@gitlab.example.com/group/project.git`;

function auth(fields: Partial<GitAuthInput> = {}): ReturnType<typeof gitAuth> {
  return gitAuth({
    repositoryUrl: REPO,
    coordinatorUrl: 'https://gitlab.example.com/',
    forceHttps: false,
    sshHost: 'gitlab.example.com',
    sshPort: '',
    jobToken: TOKEN,
    ...fields,
  });
}

test('git is given the repository URL without the token; rewrites put it back for the repository and the instance', () => {
  const { remote, rewrites, origin } = auth();
  assert.equal(remote, 'https://gitlab.example.com/group/project.git');
  assert.equal(origin, 'https://gitlab.example.com');
  assert.deepEqual(rewrites, [
    [REPO, 'https://gitlab.example.com/group/project.git'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com', 'https://gitlab.example.com'],
  ], 'the instance base and the repository host are one rewrite, not two');
});

test('an instance under a directory: its base keeps the path; GIT_SUBMODULE_FORCE_HTTPS rewrites ssh URLs to it', () => {
  const { rewrites } = auth({ coordinatorUrl: 'https://gitlab.example.com/gitlab/', forceHttps: true });
  assert.deepEqual(rewrites.slice(1), [
    ['https://gitlab-ci-token:abc123@gitlab.example.com/gitlab', 'https://gitlab.example.com/gitlab'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com/gitlab/', 'git@gitlab.example.com:'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com/gitlab', 'ssh://git@gitlab.example.com'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com', 'https://gitlab.example.com'],
  ]);
});

test('GIT_SUBMODULE_FORCE_HTTPS with a custom ssh port or host', () => {
  assert.deepEqual(auth({ forceHttps: true, sshPort: '8022' }).rewrites.slice(1), [
    ['https://gitlab-ci-token:abc123@gitlab.example.com', 'https://gitlab.example.com'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com', 'ssh://git@gitlab.example.com:8022'],
  ]);
  assert.deepEqual(auth({ forceHttps: true, sshPort: '22', sshHost: 'ssh.gitlab.example.com' }).rewrites.slice(1), [
    ['https://gitlab-ci-token:abc123@gitlab.example.com', 'https://gitlab.example.com'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com/', 'git@ssh.gitlab.example.com:'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com', 'ssh://git@ssh.gitlab.example.com'],
  ]);
});

test('a repository on another host than the runner url gets a rewrite for each', () => {
  const { rewrites } = auth({ coordinatorUrl: 'https://credentials.example.com/' });
  assert.deepEqual(rewrites.slice(1), [
    ['https://gitlab-ci-token:abc123@credentials.example.com', 'https://credentials.example.com'],
    ['https://gitlab-ci-token:abc123@gitlab.example.com', 'https://gitlab.example.com'],
  ]);
});

test('an ssh repository URL is given as it is; only the instance gets a rewrite', () => {
  const { remote, rewrites, origin } = auth({ repositoryUrl: 'ssh://git@gitlab.example.com/group/project.git' });
  assert.equal(remote, 'ssh://git@gitlab.example.com/group/project.git');
  assert.equal(origin, undefined);
  assert.deepEqual(rewrites, [['https://gitlab-ci-token:abc123@gitlab.example.com', 'https://gitlab.example.com']]);
});

test("a local job's repository: no instance; its own credentials go to its host; a path is left alone", () => {
  const local = auth({ coordinatorUrl: undefined, jobToken: '', repositoryUrl: 'https://me:pw@git.example.com/a/b.git' });
  assert.equal(local.remote, 'https://git.example.com/a/b.git');
  assert.deepEqual(local.rewrites, [
    ['https://me:pw@git.example.com/a/b.git', 'https://git.example.com/a/b.git'],
    ['https://me:pw@git.example.com', 'https://git.example.com'],
  ]);
  const path = auth({ coordinatorUrl: undefined, jobToken: '', repositoryUrl: '/srv/git/project.git' });
  assert.deepEqual(path, { remote: '/srv/git/project.git', rewrites: [], origin: undefined });
});
