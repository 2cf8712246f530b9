// The GitLab source's side of the Runner API v4 as GitLab Runner's network
// code has it (network/gitlab.go, network/trace.go, common/network.go), in
// process against the test coordinator: what a job request carries (token,
// system_id, info with every feature key), the headers of each call, the
// keep-alive cadence (forceSendInterval), debug_trace on trace patches,
// exit_code left out when 0, and failure reasons mapped through the
// payload's features.failure_reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_RUNNER } from '../../../../src/config/types.ts';
import { Logger } from '../../../../src/log/logger.ts';
import { supportedReason } from '../../../../src/sources/gitlab/gitlab-job.ts';
import { GitLabSource } from '../../../../src/sources/gitlab/gitlab-source.ts';
import { traceChecksum } from '../../../support/coordinator/coordinator.ts';
import { until } from '../../../support/fakes.ts';
import { recordingControl, result, session, SHELL, SYSTEM_ID, takeJob, TOKEN } from './session.ts';

/** GitLab Runner's info.features for the shell executor on Linux (common/network.go's order), as it sends them. */
const GITLAB_RUNNER_SHELL_FEATURES: ReadonlyArray<readonly [string, boolean]> = [
  ['variables', true],
  ['image', false],
  ['services', false],
  ['artifacts', true],
  ['cache', true],
  ['fallback_cache_keys', true],
  ['shared', true],
  ['upload_multiple_artifacts', true],
  ['upload_raw_artifacts', true],
  ['session', true],
  ['terminal', true],
  ['refspecs', true],
  ['masking', true],
  ['proxy', false],
  ['raw_variables', true],
  ['artifacts_exclude', true],
  ['multi_build_steps', true],
  ['trace_reset', true],
  ['trace_checksum', true],
  ['trace_size', true],
  ['vault_secrets', true],
  ['cancelable', true],
  ['return_exit_code', true],
  ['service_variables', false],
  ['service_multiple_aliases', false],
  ['image_executor_opts', false],
  ['service_executor_opts', false],
  ['cancel_gracefully', true],
  ['native_steps_integration', true],
  ['two_phase_job_commit', true],
  ['job_inputs', true],
];

/**
 * What GitLab Runner declares and this runner does not do yet: declared false,
 * so that GitLab does not count on it (the interactive session, Vault,
 * steps, the initial running PUT, job inputs).
 */
const NOT_IMPLEMENTED = new Set([
  'session',
  'terminal',
  'vault_secrets',
  'native_steps_integration',
  'two_phase_job_commit',
  'job_inputs',
]);

test('a job request carries the runner token, system_id and info as GitLab Runner sends them: every feature key, config.gpus', async () => {
  const s = await session();
  try {
    assert.equal(await s.source.request(), undefined);
    const body = s.coordinator.jobRequests.at(-1)!;
    assert.deepEqual(Object.keys(body), ['info', 'token', 'system_id'], 'no last_update before the coordinator sent one');
    assert.equal(body['token'], TOKEN);
    assert.equal(body['system_id'], SYSTEM_ID);
    const info = body['info'] as Record<string, unknown>;
    assert.equal(info['executor'], 'shell');
    assert.equal(info['shell'], 'bash');
    assert.equal(info['platform'], 'linux');
    assert.match(String(info['architecture']), /^(amd64|arm64|386|arm|ppc64le|s390x|riscv64)$/, 'GOARCH names');
    assert.deepEqual(info['config'], { gpus: '' });
    const features = info['features'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(features), GITLAB_RUNNER_SHELL_FEATURES.map(([key]) => key), "every key, in GitLab Runner's order");
    for (const [key, value] of GITLAB_RUNNER_SHELL_FEATURES) {
      assert.equal(features[key], NOT_IMPLEMENTED.has(key) ? false : value, `features.${key}`);
    }
    // The next request echoes the queue value the 204 came with.
    const lastUpdate = s.coordinator.requests.at(-1)!.responseHeaders['x-gitlab-last-update'];
    assert.ok(lastUpdate);
    await s.source.request();
    assert.equal(s.coordinator.jobRequests.at(-1)!['last_update'], lastUpdate);
  } finally {
    await s.close();
  }
});

