// The traces a GitLab coordinator asks for (features.tracing), through the real CLI and the test
// coordinator: what a payload's endpoints get, and that nothing in a payload can stop the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCoordinator } from '../support/coordinator/coordinator.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { startRunner } from '../support/runner-process.ts';
import { selfSignedCertificate } from '../support/tls.ts';
import { versionInfo } from '../../src/version.ts';
import { gitlabConfig, logText, runJob, RUNNER_TOKEN, startGitLabRunner, withoutSources } from './gitlab/harness.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';

/** features.tracing joining TRACE_ID under PARENT_SPAN_ID, sending to `urls`. */
function tracing(...urls: string[]): Record<string, unknown> {
  return { 'features.tracing': { trace_id: TRACE_ID, span_parent_id: PARENT_SPAN_ID, otel_endpoints: urls.map((url) => ({ url })) } };
}

test('a payload endpoint an exporter cannot take: the job succeeds untraced there, warned of, and the runner stays up', async (t) => {
  const receiver = await OtlpReceiver.start();
  t.after(() => receiver.close());
  const gitlab = await startGitLabRunner({ global: 'concurrent = 1\ncheck_interval = 0.2\n', env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });
  t.after(() => gitlab.close());
  const bad = await runJob(
    gitlab.coordinator,
    withoutSources({ name: 'bad-endpoint', script: ['echo ran'], override: tracing('http://exa mple:4318/v1/traces?api_key=s3cret') }),
  );
  assert.equal(bad.state, 'success', logText(bad.trace));
  const text = logText(bad.trace);
  assert.ok(text.includes('features.tracing: endpoint "http://exa mple:4318/v1/traces": not a valid URL'), text);
  assert.ok(!text.includes('s3cret'), text);
  // The runner is still there, and a later job's spans still go where its payload says.
  const next = await runJob(gitlab.coordinator, withoutSources({ name: 'next', script: ['true'], override: tracing(`${receiver.endpoint}/v1/traces`) }));
  assert.equal(next.state, 'success');
  await receiver.waitFor(() => receiver.spans.find((s) => s.attributes['cicd.pipeline.task.run.id'] === String(next.id)));
  assert.ok(!gitlab.runner.exited, gitlab.runner.tail());
  assert.doesNotMatch(gitlab.runner.logs(), /Unhandled|uncaught/i);
});

