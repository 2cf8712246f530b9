// Submodules as GitLab Runner's get_sources updates them, through the test
// coordinator: GIT_SUBMODULE_STRATEGY normal and recursive, with a relative
// URL (../lib.git) and an absolute one to another project of the same
// coordinator, both fetched with the job token (which stays out of every
// .git/config and the log); Git LFS files of a submodule;
// GIT_SUBMODULE_PATHS; GIT_SUBMODULE_UPDATE_FLAGS; and an unknown strategy,
// which fails the job as a system failure as it does under GitLab Runner.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CoordinatorJob, createGitRepository, type GitRepository, type JobSpec } from '../../support/coordinator/coordinator.ts';
import { skipUnless } from '../../support/tools.ts';
import { type GitLabRunner, logLines, logText, runJob, sharedGitLabRunner } from './harness.ts';

const gitSkip = skipUnless('git', 'git');
const hasLfs = gitSkip === false && skipUnless('git-lfs', 'git-lfs', 'version') === false;

const shared = sharedGitLabRunner();
after(() => shared.close());

const LFS_CONTENT = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 31) % 256));
const LFS_OID = createHash('sha256').update(LFS_CONTENT).digest('hex');

interface Projects {
  readonly app: GitRepository;
  readonly lib: GitRepository;
  readonly tools: GitRepository;
}

let projects: Promise<Projects> | undefined;

/**
 * group/app with vendor/lib (../lib.git: group/lib, which has deep at
 * ../deep.git: group/deep) and vendor/tools (the absolute URL of
 * shared/tools on the coordinator).
 */
function setUp(s: GitLabRunner): Promise<Projects> {
  return projects ??= (async () => {
    const root = join(s.dir, 'repos');
    const deep = createGitRepository(join(root, 'deep'), { 'deep.txt': 'deep\n' });
    s.coordinator.addProject('group/deep', deep);
    const lib = createGitRepository(join(root, 'lib'), { 'lib.sh': 'echo lib\n' }, {
      submodules: [{ path: 'deep', url: '../deep.git', sha: deep.sha }],
      ...(hasLfs ? { lfs: { 'lib.bin': LFS_CONTENT } } : {}),
    });
    s.coordinator.addProject('group/lib', lib);
    const tools = createGitRepository(join(root, 'tools'), { 'tool.sh': 'echo tool\n' });
    const toolsProject = s.coordinator.addProject('shared/tools', tools);
    const app = createGitRepository(join(root, 'app'), { 'README.md': '# app\n' }, {
      submodules: [
        { path: 'vendor/lib', url: '../lib.git', sha: lib.sha },
        { path: 'vendor/tools', url: toolsProject.httpUrl, sha: tools.sha },
      ],
    });
    return { app, lib, tools };
  })();
}

/** What of the submodules a job's checkout holds. */
const INSPECT = [
  'for f in vendor/lib/lib.sh vendor/tools/tool.sh vendor/lib/deep/deep.txt; do if [ -f "$f" ]; then echo "has $f"; else echo "no $f"; fi; done',
  'if [ -f vendor/lib/lib.bin ]; then echo "lib.bin $(sha256sum < vendor/lib/lib.bin | cut -c1-64)"; fi',
  'echo "lib at $(git -C vendor/lib rev-parse HEAD 2>/dev/null || echo none)"',
];

async function submoduleJob(s: GitLabRunner, variables: JobSpec['variables']): Promise<CoordinatorJob> {
  const { app } = await setUp(s);
  // clone: each job starts from nothing, so what one initialized does not show in the next.
  const job = await runJob(s.coordinator, { repository: app, script: INSPECT, variables: [{ key: 'GIT_STRATEGY', value: 'clone' }, ...(variables ?? [])] });
  return job;
}

