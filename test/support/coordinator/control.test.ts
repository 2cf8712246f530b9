// The test coordinator's controls: injected failures, the request record,
// going away and coming back, and waiting for a state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { type JobPayload } from './coordinator.ts';
import { client, withCoordinator } from './http-client.ts';

test('failNext answers the next requests to an endpoint with the given status, and every request is recorded', async () => {
  await withCoordinator({}, async (coordinator) => {
    const api = client(coordinator);
    coordinator.enqueueJob({ script: ['true'] });
    coordinator.failNext('request_job', 502, 2);
    coordinator.failNext('request_job', 429, 1, { 'Retry-After': '1' });
    assert.equal((await api.requestJob()).status, 502);
    assert.equal((await api.requestJob()).status, 502);
    const limited = await api.requestJob();
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '1');
    const got = await api.requestJob();
    assert.equal(got.status, 201);
    const payload = got.json() as JobPayload;

    coordinator.failNext('patch_trace', 500);
    coordinator.failNext('update_job', 503);
    assert.equal((await api.patch(payload.id, payload.token, 0, 'x')).status, 500);
    assert.equal(coordinator.job(payload.id).trace.length, 0);
    assert.equal((await api.update(payload.id, { token: payload.token, state: 'running' })).status, 503);

    const recorded = coordinator.requests.map((r) => `${r.method} ${r.endpoint} ${r.status}`);
    assert.deepEqual(recorded, [
      'POST request_job 502',
      'POST request_job 502',
      'POST request_job 429',
      'POST request_job 201',
      'PATCH patch_trace 500',
      'PUT update_job 503',
    ]);
    assert.equal(coordinator.requests[2]!.responseHeaders['retry-after'], '1');
    const patch = coordinator.requests[4]!;
    assert.equal(patch.path, `/api/v4/jobs/${payload.id}/trace`);
    assert.equal(patch.jobId, payload.id);
    assert.equal(patch.headers['job-token'], payload.token);
    assert.ok(coordinator.requests.every((r, i) => i === 0 || r.at >= coordinator.requests[i - 1]!.at), 'arrival times do not go back');
  });
});

test('goAway drops the server; comeBack listens again on the same URL', async () => {
  await withCoordinator({}, async (coordinator) => {
    const url = coordinator.url;
    const api = client(coordinator);
    assert.equal((await api.requestJob()).status, 204);
    // A client in the middle of a request loses its connection.
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /api/v4/jobs/request HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{');
    const dropped = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    await coordinator.goAway();
    await dropped;
    await assert.rejects(api.requestJob());
    await coordinator.comeBack();
    assert.equal(coordinator.url, url);
    assert.equal((await api.requestJob()).status, 204);
  });
});

test('waitFor resolves with the first value the probe gives and names what it waited for when it gives up', async () => {
  await withCoordinator({}, async (coordinator) => {
    const job = coordinator.enqueueJob({ script: ['true'] });
    setTimeout(() => coordinator.cancel(job.id), 20);
    assert.equal(await coordinator.waitFor('the job to be canceled', () => job.state === 'canceled' && job.state), 'canceled');
    await assert.rejects(
      coordinator.waitFor('something that never happens', () => undefined, 50),
      /timed out after 50 ms waiting for something that never happens/,
    );
  });
});
