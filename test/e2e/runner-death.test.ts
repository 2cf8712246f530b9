// A runner killed with SIGKILL while a job runs: the job's processes die with
// it (each stage's watchdog), and the next start ends what the watchdogs
// missed and removes the dead runner's temporary files - the job's
// directories with the job token's git settings, the GitLab trace buffers -
// before it reports the job. Only the runner's own pid is killed here, as the
// kernel's OOM killer or a `kill -9` would: the harness's kill() would end
// the jobs and watchdogs too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueue, jobState, waitForResult } from '../../src/sources/local/queue.ts';
import { WATCHDOG_NAME } from '../../src/system/group-watchdog.ts';
import { descendants, readProcStat } from '../../src/system/proc-stat.ts';
import { createGitRepository } from '../support/coordinator/coordinator.ts';
import { groupLiveAfter, killGroup } from '../support/process-groups.ts';
import { type RunningRunner, startRunner } from '../support/runner-process.ts';
import { skipUnless } from '../support/tools.ts';
import { startGitLabRunner } from './gitlab/harness.ts';

const RECORDS = '.runner_processes';

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runner-death-'));
  writeFileSync(join(dir, 'config.toml'), 'check_interval = 1\n');
  return dir;
}

function start(dir: string, env: Readonly<Record<string, string>> = {}): Promise<RunningRunner> {
  return startRunner([], { cwd: dir, env: { HOME: dir, ...env } });
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The process group of the job shell whose pid the job wrote to `file`. */
function jobGroup(file: string): Promise<number> {
  return until(`the job's pid in ${file}`, () => {
    const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : 0;
    return pid > 0 ? readProcStat(pid)?.pgrp : undefined;
  });
}

/** SIGKILL to the runner's pid alone, and its exit waited for. */
async function killRunner(runner: RunningRunner): Promise<void> {
  process.kill(runner.pid, 'SIGKILL');
  assert.equal((await runner.exit()).signal, 'SIGKILL');
}

/** A local job running on a first runner in a scratch directory; a second runner the test may start; all ended and removed after `body`. */
interface Scene {
  readonly dir: string;
  readonly queue: string;
  readonly first: RunningRunner;
  readonly id: string;
  /** The job's process group. */
  readonly group: number;
  second?: RunningRunner;
}

async function withRunningJob(script: (dir: string) => string, body: (scene: Scene) => Promise<void>): Promise<void> {
  const dir = workDir();
  const queue = join(dir, 'queue');
  const first = await start(dir);
  let scene: Scene | undefined;
  try {
    const { id } = await enqueue(queue, `name = "doomed"\nscript = [${JSON.stringify(script(dir))}]\n`, 'd.toml');
    scene = { dir, queue, first, id, group: await jobGroup(join(dir, 'pid')) };
    await body(scene);
  } finally {
    first.kill();
    scene?.second?.kill();
    if (scene !== undefined) killGroup(scene.group);
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a SIGKILLed runner's job dies with it; the next start removes the job's directories, then reports it failed", async () => {
  // One command that prints nothing once it runs: a job that printed would die of SIGPIPE once nobody reads its output.
  await withRunningJob((dir) => `echo $$ > ${dir}/pid && sleep 2 && touch ${dir}/marker`, async (scene) => {
    const { dir, queue, first, id, group } = scene;
    const seenAt = performance.now();
    const projectDir = join(dir, 'builds', id);
    assert.ok(existsSync(`${projectDir}.tmp`) && existsSync(projectDir), "the job's directories are there while it runs");

    await killRunner(first);
    assert.equal(await groupLiveAfter(group, false, 5_000), false, "the job's processes died with the runner");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2_500 - (performance.now() - seenAt))));
    assert.equal(existsSync(join(dir, 'marker')), false, 'the rest of the script never ran');
    assert.ok(existsSync(`${projectDir}.tmp`), 'the dead runner could not remove its temporary directory');

    const second = scene.second = await start(dir);
    assert.ok(!existsSync(`${projectDir}.tmp`) && !existsSync(projectDir), 'removed before the runner was ready');
    assert.match(second.logs(), /WARN +Cleaned up after runner processes that died +processes=\d+-\d+ job_groups_ended=0 paths_removed=2/);
    const result = await waitForResult(queue, id, { timeoutMs: 20_000 });
    assert.equal(result.state, 'failed');
    assert.equal(result.failure_reason, 'runner_system_failure');
    const records = readdirSync(join(dir, RECORDS));
    assert.equal(records.length, 1, records.join(', '));
    assert.ok(records[0]!.startsWith(`${second.pid}-`), 'only the live runner has a record');
    assert.equal(statSync(join(dir, RECORDS)).mode & 0o777, 0o700);
    const stopped = await second.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(readdirSync(join(dir, RECORDS)), [], 'a runner that stops removes its record');
  });
});

