// Every job a trace, through the real CLI: a span for the job and one per stage, the CI/CD
// conventions' attributes and the job's resources, TRACEPARENT in the stages' environment;
// decoded with OpenTelemetry's own generated code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueue, waitForResult } from '../../src/sources/local/queue.ts';
import { versionInfo } from '../../src/version.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { startRunner } from '../support/runner-process.ts';
import { logText, runJob, startGitLabRunner, withoutSources } from './gitlab/harness.ts';

function workDir(config: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'runner-traces-'));
  writeFileSync(join(dir, 'config.toml'), `check_interval = 1\nmetrics_server = "127.0.0.1:0"\n${config}`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The job span of `jobId` and its children, once the job span has arrived. */
async function traceOf(receiver: OtlpReceiver, jobId: string): Promise<{ job: ReceivedSpan; stages: ReceivedSpan[] }> {
  const job = await receiver.waitFor(() => receiver.spans.find((s) => s.attributes['cicd.pipeline.task.run.id'] === jobId));
  return { job, stages: receiver.spans.filter((s) => s.parentSpanId === job.spanId) };
}

test('a job is a trace: its span with the CI/CD attributes and resources, a child span per stage, TRACEPARENT in the script', async (t) => {
  const receiver = await OtlpReceiver.start();
  const { dir, cleanup } = workDir(`[otel]\nendpoint = "${receiver.endpoint}"\nservice_name = "traced-runner"\n`);
  t.after(async () => {
    await receiver.close();
    cleanup();
  });
  const runner = await startRunner([], { cwd: dir, env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });
  try {
    const queue = join(dir, 'queue');
    const ok = await enqueue(queue, 'name = "traced"\nscript = [\'echo "tp=$TRACEPARENT"\']\nafter_script = [\'echo "after=$TRACEPARENT"\']\n', 'ok.toml');
    const bad = await enqueue(queue, 'name = "broken"\nscript = ["exit 4"]\n', 'bad.toml');
    assert.equal((await waitForResult(queue, ok.id, { timeoutMs: 20_000 })).state, 'success');
    assert.equal((await waitForResult(queue, bad.id, { timeoutMs: 20_000 })).state, 'failed');

    const { job, stages } = await traceOf(receiver, ok.id);
    assert.equal(job.name, 'traced');
    assert.equal(job.parentSpanId, '');
    assert.equal(job.resource['service.name'], 'traced-runner');
    assert.equal(job.resource['service.version'], versionInfo.version);
    assert.equal(job.attributes['cicd.pipeline.task.name'], 'traced');
    assert.equal(job.attributes['cicd.pipeline.task.run.result'], 'success');
    assert.equal(job.attributes['cicd.worker.name'], 'local');
    assert.match(job.attributes['cicd.worker.id'] ?? '', /^[rs]_[0-9a-zA-Z]{12}$/);
    assert.ok(Number(job.attributes['ci_runner.job.log_bytes']) > 0);
    assert.ok(Number(job.attributes['ci_runner.job.peak_memory_bytes']) > 0, "the job's peak memory");
    assert.ok('ci_runner.job.cpu_seconds' in job.attributes);
    assert.equal(job.attributes['error.type'], undefined);
    assert.equal(job.status, 'STATUS_CODE_UNSET');

    // Stage spans share the trace, sit inside the job span, in the build sequence's order.
    const names = stages.sort((a, b) => (a.startNs < b.startNs ? -1 : 1)).map((s) => s.name);
    assert.deepEqual(names, ['prepare_executor', 'prepare_script', 'step_script', 'after_script', 'cleanup_file_variables']);
    for (const stage of stages) {
      assert.equal(stage.traceId, job.traceId);
      assert.ok(stage.startNs >= job.startNs && stage.endNs <= job.endNs, `${stage.name} inside the job span`);
      assert.equal(stage.attributes['ci_runner.job.stage'], stage.name);
    }
    // The script's processes got the context of their own stage's span.
    const log = readFileSync(join(queue, 'done', `${ok.id}.log`), 'utf8');
    const step = stages.find((s) => s.name === 'step_script')!;
    const after = stages.find((s) => s.name === 'after_script')!;
    assert.ok(log.includes(`tp=00-${job.traceId}-${step.spanId}-01\n`), log);
    assert.ok(log.includes(`after=00-${job.traceId}-${after.spanId}-01\n`), log);

    const failed = await traceOf(receiver, bad.id);
    assert.notEqual(failed.job.traceId, job.traceId, 'each job a trace of its own');
    assert.equal(failed.job.attributes['cicd.pipeline.task.run.result'], 'failure');
    assert.equal(failed.job.attributes['error.type'], 'script_failure');
    assert.equal(failed.job.attributes['ci_runner.job.exit_code'], '4');
    assert.equal(failed.job.status, 'STATUS_CODE_ERROR');
    assert.equal(failed.stages.find((s) => s.name === 'step_script')?.status, 'STATUS_CODE_ERROR');
    assert.equal(failed.stages.find((s) => s.name === 'prepare_script')?.status, 'STATUS_CODE_UNSET');

    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    assert.match(metrics, /^ci_runner_otlp_exports_total\{signal="traces",result="success"\} [1-9]\d*$/m);
    assert.match(metrics, /^ci_runner_otlp_dropped_spans_total\{reason="queue_full"\} 0$/m);
  } finally {
    await runner.stop();
  }
});

test('spans that cannot be sent cost the job nothing: it succeeds, the failure is logged once', async (t) => {
  const { dir, cleanup } = workDir('[otel]\ntraces_endpoint = "http://127.0.0.1:9/v1/traces"\ntimeout = 0.5\n');
  t.after(cleanup);
  const runner = await startRunner([], { cwd: dir, env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });
  try {
    const queue = join(dir, 'queue');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(queue, `name = "j${i}"\nscript = ["true"]\n`, `${i}.toml`)).id);
    for (const id of ids) assert.equal((await waitForResult(queue, id, { timeoutMs: 20_000 })).state, 'success');
    await runner.waitForLog(/OTLP traces export failed/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(runner.logs().match(/OTLP traces export failed/g)?.length, 1);
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    assert.match(metrics, /^ci_runner_otlp_dropped_spans_total\{reason="export_failed"\} [1-9]\d*$/m);
  } finally {
    await runner.stop();
  }
});

