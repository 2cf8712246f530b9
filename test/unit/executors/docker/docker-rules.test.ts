// GitLab Runner's rules the docker executor follows, without a daemon: names,
// labels and aliases, allowed_images matching, pull policies, failure
// classification, health-check ports, and the job cgroup's figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrepareError } from '../../../../src/job/executor.ts';
import { effectivePolicies, isAllowed, pullFailureReason, refuseImage } from '../../../../src/executors/docker/images.ts';
import { JobCgroup } from '../../../../src/executors/docker/job-cgroup.ts';
import { containerName, jobLabels, pullReference, rfc1123, serviceAliases, splitImageName } from '../../../../src/executors/docker/naming.ts';
import { healthPorts, serviceEnvironment, serviceSuffix, startingLine } from '../../../../src/executors/docker/services.ts';

const job = { shortToken: 'AbC_12345', systemId: 's_1', runnerName: 'r', jobId: '42', projectId: 7, concurrentProjectId: 0, random: '0123456789abcdef' };

test("names follow GitLab Runner: RFC 1123 project names, the job's random part, the kind last", () => {
  assert.equal(rfc1123('Runner-AbC_123--'), 'runner-abc123');
  assert.equal(containerName(job, 'build'), 'runner-abc12345-project-7-concurrent-0-0123456789abcdef-build');
  assert.equal(jobLabels(job, 'build')['com.gitlab.gitlab-runner.job.id'], '42');
  assert.equal(jobLabels(job, 'build')['com.gitlab.gitlab-runner.runner.id'], 'AbC_12345');
  assert.equal(jobLabels(job, 'service')['com.gitlab.gitlab-runner.type'], 'service');
});

test("service aliases: `/` as `__` and `-`, registry port and tag dropped, then the job's own", () => {
  assert.deepEqual(serviceAliases('tutum/wordpress:latest', []), ['tutum__wordpress', 'tutum-wordpress']);
  assert.deepEqual(serviceAliases('registry.example.com:5000/a/b:1', ['db']), ['registry.example.com__a__b', 'registry.example.com-a-b', 'db']);
  assert.deepEqual(serviceAliases('postgres', ['postgres', 'pg']), ['postgres', 'pg']);
  assert.deepEqual(splitImageName('postgres@sha256:abc'), { service: 'postgres', version: 'sha256:abc' });
  assert.equal(startingLine('redis:7'), 'Starting service redis:7...');
  assert.equal(startingLine('redis'), 'Starting service redis:latest...');
  assert.equal(serviceSuffix('tutum/wordpress:latest', 1), 'tutum__wordpress-1');
  assert.equal(pullReference('alpine'), 'alpine:latest');
  assert.equal(pullReference('localhost:5000/a'), 'localhost:5000/a:latest');
  assert.equal(pullReference('a@sha256:1'), 'a@sha256:1');
});

test("allowed_images: doublestar globs on the name as written; the runner's own image always passes", () => {
  assert.ok(isAllowed('anything', []));
  assert.ok(isAllowed('ruby:3.3', ['ruby:*']));
  assert.ok(!isAllowed('ruby', ['ruby:*']), 'no normalising to ruby:latest');
  assert.ok(!isAllowed('library/ruby:3', ['*:*']), '* does not cross /');
  assert.ok(isAllowed('registry.example.com/a/b:1', ['registry.example.com/**']));
  assert.ok(isAllowed('mine:1', ['ruby:*'], ['mine:1']));
  const lines: string[] = [];
  const error = refuseImage('alpine:3', 'images', ['ruby:*'], (line) => lines.push(`${line.level}:${line.text}`));
  assert.deepEqual(lines, [
    'info:',
    'error:The "alpine:3" image is not present on list of allowed images:',
    'info:- ruby:*',
    'info:',
    "info:Please check runner's allowed_images configuration: https://docs.gitlab.com/runner/configuration/advanced-configuration/",
  ]);
  assert.equal(error.message, 'disallowed image');
  assert.equal(error.reason, 'runner_system_failure');
});

