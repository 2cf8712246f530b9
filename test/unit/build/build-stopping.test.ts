// How a job stops, as in GitLab Runner (common/build.go executeUserScripts,
// run, getStageTimeoutContexts): a cancel, a forced stop, the runner's exit,
// the job's timeout, RUNNER_SCRIPT_TIMEOUT and RUNNER_AFTER_SCRIPT_TIMEOUT;
// and CI_JOB_STATUS as after_script sees it after each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stageTimeouts } from '../../../src/build/plan.ts';
import type { Job, JobVariable } from '../../../src/job/model.ts';
import { fakeJob, type FakeRun } from '../../support/fakes.ts';
import { bodyOf, build, exported, failed, RED, RESET, scriptOf, succeed, TIMEOUT_HELP, titled, warned, withoutResources } from './harness.ts';

const variable = (key: string, value: string): JobVariable => ({ key, value, masked: false });
const timedOut = (run: FakeRun): void => run.end({ outcome: 'timeout', exitCode: 143 });
const CLEANUP_TITLE = titled('Cleaning up project directory and file based variables');

/** CI_JOB_STATUS as the after_script of a job ended this way is given it. */
async function statusAfter(job: Job, onRun: (run: FakeRun) => void, signal?: AbortSignal): Promise<string | undefined> {
  const { executor } = await build(job, onRun, signal ? { signal } : {});
  return exported(bodyOf(scriptOf(executor, 'after_script')), 'CI_JOB_STATUS');
}

test('CI_JOB_STATUS in after_script: success, failed, canceled, timedout (RUNNER_SCRIPT_TIMEOUT)', async () => {
  const job = fakeJob('1', { afterScript: ['echo $CI_JOB_STATUS'] });
  assert.equal(await statusAfter(job, succeed), 'success');
  assert.equal(await statusAfter(job, (run) => run.exit(run.stage === 'step_script' ? 1 : 0)), 'failed');
  const cancel = new AbortController();
  assert.equal(await statusAfter(job, (run) => (run.stage === 'step_script' ? cancel.abort() : run.exit(0)), cancel.signal), 'canceled');
  const limited = fakeJob('2', { afterScript: ['x'], variables: [variable('RUNNER_SCRIPT_TIMEOUT', '30s')] });
  assert.equal(await statusAfter(limited, (run) => (run.stage === 'step_script' ? timedOut(run) : run.exit(0))), 'timedout');
  // GitLab Runner overwrites the first CI_JOB_STATUS of the list: one the job defines comes later and wins.
  const own = fakeJob('3', { afterScript: ['x'], variables: [variable('CI_JOB_STATUS', 'mine')] });
  assert.equal(await statusAfter(own, (run) => run.exit(run.stage === 'step_script' ? 1 : 0)), 'mine');
});

test('a cancel stops the script; after_script still runs (not stopped by that cancel), then the cleanup stage', async () => {
  const cancel = new AbortController();
  const { result, executor, log, stages } = await build(
    fakeJob('1', { afterScript: ['echo after'], extraSteps: [{ name: 'release', script: ['x'] }] }),
    (run) => {
      if (run.stage === 'step_script') cancel.abort();
      else run.exit(0);
    },
    { signal: cancel.signal },
  );
  assert.equal(result.state, 'canceled');
  assert.equal(result.failureReason, undefined);
  assert.equal(result.exitCode, undefined);
  assert.equal(result.failure, 'canceled');
  assert.deepEqual(executor.runs.map((run) => run.stage), ['prepare_script', 'step_script', 'after_script']);
  assert.equal(executor.runs[2]!.command.cancel.includes(cancel.signal), false, 'a cancel does not stop after_script');
  assert.deepEqual(stages.slice(-2), ['after_script', 'cleanup_file_variables']);
  assert.ok(
    withoutResources(log).endsWith(
      titled('Executing "step_script" stage of the job script') + warned('script canceled externally (UI, API)') + titled('Running after_script') +
        CLEANUP_TITLE +
        failed('canceled'),
    ),
  );
});

test('a cancel between two steps: the next does not start, the job is canceled, after_script runs', async () => {
  const cancel = new AbortController();
  const job = fakeJob('1', { afterScript: ['x'], extraSteps: [{ name: 'release', script: ['x'] }] });
  const { result, executor, log } = await build(job, (run) => {
    run.exit(0);
    if (run.stage === 'step_script') cancel.abort();
  }, { signal: cancel.signal });
  assert.equal(result.state, 'canceled');
  assert.equal(result.exitCode, undefined, "the first step's status does not describe the end");
  assert.deepEqual(executor.runs.map((run) => run.stage), ['prepare_script', 'step_script', 'after_script']);
  assert.equal(exported(bodyOf(scriptOf(executor, 'after_script')), 'CI_JOB_STATUS'), 'canceled');
  assert.ok(log.includes(warned('script canceled externally (UI, API)')));
});