/** Every git config in the checkout (its own and its submodules', under .git/modules) holds neither the job token nor the user it goes with. */
function assertNoTokenInConfigs(job: CoordinatorJob, checkout: string): void {
  const configs: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name === 'config' && /\/\.git(\/modules\/.+)?$/.test(dir)) configs.push(join(dir, entry.name));
    }
  };
  walk(join(checkout, '.git'));
  assert.ok(configs.some((path) => path.includes('/modules/')), `submodule configs: ${configs.join(' ')}`);
  for (const path of configs) {
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes(job.token) && !text.includes('gitlab-ci-token'), `${path}:\n${text}`);
  }
  assert.ok(!job.trace.includes(job.token), 'the job token in the log');
}

test('GIT_SUBMODULE_STRATEGY=normal: the relative and the absolute submodule, fetched with the job token; not the nested one', { skip: gitSkip }, async () => {
  const s = await shared.get();
  const { lib } = await setUp(s);
  const job = await submoduleJob(s, [{ key: 'GIT_SUBMODULE_STRATEGY', value: 'normal' }]);
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  assert.ok(lines.includes('Updating/initializing submodules with git depth set to 20...'), lines.join('\n'));
  assert.ok(lines.includes('Updated submodules'));
  assert.ok(lines.includes('Configuring submodules to use parent git credentials...'));
  for (const line of ['has vendor/lib/lib.sh', 'has vendor/tools/tool.sh', 'no vendor/lib/deep/deep.txt', `lib at ${lib.sha}`]) {
    assert.ok(lines.includes(line), `${line} in:\n${lines.join('\n')}`);
  }
  // Both went to the coordinator with the job token (it answers 401 without one).
  for (const project of ['/group/lib.git/', '/shared/tools.git/']) {
    const calls = s.coordinator.requests.filter((r) => r.endpoint === 'git' && r.path.startsWith(project));
    assert.ok(calls.some((r) => r.status === 200 && r.headers['authorization']?.startsWith('Basic ')), `${project}: ${calls.map((r) => r.status)}`);
  }
  assertNoTokenInConfigs(job, join(s.buildsDir, '0', 'group', 'app'));
});

test("GIT_SUBMODULE_STRATEGY=recursive: the nested submodule too, and the submodules' Git LFS files", { skip: gitSkip }, async () => {
  const s = await shared.get();
  const job = await submoduleJob(s, [{ key: 'GIT_SUBMODULE_STRATEGY', value: 'recursive' }]);
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  assert.ok(lines.includes('Updating/initializing submodules recursively with git depth set to 20...'), lines.join('\n'));
  for (const line of ['has vendor/lib/lib.sh', 'has vendor/tools/tool.sh', 'has vendor/lib/deep/deep.txt']) {
    assert.ok(lines.includes(line), `${line} in:\n${lines.join('\n')}`);
  }
  if (hasLfs) {
    assert.ok(lines.includes('Pulling LFS files...'));
    assert.ok(lines.includes(`lib.bin ${LFS_OID}`), lines.join('\n'));
  }
  assertNoTokenInConfigs(job, join(s.buildsDir, '0', 'group', 'app'));
});

test('GIT_SUBMODULE_PATHS limits the update to those submodules; GIT_SUBMODULE_DEPTH sets its depth', { skip: gitSkip }, async () => {
  const s = await shared.get();
  const job = await submoduleJob(s, [
    { key: 'GIT_SUBMODULE_STRATEGY', value: 'normal' },
    { key: 'GIT_SUBMODULE_PATHS', value: 'vendor/tools' },
    { key: 'GIT_SUBMODULE_DEPTH', value: '1' },
  ]);
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  assert.ok(lines.includes('Updating/initializing submodules with git depth set to 1...'));
  assert.ok(lines.includes('has vendor/tools/tool.sh') && lines.includes('no vendor/lib/lib.sh'), lines.join('\n'));

  // A pathspec GitLab Runner refuses (":(exclude)" alone): get_sources cannot be written.
  const refused = await submoduleJob(s, [
    { key: 'GIT_SUBMODULE_STRATEGY', value: 'normal' },
    { key: 'GIT_SUBMODULE_PATHS', value: 'vendor/lib :(exclude) vendor/tools' },
  ]);
  assert.equal(refused.state, 'failed');
  assert.equal(refused.failureReason, 'runner_system_failure');
  assert.equal(
    logLines(refused.trace).at(-1),
    'ERROR: Job failed (system failure): GIT_SUBMODULE_PATHS: invalid submodule pathspec ["vendor/lib" ":(exclude)" "vendor/tools"]',
  );
});

