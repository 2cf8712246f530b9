// get_sources as GitLab Runner's shell writer does it, through the test
// coordinator's git and Git LFS endpoints: GIT_FETCH_EXTRA_FLAGS,
// GIT_CHECKOUT, git_info.depth (GIT_DEPTH), Git LFS files pulled,
// GET_SOURCES_ATTEMPTS, and the hooks around it in GitLab's order (the
// runner's pre_get_sources_script, the job's pre hook, git, the job's post
// hook, the runner's post_get_sources_script; pre_build_script and
// post_build_script around the script), with the job token in no file left
// behind and not in the log.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CoordinatorJob, createGitRepository, type GitRepository } from '../../support/coordinator/coordinator.ts';
import { skipUnless } from '../../support/tools.ts';
import { between, logLines, logText, runJob, sharedGitLabRunner, show, stageLines } from './harness.ts';

const gitSkip = skipUnless('git', 'git');
const lfsSkip = gitSkip || skipUnless('git-lfs', 'git-lfs', 'version');

/**
 * The runner's hooks, and the Git LFS filter as `git lfs install` sets it up
 * (given here through git's environment, so a machine whose system git
 * config lacks it still smudges).
 */
const RUNNER_KEYS = [
  `pre_get_sources_script = 'echo "config pre in $(pwd)"'`,
  `post_get_sources_script = 'echo "config post in $(pwd)"'`,
  `pre_build_script = 'echo "pre build"'`,
  `post_build_script = 'echo "post build"'`,
  `environment = ${
    JSON.stringify([
      'GIT_CONFIG_COUNT=3',
      'GIT_CONFIG_KEY_0=filter.lfs.process',
      'GIT_CONFIG_VALUE_0=git-lfs filter-process',
      'GIT_CONFIG_KEY_1=filter.lfs.smudge',
      'GIT_CONFIG_VALUE_1=git-lfs smudge -- %f',
      'GIT_CONFIG_KEY_2=filter.lfs.required',
      'GIT_CONFIG_VALUE_2=true',
    ])
  }`,
].join('\n');

const shared = sharedGitLabRunner({ runner: `${RUNNER_KEYS}\n` });
after(() => shared.close());

/** A new commit in `repository` with `files`, returning the repository at that commit. */
function commit(repository: GitRepository, files: Readonly<Record<string, string>>, message: string): GitRepository {
  const git = (...args: string[]): string =>
    execFileSync('git', ['-C', repository.path, '-c', 'user.name=Test User', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], {
      encoding: 'utf8',
    }).trim();
  for (const [name, content] of Object.entries(files)) {
    execFileSync('sh', ['-c', 'mkdir -p "$(dirname "$1")" && printf "%s" "$2" > "$1"', 'sh', join(repository.path, name), content]);
  }
  git('add', '--all');
  git('commit', '--quiet', '-m', message);
  return { ...repository, sha: git('rev-parse', 'HEAD'), message };
}

/** Every .git/config under `dir` (the checkout's and its submodules' in .git/modules). */
function gitConfigs(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === 'config' && /\.git(\/modules\/.+)?$/.test(at)) found.push(path);
    }
  };
  walk(dir);
  return found;
}

function assertTokenNowhere(job: CoordinatorJob, checkout: string): void {
  assert.ok(!job.trace.includes(job.token), 'the job token in the log');
  const configs = gitConfigs(checkout);
  assert.ok(configs.length > 0);
  for (const path of configs) {
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes(job.token) && !text.includes('gitlab-ci-token'), `${path}:\n${text}`);
  }
}

