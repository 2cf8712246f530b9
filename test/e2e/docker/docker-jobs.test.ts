// The docker executor through the test coordinator, as GitLab jobs run: an
// image with bash and one with only sh, a service reachable by its aliases, a
// service that never opens its port, pull policies, allowed_images, cancel,
// timeout, artifacts and cache through the container, and the job's CPU and
// memory from its containers' cgroup. A real dockerd runs the containers
// (skipped with a reason where none answers; CI starts one).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerEngine } from '../../../src/executors/docker/engine.ts';
import { join } from 'node:path';
import { type CoordinatorJob, createGitRepository, type JobSpec } from '../../support/coordinator/coordinator.ts';
import { dockerAvailable, testDockerHost } from '../../support/docker.ts';
import { finished, logLines, logText, runJob, sharedGitLabRunner, withoutSources } from '../gitlab/harness.ts';

const IMAGES = ['runner-test/sh:1', 'runner-test/bash:1', 'runner-test/kv:1', 'runner-test/mute:1'];
const skip = await dockerAvailable(IMAGES);

const JOB_LABEL = 'com.gitlab.gitlab-runner.job.id';

const shared = sharedGitLabRunner({
  runner: [
    'executor = "docker"',
    'cache_dir = "cache"',
    '[runners.docker]',
    `host = "${testDockerHost()}"`,
    'image = "runner-test/sh:1"',
    'pull_policy = ["if-not-present"]',
    'allowed_images = ["runner-test/*"]',
    'allowed_pull_policies = ["if-not-present", "never"]',
    'wait_for_services_timeout = 4',
    '',
  ].join('\n'),
});
after(() => shared.close());

async function run(spec: JobSpec, timeoutMs = 90_000): Promise<CoordinatorJob> {
  const s = await shared.get();
  return runJob(s.coordinator, withoutSources(spec), timeoutMs);
}

/** The job's containers the daemon still has. */
async function containersOf(job: CoordinatorJob): Promise<string[]> {
  const engine = new DockerEngine(testDockerHost());
  try {
    return (await engine.containerList({ labels: { [JOB_LABEL]: String(job.id) }, all: true })).map((c) => c.names[0] ?? c.id);
  } finally {
    engine.close();
  }
}

test('a job in an image with bash runs its script with bash, in /builds/<group>/<project>, and says which image ran', { skip }, async () => {
  const job = await run({
    name: 'bash',
    projectPath: 'group/project',
    script: [
      'echo "bash=$BASH_VERSION"',
      'echo "dir=$CI_PROJECT_DIR pwd=$(pwd)"',
      'echo "builds=$CI_BUILDS_DIR disposable=$CI_DISPOSABLE_ENVIRONMENT"',
      // The container's own environment (what docker inspect shows) holds no masked value; the script has it.
      'echo "in container env: $(tr "\\0" "\\n" < /proc/1/environ | grep -c ^DEPLOY_KEY=)"',
      'test "$DEPLOY_KEY" = "deploy-key-0123456789" && echo "script has the secret"',
    ],
    variables: [{ key: 'DEPLOY_KEY', value: 'deploy-key-0123456789', masked: true }],
    extra: { image: { name: 'runner-test/bash:1' } },
  });
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', logText(job.trace));
  assert.ok(lines.includes('Using Docker executor with image runner-test/bash:1 ...'), lines.join('\n'));
  assert.ok(lines.some((l) => /^Using docker image sha256:[0-9a-f]{64} for runner-test\/bash:1 \.\.\.$/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /^bash=5\.\d/.test(l)), lines.join('\n'));
  assert.ok(lines.includes('dir=/builds/group/project pwd=/builds/group/project'), lines.join('\n'));
  assert.ok(lines.includes('builds=/builds disposable=true'), lines.join('\n'));
  assert.ok(lines.includes('in container env: 0'), lines.join('\n'));
  assert.ok(lines.includes('script has the secret'), lines.join('\n'));
  assert.ok(!logText(job.trace).includes('deploy-key-0123456789'), 'masked in the log');
  assert.deepEqual(await containersOf(job), [], 'the containers are removed after the job');
});

