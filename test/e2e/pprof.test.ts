// /debug/pprof against the real CLI, read by `go tool pprof` as operators do.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { cpuSamplingIntervalMicros, runtime } from '../../src/runtime/runtime.ts';
import { goPprof, rawLocations, rawSampleTypes } from '../support/pprof.ts';
import { READY, RunnerProcess, type RunningRunner, startRunner } from '../support/runner-process.ts';
import { skipUnless } from '../support/tools.ts';

const HAS_HEAP_SAMPLING = runtime.name !== 'bun';
const noGo = skipUnless('go', 'golang-go', 'version');

// pprof_max_seconds = 20 lets the tests check Go's "default 30" rule without waiting 30 s.
let shared: Promise<RunningRunner> | undefined;
let sharedDir: string | undefined;
function runner(): Promise<RunningRunner> {
  if (!shared) {
    const dir = sharedDir = mkdtempSync(join(tmpdir(), 'runner-pprof-'));
    writeFileSync(join(dir, 'config.toml'), 'pprof_max_seconds = 20\n');
    shared = startRunner([], { cwd: dir });
  }
  return shared;
}
after(async () => {
  (await shared)?.kill();
  if (sharedDir !== undefined) rmSync(sharedDir, { recursive: true, force: true, maxRetries: 5 });
});

/** A request as a polite client makes it: a heap profile refused for another one just taken is asked again after Retry-After. */
async function get(path: string, init?: RequestInit): Promise<Response> {
  const url = `${(await runner()).url}${path}`;
  for (let attempt = 1;; attempt++) {
    const res = await fetch(url, init);
    const retryAfter = Number(res.headers.get('retry-after'));
    if (res.status !== 503 || !path.startsWith('/debug/pprof/heap') || !(retryAfter > 0) || attempt === 5) return res;
    await res.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
  }
}

/**
 * Scrapes /metrics in a loop until `done` settles: real collection and
 * serialization work. Counts the scrapes answered before it settled.
 */
async function scrapeFloodDuring<T>(done: Promise<T>): Promise<{ result: T; scrapes: number }> {
  let finished = false;
  const result = done.finally(() => {
    finished = true;
  });
  let scrapes = 0;
  const url = `${(await runner()).url}/metrics`;
  const worker = async (): Promise<void> => {
    while (!finished) {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      await res.text();
      if (!finished) scrapes++;
    }
  };
  await Promise.all([worker(), worker()]);
  return { result: await result, scrapes };
}

/** Asks until the answer is a 200 (the server may take a moment to notice a client left); returns the last status. */
async function statusWithin5s(path: string): Promise<number> {
  let status = 0;
  for (let attempt = 0; attempt < 20 && status !== 200; attempt++) {
    const res = await get(path);
    status = res.status;
    await res.arrayBuffer();
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return status;
}

async function profileBytes(res: Response, filename: string): Promise<Uint8Array> {
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(res.headers.get('content-type'), 'application/octet-stream');
  assert.equal(res.headers.get('content-disposition'), `attachment; filename="${filename}"`);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  return new Uint8Array(await res.arrayBuffer());
}

async function assertPprofError(res: Response, status: number, message: RegExp): Promise<void> {
  const body = await res.text();
  assert.equal(res.status, status, body);
  assert.match(body, message);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(res.headers.get('x-go-pprof'), '1');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
}

test('/debug/pprof/ is an HTML index that says what each profile is on this runtime', async () => {
  const res = await get('/debug/pprof/');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
  const html = await res.text();
  for (const name of ['profile?seconds=30', 'heap', 'heap?debug=1', 'cmdline']) assert.ok(html.includes(`href="${name}"`), name);
  if (HAS_HEAP_SAMPLING) {
    assert.ok(html.includes('href="allocs?seconds=30"'));
    assert.match(html, /Buffer and ArrayBuffer backing stores/);
    assert.match(html, /restarts after it/);
  } else {
    assert.match(html, /no allocation stacks/);
    assert.match(html, /allocs\) are not available on bun/);
  }
});

