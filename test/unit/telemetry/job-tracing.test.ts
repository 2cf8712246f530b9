// The job and stage spans a JobTracer makes, read back from the SDK's in-memory exporter; the
// TRACEPARENT lines a stage's script gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { withTraceContext } from '../../../src/build/shell/trace-context.ts';
import type { Job, JobTraceContext } from '../../../src/job/model.ts';
import { type JobResult, systemFailureResult } from '../../../src/job/result.ts';
import type { SourceJob } from '../../../src/job/source.ts';
import { taskRunResult } from '../../../src/telemetry/cicd-attributes.ts';
import { jobTracer } from '../../../src/telemetry/job-tracing.ts';

function tracing(): { exporter: InMemorySpanExporter; tracer: ReturnType<typeof jobTracer> } {
  const exporter = new InMemorySpanExporter();
  // The SDK's default sampler, whatever OTEL_TRACES_SAMPLER the test process has.
  const sampler = new ParentBasedSampler({ root: new AlwaysOnSampler() });
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('test');
  return { exporter, tracer: jobTracer(() => ({ tracer }), (error) => assert.fail(String(error))) };
}

function sourceJob(variables: Job['variables'], traceContext?: JobTraceContext): SourceJob {
  const job = { id: '7', name: 'lint', script: ['true'], beforeScript: [], afterScript: [], timeoutSeconds: 60, variables, traceContext } as unknown as Job;
  return {
    id: '7',
    name: 'lint',
    url: 'https://gitlab.example/g/p/-/jobs/7',
    job,
    begin: () => Promise.reject(new Error('unused')),
    finish: () => Promise.resolve(),
  };
}

const result = (fields: Partial<JobResult>): JobResult => ({ ...systemFailureResult('x'), ...fields });

test('task run results follow the conventions: success, failure, timeout, cancellation, error', () => {
  assert.equal(taskRunResult(result({ state: 'success', failureReason: undefined })), 'success');
  assert.equal(taskRunResult(result({ state: 'failed', failureReason: 'script_failure' })), 'failure');
  assert.equal(taskRunResult(result({ state: 'failed', failureReason: 'job_execution_timeout' })), 'timeout');
  assert.equal(taskRunResult(result({ state: 'canceled', failureReason: undefined })), 'cancellation');
  assert.equal(taskRunResult(result({ state: 'failed', failureReason: 'runner_system_failure' })), 'error');
});

test('stage spans are children of the job span; the carrier names the stage under way, else the job', () => {
  const { exporter, tracer } = tracing();
  const trace = tracer.startJob(
    { name: 'r1', systemId: 's_0123456789ab' },
    sourceJob([
      { key: 'CI_PIPELINE_ID', value: '99', masked: false },
      { key: 'CI_COMMIT_SHA', value: 'a'.repeat(40), masked: false },
      { key: 'CI_PROJECT_URL', value: 'https://secret.example/x', masked: true },
      { key: 'CI_PROJECT_PATH', value: 'g/p', masked: false, public: false },
    ]),
  );
  assert.ok(trace !== undefined);
  const jobCarrier = trace.carrier().traceparent;
  trace.stageStarted('step_script');
  const stageCarrier = trace.carrier().traceparent;
  trace.event('retry', { attempt: 2 });
  trace.stageEnded('step_script', true);
  trace.finish(
    result({ state: 'failed', failureReason: 'script_failure', exitCode: 3, resources: { cpuSeconds: 1.5, peakRssBytes: 1024, measuredBy: 'sampled' } }),
  );
  const [stage, job] = exporter.getFinishedSpans();
  assert.equal(stage?.name, 'step_script');
  assert.equal(job?.name, 'lint');
  assert.equal(stage?.parentSpanContext?.spanId, job?.spanContext().spanId);
  assert.equal(jobCarrier, `00-${job?.spanContext().traceId}-${job?.spanContext().spanId}-01`);
  assert.equal(stageCarrier, `00-${job?.spanContext().traceId}-${stage?.spanContext().spanId}-01`);
  assert.equal(stage?.status.code, 2);
  assert.deepEqual(stage?.events.map((e) => e.name), ['retry']);
  assert.equal(job?.attributes['cicd.pipeline.run.id'], '99');
  assert.equal(job?.attributes['vcs.ref.head.revision'], 'a'.repeat(40));
  assert.equal(job?.attributes['vcs.repository.url.full'], undefined, 'a masked variable stays out');
  assert.equal(job?.attributes['cicd.pipeline.name'], undefined, 'a private variable stays out');
  assert.equal(job?.attributes['cicd.pipeline.task.run.url.full'], 'https://gitlab.example/g/p/-/jobs/7');
  assert.equal(job?.attributes['error.type'], 'script_failure');
  assert.equal(job?.attributes['ci_runner.job.exit_code'], 3);
  assert.equal(job?.attributes['ci_runner.job.cpu_seconds'], 1.5);
});