test("a job in an image with only sh runs with sh; a job without image gets the runner's", { skip }, async () => {
  const job = await run({ name: 'sh', script: ['test -z "$BASH_VERSION" && echo "no bash here"', 'cat /etc/hostname'] });
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', logText(job.trace));
  assert.ok(lines.includes('Using default image'), lines.join('\n'));
  assert.ok(lines.includes('Using Docker executor with image runner-test/sh:1 ...'), lines.join('\n'));
  assert.ok(lines.includes('no bash here'), lines.join('\n'));
  assert.ok(lines.some((l) => /^runner-test-runn-project-\d+-concurrent-\d+$/.test(l)), `the build container's host name: ${lines.join('\n')}`);
  assert.ok(
    lines.some((l) => /^Running on runner-test-runn-project-\d+-concurrent-\d+ via \S+\.\.\.$/.test(l)),
    `GitLab's prepare line names the container and the runner's host: ${lines.join('\n')}`,
  );
});

test('a service is reachable by its alias and by the names GitLab derives from its image', { skip }, async () => {
  const job = await run({
    name: 'service',
    script: [
      'printf "SET greeting hello\\nQUIT\\n" | nc db 6379',
      'printf "GET greeting\\nQUIT\\n" | nc runner-test__kv 6379',
      'printf "PING\\nQUIT\\n" | nc runner-test-kv 6379',
    ],
    extra: { services: [{ name: 'runner-test/kv:1', alias: 'db' }] },
  });
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', logText(job.trace));
  assert.ok(lines.includes('Starting service runner-test/kv:1...'), lines.join('\n'));
  assert.ok(lines.includes('Waiting for services to be up and running (timeout 4 seconds)...'), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('probably didn')), lines.join('\n'));
  assert.deepEqual(lines.filter((l) => ['OK', 'hello', 'PONG'].includes(l)), ['OK', 'hello', 'PONG']);
  assert.deepEqual(await containersOf(job), []);
});

test("a service that never opens its port gets GitLab's warning, and the job still runs", { skip }, async () => {
  const job = await run({ name: 'mute', script: ['echo still running'], extra: { services: [{ name: 'runner-test/mute:1' }] } });
  const text = logText(job.trace);
  assert.equal(job.state, 'success', text);
  const lines = logLines(job.trace);
  assert.ok(
    lines.some((l) =>
      /^\*\*\* WARNING: Service runner-test-runn-project-\d+-concurrent-\d+-[0-9a-f]{16}-runner-test__mute-0 probably didn't start properly\.$/.test(l)
    ),
    text,
  );
  assert.match(text, /Health check error:\n.*service ".*-wait-for-service" timeout/);
  assert.ok(lines.includes('still running'));
});

test("pull_policy never with an image the host lacks fails the job with GitLab's error", { skip }, async () => {
  const job = await run({ name: 'never', script: ['true'], extra: { image: { name: 'runner-test/missing:1', pull_policy: ['never'] } } });
  const text = logText(job.trace);
  assert.equal(job.state, 'failed', text);
  assert.equal(job.failureReason, 'runner_system_failure');
  assert.match(text, /WARNING: Failed to pull image with policy "never": Error response from daemon: No such image: runner-test\/missing:1/);
  assert.match(text, /ERROR: Job failed \(system failure\): failed to pull image "runner-test\/missing:1" with specified policies \[never\]/);
});

test("an image outside allowed_images is refused with GitLab's message", { skip }, async () => {
  const job = await run({ name: 'refused', script: ['true'], extra: { image: { name: 'alpine:3' } } });
  const lines = logLines(job.trace);
  assert.equal(job.state, 'failed', lines.join('\n'));
  assert.equal(job.failureReason, 'runner_system_failure');
  assert.ok(lines.includes('ERROR: The "alpine:3" image is not present on list of allowed images:'), lines.join('\n'));
  assert.ok(lines.includes('- runner-test/*'), lines.join('\n'));
  assert.ok(lines.includes('ERROR: Job failed (system failure): disallowed image'), lines.join('\n'));
});

test('a canceled job stops its container, runs after_script, and leaves no container', { skip }, async () => {
  const s = await shared.get();
  // Output every second: the runner learns of a cancel from the coordinator's answer to its next log update.
  const queued = s.coordinator.enqueueJob(
    withoutSources({ name: 'cancel', script: ['echo started', 'while :; do echo tick; sleep 1; done'], afterScript: ['echo after'] }),
  );
  await s.coordinator.waitFor('the script to start', () => logText(s.coordinator.job(queued.id).trace).includes('started') || undefined, 60_000);
  s.coordinator.cancel(queued.id);
  const job = await finished(s.coordinator, queued, 60_000);
  assert.equal(job.state, 'canceled', logText(job.trace));
  assert.ok(logLines(job.trace).includes('after'), logText(job.trace));
  assert.deepEqual(await containersOf(job), []);
});

