// Listing and canceling the local queue's jobs (queue-jobs.ts), in process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimNext, enqueue, finish, jobState, markLooked, ownerOf, QueueError, readResult } from '../../../../src/sources/local/queue.ts';
import { LocalQueueSource } from '../../../../src/sources/local/local-source.ts';
import { cancelPendingJob, claimerLooks, listJobs, liveClaimers } from '../../../../src/sources/local/queue-jobs.ts';

const job = (name: string): string => `name = "${name}"\nscript = ["true"]\n`;

function withQueue(run: (queue: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-queue-jobs-'));
    try {
      await run(join(dir, 'queue'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a cancel racing claims for one job: exactly one of them gets it, and the job ends once',
  withQueue(async (queue) => {
    for (let round = 0; round < 20; round++) {
      const { id } = await enqueue(queue, job(`race-${round}`), 'race.toml');
      const [claimed, canceled] = await Promise.allSettled([claimNext(queue), cancelPendingJob(queue, id)]);
      const claimedJob = claimed.status === 'fulfilled' ? claimed.value : undefined;
      assert.equal(claimed.status, 'fulfilled');
      if (claimedJob !== undefined) {
        assert.equal(canceled.status, 'rejected', 'the claimer won: the cancel is refused');
        assert.ok((canceled as PromiseRejectedResult).reason instanceof QueueError);
        assert.match(String((canceled as PromiseRejectedResult).reason.message), /cannot cancel a job that has started/);
        await finish(queue, claimedJob, { state: 'success', exitCode: 0, startedAt: claimedJob.claimedAt });
        assert.equal((await readResult(queue, id))?.state, 'success');
      } else {
        assert.equal(canceled.status, 'fulfilled', 'the cancel won: nothing was claimed');
        assert.equal((await readResult(queue, id))?.state, 'canceled');
      }
      assert.equal(await jobState(queue, id), 'done');
    }
    assert.deepEqual(readdirSync(join(queue, 'pending')), []);
    assert.deepEqual(readdirSync(join(queue, 'tmp')), [], 'no job file left behind');
  }),
);

test(
  'listJobs: running jobs (live or dead claimer) then pending ones, each oldest first; liveClaimers ignores the dead',
  withQueue(async (queue) => {
    const first = await enqueue(queue, job('one'), 'one.toml');
    const second = await enqueue(queue, job('two'), 'two.toml');
    const third = await enqueue(queue, job('three'), 'three.toml');
    const claimed = await claimNext(queue);
    assert.equal(claimed?.id, first.id);
    // A job a dead runner claimed (a pid above pid_max cannot exist).
    const dead = '4194305-99';
    assert.equal((await claimNext(queue, dead))?.id, second.id);
    mkdirSync(join(queue, 'claimed', 'not-an-owner'));
    const jobs = await listJobs(queue);
    assert.deepEqual(jobs.map((j) => [j.id, j.state, j.name, j.owner, j.ownerAlive]), [
      [first.id, 'running', 'one', ownerOf(), true],
      [second.id, 'running', 'two', dead, false],
      [third.id, 'pending', 'three', undefined, undefined],
    ]);
    assert.ok(jobs.every((j) => Number.isFinite(j.submittedAt)));
    assert.deepEqual(await liveClaimers(queue), [ownerOf()]);
  }),
);

test(
  'claimerLooks: each live claimer with when it last looked, which every turn of its loop (maintain) stamps, busy or not',
  withQueue(async (queue) => {
    const source = new LocalQueueSource(queue, { recovered: () => undefined, resultNotWritten: () => undefined });
    // Before its first claim attempt a runner has no claim directory to stamp, and serves nobody yet.
    await source.maintain();
    assert.deepEqual(await claimerLooks(queue), []);
    await enqueue(queue, job('one'), 'one.toml');
    assert.ok(await source.request());
    const long = new Date(Date.now() - 60_000);
    await markLooked(queue, ownerOf(), long);
    assert.deepEqual(await claimerLooks(queue), [{ owner: ownerOf(), lookedAt: long.getTime() }]);
    // A turn of a runner whose slot is taken by that job: it looks, and claims nothing.
    const before = Date.now();
    await source.maintain();
    const [look] = await claimerLooks(queue);
    assert.ok(look !== undefined && look.lookedAt >= before - 1 && look.lookedAt <= Date.now(), `looked at ${look?.lookedAt}, turn at ${before}`);
    // A dead claimer's directory is no look.
    mkdirSync(join(queue, 'claimed', '4194305-99'));
    assert.deepEqual((await claimerLooks(queue)).map((claimer) => claimer.owner), [ownerOf()]);
  }),
);
