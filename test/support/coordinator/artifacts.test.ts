// The test coordinator's artifact side: feature gating of reports jobs as
// GitLab does, dependencies as GitLab renders them, and the download's 404.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestCoordinator } from './coordinator.ts';
import { call, RUNNER_TOKEN } from './http-client.ts';

const junit = {
  name: 'junit.xml.gz',
  untracked: false,
  paths: ['report.xml'],
  when: 'always' as const,
  expire_in: null,
  artifact_type: 'junit',
  artifact_format: 'gzip',
};

describe('test coordinator: artifacts', () => {
  let coordinator: TestCoordinator;
  before(async () => {
    coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN] });
  });
  after(() => coordinator.close());

  const request = (features: Record<string, boolean>) =>
    call(`${coordinator.url}/api/v4/jobs/request`, { method: 'POST', body: { token: RUNNER_TOKEN, info: { features } } });

  it('drops a reports job as runner_unsupported for a runner without upload_multiple_artifacts, and hands it to one with it', async () => {
    const unsupported = coordinator.enqueueJob({ script: ['true'], artifacts: [junit] });
    const plain = coordinator.enqueueJob({ script: ['true'] });
    const first = await request({ artifacts: true });
    assert.equal(first.status, 201);
    assert.equal((first.json() as { id: number }).id, plain.id);
    assert.equal(coordinator.job(unsupported.id).state, 'failed');
    assert.equal(coordinator.job(unsupported.id).failureReason, 'runner_unsupported');
    const reports = coordinator.enqueueJob({ script: ['true'], artifacts: [junit] });
    const second = await request({ artifacts: true, upload_multiple_artifacts: true });
    assert.equal(second.status, 201);
    const payload = second.json() as { id: number; artifacts: unknown };
    assert.equal(payload.id, reports.id);
    assert.deepEqual(payload.artifacts, [junit]);
  });

  it('renders dependencies with artifacts_file only for a job that has an archive, and answers 404 without one', async () => {
    const build = coordinator.enqueueJob({ name: 'build', script: ['true'] });
    const test = coordinator.enqueueJob({ name: 'test', script: ['true'], dependencies: [build.id] });
    assert.equal((await request({})).status, 201);
    const second = await request({});
    const payload = second.json() as { dependencies: unknown };
    assert.deepEqual(payload.dependencies, [{ id: build.id, name: 'build', token: build.token }]);
    const missing = await call(`${coordinator.url}/api/v4/jobs/${build.id}/artifacts?job_token=${test.token}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), { message: '404 Not Found' });
    const denied = await call(`${coordinator.url}/api/v4/jobs/${build.id}/artifacts`, { headers: { 'JOB-TOKEN': 'glcbt-nope' } });
    assert.equal(denied.status, 403);
  });
});
