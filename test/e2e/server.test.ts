// The embedded server, over HTTP, against the real CLI.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { runtime } from '../../src/runtime/runtime.ts';
import { type RunningRunner, startRunner } from '../support/runner-process.ts';
import { assertPromtoolAccepts } from '../support/promtool.ts';
import { skipUnless } from '../support/tools.ts';

let shared: Promise<RunningRunner> | undefined;
const runner = (): Promise<RunningRunner> => (shared ??= startRunner());
after(async () => (await shared)?.kill());

async function scrape(): Promise<string> {
  const res = await fetch(`${(await runner()).url}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of one series, by its exact name and label set as rendered. */
function sample(body: string, series: string): number {
  const line = body.split('\n').find((l) => l.startsWith(series + ' '));
  assert.ok(line, `${series} missing from:\n${body}`);
  return Number(line.slice(series.length + 1));
}

/** A raw HTTP exchange, for what fetch will not send. Resolves with what the server wrote and whether it closed. */
function rawRequest(url: string, request: string, waitMs: number): Promise<{ response: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let response = '';
    const socket = connect(Number(port), hostname, () => socket.write(request));
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, closed });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk) => {
      response += chunk.toString('latin1');
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
  });
}

test('GET /metrics answers the Prometheus text format with plain names', async () => {
  const res = await fetch(`${(await runner()).url}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const body = await res.text();
  assert.doesNotMatch(body, /otel_scope_/);
  assert.doesNotMatch(body, /target_info/);
  assert.match(body, /^# TYPE process_cpu_seconds_total counter$/m);
});

test('/metrics has real values for every metric of this version', async () => {
  const body = await scrape();
  const started = Date.now() / 1000;
  assert.ok(sample(body, 'process_cpu_seconds_total') > 0);
  const rss = sample(body, 'process_resident_memory_bytes');
  assert.ok(rss > 10 * 1024 * 1024 && rss < 2 * 1024 ** 3, `rss ${rss}`);
  const start = sample(body, 'process_start_time_seconds');
  assert.ok(start > started - 600 && start <= started + 1, `start ${start}`);
  const open = sample(body, 'process_open_fds');
  assert.ok(open >= 3 && open < 10_000, `open fds ${open}`);
  assert.ok(sample(body, 'process_max_fds') >= open);
  assert.equal(sample(body, 'ci_runner_concurrent'), 1);
  const version = body.split('\n').find((l) => l.startsWith('ci_runner_version_info{'));
  assert.ok(version?.endsWith('} 1'), version);
  assert.ok(version);
  for (
    const label of [
      'name="runner"',
      'version="',
      'revision="',
      'branch="',
      'built_at="',
      `os="${process.platform}"`,
      `architecture="${process.arch}"`,
      `runtime="${runtime.name}"`,
      `runtime_version="${runtime.version}"`,
    ]
  ) {
    assert.ok(version.includes(label), `${label} in ${version}`);
  }
});

test('process_cpu_seconds_total grows while the runner works', async () => {
  const before = sample(await scrape(), 'process_cpu_seconds_total');
  for (let i = 0; i < 50; i++) await scrape();
  assert.ok(sample(await scrape(), 'process_cpu_seconds_total') > before);
});

test(
  'promtool check metrics accepts the exposition, but for the lints test/support/promtool.ts accepts',
  { skip: skipUnless('promtool', 'prometheus') },
  async () => {
    const body = await scrape();
    const result = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assertPromtoolAccepts(body, result.status, `${result.stdout}${result.stderr}`);
  },
);

for (
  const [path, type] of [['/metrics', 'text/plain; version=0.0.4; charset=utf-8'], ['/health/ready', 'text/plain; charset=utf-8'], [
    '/debug/jobs/list',
    'text/plain; charset=utf-8',
  ]] as const
) {
  test(`HEAD ${path} answers the headers without a body`, async () => {
    const { response } = await rawRequest((await runner()).url, `HEAD ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, 5_000);
    const [head, body] = response.split('\r\n\r\n');
    assert.match(head!, /^HTTP\/1\.1 200 /);
    assert.ok(head!.toLowerCase().includes(`content-type: ${type}`), head);
    assert.equal(body, '');
  });
}

for (const path of ['/metrics', '/health/ready', '/debug/jobs/list']) {
  test(`other methods on ${path} answer 405 with an Allow header`, async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${(await runner()).url}${path}`, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), 'GET, HEAD');
      await res.text();
    }
  });
}

