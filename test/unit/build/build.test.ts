// The build sequence in process, on a fake executor: which stages run and in
// what order, what script each is given, how the log is framed (GitLab
// Runner's header, sections, titles and closing lines, byte for byte), and
// the result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { runBuild } from '../../../src/build/build.ts';
import { versionInfo } from '../../../src/version.ts';
import { FakeExecutor, fakeJob, runnerSettings } from '../../support/fakes.ts';
import {
  bodyOf,
  build,
  CLEAR,
  CYAN,
  exported,
  failed,
  fromFirstStage,
  printed,
  RED,
  RESET,
  scriptOf,
  SECTIONS,
  succeed,
  SUCCEEDED,
  titled,
  warned,
  withoutResources,
} from './harness.ts';

const HEADER = printed(`Running with ${versionInfo.name} ${versionInfo.version} (${versionInfo.revision.slice(0, 8)})`);
const REPOSITORY = { url: 'https://gitlab.example/group/project.git', ref: 'main' };

test("a job goes through GitLab's stages in order; each script stage gets its script for bash, exporting the job's variables", async () => {
  const job = fakeJob('7', {
    beforeScript: ['echo before'],
    script: ['echo main'],
    afterScript: ['echo after'],
    extraSteps: [{ name: 'release', script: ['echo release'] }],
    repository: REPOSITORY,
    variables: [{ key: 'GREETING', value: 'hello', masked: false }],
  });
  const { result, stages, executor, log } = await build(job, (run) => run.exit(0, `${run.stage} ran\n`));
  assert.equal(result.state, 'success');
  const order = ['prepare_executor', 'prepare_script', 'get_sources', 'step_script', 'step_release', 'after_script', 'cleanup_file_variables'];
  assert.deepEqual(stages, order);
  assert.deepEqual(result.stages.map((timing) => timing.stage), order);
  assert.deepEqual(executor.runs.map((run) => run.stage), [
    'prepare_script',
    'get_sources',
    'step_script',
    'step_release',
    'after_script',
    'cleanup_file_variables',
  ]);
  // As GitLab Runner's cleanup stage: git's credential helpers forget the job token, whatever the job did with git.
  assert.ok(
    bodyOf(scriptOf(executor, 'cleanup_file_variables')).includes(
      `echo $'url=https://gitlab.example\\nusername=gitlab-ci-token' | git credential reject || true`,
    ),
    bodyOf(scriptOf(executor, 'cleanup_file_variables')),
  );

  const step = scriptOf(executor, 'step_script');
  assert.ok(
    step.startsWith(
      `#!/usr/bin/env bash\n\ntrap 'exit 1' TERM\n\ncase "$(set -o)" in *"pipefail"*) set -o pipefail;; esac; set -o errexit\nset +o noclobber\n`,
    ),
  );
  assert.ok(step.endsWith(`') < /dev/null\nexit 0\n`));
  const body = bodyOf(step);
  assert.ok(body.indexOf('echo before\n') < body.indexOf('echo main\n') && body.indexOf('echo before\n') > 0);
  assert.ok(body.includes(`echo $'\\x1b[32;1m$ echo before\\x1b[0;m'\necho before\n`), 'each command announced as `$ command` in green, then run');
  assert.equal(body.includes('echo release'), false, 'a named step has a script of its own');
  assert.ok(bodyOf(scriptOf(executor, 'step_release')).includes('\necho release\n'));

  // GitLab Runner expands the release step's lines itself (the coordinator's release-cli line quotes its values).
  const release = await build(
    fakeJob('8', {
      variables: [{ key: 'TAG', value: 'v$GREETING', masked: false, expand: true }, { key: 'GREETING', value: '1.0', masked: false }],
      extraSteps: [{ name: 'release', script: ["release-cli create --tag-name '$TAG' --name '$$x'"] }, { name: 'other', script: ["echo '$TAG'"] }],
    }),
    succeed,
  );
  assert.ok(
    bodyOf(scriptOf(release.executor, 'step_release')).includes("\nrelease-cli create --tag-name 'v1.0' --name '$x'\n"),
    bodyOf(scriptOf(release.executor, 'step_release')),
  );
  assert.ok(bodyOf(scriptOf(release.executor, 'step_other')).includes("\necho '$TAG'\n"), 'other steps are left to the shell');
  assert.equal(exported(body, 'GREETING'), 'hello');
  assert.equal(exported(body, 'CI_PROJECT_DIR'), '/builds/7', 'a job of no project: a directory of its own');
  assert.equal(exported(body, 'CI_SHARED_ENVIRONMENT'), 'true');
  assert.ok(body.includes('\ncd /builds/7\n'), 'the steps start in the project directory');
  assert.ok(body.indexOf('export GREETING=hello') < body.indexOf('cd /builds/7'));
  assert.equal(exported(bodyOf(scriptOf(executor, 'after_script')), 'CI_JOB_STATUS'), 'success', 'after_script is told how the job went');
  assert.ok(bodyOf(scriptOf(executor, 'after_script')).includes(`echo $'\\x1b[32;1mRunning after script...\\x1b[0;m'\n`));
  assert.equal(bodyOf(scriptOf(executor, 'prepare_script')).split('\n')[0], 'echo "Running on $(hostname)..."');
  assert.equal(exported(bodyOf(scriptOf(executor, 'prepare_script')), 'GREETING'), undefined, 'prepare_script exports nothing');

  for (const stage of ['prepare_script', 'get_sources', 'step_script', 'step_release', 'after_script']) {
    assert.ok(log.indexOf(`${stage} ran\n`) > 0, `${stage}'s output in the log`);
  }
  assert.ok(log.indexOf('step_script ran') < log.indexOf('step_release ran') && log.indexOf('step_release ran') < log.indexOf('after_script ran'));
  assert.deepEqual(result.resources, { cpuSeconds: 1.5, peakRssBytes: 1024, measuredBy: 'sampled' }, 'as the executor measured');
  assert.deepEqual(executor.cleanedUp.map((j) => j.id), ['7']);
  assert.equal(executor.runs[2]!.command.timeoutMs <= 3_600_000 && executor.runs[2]!.command.timeoutMs > 3_590_000, true, 'the rest of the default 1 h');
});

