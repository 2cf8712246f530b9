// The build sequence in process, on a fake executor: which stages run and in
// what order, what each is given, and how the job ends - for any executor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { type BuildOptions, runBuild } from '../../../src/build/build.ts';
import type { Job } from '../../../src/job/model.ts';
import type { BuildStage, JobResult } from '../../../src/job/result.ts';
import { FakeExecutor, fakeJob, type FakeRun } from '../../support/fakes.ts';

interface Built {
  result: JobResult;
  log: string;
  stages: BuildStage[];
  executor: FakeExecutor;
}

/** Runs `job` on a fake executor whose stages end as `onRun` says. */
async function build(job: Job, onRun: (run: FakeRun) => void, options: Partial<BuildOptions> = {}): Promise<Built> {
  const executor = new FakeExecutor();
  executor.onRun = onRun;
  const parts: Buffer[] = [];
  const stages: BuildStage[] = [];
  const result = await runBuild(job, {
    executor,
    runnerName: 'unit',
    log: (chunk) => parts.push(Buffer.from(chunk)),
    onStage: (stage) => stages.push(stage),
    ...options,
  });
  return { result, log: Buffer.concat(parts).toString('utf8'), stages, executor };
}

const succeed = (run: FakeRun): void => run.exit(0, `${run.stage} ran\n`);

test("a job goes through GitLab's stages in order; each script stage is given its script and the job's variables", async () => {
  const job = fakeJob('7', {
    beforeScript: ['echo before'],
    script: ['echo main'],
    afterScript: ['echo after'],
    extraSteps: [{ name: 'release', script: ['echo release'] }],
    repository: { url: 'https://example.invalid/group/project.git', ref: 'main' },
    variables: [{ key: 'GREETING', value: 'hello', masked: false }],
  });
  const { result, stages, executor, log } = await build(job, succeed);
  assert.equal(result.state, 'success');
  assert.deepEqual(stages, ['prepare_executor', 'prepare_script', 'get_sources', 'step_script', 'step_release', 'after_script', 'cleanup_file_variables']);
  assert.deepEqual(result.stages.map((timing) => timing.stage), stages);
  assert.deepEqual(executor.runs.map((run) => run.stage), ['get_sources', 'step_script', 'step_release', 'after_script']);
  const script = executor.runs[1]!.command;
  assert.match(script.script, /^exec 2>&1\nset -eo pipefail\n/, "written for the environment's shell (bash)");
  assert.ok(script.script.includes('\necho before\n') && script.script.indexOf('echo before') < script.script.indexOf('echo main'));
  assert.equal(script.variables['GREETING'], 'hello');
  assert.equal(script.variables['CI_PROJECT_DIR'], '/builds/7', 'where the executor placed the job');
  assert.equal(script.variables['CI_SHARED_ENVIRONMENT'], 'true');
  assert.equal(script.variables['PATH'], '/usr/bin:/bin', "the executor's base variables");
  assert.equal(executor.runs[3]!.command.variables['CI_JOB_STATUS'], 'success', 'after_script is told how the job went');
  assert.equal(log, 'get_sources ran\nstep_script ran\nstep_release ran\nafter_script ran\n');
  assert.deepEqual(result.resources, { cpuSeconds: 1.5, peakRssBytes: 1024 }, 'as the executor measured');
  assert.deepEqual(executor.cleanedUp.map((j) => j.id), ['7']);
});

test("a failing script skips the named steps but not after_script; the exit code and GitLab's closing line", async () => {
  const job = fakeJob('1', { afterScript: ['echo after'], extraSteps: [{ name: 'release', script: ['true'] }] });
  const { result, log, executor } = await build(job, (run) => run.exit(run.stage === 'step_script' ? 3 : 0));
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.exitCode, 3);
  assert.deepEqual(executor.runs.map((run) => run.stage), ['step_script', 'after_script']);
  assert.equal(executor.runs[1]!.command.variables['CI_JOB_STATUS'], 'failed');
  assert.equal(log, 'ERROR: Job failed: exit code 3\n');
});

