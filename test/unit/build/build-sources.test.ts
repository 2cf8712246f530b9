// get_sources as GitLab Runner tries it (common/build.go attemptExecuteStage,
// helpers/retry): GET_SOURCES_ATTEMPTS attempts with `Retrying...` and its
// backoff between them, the worktree cleared before the second; an invalid
// GIT_SUBMODULE_STRATEGY; and FF_ENABLE_JOB_CLEANUP's part of the cleanup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobVariable } from '../../../src/job/model.ts';
import { fakeJob, type FakeRun, runnerSettings } from '../../support/fakes.ts';
import { bodyOf, build, RED, RESET, scriptOf, SECTIONS, succeed, titled, warned, withoutResources } from './harness.ts';

const variable = (key: string, value: string): JobVariable => ({ key, value, masked: false });
const REPOSITORY = { url: 'https://gitlab.example/g/p.git', ref: 'main' };
const PROJECT = { id: 7, path: 'g/p' };
const CLEAR_TITLE = titled('Deleting all tracked and untracked files due to source fetch failure');
const SOURCES_TITLE = titled('Getting source from Git repository');

/** Whether a run is clear_worktree (which the executor runs as a get_sources stage). */
const clearing = (run: FakeRun): boolean => run.command.script.includes('Deleting tracked and untracked files');
/** What ran, clear_worktree told apart. */
const ran = (runs: readonly FakeRun[]): string[] => runs.map((run) => (clearing(run) ? 'clear_worktree' : run.stage));

test("GET_SOURCES_ATTEMPTS: tried again after `Retrying...` and GitLab's backoff, the worktree cleared before the second attempt", async () => {
  const job = fakeJob('1', { features: SECTIONS, repository: REPOSITORY, afterScript: ['x'], variables: [variable('GET_SOURCES_ATTEMPTS', '3')] });
  const { result, executor, log, pauses, stages } = await build(
    job,
    (run) => run.exit(run.stage === 'get_sources' && !clearing(run) ? 1 : 0, `${ran([run])[0]}\n`),
  );
  assert.deepEqual(ran(executor.runs), ['prepare_script', 'get_sources', 'clear_worktree', 'get_sources', 'get_sources', 'cleanup_file_variables']);
  assert.deepEqual(pauses, [5_000, 10_000], 'exponential from 5 s (FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY)');
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.failure, 'exit status 1');
  assert.deepEqual(
    stages,
    ['prepare_executor', 'prepare_script', 'get_sources', 'get_sources', 'get_sources', 'cleanup_file_variables'],
    'no script, no after_script',
  );
  const end = (name: string) => `section_end:T:${name}\r\x1b[0K`;
  const start = (name: string) => `section_start:T:${name}\r\x1b[0K`;
  const retry = warned('Retrying...');
  const clean = withoutResources(log.replace(/section_(start|end):\d+:/g, 'section_$1:T:'));
  assert.ok(clean.endsWith(`${RED}ERROR: Job failed: exit status 1${RESET}\n`));
  assert.equal(
    // From prepare_script's title on (its start marker is before it), the closing line left out.
    clean.slice(clean.indexOf(titled('Preparing environment')), -`${RED}ERROR: Job failed: exit status 1${RESET}\n`.length),
    titled('Preparing environment') + 'prepare_script\n' + end('prepare_script') +
      start('get_sources') + SOURCES_TITLE + 'get_sources\n' + end('get_sources') + retry +
      start('clear_worktree') + CLEAR_TITLE + 'clear_worktree\n' + end('clear_worktree') +
      start('get_sources') + SOURCES_TITLE + 'get_sources\n' + end('get_sources') + retry +
      start('get_sources') + SOURCES_TITLE + 'get_sources\n' + end('get_sources') +
      start('cleanup_file_variables') + titled('Cleaning up project directory and file based variables') + 'cleanup_file_variables\n' +
      end('cleanup_file_variables'),
  );
  const clear = bodyOf(executor.runs.find(clearing)!.command.script);
  assert.ok(clear.includes(`echo $'\\x1b[32;1mDeleting tracked and untracked files...\\x1b[0;m'`));
  assert.ok(clear.includes('git rm -rf --ignore-unmatch --quiet .') && clear.includes('git clean -ffdx -q'));
});

test('an attempt that succeeds ends the retries and the job goes on as if nothing failed', async () => {
  let attempts = 0;
  const job = fakeJob('1', { repository: REPOSITORY, variables: [variable('GET_SOURCES_ATTEMPTS', '5')] });
  const { result, executor, pauses } = await build(job, (run) => run.exit(run.stage === 'get_sources' && !clearing(run) && ++attempts < 3 ? 128 : 0));
  assert.equal(result.state, 'success');
  assert.equal(result.failure, undefined);
  assert.equal(result.failureReason, undefined);
  assert.equal(result.exitCode, 0);
  assert.deepEqual(ran(executor.runs), [
    'prepare_script',
    'get_sources',
    'clear_worktree',
    'get_sources',
    'get_sources',
    'step_script',
    'cleanup_file_variables',
  ]);
  assert.deepEqual(pauses, [5_000, 10_000]);
});