test('the log is framed as GitLab Runner frames it: header, sections with cyan titles, the green closing line', async () => {
  const before = Math.floor(Date.now() / 1000);
  const job = fakeJob('8', { features: SECTIONS, repository: REPOSITORY, afterScript: ['echo after'], project: { id: 3, path: 'group/project' } });
  const outputs: Record<string, string> = { prepare_script: 'Running on host...\n', get_sources: 'fetched\n', step_script: 'hi\n', after_script: 'after\n' };
  const { log, result } = await build(job, (run) => run.exit(0, outputs[run.stage]), {
    runner: runnerSettings({ name: 'my-runner', token: 'glrt-t1_t9Wkyj-HGRkqQ-VWTGAr' }),
  });
  const after = Math.floor(Date.now() / 1000);
  assert.equal(result.state, 'success');
  const times = [...log.matchAll(/section_(?:start|end):(\d+):/g)].map((match) => Number(match[1]));
  assert.ok(times.length === 12 && times.every((t) => t >= before && t <= after), 'unix seconds of the moment');
  const start = (name: string): string => `section_start:T:${name}\r${CLEAR}`;
  const end = (name: string): string => `section_end:T:${name}\r${CLEAR}`;
  assert.equal(
    withoutResources(log.replace(/section_(start|end):\d+:/g, 'section_$1:T:')),
    HEADER +
      printed('  on my-runner t9Wkyj-HG, system ID: s_0123456789ab') +
      start('prepare_executor') + titled('Preparing the "fake" executor') +
      printed('Using Shell (bash) executor...') +
      end('prepare_executor') + start('prepare_script') + titled('Preparing environment') +
      'Running on host...\n' +
      end('prepare_script') + start('get_sources') + titled('Getting source from Git repository') +
      'fetched\n' +
      end('get_sources') + start('step_script') + titled('Executing "step_script" stage of the job script') +
      'hi\n' +
      end('step_script') + start('after_script') + titled('Running after_script') +
      'after\n' +
      end('after_script') + start('cleanup_file_variables') + titled('Cleaning up project directory and file based variables') +
      end('cleanup_file_variables') +
      SUCCEEDED,
  );
  assert.equal(titled('x'), `${CLEAR}${CYAN}x${RESET}${RESET}\n`);
});