test('a full span queue (OTEL_BSP_MAX_QUEUE_SIZE) behind a collector that never answers: the jobs succeed, drops are counted and logged once', async (t) => {
  // Takes connections and never answers: the first export waits (its timeout is long), the queue fills behind it.
  const sockets = new Set<Socket>();
  const stalled = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    stalled.close();
  });
  const port = (stalled.address() as { port: number }).port;
  const { dir, cleanup } = workDir(`[otel]\ntraces_endpoint = "http://127.0.0.1:${port}/v1/traces"\n`);
  t.after(cleanup);
  const runner = await startRunner([], {
    cwd: dir,
    env: { OTEL_BSP_MAX_QUEUE_SIZE: '2', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1', OTEL_BSP_EXPORT_TIMEOUT: '600000', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '600000' },
  });
  try {
    const queue = join(dir, 'queue');
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await enqueue(queue, `name = "q${i}"\nscript = ["true"]\n`, `${i}.toml`)).id);
    for (const id of ids) assert.equal((await waitForResult(queue, id, { timeoutMs: 20_000 })).state, 'success');
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    // Each job makes at least five spans; one is in the stalled export, two wait: the others are dropped.
    const dropped = Number(/^ci_runner_otlp_dropped_spans_total\{reason="queue_full"\} (\d+)$/m.exec(metrics)?.[1]);
    assert.ok(dropped >= 2, metrics);
    assert.equal(runner.logs().match(/OTLP traces queue full/g)?.length, 1, runner.logs());
  } finally {
    // The stalled export would hold a graceful stop for its whole timeout.
    runner.kill();
  }
});