test('a job past its timeout is stopped as timed out', { skip }, async () => {
  const job = await run({ name: 'timeout', script: ['sleep 300'], timeoutSeconds: 3 });
  assert.equal(job.state, 'failed', logText(job.trace));
  assert.equal(job.failureReason, 'job_execution_timeout');
  assert.deepEqual(await containersOf(job), []);
});

test('artifacts and cache pass through the container: made in one job, found in the next', { skip }, async () => {
  const cache = [{ key: 'deps', paths: ['deps/'], policy: 'pull-push', when: 'on_success', untracked: false }];
  const produce = await run({
    name: 'produce',
    script: ['mkdir -p out deps', 'echo made-in-container > out/file.txt', 'echo cached > deps/c.txt'],
    artifacts: [{ name: null, untracked: false, paths: ['out/'], when: 'on_success', expire_in: null, artifact_type: 'archive', artifact_format: 'zip' }],
    extra: { cache },
  });
  assert.equal(produce.state, 'success', logText(produce.trace));
  const s = await shared.get();
  assert.equal(s.coordinator.artifactUploads.filter((upload) => upload.jobId === produce.id).length, 1);
  const consume = await run({ name: 'consume', script: ['cat out/file.txt', 'cat deps/c.txt', 'ls /cache'], dependencies: [produce.id], extra: { cache } });
  const lines = logLines(consume.trace);
  assert.equal(consume.state, 'success', lines.join('\n'));
  assert.ok(lines.includes('made-in-container'), lines.join('\n'));
  assert.ok(lines.includes('Successfully extracted cache'), lines.join('\n'));
  assert.ok(lines.includes('cached'), lines.join('\n'));
});

test("a container job's CPU and peak memory come from its cgroup, in the log and in the metrics", { skip }, async () => {
  const s = await shared.get();
  // 200 MB held at once (tail keeps the one endless line), and a fixed amount of hashing.
  const job = await run({ name: 'burn', script: ['head -c 200000000 /dev/zero | tail -n 1 | wc -c', 'head -c 100000000 /dev/zero | sha256sum'] });
  const text = logText(job.trace);
  assert.equal(job.state, 'success', text);
  const used = /^Job used (\d+\.\d\d) s of CPU, peak memory (\d+\.\d) MiB \(the job's containers' cgroup, services included\)$/m.exec(text);
  assert.ok(used, text);
  assert.ok(Number(used[2]) >= 190 && Number(used[2]) < 2048, `peak memory ${used[2]} MiB`);
  assert.ok(Number(used[1]) > 0.2 && Number(used[1]) < 60, `cpu ${used[1]} s`);
  const metrics = await (await fetch(`${s.runner.url}/metrics`)).text();
  assert.match(metrics, /ci_runner_job_peak_rss_bytes_count\{runner="gitlab"\} [1-9]/);
  assert.match(metrics, /ci_runner_docker_image_pull_duration_seconds_count\{runner="gitlab",pull_policy="if-not-present",result="local"\} [1-9]/);
  assert.match(metrics, /ci_runner_docker_container_start_duration_seconds_count\{runner="gitlab",type="build"\} [1-9]/);
  assert.match(metrics, /ci_runner_docker_containers_running\{runner="gitlab",type="build"\} 0\b/);
});

test("the checkout runs on the runner's host without the job's hooks or variables; the image needs no git", { skip }, async () => {
  const s = await shared.get();
  const repository = createGitRepository(join(s.dir, 'repos', 'checkout'), { 'a.txt': 'from the repository\n' });
  const job = await runJob(s.coordinator, {
    name: 'checkout',
    repository,
    script: ['cat a.txt', 'command -v git || echo "no git in this image"'],
    // A job variable git would act on, and hooks that would run on the host.
    variables: [{ key: 'GIT_TRACE', value: '1' }],
    hooks: [{ name: 'pre_get_sources_script', script: ['echo "job hook ran"'] }],
  }, 90_000);
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  assert.ok(lines.includes('from the repository'), lines.join('\n'));
  assert.ok(lines.includes('no git in this image'), lines.join('\n'));
  assert.ok(
    lines.includes(
      "WARNING: hooks:pre_get_sources_script and hooks:post_get_sources_script are not run: this executor fetches the sources on the runner's host",
    ),
    lines.join('\n'),
  );
  assert.ok(!lines.includes('job hook ran'), lines.join('\n'));
  assert.ok(!lines.some((l) => /trace: (built-in|exec|run_command)/.test(l)), `GIT_TRACE reached git on the host: ${lines.join('\n')}`);
});
