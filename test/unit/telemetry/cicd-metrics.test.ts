// The CI/CD conventions' metrics (cicd.*) read back from an in-memory reader as the SDK hands them
// to every exporter (OTLP included), with names, units and attributes checked against
// @opentelemetry/semantic-conventions; then their Prometheus names as /metrics serves them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, type MetricData, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import * as semconv from '@opentelemetry/semantic-conventions/incubating';
import { type Config, DEFAULT_CONFIG, DEFAULT_RUNNER } from '../../../src/config/types.ts';
import type { JobVariable } from '../../../src/job/model.ts';
import { COUNTED_FAILURE_REASONS, type JobResult, type StageTiming, systemFailureResult } from '../../../src/job/result.ts';
import type { QueueInfo } from '../../../src/job/source.ts';
import type { HandedOutJob, JobView, RunnerStatus } from '../../../src/job/status.ts';
import { type CicdMetrics, MAX_PIPELINE_NAMES, OTHER_PIPELINES, registerCicdMetrics } from '../../../src/telemetry/cicd-metrics.ts';
import { jobTracer } from '../../../src/telemetry/job-tracing.ts';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { fakeJob } from '../../support/fakes.ts';
import { assertPromtoolAccepts } from '../../support/promtool.ts';
import { fixedStatus } from '../../support/runner-status.ts';
import { skipUnless } from '../../support/tools.ts';

/** A reader that collects only when asked, as the Prometheus and OTLP readers do on a scrape or push. */
class CollectingReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