test('/ is an index of the endpoints: HTML links for a browser, plain text otherwise', async () => {
  const base = (await runner()).url;
  const page = await fetch(`${base}/`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  const html = await page.text();
  for (const path of ['/metrics', '/health/ready', '/debug/jobs/list', '/debug/vars', '/debug/pprof/']) {
    assert.ok(html.includes(`<a href="${path}">`), `${path} in:\n${html}`);
  }
  const plain = await fetch(`${base}/`);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('content-type'), 'text/plain; charset=utf-8');
  const text = await plain.text();
  assert.match(text, /^\/metrics\s+Prometheus metrics/m);
  assert.match(text, /^\/debug\/pprof\/\s/m);
  assert.doesNotMatch(text, /^\/debug\/pprof\s/m, 'the bare /debug/pprof redirect is not listed twice');
});

test('unknown paths answer 404', async () => {
  for (const path of ['/index.html', '/metric', '/debug/pprofile', '/health']) {
    const res = await fetch(`${(await runner()).url}${path}`);
    assert.equal(res.status, 404, path);
    await res.text();
  }
});

test('/health/ready answers 200 ready', async () => {
  const res = await fetch(`${(await runner()).url}/health/ready`);
  assert.equal(res.status, 200);
  assert.equal((await res.text()).trim(), 'ready');
});

test('/debug/jobs/list is text/plain with X-List-Version 2 and no jobs yet', async () => {
  const res = await fetch(`${(await runner()).url}/debug/jobs/list`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-list-version'), '2');
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(await res.text(), '');
});

test('request headers over 16 KiB are refused with 431', async () => {
  // Just over our limit, well under the 80 KiB that some runtimes allow by default.
  const request = `GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`;
  const { response } = await rawRequest((await runner()).url, request, 10_000);
  assert.match(response, /^HTTP\/1\.1 431 /);
});

test('a client that never finishes its headers is cut off while others are served', async () => {
  const url = (await runner()).url;
  const slow = rawRequest(url, 'GET /metrics HTTP/1.1\r\nHost: t\r\n', 25_000);
  // The server keeps answering everyone else meanwhile.
  assert.equal((await fetch(`${url}/health/ready`)).status, 200);
  const { response, closed } = await slow;
  assert.ok(closed, 'the server closed the slow connection (headers timeout 10 s)');
  assert.ok(response === '' || /^HTTP\/1\.1 408 /.test(response), response);
});

test('a request with a body is refused with 413 and the connection closed, even if the body trickles', async () => {
  const url = (await runner()).url;
  const { response, closed } = await rawRequest(url, 'GET /health/ready HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\nabc', 10_000);
  assert.match(response, /^HTTP\/1\.1 413 /);
  assert.ok(closed, 'the server closed the connection instead of waiting for the body');
});

test('an idle keep-alive connection is closed by the server', async () => {
  const { response, closed } = await rawRequest((await runner()).url, 'GET /health/ready HTTP/1.1\r\nHost: t\r\n\r\n', 20_000);
  assert.match(response, /^HTTP\/1\.1 200 /);
  assert.ok(closed, 'closed after the keep-alive timeout (5 s)');
});

test('an absolute-form request target (RFC 9112 section 3.2.2) is served as its path; other forms are a 400', async () => {
  const base = (await runner()).url;
  const { response } = await rawRequest(base, `GET ${base}/metrics?format=prometheus HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, 5_000);
  assert.match(response, /^HTTP\/1\.1 200 /);
  assert.match(response, /\n# TYPE ci_runner_version_info gauge\n/);
  const health = await rawRequest(base, 'GET HTTP://elsewhere.example/health/ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 5_000);
  assert.match(health.response, /^HTTP\/1\.1 200 /);
  const odd = await rawRequest(base, 'GET ftp://x/metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 5_000);
  assert.match(odd.response, /^HTTP\/1\.1 400 /);
});

test('a path that starts with // is a path, not a host', async () => {
  const { response } = await rawRequest((await runner()).url, 'GET //metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 5_000);
  assert.match(response, /^HTTP\/1\.1 404 /);
  assert.match(response, /not found: \/\/metrics/);
});

test(
  'connections that pipeline many scrapes and read no answer: another client is answered meanwhile, and the runner stays up',
  { timeout: 120_000 },
  async () => {
    const { url, pid } = await runner();
    const { hostname, port } = new URL(url);
    const requests = 'GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n'.repeat(400);
    const attackers = Array.from({ length: 4 }, () => {
      const socket = connect(Number(port), hostname);
      socket.on('error', () => undefined);
      // Never read an answer.
      socket.pause();
      const written = new Promise<void>((resolve) => socket.once('connect', () => socket.write(requests, () => resolve())));
      return { socket, written };
    });
    try {
      await Promise.all(attackers.map(({ written }) => written));
      const during = await fetch(`${url}/metrics`);
      assert.equal(during.status, 200);
      assert.match(await during.text(), /^# HELP /m);
    } finally {
      for (const { socket } of attackers) socket.destroy();
    }
    assert.doesNotThrow(() => process.kill(pid, 0), 'the runner is still running');
    assert.equal((await fetch(`${url}/health/ready`)).status, 200);
  },
);
