// The test coordinator's Runner API must behave as GitLab documents, since
// the runner's GitLab client is tested against it: these tests talk to it
// with plain HTTP requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { CI_JOB_USER, type JobPayload, traceChecksum } from './coordinator.ts';
import { assertAnswer, call, client, RUNNER_TOKEN, runningJob, variable, withCoordinator } from './http-client.ts';

test('jobs/request: 403 for an unknown runner token, 400 without one', async () => {
  await withCoordinator({}, async (coordinator) => {
    coordinator.enqueueJob({ script: ['true'] });
    const wrong = await call(`${coordinator.url}/api/v4/jobs/request`, { method: 'POST', body: { token: 'glrt-nope' } });
    assert.equal(wrong.status, 403);
    assert.deepEqual(wrong.json(), { message: '403 Forbidden' });
    const missing = await call(`${coordinator.url}/api/v4/jobs/request`, { method: 'POST', body: {} });
    assert.equal(missing.status, 400);
    assert.equal(coordinator.job(1).state, 'pending', 'a rejected request takes no job');
  });
});

test('jobs/request: 204 with X-GitLab-Last-Update when there is no job; the same value back is answered without a job', async () => {
  await withCoordinator({}, async (coordinator) => {
    const api = client(coordinator);
    const first = await api.requestJob();
    assert.equal(first.status, 204);
    const lastUpdate = first.headers['x-gitlab-last-update'];
    assert.equal(typeof lastUpdate, 'string');
    assert.equal(first.body.length, 0);

    const again = await api.requestJob({ last_update: lastUpdate });
    assert.equal(again.status, 204);
    assert.equal(again.headers['x-gitlab-last-update'], lastUpdate);

    // Queueing a job changes the queue value, so the runner's last_update is stale.
    coordinator.enqueueJob({ script: ['true'] });
    const withJob = await api.requestJob({ last_update: lastUpdate });
    assert.equal(withJob.status, 201);
    assert.equal(withJob.headers['x-gitlab-last-update'], undefined, 'a 201 carries no X-GitLab-Last-Update');
    assert.match(String(withJob.headers['content-type']), /^application\/json/);
  });
});

