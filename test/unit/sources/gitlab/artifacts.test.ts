// The artifact client (src/sources/gitlab/artifacts-client.ts) against the
// test coordinator's artifact endpoints: streaming uploads, GitLab Runner's
// retries and messages, downloads through object storage, bounded memory.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GitLabApi } from '../../../../src/sources/gitlab/api.ts';
import { type ArtifactLogEntry, downloadArtifacts, uploadArtifact } from '../../../../src/sources/gitlab/artifacts-client.ts';
import { type CoordinatorJob, TestCoordinator } from '../../../support/coordinator/coordinator.ts';

/** An entry as GitLab Runner's log.RunnerTextFormatter writes it, without colours: the level's prefix, the message padded to 50, then the fields sorted. */
function formatRunnerLine(entry: ArtifactLogEntry): string {
  const prefix = { info: '', warning: 'WARNING: ', error: 'ERROR: ', fatal: 'FATAL: ' }[entry.level];
  const fields = Object.keys(entry.fields).sort().map((key) => ` ${key}=${entry.fields[key]}`).join('');
  return `${prefix}${entry.message.padEnd(50 - prefix.length)} ${fields}`;
}

const RUNNER = 'glrt-artifacts';
const FAST = { backoff: { minMs: 5, maxMs: 20 } };

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('GitLab artifacts client', () => {
  let coordinator: TestCoordinator;
  let api: GitLabApi;
  let dir: string;
  let payload: Buffer;
  let file: string;

  before(async () => {
    coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER] });
    api = new GitLabApi(coordinator.url, undefined, () => undefined);
    dir = mkdtempSync(join(tmpdir(), 'artifacts-test-'));
    payload = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < payload.length; i += 4096) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    file = join(dir, 'artifacts.zip');
    writeFileSync(file, payload);
  });
  after(async () => {
    api.close();
    await coordinator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function runningJob(name = 'build'): Promise<CoordinatorJob> {
    const job = coordinator.enqueueJob({ name, script: ['true'] });
    const response = await api.requestJob({ token: RUNNER, info: { features: { artifacts: true, upload_multiple_artifacts: true } } });
    assert.equal(response.status, 201);
    return job;
  }

  it("uploads a multi-MiB file streamed as multipart, with GitLab Runner's query and log line", async () => {
    const job = await runningJob();
    const logs: ArtifactLogEntry[] = [];
    const result = await uploadArtifact(
      api,
      job.id,
      job.token,
      file,
      { name: 'artifacts', type: 'archive', format: 'zip', expireIn: '1 week' },
      (e) => logs.push(e),
    );
    assert.equal(result.ok, true);
    assert.equal(result.status, 201);
    const upload = coordinator.artifactUploads.find((u) => u.jobId === job.id)!;
    assert.equal(upload.sha256, createHash('sha256').update(payload).digest('hex'));
    assert.equal(upload.size, payload.length);
    assert.deepEqual([upload.type, upload.format, upload.expireIn, upload.filename], ['archive', 'zip', '1 week', 'artifacts.zip']);
    assert.ok(Number(upload.headers['content-length']) > payload.length);
    assert.equal(upload.headers['transfer-encoding'], undefined);
    const request = coordinator.requests.find((r) => r.endpoint === 'upload_artifacts' && r.jobId === job.id)!;
    assert.equal(request.path, `/api/v4/jobs/${job.id}/artifacts?artifact_format=zip&artifact_type=archive&expire_in=1+week`);
    const line = formatRunnerLine(logs.at(-1)!);
    assert.match(line, /^Uploading artifacts as "archive" to coordinator\.\.\. 201 Created +correlation_id=\S+ id=\d+ status=201 token=\S{1,9}$/);
    assert.ok(!line.includes(job.token));
  });

  it('retries after the coordinator drops the connection mid-upload, and stores the file whole', async () => {
    const job = await runningJob();
    coordinator.dropNextUpload(1024 * 1024);
    const logs: ArtifactLogEntry[] = [];
    const result = await uploadArtifact(api, job.id, job.token, file, { type: 'archive', format: 'zip', ...FAST }, (e) => logs.push(e));
    assert.equal(result.ok, true);
    assert.equal(result.attempts, 2);
    assert.ok(logs.some((e) => e.level === 'warning' && e.message === 'Retrying...' && e.fields['context'] === 'artifacts-uploader'));
    assert.ok(logs.some((e) => e.level === 'error' && e.message === 'Uploading artifacts as "archive" to coordinator... error'));
    const uploads = coordinator.artifactUploads.filter((u) => u.jobId === job.id);
    assert.equal(uploads.length, 1);
    assert.equal(uploads[0]!.sha256, createHash('sha256').update(payload).digest('hex'));
  });

  it('fails "too large" on 413 without retrying', async () => {
    const job = await runningJob();
    coordinator.setMaxArtifactBytes(1024 * 1024);
    try {
      const logs: ArtifactLogEntry[] = [];
      const result = await uploadArtifact(api, job.id, job.token, file, { type: 'archive', format: 'zip', ...FAST }, (e) => logs.push(e));
      assert.deepEqual([result.ok, result.state, result.status, result.attempts, result.error], [false, 'too_large', 413, 1, 'too large']);
      assert.match(
        formatRunnerLine(logs.at(-1)!),
        /^ERROR: Uploading artifacts as "archive" to coordinator\.\.\. 413 Request Entity Too Large +correlation_id=/,
      );
      assert.equal(coordinator.artifactUploads.filter((u) => u.jobId === job.id).length, 0);
    } finally {
      coordinator.setMaxArtifactBytes(undefined);
    }
  });

  it('fails "permission denied" on a bad token, without retrying', async () => {
    const job = await runningJob();
    const logs: ArtifactLogEntry[] = [];
    const result = await uploadArtifact(api, job.id, 'glcbt-wrong', file, { type: 'archive', ...FAST }, (e) => logs.push(e));
    assert.deepEqual([result.state, result.status, result.attempts, result.error], ['forbidden', 403, 1, 'permission denied']);
    assert.match(
      logs.at(-1)!.message,
      /^Uploading artifacts as "archive" to coordinator\.\.\. POST http:\/\/127\.0\.0\.1:\d+\/api\/v4\/jobs\/\d+\/artifacts: 403 Forbidden$/,
    );
  });

  it('retries a 500 three times in all and a 503 six times, as GitLab Runner', async () => {
    const job = await runningJob();
    coordinator.failNext('upload_artifacts', 500, 3);
    const first = await uploadArtifact(api, job.id, job.token, file, { type: 'archive', ...FAST }, () => undefined);
    assert.deepEqual([first.ok, first.attempts, first.error], [false, 3, 'upload failed with no response from coordinator']);
    coordinator.failNext('upload_artifacts', 503, 6);
    const second = await uploadArtifact(api, job.id, job.token, file, { type: 'archive', ...FAST }, () => undefined);
    assert.deepEqual([second.state, second.attempts, second.error], ['service_unavailable', 6, 'service unavailable']);
  });

  it('downloads through the object storage redirect, the job token going only to the coordinator', async () => {
    const job = await runningJob();
    assert.equal((await uploadArtifact(api, job.id, job.token, file, { type: 'archive', format: 'zip' }, () => undefined)).ok, true);
    await coordinator.enableObjectStorage();
    const target = join(dir, 'downloaded.zip');
    const logs: ArtifactLogEntry[] = [];
    const result = await downloadArtifacts(api, job.id, job.token, target, { directDownload: true }, (e) => logs.push(e));
    assert.equal(result.ok, true);
    assert.equal(await sha256(target), createHash('sha256').update(payload).digest('hex'));
    const asked = coordinator.requests.filter((r) => r.endpoint === 'download_artifacts' && r.jobId === job.id);
    assert.equal(asked.at(-1)!.path, `/api/v4/jobs/${job.id}/artifacts?direct_download=true`);
    assert.equal(asked.at(-1)!.headers['job-token'], job.token);
    assert.equal(asked.at(-1)!.status, 302);
    const storage = coordinator.objectStorageRequests.at(-1)!;
    assert.equal(storage.status, 200);
    assert.equal(storage.headers['job-token'], undefined);
    assert.ok(!JSON.stringify(storage).includes(job.token));
    assert.ok(logs.some((e) => e.message.startsWith('Direct download from 127.0.0.1:')));
    assert.match(
      formatRunnerLine(logs.at(-1)!),
      /^Downloading artifacts from coordinator\.\.\. ok +correlation_id=\S+ host=127\.0\.0\.1:\d+ id=\d+ status=200 token=/,
    );
  });

  it('answers 404 "not found" for a job without artifacts and 403 "forbidden" for a wrong token, without retrying', async () => {
    const job = await runningJob();
    const logs: ArtifactLogEntry[] = [];
    const missing = await downloadArtifacts(api, job.id, job.token, join(dir, 'none.zip'), { retryDelayMs: 5 }, (e) => logs.push(e));
    assert.deepEqual([missing.state, missing.attempts, missing.error], ['not_found', 1, 'file does not exist']);
    assert.equal(logs.at(-1)!.message, 'Downloading artifacts from coordinator... not found');
    const denied = await downloadArtifacts(api, job.id, 'glcbt-wrong', join(dir, 'none.zip'), { retryDelayMs: 5 }, (e) => logs.push(e));
    assert.deepEqual([denied.state, denied.attempts, denied.error], ['forbidden', 1, 'permission denied']);
    assert.match(String(logs.at(-1)!.fields['status']), /^GET http:\/\/127\.0\.0\.1:\d+\/api\/v4\/jobs\/\d+\/artifacts: 403 Forbidden$/);
  });

  it('retries a failed download twice, 3 tries in all', async () => {
    const job = await runningJob();
    coordinator.failNext('download_artifacts', 502, 3);
    const logs: ArtifactLogEntry[] = [];
    const result = await downloadArtifacts(api, job.id, job.token, join(dir, 'none.zip'), { retryDelayMs: 5 }, (e) => logs.push(e));
    assert.deepEqual([result.state, result.attempts, result.error], ['failed', 3, 'invalid argument']);
    assert.equal(logs.filter((e) => e.message === 'Retrying...').length, 2);
  });

  it('uploads a 200 MiB sparse file without memory growing with it', async () => {
    const job = await runningJob();
    const big = join(dir, 'sparse.bin');
    const fd = openSync(big, 'w');
    writeSync(fd, Buffer.from('end'), 0, 3, 200 * 1024 * 1024 - 3);
    closeSync(fd);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => peak = Math.max(peak, process.memoryUsage().rss), 20);
    try {
      const result = await uploadArtifact(api, job.id, job.token, big, { type: 'archive', format: 'zip' }, () => undefined);
      assert.equal(result.ok, true);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const upload = coordinator.artifactUploads.filter((u) => u.jobId === job.id).at(-1)!;
    assert.equal(upload.size, 200 * 1024 * 1024);
    assert.equal(readFileSync(upload.path).subarray(-3).toString(), 'end');
    assert.ok(peak - rssBefore < 64 * 1024 * 1024, `rss grew by ${((peak - rssBefore) / 1048576).toFixed(1)} MiB`);
  });

  it('a stop (the signal) ends an upload stalled by the server and its retries at once, as canceled', async () => {
    const { createServer } = await import('node:http');
    // Takes the request and never answers.
    const stalled = createServer(() => undefined);
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const address = stalled.address() as { port: number };
    const stalledApi = new GitLabApi(`http://127.0.0.1:${address.port}`, undefined, () => undefined);
    try {
      const stop = new AbortController();
      setTimeout(() => stop.abort(), 200);
      const lines: ArtifactLogEntry[] = [];
      const result = await uploadArtifact(stalledApi, 1, 'job-token-stalled', file, { ...FAST, signal: stop.signal }, (entry) => lines.push(entry));
      assert.equal(result.state, 'canceled');
      assert.equal(result.ok, false);
      assert.ok(!lines.some((entry) => entry.message === 'Retrying...'), 'no retry after the stop');
      const download = await downloadArtifacts(
        stalledApi,
        1,
        'job-token-stalled',
        join(dir, 'never.zip'),
        { retryDelayMs: 5, signal: stop.signal },
        () => undefined,
      );
      assert.equal(download.state, 'canceled');
    } finally {
      stalledApi.close();
      stalled.closeAllConnections();
      stalled.close();
    }
  });
});
