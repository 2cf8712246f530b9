// A child process for test/unit/telemetry/sdk-collection.test.ts, run on the
// test's own runtime (scriptCommand): the same metric activity, collected the
// same way, with the SDK as shipped or with src/telemetry/sdk-collection.ts's
// replacements, printed as one JSON document so the test can compare them.
//
//   sdk-collection-scenario stock|streamlined one-reader|gauges-delta|two-readers
//
// The activity covers what the replacements touch: synchronous instruments
// (their accumulations merged into cumulative reports), observable ones
// (batchCumulate's differences), series that come, go and come back, attribute
// sets observed as the same object (frozen or not) on every collection, a series
// limit that overflows, gauges collected with delta temporality as the
// runner's scrapes collect them (gauge-series.ts: calibrated start times), and
// a second reader with delta temporality (stashes shared by two collectors). A time is printed as the
// collection it is (c3) or the collections before it (>c3): records and
// collections are 2 ms apart, so two processes' runs compare exactly.
import { AggregationTemporality, type DataPoint, InstrumentType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { reportObservedGaugesOnly } from '../../src/telemetry/gauge-series.ts';
import { streamlineSdkCollection } from '../../src/telemetry/sdk-collection.ts';

class Reader extends MetricReader {
  constructor(temporality: AggregationTemporality) {
    // Counters overflow past 4 series; the gauges, which show the attribute sets, do not.
    super({ aggregationTemporalitySelector: () => temporality, cardinalitySelector: (type) => type === InstrumentType.OBSERVABLE_GAUGE ? 100 : 4 });
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

type HrTime = [number, number];
const timeKey = (time: HrTime): string => `${time[0]}.${String(time[1]).padStart(9, '0')}`;

function snapshot(metrics: ResourceMetrics): unknown[] {
  return metrics.scopeMetrics.flatMap((scope) =>
    scope.metrics.map((metric) => ({
      name: metric.descriptor.name,
      temporality: metric.aggregationTemporality,
      points: (metric.dataPoints as DataPoint<unknown>[]).map((point) => {
        return { attributes: point.attributes, value: point.value, start: timeKey(point.startTime), end: timeKey(point.endTime) };
      }),
    }))
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(mode: string, readerCount: string): Promise<void> {
  const applied = mode === 'streamlined' ? streamlineSdkCollection() : false;
  const readers = [new Reader(AggregationTemporality.CUMULATIVE)];
  if (readerCount === 'gauges-delta') reportObservedGaugesOnly(readers[0]!);
  if (readerCount === 'two-readers') readers.push(new Reader(AggregationTemporality.DELTA));
  const provider = new MeterProvider({ readers });
  const meter = provider.getMeter('scenario');
  const counter = meter.createCounter('requests');
  const histogram = meter.createHistogram('durations', { advice: { explicitBucketBoundaries: [1, 10] } });
  const updown = meter.createUpDownCounter('in_flight');
  let step = 0;
  // Series s0..s{step}: with more than the limit of 4, the rest overflow.
  meter.createObservableCounter('observed_total').addCallback((result) => {
    for (let i = 0; i <= step; i++) result.observe(10 * step + i, { series: `s${i}` });
  });
  // Series that come and go: odd steps only, and one that is always there. Attribute sets the
  // same object each time: frozen (hashed once), frozen around an array (hashed each time, its
  // array could change), and one changed between steps (a new series each step).
  const frozen = Object.freeze({ kind: 'frozen' });
  const frozenList = Object.freeze({ kind: 'list', list: ['even'] });
  const changing = { kind: 'changing', step: 0 };
  meter.createObservableGauge('observed_gauge').addCallback((result) => {
    result.observe(step, { kind: 'always' });
    if (step % 2 === 1) result.observe(step * 2, { kind: 'odd' });
    result.observe(step * 3, frozen);
    frozenList.list[0] = step % 2 === 0 ? 'even' : 'odd';
    result.observe(step * 4, frozenList);
    changing.step = step % 3;
    result.observe(step * 5, changing);
  });
  const collections: unknown[] = [];
  for (step = 0; step < 7; step++) {
    counter.add(step + 1, { route: step % 3 === 0 ? 'a' : 'b' });
    for (let i = 0; i < step; i++) counter.add(1, { route: `r${i}` });
    histogram.record(step * 3, { route: 'a' });
    updown.add(step % 2 === 0 ? 1 : -1);
    await sleep(2);
    for (const reader of readers) {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new Error(`collection failed: ${errors.map(String).join('; ')}`);
      // As the attributes are now: the points hold the very objects observed, which change later.
      collections.push(JSON.parse(JSON.stringify(snapshot(resourceMetrics))));
      await sleep(2);
    }
  }
  await provider.shutdown();
  // Every point's end is its collection's time.
  const ends = [...new Set(JSON.stringify(collections).match(/"end":"[0-9.]+"/g) ?? [])].map((end) => end.slice(7, -1)).sort();
  const shown = (time: string): string => ends.includes(time) ? `c${ends.indexOf(time)}` : `>c${ends.filter((end) => end < time).length - 1}`;
  const relative = JSON.stringify(collections, (key, value: unknown) => (key === 'start' || key === 'end') ? shown(value as string) : value);
  process.stdout.write(`${JSON.stringify({ applied, collections: JSON.parse(relative) as unknown })}\n`);
}

const [mode = '', readerCount = ''] = process.argv.slice(2);
if (!['stock', 'streamlined'].includes(mode) || !['one-reader', 'gauges-delta', 'two-readers'].includes(readerCount)) {
  process.stderr.write(`usage: sdk-collection-scenario stock|streamlined one-reader|gauges-delta|two-readers (got ${JSON.stringify(process.argv.slice(2))})\n`);
  process.exit(2);
}
await main(mode, readerCount);