test("headers: RUNNER-TOKEN on the job request, JOB-TOKEN on updates and patches, a new X-Request-Id each time, GitLab Runner's User-Agent", async () => {
  const s = await session();
  try {
    const { queued, job } = await takeJob(s);
    const sink = await job.begin(recordingControl());
    sink(Buffer.from('hello\n'));
    await until('the log at the coordinator', () => queued.trace.length === 6);
    await job.finish(result('success'));
    const byEndpoint = (endpoint: string) => s.coordinator.requests.filter((r) => r.endpoint === endpoint);
    const [request] = byEndpoint('request_job');
    assert.equal(request!.headers['runner-token'], TOKEN);
    assert.equal(request!.headers['job-token'], undefined);
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers['accept'], 'application/json');
    const update = byEndpoint('update_job').at(-1)!;
    const patch = byEndpoint('patch_trace').at(-1)!;
    for (const call of [update, patch]) {
      assert.equal(call.headers['job-token'], queued.token);
      assert.equal(call.headers['runner-token'], undefined, "the runner token never goes with a job's calls");
    }
    assert.equal(update.headers['content-type'], 'application/json');
    assert.equal(update.headers['accept'], undefined, 'GitLab Runner reads no body from PUT /jobs/:id');
    assert.equal(patch.headers['content-type'], 'text/plain');
    assert.equal(patch.headers['content-range'], '0-5');
    const ids = s.coordinator.requests.map((r) => r.headers['x-request-id']);
    for (const id of ids) assert.match(id ?? '', /^[0-9a-f]{32}$/);
    assert.equal(new Set(ids).size, ids.length, 'a new X-Request-Id for every request');
    for (const call of s.coordinator.requests) assert.match(call.headers['user-agent'] ?? '', /^runner \S+ \(\S+; (node|bun|deno) \S+; linux\/\w+\)$/);
    // The final update's body as GitLab Runner's: info, token, state, checksum (both places) and size.
    const final = queued.updates.at(-1)!.body;
    assert.deepEqual(Object.keys(final).sort(), ['checksum', 'info', 'output', 'state', 'token']);
    assert.equal(final['system_id'], undefined, 'no system_id on job updates');
  } finally {
    await s.close();
  }
});