test('a GitLab job through the coordinator: its trace has the pipeline, commit and job URL, never the job token', async (t) => {
  const receiver = await OtlpReceiver.start();
  t.after(() => receiver.close());
  const gitlab = await startGitLabRunner({
    global: `concurrent = 1\ncheck_interval = 0.2\n[otel]\nendpoint = "${receiver.endpoint}"\n`,
    env: { OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  t.after(() => gitlab.close());
  const job = await runJob(gitlab.coordinator, withoutSources({ name: 'compile', script: ['echo "tp=$TRACEPARENT"'] }));
  assert.equal(job.state, 'success');
  const { job: span, stages } = await traceOf(receiver, String(job.id));
  assert.equal(span.name, 'compile');
  assert.equal(span.attributes['cicd.pipeline.task.run.result'], 'success');
  assert.match(span.attributes['cicd.pipeline.run.id'] ?? '', /^\d+$/);
  assert.match(span.attributes['cicd.pipeline.task.run.url.full'] ?? '', /^https?:\/\/.+\/-\/jobs\/\d+$/);
  assert.match(span.attributes['vcs.ref.head.revision'] ?? '', /^[0-9a-f]{40}$/);
  assert.equal(span.attributes['vcs.provider.name'], 'gitlab');
  assert.equal(span.attributes['vcs.ref.head.type'], 'branch');
  assert.ok(span.attributes['vcs.repository.name'] !== undefined);
  assert.ok(span.attributes['cicd.pipeline.name'] !== undefined);
  assert.ok(stages.some((s) => s.name === 'step_script'));
  const text = JSON.stringify(receiver.spans, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value));
  assert.ok(!text.includes(job.token), 'the job token is in no span');
  const step = stages.find((s) => s.name === 'step_script')!;
  assert.ok(logText(job.trace).includes(`tp=00-${span.traceId}-${step.spanId}-01\n`), logText(job.trace));
});

test("GitLab's features.tracing: the job's spans join the coordinator's trace and go to its endpoints, with no [otel] of the runner's and whatever its sampler", async (t) => {
  const receiver = await OtlpReceiver.start();
  t.after(() => receiver.close());
  // The operator's sampler is for the operator's traces: the coordinator asked for this one.
  const gitlab = await startGitLabRunner({ global: 'concurrent = 1\ncheck_interval = 0.2\n', env: { OTEL_TRACES_SAMPLER: 'always_off' } });
  t.after(() => gitlab.close());
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parent = '00f067aa0ba902b7';
  const job = await runJob(
    gitlab.coordinator,
    withoutSources({
      name: 'joined',
      script: ['echo "tp=$TRACEPARENT"'],
      override: {
        'features.tracing': {
          trace_id: traceId,
          span_parent_id: parent,
          otel_endpoints: [
            { url: `${receiver.endpoint}/v1/traces` },
            { url: 'grpc://collector:4317' },
          ],
        },
      },
    }),
  );
  assert.equal(job.state, 'success');
  const { job: span, stages } = await traceOf(receiver, String(job.id));
  assert.equal(span.traceId, traceId);
  assert.equal(span.parentSpanId, parent);
  assert.ok(stages.length >= 3);
  assert.ok(stages.every((s) => s.traceId === traceId));
  const text = logText(job.trace);
  assert.match(text, new RegExp(`tp=00-${traceId}-[0-9a-f]{16}-01\\n`));
  assert.ok(text.includes('features.tracing: endpoint "grpc://collector:4317": only http:// and https:// OTLP endpoints are supported'), text);
});

test("a local job file's traceparent and tracestate: the job's span joins that trace, its flags decide, the script sees both; a malformed one is refused at submit", async (t) => {
  const receiver = await OtlpReceiver.start();
  const { dir, cleanup } = workDir(`[otel]\nendpoint = "${receiver.endpoint}"\n`);
  t.after(async () => {
    await receiver.close();
    cleanup();
  });
  const queue = join(dir, 'queue');
  await assert.rejects(enqueue(queue, 'name = "x"\nscript = ["true"]\ntraceparent = "00-abc-01"\n', 'bad.toml'), /traceparent: expected a W3C traceparent/);
  const runner = await startRunner([], { cwd: dir, env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });
  try {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const script = 'script = [\'echo "tp=$TRACEPARENT ts=${TRACESTATE-unset}"\']';
    // Not sampled: the job runs, its processes get flags 00, and no span of it is sent.
    const unsampled = await enqueue(queue, `name = "quiet"\n${script}\ntraceparent = "00-${traceId}-b7ad6b7169203331-00"\n`, 'quiet.toml');
    assert.equal((await waitForResult(queue, unsampled.id, { timeoutMs: 20_000 })).state, 'success');
    const { id } = await enqueue(
      queue,
      `name = "child"\n${script}\ntraceparent = "00-${traceId}-b7ad6b7169203331-01"\ntracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"\n`,
      'child.toml',
    );
    assert.equal((await waitForResult(queue, id, { timeoutMs: 20_000 })).state, 'success');
    const { job, stages } = await traceOf(receiver, id);
    assert.equal(job.traceId, traceId);
    assert.equal(job.parentSpanId, 'b7ad6b7169203331');
    const step = stages.find((s) => s.name === 'step_script')!;
    const log = readFileSync(join(queue, 'done', `${id}.log`), 'utf8');
    assert.ok(log.includes(`tp=00-${traceId}-${step.spanId}-01 ts=congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\n`), log);
    const quiet = readFileSync(join(queue, 'done', `${unsampled.id}.log`), 'utf8');
    assert.match(quiet, new RegExp(`tp=00-${traceId}-[0-9a-f]{16}-00 ts=unset\n`));
    assert.ok(!receiver.spans.some((s) => s.attributes['cicd.pipeline.task.run.id'] === unsampled.id), 'an unsampled job sends no span');
  } finally {
    await runner.stop();
  }
});
