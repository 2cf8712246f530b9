// OTLP push of the metrics, through the real CLI: the [otel] table and the OTEL_* environment,
// a push on the interval and one at shutdown, decoded with OpenTelemetry's own generated code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueue, waitForResult } from '../../src/sources/local/queue.ts';
import { versionInfo } from '../../src/version.ts';
import { OtlpReceiver, pointValue } from '../support/otlp-receiver.ts';
import { runCli, startRunner } from '../support/runner-process.ts';

function workDir(config: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'runner-otlp-'));
  writeFileSync(join(dir, 'config.toml'), `check_interval = 1\nmetrics_server = "127.0.0.1:0"\n${config}`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const JOB = 'name = "pushed"\nscript = ["echo pushed"]\n';

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('[otel] pushes the metrics /metrics serves as OTLP protobuf on its interval, with its headers and resource', async (t) => {
  const receiver = await OtlpReceiver.start();
  const { dir, cleanup } = workDir(
    `[otel]\nendpoint = "${receiver.endpoint}"\nmetrics_interval = 0.5\nservice_name = "ci-runner-a"\nheaders = { Authorization = "Bearer s3cret-push-token" }\nresource_attributes = { "deployment.environment" = "test" }\n`,
  );
  t.after(async () => {
    await receiver.close();
    cleanup();
  });
  const runner = await startRunner([], { cwd: dir });
  try {
    const { id } = await enqueue(join(dir, 'queue'), JOB, 'job.toml');
    assert.equal((await waitForResult(join(dir, 'queue'), id, { timeoutMs: 20_000 })).state, 'success');
    const push = await receiver.until((p) => pointValue(p, 'ci_runner_jobs_total', { runner: 'local' }) === 1);
    assert.equal(push.contentType, 'application/x-protobuf');
    assert.equal(push.headers['authorization'], 'Bearer s3cret-push-token');
    assert.equal(push.resource['service.name'], 'ci-runner-a');
    assert.equal(push.resource['service.version'], versionInfo.version);
    assert.equal(push.resource['deployment.environment'], 'test');
    // The same instruments as /metrics: a histogram (its count), an observed gauge, the process metrics.
    assert.equal(pointValue(push, 'ci_runner_job_duration_seconds', { runner: 'local' }), 1);
    assert.ok(push.points.some((p) => p.metric === 'process_cpu_seconds_total' && p.value > 0));
    assert.equal(pointValue(push, 'ci_runner_concurrent', {}), 1);
    const scraped = await (await fetch(`${runner.url}/metrics`)).text();
    assert.match(scraped, /^ci_runner_jobs_total\{runner="local"\} 1$/m);
    assert.match(scraped, /^ci_runner_otlp_exports_total\{signal="metrics",result="success"\} [1-9]\d*$/m);
    assert.ok(!runner.logs().includes('s3cret-push-token'), 'the push headers are never logged');
    assert.match(runner.logs(), /OTLP metrics push enabled/);
  } finally {
    await runner.stop();
  }
});

test("the CI/CD conventions' metrics after real jobs: pushed under their semconv names and attributes, and on /metrics", async (t) => {
  const receiver = await OtlpReceiver.start();
  const { dir, cleanup } = workDir(`[otel]\nendpoint = "${receiver.endpoint}"\nmetrics_interval = 0.5\n`);
  t.after(async () => {
    await receiver.close();
    cleanup();
  });
  const runner = await startRunner([], { cwd: dir });
  try {
    const pipeline = '[variables]\nCI_PIPELINE_NAME = "nightly build"\n';
    const passed = await enqueue(join(dir, 'queue'), `name = "passes"\nscript = ["echo ok"]\n${pipeline}`, 'passes.toml');
    assert.equal((await waitForResult(join(dir, 'queue'), passed.id, { timeoutMs: 20_000 })).state, 'success');
    const failed = await enqueue(join(dir, 'queue'), `name = "fails"\nscript = ["exit 3"]\n${pipeline}`, 'fails.toml');
    assert.equal((await waitForResult(join(dir, 'queue'), failed.id, { timeoutMs: 20_000 })).state, 'failed');

    const name = { 'cicd.pipeline.name': 'nightly build' };
    const push = await receiver.until((p) =>
      pointValue(p, 'cicd.pipeline.run.errors', { ...name, 'error.type': 'script_failure' }) === 1 &&
      pointValue(p, 'cicd.worker.count', { 'cicd.worker.state': 'available' }) === 1
    );
    // One slot (concurrent = 1), free again and taken by nobody.
    assert.equal(pointValue(push, 'cicd.worker.count', { 'cicd.worker.state': 'busy' }), 0);
    assert.equal(pointValue(push, 'cicd.worker.count', { 'cicd.worker.state': 'offline' }), 0);
    assert.equal(pointValue(push, 'cicd.pipeline.run.errors', { ...name, 'error.type': 'runner_system_failure' }), 0, 'every failure reason from 0');
    // Each job's phases: its queue time and preparing, its commands, its cleanup with the result.
    const phases = push.points.filter((p) => p.metric === 'cicd.pipeline.run.duration');
    assert.deepEqual(phases.map((p) => [p.attributes, p.value]), [
      [{ ...name, 'cicd.pipeline.run.state': 'pending' }, 2],
      [{ ...name, 'cicd.pipeline.run.state': 'executing' }, 2],
      [{ ...name, 'cicd.pipeline.run.state': 'finalizing', 'cicd.pipeline.result': 'success' }, 1],
      [{ ...name, 'cicd.pipeline.run.state': 'finalizing', 'cicd.pipeline.result': 'failure', 'error.type': 'script_failure' }, 1],
    ]);
    // A local runner has no coordinator: only the configuration's and the executor's errors, at 0.
    assert.deepEqual(push.points.filter((p) => p.metric === 'cicd.system.errors').map((p) => [p.attributes, p.value]), [
      [{ 'cicd.system.component': 'configuration', 'error.type': 'reload_failed' }, 0],
      [{ 'cicd.system.component': 'executor', 'error.type': 'runner_system_failure' }, 0],
    ]);

    const scraped = await (await fetch(`${runner.url}/metrics`)).text();
    assert.match(scraped, /^cicd_worker_count\{cicd_worker_state="available"\} 1$/m);
    assert.match(scraped, /^cicd_pipeline_run_errors_total\{cicd_pipeline_name="nightly build",error_type="script_failure"\} 1$/m);
    assert.match(scraped, /^cicd_pipeline_run_duration_count\{cicd_pipeline_name="nightly build",cicd_pipeline_run_state="executing"\} 2$/m);
    assert.match(scraped, /^cicd_system_errors_total\{cicd_system_component="executor",error_type="runner_system_failure"\} 0$/m);
  } finally {
    await runner.stop();
  }
});

test('a runner stopped before its first interval pushes once at shutdown (OTEL_* environment, http/json)', async (t) => {
  const receiver = await OtlpReceiver.start();
  const { dir, cleanup } = workDir('');
  t.after(async () => {
    await receiver.close();
    cleanup();
  });
  const runner = await startRunner([], {
    cwd: dir,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '3600000',
      OTEL_SERVICE_NAME: 'from-env',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=team%20a',
    },
  });
  const { id } = await enqueue(join(dir, 'queue'), JOB, 'job.toml');
  assert.equal((await waitForResult(join(dir, 'queue'), id, { timeoutMs: 20_000 })).state, 'success');
  assert.equal(receiver.pushes.length, 0, 'nothing before the interval');
  const stopped = await runner.stop();
  assert.equal(stopped.code, 0);
  assert.equal(receiver.pushes.length, 1, 'one push at shutdown');
  const push = receiver.pushes[0]!;
  assert.match(push.contentType, /^application\/json/);
  assert.equal(push.headers['x-tenant'], 'team a');
  assert.equal(push.resource['service.name'], 'from-env');
  assert.equal(pointValue(push, 'ci_runner_jobs_total', { runner: 'local' }), 1);
});