test('without trace_sections: no section markers, the titles all the same; no "on" line for a runner without a token', async () => {
  const { log } = await build(fakeJob('9', { repository: REPOSITORY, extraSteps: [{ name: 'Release', script: ['x'] }] }), succeed);
  assert.equal(log.includes('section_'), false);
  assert.equal(
    withoutResources(log),
    HEADER + titled('Preparing the "fake" executor') + printed('Using Shell (bash) executor...') + titled('Preparing environment') +
      titled('Getting source from Git repository') + titled('Executing "step_script" stage of the job script') +
      titled('Executing "step_release" stage of the job script') + titled('Cleaning up project directory and file based variables') + SUCCEEDED,
  );
});

test("a failing script skips the named steps but not after_script; GitLab's red closing line with the exit status", async () => {
  const job = fakeJob('1', { afterScript: ['echo after'], extraSteps: [{ name: 'release', script: ['true'] }] });
  const { result, log, executor, stages } = await build(job, (run) => run.exit(run.stage === 'step_script' ? 3 : 0));
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.exitCode, 3);
  assert.equal(result.failure, 'exit status 3');
  assert.deepEqual(executor.runs.map((run) => run.stage), ['prepare_script', 'step_script', 'after_script']);
  assert.equal(exported(bodyOf(scriptOf(executor, 'after_script')), 'CI_JOB_STATUS'), 'failed');
  assert.equal(stages.at(-1), 'cleanup_file_variables');
  assert.ok(log.endsWith(`${RED}ERROR: Job failed: exit status 3${RESET}\n`));
  assert.equal(failed('exit status 3'), `${RED}ERROR: Job failed: exit status 3${RESET}\n`);

  const killed = await build(
    fakeJob('2'),
    (run) => (run.stage === 'step_script' ? run.end({ outcome: 'exited', exitCode: 137, signal: 'SIGKILL' }) : run.exit(0)),
  );
  assert.ok(killed.log.endsWith(failed('signal: killed')), "Go's text for a shell a signal ended");
  assert.equal(killed.result.failure, 'signal: killed');
});

test('get_sources failing ends the job before the script and after_script; the cleanup stage still runs', async () => {
  const job = fakeJob('1', { afterScript: ['echo after'], repository: { url: '/nowhere', ref: undefined } });
  const { result, executor, stages, log } = await build(job, (run) => run.exit(run.stage === 'get_sources' ? 128 : 0));
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.exitCode, 128);
  assert.deepEqual(executor.runs.map((run) => run.stage), ['prepare_script', 'get_sources']);
  assert.deepEqual(stages, ['prepare_executor', 'prepare_script', 'get_sources', 'cleanup_file_variables']);
  assert.equal(executor.cleanedUp.length, 1);
  assert.ok(withoutResources(log).endsWith(titled('Cleaning up project directory and file based variables') + failed('exit status 128')));
});

test('GIT_STRATEGY=none does not fetch; a file variable is written by the stage and holds its path', async () => {
  const job = fakeJob('3', {
    repository: { url: '/repo', ref: undefined },
    variables: [{ key: 'GIT_STRATEGY', value: 'none', masked: false }, { key: 'KUBECONFIG', value: 'apiVersion: v1', masked: false, file: true }],
  });
  const { executor, stages } = await build(job, succeed);
  assert.ok(stages.includes('get_sources'));
  const sources = bodyOf(scriptOf(executor, 'get_sources'));
  assert.ok(sources.includes(`echo $'\\x1b[32;1mSkipping Git repository setup\\x1b[0;m'`));
  assert.equal(sources.includes('git fetch') || sources.includes(' fetch origin'), false);
  const step = bodyOf(scriptOf(executor, 'step_script'));
  assert.ok(step.includes(`printf '%s' $'apiVersion: v1' > /builds/3.tmp/KUBECONFIG`));
  assert.equal(exported(step, 'KUBECONFIG'), '/builds/3.tmp/KUBECONFIG');
});

