// The GitLab source and its jobs in process, against the test coordinator:
// the job request, the trace (416 resume after a lost answer), the final
// update retried on 202, Job-Status canceling, and 403 for a job gone there.
// The protocol's details as GitLab Runner's network code has them (headers,
// system_id, info, keep-alive cadence, debug_trace, exit_code, failure
// reasons) are in gitlab-protocol.test.ts beside this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { SourceError } from '../../../../src/job/source.ts';
import { traceChecksum } from '../../../support/coordinator/coordinator.ts';
import { until } from '../../../support/fakes.ts';
import { recordingControl, result, session, takeJob, TOKEN } from './session.ts';

test('a job request declares the executor; no job is undefined; the payload becomes the job model', async () => {
  const s = await session();
  try {
    assert.equal(await s.source.request(), undefined);
    const { queued, job } = await takeJob(s, ['echo one', 'echo two']);
    const info = s.coordinator.jobRequests.at(-1)?.['info'] as Record<string, unknown>;
    assert.equal(info['executor'], 'shell');
    assert.equal(info['shell'], 'bash');
    assert.equal((info['features'] as Record<string, unknown>)['cancel_gracefully'], true);
    assert.deepEqual(job.job.script, ['echo one', 'echo two']);
    assert.equal(job.job.name, 'unit');
    assert.ok(job.job.secrets?.includes(queued.token), 'the job token is masked');
    assert.equal(job.url, `${s.coordinator.url}/group/project/-/jobs/${queued.id}`);
  } finally {
    await s.close();
  }
});

test('a rejected token is a fatal SourceError; a 500 is a retryable one that names the status', async () => {
  const s = await session();
  try {
    s.coordinator.failNext('request_job', 500, 1, { 'Retry-After': '7' });
    const retryable = await s.source.request().catch((error: unknown) => error);
    assert.ok(retryable instanceof SourceError);
    assert.equal(retryable.fatal, false);
    assert.equal(retryable.retryAfterMs, 7000);
    assert.match(retryable.message, /answered 500/);
    s.coordinator.failNext('request_job', 403);
    const fatal = await s.source.request().catch((error: unknown) => error);
    assert.ok(fatal instanceof SourceError && fatal.fatal);
    assert.ok(!fatal.message.includes(TOKEN), 'the token is never in a message');
  } finally {
    await s.close();
  }
});

test("after a trace answer is lost, the coordinator's 416 and Range resume the log where it is: no byte lost or doubled", async () => {
  const s = await session();
  try {
    const { queued, job } = await takeJob(s);
    const sink = await job.begin(recordingControl());
    sink(Buffer.from('first line\n'));
    await until('the first line at the coordinator', () => queued.trace.length === 11);
    // The next patch is stored but its answer never arrives: the job sends it again, from where it thinks the server is.
    s.coordinator.loseNextAnswer('patch_trace');
    sink(Buffer.from('second line\n'));
    await until('a 416', () => queued.tracePatches.some((patch) => patch.status === 416), 10_000);
    sink(Buffer.from('third line\n'));
    await job.finish(result('success'));
    assert.equal(queued.trace.toString(), 'first line\nsecond line\nthird line\n');
    assert.equal(queued.state, 'success');
    assert.equal(queued.finalChecksumOk, true);
    assert.equal(queued.finalBytesizeOk, true);
    assert.ok(s.logs.some((line) => line.includes('resuming from there')), s.logs.join(''));
  } finally {
    await s.close();
  }
});

test("a final update answered 202 is sent again until it is 200, with the log's checksum and size", async () => {
  const s = await session();
  try {
    const { queued, job } = await takeJob(s);
    const sink = await job.begin(recordingControl());
    sink(Buffer.from('done\n'));
    s.coordinator.acceptFinalUpdateAfter(2);
    await job.finish(result('failed', { exitCode: 3 }));
    const finals = queued.updates.filter((update) => update.body['state'] === 'failed');
    assert.deepEqual(finals.map((update) => update.status), [202, 202, 200]);
    assert.deepEqual(finals[0]!.body['output'], { checksum: traceChecksum(Buffer.from('done\n')), bytesize: 5 });
    assert.equal(finals[0]!.body['exit_code'], 3);
    assert.equal(finals[0]!.body['failure_reason'], 'script_failure');
    assert.equal(queued.state, 'failed');
    assert.equal(queued.failureReason, 'script_failure');
  } finally {
    await s.close();
  }
});

test('Job-Status canceling on a keep-alive cancels the job gracefully; its final update makes it canceled', async () => {
  const s = await session();
  try {
    const { queued, job } = await takeJob(s);
    const control = recordingControl();
    await job.begin(control);
    s.coordinator.cancel(queued.id);
    assert.equal(queued.state, 'canceling');
    try {
      // A silent job: only a keep-alive brings the news, after the force-send interval.
      await until('the job canceled by the runner', () => control.calls.includes('cancel'));
    } finally {
      await job.finish(result('canceled', { failureReason: undefined, exitCode: undefined }));
    }
    assert.deepEqual(control.calls, ['cancel'], 'after_script may still run: no abort');
    assert.equal(queued.updates[0]?.body['state'], 'running', 'a keep-alive carried the cancel');
    assert.equal(queued.state, 'canceled');
    assert.equal(queued.updates.at(-1)?.body['failure_reason'], 'unknown_failure');
  } finally {
    await s.close();
  }
});

test('a job gone at the coordinator (403) is stopped at once and nothing more is sent for it', async () => {
  const s = await session();
  try {
    const { queued, job } = await takeJob(s);
    const control = recordingControl();
    const sink = await job.begin(control);
    s.coordinator.forceCancel(queued.id);
    sink(Buffer.from('still printing\n'));
    await until('the job aborted', () => control.calls.includes('abort'));
    const sent = s.coordinator.requests.length;
    await job.finish(result('canceled'));
    assert.equal(s.coordinator.requests.length, sent, 'no final update for a job the coordinator refused');
    assert.ok(queued.tracePatches.some((patch) => patch.status === 403) || queued.updates.some((update) => update.status === 403));
    assert.ok(s.logs.some((line) => line.includes('the job is gone there')));
  } finally {
    await s.close();
  }
});

test("a job stopped by the runner's own shutdown is reported failed with runner_system_failure", async () => {
  const s = await session();
  try {
    const { queued, job } = await takeJob(s);
    await job.begin(recordingControl());
    await job.finish(result('canceled', { failureReason: undefined, exitCode: undefined }));
    assert.equal(queued.state, 'failed');
    assert.equal(queued.failureReason, 'runner_system_failure');
  } finally {
    await s.close();
  }
});
