// /metrics and /debug/vars in process: the format a request asks for (query
// or Accept header), what an unknown one gets, a text format that stays what
// the exporter's serializer writes whatever else is asked, and a failed collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../../src/log/logger.ts';
import { startHttpServer } from '../../../src/server/http-server.ts';
import { createRequestListener } from '../../../src/server/routes.ts';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { negotiatedFormat } from '../../../src/server/routes/metrics.ts';
import type { VarsDocument } from '../../../src/telemetry/renderings/json.ts';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { fixedStatus } from '../../support/runner-status.ts';

/** The Accept header of Prometheus 3's scrapes. */
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
/** The Accept header of Prometheus 2.42's scrapes (Debian's). */
const PROMETHEUS_2_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

async function withServer(register: (telemetry: Telemetry) => void, run: (base: string, telemetry: Telemetry) => Promise<void>): Promise<void> {
  const quiet = (): Logger => new Logger('info', 'text', { write: () => undefined });
  const telemetry = new Telemetry();
  register(telemetry);
  const agent = fixedStatus();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, createRequestListener(agent, telemetry, quiet()));
  try {
    await run(`http://127.0.0.1:${server.address.port}`, telemetry);
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
}

const oneCounter = (t: Telemetry): void => t.meter.createCounter('ci_runner_test_requests').add(1, { runner: 'a' });

