// The runner against a test coordinator that follows GitLab's Runner API v4
// (test/support/coordinator/), driven through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CoordinatorJob, createGitRepository, type JobSpec, TestCoordinator } from '../support/coordinator/coordinator.ts';
import { runCli, type RunningRunner, startRunner } from '../support/runner-process.ts';
import { assertPromtoolAccepts, promtool } from '../support/promtool.ts';
import { skipUnless } from '../support/tools.ts';
import { selfSignedCertificate } from '../support/tls.ts';

const RUNNER_TOKEN = 'glrt-test-runner-token-0123456789';
const gitSkip = skipUnless('git', 'git');

interface Setup {
  coordinator: TestCoordinator;
  runner: RunningRunner;
  dir: string;
}

function config(coordinator: TestCoordinator, extra = '', token = RUNNER_TOKEN): string {
  return `concurrent = 4\ncheck_interval = 0.2\nlog_level = "debug"\n\n[[runners]]\nname = "gitlab"\nurl = "${coordinator.url}"\ntoken = "${token}"\n${extra}`;
}

async function setup(extra = '', options: { token?: string; trace?: number } = {}): Promise<Setup> {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], traceUpdateIntervalSeconds: options.trace ?? 1 });
  const dir = mkdtempSync(join(tmpdir(), 'runner-gitlab-'));
  writeFileSync(join(dir, 'config.toml'), config(coordinator, extra, options.token), { mode: 0o600 });
  const runner = await startRunner([], { cwd: dir });
  return { coordinator, runner, dir };
}

async function teardown({ coordinator, runner }: Setup): Promise<void> {
  runner.kill();
  await coordinator.close();
}

/** A job without a repository: GitLab always sends one, the tests' coordinator serves none unless given, so skip get_sources. */
function withoutSources(spec: JobSpec): JobSpec {
  return { ...spec, variables: [{ key: 'GIT_STRATEGY', value: 'none' }, ...(spec.variables ?? [])] };
}

const promtoolSkip = skipUnless('promtool', 'prometheus');

function finished(coordinator: TestCoordinator, job: CoordinatorJob, timeoutMs = 30_000): Promise<CoordinatorJob> {
  return coordinator.waitFor(`job ${job.id} to finish (now ${job.state})`, () => {
    const now = coordinator.job(job.id);
    return ['success', 'failed', 'canceled'].includes(now.state) ? now : undefined;
  }, timeoutMs);
}

/** Every secret the tests hand out must stay out of the runner's own log and its debug output. */
async function assertNoSecrets(setup: Setup, secrets: readonly string[]): Promise<void> {
  const outputs = [
    setup.runner.logs(),
    await (await fetch(`${setup.runner.url}/debug/jobs/list`)).text(),
    await (await fetch(`${setup.runner.url}/metrics`)).text(),
    Buffer.from(await (await fetch(`${setup.runner.url}/debug/pprof/cmdline`)).arrayBuffer()).toString('utf8'),
  ];
  for (const secret of secrets) {
    for (const output of outputs) assert.ok(!output.includes(secret), `a secret leaked: ${output.slice(0, 300)}`);
  }
}

