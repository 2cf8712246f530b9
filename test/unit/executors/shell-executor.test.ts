// The shell executor through the build sequence: the job's log as GitLab
// Runner frames it, how a job fails, its build directory and its sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { limitNotice } from '../../../src/trace/job-log.ts';
import { closingLine, echoLine, logLines, plain, run, SCRIPT_STAGES, stageLines } from '../../support/shell-run.ts';
import { skipUnless } from '../../support/tools.ts';

test('a successful job: framed as GitLab frames it, each command echoed in green before its output, all stages', async () => {
  const { result, log, stages, pids } = await run({
    beforeScript: ['echo setup'],
    script: ['echo hello', 'echo out; echo err >&2; echo out2', 'printf "a\\nb\\n"', 'if true; then\n  echo multi\nfi'],
    afterScript: ['echo "after $CI_JOB_STATUS"'],
  });
  assert.equal(result.state, 'success', plain(log));
  const lines = logLines(log);
  assert.match(lines[0] ?? '', /^Running with \S+ \S+ \(\S+\)$/);
  assert.equal(lines[1], 'Preparing the "shell" executor');
  assert.equal(lines[2], 'Using Shell (bash) executor...');
  assert.deepEqual(stageLines(log, 'prepare_script'), [`Running on ${hostname()}...`]);
  assert.deepEqual(stageLines(log, 'step_script'), [
    '$ echo setup',
    'setup',
    '$ echo hello',
    'hello',
    '$ echo out; echo err >&2; echo out2',
    'out',
    'err',
    'out2',
    '$ printf "a\\nb\\n"',
    'a',
    'b',
    '$ if true; then # collapsed multi-line command',
    'multi',
  ]);
  assert.deepEqual(stageLines(log, 'after_script'), ['Running after script...', '$ echo "after $CI_JOB_STATUS"', 'after success']);
  assert.deepEqual(stageLines(log, 'cleanup_file_variables'), []);
  // GitLab's colours: the echo lines bold green, the stage titles cyan, the closing line green.
  assert.ok(log.includes(echoLine('echo hello')));
  assert.ok(log.includes('\x1b[0K\x1b[36;1mExecuting "step_script" stage of the job script\x1b[0;m\x1b[0;m\n'));
  assert.ok(log.endsWith('\x1b[32;1mJob succeeded\x1b[0;m\n'), JSON.stringify(log.slice(-80)));
  assert.equal(result.failureReason, undefined);
  assert.equal(result.exitCode, 0);
  assert.deepEqual(result.afterScript, { exitCode: 0, timedOut: false, canceled: false });
  assert.deepEqual(stages, [...SCRIPT_STAGES]);
  assert.deepEqual(result.stages.map((s) => s.stage), [...SCRIPT_STAGES]);
  for (const timing of result.stages) assert.ok(timing.durationSeconds >= 0 && timing.durationSeconds < 10);
  assert.ok(result.durationSeconds >= result.stages.reduce((sum, s) => sum + s.durationSeconds, 0) - 0.001);
  assert.ok(result.finishedAt >= result.startedAt);
  assert.equal(result.systemError, undefined);
  // Three shells (prepare_script, step_script, after_script), each reported with its pid and then undefined.
  assert.equal(pids.length, 6);
  for (let i = 0; i < pids.length; i += 2) assert.ok(typeof pids[i] === 'number' && pids[i + 1] === undefined, String(pids));
});

test("the job sees CI variables, its own, and the runner's environment, as under GitLab Runner", async () => {
  const { result, log, buildsDir } = await run(
    {
      name: 'env job',
      variables: [{ key: 'GREETING', value: 'hello world', masked: false }],
      script: [
        'echo "CI=$CI id=$CI_JOB_ID name=$CI_JOB_NAME runner=$CI_RUNNER_DESCRIPTION"',
        'echo "builds=$CI_BUILDS_DIR project=$CI_PROJECT_DIR pwd=$(pwd)"',
        'echo "greeting=$GREETING runner-env=${RUNNER_TEST_PRIVATE:-unset} path=${PATH:+set}"',
        'echo "arch=$CI_RUNNER_EXECUTABLE_ARCH"',
      ],
    },
    { runnerEnvironment: { RUNNER_TEST_PRIVATE: 'runner-only' } },
  );
  assert.equal(result.state, 'success', plain(log));
  const lines = stageLines(log, 'step_script').filter((line) => !line.startsWith('$ '));
  const id = /id=(\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
  assert.equal(lines[0], `CI=true id=${id} name=env job runner=test-runner`);
  const project = join(buildsDir, id);
  assert.equal(lines[1], `builds=${buildsDir} project=${project} pwd=${project}`);
  assert.equal(lines[2], 'greeting=hello world runner-env=runner-only path=set');
  assert.match(lines[3] ?? '', /^arch=[a-z0-9]+\/[a-z0-9]+$/);
  assert.equal(process.env['RUNNER_TEST_PRIVATE'], undefined, 'the test restored the environment');
});

test('a failing command fails the job with its exit status; later commands do not run; after_script still runs', async () => {
  const { result, log, stages } = await run({
    beforeScript: ['echo before'],
    script: ['echo one', 'exit 3', 'echo never'],
    afterScript: ['echo "after $CI_JOB_STATUS"', 'exit 7'],
  });
  assert.deepEqual(stageLines(log, 'step_script'), ['$ echo before', 'before', '$ echo one', 'one', '$ exit 3']);
  assert.deepEqual(stageLines(log, 'after_script'), ['Running after script...', '$ echo "after $CI_JOB_STATUS"', 'after failed', '$ exit 7']);
  const lines = logLines(log);
  assert.ok(lines.includes('WARNING: after_script failed, but job will continue unaffected: exit status 7'), plain(log));
  assert.equal(closingLine(log), 'ERROR: Job failed: exit status 3');
  assert.ok(log.endsWith('\x1b[31;1mERROR: Job failed: exit status 3\x1b[0;m\n'));
  assert.ok(!plain(log).includes('never'));
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.exitCode, 3);
  assert.deepEqual(result.afterScript, { exitCode: 7, timedOut: false, canceled: false });
  assert.deepEqual(stages, [...SCRIPT_STAGES]);

  const failedBefore = await run({ beforeScript: ['false'], script: ['echo never'] });
  assert.deepEqual(stageLines(failedBefore.log, 'step_script'), ['$ false']);
  assert.equal(closingLine(failedBefore.log), 'ERROR: Job failed: exit status 1');
  assert.equal(failedBefore.result.exitCode, 1);
  assert.equal(failedBefore.result.failureReason, 'script_failure');
});