test("keep-alive cadence: no PUT while the log goes up, then one each force-send interval of silence, with the log's checksum and size", async () => {
  const s = await session({ forceSendIntervalMs: 400 });
  try {
    const { queued, job } = await takeJob(s);
    const sink = await job.begin(recordingControl());
    try {
      for (let i = 0; i < 20; i++) {
        sink(Buffer.from(`line ${i}\n`));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await until('the log at the coordinator', () => queued.trace.toString().endsWith('line 19\n'));
      assert.equal(queued.updates.length, 0, 'no keep-alive while patches succeed');
      await until('two keep-alives', () => queued.updates.length >= 2, 5_000);
    } finally {
      await job.finish(result('success'));
    }
    const [first, second] = queued.updates;
    const lastPatch = queued.tracePatches.filter((p) => p.at < first!.at).at(-1)!.at;
    assert.ok(first!.at - lastPatch >= 400, `a keep-alive ${Math.round(first!.at - lastPatch)} ms after the last patch`);
    assert.ok(second!.at - first!.at >= 400, `keep-alives ${Math.round(second!.at - first!.at)} ms apart`);
    for (const keepAlive of [first!, second!]) {
      assert.equal(keepAlive.body['state'], 'running');
      assert.equal(keepAlive.body['token'], queued.token);
      assert.deepEqual(keepAlive.body['output'], { checksum: traceChecksum(queued.trace), bytesize: queued.trace.length });
      assert.equal(keepAlive.body['exit_code'], undefined);
      assert.equal(keepAlive.body['failure_reason'], undefined);
    }
  } finally {
    await s.close();
  }
});

test('trace patches say debug_trace=false, and debug_trace=true for a job with CI_DEBUG_TRACE', async () => {
  const s = await session();
  try {
    for (const [value, expected] of [[undefined, 'false'], ['true', 'true'], ['1', 'true'], ['no', 'false']] as const) {
      const { queued, job } = await takeJob(s, ['true'], value === undefined ? {} : { variables: [{ key: 'CI_DEBUG_TRACE', value }] });
      const sink = await job.begin(recordingControl());
      sink(Buffer.from('x\n'));
      await job.finish(result('success'));
      const patches = s.coordinator.requests.filter((r) => r.endpoint === 'patch_trace' && r.jobId === queued.id);
      assert.ok(patches.length > 0);
      for (const patch of patches) assert.equal(new URL(patch.path, 'http://x').searchParams.get('debug_trace'), expected, `CI_DEBUG_TRACE=${value}`);
    }
  } finally {
    await s.close();
  }
});

test('the final update leaves exit_code out when it is 0, and sends it otherwise', async () => {
  const s = await session();
  try {
    const cases = [
      [result('success', { exitCode: 0 }), undefined],
      [result('failed', { exitCode: 0, failureReason: 'runner_system_failure' }), undefined],
      [result('failed', { exitCode: 2 }), 2],
    ] as const;
    for (const [finalResult, exitCode] of cases) {
      const { queued, job } = await takeJob(s);
      await job.begin(recordingControl());
      await job.finish(finalResult);
      const final = queued.updates.at(-1)!.body;
      assert.equal(final['state'], finalResult.state);
      assert.equal('exit_code' in final, exitCode !== undefined, JSON.stringify(final));
      assert.equal(final['exit_code'], exitCode);
    }
  } finally {
    await s.close();
  }
});

test("failure reasons go through the payload's features.failure_reasons as GitLab Runner maps them", async () => {
  // The mapping itself (failure_reason_mapper.go).
  const listed = ['script_failure', 'unknown_failure', 'runner_unsupported'];
  assert.equal(supportedReason('', listed), 'script_failure');
  assert.equal(supportedReason('script_failure', []), 'script_failure');
  assert.equal(supportedReason('runner_system_failure', undefined), 'runner_system_failure');
  assert.equal(supportedReason('job_execution_timeout', []), 'job_execution_timeout');
  assert.equal(supportedReason('runner_unsupported', listed), 'runner_unsupported');
  assert.equal(supportedReason('runner_configuration_error', listed), 'script_failure', 'a compatible reason');
  assert.equal(supportedReason('runner_configuration_error', ['runner_configuration_error']), 'runner_configuration_error');
  assert.equal(supportedReason('image_pull_failure', []), 'runner_system_failure');
  assert.equal(supportedReason('runner_external_dependency_failure', []), 'runner_system_failure');
  assert.equal(supportedReason('job_canceled', listed), 'unknown_failure');

  // Through a job: GitLab CE lists no runner_configuration_error, so GitLab Runner sends script_failure for it.
  const s = await session();
  try {
    const sent = async (reason: 'runner_configuration_error' | 'job_execution_timeout', spec = {}): Promise<unknown> => {
      const { queued, job } = await takeJob(s, ['true'], spec);
      await job.begin(recordingControl());
      await job.finish(result('failed', { failureReason: reason, exitCode: undefined }));
      return queued.updates.at(-1)!.body['failure_reason'];
    };
    assert.equal(await sent('runner_configuration_error'), 'script_failure');
    assert.equal(
      await sent('runner_configuration_error', { override: { 'features.failure_reasons': ['runner_configuration_error'] } }),
      'runner_configuration_error',
    );
    assert.equal(await sent('job_execution_timeout', { override: { 'features.failure_reasons': null } }), 'job_execution_timeout');
    assert.equal(await sent('runner_configuration_error', { override: { features: null } }), 'script_failure');
  } finally {
    await s.close();
  }
});

test("a job's correlation id (git's X-Gitaly-Correlation-ID) is GitLab Runner's: the X-Request-Id the coordinator answered with, else the one sent", async () => {
  // The test coordinator answers without one: the request's own.
  const s = await session();
  try {
    const { job } = await takeJob(s);
    const sent = s.coordinator.requests.find((r) => r.endpoint === 'request_job' && r.status === 201)!.headers['x-request-id'];
    assert.match(sent ?? '', /^[0-9a-f]{32}$/);
    assert.equal(job.job.requestId, sent);
  } finally {
    await s.close();
  }

  // A coordinator that answers with its own, as GitLab does (a ULID): that one; a value that is no id is not taken.
  const answers = ['01HZX5N3W8Q2R7T4Y6B9C0D1E2', 'not an id\r\nX-Injected: 1'];
  const server = createServer((req, res) => {
    req.resume();
    const payload = { id: 7, token: 'glcbt-stub', variables: [], steps: [{ name: 'script', script: ['true'] }] };
    res.writeHead(201, { 'Content-Type': 'application/json', 'X-Request-Id': encodeURIComponent(answers.shift() ?? '') });
    res.end(JSON.stringify(payload));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const source = new GitLabSource(
    { ...DEFAULT_RUNNER, name: 'stub', url, token: TOKEN },
    SHELL,
    SYSTEM_ID,
    new Logger('error', 'text', { write: () => undefined }),
    () => undefined,
  );
  try {
    assert.equal((await source.request())?.job.requestId, '01HZX5N3W8Q2R7T4Y6B9C0D1E2');
    assert.match((await source.request())?.job.requestId ?? '', /^[0-9a-f]{32}$/, 'the id sent instead');
  } finally {
    await source.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
