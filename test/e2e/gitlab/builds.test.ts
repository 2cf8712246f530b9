// A GitLab job's build directory as GitLab Runner's shell executor keeps it:
// builds_dir/<short token>/<CI_CONCURRENT_PROJECT_ID>/<namespace>/<project>,
// kept between jobs, so the next job of the project fetches into the same
// clone (git clean by GIT_CLEAN_FLAGS, .git kept) unless GIT_STRATEGY says
// otherwise; concurrent jobs of one project in different directories;
// GIT_CLONE_PATH with [runners.custom_build_dir].
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type CoordinatorJob, createGitRepository, type JobSpec } from '../../support/coordinator/coordinator.ts';
import { skipUnless } from '../../support/tools.ts';
import { between, finished, logLines, logText, runJob, sharedGitLabRunner, show, startGitLabRunner, withoutSources } from './harness.ts';

const gitSkip = skipUnless('git', 'git');

const shared = sharedGitLabRunner();
after(() => shared.close());

/** The job's directory listing (hidden files too, `.` and `..` left out). */
const LIST = show('ls', 'ls -A');

test("the next job of a project fetches into the kept clone; GIT_CLEAN_FLAGS decides what of the last job's files is left; clone starts afresh", {
  skip: gitSkip,
}, async () => {
  const s = await shared.get();
  const repository = createGitRepository(join(s.dir, 'repos', 'keep'), { 'hello.txt': 'hello\n', '.gitignore': '*.log\n' });
  const run = async (variables: JobSpec['variables'], script: string[] = []): Promise<CoordinatorJob> => {
    const job = await runJob(s.coordinator, { repository, variables, script: [LIST, 'echo "dir=$CI_PROJECT_DIR"', ...script] });
    assert.equal(job.state, 'success', logText(job.trace));
    return job;
  };
  const leave = ['echo untracked > untracked.txt', 'echo ignored > ignored.log'];
  const projectDir = join(s.buildsDir, '0', 'group', 'keep');

  const first = await run([], [...leave, 'touch .git/marker-of-the-first-job']);
  assert.deepEqual(between(first.trace, 'ls'), ['.git', '.gitignore', 'hello.txt']);
  assert.ok(logLines(first.trace).includes('Created fresh repository.'));
  assert.ok(logLines(first.trace).includes(`dir=${projectDir}`));

  // Default: git clean -ffdx removes untracked and ignored files; .git stays (fetch into the existing repository).
  const second = await run([], leave);
  const lines = logLines(second.trace);
  assert.ok(lines.includes(`Reinitialized existing Git repository in ${projectDir}/.git/`), lines.join('\n'));
  assert.ok(!lines.includes('Created fresh repository.'));
  assert.deepEqual(between(second.trace, 'ls'), ['.git', '.gitignore', 'hello.txt']);
  assert.ok(lines.includes(`dir=${projectDir}`));

  // -ffd: untracked files go, ignored ones stay.
  const third = await run([{ key: 'GIT_CLEAN_FLAGS', value: '-ffd' }], ['echo untracked > untracked.txt']);
  assert.deepEqual(between(third.trace, 'ls'), ['.git', '.gitignore', 'hello.txt', 'ignored.log']);

  // none: no clean at all.
  const fourth = await run([{ key: 'GIT_CLEAN_FLAGS', value: 'none' }]);
  assert.deepEqual(between(fourth.trace, 'ls'), ['.git', '.gitignore', 'hello.txt', 'ignored.log', 'untracked.txt']);

  // GIT_STRATEGY=none: no git at all, the directory as the last job left it.
  const none = await run([{ key: 'GIT_STRATEGY', value: 'none' }]);
  assert.ok(logLines(none.trace).includes('Skipping Git repository setup'));
  assert.ok(!logLines(none.trace).some((line) => line.startsWith('Fetching changes')));
  assert.deepEqual(between(none.trace, 'ls'), ['.git', '.gitignore', 'hello.txt', 'ignored.log', 'untracked.txt']);

  // GIT_STRATEGY=clone: the directory is removed first, .git included.
  const clone = await run([{ key: 'GIT_STRATEGY', value: 'clone' }], ['ls .git/marker-of-the-first-job 2>/dev/null || echo "no marker"']);
  assert.ok(logLines(clone.trace).includes('Created fresh repository.'));
  assert.deepEqual(between(clone.trace, 'ls'), ['.git', '.gitignore', 'hello.txt']);
  assert.ok(logLines(clone.trace).includes('no marker'));

  // GIT_STRATEGY=empty: a directory of its own, `-empty`, emptied for every job.
  const empty = await run([{ key: 'GIT_STRATEGY', value: 'empty' }], ['touch left-behind']);
  assert.ok(logLines(empty.trace).includes('Skipping Git repository setup and creating an empty build directory'));
  assert.deepEqual(between(empty.trace, 'ls'), []);
  assert.ok(logLines(empty.trace).includes(`dir=${projectDir}-empty`));
  const emptyAgain = await run([{ key: 'GIT_STRATEGY', value: 'empty' }]);
  assert.deepEqual(between(emptyAgain.trace, 'ls'), [], 'emptied again');
});

