// /metrics and /debug/vars in process: the format a request asks for (query
// or Accept header), what an unknown one gets, and a failed collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../../src/log/logger.ts';
import { startHttpServer } from '../../../src/server/http-server.ts';
import { createRequestListener } from '../../../src/server/routes.ts';
import { prefersLineProtocol } from '../../../src/server/routes/metrics.ts';
import type { VarsDocument } from '../../../src/telemetry/renderings/json.ts';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { fixedStatus } from '../../support/runner-status.ts';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

async function withServer(register: (telemetry: Telemetry) => void, run: (base: string) => Promise<void>): Promise<void> {
  const quiet = (): Logger => new Logger('info', 'text', { write: () => undefined });
  const telemetry = new Telemetry();
  register(telemetry);
  const agent = fixedStatus();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, createRequestListener(agent, telemetry, quiet()));
  try {
    await run(`http://127.0.0.1:${server.address.port}`);
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
}

const oneCounter = (t: Telemetry): void => t.meter.createCounter('ci_runner_test_requests').add(1, { runner: 'a' });

test("/metrics?format=influx and an Accept header for line protocol answer line protocol; Prometheus's Accept gets the text format", async () => {
  await withServer(oneCounter, async (base) => {
    const asked: [string, RequestInit, string][] = [
      ['/metrics?format=influx', {}, 'influx'],
      ['/metrics', { headers: { Accept: 'application/x-influx-line-protocol' } }, 'influx'],
      ['/metrics', { headers: { Accept: 'text/plain;q=0.5, application/x-influx-line-protocol' } }, 'influx'],
      ['/metrics?format=prometheus', { headers: { Accept: 'application/x-influx-line-protocol' } }, 'prometheus'],
      ['/metrics', { headers: { Accept: PROMETHEUS_ACCEPT } }, 'prometheus'],
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
      } else {
        assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8', what);
        assert.match(body, /^ci_runner_test_requests_total\{runner="a"\} 1$/m, what);
      }
    }
  });
});

test('Accept negotiation: line protocol only when it is named and weighs more than any other type', () => {
  assert.equal(prefersLineProtocol(undefined), false);
  assert.equal(prefersLineProtocol('*/*'), false);
  assert.equal(prefersLineProtocol(PROMETHEUS_ACCEPT), false);
  assert.equal(prefersLineProtocol('application/x-influx-line-protocol'), true);
  assert.equal(prefersLineProtocol('Application/X-Influx-Line-Protocol; q=0.9, */*;q=0.1'), true);
  assert.equal(prefersLineProtocol('application/x-influx-line-protocol, text/plain'), false, 'a tie keeps the default');
  assert.equal(prefersLineProtocol('application/x-influx-line-protocol;q=0'), false);
});

test('/metrics with an unknown or repeated format answers 400 with one line naming it and the accepted ones', async () => {
  await withServer(oneCounter, async (base) => {
    for (
      const [query, message] of [
        ['format=xml', 'bad request: unknown format "xml"; accepted: prometheus, influx\n'],
        ['format=', 'bad request: unknown format ""; accepted: prometheus, influx\n'],
        ['format=Influx', 'bad request: unknown format "Influx"; accepted: prometheus, influx\n'],
        ['format=a%0Ab', 'bad request: unknown format "a\\nb"; accepted: prometheus, influx\n'],
        ['format=influx&format=prometheus', 'bad request: format given 2 times; accepted: prometheus, influx\n'],
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