test(
  "hooks in GitLab's order: runner pre (in the runner's directory), job pre, git, job post, runner post (in the project); pre and post build around the script",
  {
    skip: gitSkip,
  },
  async () => {
    const s = await shared.get();
    const repository = createGitRepository(join(s.dir, 'repos', 'hooks'), { 'a.txt': 'a\n' });
    const job = await runJob(s.coordinator, {
      repository,
      script: ['echo script'],
      afterScript: ['echo after'],
      hooks: [
        { name: 'pre_get_sources_script', script: ['echo "job pre"'] },
        { name: 'post_get_sources_script', script: ['echo "job post"', 'cat a.txt'] },
      ],
    });
    const text = logText(job.trace);
    assert.equal(job.state, 'success', text);
    const projectDir = join(s.buildsDir, '0', 'group', 'hooks');
    const sources = stageLines(job.trace, 'Getting source from Git repository').filter((line) => !line.startsWith('$ ') && !line.startsWith('Gitaly'));
    assert.deepEqual(sources, [
      `config pre in ${s.dir}`,
      'job pre',
      'Fetching changes with git depth set to 20...',
      `Initialized empty Git repository in ${projectDir}/.git/`,
      'Created fresh repository.',
      `Checking out ${repository.sha.slice(0, 8)} as detached HEAD (ref is main)...`,
      '',
      'Skipping Git submodules setup',
      'job post',
      'a',
      `config post in ${projectDir}`,
    ]);
    assert.deepEqual(stageLines(job.trace, 'Executing "step_script" stage of the job script'), [
      '$ echo "pre build"',
      'pre build',
      '$ echo script',
      'script',
      '$ echo "post build"',
      'post build',
    ]);
    assert.deepEqual(stageLines(job.trace, 'Running after_script'), ['Running after script...', '$ echo after', 'after'], 'no build hooks around after_script');

    // A failing script line ends the step: no post_build_script. GIT_STRATEGY none: no get_sources hooks.
    const failing = await runJob(s.coordinator, { repository, script: ['exit 4'], variables: [{ key: 'GIT_STRATEGY', value: 'none' }] });
    const lines = logLines(failing.trace);
    assert.ok(lines.includes('pre build') && !lines.includes('post build'), lines.join('\n'));
    assert.ok(!lines.some((line) => line.startsWith('config pre')) && !lines.some((line) => line.startsWith('config post')));
    assertTokenNowhere(job, projectDir);
  },
);

test("git sends the job request's correlation id; GIT_FETCH_EXTRA_FLAGS replaces --prune --quiet; GIT_CHECKOUT=false fetches without a checkout", {
  skip: gitSkip,
}, async () => {
  const s = await shared.get();
  const repository = createGitRepository(join(s.dir, 'repos', 'flags'), { 'a.txt': 'a\n' });
  const from = `From ${s.coordinator.url}/group/flags`;
  const quiet = await runJob(s.coordinator, { repository, script: ['true'] });
  assert.ok(!logLines(quiet.trace).includes(from), 'the default fetch is quiet');
  // The job request's correlation id (its X-Request-Id: the coordinator answered none) goes with git's requests.
  const correlation = logLines(quiet.trace).find((line) => line.startsWith('Gitaly correlation ID: '))?.slice('Gitaly correlation ID: '.length);
  assert.ok(correlation && s.coordinator.requests.some((r) => r.endpoint === 'request_job' && r.status === 201 && r.headers['x-request-id'] === correlation));
  const fetches = s.coordinator.requests.filter((r) => r.endpoint === 'git' && r.headers['x-gitaly-correlation-id'] === correlation);
  assert.ok(fetches.length > 0 && fetches.every((r) => r.path.startsWith('/group/flags.git/')), 'git sent X-Gitaly-Correlation-ID');
  const verbose = await runJob(s.coordinator, { repository, script: ['true'], variables: [{ key: 'GIT_FETCH_EXTRA_FLAGS', value: '--no-tags' }] });
  const lines = stageLines(verbose.trace, 'Getting source from Git repository');
  assert.equal(verbose.state, 'success', lines.join('\n'));
  assert.ok(lines.includes(from), lines.join('\n'));
  assert.ok(!verbose.trace.includes(verbose.token) && !verbose.trace.includes('[MASKED]'), 'git shows the URL without the token');

  const other = createGitRepository(join(s.dir, 'repos', 'nocheckout'), { 'a.txt': 'a\n' });
  const skipped = await runJob(s.coordinator, {
    repository: other,
    script: [show('ls', 'ls -A'), 'git cat-file -t "$CI_COMMIT_SHA"'],
    variables: [{ key: 'GIT_CHECKOUT', value: 'false' }],
  });
  const text = logText(skipped.trace);
  assert.equal(skipped.state, 'success', text);
  assert.ok(text.includes('Skipping Git checkout\n'), text);
  assert.ok(!text.includes('Checking out'), text);
  assert.deepEqual(between(skipped.trace, 'ls'), ['.git']);
  assert.match(text, /\$ git cat-file -t "\$CI_COMMIT_SHA"\ncommit\n/, 'the commit was fetched');
});

