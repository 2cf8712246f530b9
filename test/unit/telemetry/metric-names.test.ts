// metric_names: the same collection under our names, GitLab Runner's, or both,
// with GitLab's runner labels; names that are not the runner's own keep theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricNameSet } from '../../../src/config/types.ts';
import { gitlabExecutorStage, gitlabName, type MetricNaming } from '../../../src/telemetry/metric-names.ts';
import { type Scrape, Telemetry } from '../../../src/telemetry/telemetry.ts';

const TOKENS: Readonly<Record<string, string>> = { gl: 'abcdefghi' };

function naming(names: MetricNameSet): MetricNaming {
  return {
    names,
    systemId: 's_0123456789ab',
    runnerLabel: (name) => TOKENS[name] ?? name,
    executorOf: (name) => (name === 'gl' ? 'docker' : name === 'local' ? 'shell' : undefined),
  };
}

/** A scrape of a few instruments shaped like the runner's, named as `names` asks (none: no renaming set up). */
async function scrape(names?: () => MetricNameSet): Promise<Scrape> {
  const telemetry = new Telemetry();
  try {
    if (names !== undefined) telemetry.nameWith(() => naming(names()));
    const { meter } = telemetry;
    meter.createCounter('ci_runner_jobs_total').add(2, { runner: 'gl' });
    meter.createCounter('ci_runner_jobs_total').add(1, { runner: 'local' });
    meter.createObservableGauge('ci_runner_builds').addCallback((result) => result.observe(1, { runner: 'gl', stage: 'step_script', state: 'running' }));
    meter.createHistogram('ci_runner_job_duration_seconds', { advice: { explicitBucketBoundaries: [30, 60] } }).record(42, { runner: 'gl' });
    meter.createObservableGauge('ci_runner_concurrent').addCallback((result) => result.observe(4));
    meter.createCounter('process_cpu_seconds_total').add(3);
    return await telemetry.collect();
  } finally {
    await telemetry.shutdown();
  }
}

const names = (body: string): string[] => [...new Set([...body.matchAll(/^([a-z_]+?)(?:_bucket|_sum|_count)?(?:\{.*\})? \S+$/gm)].map((m) => m[1]!))].sort();

test('ci_runner (the default) serves the exposition byte for byte as without renaming', async () => {
  assert.equal((await scrape(() => 'ci_runner')).prometheus(), (await scrape()).prometheus());
});

