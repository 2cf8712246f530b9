// The runner CLI against the test coordinator, on the wire as GitLab Runner's
// network code is (network/gitlab.go, network/trace.go): the system_id kept
// beside config.toml and shown in the log header, the request's info and
// headers, the keep-alive PUT after 30 s without contact (which is how a
// silent job hears of a cancel), debug_trace and xtrace with CI_DEBUG_TRACE,
// a payload with nulls and unknown fields, and failure reasons mapped
// through the payload's features.failure_reasons.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CoordinatorJob, TestCoordinator } from '../../support/coordinator/coordinator.ts';
import { startRunner } from '../../support/runner-process.ts';
import { finished, gitlabConfig, logLines, logText, runJob, RUNNER_TOKEN, sharedGitLabRunner, SHORT_TOKEN, withoutSources } from './harness.ts';

const shared = sharedGitLabRunner();
after(() => shared.close());

/** GitLab Runner's forceSendInterval: a running job that sent nothing for this long gets a keep-alive PUT. */
const FORCE_SEND_INTERVAL_MS = 30_000;

/**
 * A silent job canceled at once, started by the first test: it can only hear
 * of the cancel from the keep-alive 30 s after its last log patch, which the
 * last test of the file waits for while the others run.
 */
let silent: CoordinatorJob | undefined;

test('a silent job is canceled at the coordinator (the last test sees how it hears of it)', async () => {
  const s = await shared.get();
  const job = s.coordinator.enqueueJob(withoutSources({ script: ['echo started', 'sleep 120'], afterScript: ['echo "after $CI_JOB_STATUS"'] }));
  await s.coordinator.waitFor('the job to print', () => s.coordinator.job(job.id).trace.includes('started'));
  s.coordinator.cancel(job.id);
  assert.equal(s.coordinator.job(job.id).state, 'canceling');
  silent = job;
});