test("nothing of the operator's OTLP environment reaches a payload endpoint; the operator's own endpoint gets all of it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-otlp-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certificate = selfSignedCertificate(dir);
  const payload = await OtlpReceiver.start({ tls: certificate });
  t.after(() => payload.close());
  const operator = await OtlpReceiver.start({ tls: certificate });
  t.after(() => operator.close());
  const gitlab = await startGitLabRunner({
    global: 'concurrent = 1\ncheck_interval = 0.2\n',
    env: {
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${operator.endpoint}/v1/traces`,
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20OPERATOR-SECRET',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-operator=traces',
      OTEL_EXPORTER_OTLP_CERTIFICATE: certificate.certFile,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: certificate.certFile,
      OTEL_EXPORTER_OTLP_CLIENT_KEY: certificate.keyFile,
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      // How a runner trusts a private CA for every https call of its own, a payload's endpoints included.
      NODE_EXTRA_CA_CERTS: certificate.certFile,
    },
  });
  t.after(() => gitlab.close());
  const joined = await runJob(gitlab.coordinator, withoutSources({ name: 'joined', script: ['true'], override: tracing(`${payload.endpoint}/v1/traces`) }));
  const own = await runJob(gitlab.coordinator, withoutSources({ name: 'own', script: ['true'] }));
  assert.equal(joined.state, 'success');
  assert.equal(own.state, 'success');
  await payload.waitFor(() => payload.spans.find((s) => s.attributes['cicd.pipeline.task.run.id'] === String(joined.id)));
  await operator.waitFor(() => operator.spans.find((s) => s.attributes['cicd.pipeline.task.run.id'] === String(own.id)));
  assert.ok(!operator.spans.some((s) => s.traceId === TRACE_ID), "a payload's trace goes only to its endpoints");
  for (const { headers, clientCertificate } of payload.traceExports) {
    assert.equal(headers['authorization'], undefined);
    assert.equal(headers['x-operator'], undefined);
    assert.equal(headers['content-encoding'], undefined);
    assert.equal(clientCertificate, false, "the operator's client certificate");
  }
  const sent = operator.traceExports[0]!;
  assert.equal(sent.headers['authorization'], 'Bearer OPERATOR-SECRET');
  assert.equal(sent.headers['x-operator'], 'traces');
  assert.equal(sent.headers['content-encoding'], 'gzip');
  assert.equal(sent.clientCertificate, true);
});

test("a payload endpoint that refuses the spans: each job's failure is counted, the first logged once for the runner's life", async (t) => {
  const receiver = await OtlpReceiver.start();
  t.after(() => receiver.close());
  const gitlab = await startGitLabRunner({ global: 'concurrent = 1\ncheck_interval = 0.2\nmetrics_server = "127.0.0.1:0"\n' });
  t.after(() => gitlab.close());
  // The receiver answers 400 (not retried) to any path but /v1/traces and /v1/metrics.
  for (const name of ['first', 'second']) {
    const job = await runJob(gitlab.coordinator, withoutSources({ name, script: ['true'], override: tracing(`${receiver.endpoint}/v1/refused`) }));
    assert.equal(job.state, 'success');
  }
  const failures = async (): Promise<number> => {
    const metrics = await (await fetch(`${gitlab.runner.url}/metrics`)).text();
    return Number(/^ci_runner_otlp_exports_total\{signal="traces",result="failure"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  };
  const deadline = Date.now() + 20_000;
  while ((await failures()) < 2) {
    assert.ok(Date.now() < deadline, `fewer than 2 failed exports counted:\n${gitlab.runner.tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(gitlab.runner.logs().match(/OTLP traces export failed/g)?.length, 1, gitlab.runner.logs());
});

test("a job that ends just before SIGTERM: the runner's exit waits for its spans to reach the payload's endpoint", async (t) => {
  // The first export is answered "busy, retry in 1 s": the spans arrive only if the runner is still there a second later.
  const receiver = await OtlpReceiver.start({ busyFirst: 1 });
  t.after(() => receiver.close());
  const gitlab = await startGitLabRunner({ global: 'concurrent = 1\ncheck_interval = 0.2\n' });
  t.after(() => gitlab.close());
  const job = await runJob(gitlab.coordinator, withoutSources({ name: 'last', script: ['true'], override: tracing(`${receiver.endpoint}/v1/traces`) }));
  assert.equal(job.state, 'success');
  const stopped = await gitlab.runner.stop('SIGTERM', 20_000);
  assert.equal(stopped.code, 0, gitlab.runner.tail());
  assert.ok(receiver.spans.some((s) => s.attributes['cicd.pipeline.task.run.id'] === String(job.id)), gitlab.runner.tail());
});

test("a GitLab runner added by a reload (SIGHUP) to a runner that traced nothing: its coordinator's traces are sent", async (t) => {
  const receiver = await OtlpReceiver.start();
  t.after(() => receiver.close());
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], traceUpdateIntervalSeconds: 1 });
  t.after(() => coordinator.close());
  const dir = mkdtempSync(join(tmpdir(), 'runner-otlp-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const global = 'concurrent = 1\ncheck_interval = 0.2\n';
  writeFileSync(join(dir, 'config.toml'), global, { mode: 0o600 });
  const runner = await startRunner([], { cwd: dir });
  t.after(async () => {
    await runner.stop('SIGTERM', 10_000);
  });
  assert.doesNotMatch(runner.logs(), /OTLP job tracing enabled/);
  writeFileSync(join(dir, 'config.toml'), gitlabConfig(coordinator.url, { global }), { mode: 0o600 });
  process.kill(runner.pid, 'SIGHUP');
  await runner.waitForLog(/OTLP job tracing enabled/);
  const job = await runJob(coordinator, withoutSources({ name: 'after-reload', script: ['true'], override: tracing(`${receiver.endpoint}/v1/traces`) }));
  assert.equal(job.state, 'success');
  const span = await receiver.waitFor(() => receiver.spans.find((s) => s.attributes['cicd.pipeline.task.run.id'] === String(job.id)));
  assert.equal(span.traceId, TRACE_ID);
  // GitLab Runner's resource for these: service.name runner, service.version its own.
  assert.equal(span.resource['service.name'], 'runner');
  assert.equal(span.resource['service.version'], versionInfo.version);
});