test("/metrics: ?format= or the Accept header picks line protocol or OpenMetrics; Prometheus's scrapes get OpenMetrics, curl's the text format", async () => {
  await withServer(oneCounter, async (base) => {
    const asked: [string, RequestInit, string][] = [
      ['/metrics?format=influx', {}, 'influx'],
      ['/metrics', { headers: { Accept: 'application/x-influx-line-protocol' } }, 'influx'],
      ['/metrics', { headers: { Accept: 'text/plain;q=0.5, application/x-influx-line-protocol' } }, 'influx'],
      ['/metrics?format=prometheus', { headers: { Accept: 'application/x-influx-line-protocol' } }, 'prometheus'],
      ['/metrics', { headers: { Accept: PROMETHEUS_ACCEPT } }, 'openmetrics'],
      ['/metrics', { headers: { Accept: PROMETHEUS_2_ACCEPT } }, 'openmetrics'],
      ['/metrics?format=openmetrics', {}, 'openmetrics'],
      ['/metrics?format=prometheus', { headers: { Accept: PROMETHEUS_2_ACCEPT } }, 'prometheus'],
      ['/metrics', { headers: { Accept: '*/*' } }, 'prometheus'],
      ['/metrics', {}, 'prometheus'],
      ['/metrics?format=prometheus', {}, 'prometheus'],
    ];
    for (const [path, init, format] of asked) {
      const res = await fetch(`${base}${path}`, init);
      const body = await res.text();
      const what = `${path} ${JSON.stringify(init)}`;
      assert.equal(res.status, 200, what);
      assert.equal(res.headers.get('vary'), 'Accept', what);
      if (format === 'influx') {
        assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8', what);
        assert.match(body, /^prometheus,runner=a ci_runner_test_requests_total=1 \d{19}\n$/, what);
      } else if (format === 'openmetrics') {
        assert.equal(res.headers.get('content-type'), OPENMETRICS, what);
        assert.match(body, /^# TYPE ci_runner_test_requests counter\n(.*\n)*ci_runner_test_requests_total\{runner="a"\} 1\n# EOF\n$/, what);
      } else {
        assert.equal(res.headers.get('content-type'), TEXT_FORMAT, what);
        assert.match(body, /^ci_runner_test_requests_total\{runner="a"\} 1$/m, what);
      }
    }
  });
});

test('Accept negotiation: a format other than the text format only when it is named and weighs more than any other type', () => {
  assert.equal(negotiatedFormat(undefined), 'prometheus');
  assert.equal(negotiatedFormat(''), 'prometheus');
  assert.equal(negotiatedFormat('*/*'), 'prometheus');
  assert.equal(negotiatedFormat('text/plain'), 'prometheus');
  assert.equal(negotiatedFormat('text/plain;version=0.0.4'), 'prometheus');
  assert.equal(negotiatedFormat(PROMETHEUS_ACCEPT), 'openmetrics');
  assert.equal(negotiatedFormat(PROMETHEUS_2_ACCEPT), 'openmetrics');
  assert.equal(negotiatedFormat('application/openmetrics-text'), 'openmetrics');
  assert.equal(negotiatedFormat('Application/OpenMetrics-Text; Version="1.0.0"'), 'openmetrics');
  assert.equal(negotiatedFormat('application/openmetrics-text;version=0.0.1'), 'prometheus', 'only the version written here');
  assert.equal(negotiatedFormat('application/openmetrics-text;version=2.0.0;q=1,text/plain;q=0.1'), 'prometheus');
  assert.equal(negotiatedFormat('application/openmetrics-text;q=0.5,*/*;q=0.9'), 'prometheus');
  assert.equal(negotiatedFormat('application/openmetrics-text,text/plain'), 'prometheus', 'a tie keeps the default');
  assert.equal(negotiatedFormat('application/openmetrics-text;q=0'), 'prometheus');
  assert.equal(negotiatedFormat('application/x-influx-line-protocol'), 'influx');
  assert.equal(negotiatedFormat('Application/X-Influx-Line-Protocol; q=0.9, */*;q=0.1'), 'influx');
  assert.equal(negotiatedFormat('application/x-influx-line-protocol, text/plain'), 'prometheus', 'a tie keeps the default');
  assert.equal(negotiatedFormat('application/x-influx-line-protocol, application/openmetrics-text'), 'prometheus', 'a tie keeps the default');
  assert.equal(negotiatedFormat('application/x-influx-line-protocol;q=0.8, application/openmetrics-text;q=0.9'), 'openmetrics');
  assert.equal(negotiatedFormat('application/x-influx-line-protocol;q=0'), 'prometheus');
  assert.equal(negotiatedFormat('application/openmetrics-text;q=abc,text/plain;q=0.2'), 'prometheus', 'an unreadable weight names nothing');
});

test("the text format stays the serializer's, byte for byte, with exemplars kept: no Accept, */*, text/plain and ?format=prometheus", async () => {
  await withServer((t) => {
    oneCounter(t);
    const bounds = [30, 60];
    t.meter.createHistogram('ci_runner_test_duration_seconds', { advice: { explicitBucketBoundaries: bounds } }).record(42, { runner: 'a' });
    t.exemplars.histogram('ci_runner_test_duration_seconds', bounds).record(
      42,
      { runner: 'a' },
      { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) },
      1_700_000_000_000,
    );
  }, async (base, telemetry) => {
    const expected = new PrometheusSerializer('', false, undefined, true, true).serialize((await telemetry.collect()).resourceMetrics);
    assert.match(expected, /^ci_runner_test_duration_seconds_bucket\{runner="a",le="60"\} 1$/m);
    const asked: [string, Record<string, string>][] = [
      ['/metrics', {}],
      ['/metrics', { Accept: '*/*' }],
      ['/metrics', { Accept: 'text/plain' }],
      ['/metrics', { Accept: 'text/plain; version=0.0.4; q=0.9, application/openmetrics-text; q=0.5' }],
      ['/metrics?format=prometheus', { Accept: PROMETHEUS_2_ACCEPT }],
    ];
    for (const [path, headers] of asked) {
      const res = await fetch(`${base}${path}`, { headers });
      assert.equal(res.headers.get('content-type'), TEXT_FORMAT, `${path} ${JSON.stringify(headers)}`);
      assert.equal(await res.text(), expected, `${path} ${JSON.stringify(headers)}`);
    }
    const open = await (await fetch(`${base}/metrics`, { headers: { Accept: PROMETHEUS_2_ACCEPT } })).text();
    assert.match(open, /^ci_runner_test_duration_seconds_bucket\{runner="a",le="60"\} 1 # \{trace_id="a{32}",span_id="b{16}"\} 42 1700000000$/m);
  });
});

test('/metrics with an unknown or repeated format answers 400 with one line naming it and the accepted ones', async () => {
  await withServer(oneCounter, async (base) => {
    for (
      const [query, message] of [
        ['format=xml', 'bad request: unknown format "xml"; accepted: prometheus, influx, openmetrics\n'],
        ['format=', 'bad request: unknown format ""; accepted: prometheus, influx, openmetrics\n'],
        ['format=Influx', 'bad request: unknown format "Influx"; accepted: prometheus, influx, openmetrics\n'],
        ['format=a%0Ab', 'bad request: unknown format "a\\nb"; accepted: prometheus, influx, openmetrics\n'],
        ['format=influx&format=prometheus', 'bad request: format given 2 times; accepted: prometheus, influx, openmetrics\n'],
      ] as const
    ) {
      const res = await fetch(`${base}/metrics?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(await res.text(), message);
    }
  });
});

test('/debug/vars answers the JSON document; every rendering answers 500 with the reason when collection fails', async () => {
  await withServer(oneCounter, async (base) => {
    const res = await fetch(`${base}/debug/vars`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    const doc = await res.json() as VarsDocument;
    assert.deepEqual(doc.metrics, [{
      name: 'ci_runner_test_requests_total',
      type: 'counter',
      help: '',
      unit: '',
      series: [{ labels: { runner: 'a' }, value: 1 }],
    }]);
    const head = await fetch(`${base}/debug/vars`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal((await fetch(`${base}/debug/vars`, { method: 'POST' })).status, 405);
  });
  await withServer((t) =>
    t.meter.createObservableGauge('broken').addCallback(() => {
      throw new Error('cannot read /proc/self/broken');
    }), async (base) => {
    for (const path of ['/metrics', '/metrics?format=influx', '/debug/vars', '/debug/renderings']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 500, path);
      assert.match(await res.text(), /^metrics collection failed: cannot read \/proc\/self\/broken\n$/, path);
    }
  });
});

test("a counter X_total beside another family X (GitLab Runner's gitlab_runner_jobs_total and gitlab_runner_jobs): Prometheus still gets OpenMetrics, with that counter as the unknown family X_total", async () => {
  const clashing = (t: Telemetry): void => {
    t.meter.createCounter('gitlab_runner_jobs_total').add(1, { runner: 'a' });
    t.meter.createObservableGauge('gitlab_runner_jobs').addCallback((result) => result.observe(2, { runner: 'a' }));
    t.meter.createCounter('gitlab_runner_errors_total').add(3);
  };
  await withServer(clashing, async (base) => {
    const scraped = await fetch(`${base}/metrics`, { headers: { Accept: PROMETHEUS_2_ACCEPT } });
    assert.equal(scraped.status, 200);
    assert.equal(scraped.headers.get('content-type'), OPENMETRICS);
    const body = await scraped.text();
    const types = [...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => `${name} ${type}`);
    assert.deepEqual(types, ['gitlab_runner_jobs_total unknown', 'gitlab_runner_jobs gauge', 'gitlab_runner_errors counter']);
    assert.match(body, /^gitlab_runner_jobs_total\{runner="a"\} 1$/m);
    assert.match(body, /^gitlab_runner_jobs\{runner="a"\} 2$/m);
    assert.match(body, /^gitlab_runner_errors_total 3$/m);
  });
});