test('system_id: made once, kept in .runner_system_id beside config.toml (0600, no newline), the same after a restart, in every job request and the log header', async () => {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN] });
  const dir = mkdtempSync(join(tmpdir(), 'runner-system-id-'));
  const idFile = join(dir, '.runner_system_id');
  const systemIds = (): unknown[] => [...new Set(coordinator.jobRequests.map((request) => request['system_id']))];
  try {
    writeFileSync(join(dir, 'config.toml'), gitlabConfig(coordinator.url), { mode: 0o600 });
    let runner = await startRunner([], { cwd: dir });
    await coordinator.waitFor('a job request', () => coordinator.jobRequests.length > 0);
    const id = readFileSync(idFile, 'utf8');
    assert.match(id, /^[sr]_[0-9a-zA-Z]{12}$/, 'the bare id, no newline');
    assert.equal(statSync(idFile).mode & 0o777, 0o600);
    assert.deepEqual(systemIds(), [id]);
    const job = await runJob(coordinator, withoutSources({ script: ['true'] }));
    assert.equal(logLines(job.trace)[1], `  on gitlab ${SHORT_TOKEN}, system ID: ${id}`);
    await runner.stop();

    runner = await startRunner([], { cwd: dir });
    const before = coordinator.jobRequests.length;
    await coordinator.waitFor('a request of the restarted runner', () => coordinator.jobRequests.length > before);
    assert.deepEqual(systemIds(), [id], 'the same id after a restart');
    await runner.stop();

    // A kept id is used as it is (GitLab Runner trims it); one that is not valid is replaced.
    writeFileSync(idFile, 'r_TestSystem01\n');
    runner = await startRunner([], { cwd: dir });
    const kept = await runJob(coordinator, withoutSources({ script: ['true'] }));
    assert.equal(logLines(kept.trace)[1], `  on gitlab ${SHORT_TOKEN}, system ID: r_TestSystem01`);
    assert.equal(coordinator.jobRequests.at(-1)!['system_id'], 'r_TestSystem01');
    await runner.stop();
    writeFileSync(idFile, 'not an id');
    runner = await startRunner([], { cwd: dir });
    const count = coordinator.jobRequests.length;
    await coordinator.waitFor('a request', () => coordinator.jobRequests.length > count);
    const fresh = readFileSync(idFile, 'utf8');
    assert.match(fresh, /^[sr]_[0-9a-zA-Z]{12}$/);
    assert.equal(coordinator.jobRequests.at(-1)!['system_id'], fresh);
    await runner.stop();
  } finally {
    await coordinator.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a job request: the runner token in RUNNER-TOKEN and the body, info as GitLab Runner declares it for the shell executor', async () => {
  const s = await shared.get();
  const job = await runJob(s.coordinator, withoutSources({ script: ['echo hi'] }));
  const request = s.coordinator.requests.find((r) => r.endpoint === 'request_job' && r.status === 201)!;
  assert.equal(request.headers['runner-token'], RUNNER_TOKEN);
  assert.match(request.headers['user-agent'] ?? '', /^runner \S+ \(\S+; (node|bun|deno) \S+; linux\/\w+\)$/);
  assert.match(request.headers['x-request-id'] ?? '', /^[0-9a-f]{32}$/);
  const info = job.runnerInfo!;
  assert.equal(info.name, 'runner');
  assert.equal(info.executor, 'shell');
  assert.equal(info.shell, 'bash');
  assert.equal(info.platform, 'linux');
  assert.deepEqual(info['config'], { gpus: '' });
  assert.deepEqual(Object.keys(info.features ?? {}), [
    'variables',
    'image',
    'services',
    'artifacts',
    'cache',
    'fallback_cache_keys',
    'shared',
    'upload_multiple_artifacts',
    'upload_raw_artifacts',
    'session',
    'terminal',
    'refspecs',
    'masking',
    'proxy',
    'raw_variables',
    'artifacts_exclude',
    'multi_build_steps',
    'trace_reset',
    'trace_checksum',
    'trace_size',
    'vault_secrets',
    'cancelable',
    'return_exit_code',
    'service_variables',
    'service_multiple_aliases',
    'image_executor_opts',
    'service_executor_opts',
    'cancel_gracefully',
    'native_steps_integration',
    'two_phase_job_commit',
    'job_inputs',
  ]);
  for (
    const key of [
      'variables',
      'shared',
      'refspecs',
      'masking',
      'raw_variables',
      'multi_build_steps',
      'trace_reset',
      'trace_checksum',
      'trace_size',
      'cancelable',
      'return_exit_code',
      'cancel_gracefully',
    ]
  ) {
    assert.equal(info.features?.[key], true, `features.${key}`);
  }
  for (const key of ['image', 'services', 'proxy', 'service_variables']) assert.equal(info.features?.[key], false, `features.${key}`);
  // The job's own calls carry its token, never the runner's.
  for (const call of s.coordinator.requests.filter((r) => r.jobId === job.id)) {
    assert.equal(call.headers['job-token'], job.token);
    assert.equal(call.headers['runner-token'], undefined);
  }
});

test("CI_DEBUG_TRACE: trace patches say debug_trace=true and the log shows the shell's xtrace (masked values stay masked); otherwise debug_trace=false", async () => {
  const s = await shared.get();
  const debug = await runJob(
    s.coordinator,
    withoutSources({
      script: ['echo "traced $SECRET_VALUE"'],
      variables: [{ key: 'CI_DEBUG_TRACE', value: 'true' }, { key: 'SECRET_VALUE', value: 'debug-tr4ce-secret', masked: true }],
    }),
  );
  assert.equal(debug.state, 'success', logText(debug.trace));
  const lines = logLines(debug.trace);
  assert.ok(lines.some((line) => /^\++ echo 'traced \[MASKED\]'$/.test(line)), lines.join('\n'));
  assert.ok(lines.some((line) => /^\++ export SECRET_VALUE=\[MASKED\]$/.test(line)), 'xtrace shows the exports, masked');
  assert.ok(!debug.trace.includes('debug-tr4ce-secret'));
  const patches = (job: CoordinatorJob) => s.coordinator.requests.filter((r) => r.endpoint === 'patch_trace' && r.jobId === job.id).map((r) => r.path);
  assert.ok(patches(debug).length > 0);
  for (const path of patches(debug)) assert.equal(path, `/api/v4/jobs/${debug.id}/trace?debug_trace=true`);

  const plain = await runJob(s.coordinator, withoutSources({ script: ['echo plain'] }));
  assert.ok(!logLines(plain.trace).some((line) => line.startsWith('+')), 'no xtrace');
  for (const path of patches(plain)) assert.equal(path, `/api/v4/jobs/${plain.id}/trace?debug_trace=false`);
});