test('a cancel before the script steps ends the job there: no after_script, no cleanup stage, the files still removed', async () => {
  const cancel = new AbortController();
  const job = fakeJob('1', { afterScript: ['x'], repository: { url: '/repo', ref: undefined } });
  const during = await build(job, (run) => (run.stage === 'get_sources' ? cancel.abort() : run.exit(0)), { signal: cancel.signal });
  assert.equal(during.result.state, 'canceled');
  assert.deepEqual(during.executor.runs.map((run) => run.stage), ['prepare_script', 'get_sources']);
  assert.deepEqual(during.stages, ['prepare_executor', 'prepare_script', 'get_sources']);
  assert.ok(withoutResources(during.log).endsWith(titled('Getting source from Git repository') + failed('canceled')));
  assert.deepEqual(during.executor.cleanedUp.map((j) => j.id), ['1']);

  const early = await build(fakeJob('2', { afterScript: ['x'] }), succeed, { signal: AbortSignal.abort() });
  assert.equal(early.result.state, 'canceled');
  assert.deepEqual(early.executor.runs.map((run) => run.stage), ['prepare_script'], 'its shell is stopped at once');
  assert.equal(early.stages.includes('cleanup_file_variables'), false);
  assert.ok(early.log.endsWith(failed('canceled')));
});

test('a forced stop ends after_script too and skips the cleanup stage; a kill also ends what runs at once', async () => {
  const cancel = new AbortController();
  const force = new AbortController();
  const kill = new AbortController();
  const forced = await build(fakeJob('2', { afterScript: ['echo after'] }), (run) => {
    if (run.stage === 'step_script') cancel.abort();
    else if (run.stage === 'after_script') force.abort();
    else run.exit(0);
  }, { signal: cancel.signal, forceSignal: force.signal, killSignal: kill.signal });
  assert.equal(forced.result.state, 'canceled');
  assert.deepEqual(forced.executor.runs.map((run) => run.stage), ['prepare_script', 'step_script', 'after_script']);
  assert.deepEqual(forced.result.afterScript, { exitCode: undefined, timedOut: false, canceled: true });
  assert.equal(forced.stages.includes('cleanup_file_variables'), false);
  assert.deepEqual(forced.executor.cleanedUp.map((j) => j.id), ['2']);
  assert.deepEqual(forced.executor.killed, []);

  const killing = new AbortController();
  const killed = await build(fakeJob('3', { afterScript: ['echo after'] }), (run) => {
    if (run.stage === 'step_script') {
      killing.abort();
    } else run.exit(0);
  }, { signal: new AbortController().signal, forceSignal: new AbortController().signal, killSignal: killing.signal });
  assert.equal(killed.result.state, 'canceled');
  assert.deepEqual(killed.executor.runs.map((run) => run.stage), ['prepare_script', 'step_script'], 'no after_script');
  assert.deepEqual(killed.executor.killed.map((j) => j.id), ['3']);
  assert.equal(killed.log.includes('script canceled externally'), false, 'not a cancel from the UI');
});

test("the job's timeout: the stage gets what is left of it; no after_script, no cleanup stage; GitLab's texts", async () => {
  const { result, log, executor, stages } = await build(
    fakeJob('1', { timeoutSeconds: 60, afterScript: ['x'] }),
    (run) => (run.stage === 'step_script' ? timedOut(run) : run.exit(0)),
  );
  const timeoutMs = executor.runs[1]!.command.timeoutMs;
  assert.ok(timeoutMs > 59_000 && timeoutMs <= 60_000, `${timeoutMs} ms`);
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'job_execution_timeout');
  assert.equal(result.exitCode, undefined);
  assert.equal(result.failure, 'execution took longer than 1m0s seconds');
  assert.deepEqual(executor.runs.map((run) => run.stage), ['prepare_script', 'step_script']);
  assert.equal(stages.includes('cleanup_file_variables'), false);
  assert.deepEqual(executor.cleanedUp.map((j) => j.id), ['1'], "the runner's files are still removed");
  const clean = withoutResources(log);
  assert.equal(
    clean.slice(clean.indexOf(titled('Executing "step_script" stage of the job script'))),
    titled('Executing "step_script" stage of the job script') +
      warned(`step_script could not run to completion because the timeout was exceeded. ${TIMEOUT_HELP}`) +
      failed('execution took longer than 1m0s seconds'),
  );

  const byDefault = await build(fakeJob('2'), (run) => (run.stage === 'step_script' ? timedOut(run) : run.exit(0)));
  assert.ok(byDefault.log.endsWith(failed('execution took longer than 1h0m0s seconds')), 'the default timeout');
  const configured = await build(fakeJob('3'), (run) => (run.stage === 'step_script' ? timedOut(run) : run.exit(0)), { defaultTimeoutSeconds: 5400 });
  assert.ok(configured.log.endsWith(failed('execution took longer than 1h30m0s seconds')));
  assert.equal(exported(bodyOf(scriptOf(configured.executor, 'step_script')), 'CI_JOB_TIMEOUT'), '5400');
});

