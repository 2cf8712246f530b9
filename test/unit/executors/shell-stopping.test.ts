// The shell executor through the build sequence: how a job ends - exit codes,
// timeouts, cancel, and every process of its group ended with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { closingLine, ended, logLines, pidAfter, plain, run, SCRIPT_STAGES, stageLines } from '../../support/shell-run.ts';

const TIMEOUT_HELP =
  'For more control over job and script timeouts see: https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts';

test('a job timeout ends the whole process group, grandchildren included; as in GitLab Runner no stage runs after it', async () => {
  const started = performance.now();
  const { result, log, pids, stages, buildsDir } = await run(
    {
      timeoutSeconds: 1,
      script: ['sleep 1000 & echo "grandchild $!"', 'sleep 1000'],
      afterScript: ['echo "after $CI_JOB_STATUS"'],
      variables: [{ key: 'A_FILE', value: 'content', masked: false, file: true }],
    },
    {},
    true,
  );
  try {
    const elapsed = (performance.now() - started) / 1000;
    assert.equal(result.state, 'failed');
    assert.equal(result.failureReason, 'job_execution_timeout');
    assert.equal(result.exitCode, undefined);
    assert.ok(elapsed >= 1 && elapsed < 5, `took ${elapsed} s`);
    const grandchild = pidAfter(log, 'grandchild');
    assert.ok(ended(grandchild), `grandchild ${grandchild} still runs`);
    const shell = pids[2]; // step_script's, after prepare_script's and its end
    assert.ok(typeof shell === 'number' && ended(shell), String(pids));
    const lines = logLines(log);
    assert.ok(lines.includes(`WARNING: step_script could not run to completion because the timeout was exceeded. ${TIMEOUT_HELP}`), plain(log));
    assert.equal(closingLine(log), 'ERROR: Job failed: execution took longer than 1s seconds');
    // GitLab Runner runs neither after_script nor the cleanup stage once the job's own time is up...
    assert.ok(!plain(log).includes('after '), plain(log));
    assert.deepEqual(stages, ['prepare_executor', 'prepare_script', 'step_script']);
    assert.equal(result.afterScript, undefined);
    // ...but this runner still removes its files of the job (the file variable among them), quietly.
    assert.deepEqual(readdirSync(buildsDir), []);
  } finally {
    rmSync(buildsDir, { recursive: true, force: true });
  }
});

test('processes that ignore SIGTERM are killed after the grace period', async () => {
  const started = performance.now();
  const { result, log } = await run({
    timeoutSeconds: 1,
    script: ["trap '' TERM", 'sleep 1000 & echo "stubborn $!"', 'wait'],
  });
  const elapsed = (performance.now() - started) / 1000;
  assert.equal(result.failureReason, 'job_execution_timeout');
  assert.ok(elapsed >= 1.5 && elapsed < 5, `took ${elapsed} s (timeout 1 s + grace 0.5 s)`);
  const stubborn = pidAfter(log, 'stubborn');
  assert.ok(ended(stubborn), `${stubborn} still runs`);
});

test('after_script has its own timeout and its failure does not fail the job', async () => {
  const { result, log } = await run(
    { script: ['echo ok'], afterScript: ['sleep 1000 & echo "bg $!"', 'sleep 1000'] },
    { afterScriptTimeoutSeconds: 1 },
  );
  assert.equal(result.state, 'success');
  assert.ok(logLines(log).includes('WARNING: after_script failed, but job will continue unaffected: context deadline exceeded'), plain(log));
  assert.equal(closingLine(log), 'Job succeeded');
  assert.equal(result.exitCode, 0);
  assert.deepEqual(result.afterScript, { exitCode: undefined, timedOut: true, canceled: false });
  assert.ok(ended(pidAfter(log, 'bg')));
});

test('background processes left by a step are ended when the step ends', async () => {
  const started = performance.now();
  const { result, log } = await run({ script: ['sleep 1000 & echo "left $!"', 'echo done'] });
  assert.equal(result.state, 'success', log);
  assert.ok((performance.now() - started) / 1000 < 5);
  assert.ok(ended(pidAfter(log, 'left')));
});

test('cancel stops the script, runs after_script, and records canceled', async () => {
  const controller = new AbortController();
  const { result, log, stages } = await run(
    { script: ['echo started', 'sleep 1000 & echo "grandchild $!"', 'sleep 1000'], afterScript: ['echo "after $CI_JOB_STATUS"'] },
    {
      signal: controller.signal,
      onLog: (text) => {
        if (/grandchild \d+\n/.test(text)) controller.abort();
      },
    },
  );
  assert.equal(result.state, 'canceled');
  assert.equal(result.failureReason, undefined);
  assert.equal(result.exitCode, undefined);
  assert.ok(ended(pidAfter(log, 'grandchild')));
  assert.ok(logLines(log).includes('WARNING: script canceled externally (UI, API)'), plain(log));
  assert.deepEqual(stageLines(log, 'after_script'), ['Running after script...', '$ echo "after $CI_JOB_STATUS"', 'after canceled']);
  assert.equal(closingLine(log), 'ERROR: Job failed: canceled');
  assert.deepEqual(stages, [...SCRIPT_STAGES]);

  // Canceled before it started: nothing runs, no cleanup stage (GitLab Runner returns after a failed
  // prepare_script), and the directory is still removed.
  const early = await run({ script: ['echo never'], afterScript: ['echo never'] }, { signal: AbortSignal.abort() }, true);
  try {
    assert.equal(early.result.state, 'canceled');
    assert.ok(!plain(early.log).includes('never'));
    assert.deepEqual(stageLines(early.log, 'prepare_script'), [], 'no shell ran');
    assert.equal(closingLine(early.log), 'ERROR: Job failed: canceled');
    assert.deepEqual(early.stages, ['prepare_executor', 'prepare_script']);
    assert.deepEqual(readdirSync(early.buildsDir), []);
  } finally {
    rmSync(early.buildsDir, { recursive: true, force: true });
  }
});

test('a second cancel (forceSignal) stops after_script too', async () => {
  const cancel = new AbortController();
  const force = new AbortController();
  const started = performance.now();
  const { result, log } = await run(
    { script: ['echo started', 'sleep 1000'], afterScript: ['echo cleaning', 'sleep 1000'] },
    {
      signal: cancel.signal,
      forceSignal: force.signal,
      onLog: (text) => {
        if (text.includes('\nstarted\n')) cancel.abort();
        if (text.includes('\ncleaning\n')) force.abort();
      },
    },
  );
  assert.equal(result.state, 'canceled');
  assert.deepEqual(result.afterScript, { exitCode: undefined, timedOut: false, canceled: true });
  // Killed as soon as `cleaning` arrived: the shell may or may not have announced the next command yet.
  assert.match(stageLines(log, 'step_script').join('\n'), /^\$ echo started\nstarted\n\$ sleep 1000(\nTerminated)?$/);
  assert.match(stageLines(log, 'after_script').join('\n'), /^Running after script...\n\$ echo cleaning\ncleaning(\n\$ sleep 1000)?(\nTerminated)?$/);
  assert.ok(logLines(log).includes('WARNING: after_script failed, but job will continue unaffected: canceled'), plain(log));
  assert.equal(closingLine(log), 'ERROR: Job failed: canceled');
  assert.ok((performance.now() - started) / 1000 < 5);
});