test("gitlab_runner serves GitLab Runner's names instead, with runner = the short token, runner_name and system_id", async () => {
  const body = (await scrape(() => 'gitlab_runner')).prometheus();
  assert.deepEqual(names(body), [
    'gitlab_runner_concurrent',
    'gitlab_runner_job_duration_seconds',
    'gitlab_runner_jobs',
    'gitlab_runner_jobs_total',
    'process_cpu_seconds_total',
  ]);
  assert.match(body, /^gitlab_runner_jobs_total\{runner="abcdefghi",runner_name="gl",system_id="s_0123456789ab"\} 2$/m);
  // A runner without a token (a local queue) is its name in `runner`.
  assert.match(body, /^gitlab_runner_jobs_total\{runner="local",runner_name="local",system_id="s_0123456789ab"\} 1$/m);
  assert.match(
    body,
    /^gitlab_runner_jobs\{runner="abcdefghi",runner_name="gl",system_id="s_0123456789ab",stage="step_script",state="running",executor_stage="docker_run"\} 1$/m,
  );
  assert.match(
    body,
    /^gitlab_runner_job_duration_seconds_bucket\{runner="abcdefghi",runner_name="gl",system_id="s_0123456789ab",mode="traditional",le="60"\} 1$/m,
  );
  assert.match(body, /^# TYPE gitlab_runner_jobs gauge$/m);
  assert.match(body, /^gitlab_runner_concurrent 4$/m);
});

test('both serves each of ours and, after it, its GitLab twin; the other renderings follow', async () => {
  const both = await scrape(() => 'both');
  const body = both.prometheus();
  assert.ok(body.indexOf('ci_runner_jobs_total{runner="gl"} 2') < body.indexOf('gitlab_runner_jobs_total{runner="abcdefghi"'));
  assert.deepEqual(
    names(body).filter((name) => name.startsWith('ci_runner_')).map((name) => gitlabName(name)).sort(),
    names(body).filter((name) => name.startsWith('gitlab_runner_')),
  );
  assert.match(both.influx(), /^prometheus,runner=abcdefghi,runner_name=gl,system_id=s_0123456789ab gitlab_runner_jobs_total=2 /m);
  assert.match(both.influx(), /^prometheus,runner=gl ci_runner_jobs_total=2 /m);
});

test('the setting is read at each collection, so a reload changes the names at the next scrape', async () => {
  let set: MetricNameSet = 'ci_runner';
  const telemetry = new Telemetry();
  try {
    telemetry.nameWith(() => naming(set));
    telemetry.meter.createCounter('ci_runner_jobs_total').add(1, { runner: 'gl' });
    assert.match((await telemetry.collect()).prometheus(), /^ci_runner_jobs_total/m);
    set = 'gitlab_runner';
    const body = (await telemetry.collect()).prometheus();
    assert.match(body, /^gitlab_runner_jobs_total/m);
    assert.doesNotMatch(body, /^ci_runner_/m);
  } finally {
    await telemetry.shutdown();
  }
});

test("gitlabName: GitLab Runner's names of ours, none for names that are not the runner's own", () => {
  assert.equal(gitlabName('ci_runner_builds'), 'gitlab_runner_jobs');
  assert.equal(gitlabName('ci_runner_failed_jobs_total'), 'gitlab_runner_failed_jobs_total');
  assert.equal(gitlabName('ci_runner_job_queue_duration_seconds'), 'gitlab_runner_job_queue_duration_seconds');
  assert.equal(gitlabName('process_resident_memory_bytes'), undefined);
  assert.equal(gitlabName('cicd.worker.count'), undefined);
});

test("a job duration's exemplar follows the series into GitLab's name in the OpenMetrics exposition", async () => {
  const telemetry = new Telemetry();
  try {
    telemetry.nameWith(() => naming('both'));
    const histogram = telemetry.meter.createHistogram('ci_runner_job_duration_seconds', { advice: { explicitBucketBoundaries: [30, 60] } });
    histogram.record(42, { runner: 'gl' });
    const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
    telemetry.exemplars.histogram('ci_runner_job_duration_seconds', [30, 60]).record(42, { runner: 'gl' }, span, 1_700_000_000_000);
    const body = (await telemetry.collect()).openMetrics();
    const exemplar = ` # {trace_id="${span.traceId}",span_id="${span.spanId}"} 42 1700000000`;
    assert.ok(body.includes(`ci_runner_job_duration_seconds_bucket{runner="gl",le="60"} 1${exemplar}`), body);
    assert.ok(
      body.includes(
        `gitlab_runner_job_duration_seconds_bucket{runner="abcdefghi",runner_name="gl",system_id="s_0123456789ab",mode="traditional",le="60"} 1${exemplar}`,
      ),
      body,
    );
  } finally {
    await telemetry.shutdown();
  }
});

test("GitLab's executor stages, API methods in lower case: the twins' labels as GitLab Runner writes them", async () => {
  assert.equal(gitlabExecutorStage('docker', 'prepare_executor'), 'docker_prepare');
  assert.equal(gitlabExecutorStage('docker', 'step_script'), 'docker_run');
  assert.equal(gitlabExecutorStage('docker', 'upload_artifacts_on_success'), 'docker_run');
  assert.equal(gitlabExecutorStage('shell', 'prepare_executor'), 'prepare');
  assert.equal(gitlabExecutorStage('shell', 'after_script'), 'prepare');
  const telemetry = new Telemetry();
  try {
    telemetry.nameWith(() => naming('gitlab_runner'));
    telemetry.meter.createCounter('ci_runner_api_request_statuses_total').add(1, { runner: 'gl', endpoint: 'request_job', status: '201', method: 'POST' });
    telemetry.meter.createObservableGauge('ci_runner_builds').addCallback((result) => {
      result.observe(1, { runner: 'local', stage: 'prepare_executor', state: 'running' });
      result.observe(0, { runner: 'gone', stage: 'step_script', state: 'running' });
    });
    const body = (await telemetry.collect()).prometheus();
    assert.match(
      body,
      /^gitlab_runner_api_request_statuses_total\{runner="abcdefghi",runner_name="gl",system_id="s_0123456789ab",endpoint="request_job",status="201",method="post"\} 1$/m,
    );
    assert.match(
      body,
      /^gitlab_runner_jobs\{runner="local",runner_name="local",system_id="s_0123456789ab",stage="prepare_executor",state="running",executor_stage="prepare"\} 1$/m,
    );
    // A runner no longer configured: no executor to tell its stage by.
    assert.match(body, /^gitlab_runner_jobs\{runner="gone",runner_name="gone",system_id="s_0123456789ab",stage="step_script",state="running"\} 0$/m);
  } finally {
    await telemetry.shutdown();
  }
});