async function collect(act: (metrics: CicdMetrics) => void, status?: RunnerStatus): Promise<MetricData[]> {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  try {
    const metrics = registerCicdMetrics(provider.getMeter('test'));
    if (status !== undefined) metrics.observe(status);
    act(metrics);
    const { resourceMetrics, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  } finally {
    await provider.shutdown();
  }
}

interface Point {
  readonly attributes: Attributes;
  /** A sum's value, a histogram's sum. */
  readonly value: number;
  /** A histogram's count; 1 for a sum. */
  readonly count: number;
}

function metric(metrics: readonly MetricData[], name: string): MetricData {
  const found = metrics.find((m) => m.descriptor.name === name);
  assert.ok(found, `${name} among ${metrics.map((m) => m.descriptor.name).join(', ')}`);
  return found;
}

function points(metrics: readonly MetricData[], name: string): Point[] {
  const data = metric(metrics, name);
  if (data.dataPointType === DataPointType.HISTOGRAM) {
    return data.dataPoints.map(({ attributes, value }) => ({ attributes, value: value.sum ?? Number.NaN, count: value.count }));
  }
  if (data.dataPointType === DataPointType.SUM || data.dataPointType === DataPointType.GAUGE) {
    return data.dataPoints.map(({ attributes, value }) => ({ attributes, value, count: 1 }));
  }
  throw new Error(`${name}: unexpected data point type ${data.dataPointType}`);
}

/** The value of the point with exactly these attributes, undefined when there is none. */
function valueOf(metrics: readonly MetricData[], name: string, attributes: Attributes): number | undefined {
  const want = JSON.stringify(Object.entries(attributes).sort());
  return points(metrics, name).find((p) => JSON.stringify(Object.entries(p.attributes).sort()) === want)?.value;
}

const variable = (key: string, value: string, fields: Partial<JobVariable> = {}): JobVariable => ({ key, value, masked: false, ...fields });

function handedOut(variables: readonly JobVariable[], queue?: QueueInfo): HandedOutJob {
  const job = fakeJob('7', { name: 'build', variables });
  return { id: job.id, name: job.name, url: 'https://gitlab.example/g/p/-/jobs/7', job, queue };
}

function finished(fields: Partial<JobResult>, stages: readonly [StageTiming['stage'], number][]): JobResult {
  return {
    ...systemFailureResult('x'),
    state: 'success',
    failureReason: undefined,
    ...fields,
    stages: stages.map(([stage, durationSeconds]) => ({ stage, durationSeconds })),
  };
}

const A_WHOLE_JOB: [StageTiming['stage'], number][] = [
  ['prepare_executor', 1],
  ['prepare_script', 0.5],
  ['get_sources', 2],
  ['step_script', 3],
  ['step_release', 0.5],
  ['after_script', 1],
  ['upload_artifacts_on_success', 0.25],
  ['cleanup_file_variables', 0.25],
];

test('the instruments are the conventions: names, instrument kinds and units', async () => {
  const metrics = await collect((m) => {
    m.coordinatorObserver();
    const job = handedOut([variable('CI_PROJECT_PATH', 'g/p')], { waitedSeconds: 1 });
    m.jobFinished({ runner: 'r', result: finished({}, A_WHOLE_JOB), job });
  }, fixedStatus());
  const duration = metric(metrics, semconv.METRIC_CICD_PIPELINE_RUN_DURATION);
  assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
  assert.equal(duration.descriptor.unit, 's');
  const workers = metric(metrics, semconv.METRIC_CICD_WORKER_COUNT);
  assert.ok(workers.dataPointType === DataPointType.SUM && !workers.isMonotonic, 'cicd.worker.count is an UpDownCounter');
  assert.equal(workers.descriptor.unit, '{worker}');
  for (const name of [semconv.METRIC_CICD_SYSTEM_ERRORS, semconv.METRIC_CICD_PIPELINE_RUN_ERRORS]) {
    const counter = metric(metrics, name);
    assert.ok(counter.dataPointType === DataPointType.SUM && counter.isMonotonic, `${name} is a Counter`);
    assert.equal(counter.descriptor.unit, '{error}');
  }
});

/** The worker states of `status`, by state. */
async function workerStates(status: RunnerStatus): Promise<Record<string, number | undefined>> {
  const metrics = await collect(() => undefined, status);
  assert.equal(points(metrics, semconv.METRIC_CICD_WORKER_COUNT).length, 3, 'the three states, always');
  const slots = points(metrics, semconv.METRIC_CICD_WORKER_COUNT).reduce((sum, p) => sum + p.value, 0);
  assert.equal(slots, Math.max(status.config.concurrent, status.runningJobs().length), 'the states add up to the slots');
  return Object.fromEntries(
    [semconv.CICD_WORKER_STATE_VALUE_BUSY, semconv.CICD_WORKER_STATE_VALUE_AVAILABLE, semconv.CICD_WORKER_STATE_VALUE_OFFLINE].map((
      state,
    ) => [state, valueOf(metrics, semconv.METRIC_CICD_WORKER_COUNT, { [semconv.ATTR_CICD_WORKER_STATE]: state })]),
  );
}

function running(...runners: string[]): JobView[] {
  return runners.map((runner, i) => ({
    id: String(i),
    name: `job ${i}`,
    runner,
    url: '',
    state: 'running',
    stage: 'step_script',
    executorStage: 'step_script',
    startedAt: 0,
    stageStartedAt: 0,
    pid: undefined,
  }));
}

function config(concurrent: number, limits: Readonly<Record<string, number>>): Config {
  return { ...DEFAULT_CONFIG, concurrent, runners: Object.entries(limits).map(([name, limit]) => ({ ...DEFAULT_RUNNER, name, limit })) };
}

test("cicd.worker.count: the job slots by state, summing to concurrent; a runner's limit and a runner that stopped asking make slots offline", async () => {
  const states = (busy: number, available: number, offline: number): Record<string, number> => ({
    [semconv.CICD_WORKER_STATE_VALUE_BUSY]: busy,
    [semconv.CICD_WORKER_STATE_VALUE_AVAILABLE]: available,
    [semconv.CICD_WORKER_STATE_VALUE_OFFLINE]: offline,
  });
  // A runner without a limit may fill every free slot.
  assert.deepEqual(await workerStates(fixedStatus(config(4, { a: 1, b: 0 }), running('a'))), states(1, 3, 0));
  // Limits cap what the free slots can take: a is full, b may take 2 more.
  assert.deepEqual(await workerStates(fixedStatus(config(6, { a: 1, b: 2 }), running('a'))), states(1, 2, 3));
  // A runner its source gave up on (a rejected token) takes nothing.
  const refused: RunnerStatus = { ...fixedStatus(config(4, { a: 0, b: 1 }), running('b')), runnersTakingJobs: () => new Set(['b']) };
  assert.deepEqual(await workerStates(refused), states(1, 0, 3));
  // Draining (SIGQUIT) or stopped: no runner asks, the running jobs stay busy.
  const draining: RunnerStatus = { ...fixedStatus(config(3, { a: 0 }), running('a', 'a')), state: 'stopping', runnersTakingJobs: () => new Set() };
  assert.deepEqual(await workerStates(draining), states(2, 0, 1));
  // No runner configured: every slot is offline.
  assert.deepEqual(await workerStates(fixedStatus(config(2, {}))), states(0, 0, 2));
  // A reload lowered concurrent below the jobs still running: they are the slots.
  assert.deepEqual(await workerStates(fixedStatus(config(1, { a: 0 }), running('a', 'a', 'a'))), states(3, 0, 0));
});

test("cicd.pipeline.run.duration: each job's phases, the last one with the result; pending is queue time plus preparing", async () => {
  const job = handedOut([variable('CI_PIPELINE_NAME', 'Build and Test'), variable('CI_PROJECT_PATH', 'g/p')], { waitedSeconds: 10 });
  const metrics = await collect((m) => {
    m.jobStarted({ runner: 'r', queue: job.queue, job });
    m.jobFinished({ runner: 'r', result: finished({}, A_WHOLE_JOB), job });
  });
  const name = { [semconv.ATTR_CICD_PIPELINE_NAME]: 'Build and Test' };
  const phase = (state: string, extra: Attributes = {}): number | undefined =>
    valueOf(metrics, semconv.METRIC_CICD_PIPELINE_RUN_DURATION, { ...name, [semconv.ATTR_CICD_PIPELINE_RUN_STATE]: state, ...extra });
  assert.equal(phase(semconv.CICD_PIPELINE_RUN_STATE_VALUE_PENDING), 11.5, 'queue 10 s + prepare_executor 1 s + prepare_script 0.5 s');
  assert.equal(phase(semconv.CICD_PIPELINE_RUN_STATE_VALUE_EXECUTING), 6.5, 'get_sources to after_script, named steps included');
  assert.equal(
    phase(semconv.CICD_PIPELINE_RUN_STATE_VALUE_FINALIZING, { [semconv.ATTR_CICD_PIPELINE_RESULT]: semconv.CICD_PIPELINE_RESULT_VALUE_SUCCESS }),
    0.5,
  );
  assert.equal(points(metrics, semconv.METRIC_CICD_PIPELINE_RUN_DURATION).length, 3, 'one point per phase, the result only on the last');
  assert.deepEqual(points(metrics, semconv.METRIC_CICD_PIPELINE_RUN_DURATION).map((p) => p.count), [1, 1, 1]);
});

test('a phase the runner could not measure is absent: no queue time, no pending; a job that ended while preparing carries its result there', async () => {
  const noQueue = handedOut([variable('CI_PROJECT_PATH', 'g/p')]);
  const failedEarly = handedOut([variable('CI_PROJECT_PATH', 'g/q')], { waitedSeconds: 2 });
  const metrics = await collect((m) => {
    m.jobFinished({ runner: 'r', result: finished({}, A_WHOLE_JOB), job: noQueue });
    m.jobFinished({
      runner: 'r',
      result: finished({ state: 'failed', failureReason: 'runner_system_failure' }, [['prepare_executor', 3]]),
      job: failedEarly,
    });
  });
  const states = (pipeline: string): unknown[] =>
    points(metrics, semconv.METRIC_CICD_PIPELINE_RUN_DURATION).filter((p) => p.attributes[semconv.ATTR_CICD_PIPELINE_NAME] === pipeline).map((p) =>
      p.attributes
    );
  assert.deepEqual(states('g/p').map((a) => (a as Attributes)[semconv.ATTR_CICD_PIPELINE_RUN_STATE]), [
    semconv.CICD_PIPELINE_RUN_STATE_VALUE_EXECUTING,
    semconv.CICD_PIPELINE_RUN_STATE_VALUE_FINALIZING,
  ]);
  assert.deepEqual(states('g/q'), [{
    [semconv.ATTR_CICD_PIPELINE_NAME]: 'g/q',
    [semconv.ATTR_CICD_PIPELINE_RUN_STATE]: semconv.CICD_PIPELINE_RUN_STATE_VALUE_PENDING,
    [semconv.ATTR_CICD_PIPELINE_RESULT]: semconv.CICD_PIPELINE_RESULT_VALUE_ERROR,
    [semconv.ATTR_ERROR_TYPE]: 'runner_system_failure',
  }]);
  assert.equal(valueOf(metrics, semconv.METRIC_CICD_PIPELINE_RUN_DURATION, states('g/q')[0] as Attributes), 5);
});

test('cicd.pipeline.run.errors: failed jobs by failure reason, every reason from 0 once a pipeline is seen; a cancel is no error', async () => {
  const job = handedOut([variable('CI_PROJECT_PATH', 'g/p')]);
  const failed = (failureReason: JobResult['failureReason']): JobResult => finished({ state: 'failed', failureReason }, [['step_script', 1]]);
  const seen = await collect((m) => m.jobStarted({ runner: 'r', queue: undefined, job }));
  for (const reason of COUNTED_FAILURE_REASONS) {
    assert.equal(
      valueOf(seen, semconv.METRIC_CICD_PIPELINE_RUN_ERRORS, { [semconv.ATTR_CICD_PIPELINE_NAME]: 'g/p', [semconv.ATTR_ERROR_TYPE]: reason }),
      0,
      reason,
    );
  }
  const metrics = await collect((m) => {
    m.jobFinished({ runner: 'r', result: failed('script_failure'), job });
    m.jobFinished({ runner: 'r', result: failed('script_failure'), job });
    m.jobFinished({ runner: 'r', result: failed('job_execution_timeout'), job });
    m.jobFinished({ runner: 'r', result: finished({ state: 'canceled' }, [['step_script', 1]]), job });
  });
  const errors = (reason: string): number | undefined =>
    valueOf(metrics, semconv.METRIC_CICD_PIPELINE_RUN_ERRORS, { [semconv.ATTR_CICD_PIPELINE_NAME]: 'g/p', [semconv.ATTR_ERROR_TYPE]: reason });
  assert.equal(errors('script_failure'), 2);
  assert.equal(errors('job_execution_timeout'), 1);
  assert.equal(errors('runner_system_failure'), 0);
  assert.equal(points(metrics, semconv.METRIC_CICD_PIPELINE_RUN_ERRORS).reduce((sum, p) => sum + p.value, 0), 3);
  // The results as the conventions name them; error.type only for the runs that failed.
  const results = points(metrics, semconv.METRIC_CICD_PIPELINE_RUN_DURATION).map((
    p,
  ) => [p.attributes[semconv.ATTR_CICD_PIPELINE_RESULT], p.attributes[semconv.ATTR_ERROR_TYPE], p.count]);
  assert.deepEqual(results, [
    [semconv.CICD_PIPELINE_RESULT_VALUE_FAILURE, 'script_failure', 2],
    [semconv.CICD_PIPELINE_RESULT_VALUE_TIMEOUT, 'job_execution_timeout', 1],
    [semconv.CICD_PIPELINE_RESULT_VALUE_CANCELLATION, undefined, 1],
  ]);
});

test('cicd.system.errors: failed coordinator requests by status class, failed reloads, system failures of jobs; each from 0', async () => {
  const system = (component: string, type: string): Attributes => ({ [semconv.ATTR_CICD_SYSTEM_COMPONENT]: component, [semconv.ATTR_ERROR_TYPE]: type });
  const before = await collect(() => undefined);
  assert.equal(valueOf(before, semconv.METRIC_CICD_SYSTEM_ERRORS, system('configuration', 'reload_failed')), 0);
  assert.equal(valueOf(before, semconv.METRIC_CICD_SYSTEM_ERRORS, system('executor', 'runner_system_failure')), 0);
  assert.equal(valueOf(before, semconv.METRIC_CICD_SYSTEM_ERRORS, system('coordinator', '5xx')), undefined, 'no coordinator, no coordinator series');

  const metrics = await collect((m) => {
    const observe = m.coordinatorObserver();
    const call = (endpoint: string, status: number): void => observe({ endpoint, method: 'POST', status, seconds: 0.1 });
    for (const status of [201, 204, 200, 202, 307]) call('request_job', status);
    call('request_job', 0);
    call('request_job', 503);
    call('update_job', 502);
    call('request_job', 403);
    // GitLab's protocol, not failures: another request is being served; the log offset is resynchronised.
    call('request_job', 409);
    call('patch_trace', 416);
    call('update_job', 409);
    m.configurationFailed();
    const job = handedOut([]);
    m.jobFinished({ runner: 'r', result: finished({ state: 'failed', failureReason: 'runner_system_failure' }, [['prepare_executor', 1]]), job });
    m.jobFinished({ runner: 'r', result: finished({ state: 'failed', failureReason: 'script_failure' }, [['step_script', 1]]), job });
  });
  assert.equal(valueOf(metrics, semconv.METRIC_CICD_SYSTEM_ERRORS, system('coordinator', 'no_response')), 1);
  assert.equal(valueOf(metrics, semconv.METRIC_CICD_SYSTEM_ERRORS, system('coordinator', '5xx')), 2);
  assert.equal(valueOf(metrics, semconv.METRIC_CICD_SYSTEM_ERRORS, system('coordinator', '4xx')), 2);
  assert.equal(valueOf(metrics, semconv.METRIC_CICD_SYSTEM_ERRORS, system('configuration', 'reload_failed')), 1);
  assert.equal(valueOf(metrics, semconv.METRIC_CICD_SYSTEM_ERRORS, system('executor', 'runner_system_failure')), 1, "the script's failure is not the system's");
  assert.equal(points(metrics, semconv.METRIC_CICD_SYSTEM_ERRORS).length, 5, 'bounded: three components, five types');
});

test('cicd.pipeline.name: the job span names the same pipeline; a private variable or none gives _OTHER, and so do names past the cap', async () => {
  const exporter = new InMemorySpanExporter();
  const tracer = jobTracer(
    () => ({ tracer: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('t') }),
    (error) => assert.fail(String(error)),
  );
  const spanName = (job: HandedOutJob): unknown => {
    tracer.startJob({ name: 'r', systemId: 's_0123456789ab' }, { ...job, begin: () => Promise.reject(new Error('unused')), finish: () => Promise.resolve() })
      ?.finish(finished({}, []));
    return exporter.getFinishedSpans().at(-1)?.attributes[semconv.ATTR_CICD_PIPELINE_NAME];
  };
  const named = handedOut([variable('CI_PIPELINE_NAME', 'Nightly'), variable('CI_PROJECT_PATH', 'g/p')]);
  const byPath = handedOut([variable('CI_PROJECT_PATH', 'g/p')]);
  const hidden = handedOut([variable('CI_PROJECT_PATH', 'g/secret', { public: false })]);
  const metrics = await collect((m) => {
    for (const job of [named, byPath, hidden]) m.jobStarted({ runner: 'r', queue: undefined, job });
    for (let i = 0; i < MAX_PIPELINE_NAMES + 5; i++) m.jobStarted({ runner: 'r', queue: undefined, job: handedOut([variable('CI_PROJECT_PATH', `g/p${i}`)]) });
  });
  const names = new Set(points(metrics, semconv.METRIC_CICD_PIPELINE_RUN_ERRORS).map((p) => p.attributes[semconv.ATTR_CICD_PIPELINE_NAME]));
  assert.equal(spanName(named), 'Nightly');
  assert.equal(spanName(byPath), 'g/p');
  assert.equal(spanName(hidden), undefined);
  assert.ok(names.has('Nightly') && names.has('g/p') && names.has(OTHER_PIPELINES) && !names.has('g/secret'));
  assert.equal(names.size, MAX_PIPELINE_NAMES, `at most ${MAX_PIPELINE_NAMES} names, ${OTHER_PIPELINES} included`);
  assert.ok(!names.has(`g/p${MAX_PIPELINE_NAMES}`), 'a name past the cap is not kept');
});

test('on /metrics: the Prometheus names and labels of the cicd metrics, and promtool accepts them (but for the _count of cicd_worker_count)', {
  skip: skipUnless('promtool', 'prometheus'),
}, async () => {
  const telemetry = new Telemetry();
  let body: string;
  try {
    const metrics = registerCicdMetrics(telemetry.meter);
    metrics.observe(fixedStatus(config(2, { a: 0 }), running('a')));
    metrics.coordinatorObserver()({ endpoint: 'request_job', method: 'POST', status: 500, seconds: 1 });
    const job = handedOut([variable('CI_PROJECT_PATH', 'g/p')], { waitedSeconds: 4 });
    metrics.jobFinished({ runner: 'a', result: finished({ state: 'failed', failureReason: 'script_failure' }, A_WHOLE_JOB), job });
    body = (await telemetry.collect()).prometheus();
  } finally {
    await telemetry.shutdown();
  }
  assert.match(body, /^# TYPE cicd_worker_count gauge$/m);
  assert.match(body, /^cicd_worker_count\{cicd_worker_state="busy"\} 1$/m);
  assert.match(body, /^cicd_worker_count\{cicd_worker_state="available"\} 1$/m);
  assert.match(body, /^cicd_system_errors_total\{cicd_system_component="coordinator",error_type="5xx"\} 1$/m);
  assert.match(body, /^cicd_pipeline_run_errors_total\{cicd_pipeline_name="g\/p",error_type="script_failure"\} 1$/m);
  assert.match(body, /^cicd_pipeline_run_duration_count\{cicd_pipeline_name="g\/p",cicd_pipeline_run_state="pending"\} 1$/m);
  assert.match(
    body,
    /^cicd_pipeline_run_duration_sum\{cicd_pipeline_name="g\/p",cicd_pipeline_run_state="finalizing",cicd_pipeline_result="failure",error_type="script_failure"\} 0\.5$/m,
  );
  assert.match(body, /^# UNIT cicd_pipeline_run_duration s$/m);
  const result = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
  assertPromtoolAccepts(body, result.status, `${result.stdout}${result.stderr}`);
});