test('a passing job: script output, masked and file variables, and warnings reach the coordinator byte for byte', async () => {
  const s = await setup();
  try {
    s.coordinator.acceptFinalUpdateAfter(2);
    const job = s.coordinator.enqueueJob(withoutSources({
      name: 'build',
      beforeScript: ['echo setup'],
      script: [
        'echo "token=$API_TOKEN"',
        'cat "$SETTINGS"',
        'echo "ref=$CI_COMMIT_REF_NAME job=$CI_JOB_ID"',
        'echo "tools=$TOOLS price=$PRICE raw=$RAW_VALUE"',
        'test "$TOOLS" = "$CI_PROJECT_DIR/tools"',
      ],
      afterScript: ['echo "after $CI_JOB_STATUS"'],
      variables: [
        { key: 'API_TOKEN', value: 'sup3r-s3cret-api-token', masked: true },
        { key: 'SETTINGS', value: 'password=sup3r-s3cret-api-token\n', file: true },
        // Expanded as GitLab Runner does, from the whole environment (CI_PROJECT_DIR is the runner's); $$ is a $; raw is left alone.
        { key: 'TOOLS', value: '${CI_PROJECT_DIR}/tools' },
        { key: 'PRICE', value: 'cost $$5 for $$CI_JOB_ID' },
        { key: 'RAW_VALUE', value: '$CI_JOB_ID', raw: true },
      ],
      extra: { artifacts: [{ name: 'report', paths: ['out/'], when: 'on_success' }] },
    }));
    const done = await finished(s.coordinator, job);
    assert.equal(done.state, 'success');
    const trace = done.trace.toString('utf8');
    assert.match(trace, /^WARNING: this runner's shell executor does not support artifacts: ignored\n/);
    assert.ok(trace.includes('$ echo setup\nsetup\n'), trace);
    assert.ok(trace.includes('token=[MASKED]\n'), trace);
    assert.ok(trace.includes('password=[MASKED]\n'), trace);
    assert.ok(trace.includes(`ref=main job=${job.id}\n`), trace);
    assert.match(trace, /\ntools=\/\S+\/tools price=cost \$5 for \$CI_JOB_ID raw=\$CI_JOB_ID\n/);
    assert.ok(trace.includes('$ echo "after $CI_JOB_STATUS"\nafter success\n'), trace);
    assert.match(trace, /\[runner\] job used \d+\.\d\d s of CPU/);
    assert.ok(!trace.includes('sup3r-s3cret'), 'masked value in the trace');
    assert.ok(!trace.includes(job.token), 'job token in the trace');
    assert.equal(done.finalChecksumOk, true);
    assert.equal(done.finalBytesizeOk, true);
    const finals = done.updates.filter((u) => u.body['state'] === 'success');
    assert.deepEqual(finals.map((u) => u.status), [202, 202, 200], 'the final update is sent again after each 202');
    const features = done.runnerInfo?.features ?? {};
    assert.equal(features['cancel_gracefully'], true);
    assert.equal(features['artifacts'], false);
    assert.equal(done.runnerInfo?.executor, 'shell');
    await assertNoSecrets(s, [RUNNER_TOKEN, job.token, 'sup3r-s3cret']);
    const metrics = await (await fetch(`${s.runner.url}/metrics`)).text();
    assert.match(metrics, /ci_runner_api_request_statuses_total\{runner="gitlab",endpoint="request_job",status="201",method="POST"\} 1\b/);
    assert.match(metrics, /ci_runner_api_request_statuses_total\{runner="gitlab",endpoint="update_job",status="202",method="PUT"\} 2\b/);
    assert.match(metrics, /ci_runner_api_request_statuses_total\{runner="gitlab",endpoint="patch_trace",status="202",method="PATCH"\} \d+/);
    assert.match(metrics, /ci_runner_api_request_duration_seconds_count\{runner="gitlab",endpoint="request_job",status_class="2xx",method="POST"\} \d+/);
    assert.match(metrics, /ci_runner_request_concurrency\{runner="gitlab"\} [01]\b/);
    assert.match(metrics, /ci_runner_jobs_total\{runner="gitlab"\} 1\b/);
    if (promtoolSkip === false) {
      const lint = await promtool(['check', 'metrics'], metrics);
      assertPromtoolAccepts(metrics, lint.code, lint.output);
    }
  } finally {
    await teardown(s);
  }
});

test('a failing job reports failed, script_failure and its exit code; a timeout reports job_execution_timeout', async () => {
  const s = await setup();
  try {
    const failing = s.coordinator.enqueueJob(withoutSources({ script: ['echo before', 'exit 3', 'echo never'] }));
    const slow = s.coordinator.enqueueJob(withoutSources({ script: ['sleep 30'], timeoutSeconds: 1 }));
    const failed = await finished(s.coordinator, failing);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.failureReason, 'script_failure');
    assert.equal(failed.exitCode, 3);
    assert.match(failed.trace.toString('utf8'), /\$ exit 3\nERROR: Job failed: exit code 3\n/);
    const timedOut = await finished(s.coordinator, slow);
    assert.equal(timedOut.state, 'failed');
    assert.equal(timedOut.failureReason, 'job_execution_timeout');
    assert.match(timedOut.trace.toString('utf8'), /ERROR: Job failed: execution took longer than 1 seconds\n/);
  } finally {
    await teardown(s);
  }
});

