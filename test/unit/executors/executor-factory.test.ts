// The executor factory (src/executors/executors.ts): a docker runner's executor is known at once
// and its code loads on first use, but a daemon address its client cannot use fails as the
// runner is made - at start and in `runner verify` - not in each job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.ts';
import type { RunnerConfig } from '../../../src/config/types.ts';
import { executorFactory } from '../../../src/executors/executors.ts';

function dockerRunner(host?: string): RunnerConfig {
  const hostLine = host === undefined ? '' : `host = ${JSON.stringify(host)}\n`;
  const { config } = parseConfigText(`[[runners]]\nname = "d"\nexecutor = "docker"\n[runners.docker]\n${hostLine}image = "alpine"\n`, 'c.toml');
  return config.runners[0]!;
}

/** Runs `body` with the environment variables `values` set (undefined: unset), then restores them. */
function withEnvironment(values: Record<string, string | undefined>, body: () => void): void {
  const saved = Object.fromEntries(Object.keys(values).map((key) => [key, process.env[key]]));
  const apply = (entries: Record<string, string | undefined>): void => {
    for (const [key, value] of Object.entries(entries)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(values);
  try {
    body();
  } finally {
    apply(saved);
  }
}

test('a docker runner is made with what jobs see of it, before its code is loaded', () => {
  const executor = executorFactory('/tmp').create(dockerRunner('unix:///var/run/no-such-docker.sock'));
  assert.equal(executor.info.name, 'docker');
  assert.equal(executor.info.image, true);
  assert.equal(executor.buildsDir, '/builds');
});

test('a daemon address the client cannot use fails when the runner is made, naming it', () => {
  // The config's own check reads only the runner's `host`; DOCKER_HOST and DOCKER_TLS_VERIFY come from the environment.
  withEnvironment({ DOCKER_HOST: 'https://docker.example:2376', DOCKER_TLS_VERIFY: undefined }, () => {
    assert.throws(() => executorFactory('/tmp').create(dockerRunner()), /Docker host "https:\/\/docker\.example:2376" asks for TLS/);
  });
  withEnvironment({ DOCKER_HOST: undefined, DOCKER_TLS_VERIFY: '1' }, () => {
    assert.throws(() => executorFactory('/tmp').create(dockerRunner('tcp://docker.example:2376')), /asks for TLS \(DOCKER_TLS_VERIFY is set\)/);
  });
  withEnvironment({ DOCKER_HOST: 'http://docker.example:2375/path', DOCKER_TLS_VERIFY: undefined }, () => {
    assert.throws(() => executorFactory('/tmp').create(dockerRunner()), /invalid Docker host .*no path, query or user/);
  });
});