test("the job's timeout during get_sources or after_script ends the job as timed out too", async () => {
  const sources = await build(
    fakeJob('1', { timeoutSeconds: 60, afterScript: ['x'], repository: { url: '/r', ref: undefined } }),
    (run) => (run.stage === 'get_sources' ? timedOut(run) : run.exit(0)),
  );
  assert.equal(sources.result.failureReason, 'job_execution_timeout');
  assert.ok(sources.log.includes(warned(`get_sources could not run to completion because the timeout was exceeded. ${TIMEOUT_HELP}`)));
  assert.deepEqual(sources.executor.runs.map((run) => run.stage), ['prepare_script', 'get_sources'], 'not tried again, no after_script');

  // 60 s of job left is less than after_script's 5 min: its timeout is the job's.
  const after = await build(fakeJob('2', { timeoutSeconds: 60, afterScript: ['x'] }), (run) => (run.stage === 'after_script' ? timedOut(run) : run.exit(0)));
  assert.ok(after.executor.runs[2]!.command.timeoutMs <= 60_000);
  assert.equal(after.result.state, 'failed');
  assert.equal(after.result.failureReason, 'job_execution_timeout');
  assert.ok(after.log.endsWith(failed('execution took longer than 1m0s seconds')));
  assert.equal(after.log.includes('after_script failed'), false);
  assert.equal(after.stages.includes('cleanup_file_variables'), false);
});

test('RUNNER_SCRIPT_TIMEOUT ends the script steps; after_script runs with CI_JOB_STATUS=timedout; the job is a job_execution_timeout', async () => {
  const job = fakeJob('1', { afterScript: ['x'], extraSteps: [{ name: 'release', script: ['x'] }], variables: [variable('RUNNER_SCRIPT_TIMEOUT', '30s')] });
  const { result, log, executor, stages } = await build(job, (run) => (run.stage === 'step_release' ? timedOut(run) : run.exit(0)));
  const [step, release] = [executor.runs[1]!.command.timeoutMs, executor.runs[2]!.command.timeoutMs];
  assert.ok(step > 29_000 && step <= 30_000, `${step} ms`);
  assert.ok(release <= step, 'one timer for all the steps');
  assert.equal(result.failureReason, 'job_execution_timeout');
  assert.equal(result.failure, 'script timeout: context deadline exceeded');
  assert.equal(exported(bodyOf(scriptOf(executor, 'after_script')), 'CI_JOB_STATUS'), 'timedout');
  assert.ok(log.includes(warned(`step_release could not run to completion because the timeout was exceeded. ${TIMEOUT_HELP}`)));
  assert.ok(withoutResources(log).endsWith(CLEANUP_TITLE + failed('script timeout: context deadline exceeded')));
  assert.equal(stages.at(-1), 'cleanup_file_variables');
});

test('RUNNER_AFTER_SCRIPT_TIMEOUT, and after_script timing out on its own: a warning, the job unaffected', async () => {
  const job = fakeJob('1', { afterScript: ['x'], variables: [variable('RUNNER_AFTER_SCRIPT_TIMEOUT', '10s')] });
  const { result, log, executor } = await build(job, (run) => (run.stage === 'after_script' ? timedOut(run) : run.exit(0)));
  assert.equal(executor.runs[2]!.command.timeoutMs, 10_000);
  assert.equal(result.state, 'success');
  assert.deepEqual(result.afterScript, { exitCode: undefined, timedOut: true, canceled: false });
  assert.ok(
    withoutResources(log).includes(
      titled('Running after_script') + warned(`after_script could not run to completion because the timeout was exceeded. ${TIMEOUT_HELP}`) +
        warned('after_script failed, but job will continue unaffected: context deadline exceeded'),
    ),
  );
  const byDefault = await build(fakeJob('2', { afterScript: ['x'] }), succeed);
  assert.equal(byDefault.executor.runs[2]!.command.timeoutMs, 300_000, "GitLab's 5 minutes");
  const configured = await build(fakeJob('3', { afterScript: ['x'] }), succeed, { afterScriptTimeoutSeconds: 7 });
  assert.equal(configured.executor.runs[2]!.command.timeoutMs, 7_000);
});

