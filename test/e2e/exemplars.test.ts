// End to end: a traced job's duration reaches a real Prometheus (Debian's, with its exemplar
// storage) with the job's trace as the exemplar of its bucket. The same Prometheus scrapes the
// runner twice: as Prometheus asks (OpenMetrics) and with ?format=prometheus (the text format),
// and stores the same series with the same values from both. What a plain request (curl's
// default, no Accept) gets is still the text format without exemplars.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enqueue, waitForResult } from '../../src/sources/local/queue.ts';
import { parseOpenMetrics } from '../support/openmetrics.ts';
import { OtlpReceiver } from '../support/otlp-receiver.ts';
import { apiData, DEADLINE_MS, isRecord, labelsOf, PROMETHEUS, queryUntil, RunnerAndPrometheus, targetUp, until } from '../support/prometheus-server.ts';
import { parsePrometheus } from '../support/renderings.ts';
import { startRunner } from '../support/runner-process.ts';
import { skipUnless } from '../support/tools.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_SPAN_ID = 'b7ad6b7169203331';
const BUCKET = 'ci_runner_job_duration_seconds_bucket';

/** Two scrape jobs of one runner: as Prometheus asks (OpenMetrics), and the text format by ?format=prometheus. */
function prometheusConfig(dir: string, target: string): string {
  const path = join(dir, 'prometheus.yml');
  writeFileSync(
    path,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: openmetrics',
      `    static_configs: [{ targets: ['${target}'] }]`,
      '  - job_name: text',
      '    params: { format: [prometheus] }',
      `    static_configs: [{ targets: ['${target}'] }]`,
      '',
    ].join('\n'),
  );
  return path;
}

interface StoredExemplar {
  readonly series: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly value: string;
  /** Seconds. */
  readonly timestamp: number;
}

/** The exemplars of a /api/v1/query_exemplars answer, each with its series. */
function exemplars(data: unknown): StoredExemplar[] {
  if (!Array.isArray(data)) throw new Error(`not a list of series: ${JSON.stringify(data)}`);
  return data.filter(isRecord).flatMap((series) =>
    (Array.isArray(series['exemplars']) ? series['exemplars'] : []).filter(isRecord).map((exemplar) => ({
      series: labelsOf(series['seriesLabels']),
      labels: labelsOf(exemplar['labels']),
      value: String(exemplar['value']),
      timestamp: Number(exemplar['timestamp']),
    }))
  );
}

/** A series without its job label, as a sortable key. */
function withoutJob(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).filter(([name]) => name !== 'job').sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The series Prometheus stored for scrape job `job`, keyed without the job label. */
async function seriesOf(api: string, job: string): Promise<Set<string>> {
  const data = await apiData(api, `/api/v1/series?match[]=${encodeURIComponent(`{job="${job}"}`)}`);
  if (!Array.isArray(data)) throw new Error(`not a list of series: ${JSON.stringify(data)}`);
  return new Set(data.map((labels) => withoutJob(labelsOf(labels))));
}

