// The three renderings of a scrape from the real CLI after a job has run:
// /metrics, /metrics?format=influx and /debug/vars agree. Their exact shapes
// are checked in process: test/unit/telemetry/renderings.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VarsDocument } from '../../src/telemetry/renderings/json.ts';
import { assertAgree, assertSameSamples, influxSamples, keyed, parseInflux, parsePrometheus, seriesKey, varsSamples } from '../support/renderings.ts';
import { enqueue, waitForResult } from '../../src/sources/local/queue.ts';
import { startRunner } from '../support/runner-process.ts';
import { SHOWN_WHEN_SEEN } from '../../src/telemetry/runtime-support.ts';

/**
 * The event loop delay statistics of the window since the previous collection: a collection that
 * follows another before any delay was sampled (Deno's sampler has a coarse timer) has none of them.
 */
const WINDOWED = /^nodejs_eventloop_lag_(min|max|mean|stddev|p50|p90|p99)_seconds$/;

/** The runner's own metric that moves without jobs or configuration: requests for jobs in flight. */
const POLL_MOVED = 'ci_runner_request_concurrency';

interface Renderings {
  readonly prometheus: string;
  readonly influx: string;
  readonly vars: VarsDocument;
}

async function get(url: string): Promise<string> {
  const res = await fetch(url);
  const body = await res.text();
  assert.equal(res.status, 200, `${url}: ${body}`);
  return body;
}

test('the real CLI, after a job: /metrics, ?format=influx and /debug/vars hold the same values', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-renderings-'));
  writeFileSync(join(dir, 'config.toml'), 'check_interval = 1\n');
  const runner = await startRunner([], { cwd: dir });
  try {
    const queue = join(dir, 'queue');
    const { id } = await enqueue(queue, 'name = "hello"\nscript = ["echo hello"]\n', 'hello.toml');
    assert.equal((await waitForResult(queue, id, { timeoutMs: 30_000 })).state, 'success');

    // One collection in all three formats: every sample agrees exactly,
    // also those that move on their own (CPU, memory, open files).
    const one = JSON.parse(await get(`${runner.url}/debug/renderings`)) as Renderings;
    assertAgree(one.prometheus, one.influx, one.vars);
    assert.match(one.prometheus, /^ci_runner_jobs_total\{runner="local"\} 1$/m);
    assert.match(one.influx, /^prometheus,runner=local ci_runner_jobs_total=1 \d{19}$/m);
    assert.match(one.influx, /^prometheus,le=30,runner=local ci_runner_job_duration_seconds_bucket=1 \d{19}$/m);

    // Three requests, three collections: the same metrics and, for the
    // runner's own (which only jobs and configuration move), the same values;
    // but the requests for jobs in flight, which the poll loop moves (the
    // next request starts at its own moment after the job ended).
    const prometheus = parsePrometheus(await get(`${runner.url}/metrics`));
    const influx = keyed(influxSamples(parseInflux(await get(`${runner.url}/metrics?format=influx`))));
    const vars = JSON.parse(await get(`${runner.url}/debug/vars`)) as VarsDocument;
    // A family shown only once seen (a request in flight, a garbage collection) may first appear
    // in the later collection (/debug/vars), never leave it; every other family is in both.
    const varsNames = vars.metrics.map((metric) => metric.name);
    const always = (names: readonly string[]): string[] => names.filter((name) => !(name in SHOWN_WHEN_SEEN) && !WINDOWED.test(name));
    assert.deepEqual(always(varsNames), always([...prometheus.types.keys()]));
    for (const name of prometheus.types.keys()) {
      if (!WINDOWED.test(name)) assert.ok(varsNames.includes(name), `${name} stays in the later collection`);
    }
    const isOwn = (key: string): boolean => key.startsWith('ci_runner_') && !key.startsWith(`${POLL_MOVED}[`);
    const own = keyed(prometheus.samples.filter((sample) => isOwn(seriesKey(sample.name, sample.labels))));
    const ownOf = (samples: ReadonlyMap<string, number>): Map<string, number> => new Map([...samples].filter(([key]) => isOwn(key)));
    assertSameSamples(own, ownOf(influx), 'the line protocol', true);
    assertSameSamples(own, ownOf(keyed(varsSamples(vars))), '/debug/vars', false);
    assert.equal(own.get(seriesKey('ci_runner_jobs_total', new Map([['runner', 'local']]))), 1);
    assert.equal(own.get(seriesKey('ci_runner_job_duration_seconds_count', new Map([['runner', 'local']]))), 1);
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
