// The shell executor through the build sequence: what a job sees and leaves -
// its log, variables, build directory, sources and file variables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limitNotice } from '../../../src/trace/job-log.ts';
import { run, SCRIPT_STAGES } from '../../support/shell-run.ts';
import { skipUnless } from '../../support/tools.ts';

test('a successful job: each command echoed before its output, stdout and stderr in order, all stages', async () => {
  const { result, log, stages, pids } = await run({
    beforeScript: ['echo setup'],
    script: ['echo hello', 'echo out; echo err >&2; echo out2', 'printf "a\\nb\\n"', 'if true; then\n  echo multi\nfi'],
    afterScript: ['echo "after $CI_JOB_STATUS"'],
  });
  assert.equal(
    log,
    [
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
      '$ echo "after $CI_JOB_STATUS"',
      'after success',
      '',
    ].join('\n'),
  );
  assert.equal(result.state, 'success');
  assert.equal(result.failureReason, undefined);
  assert.equal(result.exitCode, 0);
  assert.deepEqual(result.afterScript, { exitCode: 0, timedOut: false, canceled: false });
  assert.deepEqual(stages, [...SCRIPT_STAGES]);
  assert.deepEqual(result.stages.map((s) => s.stage), [...SCRIPT_STAGES]);
  for (const timing of result.stages) assert.ok(timing.durationSeconds >= 0 && timing.durationSeconds < 10);
  assert.ok(result.durationSeconds >= result.stages.reduce((sum, s) => sum + s.durationSeconds, 0) - 0.001);
  assert.ok(result.finishedAt >= result.startedAt);
  assert.equal(result.systemError, undefined);
  // Two steps, each reported with its pid and then undefined.
  assert.equal(pids.length, 4);
  assert.ok(typeof pids[0] === 'number' && pids[1] === undefined && typeof pids[2] === 'number' && pids[3] === undefined);
});

test("the job sees CI variables and its own, and not the runner's environment", async () => {
  process.env['RUNNER_TEST_PRIVATE'] = 'runner-only';
  try {
    const { result, log, buildsDir } = await run({
      name: 'env job',
      variables: [{ key: 'GREETING', value: 'hello world', masked: false }],
      script: [
        'echo "CI=$CI id=$CI_JOB_ID name=$CI_JOB_NAME runner=$CI_RUNNER_DESCRIPTION"',
        'echo "builds=$CI_BUILDS_DIR project=$CI_PROJECT_DIR pwd=$(pwd)"',
        'echo "greeting=$GREETING private=${RUNNER_TEST_PRIVATE:-unset} path=${PATH:+set}"',
        'echo "arch=$CI_RUNNER_EXECUTABLE_ARCH"',
      ],
    });
    assert.equal(result.state, 'success', log);
    const lines = log.split('\n').filter((line) => !line.startsWith('$ '));
    const id = /id=(\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
    assert.equal(lines[0], `CI=true id=${id} name=env job runner=test-runner`);
    const project = join(buildsDir, id);
    assert.equal(lines[1], `builds=${buildsDir} project=${project} pwd=${project}`);
    assert.equal(lines[2], 'greeting=hello world private=unset path=set');
    assert.match(lines[3] ?? '', /^arch=[a-z0-9]+\/[a-z0-9]+$/);
  } finally {
    delete process.env['RUNNER_TEST_PRIVATE'];
  }
});

test('a failing command fails the job with its exit code; later commands do not run; after_script still runs', async () => {
  const { result, log, stages } = await run({
    beforeScript: ['echo before'],
    script: ['echo one', 'exit 3', 'echo never'],
    afterScript: ['echo "after $CI_JOB_STATUS"', 'exit 7'],
  });
  assert.equal(
    log,
    '$ echo before\nbefore\n$ echo one\none\n$ exit 3\n$ echo "after $CI_JOB_STATUS"\nafter failed\n$ exit 7\nERROR: Job failed: exit code 3\n',
  );
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.exitCode, 3);
  assert.deepEqual(result.afterScript, { exitCode: 7, timedOut: false, canceled: false });
  assert.deepEqual(stages, [...SCRIPT_STAGES]);

  const failedBefore = await run({ beforeScript: ['false'], script: ['echo never'] });
  assert.equal(failedBefore.log, '$ false\nERROR: Job failed: exit code 1\n');
  assert.equal(failedBefore.result.exitCode, 1);
  assert.equal(failedBefore.result.failureReason, 'script_failure');
});