test('a cancel at the coordinator stops the job within seconds, even a silent one; after_script runs (canceling)', async () => {
  const s = await setup('', { trace: 1 });
  try {
    const job = s.coordinator.enqueueJob(withoutSources({ script: ['echo started', 'sleep 120'], afterScript: ['echo "cleanup $CI_JOB_STATUS"'] }));
    await s.coordinator.waitFor('the job to print', () => s.coordinator.job(job.id).trace.includes('started'));
    // Silent now: only keep-alive updates tell the coordinator the job lives (and carry the cancel back).
    await s.coordinator.waitFor('a keep-alive', () => s.coordinator.job(job.id).updates.some((u) => u.body['state'] === 'running'), 10_000);
    s.coordinator.cancel(job.id);
    assert.equal(s.coordinator.job(job.id).state, 'canceling');
    const done = await finished(s.coordinator, job, 20_000);
    assert.equal(done.state, 'canceled');
    assert.match(done.trace.toString('utf8'), /cleanup canceled\n/);
    assert.match(s.runner.logs(), /Job canceled by the coordinator: running after_script/);
  } finally {
    await teardown(s);
  }
});

test('after a 416 and while the coordinator is away, the log resumes where the server is: no byte lost or doubled', async () => {
  const s = await setup();
  try {
    const job = s.coordinator.enqueueJob(withoutSources({
      script: ['for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done'],
    }));
    await s.coordinator.waitFor('some log', () => s.coordinator.job(job.id).trace.length > 0);
    s.coordinator.forceTraceMismatch(job.id);
    await s.coordinator.waitFor('a 416', () => s.coordinator.job(job.id).tracePatches.some((p) => p.status === 416));
    await s.coordinator.goAway();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await s.coordinator.comeBack();
    const done = await finished(s.coordinator, job);
    assert.equal(done.state, 'success');
    const lines = done.trace.toString('utf8').split('\n').filter((line) => line.startsWith('line '));
    assert.deepEqual(lines, Array.from({ length: 40 }, (_, i) => `line ${i + 1}`));
    assert.equal(done.finalChecksumOk, true);
    assert.equal(done.finalBytesizeOk, true);
  } finally {
    await teardown(s);
  }
});

test('a job clones its repository over HTTP with the job token, which never shows in the log', { skip: gitSkip }, async () => {
  const s = await setup('keep_builds_dir = true\n');
  try {
    const repo = createGitRepository(join(s.dir, 'repo'), { 'hello.txt': 'hello from the repository\n' });
    const job = s.coordinator.enqueueJob({
      script: ['cat hello.txt', 'git rev-parse HEAD', 'git rev-parse --is-shallow-repository'],
      repository: repo,
      gitDepth: 1,
    });
    const done = await finished(s.coordinator, job);
    const trace = done.trace.toString('utf8');
    assert.equal(done.state, 'success', trace);
    assert.ok(trace.includes('hello from the repository\n'), trace);
    assert.ok(trace.includes(`${repo.sha}\n$ git rev-parse --is-shallow-repository\ntrue\n`), trace);
    assert.ok(!trace.includes(job.token));
    // The token reaches git as a header, never its command line or the kept checkout's .git/config.
    const gitConfig = readFileSync(join(s.dir, 'builds', String(job.id), '.git', 'config'), 'utf8');
    assert.ok(!gitConfig.includes(job.token) && !gitConfig.includes('gitlab-ci-token'), gitConfig);
    assert.equal(statSync(join(s.dir, 'builds', String(job.id))).mode & 0o777, 0o700);
    const full = s.coordinator.enqueueJob({
      script: ['git rev-parse --is-shallow-repository'],
      repository: repo,
      variables: [{ key: 'GIT_DEPTH', value: '0' }],
    });
    const fullDone = await finished(s.coordinator, full);
    assert.equal(fullDone.state, 'success', fullDone.trace.toString('utf8'));
    assert.match(fullDone.trace.toString('utf8'), /\nfalse\n/, 'GIT_DEPTH=0 is a full clone');
    await assertNoSecrets(s, [job.token, RUNNER_TOKEN]);
  } finally {
    await teardown(s);
  }
});