test('a CPU profile taken during a scrape flood shows collection and serialization', { skip: noGo, timeout: 120_000 }, async () => {
  const { result: res, scrapes } = await scrapeFloodDuring(get('/debug/pprof/profile?seconds=3'));
  assert.ok(scrapes > 0, '/metrics answers while a profile runs, not after it');
  const raw = goPprof(await profileBytes(res, 'profile'));
  assert.equal(rawSampleTypes(raw), 'samples/count cpu/nanoseconds[dflt]');
  assert.match(raw, /^PeriodType: cpu nanoseconds$/m);
  assert.match(raw, new RegExp(`^Period: ${cpuSamplingIntervalMicros * 1000}$`, 'm'));
  const duration = Number(raw.match(/^Duration: ([\d.]+)/m)?.[1]);
  assert.ok(duration >= 2.9 && duration < 10, `duration ${duration} s is the wall-clock window, not the sampled span`);
  const locations = rawLocations(raw);
  // The text format's serializer: src/telemetry/renderings/prometheus.ts (dist/.../prometheus.js on node).
  const serializer = locations.filter((l) => /telemetry\/renderings\/prometheus\.[jt]s$/.test(l.file));
  assert.ok(serializer.length > 0, `serialization in the profile:\n${raw.slice(0, 4000)}`);
  assert.ok(serializer.every((l) => l.line > 0));
  assert.ok(
    locations.some((l) => l.file.includes('@opentelemetry/sdk-metrics/') && /collect/i.test(l.functionName)),
    `collection in the profile:\n${locations.map((l) => `${l.functionName} ${l.file}`).join('\n')}`,
  );
});

test("a second CPU profile while one runs is a 500 with Go's message", async () => {
  const first = new AbortController();
  const running = get('/debug/pprof/profile?seconds=15', { signal: first.signal }).catch(() => undefined);
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await assertPprofError(await get('/debug/pprof/profile?seconds=1'), 500, /^Could not enable CPU profiling: cpu profiling already in use\n$/);
  } finally {
    first.abort();
    await running;
  }
});

test('a CPU profile stops early when its client goes away', async () => {
  const client = new AbortController();
  const abandoned = get('/debug/pprof/profile?seconds=15', { signal: client.signal }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 500));
  client.abort();
  await abandoned;
  // Were the profile still running, this would be a 500 for the next 14 seconds.
  assert.equal(await statusWithin5s('/debug/pprof/profile?seconds=1'), 200);
});

test('bad profile parameters follow Go: default 30 s, 400 beyond the maximum', async () => {
  // Missing, non-numeric and non-positive all mean 30, which exceeds this runner's maximum of 20.
  for (const query of ['', '?seconds=abc', '?seconds=0', '?seconds=-5', '?seconds=1.5']) {
    await assertPprofError(
      await get(`/debug/pprof/profile${query}`),
      400,
      /^profile duration 30s exceeds the maximum of 20s \(pprof_max_seconds in config\.toml\)\n$/,
    );
  }
  await assertPprofError(await get('/debug/pprof/profile?seconds=99999'), 400, /profile duration 99999s exceeds the maximum of 20s/);
  await assertPprofError(await get('/debug/pprof/heap?seconds=5'), 400, /use \/debug\/pprof\/allocs\?seconds=N/);
  if (HAS_HEAP_SAMPLING) {
    // A delta window given but not a positive integer is Go's 400, not a default.
    for (const bad of ['0', 'abc', '-3']) {
      await assertPprofError(await get(`/debug/pprof/allocs?seconds=${bad}`), 400, /^invalid value for "seconds" - must be a positive integer\n$/);
    }
    await assertPprofError(await get('/debug/pprof/allocs?seconds=21'), 400, /profile duration 21s exceeds the maximum of 20s/);
    await assertPprofError(await get('/debug/pprof/allocs'), 400, /profile duration 30s exceeds the maximum of 20s/);
  }
});