test('a collector that cannot be reached costs the job nothing: the failure is logged once and counted', async (t) => {
  const { dir, cleanup } = workDir(`[otel]\nendpoint = "http://127.0.0.1:${await closedPort()}"\nmetrics_interval = 0.2\ntimeout = 0.2\n`);
  t.after(cleanup);
  const runner = await startRunner([], { cwd: dir });
  try {
    const { id } = await enqueue(join(dir, 'queue'), JOB, 'job.toml');
    assert.equal((await waitForResult(join(dir, 'queue'), id, { timeoutMs: 20_000 })).state, 'success');
    let failures = 0;
    for (const deadline = Date.now() + 20_000; failures < 3 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const body = await (await fetch(`${runner.url}/metrics`)).text();
      failures = Number(/^ci_runner_otlp_exports_total\{signal="metrics",result="failure"\} (\d+)$/m.exec(body)?.[1] ?? 0);
    }
    assert.ok(failures >= 3, `failures counted: ${failures}`);
    assert.equal(runner.logs().match(/OTLP metrics export failed/g)?.length, 1, runner.tail(30));
  } finally {
    await runner.stop();
  }
});

test('a bad OTLP setting stops the runner at start with one line naming it', async () => {
  const { dir, cleanup } = workDir('');
  try {
    const grpc = await runCli(['run'], { cwd: dir, env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' } });
    assert.equal(grpc.code, 2);
    assert.equal(grpc.stderr, 'runner: OTEL_EXPORTER_OTLP_PROTOCOL: expected http/protobuf or http/json (grpc is not supported), got "grpc"\n');
    writeFileSync(join(dir, 'config.toml'), '[otel]\nendpoint = "collector:4318"\n');
    const url = await runCli(['run'], { cwd: dir });
    assert.equal(url.code, 2);
    assert.match(
      url.stderr,
      /^runner: \S*config\.toml: otel\.endpoint: expected an http:\/\/ or https:\/\/ URL without credentials \(put them in headers\) such as "http:\/\/collector:4318", got "collector:4318"\n$/,
    );
  } finally {
    cleanup();
  }
});