test('get_sources failing ends the job before the script and after_script', async () => {
  const job = fakeJob('1', { afterScript: ['echo after'], repository: { url: '/nowhere', ref: undefined } });
  const { result, executor } = await build(job, (run) => run.exit(run.stage === 'get_sources' ? 128 : 0));
  assert.equal(result.failureReason, 'script_failure');
  assert.deepEqual(executor.runs.map((run) => run.stage), ['get_sources']);
  assert.deepEqual(executor.cleanedUp.length, 1);
});

test('GIT_STRATEGY=none skips fetching; file variables are written in prepare_script and hold their path', async () => {
  const job = fakeJob('3', {
    repository: { url: '/repo', ref: undefined },
    variables: [{ key: 'GIT_STRATEGY', value: 'none', masked: false }, { key: 'KUBECONFIG', value: 'apiVersion: v1', masked: false, file: true }],
  });
  const { executor, stages } = await build(job, succeed);
  assert.deepEqual(executor.runs.map((run) => run.stage), ['step_script']);
  assert.ok(stages.includes('get_sources'));
  assert.equal(executor.files.get('3/KUBECONFIG'), 'apiVersion: v1');
  assert.equal(executor.runs[0]!.command.variables['KUBECONFIG'], '/builds/3.tmp/KUBECONFIG');
});

test("the step's timeout is what is left of the job's; a timeout fails the job with job_execution_timeout", async () => {
  const job = fakeJob('1', { timeoutSeconds: 60 });
  const { result, log, executor } = await build(job, (run) => run.end({ outcome: 'timeout', exitCode: 143 }));
  const timeoutMs = executor.runs[0]!.command.timeoutMs;
  assert.ok(timeoutMs > 59_000 && timeoutMs <= 60_000, `${timeoutMs} ms`);
  assert.equal(result.failureReason, 'job_execution_timeout');
  assert.equal(result.exitCode, undefined);
  assert.equal(log, 'ERROR: Job failed: execution took longer than 60 seconds\n');

  const after = await build(fakeJob('2', { afterScript: ['x'] }), succeed, { afterScriptTimeoutSeconds: 7 });
  assert.equal(after.executor.runs[1]!.command.timeoutMs, 7000, 'after_script has its own timeout');
});

test('a cancel stops the script (after_script still runs); a forced stop stops after_script; a kill reaches the executor', async () => {
  const cancel = new AbortController();
  const canceled = await build(fakeJob('1', { afterScript: ['echo after'] }), (run) => {
    if (run.stage === 'step_script') cancel.abort();
    else run.exit(0);
  }, { signal: cancel.signal });
  assert.equal(canceled.result.state, 'canceled');
  assert.deepEqual(canceled.executor.runs.map((run) => run.stage), ['step_script', 'after_script']);
  assert.equal(canceled.executor.runs[1]!.command.cancel.includes(cancel.signal), false, 'a cancel does not stop after_script');
  assert.equal(canceled.log, 'ERROR: Job failed: canceled\n');

  const force = new AbortController();
  const kill = new AbortController();
  const forced = await build(fakeJob('2', { afterScript: ['echo after'] }), (run) => {
    if (run.stage === 'step_script') {
      force.abort();
      kill.abort();
    }
  }, { signal: new AbortController().signal, forceSignal: force.signal, killSignal: kill.signal });
  assert.equal(forced.result.state, 'canceled');
  assert.deepEqual(forced.executor.runs.map((run) => run.stage), ['step_script'], 'no after_script');
  assert.deepEqual(forced.executor.killed.map((j) => j.id), ['2']);
  assert.deepEqual(forced.stages.at(-1), 'cleanup_file_variables');

  const early = await build(fakeJob('3'), succeed, { signal: AbortSignal.abort() });
  assert.equal(early.result.state, 'canceled');
  assert.deepEqual(early.executor.runs, [], 'canceled before the script: nothing runs');
});