test("jobs/request: 201 with a payload shaped like GitLab's; the job runs and remembers the runner", async () => {
  await withCoordinator({}, async (coordinator) => {
    const queued = coordinator.enqueueJob({
      name: 'unit tests',
      stage: 'test',
      script: ['make', 'make test'],
      afterScript: ['echo done'],
      beforeScript: ['cd src'],
      timeoutSeconds: 600,
      variables: [{ key: 'API_KEY', value: 's3cret-value', masked: true }, { key: 'CONFIG', value: 'a=1', file: true }, {
        key: 'RAW',
        value: '$NOT',
        raw: true,
      }],
      extra: { artifacts: [{ name: 'out', paths: ['out/'], when: 'on_success', expire_in: '1 day', artifact_type: 'archive', artifact_format: 'zip' }] },
    });
    assert.equal(queued.state, 'pending');
    const info = {
      name: 'r1',
      version: '0.1.0',
      revision: 'abc',
      platform: 'linux',
      architecture: 'amd64',
      executor: 'shell',
      shell: 'bash',
      features: { cancel_gracefully: true, trace_checksum: true },
    };
    const res = await client(coordinator).requestJob({ info });
    assert.equal(res.status, 201);
    const payload = res.json() as JobPayload;

    assert.equal(payload.id, queued.id);
    assert.equal(payload.token, queued.token);
    assert.deepEqual(payload.job_info['name'], 'unit tests');
    assert.deepEqual(payload.job_info['stage'], 'test');
    assert.deepEqual(payload.runner_info, { timeout: 600, runner_session_url: null });
    assert.deepEqual(payload.steps, [
      { name: 'script', script: ['cd src', 'make', 'make test'], timeout: 600, when: 'on_success', allow_failure: false },
      { name: 'after_script', script: ['echo done'], timeout: 600, when: 'always', allow_failure: true },
    ]);
    assert.equal(payload.git_info.ref_type, 'branch');
    assert.equal(payload.git_info.repo_url, `${coordinator.url.replace('://', `://${CI_JOB_USER}:${queued.token}@`)}/group/project.git`);
    assert.deepEqual(payload.features['trace_sections'], true);
    assert.ok((payload.features['failure_reasons'] as string[]).includes('script_failure'));
    assert.equal((payload['artifacts'] as unknown[]).length, 1);

    assert.deepEqual(variable(payload, 'CI_JOB_TOKEN'), { key: 'CI_JOB_TOKEN', value: queued.token, public: false, masked: true });
    assert.equal(variable(payload, 'CI_JOB_ID')?.value, String(queued.id));
    assert.equal(variable(payload, 'CI_SERVER_URL')?.value, coordinator.url);
    assert.equal(variable(payload, 'CI_REPOSITORY_URL')?.value, payload.git_info.repo_url);
    assert.equal(variable(payload, 'CI_JOB_NAME')?.value, 'unit tests');
    assert.equal(variable(payload, 'CI_PROJECT_PATH')?.value, 'group/project');
    assert.equal(variable(payload, 'CI_PIPELINE_ID')?.value, String(queued.pipelineId));
    assert.deepEqual(variable(payload, 'API_KEY'), { key: 'API_KEY', value: 's3cret-value', public: false, masked: true });
    assert.deepEqual(variable(payload, 'CONFIG'), { key: 'CONFIG', value: 'a=1', public: true, masked: false, file: true });
    assert.deepEqual(variable(payload, 'RAW'), { key: 'RAW', value: '$NOT', public: true, masked: false, raw: true });
    assert.ok(payload.variables.every((v) => !('file' in v) || v.file === true), 'file only when true');

    assert.equal(queued.state, 'running');
    assert.deepEqual(queued.runnerInfo, info);
    assert.deepEqual(queued.payload, payload);
    assert.equal((await client(coordinator).requestJob()).status, 204, 'a running job is not handed out again');
  });
});

test('runners/verify: 200 with the runner id and token, 403 for an unknown token', async () => {
  await withCoordinator({}, async (coordinator) => {
    const ok = await call(`${coordinator.url}/api/v4/runners/verify`, { method: 'POST', body: { token: RUNNER_TOKEN } });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { id: 1, token: RUNNER_TOKEN, token_expires_at: null });
    const bad = await call(`${coordinator.url}/api/v4/runners/verify`, { method: 'POST', body: { token: 'glrt-unknown' } });
    assert.equal(bad.status, 403);
    coordinator.addRunnerToken('glrt-later');
    assert.equal((await call(`${coordinator.url}/api/v4/runners/verify`, { method: 'POST', body: { token: 'glrt-later' } })).status, 200);
  });
});

test('PUT jobs/:id: keep-alive, then a final update with the checksum of the received trace', async () => {
  await withCoordinator({}, async (coordinator) => {
    const payload = await runningJob(coordinator);
    const api = client(coordinator);
    const wrong = await api.update(payload.id, { token: 'glcbt-wrong', state: 'running' });
    assertAnswer(wrong, 403, undefined);
    assert.equal((await api.update(9999, { token: payload.token, state: 'running' })).status, 403, 'unknown job: 403, not 404');

    const alive = await api.update(payload.id, { token: payload.token, state: 'running' });
    assertAnswer(alive, 200, 'running');

    const log = Buffer.from('hello\n');
    assert.equal((await api.patch(payload.id, payload.token, 0, log)).status, 202);
    const done = await api.update(payload.id, {
      token: payload.token,
      state: 'success',
      exit_code: 0,
      output: { checksum: traceChecksum(log), bytesize: log.length },
    });
    assertAnswer(done, 200, 'success');
    assert.equal(done.headers['x-gitlab-trace-update-interval'], undefined, 'GitLab sends the interval only with a 202');
    const job = coordinator.job(payload.id);
    assert.equal(job.state, 'success');
    assert.equal(job.finalChecksumOk, true);
    assert.equal(job.finalBytesizeOk, true);
    assert.equal(job.updates.length, 3, 'every PUT for this job is recorded, the rejected one too');

    const late = await api.update(payload.id, { token: payload.token, state: 'failed' });
    assertAnswer(late, 403, 'success');
    assert.equal(job.state, 'success');
  });
});

