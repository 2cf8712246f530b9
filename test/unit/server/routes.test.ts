// The routes in process: a failed collection must be a 500 that says why,
// never a 200 with a partial exposition; readiness follows the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { Logger } from '../../../src/log/logger.ts';
import { startHttpServer } from '../../../src/server/http-server.ts';
import { createRequestListener } from '../../../src/server/routes.ts';
import { Agent } from '../../../src/agent/agent.ts';
import { DEFAULT_CONFIG } from '../../../src/config/types.ts';
import { executorFactory } from '../../../src/executors/executors.ts';
import { sourceFactory } from '../../../src/sources/sources.ts';
import { fixedStatus } from '../../support/runner-status.ts';
import { registerRunnerMetrics } from '../../../src/telemetry/runner-metrics.ts';
import { CollectionError, SERIES_LIMIT_PER_METRIC, Telemetry } from '../../../src/telemetry/telemetry.ts';

function quietLogger(lines: string[]): Logger {
  return new Logger('info', 'text', { write: (line) => lines.push(line) });
}

test('a failing metric callback makes /metrics answer 500 with the reason, and is logged', async () => {
  const telemetry = new Telemetry();
  const agent = fixedStatus();
  registerRunnerMetrics(telemetry.meter, agent, 's_0123456789ab');
  telemetry.meter.createObservableGauge('broken_gauge').addCallback(() => {
    throw new Error('cannot read /proc/self/broken');
  });
  const logs: string[] = [];
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, createRequestListener(agent, telemetry, quietLogger(logs)));
  try {
    const res = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
    assert.equal(res.status, 500);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    const body = await res.text();
    assert.match(body, /metrics collection failed: .*cannot read \/proc\/self\/broken/);
    assert.doesNotMatch(body, /ci_runner_version_info/);
    assert.ok(logs.some((line) => /ERROR\s+Metrics collection failed.*cannot read/.test(line)), logs.join(''));
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
});

test('render() rejects with a CollectionError naming every failed callback', async () => {
  const telemetry = new Telemetry();
  telemetry.meter.createObservableGauge('a').addCallback(() => {
    throw new Error('first');
  });
  telemetry.meter.createObservableGauge('b').addCallback(() => {
    throw new Error('second');
  });
  await assert.rejects(telemetry.render(), (error: unknown) => {
    assert.ok(error instanceof CollectionError);
    assert.match(error.message, /first/);
    assert.match(error.message, /second/);
    return true;
  });
  await telemetry.shutdown();
});

test('series beyond the per-metric limit fold into one overflow series instead of growing', async () => {
  const telemetry = new Telemetry();
  const counter = telemetry.meter.createCounter('ci_runner_test_requests');
  for (let i = 0; i < SERIES_LIMIT_PER_METRIC + 500; i++) counter.add(1, { runner: `r${i}` });
  const body = await telemetry.render();
  const series = body.split('\n').filter((line) => line.startsWith('ci_runner_test_requests_total{'));
  assert.equal(series.length, SERIES_LIMIT_PER_METRIC);
  const overflow = series.find((line) => line.includes('otel_metric_overflow="true"'));
  assert.ok(overflow, 'an overflow series exists');
  assert.equal(Number(overflow.split(' ').at(-1)), 501);
  await telemetry.shutdown();
});

test('/health/ready answers 503 until the agent has started', async () => {
  const telemetry = new Telemetry();
  const agent = new Agent({ ...DEFAULT_CONFIG, runners: [] }, {
    logger: quietLogger([]),
    sources: sourceFactory(tmpdir(), quietLogger([]), 's_0123456789ab'),
    executors: executorFactory(tmpdir()),
    systemId: 's_0123456789ab',
  });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, createRequestListener(agent, telemetry, quietLogger([])));
  try {
    const url = `http://127.0.0.1:${server.address.port}/health/ready`;
    const starting = await fetch(url);
    assert.equal(starting.status, 503);
    assert.equal((await starting.text()).trim(), 'not ready: starting');
    agent.start();
    assert.equal((await fetch(url)).status, 200);
    await agent.stop('cancel');
    const stopped = await fetch(url);
    assert.equal(stopped.status, 503);
    assert.equal((await stopped.text()).trim(), 'not ready: stopped');
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
});