test("pull policies: the job's within allowed_pull_policies (by default the runner's), else GitLab's configuration error", () => {
  const runner = { pullPolicy: ['always'] as const, allowedPullPolicies: [] as const };
  assert.deepEqual(effectivePolicies('a', [], runner), ['always']);
  assert.throws(() => effectivePolicies('alpine', ['if-not-present'], runner), (error: unknown) => {
    assert.ok(error instanceof PrepareError);
    assert.equal(error.reason, 'runner_configuration_error');
    assert.equal(
      error.message,
      'invalid pull policy for image "alpine": pull_policy ([if-not-present]) defined in GitLab pipeline config is not one of the allowed_pull_policies ([always])',
    );
    return true;
  });
  assert.deepEqual(effectivePolicies('a', ['never', 'always'], { pullPolicy: ['always'], allowedPullPolicies: ['always', 'never'] }), ['never', 'always']);
  assert.equal(pullFailureReason('pull access denied for x, repository does not exist'), 'runner_configuration_error');
  assert.equal(pullFailureReason('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'), 'runner_system_failure');
  assert.equal(pullFailureReason('unexpected EOF'), 'image_pull_failure');
});

test('services: waited for on HEALTHCHECK_TCP_PORT or the lowest 20 exposed ports; given the public variables, never a masked, project or file one', () => {
  assert.deepEqual(healthPorts(['healthcheck_tcp_port=8080'], [5432]), [8080]);
  assert.deepEqual(healthPorts([], [6379, 80]), [80, 6379]);
  assert.equal(healthPorts([], Array.from({ length: 30 }, (_, i) => 1000 + i)).length, 20);
  const env = serviceEnvironment(
    [
      { key: 'CI_JOB_ID', value: '1', masked: false },
      { key: 'POSTGRES_PASSWORD', value: 'from .gitlab-ci.yml', masked: false, public: true },
      { key: 'CI_JOB_TOKEN', value: 'secret', masked: true },
      { key: 'PROJECT_SECRET', value: 'x', masked: false, public: false },
      { key: 'CI_REPOSITORY_URL', value: 'https://gitlab-ci-token:t@gitlab.example/g/p.git', masked: false, public: false },
      { key: 'CA', value: '-----BEGIN', masked: false, file: true },
    ],
    ['POSTGRES_DB=app'],
  );
  assert.deepEqual(env, ['CI_JOB_ID=1', 'POSTGRES_PASSWORD=from .gitlab-ci.yml', 'POSTGRES_DB=app']);
});

test("a job cgroup's figures are read from cgroup v1 or v2 files, and absent where there are none", () => {
  const root = mkdtempSync(join(tmpdir(), 'runner-cgroup-'));
  try {
    const v1 = new JobCgroup('j1', root);
    assert.equal(v1.read(), undefined, 'no cgroup: no figures, not zeros');
    mkdirSync(join(root, 'cpuacct', 'ci-runner', 'j1'), { recursive: true });
    mkdirSync(join(root, 'memory', 'ci-runner', 'j1'), { recursive: true });
    writeFileSync(join(root, 'cpuacct', 'ci-runner', 'j1', 'cpuacct.usage'), '2500000000\n');
    writeFileSync(join(root, 'memory', 'ci-runner', 'j1', 'memory.max_usage_in_bytes'), '1048576\n');
    assert.deepEqual(v1.read(), { cpuSeconds: 2.5, peakRssBytes: 1048576, measuredBy: 'cgroup' });
    const v2 = new JobCgroup('j2', root);
    mkdirSync(join(root, 'ci-runner', 'j2'), { recursive: true });
    writeFileSync(join(root, 'ci-runner', 'j2', 'cpu.stat'), 'usage_usec 1500000\nuser_usec 1000000\n');
    writeFileSync(join(root, 'ci-runner', 'j2', 'memory.peak'), '2097152\n');
    assert.deepEqual(v2.read(), { cpuSeconds: 1.5, peakRssBytes: 2097152, measuredBy: 'cgroup' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