test('PUT jobs/:id: a failed job keeps a known failure reason and its exit code; unknown reasons become unknown_failure; a wrong checksum is only noted', async () => {
  await withCoordinator({}, async (coordinator) => {
    const api = client(coordinator);
    const first = await runningJob(coordinator);
    const res = await api.update(first.id, {
      token: first.token,
      state: 'failed',
      failure_reason: 'script_failure',
      exit_code: 2,
      output: { checksum: 'crc32:00000001', bytesize: 7 },
    });
    assert.equal(res.status, 200);
    const job = coordinator.job(first.id);
    assert.equal(job.state, 'failed');
    assert.equal(job.failureReason, 'script_failure');
    assert.equal(job.exitCode, 2);
    assert.equal(job.finalChecksumOk, false);
    assert.equal(job.finalBytesizeOk, false);

    const second = await runningJob(coordinator);
    await api.update(second.id, { token: second.token, state: 'failed', failure_reason: 'what_is_this' });
    assert.equal(coordinator.job(second.id).failureReason, 'unknown_failure');

    const third = await runningJob(coordinator);
    assert.equal((await api.update(third.id, { token: third.token, state: 'bogus' })).status, 400);
    assert.equal((await api.update(third.id, { state: 'running' })).status, 400, 'token is required');
  });
});

test('PATCH jobs/:id/trace: 202 with Range, Job-Status and the update interval; exact bytes kept', async () => {
  await withCoordinator({ traceUpdateIntervalSeconds: 7 }, async (coordinator) => {
    const payload = await runningJob(coordinator);
    const api = client(coordinator);
    const first = Buffer.from([0x68, 0x69, 0xff, 0x00, 0x0a]);
    const res = await api.patch(payload.id, payload.token, 0, first);
    assert.equal(res.status, 202);
    assert.equal(res.headers['range'], '0-5');
    assert.equal(res.headers['job-status'], 'running');
    assert.equal(res.headers['x-gitlab-trace-update-interval'], '7');
    const second = await api.patch(payload.id, payload.token, 5, 'more');
    assert.equal(second.headers['range'], '0-9');
    assert.deepEqual(coordinator.job(payload.id).trace, Buffer.concat([first, Buffer.from('more')]));
    // GitLab Runner's "force patch": an empty body at the current offset is accepted.
    assert.equal((await api.patch(payload.id, payload.token, 9, '', '9-8')).status, 202);
    assert.equal(coordinator.job(payload.id).trace.length, 9);
    assert.equal(crc32(coordinator.job(payload.id).trace), crc32(Buffer.concat([first, Buffer.from('more')])));
  });
});

