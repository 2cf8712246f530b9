// The artifact and cache metrics made from finished jobs' JobResult.transfers,
// read back from the Prometheus exposition as a scrape serves it; the stage
// metrics' coverage of the artifact and cache stages; the "Job finished" log
// line's transfer summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transferLogFields } from '../../../src/agent/agent.ts';
import { type Config, DEFAULT_CONFIG, DEFAULT_RUNNER } from '../../../src/config/types.ts';
import { BUILD_STAGES, type JobResult, systemFailureResult } from '../../../src/job/result.ts';
import type { JobView } from '../../../src/job/status.ts';
import { TRANSFER_FAILURES, type TransferRecord } from '../../../src/job/transfer.ts';
import { registerJobMetrics } from '../../../src/telemetry/job-metrics.ts';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { families } from '../../support/exposition.ts';
import { assertPromtoolAccepts, promtool } from '../../support/promtool.ts';
import { fixedStatus } from '../../support/runner-status.ts';
import { skipUnless } from '../../support/tools.ts';

/** A finished job's result with these transfers and stages. */
function resultWith(transfers: readonly TransferRecord[], stages: JobResult['stages'] = []): JobResult {
  return { ...systemFailureResult('x'), state: 'success', failureReason: undefined, systemError: undefined, exitCode: 0, stages, transfers };
}

const config = (...names: string[]): Config => ({ ...DEFAULT_CONFIG, runners: names.map((name) => ({ ...DEFAULT_RUNNER, name })) });

/**
 * The exposition after `act` with the job metrics of a fresh meter, and its
 * samples by `name{label="value",...}` with the labels sorted by name.
 */