test("the header: the flags a job changed, in GitLab's order; the settings' warnings as one warning; what is not supported", async () => {
  const job = fakeJob('4', {
    variables: [
      { key: 'FF_ENABLE_JOB_CLEANUP', value: 'true', masked: false },
      { key: 'FF_USE_LEGACY_BASH_EVAL', value: '1', masked: false },
      { key: 'FF_TIMESTAMPS', value: 'later', masked: false },
      { key: 'GIT_STRATEGY', value: 'shallow', masked: false },
      { key: 'FF_USE_GIT_NATIVE_CLONE', value: 'true', masked: false },
    ],
    image: { name: 'alpine', aliases: [], entrypoint: [], command: [], pullPolicies: [], variables: [] },
    // Built without an artifact transport: the artifacts are warned of (a cache never is: it is the runner's own).
    cache: [{ key: 'k', paths: ['node_modules'], untracked: false, policy: 'pull-push', when: 'on_success', fallbackKeys: [] }],
    artifacts: [{ name: undefined, paths: ['dist'], exclude: [], untracked: false, when: 'on_success', type: 'archive', format: 'zip', expireIn: undefined }],
    warnings: ['from the source'],
  });
  const { log } = await build(job, succeed, { runner: runnerSettings({ name: 'r', token: 'abcdefghijkl' }) });
  const header = log.slice(0, log.indexOf(titled('Preparing the "fake" executor')));
  assert.equal(
    header,
    HEADER +
      printed('  on r abcdefghi, system ID: s_0123456789ab') +
      printed('  feature flags: FF_USE_LEGACY_BASH_EVAL:true, FF_ENABLE_JOB_CLEANUP:true, FF_USE_GIT_NATIVE_CLONE:true') +
      warned([
        `GIT_STRATEGY: expected either 'clone', 'fetch', 'none' or 'empty' got "shallow", using default value 'clone'`,
        'FF_TIMESTAMPS: could not parse feature flag, expected bool, got later',
        'FF_TIMESTAMPS: could not parse feature flag, expected bool, got later',
        'FF_USE_GIT_NATIVE_CLONE=true is not supported by this runner and is ignored: sources are fetched with git init and git fetch',
      ].join('\n')) +
      warned("this runner's fake executor does not support image: ignored") +
      warned("this job's source keeps no artifacts: artifacts ignored") +
      warned('from the source'),
  );
});

test('CI_DEBUG_TRACE: every stage script traces (set -o xtrace); debug_trace_disabled refuses it with a warning', async () => {
  const job = fakeJob('5', { repository: REPOSITORY, afterScript: ['x'], variables: [{ key: 'CI_DEBUG_TRACE', value: 'true', masked: false }] });
  const traced = await build(job, succeed);
  for (const run of traced.executor.runs) assert.equal(run.command.script.split('\n')[4], 'set -o xtrace', run.stage);
  const refused = await build(job, succeed, { runner: runnerSettings({ debugTraceDisabled: true }) });
  for (const run of refused.executor.runs) assert.equal(run.command.script.includes('xtrace'), false, run.stage);
  assert.ok(refused.log.includes(warned('CI_DEBUG_TRACE: usage is disabled on this Runner')));
});