test('PATCH jobs/:id/trace: 416 with Range 0-N when the offset is not the length held; 400 without Content-Range; 403 for a wrong token', async () => {
  await withCoordinator({}, async (coordinator) => {
    const payload = await runningJob(coordinator);
    const api = client(coordinator);
    await api.patch(payload.id, payload.token, 0, 'abcdef');

    for (const start of [3, 10]) {
      const res = await api.patch(payload.id, payload.token, start, 'xyz');
      assert.equal(res.status, 416, `start ${start}`);
      assert.equal(res.headers['range'], '0-6');
    }
    assert.equal(coordinator.job(payload.id).trace.toString(), 'abcdef', 'a rejected patch changes nothing');

    coordinator.forceTraceMismatch(payload.id);
    const forced = await api.patch(payload.id, payload.token, 6, 'ghi');
    assert.equal(forced.status, 416);
    assert.equal(forced.headers['range'], '0-6');
    assert.equal((await api.patch(payload.id, payload.token, 6, 'ghi')).status, 202, 'only the next patch is forced');

    assert.equal((await api.patch(payload.id, payload.token, 9, 'x', null)).status, 400);
    const wrong = await api.patch(payload.id, 'glcbt-wrong', 9, 'x');
    assertAnswer(wrong, 403, undefined);
    assert.deepEqual(coordinator.job(payload.id).tracePatches.map((p) => p.status), [202, 416, 416, 416, 202, 400, 403]);
  });
});

test('a final update with a checksum is answered 202 the first N times while the trace is "persisted"; without a checksum at once', async () => {
  await withCoordinator({}, async (coordinator) => {
    const api = client(coordinator);
    const payload = await runningJob(coordinator);
    await api.patch(payload.id, payload.token, 0, 'log\n');
    coordinator.acceptFinalUpdateAfter(2);
    const final = { token: payload.token, state: 'success', output: { checksum: traceChecksum(Buffer.from('log\n')), bytesize: 4 } };
    for (let i = 0; i < 2; i++) {
      const accepted = await api.update(payload.id, final);
      assertAnswer(accepted, 202, 'running');
      assert.match(String(accepted.headers['x-gitlab-trace-update-interval']), /^[1-9]\d*$/);
      assert.equal(coordinator.job(payload.id).state, 'running');
    }
    assert.equal((await api.update(payload.id, final)).status, 200);
    assert.equal(coordinator.job(payload.id).state, 'success');

    coordinator.acceptFinalUpdateAfter(1);
    const other = await runningJob(coordinator);
    assert.equal((await api.update(other.id, { token: other.token, state: 'success' })).status, 200, 'no checksum: GitLab does not accept-and-wait');
  });
});

test('cancel with cancel_gracefully: canceling, the runner may still patch and update, its final update makes the job canceled', async () => {
  await withCoordinator({}, async (coordinator) => {
    const api = client(coordinator);
    const payload = await runningJob(coordinator, { cancel_gracefully: true });
    coordinator.cancel(payload.id);
    assert.equal(coordinator.job(payload.id).state, 'canceling');

    const patched = await api.patch(payload.id, payload.token, 0, 'after_script output\n');
    assertAnswer(patched, 202, 'canceling');
    const alive = await api.update(payload.id, { token: payload.token, state: 'running' });
    assertAnswer(alive, 200, 'canceling');

    const final = await api.update(payload.id, { token: payload.token, state: 'failed', failure_reason: 'script_failure' });
    assertAnswer(final, 200, 'canceled');
    assert.equal(coordinator.job(payload.id).state, 'canceled');

    const late = await api.patch(payload.id, payload.token, 20, 'x');
    assertAnswer(late, 403, 'canceled');
  });
});

test('cancel without cancel_gracefully: canceled at once, patches and updates get 403 with Job-Status canceled; a pending job is never handed out', async () => {
  await withCoordinator({}, async (coordinator) => {
    const api = client(coordinator);
    const payload = await runningJob(coordinator, { cancel_gracefully: false });
    coordinator.cancel(payload.id);
    assert.equal(coordinator.job(payload.id).state, 'canceled');
    const patched = await api.patch(payload.id, payload.token, 0, 'x');
    assertAnswer(patched, 403, 'canceled');
    const updated = await api.update(payload.id, { token: payload.token, state: 'running' });
    assertAnswer(updated, 403, 'canceled');

    const pending = coordinator.enqueueJob({ script: ['true'] });
    coordinator.cancel(pending.id);
    assert.equal(pending.state, 'canceled');
    assert.equal((await api.requestJob()).status, 204);
  });
});