test('the script gets TRACEPARENT and TRACESTATE after its first line, quoted for the shell', () => {
  const script = withTraceContext('#!/usr/bin/env bash\necho "$TRACEPARENT|$TRACESTATE"\n', {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: "vendor=it's",
  });
  assert.ok(script.startsWith('#!/usr/bin/env bash\nexport TRACEPARENT='));
  const run = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  assert.equal(run.stdout, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01|vendor=it's\n");
});

test('a trace that cannot be started never fails the job: the error is handed on and the job runs untraced', () => {
  const failures: string[] = [];
  const tracer = jobTracer(() => {
    throw new Error("Configuration: Could not parse user-provided export URL: 'http://exa mple'");
  }, (error, job) => failures.push(`${job.id}: ${(error as Error).message}`));
  assert.equal(tracer.startJob({ name: 'r1', systemId: 's_0123456789ab' }, sourceJob([])), undefined);
  assert.deepEqual(failures, ["7: Configuration: Could not parse user-provided export URL: 'http://exa mple'"]);
});

const RUNNER = { name: 'r1', systemId: 's_0123456789ab' };
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

test("a joined trace's flags decide: an unsampled parent sends nothing, and the job's processes get flags 00", () => {
  const { exporter, tracer } = tracing();
  const trace = tracer.startJob(RUNNER, sourceJob([], { traceId: TRACE_ID, parentSpanId: 'b7ad6b7169203331', traceFlags: 0, endpoints: [] }));
  assert.ok(trace !== undefined);
  assert.equal(trace.jobSpan, undefined, 'no exemplar can link to a span never sent');
  trace.stageStarted('step_script');
  assert.match(trace.carrier().traceparent, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
  trace.stageEnded('step_script');
  trace.finish(result({ state: 'success', failureReason: undefined }));
  assert.deepEqual(exporter.getFinishedSpans(), []);
});

test("a joined trace's tracestate goes on to the job's processes with every stage's context", () => {
  const { exporter, tracer } = tracing();
  const traceState = 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';
  const trace = tracer.startJob(RUNNER, sourceJob([], { traceId: TRACE_ID, parentSpanId: 'b7ad6b7169203331', traceFlags: 1, traceState, endpoints: [] }));
  assert.ok(trace !== undefined);
  assert.equal(trace.carrier().tracestate, traceState);
  trace.stageStarted('step_script');
  const stage = trace.carrier();
  assert.equal(stage.tracestate, traceState);
  assert.match(stage.traceparent, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
  trace.stageEnded('step_script');
  trace.finish(result({ state: 'success', failureReason: undefined }));
  const [step, job] = exporter.getFinishedSpans();
  assert.equal(job?.parentSpanContext?.spanId, 'b7ad6b7169203331');
  assert.equal(step?.spanContext().traceState?.serialize(), traceState);
});

test("vcs.* attributes from the job's public predefined variables, and the forge of a GitLab coordinator's job", () => {
  const { exporter, tracer } = tracing();
  const variable = (key: string, value: string, more: Partial<Job['variables'][number]> = {}): Job['variables'][number] => ({
    key,
    value,
    masked: false,
    ...more,
  });
  const run = (variables: Job['variables'], forge?: 'gitlab'): Record<string, unknown> => {
    const job = sourceJob(variables);
    const trace = tracer.startJob(RUNNER, { ...job, job: { ...job.job, forge } });
    trace?.finish(result({ state: 'success', failureReason: undefined }));
    return { ...exporter.getFinishedSpans().at(-1)?.attributes };
  };
  const mergeRequest = run([
    variable('CI_PROJECT_NAME', 'p'),
    variable('CI_COMMIT_REF_NAME', 'feature'),
    variable('CI_MERGE_REQUEST_IID', '17'),
    variable('CI_MERGE_REQUEST_TARGET_BRANCH_NAME', 'main'),
  ], 'gitlab');
  assert.equal(mergeRequest['vcs.provider.name'], 'gitlab');
  assert.equal(mergeRequest['vcs.repository.name'], 'p');
  assert.equal(mergeRequest['vcs.change.id'], '17');
  assert.equal(mergeRequest['vcs.ref.base.name'], 'main');
  assert.equal(mergeRequest['vcs.ref.head.type'], undefined, 'a merge request pipeline names neither a branch nor a tag');
  assert.equal(run([variable('CI_COMMIT_BRANCH', 'main')], 'gitlab')['vcs.ref.head.type'], 'branch');
  assert.equal(run([variable('CI_COMMIT_TAG', 'v1.2.0')], 'gitlab')['vcs.ref.head.type'], 'tag');
  const local = run([
    variable('CI_PROJECT_NAME', 'hidden', { masked: true }),
    variable('CI_MERGE_REQUEST_IID', '9', { public: false }),
    variable('CI_COMMIT_BRANCH', ''),
  ]);
  for (const key of ['vcs.provider.name', 'vcs.repository.name', 'vcs.change.id', 'vcs.ref.head.type']) assert.equal(local[key], undefined, key);
});