test('timeouts GitLab Runner ignores are warned of as the script starts, each on its own line, and the defaults used', async () => {
  const job = fakeJob('1', {
    timeoutSeconds: 3600,
    afterScript: ['x'],
    repository: { url: '/r', ref: undefined },
    variables: [variable('RUNNER_SCRIPT_TIMEOUT', '2h'), variable('RUNNER_AFTER_SCRIPT_TIMEOUT', '60')],
  });
  const { log, executor } = await build(job, succeed);
  assert.ok(
    log.includes(
      titled('Getting source from Git repository') + warned('RUNNER_SCRIPT_TIMEOUT timeout: 2h is longer than job timeout. Setting to job timeout') +
        warned('Ignoring malformed RUNNER_AFTER_SCRIPT_TIMEOUT timeout: 60') + titled('Executing "step_script" stage of the job script'),
    ),
    log,
  );
  assert.ok(executor.runs[2]!.command.timeoutMs > 3_590_000, 'the job timeout, not 2 h');
  assert.equal(executor.runs[3]!.command.timeoutMs, 300_000);
});

test("stageTimeouts reads GitLab's Go durations against what is left of the job", () => {
  const read = (script: string | undefined, afterScript?: string) => stageTimeouts({ script, afterScript }, 600_000, 300_000);
  assert.deepEqual(read(undefined), { scriptMs: undefined, afterScriptMs: 300_000, warnings: [] });
  assert.deepEqual(read('1h30m', '90s').warnings, ['RUNNER_SCRIPT_TIMEOUT timeout: 1h30m is longer than job timeout. Setting to job timeout']);
  assert.deepEqual(read('5m', '90s'), { scriptMs: 300_000, afterScriptMs: 90_000, warnings: [] });
  assert.deepEqual(read('1.5m'), { scriptMs: 90_000, afterScriptMs: 300_000, warnings: [] });
  assert.deepEqual(read('0', '0s'), { scriptMs: undefined, afterScriptMs: 300_000, warnings: [] }, 'zero: the default (after_script is never unlimited)');
  assert.deepEqual(read('   ', ''), { scriptMs: undefined, afterScriptMs: 300_000, warnings: [] });
  assert.deepEqual(read('-5m').warnings, ['Ignoring relative RUNNER_SCRIPT_TIMEOUT timeout: -5m']);
  assert.deepEqual(read('300').warnings, ['Ignoring malformed RUNNER_SCRIPT_TIMEOUT timeout: 300'], 'a bare number is no Go duration');
  assert.deepEqual(read(' 5m').warnings, ['Ignoring malformed RUNNER_SCRIPT_TIMEOUT timeout:  5m'], 'Go parses the value untrimmed');
  assert.deepEqual(read(undefined, '1d').warnings, ['Ignoring malformed RUNNER_AFTER_SCRIPT_TIMEOUT timeout: 1d']);
  assert.equal(read(undefined, '1d').afterScriptMs, 300_000);
});

test('AFTER_SCRIPT_IGNORE_ERRORS=false: a failing after_script fails a job that succeeded, and leaves an earlier failure as it was', async () => {
  const strict = [variable('AFTER_SCRIPT_IGNORE_ERRORS', 'false')];
  const ok = await build(fakeJob('1', { afterScript: ['x'], variables: strict }), (run) => run.exit(run.stage === 'after_script' ? 2 : 0));
  assert.equal(ok.result.state, 'failed');
  assert.equal(ok.result.failureReason, 'script_failure');
  assert.equal(ok.result.exitCode, 2);
  assert.ok(ok.log.endsWith(failed('exit status 2')));
  assert.equal(ok.log.includes('after_script failed'), false);

  const bad = await build(
    fakeJob('2', { afterScript: ['x'], variables: strict }),
    (run) => run.exit(run.stage === 'prepare_script' ? 0 : run.stage === 'step_script' ? 1 : 2),
  );
  assert.equal(bad.result.exitCode, 1);
  assert.ok(bad.log.endsWith(`${RED}ERROR: Job failed: exit status 1${RESET}\n`));
  assert.equal(bad.log.includes('after_script failed'), false, 'GitLab Runner says nothing of it then');
});