test('unknown profiles are 404 "Unknown profile"; other methods 405', async () => {
  for (const name of ['goroutine', 'nope', 'heap/extra']) {
    await assertPprofError(await get(`/debug/pprof/${name}`), 404, /^Unknown profile\n$/);
  }
  const post = await get('/debug/pprof/profile', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  await post.text();
});

test('/debug/pprof/cmdline is the command line joined by NUL bytes', async () => {
  const res = await get('/debug/pprof/cmdline');
  assert.equal(res.status, 200);
  const args = (await res.text()).split('\u0000');
  assert.ok(args.includes('run') && args.includes('--metrics-server') && args.includes('127.0.0.1:0'), JSON.stringify(args));
});

test('the heap profile is the live heap, readable by go tool pprof', { skip: noGo }, async () => {
  const raw = goPprof(await profileBytes(await get('/debug/pprof/heap?gc=1'), 'heap'));
  // V8 does not report object sizes, so its profiles count samples; Bun's snapshot counts objects exactly.
  assert.equal(rawSampleTypes(raw), HAS_HEAP_SAMPLING ? 'samples/count inuse_space/bytes[dflt]' : 'inuse_objects/count inuse_space/bytes[dflt]');
  const locations = rawLocations(raw);
  assert.ok(locations.length > 0, raw);
  if (HAS_HEAP_SAMPLING) {
    assert.match(raw, /^PeriodType: space bytes$/m);
    assert.match(raw, /^Period: 524288$/m);
    // Sampling ran from process start, so what module loading left live is there with its stack,
    // into the runner's own modules or its dependencies' (which of them a 512 KiB sample lands in
    // is chance: Deno sometimes samples none of the OpenTelemetry SDK's).
    assert.ok(
      locations.some((l) => l.file.includes('/node_modules/@opentelemetry/') || /\/src\/[\w/-]+\.[jt]s$/.test(l.file)),
      `allocation stacks into the runner's modules:\n${locations.map((l) => `${l.functionName} ${l.file}`).join('\n')}`,
    );
  } else {
    assert.match(raw, /^Period: 1$/m);
    const locationLines = (raw.split(/^Locations$/m)[1] ?? '').split('\n').filter((line) => /^\s+\d+: /.test(line));
    assert.ok(locationLines.every((line) => line.includes(' bun-heap-snapshot:')), 'object types, not stacks');
  }
});

test('concurrent heap profiles: one is taken, the others are a 503 with Retry-After rather than a queue of them', async () => {
  const url = `${(await runner()).url}/debug/pprof/heap?gc=1`;
  // An earlier test's profile may still hold the gate: a burst that is refused whole waits as told.
  let answers: Response[] = [];
  for (let burst = 1; burst <= 5; burst++) {
    answers = await Promise.all(Array.from({ length: 8 }, () => fetch(url)));
    if (answers.some((res) => res.status !== 503)) break;
    await Promise.all(answers.map((res) => res.arrayBuffer()));
    await new Promise((resolve) => setTimeout(resolve, Number(answers[0]!.headers.get('retry-after')) * 1000));
  }
  const statuses = answers.map((res) => res.status);
  assert.ok(statuses.includes(200), `one profile is taken: ${statuses.join(', ')}`);
  assert.ok(statuses.includes(503), `the others are refused, not queued: ${statuses.join(', ')}`);
  assert.deepEqual(statuses.filter((status) => status !== 200 && status !== 503), []);
  for (const res of answers) {
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 503) continue;
    assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    assert.equal(new TextDecoder().decode(body), 'a heap profile is being taken or was just taken: retry later\n');
  }
  // After Retry-After, the next one is taken.
  assert.equal((await get('/debug/pprof/heap')).status, 200);
});