test('a job that cannot be prepared fails as runner_system_failure without a reason in its log', async () => {
  const executor = new FakeExecutor();
  executor.failPrepare = new Error('no space left on /builds');
  const parts: Buffer[] = [];
  const stages: BuildStage[] = [];
  const result = await runBuild(fakeJob('1'), { executor, runnerName: 'unit', log: (c) => parts.push(Buffer.from(c)), onStage: (s) => stages.push(s) });
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.equal(result.systemError, 'prepare_executor: no space left on /builds');
  assert.equal(Buffer.concat(parts).toString(), 'ERROR: Job failed (system failure): the runner could not run the job\n');
  assert.deepEqual(stages, ['prepare_executor', 'cleanup_file_variables']);
  assert.deepEqual(result.resources, { cpuSeconds: 0, peakRssBytes: 0 });
});

test('masked values are masked as sent and as expanded; what the executor cannot do is a warning at the top', async () => {
  const job = fakeJob('1', {
    variables: [
      { key: 'BASE', value: 'abc', masked: false },
      { key: 'TOKEN', value: 'x-$BASE-secretpart', masked: true, expand: true },
    ],
    image: { name: 'alpine', aliases: [], entrypoint: [], command: [], pullPolicies: [], variables: [] },
    cache: [{ key: 'k', paths: ['node_modules'], untracked: false, policy: 'pull-push', when: 'on_success', fallbackKeys: [] }],
    dependencies: [{ id: 5, name: 'build', token: 't', artifactsFile: undefined }],
    warnings: ['from the source'],
  });
  const { log, executor } = await build(job, (run) => run.exit(0, 'x-abc-secretpart and x-$BASE-secretpart\n'));
  assert.equal(executor.runs[0]!.command.variables['TOKEN'], 'x-abc-secretpart');
  assert.equal(
    log,
    [
      "WARNING: this runner's fake executor does not support image, cache: ignored",
      'WARNING: from the source',
      '[MASKED] and [MASKED]',
      '',
    ].join('\n'),
  );
});

test('a log sink that fails makes the job a runner_system_failure; the job still runs to its end', async () => {
  const executor = new FakeExecutor();
  executor.onRun = succeed;
  const result = await runBuild(fakeJob('1'), {
    executor,
    runnerName: 'unit',
    log: () => {
      throw new Error('ENOSPC');
    },
  });
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.match(result.systemError ?? '', /job log: ENOSPC/);
  assert.equal(executor.cleanedUp.length, 1);
});

test('the build never rejects: a script that cannot even be made is a runner_system_failure, and the job is still cleaned up', async () => {
  // decodeURIComponent refuses this URL's password: building get_sources' script throws.
  const job = fakeJob('1', { repository: { url: 'https://u:ab%zz@gitlab.example/x.git', ref: 'main' }, afterScript: ['echo after'] });
  const { result, log, executor } = await build(job, succeed);
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.match(result.systemError ?? '', /^get_sources: URI/);
  assert.deepEqual(executor.runs, []);
  assert.deepEqual(executor.cleanedUp.map((j) => j.id), ['1']);
  assert.equal(log, 'ERROR: Job failed (system failure): the runner could not run the job\n');
});

test('a system failure after a step that exited leaves no exit code behind', async () => {
  const job = fakeJob('1', { extraSteps: [{ name: 'release', script: ['x'] }] });
  const executor = new FakeExecutor();
  executor.onRun = (run) => run.exit(0);
  const environment = executor.prepare.bind(executor);
  // The second stage cannot be started: its run rejects.
  executor.prepare = async (j) => {
    const env = await environment(j);
    let runs = 0;
    return { ...env, run: (command) => (++runs === 2 ? Promise.reject(new Error('cannot start the shell')) : env.run(command)) };
  };
  const result = await runBuild(job, { executor, runnerName: 'unit', log: () => undefined });
  assert.equal(result.failureReason, 'runner_system_failure');
  assert.equal(result.systemError, 'step_release: cannot start the shell');
  assert.equal(result.exitCode, undefined);
});