test('the next start ends the job groups that a dead runner and its watchdogs left running', async () => {
  await withRunningJob((dir) => `echo $$ > ${dir}/pid && sleep 60`, async (scene) => {
    const { dir, queue, first, id, group } = scene;
    const watchdogs = descendants(first.pid).filter((p) => {
      const cmdline = existsSync(`/proc/${p.pid}/cmdline`) ? readFileSync(`/proc/${p.pid}/cmdline`, 'latin1') : '';
      return cmdline.split('\0').includes(WATCHDOG_NAME);
    });
    assert.ok(watchdogs.length >= 1, 'each stage has a watchdog');
    for (const watchdog of watchdogs) process.kill(watchdog.pid, 'SIGKILL');
    await killRunner(first);
    assert.equal(await groupLiveAfter(group, false, 1_000), true, 'nothing else ends the group');
    assert.equal(await jobState(queue, id), 'claimed');

    const second = scene.second = await start(dir);
    assert.equal(await groupLiveAfter(group, false, 3_000), false, 'the next start ended it');
    assert.match(second.logs(), /Cleaned up after runner processes that died .*job_groups_ended=1/);
    assert.equal((await waitForResult(queue, id, { timeoutMs: 20_000 })).failure_reason, 'runner_system_failure');
  });
});

test("a GitLab job's token file is private while it runs; after a SIGKILL the next start removes it and the trace buffer", {
  skip: skipUnless('git', 'git'),
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-death-gitlab-'));
  const temp = mkdtempSync(join(tmpdir(), 'runner-death-tmp-'));
  const env = { TMPDIR: temp };
  const setup = await startGitLabRunner({ dir, env });
  let second: RunningRunner | undefined;
  let group: number | undefined;
  try {
    const repo = createGitRepository(join(dir, 'repo'), { 'hello.txt': 'hello\n' });
    const job = setup.coordinator.enqueueJob({
      script: ['stat -c "%a %n" "$CI_PROJECT_DIR.tmp/.gitlab-runner.ext.conf" "$CI_PROJECT_DIR.tmp"', `echo $$ > ${dir}/pid`, 'sleep 60'],
      repository: repo,
    });
    group = await jobGroup(join(dir, 'pid'));
    const checkout = join(setup.buildsDir, '0', 'group', 'repo');
    const trace = await setup.coordinator.waitFor('the modes in the log', () => {
      const text = setup.coordinator.job(job.id).trace.toString('utf8');
      return text.includes('.tmp\n') ? text : undefined;
    });
    assert.ok(trace.includes(`600 ${checkout}.tmp/.gitlab-runner.ext.conf\n`), trace);
    assert.ok(trace.includes(`700 ${checkout}.tmp\n`), trace);
    const buffers = readdirSync(temp).filter((name) => name.startsWith('runner-trace-'));
    assert.equal(buffers.length, 1, readdirSync(temp).join(', '));
    assert.equal(statSync(join(temp, buffers[0]!)).mode & 0o777, 0o700);
    assert.equal(statSync(join(temp, buffers[0]!, `${job.id}.log`)).mode & 0o777, 0o600);

    await killRunner(setup.runner);
    assert.equal(await groupLiveAfter(group, false, 5_000), false, "the job's processes died with the runner");
    assert.ok(existsSync(`${checkout}.tmp/.gitlab-runner.ext.conf`) && existsSync(join(temp, buffers[0]!)), 'left by the dead runner');

    second = await start(dir, env);
    assert.ok(!existsSync(`${checkout}.tmp`), 'the temporary directory with the token is gone');
    assert.ok(!existsSync(join(temp, buffers[0]!)), 'the trace buffer is gone');
    assert.ok(existsSync(join(checkout, 'hello.txt')), 'the checkout is kept for the next job of the project, as after any job');
  } finally {
    setup.runner.kill();
    second?.kill();
    if (group !== undefined) killGroup(group);
    await setup.coordinator.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(temp, { recursive: true, force: true });
  }
});