test('FF_USE_LEGACY_BASH_EVAL and FF_ENABLE_BASH_EXIT_CODE_CHECK change the scripts as in GitLab Runner', async () => {
  const job = fakeJob('6', {
    variables: [{ key: 'FF_USE_LEGACY_BASH_EVAL', value: 'true', masked: false }, { key: 'FF_ENABLE_BASH_EXIT_CODE_CHECK', value: 'true', masked: false }],
  });
  const { executor } = await build(job, succeed);
  const script = scriptOf(executor, 'step_script');
  assert.equal(script.split('\n')[6]!.startsWith(': | eval $'), true);
  assert.ok(bodyOf(script).includes('\ntrue\n_runner_exit_code=$?; if [ $_runner_exit_code -ne 0 ]; then exit $_runner_exit_code; fi\n'));
  assert.equal(exported(bodyOf(script), 'FF_USE_LEGACY_BASH_EVAL'), 'true', 'the flags are exported with their values');
});

test("masked values (as sent and as expanded) and GitLab's token prefixes never reach the log, the runner's lines included", async () => {
  const job = fakeJob('1', {
    variables: [
      { key: 'BASE', value: 'abc', masked: false },
      { key: 'TOKEN', value: 'x-$BASE-secretpart', masked: true, expand: true },
      { key: 'GIT_STRATEGY', value: 'x-abc-secretpart', masked: false },
    ],
    secrets: ['job-token-1234'],
    features: { ...SECTIONS, tokenMaskPrefixes: ['mine_'] },
  });
  const output = 'x-abc-secretpart and x-$BASE-secretpart; job-token-1234; glpat-AbC.123_x=y- end; glrt-t1_zzz; glcbt-abc; mine_token; gl pat-no\n';
  const { log, executor } = await build(job, (run) => run.exit(0, run.stage === 'step_script' ? output : ''));
  assert.equal(exported(bodyOf(scriptOf(executor, 'step_script')), 'TOKEN'), 'x-abc-secretpart', 'the job gets the value');
  assert.ok(log.includes('[MASKED] and x-$BASE-secretpart; [MASKED]; glpat-[MASKED] end; glrt-[MASKED]; glcbt-[MASKED]; mine_[MASKED]; gl pat-no\n'), log);
  assert.ok(log.includes(`got "[MASKED]", using default value`), "the runner's own warning masked too");
  assert.equal(log.includes('x-abc-secretpart'), false);

  const narrow = await build(
    fakeJob('2', { variables: [{ key: 'FF_MASK_ALL_DEFAULT_TOKENS', value: 'false', masked: false }] }),
    (run) => run.exit(0, run.stage === 'step_script' ? 'glpat-abc glrt-abc\n' : ''),
  );
  assert.ok(narrow.log.includes('glpat-[MASKED] glrt-abc\n'), 'only glpat- without FF_MASK_ALL_DEFAULT_TOKENS');
});

test('a job that cannot be prepared is a runner_system_failure without a reason in its log, and no cleanup stage', async () => {
  const executor = new FakeExecutor();
  executor.failPrepare = new Error('no space left on /builds');
  const { result, log, stages } = await build(fakeJob('1', { afterScript: ['x'] }), succeed, {}, executor);
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.equal(result.systemError, 'prepare_executor: no space left on /builds');
  assert.equal(result.exitCode, undefined);
  assert.equal(
    withoutResources(fromFirstStage(log)),
    titled('Preparing the "fake" executor') + `${RED}ERROR: Job failed (system failure): the runner could not run the job${RESET}\n`,
  );
  assert.deepEqual(stages, ['prepare_executor']);
  assert.deepEqual(executor.runs, []);
  assert.equal(result.resources, undefined, 'nothing ran: nothing measured, not a made-up zero');
});

test("a failing prepare_script ends the job with GitLab's text; the job's files are still removed, with no cleanup stage", async () => {
  const { result, log, stages, executor } = await build(
    fakeJob('1', { afterScript: ['x'] }),
    (run) => run.exit(run.stage === 'prepare_script' ? 1 : 0, 'profile says no\n'),
  );
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.exitCode, 1);
  assert.ok(
    log.endsWith(failed('prepare environment: exit status 1. Check https://docs.gitlab.com/runner/shells/#shell-profile-loading for more information')),
  );
  assert.deepEqual(stages, ['prepare_executor', 'prepare_script']);
  assert.deepEqual(executor.runs.map((run) => run.stage), ['prepare_script']);
  assert.deepEqual(executor.cleanedUp.map((job) => job.id), ['1']);
});

