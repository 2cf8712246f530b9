// The runner against a test coordinator that follows GitLab's Runner API v4
// (test/support/coordinator/), driven through the real CLI: the job's log as
// GitLab Runner frames it, results, cancel, a log that survives 416s and
// outages, a clone with the job token, rejected tokens, TLS and proxies,
// shutdown. The protocol's details, the job's variables, its build
// directory, git and timeouts have files of their own (gitlab-*.test.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGitRepository, TestCoordinator } from '../../support/coordinator/coordinator.ts';
import { runCli, startRunner } from '../../support/runner-process.ts';
import { assertPromtoolAccepts, promtool } from '../../support/promtool.ts';
import { skipUnless } from '../../support/tools.ts';
import { selfSignedCertificate } from '../../support/tls.ts';
import {
  finished,
  gitlabConfig,
  type GitLabRunner,
  logLines,
  logText,
  runJob,
  RUNNER_TOKEN,
  sharedGitLabRunner,
  SHORT_TOKEN,
  startGitLabRunner,
  startRunnerWithoutGitCaVariable,
  withoutSources,
} from './harness.ts';

const gitSkip = skipUnless('git', 'git');
const promtoolSkip = skipUnless('promtool', 'prometheus');
const opensslSkip = skipUnless('openssl', 'openssl', 'version');

const config = (coordinator: TestCoordinator, extra = ''): string => gitlabConfig(coordinator.url, { runner: extra });

/** One runner for the tests that only run jobs. */
const shared = sharedGitLabRunner();
after(() => shared.close());

