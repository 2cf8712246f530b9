// Two real runner processes serving one queue directory: every job runs once,
// on one of them, and a live runner finishes the jobs of a peer that died.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DoneRecord, enqueue, ownerOf, waitForResult } from '../../src/sources/local/queue.ts';
import { type RunningRunner, startRunner } from '../support/runner-process.ts';

interface Peer {
  readonly name: string;
  readonly runner: RunningRunner;
  /** PID-STARTTIME, as the queue records it in claimed/ and in results. */
  readonly owner: string;
}

/**
 * Starts one `runner run` per name, each in its own working directory whose
 * config points its only runner (named after it) at the same absolute queue.
 */
async function startPeers(root: string, queue: string, names: readonly string[], settings: string): Promise<Peer[]> {
  const peers: Peer[] = [];
  try {
    for (const name of names) {
      const dir = join(root, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'config.toml'), `check_interval = 1\n${settings}\n[[runners]]\nname = "${name}"\nqueue_dir = ${JSON.stringify(queue)}\n`);
      // HOME there too: each stage is a login shell, and must not depend on (or wait for) the tester's ~/.profile.
      const runner = await startRunner([], { cwd: dir, env: { HOME: dir } });
      peers.push({ name, runner, owner: ownerOf(runner.pid) });
    }
    return peers;
  } catch (error) {
    for (const peer of peers) peer.runner.kill();
    throw error;
  }
}

function jobToml(name: string, script: readonly string[]): string {
  return `name = "${name}"\nscript = ${JSON.stringify(script)}\n`;
}

/** A script line recording that the job started: `JOB_ID RUNNER_NAME SHELL_PID` appended to `file` (one short O_APPEND write). */
const recordStart = (file: string): string => `echo "$CI_JOB_ID $CI_RUNNER_DESCRIPTION $$" >> ${file}`;

interface Start {
  readonly id: string;
  readonly runner: string;
  readonly pid: number;
}

function starts(file: string): Start[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '').map((line) => {
    const [id, runner, pid] = line.split(' ');
    return { id: id!, runner: runner!, pid: Number(pid) };
  });
}