test('without FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY the pauses go from 1 s to 5 s; attempts are clamped to [1, 10]', async () => {
  const fail = (run: FakeRun): void => run.exit(run.stage === 'get_sources' && !clearing(run) ? 1 : 0);
  const linear = await build(
    fakeJob('1', { repository: REPOSITORY, variables: [variable('GET_SOURCES_ATTEMPTS', '6'), variable('FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY', 'false')] }),
    fail,
  );
  assert.deepEqual(linear.pauses, [1_000, 2_000, 4_000, 5_000, 5_000]);
  const many = await build(fakeJob('2', { repository: REPOSITORY, variables: [variable('GET_SOURCES_ATTEMPTS', '99')] }), fail);
  assert.equal(ran(many.executor.runs).filter((stage) => stage === 'get_sources').length, 10);
  assert.deepEqual(many.pauses, [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  assert.ok(many.log.includes(warned('GET_SOURCES_ATTEMPTS: number of attempts out of the range [1, 10], clamping to: 10')));
  const once = await build(fakeJob('3', { repository: REPOSITORY }), fail);
  assert.deepEqual(ran(once.executor.runs), ['prepare_script', 'get_sources', 'cleanup_file_variables']);
  assert.deepEqual(once.pauses, []);
  assert.equal(once.log.includes('Retrying...'), false);
});

test('a cancel or a timeout of get_sources is not tried again; a cancel during the pause ends the job', async () => {
  const variables = [variable('GET_SOURCES_ATTEMPTS', '3')];
  const timedOut = await build(
    fakeJob('1', { repository: REPOSITORY, variables }),
    (run) => (run.stage === 'get_sources' ? run.end({ outcome: 'timeout', exitCode: 143 }) : run.exit(0)),
  );
  assert.deepEqual(ran(timedOut.executor.runs), ['prepare_script', 'get_sources']);
  assert.equal(timedOut.result.failureReason, 'job_execution_timeout');

  const cancel = new AbortController();
  const canceled = await build(fakeJob('2', { repository: REPOSITORY, variables }), (run) => run.exit(run.stage === 'get_sources' ? 1 : 0), {
    signal: cancel.signal,
    retryPause: async (_ms, signal) => {
      cancel.abort();
      assert.equal(signal.aborted, true, 'the pause is told of the cancel');
    },
  });
  assert.equal(canceled.result.state, 'canceled');
  assert.deepEqual(ran(canceled.executor.runs), ['prepare_script', 'get_sources']);
});

test('a clear_worktree that fails is the second attempt failing: get_sources runs again only in the third', async () => {
  const job = fakeJob('1', { repository: REPOSITORY, variables: [variable('GET_SOURCES_ATTEMPTS', '3')] });
  const { executor, result, pauses } = await build(job, (run) => run.exit(run.stage === 'get_sources' ? (clearing(run) ? 2 : 1) : 0));
  assert.deepEqual(ran(executor.runs), ['prepare_script', 'get_sources', 'clear_worktree', 'get_sources', 'cleanup_file_variables']);
  assert.deepEqual(pauses, [5_000, 10_000]);
  assert.equal(result.exitCode, 1);
});

test('an invalid GIT_SUBMODULE_STRATEGY: get_sources cannot be written, which is tried again, then a system failure', async () => {
  const job = fakeJob('1', {
    repository: REPOSITORY,
    afterScript: ['x'],
    variables: [variable('GIT_SUBMODULE_STRATEGY', 'sometimes'), variable('GET_SOURCES_ATTEMPTS', '2')],
  });
  const { result, executor, log, stages } = await build(job, succeed);
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.deepEqual(
    ran(executor.runs),
    ['prepare_script', 'clear_worktree', 'cleanup_file_variables'],
    'no get_sources script ever runs (the cleanup script still does)',
  );
  assert.deepEqual(stages, ['prepare_executor', 'prepare_script', 'cleanup_file_variables'], 'and no get_sources stage is entered');
  assert.ok(log.includes(warned(`GIT_SUBMODULE_STRATEGY: expected either 'normal', 'recursive' or 'none' got "sometimes"`)));
  assert.equal(log.includes(SOURCES_TITLE), false);
  assert.ok(
    withoutResources(log).endsWith(
      warned('Retrying...') + CLEAR_TITLE + titled('Cleaning up project directory and file based variables') +
        `${RED}ERROR: Job failed (system failure): unknown GIT_SUBMODULE_STRATEGY${RESET}\n`,
    ),
  );

  // With GIT_STRATEGY none or empty the submodule strategy is none whatever it says.
  const none = await build(
    fakeJob('2', { repository: REPOSITORY, variables: [variable('GIT_SUBMODULE_STRATEGY', 'sometimes'), variable('GIT_STRATEGY', 'none')] }),
    succeed,
  );
  assert.equal(none.result.state, 'success');
});

test('FF_ENABLE_JOB_CLEANUP: the kept project directory is cleaned in the cleanup stage, as the git strategy says', async () => {
  const job = (strategy: string, fields: Parameters<typeof fakeJob>[1] = {}) =>
    fakeJob('1', {
      project: PROJECT,
      repository: REPOSITORY,
      variables: [variable('FF_ENABLE_JOB_CLEANUP', 'true'), variable('GIT_STRATEGY', strategy)],
      ...fields,
    });
  const cleanup = async (strategy: string, fields: Parameters<typeof fakeJob>[1] = {}) => {
    const { executor, log } = await build(job(strategy, fields), succeed);
    const run = executor.runs.find((r) => r.stage === 'cleanup_file_variables');
    return { body: run === undefined ? undefined : bodyOf(run.command.script), log, executor };
  };
  const fetch = await cleanup('fetch', {
    variables: [variable('FF_ENABLE_JOB_CLEANUP', 'true'), variable('GIT_STRATEGY', 'fetch'), variable('GIT_SUBMODULE_STRATEGY', 'recursive')],
  });
  assert.ok(
    fetch.body?.includes(
      'cd /builds/0/g/p\n  git clean -ffdx\n  git reset --hard\n  git submodule foreach --recursive git clean -ffdx\n  git submodule foreach --recursive git reset --hard\n',
    ),
    fetch.body,
  );
  assert.ok((await cleanup('clone')).body?.includes('rm -r -f /builds/0/g/p\n'));
  assert.ok((await cleanup('empty')).body?.includes('rm -r -f /builds/0/g/p-empty\n'));
  assert.ok((await cleanup('none')).body?.includes(`echo $'\\x1b[32;1mSkipping build directory cleanup step\\x1b[0;m'`));
  const cleanFlags = await cleanup('fetch', {
    variables: [variable('FF_ENABLE_JOB_CLEANUP', 'true'), variable('GIT_STRATEGY', 'fetch'), variable('GIT_CLEAN_FLAGS', 'none')],
  });
  assert.equal(cleanFlags.body?.includes('git clean'), false);
  assert.ok(fetch.log.indexOf(titled('Cleaning up project directory and file based variables')) > 0);

  // Not without the flag (the cleanup script then only makes git forget the job token), not for a local job's
  // disposable directory, not after the job's timeout.
  const off = await build(fakeJob('2', { project: PROJECT, repository: REPOSITORY }), succeed);
  const offBody = bodyOf(scriptOf(off.executor, 'cleanup_file_variables'));
  assert.ok(offBody.includes('git credential reject') && !offBody.includes('git reset') && !offBody.includes('rm -r'), offBody);
  const local = await build(fakeJob('3', { variables: [variable('FF_ENABLE_JOB_CLEANUP', 'true')] }), succeed);
  assert.equal(local.executor.runs.some((r) => r.stage === 'cleanup_file_variables'), false);
  const late = await build(
    job('fetch', { timeoutSeconds: 60 }),
    (run) => (run.stage === 'step_script' ? run.end({ outcome: 'timeout', exitCode: 143 }) : run.exit(0)),
  );
  assert.equal(late.executor.runs.some((r) => r.stage === 'cleanup_file_variables'), false);
  assert.equal(scriptOf(fetch.executor, 'cleanup_file_variables').includes('export '), true, 'the cleanup script is a stage script like the others');
});

test('the job token is on no command line: get_sources has it only in exports and in the printf (a shell builtin) that writes the rewrites', async () => {
  const token = 'glcbt-64_Secret1234567890';
  const job = fakeJob('1', {
    project: PROJECT,
    repository: { url: `https://gitlab-ci-token:${token}@gitlab.example/g/p.git`, ref: 'main' },
    variables: [variable('CI_JOB_TOKEN', token), variable('GIT_SUBMODULE_STRATEGY', 'recursive'), variable('GIT_SUBMODULE_FORCE_HTTPS', 'true')],
  });
  const { executor } = await build(job, succeed, { runner: runnerSettings({ coordinatorUrl: 'https://gitlab.example/' }) });
  const lines = bodyOf(scriptOf(executor, 'get_sources')).split('\n').map((line) => line.trim()).filter((line) => line.includes(token));
  const rewrites = lines.filter((line) => line.startsWith(`printf '[url "%s"]`));
  assert.ok(rewrites.length >= 3, `the repository, the coordinator and its ssh URLs are rewritten: ${rewrites.join('\n')}`);
  assert.deepEqual(lines.filter((line) => !line.startsWith('export ') && !rewrites.includes(line)), []);
  for (const stage of ['cleanup_file_variables', 'step_script'] as const) {
    const other = bodyOf(scriptOf(executor, stage)).split('\n').filter((line) => line.includes(token));
    assert.ok(other.every((line) => line.trim().startsWith('export ')), other.join('\n'));
  }
});