test('bash runs with pipefail: a failure inside a pipeline fails the job; sh has none but stops at a failing command', async () => {
  const { result, log } = await run({ script: ['false | cat', 'echo unreachable'] });
  assert.deepEqual(stageLines(log, 'step_script'), ['$ false | cat']);
  assert.equal(closingLine(log), 'ERROR: Job failed: exit status 1');
  assert.equal(result.state, 'failed');
  assert.equal(result.exitCode, 1);

  const sh = await run({ script: ['false | cat', 'echo reached', 'false', 'echo unreachable'] }, { shell: 'sh' });
  assert.ok(logLines(sh.log).includes('Using Shell (sh) executor...'));
  assert.deepEqual(stageLines(sh.log, 'step_script'), ['$ false | cat', '$ echo reached', 'reached', '$ false']);
  assert.equal(closingLine(sh.log), 'ERROR: Job failed: exit status 1');
  assert.equal(sh.result.exitCode, 1);
});

test("past the output limit the log is cut with GitLab's notice and the job goes on", async () => {
  const limit = 2000;
  const marker = mkdtempSync(join(tmpdir(), 'runner-limit-'));
  try {
    const { result, log } = await run(
      {
        script: ["head -c 5000 /dev/zero | tr '\\0' x", 'echo more', 'touch "$MARKER/went-on"'],
        variables: [{ key: 'MARKER', value: marker, masked: false }],
      },
      { outputLimitBytes: limit },
    );
    assert.equal(result.state, 'success');
    const notice = limitNotice(limit);
    assert.equal(
      notice,
      `\n\x1b[33;1mJob's log exceeded limit of ${limit} bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n`,
    );
    assert.ok(log.endsWith(notice), JSON.stringify(log.slice(-200)));
    const kept = log.slice(0, -notice.length);
    assert.equal(Buffer.byteLength(kept), limit);
    assert.match(plain(kept), /\$ head -c 5000 \/dev\/zero \| tr '\\0' x\nx+$/);
    assert.ok(!log.includes('Job succeeded'), 'nothing after the cut, not even the closing line');
    assert.ok(existsSync(join(marker, 'went-on')), 'the commands after the cut ran');
    assert.equal(result.log.truncated, true);
    assert.equal(result.log.writtenBytes, limit);
    assert.ok(result.log.droppedBytes > 5000 - limit, 'the rest was still read');
  } finally {
    rmSync(marker, { recursive: true, force: true });
  }
});

test('the build directory is created for the job and removed after it, unless kept', async () => {
  const removed = await run({ script: ['pwd', 'touch made-here', 'ls -A'] }, {}, true);
  try {
    const [, pwd, , , listing] = stageLines(removed.log, 'step_script');
    assert.equal(listing, 'made-here', 'the job starts in an empty directory of its own');
    assert.ok(pwd?.startsWith(removed.buildsDir + '/'), pwd);
    assert.deepEqual(readdirSync(removed.buildsDir), [], "project directory and the runner's files removed");
  } finally {
    rmSync(removed.buildsDir, { recursive: true, force: true });
  }

  const kept = await run({ script: ['pwd', 'touch made-here'] }, { keepBuildDir: true }, true);
  try {
    const pwd = stageLines(kept.log, 'step_script')[1] ?? '';
    assert.ok(existsSync(join(pwd, 'made-here')));
    assert.deepEqual(readdirSync(kept.buildsDir), [pwd.slice(kept.buildsDir.length + 1)], "only the project directory kept, not the runner's files");
  } finally {
    rmSync(kept.buildsDir, { recursive: true, force: true });
  }
});

