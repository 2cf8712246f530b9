// The shell executor through the build sequence: how a job ends - exit codes,
// timeouts, cancel, and every process of its group ended with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { ended, pidAfter, run, SCRIPT_STAGES } from '../../support/shell-run.ts';

test('a timeout ends the whole process group, grandchildren included, then after_script runs', async () => {
  const started = performance.now();
  const { result, log, pids } = await run({
    timeoutSeconds: 1,
    script: ['sleep 1000 & echo "grandchild $!"', 'sleep 1000'],
    afterScript: ['echo "after $CI_JOB_STATUS"'],
  });
  const elapsed = (performance.now() - started) / 1000;
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'job_execution_timeout');
  assert.equal(result.exitCode, undefined);
  assert.ok(elapsed >= 1 && elapsed < 5, `took ${elapsed} s`);
  const grandchild = pidAfter(log, 'grandchild');
  assert.ok(ended(grandchild), `grandchild ${grandchild} still runs`);
  const shell = pids[0];
  assert.ok(typeof shell === 'number' && ended(shell));
  assert.ok(log.endsWith('$ sleep 1000\n$ echo "after $CI_JOB_STATUS"\nafter failed\nERROR: Job failed: execution took longer than 1 seconds\n'), log);
  assert.deepEqual(result.afterScript, { exitCode: 0, timedOut: false, canceled: false });
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
  assert.ok(log.endsWith('$ echo "after $CI_JOB_STATUS"\nafter canceled\nERROR: Job failed: canceled\n'), log);
  assert.deepEqual(stages, [...SCRIPT_STAGES]);

  // Canceled before it started: nothing runs, the directory is still cleaned up.
  const early = await run({ script: ['echo never'], afterScript: ['echo never'] }, { signal: AbortSignal.abort() }, true);
  try {
    assert.equal(early.result.state, 'canceled');
    assert.equal(early.log, 'ERROR: Job failed: canceled\n');
    assert.deepEqual(early.stages, ['prepare_executor', 'prepare_script', 'get_sources', 'cleanup_file_variables']);
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
  assert.match(log, /^\$ echo started\nstarted\n(\$ sleep 1000\n)?\$ echo cleaning\ncleaning\n(\$ sleep 1000\n)?ERROR: Job failed: canceled\n$/);
  assert.ok((performance.now() - started) / 1000 < 5);
});