test('bash runs with pipefail: a failure inside a pipeline fails the job', async () => {
  const { result, log } = await run({ script: ['false | cat', 'echo unreachable'] });
  assert.equal(log, '$ false | cat\nERROR: Job failed: exit code 1\n');
  assert.equal(result.state, 'failed');
  assert.equal(result.exitCode, 1);

  // sh has no pipefail but stops at the first failing command.
  const sh = await run({ script: ['false | cat', 'echo reached', 'false', 'echo unreachable'] }, { shell: 'sh' });
  assert.equal(sh.log, '$ false | cat\n$ echo reached\nreached\n$ false\nERROR: Job failed: exit code 1\n');
  assert.equal(sh.result.exitCode, 1);
});

test('masked values never reach the log: not in echo lines, not in output, not split across writes', async () => {
  const { result, log } = await run({
    variables: [
      { key: 'SECRET', value: 's3cretvalue', masked: true },
      { key: 'PLAIN', value: 'visible', masked: false },
    ],
    script: [
      'echo $SECRET',
      'echo "literal s3cretvalue"',
      "printf s3cr; sleep 0.2; printf 'etvalue\\n'",
      'echo $PLAIN >&2',
    ],
    afterScript: ['echo "after s3cretvalue $SECRET"'],
  });
  assert.equal(result.state, 'success');
  assert.equal(
    log,
    [
      '$ echo $SECRET',
      '[MASKED]',
      '$ echo "literal [MASKED]"',
      'literal [MASKED]',
      "$ printf s3cr; sleep 0.2; printf 'etvalue\\n'",
      '[MASKED]',
      '$ echo $PLAIN >&2',
      'visible',
      '$ echo "after [MASKED] $SECRET"',
      'after [MASKED] [MASKED]',
      '',
    ].join('\n'),
  );
  assert.ok(!log.includes('s3cret'));
});

test('past the output limit the log is cut with a notice and the job goes on', async () => {
  const limit = 100;
  const { result, log } = await run(
    { script: ["head -c 5000 /dev/zero | tr '\\0' x", 'echo finished > done.txt', 'cat done.txt'] },
    { outputLimitBytes: limit },
  );
  assert.equal(result.state, 'success');
  const expected = (`$ head -c 5000 /dev/zero | tr '\\0' x\n` + 'x'.repeat(5000)).slice(0, limit);
  assert.equal(log, expected + limitNotice(limit));
  assert.equal(result.log.truncated, true);
  assert.equal(result.log.writtenBytes, limit);
  assert.ok(result.log.droppedBytes > 5000 - limit, 'the rest was still read');
});

test('the build directory is created for the job and removed after it, unless kept', async () => {
  const removed = await run({ script: ['pwd', 'touch made-here', 'ls -A'] }, {}, true);
  try {
    const [, pwd, , , listing] = removed.log.split('\n');
    assert.equal(listing, 'made-here', 'the job starts in an empty directory of its own');
    assert.ok(pwd?.startsWith(removed.buildsDir + '/'));
    assert.deepEqual(readdirSync(removed.buildsDir), [], 'project directory and scripts removed');
  } finally {
    rmSync(removed.buildsDir, { recursive: true, force: true });
  }

  const kept = await run({ script: ['pwd', 'touch made-here'] }, { keepBuildDir: true }, true);
  try {
    const pwd = kept.log.split('\n')[1] ?? '';
    assert.ok(existsSync(join(pwd, 'made-here')));
    assert.deepEqual(readdirSync(kept.buildsDir), [pwd.slice(kept.buildsDir.length + 1)], 'only the project directory kept, not the scripts');
  } finally {
    rmSync(kept.buildsDir, { recursive: true, force: true });
  }
});

test('a job that cannot be prepared is a runner_system_failure and still cleans up', async () => {
  const { result, log, stages } = await run({ id: '../escape', script: ['echo never'] });
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.match(result.systemError ?? '', /prepare_executor: job id/);
  // The log says the runner failed, not why: the reason may name paths of the runner's machine.
  assert.equal(log, 'ERROR: Job failed (system failure): the runner could not run the job\n');
  assert.deepEqual(stages, ['prepare_executor', 'cleanup_file_variables']);
});

