// The leaner SDK collection (src/telemetry/sdk-collection.ts) gives what the
// SDK as shipped gives: the same activity collected in two processes, one with
// the replacements and one without, prints the same data points, temporalities
// and (relative) times - with one reader, one whose gauges are delta (as the
// runner's scrapes), and with a second, delta reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { moduleExtension, scriptCommand } from '../../../src/runtime/runtime.ts';
import { STREAMLINED_SDK_VERSION, streamlineSdkCollection } from '../../../src/telemetry/sdk-collection.ts';
import { Telemetry } from '../../../src/telemetry/telemetry.ts';
import { collectOutput } from '../../support/child-output.ts';

const SCENARIO = fileURLToPath(new URL(`../../support/sdk-collection-scenario${moduleExtension(import.meta.url)}`, import.meta.url));

interface ScenarioOutput {
  applied: boolean;
  collections: unknown[];
}

type Readers = 'one-reader' | 'gauges-delta' | 'two-readers';

async function scenario(mode: 'stock' | 'streamlined', readers: Readers): Promise<ScenarioOutput> {
  const [command, ...args] = scriptCommand(SCENARIO);
  const child = spawn(command, [...args, mode, readers], { stdio: ['ignore', 'pipe', 'pipe'] });
  const { code, stdout, stderr } = await collectOutput(child).done;
  assert.equal(code, 0, `scenario ${mode} ${readers} exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as ScenarioOutput;
}

test('the replacements are written for the SDK version package.json pins: review them when it changes', () => {
  const manifest = createRequire(import.meta.url).resolve('@opentelemetry/sdk-metrics/package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  assert.equal(version, STREAMLINED_SDK_VERSION);
  assert.equal(streamlineSdkCollection(), true, 'the installed SDK is shaped as the replacements need');
});

test('a Telemetry streamlines the collection as it is made', async () => {
  const telemetry = new Telemetry();
  try {
    assert.equal(streamlineSdkCollection(), true);
  } finally {
    await telemetry.shutdown();
  }
});

for (const readers of ['one-reader', 'gauges-delta', 'two-readers'] as const) {
  test(`${readers}: the streamlined collection reports exactly what the SDK as shipped reports`, async () => {
    const [stock, streamlined] = await Promise.all([scenario('stock', readers), scenario('streamlined', readers)]);
    assert.equal(stock.applied, false);
    assert.equal(streamlined.applied, true);
    assert.equal(stock.collections.length, readers === 'two-readers' ? 14 : 7);
    if (readers === 'gauges-delta') assert.match(JSON.stringify(stock.collections), /"name":"observed_gauge","temporality":0/);
    // The scenario reaches what the replacements handle: overflow, and series that come and go.
    const text = JSON.stringify(stock.collections);
    assert.match(text, /"otel.metric.overflow":true/);
    assert.match(text, /"kind":"odd"/);
    // The same objects each time, yet each collection sees their values of the time.
    assert.match(text, /"kind":"list","list":\["odd"\]/);
    assert.match(text, /"kind":"changing","step":2/);
    assert.deepEqual(streamlined.collections, stock.collections);
  });
}