test('GIT_CLONE_PATH without custom_build_dir is a runner_configuration_error; with it, the job runs there', async () => {
  const job = fakeJob('1', {
    project: { id: 1, path: 'g/p' },
    repository: REPOSITORY,
    variables: [{ key: 'GIT_CLONE_PATH', value: '$CI_BUILDS_DIR/mine/$CI_CONCURRENT_ID', masked: false, expand: true }],
  });
  const refused = await build(job, succeed);
  assert.equal(refused.result.state, 'failed');
  assert.equal(refused.result.failureReason, 'runner_configuration_error');
  assert.equal(
    withoutResources(fromFirstStage(refused.log)),
    titled('Preparing the "fake" executor') + failed('setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature'),
  );
  assert.deepEqual(refused.executor.prepared, []);

  const allowed = await build(job, succeed, { runner: runnerSettings({ customBuildDir: true }), slot: { concurrentId: 4, concurrentProjectId: 0 } });
  assert.equal(allowed.result.state, 'success');
  assert.equal(allowed.executor.directories.get('1')?.projectDir, '/builds/mine/4');
  assert.equal(exported(bodyOf(scriptOf(allowed.executor, 'step_script')), 'CI_PROJECT_DIR'), '/builds/mine/4');

  const outside = await build(
    fakeJob('2', { project: { id: 1, path: 'g/p' }, variables: [{ key: 'GIT_CLONE_PATH', value: '/srv/x', masked: false }] }),
    succeed,
    {
      runner: runnerSettings({ customBuildDir: true }),
    },
  );
  assert.equal(outside.result.failureReason, 'runner_configuration_error');
  assert.ok(outside.log.endsWith(failed('the GIT_CLONE_PATH="/srv/x" has to be within "/builds"')));
});

test("jobs of a project share its directory under the runner's short token and the concurrent project id", async () => {
  const job = (id: string) => fakeJob(id, { project: { id: 9, path: 'g/p' }, repository: REPOSITORY });
  const runner = runnerSettings({ token: 'glrt-t1_t9Wkyj-HGRkqQ' });
  const first = await build(job('1'), succeed, { runner, slot: { concurrentId: 5, concurrentProjectId: 0 } });
  const second = await build(job('2'), succeed, { runner, slot: { concurrentId: 6, concurrentProjectId: 1 } });
  assert.deepEqual(first.executor.directories.get('1'), {
    projectDir: '/builds/t9Wkyj-HG/0/group/project',
    tempDir: '/builds/t9Wkyj-HG/0/group/project.tmp',
    disposable: false,
  });
  assert.equal(second.executor.directories.get('2')?.projectDir, '/builds/t9Wkyj-HG/1/group/project');
  const body = bodyOf(scriptOf(second.executor, 'step_script'));
  assert.equal(exported(body, 'CI_CONCURRENT_ID'), '6');
  assert.equal(exported(body, 'CI_CONCURRENT_PROJECT_ID'), '1');
  assert.equal(exported(body, 'CI_RUNNER_SHORT_TOKEN'), 't9Wkyj-HG');
});

test("the result: state, reason, exit code, failure text, times, stages, after_script's end, the log's figures", async () => {
  const { result, log } = await build(fakeJob('1', { afterScript: ['x'] }), (run) => run.exit(run.stage === 'after_script' ? 4 : 0, 'out\n'));
  assert.equal(result.state, 'success');
  assert.equal(result.failureReason, undefined);
  assert.equal(result.exitCode, 0);
  assert.equal(result.failure, undefined);
  assert.ok(result.finishedAt.getTime() >= result.startedAt.getTime());
  assert.ok(result.durationSeconds >= 0 && result.durationSeconds < 60);
  assert.deepEqual(result.stages.map((timing) => timing.stage), [
    'prepare_executor',
    'prepare_script',
    'step_script',
    'after_script',
    'cleanup_file_variables',
  ]);
  assert.ok(result.stages.every((timing) => timing.durationSeconds >= 0));
  assert.deepEqual(result.afterScript, { exitCode: 4, timedOut: false, canceled: false });
  assert.ok(log.includes(warned('after_script failed, but job will continue unaffected: exit status 4')));
  assert.equal(result.log.writtenBytes, Buffer.byteLength(log));
  assert.equal(result.log.receivedBytes, 'out\n'.length * 3);
  assert.equal(result.log.truncated, false);
  assert.equal(result.systemError, undefined);
});