test('a job that cannot be prepared is a runner_system_failure, with no cleanup stage', async () => {
  // An id that would name a directory outside the builds directory: refused before anything runs.
  const escape = await run({ id: '../escape', script: ['echo never'] });
  assert.equal(escape.result.state, 'failed');
  assert.equal(escape.result.failureReason, 'runner_system_failure');
  assert.match(escape.result.systemError ?? '', /job id "\.\.\/escape"/);
  // The log says the runner failed, not why: the reason may name paths of the runner's machine.
  assert.equal(escape.log, '\x1b[31;1mERROR: Job failed (system failure): the runner could not run the job\x1b[0;m\n');
  assert.deepEqual(escape.stages, []);

  // A builds directory that cannot be made (a file is in the way): prepare_executor fails, no cleanup stage
  // follows (as in GitLab Runner), and nothing is left behind.
  const root = mkdtempSync(join(tmpdir(), 'runner-blocked-'));
  try {
    writeFileSync(join(root, 'file'), '');
    const blocked = await run({ script: ['echo never'], afterScript: ['echo never'] }, { buildsDir: join(root, 'file', 'builds') });
    assert.equal(blocked.result.state, 'failed');
    assert.equal(blocked.result.failureReason, 'runner_system_failure');
    assert.match(blocked.result.systemError ?? '', /prepare_executor/);
    assert.deepEqual(blocked.stages, ['prepare_executor']);
    assert.match(closingLine(blocked.log), /^ERROR: Job failed \(system failure\): /);
    assert.ok(!plain(blocked.log).includes('never'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** A bare repository with one commit holding hello.txt, made with the git command line. */
function gitRepository(): { root: string; url: string; commit: string } {
  const root = mkdtempSync(join(tmpdir(), 'runner-git-'));
  const git = (cwd: string, ...args: string[]): string => {
    const result = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'init.defaultBranch=main', ...args], {
      cwd,
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim();
  };
  const work = join(root, 'work');
  git(root, 'init', '-q', work);
  writeFileSync(join(work, 'hello.txt'), 'hello from git\n');
  git(work, 'add', 'hello.txt');
  git(work, 'commit', '-q', '-m', 'first');
  git(root, 'clone', '-q', '--bare', work, join(root, 'repo.git'));
  return { root, url: join(root, 'repo.git'), commit: git(work, 'rev-parse', 'HEAD') };
}

const noGit = skipUnless('git', 'git');

test("get_sources checks out the job's repository; GIT_STRATEGY=none skips it", { skip: noGit }, async () => {
  const repo = gitRepository();
  try {
    const fetched = await run({ script: ['cat hello.txt'], repository: { url: repo.url, ref: 'main', sha: repo.commit } });
    assert.equal(fetched.result.state, 'success', plain(fetched.log));
    const sources = stageLines(fetched.log, 'get_sources');
    assert.ok(sources.includes(`Checking out ${repo.commit.slice(0, 8)} as detached HEAD (ref is main)...`), sources.join('\n'));
    assert.deepEqual(stageLines(fetched.log, 'step_script'), ['$ cat hello.txt', 'hello from git']);
    assert.deepEqual(fetched.stages, ['prepare_executor', 'prepare_script', 'get_sources', 'step_script', 'cleanup_file_variables']);

    const skipped = await run({
      script: ['test ! -e hello.txt'],
      repository: { url: repo.url, ref: undefined },
      variables: [{ key: 'GIT_STRATEGY', value: 'none', masked: false }],
    });
    assert.equal(skipped.result.state, 'success', plain(skipped.log));
    assert.ok(stageLines(skipped.log, 'get_sources').includes('Skipping Git repository setup'), plain(skipped.log));

    const missing = await run({ script: ['echo never'], repository: { url: join(repo.url, 'nope'), ref: undefined } });
    assert.equal(missing.result.state, 'failed');
    assert.equal(missing.result.failureReason, 'script_failure');
    assert.ok(!missing.stages.includes('step_script'));
    assert.match(closingLine(missing.log), /^ERROR: Job failed: exit status \d+$/);
  } finally {
    rmSync(repo.root, { recursive: true, force: true });
  }
});

test("a job's CPU and peak memory are measured across its stages' process trees, and logged", async () => {
  // About 2 s of CPU (less on a busy machine) in a grandchild that its parent reaps, then time for a sample to see it.
  const { result, log } = await run({ script: ['timeout 2 sh -c "while :; do :; done" || true', 'sleep 1.5'] });
  assert.equal(result.state, 'success', plain(log));
  assert.ok(result.resources !== undefined && result.resources.measuredBy === 'sampled');
  assert.ok(result.resources.cpuSeconds >= 0.5 && result.resources.cpuSeconds < 10, `cpu ${result.resources.cpuSeconds} s`);
  assert.ok(result.resources.peakRssBytes !== undefined && result.resources.peakRssBytes > 0);
  const summary = /^Job used (\d+\.\d\d) s of CPU, peak RSS (\d+\.\d) MiB \(approximate: sampled every second from \/proc\)$/m.exec(plain(log));
  assert.ok(summary, plain(log));
  assert.equal(Number(summary[1]), Number(result.resources.cpuSeconds.toFixed(2)));
});