test("a rejected token stops that runner's polling with one clear error; errors back off; verify tells valid from invalid", async () => {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN] });
  const dir = mkdtempSync(join(tmpdir(), 'runner-gitlab-'));
  const both = `${config(coordinator)}\n[[runners]]\nname = "revoked"\nurl = "${coordinator.url}"\ntoken = "glrt-revoked-token-hunter2"\n`;
  writeFileSync(join(dir, 'config.toml'), both, { mode: 0o644 });
  const runner = await startRunner([], { cwd: dir });
  try {
    assert.match(runner.logs(), /config\.toml holds runner tokens and is readable by every user \(mode 0644\): run chmod 600/);
    coordinator.failNext('request_job', 500, 3);
    const job = coordinator.enqueueJob(withoutSources({ script: ['echo ok'] }));
    assert.equal((await finished(coordinator, job)).state, 'success');
    // The 500s may have hit the other runner first: it backs off, then learns its token is rejected.
    await coordinator.waitFor('the rejected runner to stop', () => runner.logs().includes('Runner stops asking for jobs'), 20_000);
    const logs = runner.logs();
    assert.match(logs, /ERROR +Runner stops asking for jobs +runner=revoked error=".* rejected the runner's token \(403\)/);
    assert.match(logs, /WARN +Requesting a job failed +runner=gitlab .*answered 500/);
    assert.ok(!logs.includes('hunter2'), 'the token is not logged');
    const rejected = coordinator.jobRequests.filter((r) => r['token'] === 'glrt-revoked-token-hunter2').length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(coordinator.jobRequests.filter((r) => r['token'] === 'glrt-revoked-token-hunter2').length, rejected, 'no more requests with a rejected token');
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    assert.match(metrics, /ci_runner_api_request_statuses_total\{runner="revoked",endpoint="request_job",status="403",method="POST"\} 1\b/);
    assert.match(metrics, /ci_runner_errors_total\{level="error"\} [1-9]/);

    chmodSync(join(dir, 'config.toml'), 0o600);
    const verify = await runCli(['verify'], { cwd: dir });
    assert.equal(verify.code, 1, verify.stderr);
    assert.match(verify.stdout, /^valid +runner=gitlab url=http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(verify.stdout, /^INVALID +runner=revoked .*rejected the token \(403\)$/m);
    assert.ok(!verify.stdout.includes('hunter2') && !verify.stderr.includes('hunter2'));
    writeFileSync(join(dir, 'config.toml'), config(coordinator), { mode: 0o600 });
    assert.equal((await runCli(['verify'], { cwd: dir })).code, 0);
  } finally {
    runner.kill();
    await coordinator.close();
  }
});

test('SIGTERM during a coordinator job reports it failed with runner_system_failure', async () => {
  const s = await setup();
  try {
    const job = s.coordinator.enqueueJob(withoutSources({ script: ['echo started', 'sleep 60'] }));
    await s.coordinator.waitFor('the job to print', () => s.coordinator.job(job.id).trace.includes('started'));
    const stopped = await s.runner.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);
    const done = s.coordinator.job(job.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.failureReason, 'runner_system_failure');
  } finally {
    await teardown(s);
  }
});

const opensslSkip = skipUnless('openssl', 'openssl', 'version');