test('concurrent jobs: each of one project gets its own CI_CONCURRENT_PROJECT_ID directory; another project starts at 0', async () => {
  const s = await shared.get();
  const barrier = mkdtempSync(join(s.dir, 'barrier-'));
  // Each job waits until all three run at once.
  const waitForAll =
    `touch "${barrier}/$CI_JOB_ID"; for i in $(seq 1 300); do [ "$(ls "${barrier}" | wc -l)" -ge 3 ] && break; sleep 0.1; done; [ "$(ls "${barrier}" | wc -l)" -ge 3 ]`;
  const script = [waitForAll, 'echo "ids=$CI_CONCURRENT_ID $CI_CONCURRENT_PROJECT_ID dir=$CI_PROJECT_DIR pwd=$(pwd)"'];
  const jobs = [
    s.coordinator.enqueueJob(withoutSources({ projectPath: 'group/para', script })),
    s.coordinator.enqueueJob(withoutSources({ projectPath: 'group/para', script })),
    s.coordinator.enqueueJob(withoutSources({ projectPath: 'group/other', script })),
  ];
  const done = await Promise.all(jobs.map((job) => finished(s.coordinator, job)));
  const seen = done.map((job) => {
    assert.equal(job.state, 'success', logText(job.trace));
    const line = logLines(job.trace).find((l) => l.startsWith('ids='))!;
    const [, concurrent, project, dir, pwd] = /^ids=(\d+) (\d+) dir=(\S+) pwd=(\S+)$/.exec(line)!;
    assert.equal(pwd, dir);
    return { concurrent: Number(concurrent), project: Number(project), dir };
  });
  assert.deepEqual(seen.map((job) => job.concurrent).sort(), [0, 1, 2], "CI_CONCURRENT_ID: the lowest free among the runner's jobs");
  const para = seen.slice(0, 2).sort((a, b) => a.project - b.project);
  assert.deepEqual(para.map((job) => job.project), [0, 1]);
  assert.deepEqual(para.map((job) => job.dir), [0, 1].map((id) => join(s.buildsDir, String(id), 'group', 'para')));
  assert.equal(seen[2]!.project, 0);
  assert.equal(seen[2]!.dir, join(s.buildsDir, '0', 'group', 'other'));
  rmSync(barrier, { recursive: true, force: true });
});

test('GIT_CLONE_PATH: refused without custom_build_dir; with it, the checkout is there, inside builds_dir only', { skip: gitSkip }, async () => {
  const s = await shared.get();
  const repository = createGitRepository(join(s.dir, 'repos', 'custom'), { 'hello.txt': 'hello\n' });
  const refused = await runJob(s.coordinator, {
    repository,
    script: ['echo never'],
    variables: [{ key: 'GIT_CLONE_PATH', value: '$CI_BUILDS_DIR/custom/path' }],
  });
  assert.equal(refused.state, 'failed');
  assert.equal(logLines(refused.trace).at(-1), 'ERROR: Job failed: setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature');

  const custom = await startGitLabRunner({ runner: '[runners.custom_build_dir]\nenabled = true\n' });
  try {
    const again = createGitRepository(join(custom.dir, 'repos', 'custom'), { 'hello.txt': 'hello again\n' });
    const builds = join(custom.dir, 'builds');
    const placed = await runJob(custom.coordinator, {
      repository: again,
      script: ['cat hello.txt', 'echo "dir=$CI_PROJECT_DIR tmp=$RUNNER_TEMP_PROJECT_DIR pwd=$(pwd)"'],
      variables: [{ key: 'GIT_CLONE_PATH', value: '$CI_BUILDS_DIR/custom/$CI_PROJECT_NAME' }],
    });
    const lines = logLines(placed.trace);
    assert.equal(placed.state, 'success', lines.join('\n'));
    const dir = join(builds, 'custom', 'custom');
    assert.ok(lines.includes('hello again'));
    assert.ok(lines.includes(`dir=${dir} tmp=${dir}.tmp pwd=${dir}`), lines.join('\n'));
    assert.ok(lines.includes(`Initialized empty Git repository in ${dir}/.git/`));

    mkdirSync(join(custom.dir, 'elsewhere'), { recursive: true });
    const outside = await runJob(custom.coordinator, {
      repository: again,
      script: ['echo never'],
      variables: [{ key: 'GIT_CLONE_PATH', value: join(custom.dir, 'elsewhere') }],
    });
    assert.equal(outside.state, 'failed');
    assert.equal(logLines(outside.trace).at(-1), `ERROR: Job failed: the GIT_CLONE_PATH="${join(custom.dir, 'elsewhere')}" has to be within "${builds}"`);
    assert.ok(!logLines(outside.trace).includes('never'));
  } finally {
    await custom.close();
  }
});
