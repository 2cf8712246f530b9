// When a running job's log goes up (src/sources/gitlab/gitlab-job.ts, docs/gitlab.md "The log"):
// the first output at once, then one PATCH per update interval, except that a whole 1 MiB slice
// goes as soon as the PATCH before it is answered - one PATCH in flight, none over 1 MiB, the
// ranges contiguous, every byte once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';
import { MAX_PATCH_BYTES } from '../../../../src/sources/gitlab/gitlab-job.ts';
import type { CoordinatorJob, TestCoordinator } from '../../../support/coordinator/coordinator.ts';
import { until } from '../../../support/fakes.ts';
import { recordingControl, result, session, takeJob } from './session.ts';

const MiB = 1024 * 1024;
/** What a pipe read delivers at most. */
const PIPE_CHUNK = 64 * 1024;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Every PATCH of the job: at most one slice, starting where the one before ended, sent only after it was answered. */
function assertPatchesInOrder(coordinator: TestCoordinator, queued: CoordinatorJob): void {
  const patches = queued.tracePatches;
  const arrivals = coordinator.requests.filter((r) => r.endpoint === 'patch_trace' && r.jobId === queued.id);
  assert.equal(arrivals.length, patches.length);
  let offset = 0;
  for (const [i, patch] of patches.entries()) {
    assert.equal(patch.status, 202, `PATCH ${i} answered ${patch.status}`);
    assert.ok(patch.bytes > 0 && patch.bytes <= MAX_PATCH_BYTES, `PATCH ${i} carries ${patch.bytes} bytes`);
    assert.equal(patch.contentRange, `${offset}-${offset + patch.bytes - 1}`, `PATCH ${i} continues where the log is`);
    if (i > 0) assert.ok(arrivals[i]!.at >= patches[i - 1]!.at, `PATCH ${i} arrived before PATCH ${i - 1} was answered`);
    offset += patch.bytes;
  }
}

test('a loud job: whole 1 MiB slices go up while it prints, one PATCH at a time, even with a 60 s update interval; the smaller rest waits', async () => {
  const s = await session({ updateIntervalMs: 60_000 }, 60);
  try {
    const { queued, job } = await takeJob(s);
    const sink = await job.begin(recordingControl());
    const head = Buffer.from('Running with runner\n');
    sink(head);
    await until('the first output at the coordinator', () => queued.trace.length === head.length);
    // 3.5 MiB in pipe-sized chunks, a turn of the event loop apart, as the job's output arrives.
    const output = randomBytes(3.5 * MiB);
    for (let at = 0; at < output.length; at += PIPE_CHUNK) {
      sink(output.subarray(at, at + PIPE_CHUNK));
      await turn();
    }
    await until('three whole slices at the coordinator while the job runs', () => queued.trace.length >= head.length + 3 * MiB, 10_000);
    // The half slice left is not due before the interval (60 s) or the end: give a wrongly eager sender time to show.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(queued.tracePatches.map((patch) => patch.bytes), [head.length, MiB, MiB, MiB]);
    await job.finish(result('success'));
    assert.deepEqual(queued.tracePatches.map((patch) => patch.bytes), [head.length, MiB, MiB, MiB, MiB / 2]);
    assertPatchesInOrder(s.coordinator, queued);
    assert.ok(queued.trace.equals(Buffer.concat([head, output])), 'every byte once, in order');
    assert.equal(queued.finalChecksumOk, true);
    assert.equal(queued.finalBytesizeOk, true);
  } finally {
    await s.close();
  }
});

test('a chatty job: small lines go up in one PATCH per update interval, not one per line', async () => {
  const intervalMs = 200;
  const s = await session({ updateIntervalMs: intervalMs }, intervalMs / 1000);
  try {
    const { queued, job } = await takeJob(s);
    const sink = await job.begin(recordingControl());
    const started = performance.now();
    const lines: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      lines.push(Buffer.from(`line ${i}\n`));
      sink(lines.at(-1)!);
      await new Promise((resolve) => setTimeout(resolve, 8));
    }
    const patchesWhileRunning = queued.tracePatches.length;
    const elapsed = performance.now() - started;
    await job.finish(result('success'));
    // The first output, then at most one PATCH per whole interval that passed (and one in flight as it ended).
    const bound = 2 + Math.floor(elapsed / intervalMs);
    assert.ok(patchesWhileRunning <= bound, `${patchesWhileRunning} PATCHes in ${Math.round(elapsed)} ms of 100 lines, at most ${bound} expected`);
    assert.ok(patchesWhileRunning >= 2, `${patchesWhileRunning} PATCHes while the job printed for ${Math.round(elapsed)} ms`);
    assertPatchesInOrder(s.coordinator, queued);
    assert.ok(queued.trace.equals(Buffer.concat(lines)));
    assert.equal(queued.finalChecksumOk, true);
  } finally {
    await s.close();
  }
});
