// A runner SIGKILLed in the middle of a docker job leaves its containers and
// network behind; the next start of the same runner (same directory: same
// system id and token) removes them before it takes a job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../../../src/executors/docker/engine.ts';
import { dockerAvailable, testDockerHost } from '../../support/docker.ts';
import { logText, startGitLabRunner, withoutSources } from '../gitlab/harness.ts';

const skip = await dockerAvailable(['runner-test/sh:1']);
const RUNNER = ['executor = "docker"', '[runners.docker]', `host = "${testDockerHost()}"`, 'image = "runner-test/sh:1"', 'pull_policy = "if-not-present"', '']
  .join('\n');
const JOB_LABEL = 'com.gitlab.gitlab-runner.job.id';

test('containers and networks a SIGKILLed runner left are removed when it starts again', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-docker-leftovers-'));
  const engine = new DockerEngine(testDockerHost());
  try {
    const first = await startGitLabRunner({ dir, runner: RUNNER });
    const queued = first.coordinator.enqueueJob(withoutSources({ name: 'long', script: ['echo started', 'while :; do echo tick; sleep 1; done'] }));
    await first.coordinator.waitFor('the script to start', () => logText(first.coordinator.job(queued.id).trace).includes('started') || undefined, 60_000);
    const labels = { [JOB_LABEL]: String(queued.id) };
    await first.runner.stop('SIGKILL');
    assert.equal((await engine.containerList({ labels, all: true })).length, 1, 'the killed runner left its build container');
    assert.equal((await engine.networkList({ labels })).length, 1, 'and its network');
    await first.coordinator.close();

    const second = await startGitLabRunner({ dir, runner: RUNNER });
    try {
      // The sweep removes the containers, then the networks they were on: wait for both.
      const left = async (): Promise<number> => (await engine.containerList({ labels, all: true })).length + (await engine.networkList({ labels })).length;
      const deadline = Date.now() + 30_000;
      while ((await left()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await engine.containerList({ labels, all: true }), [], 'the leftover container is gone');
      assert.deepEqual(await engine.networkList({ labels }), [], 'and the network');
    } finally {
      await second.close();
    }
  } finally {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
