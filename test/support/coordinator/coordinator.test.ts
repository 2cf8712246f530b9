// The test coordinator (test/support/coordinator/) is what the
// runner's GitLab client is tested against, so it must behave as GitLab
// documents: these tests talk to it with plain HTTP requests and real git.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  CI_JOB_USER,
  type CoordinatorOptions,
  createGitRepository,
  type JobPayload,
  type RunnerVariable,
  TestCoordinator,
  traceChecksum,
} from './coordinator.ts';
import { skipUnless } from '../tools.ts';

const RUNNER_TOKEN = 'glrt-test-runner-token';

interface Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  json(): unknown;
}

interface RequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | object;
  /** A CA certificate for https. */
  readonly ca?: string;
}

/** One HTTP(S) request with full control over headers and body bytes. */
function call(url: string, options: RequestOptions = {}): Promise<Response> {
  const { body } = options;
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = {
    ...(payload && !(typeof body === 'string' || Buffer.isBuffer(body)) ? { 'Content-Type': 'application/json' } : {}),
    ...options.headers,
  };
  if (payload) headers['Content-Length'] = String(payload.length);
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: options.method ?? 'GET', headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, json: () => JSON.parse(data.toString('utf8')) as unknown });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

interface Client {
  requestJob(body?: object): Promise<Response>;
  update(jobId: number, body: object): Promise<Response>;
  patch(jobId: number, token: string, start: number, data: string | Buffer, contentRange?: string | null): Promise<Response>;
}

function client(coordinator: TestCoordinator, ca?: string): Client {
  const api = `${coordinator.url}/api/v4`;
  const extra = ca ? { ca } : {};
  return {
    requestJob: (body = {}) =>
      call(`${api}/jobs/request`, { method: 'POST', body: { token: RUNNER_TOKEN, info: { name: 'test-runner', features: {} }, ...body }, ...extra }),
    update: (jobId, body) => call(`${api}/jobs/${jobId}`, { method: 'PUT', body, ...extra }),
    patch: (jobId, token, start, data, contentRange) => {
      const length = Buffer.byteLength(data);
      const range = contentRange === undefined ? `${start}-${start + length - 1}` : contentRange;
      return call(`${api}/jobs/${jobId}/trace`, {
        method: 'PATCH',
        headers: { 'JOB-TOKEN': token, 'Content-Type': 'text/plain', ...(range === null ? {} : { 'Content-Range': range }) },
        body: Buffer.from(data),
        ...extra,
      });
    },
  };
}

async function withCoordinator(options: CoordinatorOptions, fn: (coordinator: TestCoordinator) => Promise<void>): Promise<void> {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], ...options });
  try {
    await fn(coordinator);
  } finally {
    await coordinator.close();
  }
}

/** Enqueues a job and takes it as a runner with these features. */
async function runningJob(coordinator: TestCoordinator, features: Record<string, unknown> = {}): Promise<JobPayload> {
  coordinator.enqueueJob({ name: 'build', script: ['echo hello'], afterScript: ['echo bye'] });
  const res = await client(coordinator).requestJob({ info: { name: 'test-runner', features } });
  assert.equal(res.status, 201);
  return res.json() as JobPayload;
}

/** The status and the Job-Status header (undefined: none) of an answer. */
function assertAnswer(res: Response, status: number, jobStatus: string | undefined): void {
  assert.equal(res.status, status);
  assert.equal(res.headers['job-status'], jobStatus, 'Job-Status');
}

const variable = (payload: JobPayload, key: string): RunnerVariable | undefined => payload.variables.filter((v) => v.key === key).pop();

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

const gitSkip = skipUnless('git', 'git');