test("a real Prometheus stores a traced job's trace as the exemplar of its duration bucket, and the same series from OpenMetrics as from the text format", {
  skip: skipUnless(PROMETHEUS, 'prometheus'),
  timeout: 120_000,
}, async () => {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'runner-exemplars-'));
  const receiver = await OtlpReceiver.start();
  const session = new RunnerAndPrometheus();
  try {
    await session.run(async () => {
      writeFileSync(join(dir, 'config.toml'), `check_interval = 0.2\nmetrics_server = "127.0.0.1:0"\n[otel]\nendpoint = "${receiver.endpoint}"\n`);
      const runner = session.runner = await startRunner([], { cwd: dir, env: { OTEL_BSP_SCHEDULE_DELAY: '100' } });
      const queue = join(dir, 'queue');
      const { id } = await enqueue(queue, `name = "traced"\nscript = ["true"]\ntraceparent = "00-${TRACE_ID}-${PARENT_SPAN_ID}-01"\n`, 'traced.toml');
      const done = await waitForResult(queue, id, { timeoutMs: 30_000 });
      assert.equal(done.state, 'success');
      const jobSpan = await receiver.waitFor(() => receiver.spans.find((s) => s.attributes['cicd.pipeline.task.run.id'] === id));
      assert.equal(jobSpan.traceId, TRACE_ID, "the job's span joined the trace it was given");

      // What a plain request gets: the text format, no exemplars; OpenMetrics when asked, with the exemplar.
      for (const headers of [{}, { Accept: '*/*' }] as Record<string, string>[]) {
        const response = await fetch(`${runner.url}/metrics`, { headers });
        assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
        const body = await response.text();
        assert.doesNotMatch(body, /# \{|^# EOF$/m, 'no exemplars, no EOF');
        assert.ok(parsePrometheus(body).samples.some((s) => s.name === BUCKET && s.labels.get('le') === '30' && s.value === 1), body);
      }
      const open = parseOpenMetrics(await (await fetch(`${runner.url}/metrics?format=openmetrics`)).text());
      const traced = open.samples.filter((s) => s.exemplar !== undefined);
      assert.deepEqual(traced.map((s) => [s.name, s.labels.get('le'), s.exemplar?.labels.get('trace_id')]), [[BUCKET, '30', TRACE_ID]]);

      const target = new URL(runner.url).host;
      const { api, check: bothRunning } = await session.startPrometheus(dir, prometheusConfig(dir, target), ['--enable-feature=exemplar-storage']);
      const deadline = Date.now() + DEADLINE_MS;
      for (const job of ['openmetrics', 'text']) {
        const up = await targetUp(api, job, deadline, bothRunning);
        assert.equal(up.lastError, '', `the ${job} scrape reported an error`);
      }

      // The exemplar, through Prometheus's query_exemplars API.
      const range = `start=${Math.floor(started / 1000) - 60}&end=${Math.ceil(Date.now() / 1000) + 600}`;
      const stored = await until('the exemplar of the job duration', deadline, async () => {
        bothRunning();
        const found = exemplars(await apiData(api, `/api/v1/query_exemplars?query=${BUCKET}&${range}`));
        return found.length > 0 ? found : undefined;
      });
      assert.equal(stored.length, 1, JSON.stringify(stored));
      const [exemplar] = stored;
      assert.ok(exemplar !== undefined);
      assert.deepEqual(exemplar.labels, { trace_id: TRACE_ID, span_id: jobSpan.spanId });
      assert.deepEqual(exemplar.series, { __name__: BUCKET, instance: target, job: 'openmetrics', le: '30', runner: 'local' });
      const [sum] = await queryUntil(api, 'ci_runner_job_duration_seconds_sum{job="openmetrics"}', deadline, bothRunning);
      assert.equal(Number(exemplar.value), Number(sum?.value), "the exemplar's value is the job's duration");
      assert.ok(
        Math.abs(exemplar.timestamp * 1000 - Date.parse(done.finished_at)) <= 1000,
        `exemplar at ${exemplar.timestamp}, job done at ${done.finished_at}`,
      );

      // The same series from both formats: names, labels (le as written), and the values of the job's metrics.
      const same = await until('the same series from OpenMetrics as from the text format', deadline, async () => {
        bothRunning();
        const [fromOpen, fromText] = [await seriesOf(api, 'openmetrics'), await seriesOf(api, 'text')];
        const onlyOpen = [...fromOpen].filter((s) => !fromText.has(s));
        const onlyText = [...fromText].filter((s) => !fromOpen.has(s));
        // A series that appears between the two scrapes (a first garbage collection) is in one of them for a second.
        if (onlyOpen.length + onlyText.length > 0) {
          const some = (list: string[]): string => `${list.length}: ${list.slice(0, 5).join(' ')}${list.length > 5 ? ' ...' : ''}`;
          throw new Error(`series only from OpenMetrics ${some(onlyOpen)}; only from the text format ${some(onlyText)}`);
        }
        return fromOpen;
      });
      assert.ok(same.size > 50, `${same.size} series`);
      const jobSeries = async (job: string): Promise<Map<string, string>> => {
        const samples = await queryUntil(
          api,
          `{job="${job}", __name__=~"ci_runner_job_.+|ci_runner_jobs_total|ci_runner_failed_jobs_total"}`,
          deadline,
          bothRunning,
        );
        return new Map(samples.map((sample) => [withoutJob(sample.labels), sample.value]));
      };
      const [openValues, textValues] = [await jobSeries('openmetrics'), await jobSeries('text')];
      assert.deepEqual(openValues, textValues);
      assert.ok([...openValues.keys()].some((key) => key.includes(`"${BUCKET}"`) && key.includes('["le","30"]')), [...openValues.keys()].join('\n'));
      const textExemplars = exemplars(await apiData(api, `/api/v1/query_exemplars?query=${encodeURIComponent(`${BUCKET}{job="text"}`)}&${range}`));
      assert.deepEqual(textExemplars, [], 'the text format carries none');
    });
  } finally {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