async function poll<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The value of one series of a runner's /metrics, 0 when absent. */
async function counter(runner: RunningRunner, series: string): Promise<number> {
  const body = await (await fetch(`${runner.url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** Resolves once the runner runs no job, so its counters include every job it finished. */
async function idle(runner: RunningRunner): Promise<void> {
  await poll('the runner idle', async () => ((await (await fetch(`${runner.url}/debug/jobs/list`)).text()) === '' ? true : undefined));
}

const entries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

test('two runners on one queue: every job runs exactly once, both take jobs, results and counters agree', async () => {
  const root = mkdtempSync(join(tmpdir(), 'runner-multi-'));
  const queue = join(root, 'queue');
  const ran = join(root, 'ran');
  const ROUNDS = 6;
  const BATCH = 8;
  const JOBS = ROUNDS * BATCH;
  const peers = await startPeers(root, queue, ['alpha', 'beta'], 'concurrent = 4');
  try {
    // Rounds of jobs queued while both runners are idle, then both woken at
    // once: a reload (SIGHUP) makes a runner poll at once, so both claim from
    // the same pending list at the same moment, which is where a claim that is
    // not atomic hands a job to both (a read-write-unlink claim in place of
    // the rename fails here on every runtime, with 7 to 20 jobs run twice).
    // A batch is twice one runner's `concurrent`, so each round has work for both.
    const ids: string[] = [];
    const results: DoneRecord[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const batch: string[] = [];
      for (let i = 0; i < BATCH; i++) {
        const name = `job-${round}-${i}`;
        batch.push((await enqueue(queue, jobToml(name, [recordStart(ran), 'sleep 0.1']), `${name}.toml`)).id);
      }
      for (const peer of peers) process.kill(peer.runner.pid, 'SIGHUP');
      for (const id of batch) results.push(await waitForResult(queue, id, { timeoutMs: 30_000 }));
      ids.push(...batch);
    }

    const nameOf = new Map(peers.map((peer) => [peer.owner, peer.name]));
    const ranBy = new Map<string, string>();
    for (const result of results) {
      assert.equal(result.state, 'success', `${result.id}: ${JSON.stringify(result)}`);
      const name = nameOf.get(result.owner ?? '');
      assert.ok(name, `${result.id} finished by ${result.owner}, not by one of ${[...nameOf.keys()].join(', ')}`);
      ranBy.set(result.id, name);
    }

    // No job ran twice and none was lost: one start per job, by the runner its result names.
    const started = starts(ran);
    assert.equal(started.length, JOBS, `${started.length} starts for ${JOBS} jobs`);
    assert.deepEqual(started.map((s) => s.id).sort(), [...ids].sort());
    for (const start of started) {
      assert.equal(start.runner, ranBy.get(start.id), `job ${start.id} ran on ${start.runner}, its result names ${ranBy.get(start.id)}`);
    }

    const counts = peers.map((peer) => started.filter((s) => s.runner === peer.name).length);
    for (const [i, peer] of peers.entries()) assert.ok(counts[i]! > 0, `${peer.name} ran no job (counts ${counts.join('/')})`);

    // Each process counted exactly the jobs it ran, and nothing of its peer's runner.
    for (const [i, peer] of peers.entries()) {
      await idle(peer.runner);
      assert.equal(await counter(peer.runner, 'ci_runner_configuration_loaded_total'), 1 + ROUNDS, `${peer.name} was woken by every reload`);
      assert.equal(await counter(peer.runner, `ci_runner_jobs_total{runner="${peer.name}"}`), counts[i], `${peer.name}'s ci_runner_jobs_total`);
      const other = peers[1 - i]!.name;
      assert.equal(await counter(peer.runner, `ci_runner_jobs_total{runner="${other}"}`), 0, `${peer.name} counts no job for ${other}`);
    }

    assert.deepEqual(entries(join(queue, 'pending')), []);
    assert.deepEqual(entries(join(queue, 'recovering')), []);
    for (const peer of peers) assert.deepEqual(entries(join(queue, 'claimed', peer.owner)), [], `claimed/${peer.owner} is empty`);
    for (const peer of peers) {
      const stopped = await peer.runner.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.stderr);
    }
    assert.deepEqual(entries(join(queue, 'claimed')), [], 'both runners left the queue');
  } finally {
    for (const peer of peers) peer.runner.kill();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a runner SIGKILLed mid-job: its busy live peer finishes that job as runner_system_failure without rerunning it, and keeps working', async () => {
  const root = mkdtempSync(join(tmpdir(), 'runner-multi-'));
  const queue = join(root, 'queue');
  const ran = join(root, 'ran');
  const peers = await startPeers(root, queue, ['alpha', 'beta'], 'concurrent = 1');
  let orphanGroup: number | undefined;
  try {
    // Whichever runner claims the victim dies; the other is the survivor.
    const victim = await enqueue(queue, jobToml('victim', [recordStart(ran), 'sleep 60']), 'victim.toml');
    const victimStart = await poll('the victim running', () => starts(ran).find((s) => s.id === victim.id));
    orphanGroup = victimStart.pid;
    const dead = peers.find((peer) => peer.name === victimStart.runner)!;
    const survivor = peers.find((peer) => peer !== dead)!;

    // The survivor's only slot (concurrent = 1) is taken by a job that can end
    // only once the victim has a result, so the survivor has to recover the
    // dead claim while it is busy, on one of its periodic recovery rounds.
    const victimResult = join(queue, 'done', `${victim.id}.json`);
    const waiter = await enqueue(
      queue,
      jobToml('waiter', [
        recordStart(ran),
        `for i in $(seq 400); do if [ -e ${victimResult} ]; then exit 0; fi; sleep 0.1; done; exit 1`,
      ]),
      'waiter.toml',
    );
    const waiterStart = await poll('the waiter running', () => starts(ran).find((s) => s.id === waiter.id));
    assert.equal(waiterStart.runner, survivor.name, 'the dead runner was full, so the survivor took the waiter');

    const killed = await dead.runner.stop('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');

    const waited = await waitForResult(queue, waiter.id, { timeoutMs: 45_000 });
    assert.equal(waited.state, 'success', "the victim was recovered while the waiter held the survivor's only slot");
    assert.equal(waited.owner, survivor.owner);

    const recovered = await waitForResult(queue, victim.id, { timeoutMs: 1_000 });
    assert.equal(recovered.state, 'failed');
    assert.equal(recovered.failure_reason, 'runner_system_failure');
    assert.equal(recovered.exit_code, null);
    assert.equal(recovered.owner, dead.owner, 'the result names the runner that claimed the job');
    assert.ok(
      readFileSync(join(queue, 'done', `${victim.id}.log`), 'utf8')
        .includes(`[runner] the runner process ${dead.runner.pid} (${dead.owner}) that claimed this job died; ${survivor.owner} finished it as failed`),
      "the victim's log names the survivor as the recoverer",
    );
    assert.match(survivor.runner.logs(), new RegExp(`Job of a runner that died finished as failed.*job=${victim.id}`));

    // The survivor keeps taking jobs; the victim never ran a second time.
    const later = await enqueue(queue, jobToml('later', [recordStart(ran)]), 'later.toml');
    const laterResult = await waitForResult(queue, later.id, { timeoutMs: 20_000 });
    assert.equal(laterResult.state, 'success');
    assert.equal(laterResult.owner, survivor.owner);
    assert.deepEqual(starts(ran).map((s) => `${s.id} ${s.runner}`), [
      `${victim.id} ${dead.name}`,
      `${waiter.id} ${survivor.name}`,
      `${later.id} ${survivor.name}`,
    ]);
    assert.deepEqual(entries(join(queue, 'claimed', dead.owner)), [], 'the dead claim is gone');
    assert.deepEqual(entries(join(queue, 'recovering')), []);

    // Recovered jobs are not counted as run by the survivor.
    await idle(survivor.runner);
    assert.equal(await counter(survivor.runner, `ci_runner_jobs_total{runner="${survivor.name}"}`), 2);
    assert.equal(await counter(survivor.runner, `ci_runner_failed_jobs_total{runner="${survivor.name}",failure_reason="runner_system_failure"}`), 0);
    const stopped = await survivor.runner.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);
  } finally {
    for (const peer of peers) peer.runner.kill();
    // The dead runner's job is orphaned, not ended: end its process group.
    if (orphanGroup !== undefined && orphanGroup > 0) {
      try {
        process.kill(-orphanGroup, 'SIGKILL');
      } catch { /* already gone */ }
    }
    rmSync(root, { recursive: true, force: true });
  }
});