/** Runs git without blocking: the coordinator answering it lives in this same process. */
function gitWithEnv(env: Record<string, string>, cwd: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('git', args, { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', GIT_CONFIG_NOSYSTEM: '1', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const git = (cwd: string, ...args: string[]): ReturnType<typeof gitWithEnv> => gitWithEnv({}, cwd, ...args);

test('git over smart HTTP: 401 without the job token, clone and shallow fetch of the commit with it, 401 once the job is over', { skip: gitSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-git-'));
  try {
    const repository = createGitRepository(join(dir, 'app'), { 'README.md': '# app\n', 'src/main.sh': 'echo main\n' }, {
      message: 'Add app\n\nWith a description.',
    });
    execFileSync('git', ['-C', repository.path, '-c', 'user.name=T', '-c', 'user.email=t@example.com', 'commit', '--quiet', '--allow-empty', '-m', 'Second']);
    await withCoordinator({}, async (coordinator) => {
      const queued = coordinator.enqueueJob({ script: ['true'], repository, projectPath: 'acme/app' });
      const bare = `${coordinator.url}/acme/app.git`;

      // Before a runner takes the job its token opens nothing.
      assert.notEqual((await git(dir, 'clone', '--quiet', queued.repoUrl, 'early')).status, 0);
      const payload = (await client(coordinator).requestJob()).json() as JobPayload;
      assert.equal(payload.git_info.sha, repository.sha);
      assert.equal(payload.git_info.ref, 'main');
      assert.equal(payload.git_info.depth, 20);
      assert.deepEqual(payload.git_info.refspecs, [
        `+refs/pipelines/${queued.pipelineId}:refs/pipelines/${queued.pipelineId}`,
        '+refs/heads/main:refs/remotes/origin/main',
      ]);
      assert.equal(variable(payload, 'CI_COMMIT_TITLE')?.value, 'Add app');
      assert.equal(variable(payload, 'CI_COMMIT_DESCRIPTION')?.value, 'With a description.');

      const anonymous = await call(`${bare}/info/refs?service=git-upload-pack`);
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.headers['www-authenticate'], 'Basic realm="GitLab"');
      assert.notEqual((await git(dir, 'clone', '--quiet', bare, 'anonymous')).status, 0);

      const clone = await git(dir, 'clone', '--quiet', payload.git_info.repo_url, 'cloned');
      assert.equal(clone.status, 0, clone.stderr);
      assert.equal(readFileSync(join(dir, 'cloned', 'src', 'main.sh'), 'utf8'), 'echo main\n');

      // The way a runner fetches: init, add the remote, fetch the refspecs and the commit shallowly.
      const work = join(dir, 'work');
      assert.equal((await git(dir, 'init', '--quiet', work)).status, 0);
      assert.equal((await git(work, 'remote', 'add', 'origin', payload.git_info.repo_url)).status, 0);
      const fetch = await git(work, 'fetch', '--quiet', '--depth', '1', 'origin', ...payload.git_info.refspecs);
      assert.equal(fetch.status, 0, fetch.stderr);
      assert.equal((await git(work, 'rev-parse', `refs/pipelines/${queued.pipelineId}`)).stdout.trim(), repository.sha);
      const bySha = await git(work, 'fetch', '--quiet', '--depth', '1', 'origin', repository.sha);
      assert.equal(bySha.status, 0, bySha.stderr);
      assert.equal((await git(work, 'checkout', '--quiet', repository.sha)).status, 0);
      assert.equal(readFileSync(join(work, 'README.md'), 'utf8'), '# app\n');
      assert.equal((await git(work, 'rev-list', '--count', 'HEAD')).stdout.trim(), '1', 'shallow');

      assert.equal((await git(work, 'push', 'origin', 'HEAD:refs/heads/other')).status === 0, false, 'a job token cannot push');

      await client(coordinator).update(payload.id, { token: payload.token, state: 'success' });
      assert.notEqual((await git(dir, 'clone', '--quiet', payload.git_info.repo_url, 'late')).status, 0);
      const statuses = coordinator.requests.filter((r) => r.endpoint === 'git').map((r) => r.status);
      assert.ok(statuses.includes(401) && statuses.includes(200) && statuses.includes(403), statuses.join(' '));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const opensslSkip = skipUnless('openssl', 'openssl', 'version');

test('with tls the coordinator speaks HTTPS, and git clones over it', { skip: opensslSkip || gitSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coordinator-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
    const ca = readFileSync(cert, 'utf8');
    const repository = createGitRepository(join(dir, 'repo'), { 'a.txt': 'over tls\n' });
    await withCoordinator({ tls: { key: readFileSync(key, 'utf8'), cert: ca } }, async (coordinator) => {
      assert.match(coordinator.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      coordinator.enqueueJob({ script: ['true'], repository });
      const res = await client(coordinator, ca).requestJob();
      assert.equal(res.status, 201);
      const payload = res.json() as JobPayload;
      assert.match(payload.git_info.repo_url, /^https:\/\/gitlab-ci-token:/);
      assert.equal(variable(payload, 'CI_SERVER_PROTOCOL')?.value, 'https');
      // GIT_SSL_CAINFO: Debian's GnuTLS build of git ignored -c http.sslCAInfo here.
      const clone = await gitWithEnv({ GIT_SSL_CAINFO: cert }, dir, 'clone', '--quiet', payload.git_info.repo_url, join(dir, 'cloned'));
      assert.equal(clone.status, 0, clone.stderr);
      assert.equal(readFileSync(join(dir, 'cloned', 'a.txt'), 'utf8'), 'over tls\n');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
