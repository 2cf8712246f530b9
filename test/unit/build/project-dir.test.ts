// Where a job runs, as GitLab Runner decides it for an executor with shared
// build directories (common/build.go ProjectUniqueDir, getCustomBuildDir;
// helpers/shorten_token.go), and a local job's disposable directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigurationError, jobDirectories, type PlacementInput, shortToken } from '../../../src/build/project-dir.ts';
import { fakeJob } from '../../support/fakes.ts';

const placement: PlacementInput = {
  buildsDir: '/builds',
  shortToken: 't9Wkyj-HG',
  concurrentProjectId: 0,
  empty: false,
  clonePath: '',
  customBuildDir: false,
  shared: true,
};
const project = (url: string | undefined, id = 42) =>
  fakeJob('77', { project: { id, path: 'from/the/project' }, repository: url === undefined ? undefined : { url, ref: 'main' } });

test("the short token: GitLab's prefixes stripped, then its first 9 characters (shorten_token_test.go)", () => {
  const cases: Array<[string | undefined, string]> = [
    ['glrt-t9Wkyj-HGRkqQ-VWTGAr', 't9Wkyj-HG'],
    ['glrt-t1_t9Wkyj-HGRkqQ-VWTGAr', 't9Wkyj-HG'],
    ['t2_t9Wkyj-HGRkqQ', 't9Wkyj-HG'],
    ['glrtr-t1_t9Wkyj-HGRkqQ', 't1_t9Wkyj'], // glrtr- takes no partition prefix
    ['glcbt-abcdefghijkl', 'abcdefghi'],
    ['GR1348941abcdefghijk', 'abcdefghi'],
    ['GR13489ZZabcdefghijk', 'GR13489ZZ'], // not 7 hex digits: kept
    ['short', 'short'],
    ['glrt-', ''],
    ['', ''],
    [undefined, ''],
  ];
  for (const [token, short] of cases) assert.equal(shortToken(token), short, String(token));
});

test('a project job: BUILDS/SHORT_TOKEN/CONCURRENT_PROJECT_ID/group/project, with its .tmp beside it, kept between jobs', () => {
  assert.deepEqual(jobDirectories(project('https://gitlab.example/group/sub/project.git'), placement), {
    projectDir: '/builds/t9Wkyj-HG/0/group/sub/project',
    tempDir: '/builds/t9Wkyj-HG/0/group/sub/project.tmp',
    disposable: false,
  });
  assert.equal(
    jobDirectories(project('https://gitlab-ci-token:secret@gitlab.example:8443/g/p.git'), { ...placement, concurrentProjectId: 3 }).projectDir,
    '/builds/t9Wkyj-HG/3/g/p',
  );
  assert.equal(jobDirectories(project('https://gitlab.example/g/p'), placement).projectDir, '/builds/t9Wkyj-HG/0/g/p', 'no .git suffix');
  assert.equal(
    jobDirectories(project('https://gitlab.example/g/p.git'), { ...placement, shortToken: '' }).projectDir,
    '/builds/0/g/p',
    'a runner without a token',
  );
  assert.equal(jobDirectories(project('https://gitlab.example/g/a%20b.git'), placement).projectDir, '/builds/t9Wkyj-HG/0/g/a b', 'the decoded path');
});

test('a repository URL without a usable path gives project-ID', () => {
  for (const url of ['/local/path/repo.git', 'not a url', 'https://gitlab.example/g/my..project.git', 'file:///srv/repo.git']) {
    assert.equal(jobDirectories(project(url), placement).projectDir, '/builds/t9Wkyj-HG/0/project-42', url);
  }
});

test('GIT_STRATEGY=empty gets a directory of its own: the -empty suffix', () => {
  assert.equal(jobDirectories(project('https://gitlab.example/g/p.git'), { ...placement, empty: true }).projectDir, '/builds/t9Wkyj-HG/0/g/p-empty');
  assert.equal(jobDirectories(project('https://gitlab.example/g/p.git'), { ...placement, empty: true }).tempDir, '/builds/t9Wkyj-HG/0/g/p-empty.tmp');
});

test('GIT_CLONE_PATH: only with custom_build_dir, only inside the builds directory, cleaned, no -empty suffix', () => {
  const job = project('https://gitlab.example/g/p.git');
  assert.throws(() => jobDirectories(job, { ...placement, clonePath: '/builds/mine' }), (error: unknown) => {
    assert.ok(error instanceof ConfigurationError);
    assert.equal(error.message, 'setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature');
    return true;
  });
  const allowed = { ...placement, customBuildDir: true };
  assert.deepEqual(jobDirectories(job, { ...allowed, clonePath: '/builds/mine/./project/' }), {
    projectDir: '/builds/mine/project',
    tempDir: '/builds/mine/project.tmp',
    disposable: false,
  });
  assert.equal(jobDirectories(job, { ...allowed, clonePath: '/builds/mine', empty: true }).projectDir, '/builds/mine');
  assert.throws(() => jobDirectories(job, { ...allowed, clonePath: '/elsewhere/p' }), {
    name: 'ConfigurationError',
    message: 'the GIT_CLONE_PATH="/elsewhere/p" has to be within "/builds"',
  });
  assert.throws(() => jobDirectories(job, { ...allowed, clonePath: '/builds/../etc' }), {
    message: 'the GIT_CLONE_PATH="/builds/../etc" has to be within "/builds"',
  });
  assert.throws(() => jobDirectories(job, { ...allowed, clonePath: 'relative/p' }), {
    name: 'ConfigurationError',
    message: "Rel: can't make relative/p relative to /builds",
  });
});

test('a job of no project gets BUILDS/ID of its own, disposable; an id that cannot name a directory is refused', () => {
  assert.deepEqual(jobDirectories(fakeJob('job-1.a_b'), placement), { projectDir: '/builds/job-1.a_b', tempDir: '/builds/job-1.a_b.tmp', disposable: true });
  for (const id of ['../escape', '.hidden', 'a/b', '']) assert.throws(() => jobDirectories(fakeJob(id), placement), /cannot name a directory/, id);
});

test('an executor with build directories of its own (docker) puts the project at BUILDS_DIR/GROUP/PROJECT, as GitLab Runner', () => {
  const own = { ...placement, buildsDir: '/builds', shared: false };
  assert.deepEqual(jobDirectories(project('https://gitlab.example/group/sub/project.git'), own), {
    projectDir: '/builds/group/sub/project',
    tempDir: '/builds/group/sub/project.tmp',
    disposable: false,
  });
});