test('heap?debug=1 is a legible text form', async () => {
  const res = await get('/debug/pprof/heap?debug=1');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  const text = await res.text();
  if (HAS_HEAP_SAMPLING) {
    assert.match(text, /^# live heap: \d+ bytes estimated from \d+ samples/);
    assert.match(text, /^#\t\S+ \S+:\d+$/m);
  } else {
    assert.match(text, /no allocation stacks/i);
  }
});

test('an allocs profile during a scrape flood shows serialization allocating', {
  skip: noGo || (!HAS_HEAP_SAMPLING && 'bun has no allocation sampling (checked by the next test)'),
  timeout: 120_000,
}, async () => {
  const { result: res } = await scrapeFloodDuring(get('/debug/pprof/allocs?seconds=3'));
  const raw = goPprof(await profileBytes(res, 'allocs-delta'));
  assert.equal(rawSampleTypes(raw), 'samples/count alloc_space/bytes[dflt]');
  const locations = rawLocations(raw);
  assert.ok(
    locations.some((l) => /telemetry\/renderings\/prometheus\.[jt]s$/.test(l.file)) || locations.some((l) => l.file.includes('@opentelemetry/sdk-metrics/')),
    `allocations in collection or serialization:\n${locations.map((l) => `${l.functionName} ${l.file}`).join('\n')}`,
  );
  // The in-use sampler is back after the window.
  assert.equal((await get('/debug/pprof/heap')).status, 200);
});

test(
  'during an allocs window the heap profile is a 503 that says why, and a second allocs a 500',
  { skip: !HAS_HEAP_SAMPLING && 'no allocs on bun' },
  async () => {
    const window = new AbortController();
    const allocs = get('/debug/pprof/allocs?seconds=10', { signal: window.signal }).catch(() => undefined);
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await assertPprofError(await get('/debug/pprof/heap'), 503, /an allocs profile is running; the in-use heap sampler restarts when it ends/);
      await assertPprofError(await get('/debug/pprof/allocs?seconds=1'), 500, /an allocs profile is already running/);
    } finally {
      window.abort();
      await allocs;
    }
    // The abandoned window ends early and the in-use sampler comes back.
    assert.equal(await statusWithin5s('/debug/pprof/heap'), 200);
  },
);

test('allocs on a runtime without allocation sampling says so', { skip: HAS_HEAP_SAMPLING && 'this runtime has allocation sampling' }, async () => {
  await assertPprofError(await get('/debug/pprof/allocs?seconds=1'), 501, /this runtime does not have/);
});

test('allocs with both debug and seconds is a 400, as in Go', { skip: !HAS_HEAP_SAMPLING && 'no allocs on bun' }, async () => {
  await assertPprofError(await get('/debug/pprof/allocs?debug=1&seconds=1'), 400, /seconds and debug cannot be combined/);
});

for (const [how, args, config] of [['--no-pprof', ['--no-pprof'], ''], ['pprof = false', [], 'pprof = false\n']] as const) {
  test(`${how} turns the pprof routes and heap sampling off`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-nopprof-'));
    writeFileSync(join(dir, 'config.toml'), config);
    const off = await startRunner([...args], { cwd: dir });
    try {
      assert.match(off.logs(), /Profiling disabled/);
      const index = await (await fetch(`${off.url}/`)).text();
      assert.match(index, /^\/metrics/m);
      assert.doesNotMatch(index, /pprof/, 'the index lists only the enabled endpoints');
      for (const path of ['/debug/pprof/', '/debug/pprof/profile?seconds=1', '/debug/pprof/heap']) {
        const res = await fetch(`${off.url}${path}`);
        assert.equal(res.status, 404, path);
        await res.text();
      }
    } finally {
      off.kill();
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
}

test('with the metrics server off nothing could fetch a profile, so heap sampling does not start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-noserver-'));
  const off = await RunnerProcess.start(['run', '--metrics-server', ''], READY, { cwd: dir });
  try {
    assert.match(off.logs(), /Profiling disabled\s+reason="?metrics server disabled/);
    assert.doesNotMatch(off.logs(), /Profiling enabled/);
  } finally {
    off.kill();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

test('RUNNER_PPROF_CPU_HZ sets the CPU sampling rate; a bad value is reported and the default kept', async () => {
  for (const [value, periodNanos, warning] of [['50', 20_000_000, false], ['fast', cpuSamplingIntervalMicros * 1000, true]] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'runner-hz-'));
    const rated = await startRunner([], { cwd: dir, env: { RUNNER_PPROF_CPU_HZ: value } });
    try {
      const res = await fetch(`${rated.url}/debug/pprof/profile?seconds=1`);
      const profile = Profile.decode(gunzipSync(await profileBytes(res, 'profile')));
      assert.equal(Number(profile.period), periodNanos, `RUNNER_PPROF_CPU_HZ=${value}`);
      assert.equal(
        /RUNNER_PPROF_CPU_HZ="fast" is not a whole number of samples per second from 1 to 10000/.test(rated.logs()),
        warning,
        rated.logs(),
      );
    } finally {
      rated.kill();
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  }
});