test('git_info.depth (GIT_DEPTH): a shallow fetch of that many commits; 0 is a full fetch', { skip: gitSkip }, async () => {
  const s = await shared.get();
  let repository = createGitRepository(join(s.dir, 'repos', 'depth'), { 'a.txt': '1\n' });
  repository = commit(repository, { 'a.txt': '2\n' }, 'Second');
  repository = commit(repository, { 'a.txt': '3\n' }, 'Third');
  const count = ['git rev-list --count HEAD', 'cat a.txt'];
  const shallow = await runJob(s.coordinator, { repository, script: count, gitDepth: 2, variables: [{ key: 'GIT_DEPTH', value: '2' }] });
  const text = logText(shallow.trace);
  assert.equal(shallow.state, 'success', text);
  assert.ok(text.includes('Fetching changes with git depth set to 2...\n'), text);
  assert.match(text, /\$ git rev-list --count HEAD\n2\n\$ cat a\.txt\n3\n/);
  const full = await runJob(s.coordinator, { repository, script: count, gitDepth: 0, variables: [{ key: 'GIT_DEPTH', value: '0' }] });
  assert.ok(logText(full.trace).includes('Fetching changes...\n'));
  assert.match(logText(full.trace), /\$ git rev-list --count HEAD\n3\n/);
});

test('GET_SOURCES_ATTEMPTS: a fetch the server fails is tried again after clearing the worktree, with the hooks again', { skip: gitSkip }, async () => {
  const s = await shared.get();
  const repository = createGitRepository(join(s.dir, 'repos', 'attempts'), { 'a.txt': 'a\n' });
  // One attempt: the server's 500 fails the job.
  s.coordinator.failNext('git', 500);
  const once = await runJob(s.coordinator, { repository, script: ['echo never'] });
  assert.equal(once.state, 'failed');
  assert.equal(once.failureReason, 'script_failure');
  assert.equal(logLines(once.trace).at(-1), 'ERROR: Job failed: exit status 128');
  assert.ok(!logLines(once.trace).includes('never'));

  s.coordinator.failNext('git', 500);
  const job = await runJob(s.coordinator, {
    repository,
    script: ['cat a.txt'],
    // The flag makes the pause 1 s instead of 5 s.
    variables: [{ key: 'GET_SOURCES_ATTEMPTS', value: '3' }, { key: 'FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY', value: 'false' }],
  });
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  const titles = lines.filter((line) =>
    /^(Getting source from Git repository|Deleting all tracked and untracked files due to source fetch failure)$/.test(line)
  );
  assert.deepEqual(titles, [
    'Getting source from Git repository',
    'Deleting all tracked and untracked files due to source fetch failure',
    'Getting source from Git repository',
  ]);
  assert.equal(lines.filter((line) => line === 'WARNING: Retrying...').length, 1);
  assert.equal(lines.filter((line) => line.startsWith('config pre in')).length, 2, 'the hooks run with every attempt');
  assert.ok(lines.includes('a'));
});

test('Git LFS files are pulled with the job token; GIT_LFS_SKIP_SMUDGE=1 leaves the pointers', { skip: lfsSkip }, async () => {
  const s = await shared.get();
  const content = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 256));
  const oid = createHash('sha256').update(content).digest('hex');
  const repository = createGitRepository(join(s.dir, 'repos', 'lfs'), { 'README.md': '# lfs\n' }, { lfs: { 'assets/blob.bin': content } });
  const pulled = await runJob(s.coordinator, { repository, script: ['sha256sum assets/blob.bin'] });
  const text = logText(pulled.trace);
  assert.equal(pulled.state, 'success', text);
  assert.ok(text.includes(`\n${oid}  assets/blob.bin\n`), text);
  assert.ok(
    s.coordinator.requests.some((r) => r.endpoint === 'lfs' && r.path === `/group/lfs.git/gitlab-lfs/objects/${oid}` && r.status === 200),
    'downloaded from the coordinator',
  );
  assertTokenNowhere(pulled, join(s.buildsDir, '0', 'group', 'lfs'));

  const pointers = await runJob(s.coordinator, {
    repository,
    script: ['head -n 2 assets/blob.bin'],
    variables: [{ key: 'GIT_LFS_SKIP_SMUDGE', value: '1' }, { key: 'GIT_STRATEGY', value: 'clone' }],
  });
  assert.match(logText(pointers.trace), new RegExp(`\\nversion https://git-lfs\\.github\\.com/spec/v1\\noid sha256:${oid}\\n`));
});
