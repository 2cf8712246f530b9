// Runtime metrics under prom-client's names and labels (nodejs_*), so that the
// existing Node.js dashboards work on Node, Bun and Deno alike. A runtime that
// cannot really measure something (runtime-support.ts says which) has no such
// metric: never a constant zero in its place.
import type { BatchObservableResult, Meter, Observable, ObservableGauge } from '@opentelemetry/api';
import {
  activeHandleTypes,
  activeRequestTypes,
  activeResourceTypes,
  heapSpaces,
  heapUsage,
  observeGarbageCollection,
  runtime,
  startLoopDelaySampler,
} from '../runtime/runtime.ts';
import type { LoopDelayWindow } from '../system/loop-delay.ts';
import { AttributeSets, frozenAttributes } from './attribute-sets.ts';
import { measures } from './runtime-support.ts';
import { onScrape, type Reading } from './scrape-context.ts';

/** prom-client's buckets for nodejs_gc_duration_seconds. */
const GC_DURATION_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];

const LOOP_DELAY_STATISTICS: readonly (keyof LoopDelayWindow)[] = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'];

export interface RuntimeMetrics {
  /** Stops the samplers and observers (tests; the runner keeps them for its lifetime). */
  stop(): void;
}

/**
 * Counts by type, in a gauge with a `type` label and its `_total` gauge. A
 * type seen before and gone now reads 0: OTel keeps a gauge's series once
 * observed, and its last count would otherwise stay forever.
 */
function typeCounter(meter: Meter, name: string, what: string, read: () => readonly string[]) {
  const byType = meter.createObservableGauge(name, { description: `Number of ${what}, by type.` });
  const total = meter.createObservableGauge(`${name}_total`, { description: `Total number of ${what}.` });
  const seen = new Set<string>();
  const sets = new AttributeSets((type: string) => ({ type }));
  return {
    observables: [byType, total],
    observe(result: BatchObservableResult): void {
      const types = read();
      const counts = new Map<string, number>();
      for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
      for (const type of seen) if (!counts.has(type)) result.observe(byType, 0, sets.get(type));
      for (const [type, count] of counts) {
        seen.add(type);
        result.observe(byType, count, sets.get(type));
      }
      result.observe(total, types.length);
    },
  };
}

function versionLabels(): Record<string, string> {
  const [, major = '', minor = '', patch = ''] = /^(\d+)\.(\d+)\.(\d+)/.exec(runtime.version) ?? [];
  return { version: `v${runtime.version}`, major, minor, patch, runtime: runtime.name };
}

export function registerRuntimeMetrics(meter: Meter): RuntimeMetrics {
  const gauge = (name: string, description: string): ObservableGauge => meter.createObservableGauge(name, { description });
  const needs: Reading[] = ['immediateLag', 'heap'];
  const observables: Observable[] = [];
  const add = <T extends Observable>(observable: T): T => {
    observables.push(observable);
    return observable;
  };

  const version = add(gauge('nodejs_version_info', 'The runtime (node, bun or deno) and its own version; always 1.'));
  const labels = frozenAttributes(versionLabels());

  const lag = add(gauge('nodejs_eventloop_lag_seconds', 'Lag of the event loop in seconds: how long a setImmediate callback waited at the scrape.'));
  const sampler = startLoopDelaySampler();
  const delay = new Map(LOOP_DELAY_STATISTICS.map((statistic) => [
    statistic,
    add(gauge(
      `nodejs_eventloop_lag_${statistic}_seconds`,
      `The ${statistic} of the event loop delays seen since the previous scrape, in seconds.`,
    )),
  ]));

  const heapUsed = add(gauge('nodejs_heap_size_used_bytes', 'Heap used by JavaScript objects, in bytes.'));
  const external = add(gauge('nodejs_external_memory_bytes', 'Memory outside the heap held by JavaScript objects (Buffers, ArrayBuffers), in bytes.'));
  const heapTotal = !measures('nodejs_heap_size_total_bytes') || heapUsage().totalBytes === undefined
    ? undefined
    : add(gauge('nodejs_heap_size_total_bytes', 'Size the heap has reserved, in bytes.'));

  const spaces = heapSpaces && measures('nodejs_heap_space_size_total_bytes')
    ? {
      total: add(gauge('nodejs_heap_space_size_total_bytes', 'Size of each heap space, in bytes.')),
      used: add(gauge('nodejs_heap_space_size_used_bytes', 'Bytes used in each heap space.')),
      available: add(gauge('nodejs_heap_space_size_available_bytes', 'Bytes still available in each heap space.')),
    }
    : undefined;
  if (spaces) needs.push('heapSpaces');
  const spaceSets = new AttributeSets((space: string) => ({ space }));

  const counters = ([
    ['nodejs_active_resources', 'resources keeping the event loop alive', activeResourceTypes],
    ['nodejs_active_handles', 'active handles', activeHandleTypes],
    ['nodejs_active_requests', 'active requests', activeRequestTypes],
  ] as const).flatMap(([name, what, read]) => (read && measures(name) ? [typeCounter(meter, name, what, read)] : []));
  for (const counter of counters) observables.push(...counter.observables);

  const unregister = onScrape(meter, needs, observables, (context, result) => {
    result.observe(version, 1, labels);
    if (context.immediateLagSeconds !== undefined) result.observe(lag, context.immediateLagSeconds);
    const window = sampler.takeWindow();
    if (window) { for (const [statistic, instrument] of delay) result.observe(instrument, window[statistic]); }
    if (context.heap) {
      result.observe(heapUsed, context.heap.usedBytes);
      result.observe(external, context.heap.externalBytes);
      if (heapTotal && context.heap.totalBytes !== undefined) result.observe(heapTotal, context.heap.totalBytes);
    }
    if (spaces) {
      for (const space of context.heapSpaces ?? []) {
        const attributes = spaceSets.get(space.name);
        result.observe(spaces.total, space.sizeBytes, attributes);
        result.observe(spaces.used, space.usedBytes, attributes);
        result.observe(spaces.available, space.availableBytes, attributes);
      }
    }
    for (const counter of counters) counter.observe(result);
  });

  const gcDuration = observeGarbageCollection && measures('nodejs_gc_duration_seconds')
    ? meter.createHistogram('nodejs_gc_duration_seconds', {
      description: 'Garbage collection durations in seconds, by kind (minor, major, incremental, weakcb).',
      advice: { explicitBucketBoundaries: GC_DURATION_BUCKETS },
    })
    : undefined;
  const stopGc = gcDuration && observeGarbageCollection?.((kind, seconds) => gcDuration.record(seconds, { kind }));

  return {
    stop() {
      unregister();
      sampler.stop();
      stopGc?.();
    },
  };
}