test(
  'an unknown GIT_SUBMODULE_STRATEGY: a warning at the top, then get_sources cannot be written and the job fails as a system failure',
  { skip: gitSkip },
  async () => {
    const s = await shared.get();
    const job = await submoduleJob(s, [{ key: 'GIT_SUBMODULE_STRATEGY', value: 'sideways' }]);
    const lines = logLines(job.trace);
    assert.equal(job.state, 'failed');
    assert.equal(job.failureReason, 'runner_system_failure');
    assert.ok(lines.includes(`WARNING: GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got "sideways"`), lines.join('\n'));
    assert.ok(
      lines.indexOf(`WARNING: GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got "sideways"`) <
        lines.indexOf('Preparing the "shell" executor'),
    );
    assert.equal(lines.at(-1), 'ERROR: Job failed (system failure): unknown GIT_SUBMODULE_STRATEGY');
    assert.ok(!lines.includes('Skipping Git submodules setup') && !lines.some((line) => line.startsWith('Fetching changes')), 'nothing of get_sources ran');
    assert.ok(!lines.some((line) => line.startsWith('has ') || line.startsWith('no ')), 'the script did not run');
    // With GIT_STRATEGY=none the submodule strategy is not used, so it cannot fail the job.
    const none = await runJob(s.coordinator, {
      script: ['true'],
      variables: [{ key: 'GIT_STRATEGY', value: 'none' }, { key: 'GIT_SUBMODULE_STRATEGY', value: 'sideways' }],
    });
    assert.equal(none.state, 'success', logText(none.trace));
  },
);

test(
  'a get_sources script that cannot be written is tried GET_SOURCES_ATTEMPTS times and shows no stage title, as GitLab Runner writes a script before its section',
  {
    skip: gitSkip,
  },
  async () => {
    const s = await shared.get();
    const job = await submoduleJob(s, [
      { key: 'GIT_SUBMODULE_STRATEGY', value: 'sideways' },
      { key: 'GET_SOURCES_ATTEMPTS', value: '2' },
      { key: 'FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY', value: 'false' },
    ]);
    const lines = logLines(job.trace);
    assert.equal(job.failureReason, 'runner_system_failure');
    assert.ok(!lines.includes('Getting source from Git repository'), lines.join('\n'));
    assert.equal(lines.filter((line) => line === 'WARNING: Retrying...').length, 1, lines.join('\n'));
    assert.equal(
      lines.filter((line) => line === 'Deleting all tracked and untracked files due to source fetch failure').length,
      1,
      'clear_worktree before the second',
    );
    assert.equal(lines.at(-1), 'ERROR: Job failed (system failure): unknown GIT_SUBMODULE_STRATEGY');
  },
);

test('GIT_SUBMODULE_UPDATE_FLAGS: --remote updates a submodule to its branch instead of the recorded commit', { skip: gitSkip }, async () => {
  const s = await shared.get();
  const { lib } = await setUp(s);
  const git = (...args: string[]): string =>
    execFileSync('git', ['-C', lib.path, '-c', 'user.name=Test User', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', ...args], {
      encoding: 'utf8',
    }).trim();
  git('commit', '--quiet', '--allow-empty', '-m', 'Newer than the superproject records');
  const newer = git('rev-parse', 'HEAD');
  const recorded = await submoduleJob(s, [{ key: 'GIT_SUBMODULE_STRATEGY', value: 'normal' }]);
  assert.ok(logLines(recorded.trace).includes(`lib at ${lib.sha}`), logText(recorded.trace));
  const remote = await submoduleJob(s, [{ key: 'GIT_SUBMODULE_STRATEGY', value: 'normal' }, { key: 'GIT_SUBMODULE_UPDATE_FLAGS', value: '--remote' }]);
  const lines = logLines(remote.trace);
  assert.equal(remote.state, 'success', lines.join('\n'));
  assert.ok(lines.includes(`lib at ${newer}`), lines.join('\n'));
});