/** A bare repository with one commit holding hello.txt, made with the git command line. */
function gitRepository(): { url: string; commit: string } {
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
  return { url: join(root, 'repo.git'), commit: git(work, 'rev-parse', '--short', 'HEAD') };
}

const noGit = skipUnless('git', 'git');

test("get_sources checks out the job's repository; GIT_STRATEGY=none skips it", { skip: noGit }, async () => {
  const repo = gitRepository();
  const fetched = await run({ script: ['cat hello.txt'], repository: { url: repo.url, ref: 'main' } });
  assert.equal(fetched.result.state, 'success', fetched.log);
  assert.match(fetched.log, new RegExp(`^Cloning repository\\.\\.\\.\\nChecked out ${repo.commit}\\n\\$ cat hello.txt\\nhello from git\\n$`));
  assert.ok(fetched.stages.includes('get_sources'));

  const skipped = await run({
    script: ['test ! -e hello.txt'],
    repository: { url: repo.url, ref: undefined },
    variables: [{ key: 'GIT_STRATEGY', value: 'none', masked: false }],
  });
  assert.equal(skipped.result.state, 'success', skipped.log);

  const missing = await run({ script: ['true'], repository: { url: join(repo.url, 'nope'), ref: undefined } });
  assert.equal(missing.result.state, 'failed');
  assert.equal(missing.result.failureReason, 'script_failure');
});

test('file variables become 0600 files that cleanup removes; named steps run after script while it succeeds', async () => {
  const { result, log, stages } = await run({
    script: ['cat "$CONFIG_FILE"; echo', 'stat -c %a "$CONFIG_FILE"', 'echo "$CONFIG_FILE" > /tmp/runner-file-var-$CI_JOB_ID'],
    variables: [{ key: 'CONFIG_FILE', value: 'line one\nkey=s3cret-token', masked: false, file: true }],
    extraSteps: [{ name: 'release', script: ['echo releasing'] }],
    secrets: ['s3cret-token'],
    warnings: ['artifacts are not supported by the shell executor yet and were ignored'],
  });
  assert.equal(result.state, 'success', log);
  const lines = log.split('\n');
  assert.equal(lines[0], 'WARNING: artifacts are not supported by the shell executor yet and were ignored');
  assert.ok(log.includes('\nline one\nkey=[MASKED]\n'), log);
  assert.ok(log.includes('\n600\n'), log);
  assert.ok(log.endsWith('$ echo releasing\nreleasing\n'), log);
  assert.deepEqual(stages, ['prepare_executor', 'prepare_script', 'get_sources', 'step_script', 'step_release', 'after_script', 'cleanup_file_variables']);
  const idFile = readdirSync(tmpdir()).find((name) => name.startsWith(`runner-file-var-job-${process.pid}-`));
  assert.ok(idFile !== undefined);
  const path = readFileSync(join(tmpdir(), idFile), 'utf8').trim();
  rmSync(join(tmpdir(), idFile));
  assert.ok(!existsSync(path), `${path} is left after the job`);

  const failed = await run({ script: ['exit 4'], extraSteps: [{ name: 'release', script: ['echo never'] }] });
  assert.equal(failed.result.exitCode, 4);
  assert.ok(!failed.log.includes('never'));
  assert.ok(!failed.stages.includes('step_release'));
});

test('what a job plants in its private directory is never followed: scripts get fresh names, apart from file variables', async () => {
  const { result, log } = await run({
    script: [
      // The names scripts had once, and a file variable's: a FIFO to block on, a symlink out of the build.
      'mkfifo "$CI_PROJECT_DIR.tmp/step_release"',
      'ln -s /etc/hostname "$CI_PROJECT_DIR.tmp/step_script"',
    ],
    extraSteps: [{ name: 'release', script: ['cat "$after_script"; echo'] }],
    afterScript: ['echo after ran'],
    variables: [{ key: 'after_script', value: 'the variable, not a script', masked: false, file: true }],
  });
  assert.equal(result.state, 'success', log);
  assert.match(log, /\$ cat "\$after_script"; echo\nthe variable, not a script\n/);
  assert.match(log, /\$ echo after ran\nafter ran\n$/);
});