test('a log sink that fails makes the job a runner_system_failure; the job still runs to its end', async () => {
  const executor = new FakeExecutor();
  executor.onRun = succeed;
  const result = await runBuild(fakeJob('1'), {
    executor,
    runner: runnerSettings(),
    log: () => {
      throw new Error('ENOSPC');
    },
  });
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.match(result.systemError ?? '', /job log: ENOSPC/);
  assert.deepEqual(executor.runs.map((run) => run.stage), ['prepare_script', 'step_script']);
  assert.equal(executor.cleanedUp.length, 1);
});

test('a stage that cannot be started is a runner_system_failure that leaves no exit code behind; the job is cleaned up', async () => {
  const job = fakeJob('1', { extraSteps: [{ name: 'release', script: ['x'] }] });
  const executor = new FakeExecutor();
  const prepare = executor.prepare.bind(executor);
  // The third stage (step_release) cannot be started: its run rejects.
  executor.prepare = async (j, directories, context) => {
    const environment = await prepare(j, directories, context);
    let runs = 0;
    return { ...environment, run: (command) => (++runs === 3 ? Promise.reject(new Error('cannot start the shell')) : environment.run(command)) };
  };
  const { result, log, stages } = await build(job, succeed, {}, executor);
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.equal(result.systemError, 'step_release: cannot start the shell');
  assert.equal(result.exitCode, undefined);
  assert.ok(log.endsWith(`${RED}ERROR: Job failed (system failure): the runner could not run the job${RESET}\n`));
  assert.equal(log.includes('cannot start the shell'), false, "the runner's error stays out of the job's log");
  assert.equal(stages.at(-1), 'cleanup_file_variables');
  assert.equal(executor.cleanedUp.length, 1);
});

test('the build never rejects: a job it cannot even plan is a runner_system_failure with one closing line', async () => {
  const executor = new FakeExecutor();
  const parts: Buffer[] = [];
  const result = await runBuild(fakeJob('../escape'), { executor, runner: runnerSettings(), log: (chunk) => parts.push(Buffer.from(chunk)) });
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.match(result.systemError ?? '', /^build: job id/);
  assert.equal(Buffer.concat(parts).toString(), `${RED}ERROR: Job failed (system failure): the runner could not run the job${RESET}\n`);
  assert.deepEqual(executor.prepared, []);
});

test("each stage's process is reported as it starts and ends", async () => {
  const pids: Array<number | undefined> = [];
  await build(fakeJob('1', { afterScript: ['x'] }), succeed, { onProcess: (pid) => pids.push(pid) });
  assert.deepEqual(pids, [4242, undefined, 4242, undefined, 4242, undefined], 'prepare_script, step_script, after_script');
});

test('the resource line: the peak memory as measured, or "not sampled" when no sample saw a process, never a made-up 0.0 MiB', async () => {
  const measured = await build(fakeJob('21'), succeed);
  assert.ok(measured.log.includes(printed('Job used 1.50 s of CPU, peak RSS 0.0 MiB (approximate: sampled every second from /proc)')), measured.log);
  const executor = new FakeExecutor();
  executor.resourceUse = { cpuSeconds: 0, peakRssBytes: undefined, measuredBy: 'sampled' };
  const short = await build(fakeJob('22'), succeed, {}, executor);
  assert.ok(short.log.includes(printed("Job used 0.00 s of CPU, peak RSS not sampled (the job's processes ended before the first sample)")), short.log);
  assert.doesNotMatch(short.log, /MiB/);
  assert.equal(short.result.resources?.peakRssBytes, undefined);
});