/** A minimal HTTPS proxy (CONNECT only), on raw sockets so it runs on every runtime; counts the tunnels it opened. */
async function startConnectProxy(): Promise<{ url: string; tunnels: string[]; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    sockets.add(client);
    let head = Buffer.alloc(0);
    const onData = (data: Buffer): void => {
      head = Buffer.concat([head, data]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const [method, target] = head.subarray(0, end).toString('latin1').split(' ');
      const [host, port] = (target ?? '').split(':');
      if (method !== 'CONNECT' || !host || !port) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
        return;
      }
      tunnels.push(target!);
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

test('https with a private CA (tls-ca-file), through HTTPS_PROXY; the job clones over https with the same CA', { skip: opensslSkip || gitSkip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-gitlab-tls-'));
  const { key, cert, certFile } = selfSignedCertificate(dir);
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], tls: { key, cert } });
  const proxy = await startConnectProxy();
  writeFileSync(join(dir, 'config.toml'), config(coordinator, `tls-ca-file = "${certFile}"\n`), { mode: 0o600 });
  const runner = await startRunner([], { cwd: dir, env: { HTTPS_PROXY: proxy.url, NO_PROXY: '' } });
  try {
    const repo = createGitRepository(join(dir, 'repo'), { 'a.txt': 'over tls\n' });
    const job = coordinator.enqueueJob({ script: ['cat a.txt'], repository: repo });
    const done = await finished(coordinator, job);
    const trace = done.trace.toString('utf8');
    assert.equal(done.state, 'success', trace);
    assert.ok(trace.includes('over tls\n'), trace);
    assert.ok(proxy.tunnels.length > 0, 'the runner went through the proxy');
    // The coordinator's host went through the proxy (a Deno runner's own update check may add dl.deno.land).
    assert.ok(proxy.tunnels.includes(new URL(coordinator.url).host), `tunnels: ${proxy.tunnels.join(' ')} (coordinator ${coordinator.url})`);
  } finally {
    runner.kill();
    await proxy.close();
    await coordinator.close();
  }
});

test('a tls-ca-file that cannot be read stops only that runner, with a one-line reason', async () => {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN] });
  const dir = mkdtempSync(join(tmpdir(), 'runner-gitlab-'));
  const https = config(coordinator).replace('http://', 'https://') + 'tls-ca-file = "/nonexistent/ca.pem"\n';
  writeFileSync(join(dir, 'config.toml'), `${https}\n[[runners]]\nname = "plain"\nurl = "${coordinator.url}"\ntoken = "${RUNNER_TOKEN}"\n`, { mode: 0o600 });
  const runner = await startRunner([], { cwd: dir });
  try {
    await coordinator.waitFor(
      'the broken runner to stop',
      () => /ERROR +Runner stops asking for jobs +runner=gitlab error="cannot read tls-ca-file \/nonexistent\/ca\.pem: ENOENT"/.test(runner.logs()),
      10_000,
    );
    const job = coordinator.enqueueJob(withoutSources({ script: ['echo fine'] }));
    assert.equal((await finished(coordinator, job)).state, 'success');
  } finally {
    runner.kill();
    await coordinator.close();
  }
});

test('a stop cut short by shutdown_timeout still tells the coordinator the job failed', async () => {
  const s = await setup('', {});
  try {
    writeFileSync(join(s.dir, 'config.toml'), config(s.coordinator).replace('concurrent = 4', 'concurrent = 4\nshutdown_timeout = 2'), { mode: 0o600 });
    process.kill(s.runner.pid, 'SIGHUP');
    await s.coordinator.waitFor('the reload', () => /Configuration reloaded/.test(s.runner.logs()), 10_000);
    const job = s.coordinator.enqueueJob(withoutSources({ script: ['echo started', 'sleep 60'], afterScript: ['sleep 30'] }));
    await s.coordinator.waitFor('the job to print', () => s.coordinator.job(job.id).trace.includes('started'));
    const stopped = await s.runner.stop('SIGTERM');
    assert.equal(stopped.code, 1, 'shutdown_timeout cut the stop short');
    const done = s.coordinator.job(job.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.failureReason, 'runner_system_failure');
  } finally {
    await teardown(s);
  }
});
