// Process and runtime metrics: which ones each runtime has (the runtime support table),
// and that their values move when they should. Measured in this test process,
// on whatever runtime runs the tests, plus once through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { setImmediate } from 'node:timers';
import { activeHandleTypes, collectGarbage, runtime } from '../../src/runtime/runtime.ts';
import { registerProcessMetrics } from '../../src/telemetry/process-metrics.ts';
import { registerRuntimeMetrics } from '../../src/telemetry/runtime-metrics.ts';
import { Telemetry } from '../../src/telemetry/telemetry.ts';
import { assertPromtoolAccepts, promtool } from '../support/promtool.ts';
import { startRunner } from '../support/runner-process.ts';
import { RUNTIME_METRIC_SUPPORT, SHOWN_WHEN_SEEN } from '../../src/telemetry/runtime-support.ts';
import { families } from '../support/exposition.ts';
import { skipUnless } from '../support/tools.ts';

const expected = (present: boolean): string[] =>
  Object.entries(RUNTIME_METRIC_SUPPORT).filter(([, row]) => row[runtime.name] === present).map(([name]) => name).sort();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps the loop busy for `ms` without yielding. */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** The value of one series, by its name and label set exactly as rendered. */
function sample(body: string, series: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} missing from:\n${body}`);
  return Number(line.slice(series.length + 1));
}

/** Process and runtime metrics registered on a fresh meter, as `runner run` registers them. */
async function withMetrics(body: (render: () => Promise<string>) => Promise<void>): Promise<void> {
  const telemetry = new Telemetry();
  const stopProcess = registerProcessMetrics(telemetry.meter);
  const runtimeMetrics = registerRuntimeMetrics(telemetry.meter);
  // Bun's monitorEventLoopDelay misses a block in its first interval after enable() (startup only).
  await sleep(50);
  try {
    await body(() => telemetry.render());
  } finally {
    runtimeMetrics.stop();
    stopProcess();
    await telemetry.shutdown();
  }
}

/** Allocates and drops about 256 MiB in small steps, which makes every runtime collect garbage. */
async function churn(): Promise<void> {
  for (let step = 0; step < 64; step++) {
    const garbage = Array.from({ length: 64 }, (_, i) => new Array(8192).fill(step + i + 0.5));
    assert.equal(garbage.length, 64);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test(`${runtime.name} exports exactly the process and runtime metrics of the runtime support table`, async () => {
  await withMetrics(async (render) => {
    await churn();
    await sleep(100);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const shown = families(await render());
      // Garbage has been collected by now; only a request in flight is left to chance.
      const present = expected(true).filter((name) => name !== 'nodejs_active_requests');
      assert.deepEqual(present.filter((name) => !shown.has(name)), [], 'present on this runtime by the table, missing from the scrape');
      assert.deepEqual(expected(false).filter((name) => shown.has(name)), [], 'absent on this runtime by the table, yet scraped');
      const ours = [...shown.keys()].filter((name) => /^(process|nodejs)_/.test(name) && !(name in RUNTIME_METRIC_SUPPORT));
      assert.deepEqual(ours, [], 'scraped but not in the table');
      assert.equal(shown.get('nodejs_gc_duration_seconds') ?? 'histogram', 'histogram');
    } finally {
      server.close();
    }
  });
});

test('the runner serves the runtime metrics of its runtime, and promtool finds only the accepted lint', { timeout: 60_000 }, async () => {
  const runner = await startRunner();
  try {
    // The event-loop delay needs a sample in the window: the first scrape may come before any.
    await (await fetch(`${runner.url}/metrics`)).text();
    await sleep(100);
    const body = await (await fetch(`${runner.url}/metrics`)).text();
    const shown = families(body);
    const present = expected(true).filter((name) => !(name in SHOWN_WHEN_SEEN));
    assert.deepEqual(present.filter((name) => !shown.has(name)), [], 'present on this runtime by the table, missing from /metrics');
    assert.deepEqual(expected(false).filter((name) => shown.has(name)), [], 'absent on this runtime by the table, yet on /metrics');
    if (skipUnless('promtool', 'prometheus') === false) {
      const lint = await promtool(['check', 'metrics'], body);
      assertPromtoolAccepts(body, lint.code, lint.output);
    }
  } finally {
    runner.kill();
  }
});

test('nodejs_version_info names the runtime and its own version', async () => {
  await withMetrics(async (render) => {
    const [major, minor, patch] = runtime.version.split(/[.+-]/);
    const labels = `version="v${runtime.version}",major="${major}",minor="${minor}",patch="${patch}",runtime="${runtime.name}"`;
    assert.equal(sample(await render(), `nodejs_version_info{${labels}}`), 1);
  });
});

test('process CPU seconds grow under a CPU load', async () => {
  await withMetrics(async (render) => {
    const before = await render();
    // Load measured in CPU time, not wall time: a busy machine only makes it take longer.
    const start = process.cpuUsage();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const used = process.cpuUsage(start);
      if (used.user + used.system >= 300_000) break;
      block(10);
    }
    const after = await render();
    for (const name of ['process_cpu_seconds_total', 'process_cpu_user_seconds_total']) {
      const grown = sample(after, name) - sample(before, name);
      assert.ok(grown >= 0.25, `${name} grew by ${grown} s over 0.3 s of CPU load`);
    }
    assert.ok(sample(after, 'process_cpu_system_seconds_total') >= sample(before, 'process_cpu_system_seconds_total'));
  });
});

// Right after a scrape too: Node's monitorEventLoopDelay would miss that block (its first interval after a reset).
for (const pauseMs of [50, 0]) {
  test(`event-loop lag rises when the loop is blocked for 200 ms, ${pauseMs} ms after a scrape`, async () => {
    await withMetrics(async (render) => {
      await render(); // opens a new window
      if (pauseMs > 0) await sleep(pauseMs);
      block(200);
      await sleep(50);
      const max = sample(await render(), 'nodejs_eventloop_lag_max_seconds');
      assert.ok(max >= 0.1, `nodejs_eventloop_lag_max_seconds ${max} after a 200 ms block`);
    });
  });
}

test('nodejs_eventloop_lag_seconds shows a loop blocked during the scrape', async () => {
  await withMetrics(async (render) => {
    // Runs before the scrape's own setImmediate, which then waits for it.
    setImmediate(() => block(200));
    const lag = sample(await render(), 'nodejs_eventloop_lag_seconds');
    assert.ok(lag >= 0.1, `nodejs_eventloop_lag_seconds ${lag} with a 200 ms block`);
  });
});

test('heap used grows after allocating', async () => {
  await withMetrics(async (render) => {
    const before = sample(await render(), 'nodejs_heap_size_used_bytes');
    // More than all of the heap before, so that garbage collected meanwhile cannot hide the growth.
    const chunks = Math.ceil((before + 64 * 1024 * 1024) / (8 * 1024 * 1024));
    const kept = Array.from({ length: chunks }, (_, i) => new Array(1024 * 1024).fill(i + 0.5));
    // Bun's figure is JavaScriptCore's size at its last collection: have one.
    collectGarbage?.();
    const after = sample(await render(), 'nodejs_heap_size_used_bytes');
    assert.ok(after - before >= 32 * 1024 * 1024, `heap used went from ${before} to ${after} with ${chunks * 8} MiB kept`);
    assert.equal(kept.length, chunks);
  });
});

test('a handle type that is gone reads 0, not its last count', { skip: activeHandleTypes ? false : `${runtime.name} has no active handle list` }, async () => {
  await withMetrics(async (render) => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const open = sample(await render(), 'nodejs_active_handles{type="Server"}');
    await new Promise((resolve) => server.close(resolve));
    assert.ok(open >= 1, `nodejs_active_handles{type="Server"} ${open} with a server listening`);
    assert.equal(sample(await render(), 'nodejs_active_handles{type="Server"}'), open - 1);
  });
});

test('heap spaces are labelled by V8 space name without the _space suffix', {
  skip: RUNTIME_METRIC_SUPPORT['nodejs_heap_space_size_used_bytes']![runtime.name] ? false : `${runtime.name} has no heap spaces`,
}, async () => {
  await withMetrics(async (render) => {
    const body = await render();
    const spaces = [...body.matchAll(/^nodejs_heap_space_size_used_bytes\{space="([^"]+)"\} /gm)].map(([, space]) => space);
    assert.ok(spaces.includes('old') && spaces.includes('new'), spaces.join(', '));
    assert.ok(spaces.every((space) => !space?.endsWith('_space')), spaces.join(', '));
    assert.ok(sample(body, 'nodejs_heap_space_size_used_bytes{space="old"}') > 0);
  });
});

test("garbage collections land in nodejs_gc_duration_seconds with prom-client's buckets", {
  skip: runtime.name === 'node' ? false : `${runtime.name} delivers no gc performance entries`,
}, async () => {
  await withMetrics(async (render) => {
    await churn();
    await sleep(100);
    const body = await render();
    const buckets = [...body.matchAll(/^nodejs_gc_duration_seconds_bucket\{kind="minor",le="([^"]+)"\} /gm)].map(([, le]) => le);
    assert.deepEqual(buckets, ['0.001', '0.01', '0.1', '1', '2', '5', '+Inf']);
    assert.ok(sample(body, 'nodejs_gc_duration_seconds_count{kind="minor"}') > 0);
  });
});

test('promtool check metrics finds only the accepted lint in the runtime metrics', { skip: skipUnless('promtool', 'prometheus') }, async () => {
  await withMetrics(async (render) => {
    await churn();
    const body = await render();
    const result = await promtool(['check', 'metrics'], body);
    assertPromtoolAccepts(body, result.code, result.output);
  });
});