test('a payload with null values, null fields and fields the runner does not know runs (a project without a description)', async () => {
  const s = await shared.get();
  const job = await runJob(
    s.coordinator,
    withoutSources({
      // CI_PROJECT_DESCRIPTION is null already: the coordinator's projects have no description, as GitLab sends it.
      script: ['echo "description=[$CI_PROJECT_DESCRIPTION] name=[$CI_PIPELINE_NAME] mine=[$MINE]"', 'env | grep -c "^CI_PROJECT_DESCRIPTION=$"'],
      variables: [{ key: 'MINE', value: 'set' }],
      nullVariables: ['CI_PIPELINE_NAME', 'MINE'],
      afterScript: ['echo after'],
      override: {
        'git_info.before_sha': null,
        'git_info.refspecs': null,
        'job_info.time_in_queue_seconds': null,
        'runner_info.runner_session_url': null,
        'steps.0.timeout': null,
        'steps.0.when': null,
        'steps.1.allow_failure': null,
        'features.token_mask_prefixes': null,
        hooks: null,
        credentials: null,
        services: null,
        brand_new_field: { nested: [1, null, 'x'] },
        policy_options: { execution_policy_job: false, unknown: null },
      },
    }),
  );
  const text = logText(job.trace);
  assert.equal(job.state, 'success', text);
  assert.equal(job.payload?.variables.find((v) => v.key === 'CI_PROJECT_DESCRIPTION')?.value, null, 'the coordinator sent null');
  assert.ok(text.includes('description=[] name=[] mine=[]\n'), text);
  assert.ok(text.includes('$ env | grep -c "^CI_PROJECT_DESCRIPTION=$"\n1\n'), 'the variable is set, empty');
  assert.ok(text.includes('\nafter\n'));
});

test('failure reasons go through features.failure_reasons: GitLab CE lists no runner_configuration_error, so GitLab Runner sends script_failure', async () => {
  const s = await shared.get();
  // GIT_CLONE_PATH on a runner without custom_build_dir: a configuration error.
  const spec = withoutSources({ script: ['echo never'], variables: [{ key: 'GIT_CLONE_PATH', value: '$CI_BUILDS_DIR/elsewhere' }] });
  const mapped = await runJob(s.coordinator, spec);
  assert.equal(mapped.state, 'failed');
  assert.equal(mapped.updates.at(-1)!.body['failure_reason'], 'script_failure');
  assert.equal(logLines(mapped.trace).at(-1), 'ERROR: Job failed: setting GIT_CLONE_PATH is not allowed, enable `custom_build_dir` feature');
  const listed = await runJob(s.coordinator, { ...spec, override: { 'features.failure_reasons': ['script_failure', 'runner_configuration_error'] } });
  assert.equal(listed.updates.at(-1)!.body['failure_reason'], 'runner_configuration_error', 'a coordinator that lists it gets it');
});

test('the silent job hears of its cancel from the keep-alive PUT sent 30 s after its last contact, then runs after_script', async () => {
  const s = await shared.get();
  const job = silent!;
  assert.ok(job, 'the first test started the job');
  const done = await finished(s.coordinator, job, FORCE_SEND_INTERVAL_MS + 30_000);
  assert.equal(done.state, 'canceled');
  const keepAlive = done.updates.find((u) => u.body['state'] === 'running');
  assert.ok(keepAlive, 'a keep-alive');
  const lastPatch = done.tracePatches.filter((p) => p.at < keepAlive.at).at(-1)!;
  assert.ok(keepAlive.at - lastPatch.at >= FORCE_SEND_INTERVAL_MS, `keep-alive ${Math.round(keepAlive.at - lastPatch.at)} ms after the last patch`);
  assert.equal(done.updates.filter((u) => u.body['state'] === 'running').length, 1, 'one keep-alive brought the cancel');
  assert.equal(keepAlive.body['exit_code'], undefined);
  assert.ok(logLines(done.trace).includes('after canceled'));
});