/** Every secret the tests hand out must stay out of the runner's own log and its debug output. */
async function assertNoSecrets(setup: GitLabRunner, secrets: readonly string[]): Promise<void> {
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

test('a passing job: the log framed as GitLab Runner frames it, with script output, masked and file variables, and warnings', async () => {
  const s = await shared.get();
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
  const raw = done.trace.toString('utf8');
  const lines = logLines(done.trace);
  // Every line carries GitLab Runner's time prefix (FF_TIMESTAMPS is on by default): 00 the runner's, 01 the script's.
  for (const line of raw.split('\n').slice(0, -1)) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z 0[01]O[ +]/);
  assert.match(lines[0]!, /^Running with runner \S+ \(\S+\)$/);
  assert.match(lines[1]!, new RegExp(`^  on gitlab ${SHORT_TOKEN}, system ID: s_[0-9a-f]{12}$`));
  assert.equal(lines[2], 'Preparing the "shell" executor');
  assert.equal(lines[3], 'Using Shell (bash) executor...');
  // Stages in sections (the payload has features.trace_sections), each with its cyan title.
  // deno-lint-ignore no-control-regex -- the section marker's escape is what this matches
  const sections = [...raw.matchAll(/section_start:\d+:(\w+)\r\x1b\[0K/g)].map((m) => m[1]);
  assert.deepEqual(sections, [
    'prepare_executor',
    'prepare_script',
    'get_sources',
    'step_script',
    'after_script',
    'upload_artifacts_on_success',
    'cleanup_file_variables',
  ]);
  // `out/` matches nothing: GitLab's warning and error line, and the job still succeeds.
  assert.ok(lines.some((line) => line.trimEnd() === 'ERROR: No files to upload'), lines.join('\n'));
  assert.ok(raw.includes('\x1b[0K\x1b[36;1mExecuting "step_script" stage of the job script\x1b[0;m\x1b[0;m\n'), raw);
  assert.ok(raw.includes('\x1b[32;1m$ echo setup\x1b[0;m\n'), 'commands are announced in green');
  const text = logText(done.trace);
  assert.ok(text.includes('$ echo setup\nsetup\n'), text);
  assert.ok(text.includes('token=[MASKED]\n'), text);
  assert.ok(text.includes('password=[MASKED]\n'), text);
  assert.ok(text.includes(`ref=main job=${job.id}\n`), text);
  assert.match(text, /\ntools=\/\S+\/tools price=cost \$5 for \$CI_JOB_ID raw=\$CI_JOB_ID\n/);
  assert.ok(text.includes('Running after script...\n$ echo "after $CI_JOB_STATUS"\nafter success\n'), text);
  assert.match(text, /\nJob used \d+\.\d\d s of CPU/);
  assert.equal(lines.at(-1), 'Job succeeded');
  assert.ok(raw.endsWith('\x1b[32;1mJob succeeded\x1b[0;m\n'));
  assert.ok(!raw.includes('sup3r-s3cret'), 'masked value in the trace');
  assert.ok(!raw.includes(job.token), 'job token in the trace');
  assert.equal(done.finalChecksumOk, true);
  assert.equal(done.finalBytesizeOk, true);
  const finals = done.updates.filter((u) => u.body['state'] === 'success');
  assert.deepEqual(finals.map((u) => u.status), [202, 202, 200], 'the final update is sent again after each 202');
  assert.equal(finals[0]!.body['exit_code'], undefined, 'GitLab Runner sends no exit_code 0');
  const features = done.runnerInfo?.features ?? {};
  assert.equal(features['cancel_gracefully'], true);
  assert.equal(done.runnerInfo?.executor, 'shell');
  await assertNoSecrets(s, [RUNNER_TOKEN, job.token, 'sup3r-s3cret']);
  const metrics = await (await fetch(`${s.runner.url}/metrics`)).text();
  assert.match(metrics, /ci_runner_api_request_statuses_total\{runner="gitlab",endpoint="request_job",status="201",method="POST"\} \d+/);
  assert.match(metrics, /ci_runner_api_request_statuses_total\{runner="gitlab",endpoint="update_job",status="202",method="PUT"\} 2\b/);
  assert.match(metrics, /ci_runner_api_request_statuses_total\{runner="gitlab",endpoint="patch_trace",status="202",method="PATCH"\} \d+/);
  assert.match(metrics, /ci_runner_api_request_duration_seconds_count\{runner="gitlab",endpoint="request_job",status_class="2xx",method="POST"\} \d+/);
  assert.match(metrics, /ci_runner_request_concurrency\{runner="gitlab"\} [01]\b/);
  assert.match(metrics, /ci_runner_jobs_total\{runner="gitlab"\} [1-9]\d*\b/);
  // job_info's queue time, size and depth, as GitLab Runner reports them.
  assert.match(metrics, /^ci_runner_job_queue_duration_seconds_count\{runner="gitlab",project_jobs_running="\+Inf"\} [1-9]\d*$/m);
  assert.match(metrics, /^ci_runner_job_queue_duration_seconds_bucket\{runner="gitlab",project_jobs_running="\+Inf",le="3600"\} [1-9]\d*$/m);
  assert.match(metrics, /^ci_runner_job_queue_size\{runner="gitlab"\} 0$/m);
  assert.match(metrics, /^ci_runner_job_queue_depth\{runner="gitlab"\} 0$/m);
  if (promtoolSkip === false) {
    const lint = await promtool(['check', 'metrics'], metrics);
    assertPromtoolAccepts(metrics, lint.code, lint.output);
  }
});

test('with FF_TIMESTAMPS=false the log has no time prefixes: the bytes are exactly what the job and the runner wrote', async () => {
  const s = await shared.get();
  const done = await runJob(s.coordinator, withoutSources({ script: ['printf "a\\tb\\n"'], variables: [{ key: 'FF_TIMESTAMPS', value: 'false' }] }));
  assert.equal(done.state, 'success');
  const raw = done.trace.toString('utf8');
  assert.ok(raw.startsWith('\x1b[0KRunning with runner '), raw);
  assert.ok(raw.includes('  feature flags: FF_TIMESTAMPS:false\x1b[0;m\n'), raw);
  assert.ok(raw.includes('\x1b[32;1m$ printf "a\\tb\\n"\x1b[0;m\na\tb\n'), raw);
  assert.doesNotMatch(raw, /^\d{4}-\d\d-\d\dT/m);
});

test("a failing job reports failed, script_failure and its exit code, with GitLab's closing line", async () => {
  const s = await shared.get();
  const failed = await runJob(s.coordinator, withoutSources({ script: ['echo before', 'exit 3', 'echo never'], afterScript: ['echo "after $CI_JOB_STATUS"'] }));
  assert.equal(failed.state, 'failed');
  assert.equal(failed.failureReason, 'script_failure');
  assert.equal(failed.exitCode, 3);
  const lines = logLines(failed.trace);
  assert.ok(lines.includes('$ exit 3'));
  assert.ok(!lines.includes('never'));
  assert.ok(lines.includes('after failed'), 'after_script runs with CI_JOB_STATUS=failed');
  assert.equal(lines.at(-1), 'ERROR: Job failed: exit status 3');
  const final = failed.updates.at(-1)!.body;
  assert.equal(final['exit_code'], 3);
  assert.equal(final['failure_reason'], 'script_failure');
});

test('a cancel at the coordinator reaches a running job with the answer to its next log patch; after_script runs (canceling)', async () => {
  const s = await shared.get();
  const job = s.coordinator.enqueueJob(withoutSources({
    script: ['echo started', 'for i in $(seq 1 600); do echo "tick $i"; sleep 0.2; done'],
    afterScript: ['echo "cleanup $CI_JOB_STATUS"'],
  }));
  await s.coordinator.waitFor('the job to print', () => s.coordinator.job(job.id).trace.includes('tick 2'));
  s.coordinator.cancel(job.id);
  assert.equal(s.coordinator.job(job.id).state, 'canceling');
  const done = await finished(s.coordinator, job, 20_000);
  assert.equal(done.state, 'canceled');
  const lines = logLines(done.trace);
  assert.ok(lines.includes('cleanup canceled'), lines.join('\n'));
  assert.ok(lines.includes('WARNING: script canceled externally (UI, API)'), lines.join('\n'));
  assert.equal(lines.at(-1), 'ERROR: Job failed: canceled');
  assert.ok(!lines.includes('tick 600'));
  // The cancel came back as Job-Status on a trace PATCH: no keep-alive PUT was needed (those come every 30 s).
  assert.ok(!done.updates.some((u) => u.body['state'] === 'running'), 'no keep-alive');
  assert.match(s.runner.logs(), /Job canceled by the coordinator: running after_script/);
});

test('after a 416 and while the coordinator is away, the log resumes where the server is: no byte lost or doubled', async () => {
  const s = await shared.get();
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
  const lines = logLines(done.trace).filter((line) => line.startsWith('line '));
  assert.deepEqual(lines, Array.from({ length: 40 }, (_, i) => `line ${i + 1}`));
  assert.equal(done.finalChecksumOk, true);
  assert.equal(done.finalBytesizeOk, true);
});

test('a job clones its repository over HTTP with the job token, which never shows in the log nor in .git/config', { skip: gitSkip }, async () => {
  const s = await shared.get();
  const repo = createGitRepository(join(s.dir, 'repo'), { 'hello.txt': 'hello from the repository\n' });
  const job = await runJob(s.coordinator, {
    script: ['cat hello.txt', 'git rev-parse HEAD', 'git rev-parse --is-shallow-repository'],
    repository: repo,
    gitDepth: 1,
  });
  const text = logText(job.trace);
  assert.equal(job.state, 'success', text);
  assert.ok(text.includes('Fetching changes with git depth set to 1...\n'), text);
  assert.ok(text.includes(`Checking out ${repo.sha.slice(0, 8)} as detached HEAD (ref is main)...\n`), text);
  assert.ok(text.includes('hello from the repository\n'), text);
  assert.ok(text.includes(`${repo.sha}\n$ git rev-parse --is-shallow-repository\ntrue\n`), text);
  assert.ok(!job.trace.includes(job.token));
  // The token reaches git through a config file of the job's temporary directory, never the kept checkout's .git/config.
  const checkout = join(s.buildsDir, '0', 'group', 'repo');
  const gitConfig = readFileSync(join(checkout, '.git', 'config'), 'utf8');
  assert.ok(!gitConfig.includes(job.token) && !gitConfig.includes('gitlab-ci-token'), gitConfig);
  assert.ok(!existsSync(`${checkout}.tmp/.gitlab-runner.ext.conf`), 'the file with the token is gone after the job');
  // GitLab sends depth 0 (a full fetch) when the job sets GIT_DEPTH=0; the kept shallow clone is unshallowed.
  const full = await runJob(s.coordinator, {
    script: ['git rev-parse --is-shallow-repository'],
    repository: repo,
    gitDepth: 0,
    variables: [{ key: 'GIT_DEPTH', value: '0' }],
  });
  const fullText = logText(full.trace);
  assert.equal(full.state, 'success', fullText);
  assert.ok(fullText.includes('Fetching changes...\n'), fullText);
  assert.match(fullText, /\$ git rev-parse --is-shallow-repository\nfalse\n/, 'a full fetch unshallows the clone');
  await assertNoSecrets(s, [job.token, full.token, RUNNER_TOKEN]);
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
    // As GitLab Runner's verify: the token with the runner's system_id and info.
    const verified = coordinator.verifyRequests.at(-1)!;
    assert.match(String(verified['system_id']), /^[sr]_[0-9a-zA-Z]{12}$/);
    const info = verified['info'] as Record<string, unknown>;
    assert.equal(info['executor'], 'shell');
    assert.equal(typeof (info['features'] as Record<string, unknown>)['variables'], 'boolean');
    writeFileSync(join(dir, 'config.toml'), config(coordinator), { mode: 0o600 });
    assert.equal((await runCli(['verify'], { cwd: dir })).code, 0);
  } finally {
    await runner.stop('SIGTERM', 5_000);
    await coordinator.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM during a coordinator job reports it failed with runner_system_failure', async () => {
  const s = await startGitLabRunner();
  try {
    const job = s.coordinator.enqueueJob(withoutSources({ script: ['echo started', 'sleep 60'] }));
    await s.coordinator.waitFor('the job to print', () => s.coordinator.job(job.id).trace.includes('started'));
    const stopped = await s.runner.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.stderr);
    const done = s.coordinator.job(job.id);
    assert.equal(done.state, 'failed');
    assert.equal(done.failureReason, 'runner_system_failure');
  } finally {
    await s.close();
  }
});

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
  const runner = await startRunnerWithoutGitCaVariable(dir, { HTTPS_PROXY: proxy.url, NO_PROXY: '' });
  try {
    const repo = createGitRepository(join(dir, 'repo'), { 'a.txt': 'over tls\n' });
    const job = coordinator.enqueueJob({
      script: ['cat a.txt', 'cmp "$CI_SERVER_TLS_CA_FILE" ' + JSON.stringify(certFile) + ' && echo "same CA"'],
      repository: repo,
    });
    const done = await finished(coordinator, job);
    const trace = logText(done.trace);
    assert.equal(done.state, 'success', trace);
    assert.ok(trace.includes('over tls\n'), trace);
    assert.ok(trace.includes('same CA\n'), 'CI_SERVER_TLS_CA_FILE holds the tls-ca-file');
    assert.ok(proxy.tunnels.length > 0, 'the runner went through the proxy');
    // The coordinator's host went through the proxy (a Deno runner's own update check may add dl.deno.land).
    assert.ok(proxy.tunnels.includes(new URL(coordinator.url).host), `tunnels: ${proxy.tunnels.join(' ')} (coordinator ${coordinator.url})`);
  } finally {
    await runner.stop('SIGTERM', 5_000);
    await proxy.close();
    await coordinator.close();
    rmSync(dir, { recursive: true, force: true });
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
    await runner.stop('SIGTERM', 5_000);
    await coordinator.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stop cut short by shutdown_timeout still tells the coordinator the job failed', async () => {
  const s = await startGitLabRunner();
  try {
    writeFileSync(join(s.dir, 'config.toml'), gitlabConfig(s.coordinator.url, { global: 'concurrent = 4\ncheck_interval = 0.2\nshutdown_timeout = 2\n' }), {
      mode: 0o600,
    });
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
    await s.close();
  }
});