async function exposition(act: (metrics: ReturnType<typeof registerJobMetrics>) => void): Promise<{ body: string; samples: Map<string, number> }> {
  const telemetry = new Telemetry();
  try {
    act(registerJobMetrics(telemetry.meter));
    const body = (await telemetry.collect()).prometheus();
    const samples = new Map<string, number>();
    for (const [, name, labels, value] of body.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/gm)) {
      const pairs = [...(labels ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
      samples.set(`${name}{${pairs.join(',')}}`, Number(value));
    }
    return { body, samples };
  } finally {
    await telemetry.shutdown();
  }
}

/** The key `exposition` gives a sample. */
function key(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort();
  return `${name}{${pairs.join(',')}}`;
}

function sample(samples: Map<string, number>, name: string, labels: Record<string, string>): number | undefined {
  return samples.get(key(name, labels));
}

const r = (fields: Partial<TransferRecord> & Pick<TransferRecord, 'kind' | 'direction'>): TransferRecord => ({
  result: 'success',
  bytes: 0,
  seconds: 0,
  ...fields,
});

const PIPELINE_JOB: readonly TransferRecord[] = [
  r({ kind: 'cache', direction: 'download', bytes: 300, seconds: 0.2, cache: 'hit' }),
  r({ kind: 'cache', direction: 'download', bytes: 200, seconds: 0.3, cache: 'fallback_hit' }),
  r({ kind: 'cache', direction: 'download', bytes: 0, seconds: 0.001, cache: 'miss' }),
  r({ kind: 'cache', direction: 'download', result: 'failure', bytes: 50, seconds: 0.05, failure: 'archive', cache: 'hit' }),
  r({ kind: 'artifact', direction: 'download', bytes: 5_000, seconds: 1.5 }),
  r({ kind: 'cache', direction: 'upload', bytes: 400, seconds: 0.7 }),
  r({ kind: 'artifact', direction: 'upload', bytes: 1_000_000, seconds: 3 }),
  r({ kind: 'artifact', direction: 'upload', result: 'failure', bytes: 0, seconds: 40, failure: 'too_large' }),
  r({ kind: 'artifact', direction: 'upload', result: 'failure', bytes: 123, seconds: 0.4 }),
];

test('bytes, durations, cache restores and artifact failures follow the transfers of finished jobs', async () => {
  const { samples } = await exposition((metrics) => {
    metrics.jobFinished({ runner: 'r1', result: resultWith(PIPELINE_JOB) });
    metrics.jobFinished({ runner: 'r1', result: resultWith([r({ kind: 'artifact', direction: 'upload', bytes: 24, seconds: 0.05 })]) });
  });
  const get = (name: string, labels: Record<string, string>): number | undefined => sample(samples, name, { runner: 'r1', ...labels });

  assert.equal(get('ci_runner_artifact_bytes_total', { direction: 'upload', result: 'success' }), 1_000_024);
  assert.equal(get('ci_runner_artifact_bytes_total', { direction: 'upload', result: 'failure' }), 123);
  assert.equal(get('ci_runner_artifact_bytes_total', { direction: 'download', result: 'success' }), 5_000);
  assert.equal(get('ci_runner_cache_bytes_total', { direction: 'download', result: 'success' }), 500);
  assert.equal(get('ci_runner_cache_bytes_total', { direction: 'download', result: 'failure' }), 50);
  assert.equal(get('ci_runner_cache_bytes_total', { direction: 'upload', result: 'success' }), 400);

  const upload = { direction: 'upload', result: 'success' };
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_count', upload), 2);
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_sum', upload), 3.05);
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_bucket', { ...upload, le: '0.1' }), 1);
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_bucket', { ...upload, le: '2.5' }), 1);
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_bucket', { ...upload, le: '5' }), 2);
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_bucket', { ...upload, le: '+Inf' }), 2);
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_bucket', { direction: 'upload', result: 'failure', le: '30' }), 1);
  assert.equal(get('ci_runner_artifact_transfer_duration_seconds_bucket', { direction: 'upload', result: 'failure', le: '60' }), 2);
  // The miss is counted as a restore only: its lookup is no transfer to time.
  assert.equal(get('ci_runner_cache_transfer_duration_seconds_count', { direction: 'download', result: 'success' }), 2);
  assert.equal(get('ci_runner_cache_transfer_duration_seconds_sum', { direction: 'download', result: 'success' }), 0.5);
  assert.equal(get('ci_runner_cache_transfer_duration_seconds_count', { direction: 'download', result: 'failure' }), 1);
  assert.equal(get('ci_runner_cache_transfer_duration_seconds_count', { direction: 'upload', result: 'success' }), 1);

  assert.equal(get('ci_runner_cache_restores_total', { result: 'hit' }), 1);
  assert.equal(get('ci_runner_cache_restores_total', { result: 'fallback_hit' }), 1);
  assert.equal(get('ci_runner_cache_restores_total', { result: 'miss' }), 1);
  // A restore that found an archive and failed to restore it is a failure, not a hit.
  assert.equal(get('ci_runner_cache_restores_total', { result: 'failure' }), 1);

  assert.equal(get('ci_runner_artifact_transfer_failures_total', { direction: 'upload', reason: 'too_large' }), 1);
  // A failed record without a reason is counted, under the catch-all.
  assert.equal(get('ci_runner_artifact_transfer_failures_total', { direction: 'upload', reason: 'unknown' }), 1);
  // Cache failures are no artifact failures.
  assert.equal(get('ci_runner_artifact_transfer_failures_total', { direction: 'download', reason: 'archive' }), undefined);
});

test('every counter of a configured runner reads 0 from the first scrape; the histograms appear with the first transfer', async () => {
  const { body, samples } = await exposition((metrics) => metrics.observe(fixedStatus(config('a', 'b'))));
  for (const runner of ['a', 'b']) {
    for (const direction of ['upload', 'download']) {
      for (const result of ['success', 'failure']) {
        assert.equal(sample(samples, 'ci_runner_artifact_bytes_total', { runner, direction, result }), 0, `${runner} artifact ${direction} ${result}`);
        assert.equal(sample(samples, 'ci_runner_cache_bytes_total', { runner, direction, result }), 0, `${runner} cache ${direction} ${result}`);
      }
      for (const reason of [...TRANSFER_FAILURES, 'unknown']) {
        assert.equal(sample(samples, 'ci_runner_artifact_transfer_failures_total', { runner, direction, reason }), 0, `${runner} ${direction} ${reason}`);
      }
    }
    for (const result of ['hit', 'fallback_hit', 'miss', 'failure']) {
      assert.equal(sample(samples, 'ci_runner_cache_restores_total', { runner, result }), 0, `${runner} restores ${result}`);
    }
  }
  const names = [...samples.keys()].filter((name) => /^ci_runner_(artifact|cache)_/.test(name));
  assert.equal(names.length, 2 * (2 * 2 * 2 + 2 * (TRANSFER_FAILURES.length + 1) + 4), 'no other transfer series');
  const typed = families(body);
  assert.equal(typed.get('ci_runner_artifact_transfer_failures_total'), 'counter');
  assert.equal(typed.get('ci_runner_artifact_transfer_duration_seconds'), undefined, 'no histogram before a transfer');
  assert.equal(typed.get('ci_runner_cache_transfer_duration_seconds'), undefined, 'no histogram before a transfer');
});

test('a job without transfers adds no transfer series; bad byte and second counts are taken as 0', async () => {
  const { samples } = await exposition((metrics) => {
    metrics.jobFinished({ runner: 'r1', result: resultWith([]) });
    metrics.jobFinished({ runner: 'r2', result: resultWith([r({ kind: 'artifact', direction: 'download', bytes: Number.NaN, seconds: -1 })]) });
  });
  assert.deepEqual([...samples.keys()].filter((name) => name.includes('runner="r1"') && /^ci_runner_(artifact|cache)_/.test(name)), []);
  assert.equal(sample(samples, 'ci_runner_artifact_bytes_total', { runner: 'r2', direction: 'download', result: 'success' }), 0);
  assert.equal(sample(samples, 'ci_runner_artifact_transfer_duration_seconds_sum', { runner: 'r2', direction: 'download', result: 'success' }), 0);
  assert.equal(sample(samples, 'ci_runner_artifact_transfer_duration_seconds_count', { runner: 'r2', direction: 'download', result: 'success' }), 1);
});

const TRANSFER_STAGES = [
  'restore_cache',
  'download_artifacts',
  'archive_cache',
  'archive_cache_on_failure',
  'upload_artifacts_on_success',
  'upload_artifacts_on_failure',
] as const;

test('the stage histogram and the live stage gauges cover the cache and artifact stages', async () => {
  const now = Date.now();
  const job = (stage: string): JobView => ({
    id: stage,
    name: stage,
    runner: 'a',
    url: '',
    state: 'running',
    stage,
    executorStage: stage,
    startedAt: now,
    stageStartedAt: now - 5_000,
    pid: undefined,
  });
  const { samples } = await exposition((metrics) => {
    metrics.observe(fixedStatus(config('a'), [job('download_artifacts'), job('upload_artifacts_on_success')]));
    metrics.jobFinished({ runner: 'a', result: resultWith([], TRANSFER_STAGES.map((stage, i) => ({ stage, durationSeconds: i + 1 }))) });
  });
  for (const [i, stage] of TRANSFER_STAGES.entries()) {
    assert.ok((BUILD_STAGES as readonly string[]).includes(stage), stage);
    assert.equal(sample(samples, 'ci_runner_job_stage_duration_seconds_sum', { runner: 'a', stage }), i + 1, stage);
    const running = stage === 'download_artifacts' || stage === 'upload_artifacts_on_success' ? 1 : 0;
    assert.equal(sample(samples, 'ci_runner_builds', { runner: 'a', stage, state: 'running' }), running, stage);
    const age = sample(samples, 'ci_runner_job_stage_age_max_seconds', { runner: 'a', stage });
    assert.ok(running === 1 ? age! >= 5 : age === 0, `${stage} age ${age}`);
  }
});

test('promtool check metrics accepts the exposition with transfers', { skip: skipUnless('promtool', 'prometheus') }, async () => {
  const { body } = await exposition((metrics) => {
    metrics.observe(fixedStatus(config('r1')));
    metrics.jobFinished({ runner: 'r1', result: resultWith(PIPELINE_JOB) });
  });
  const { code, output } = await promtool(['check', 'metrics'], body);
  assertPromtoolAccepts(body, code, output);
});

test('the "Job finished" summary: bytes by kind and direction and the restores, only for a job with transfers', () => {
  assert.deepEqual(transferLogFields([]), {});
  assert.deepEqual(transferLogFields(PIPELINE_JOB), {
    artifact_upload_bytes: 1_000_123,
    artifact_download_bytes: 5_000,
    cache_upload_bytes: 400,
    cache_download_bytes: 550,
    cache: 'hit,fallback_hit,miss,failure',
    transfer_failures: 3,
  });
  // Only what the job did: a job that only uploaded artifacts says nothing of the cache.
  const fields = Object.entries(transferLogFields([r({ kind: 'artifact', direction: 'upload', bytes: 7 })]))
    .filter(([, value]) => value !== undefined);
  assert.deepEqual(Object.fromEntries(fields), { artifact_upload_bytes: 7 });
});
