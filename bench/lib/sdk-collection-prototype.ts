// A prototype of the change to @opentelemetry/sdk-metrics' collection proposed upstream (see
// docs/benchmarks.md#scrape), applied to the SDK's classes in the measuring process only, so that
// bench/scrape-allocation-sites.ts can show what it would save. Nothing outside bench/ loads it.
// It replaces, with the same results:
//   - the HashMap.entries() and keys() generators (an array and an iterator result per entry, twice
//     per series and collection) by loops over the maps: TemporalMetricProcessor.merge and
//     calibrateStartTime (delta temporality: the runner's gauges), DeltaMetricProcessor.batchCumulate,
//     and the records buildMetrics hands to toMetricData;
//   - the merge of the one unreported accumulation of a storage read by one reader into a fresh
//     map, on every collection: that accumulation is used as it is;
//   - MetricStorageRegistry.getStorages' concat per instrument (a new array each) by push.
// It reaches into the SDK's internals of exactly one version, so it refuses any other.

import { createRequire } from 'node:module';

export const PROTOTYPE_SDK_VERSION = '2.12.0';

type Hash = string;

interface AttributeHashMap<V> {
  readonly _valueMap: Map<Hash, V>;
  readonly _keyMap: Map<Hash, object>;
  readonly size: number;
  set(key: object, value: V, hash?: Hash): void;
}

interface Aggregator {
  createAccumulation(time: unknown): Accumulation | undefined;
  merge(previous: Accumulation, delta: Accumulation): Accumulation;
  diff(previous: Accumulation, current: Accumulation): Accumulation;
  toMetricData(descriptor: unknown, temporality: number, records: [object, Accumulation, Hash][], endTime: unknown): unknown;
}

interface Accumulation {
  record(value: number): void;
  setStartTime(time: unknown): void;
}

interface Collector {
  selectAggregationTemporality(type: unknown): number;
}

interface Report {
  accumulations: AttributeHashMap<Accumulation>;
  collectionTime: unknown;
  aggregationTemporality: number;
}

interface TemporalProcessor {
  _aggregator: Aggregator;
  _unreportedAccumulations: Map<Collector, AttributeHashMap<Accumulation>[]>;
  _reportHistory: Map<Collector, Report>;
  _stashAccumulations(current: AttributeHashMap<Accumulation>): void;
  _getMergedUnreportedAccumulations(collector: Collector): AttributeHashMap<Accumulation>;
}

interface TemporalProcessorClass {
  prototype: TemporalProcessor & { buildMetrics: unknown };
  merge(last: AttributeHashMap<Accumulation>, current: AttributeHashMap<Accumulation>, aggregator: Aggregator): AttributeHashMap<Accumulation>;
  calibrateStartTime(last: AttributeHashMap<Accumulation>, current: AttributeHashMap<Accumulation>, lastTime: unknown): AttributeHashMap<Accumulation>;
}

interface DeltaProcessor {
  _aggregator: Aggregator;
  _cumulativeMemoStorage: AttributeHashMap<Accumulation>;
  _activeCollectionStorage: AttributeHashMap<Accumulation>;
  _cardinalityLimit: number;
  _overflowAttributes: object;
  _overflowHashCode: Hash;
}

interface StorageRegistry {
  _sharedRegistry: Map<string, unknown[]>;
  _perCollectorRegistry: Map<Collector, Map<string, unknown[]>>;
}

const CUMULATIVE = 1;

/** Applies the prototype to the SDK this process loads; throws for another SDK version. */
export function applySdkCollectionPrototype(): void {
  const require = createRequire(import.meta.url);
  const version = (require('@opentelemetry/sdk-metrics/package.json') as { version: string }).version;
  if (version !== PROTOTYPE_SDK_VERSION) {
    throw new Error(`the SDK collection prototype is written for @opentelemetry/sdk-metrics ${PROTOTYPE_SDK_VERSION}, not ${version}`);
  }
  const state = '@opentelemetry/sdk-metrics/build/src/state';
  const { TemporalMetricProcessor } = require(`${state}/TemporalMetricProcessor.js`) as { TemporalMetricProcessor: TemporalProcessorClass };
  const { DeltaMetricProcessor } = require(`${state}/DeltaMetricProcessor.js`) as { DeltaMetricProcessor: { prototype: object } };
  const { MetricStorageRegistry } = require(`${state}/MetricStorageRegistry.js`) as { MetricStorageRegistry: { prototype: object } };

  TemporalMetricProcessor.merge = (last, current, aggregator) => {
    current._valueMap.forEach((record, hash) => {
      const previous = last._valueMap.get(hash);
      last.set(current._keyMap.get(hash)!, previous === undefined ? record : aggregator.merge(previous, record), hash);
    });
    return last;
  };

  TemporalMetricProcessor.calibrateStartTime = (last, current, lastTime) => {
    last._keyMap.forEach((_key, hash) => current._valueMap.get(hash)?.setStartTime(lastTime));
    return current;
  };

  Object.assign(DeltaMetricProcessor.prototype, {
    batchCumulate(this: DeltaProcessor, measurements: AttributeHashMap<number>, collectionTime: unknown): void {
      measurements._valueMap.forEach((value, originalHash) => {
        let attributes = measurements._keyMap.get(originalHash)!;
        let hash = originalHash;
        const accumulation = this._aggregator.createAccumulation(collectionTime)!;
        accumulation.record(value);
        let delta = accumulation;
        const previous = this._cumulativeMemoStorage._valueMap.get(hash);
        if (previous !== undefined) {
          delta = this._aggregator.diff(previous, accumulation);
        } else if (this._cumulativeMemoStorage.size >= this._cardinalityLimit) {
          attributes = this._overflowAttributes;
          hash = this._overflowHashCode;
          const overflow = this._cumulativeMemoStorage._valueMap.get(hash);
          if (overflow !== undefined) delta = this._aggregator.diff(overflow, accumulation);
        }
        const active = this._activeCollectionStorage._valueMap.get(hash);
        if (active !== undefined) delta = this._aggregator.merge(active, delta);
        this._cumulativeMemoStorage.set(attributes, accumulation, hash);
        this._activeCollectionStorage.set(attributes, delta, hash);
      });
    },
  });

  const mergedUnreported = TemporalMetricProcessor.prototype._getMergedUnreportedAccumulations;
  Object.assign(TemporalMetricProcessor.prototype, {
    _getMergedUnreportedAccumulations(this: TemporalProcessor, collector: Collector): AttributeHashMap<Accumulation> {
      const stash = this._unreportedAccumulations.get(collector);
      // One reader, one accumulation since its last collection: nothing to merge it with.
      if (stash !== undefined && stash.length === 1 && this._unreportedAccumulations.size === 1) {
        this._unreportedAccumulations.set(collector, []);
        return stash[0]!;
      }
      return mergedUnreported.call(this, collector);
    },
    buildMetrics(
      this: TemporalProcessor,
      collector: Collector,
      descriptor: { type: unknown },
      current: AttributeHashMap<Accumulation>,
      time: unknown,
    ): unknown {
      this._stashAccumulations(current);
      const unreported = this._getMergedUnreportedAccumulations(collector);
      const last = this._reportHistory.get(collector);
      let result = unreported;
      let temporality: number;
      if (last === undefined) {
        temporality = collector.selectAggregationTemporality(descriptor.type);
      } else {
        temporality = last.aggregationTemporality;
        result = temporality === CUMULATIVE
          ? TemporalMetricProcessor.merge(last.accumulations, unreported, this._aggregator)
          : TemporalMetricProcessor.calibrateStartTime(last.accumulations, unreported, last.collectionTime);
      }
      this._reportHistory.set(collector, { accumulations: result, collectionTime: time, aggregationTemporality: temporality });
      if (result.size === 0) return undefined;
      const records: [object, Accumulation, Hash][] = [];
      result._valueMap.forEach((accumulation, hash) => records.push([result._keyMap.get(hash)!, accumulation, hash]));
      return this._aggregator.toMetricData(descriptor, temporality, records, time);
    },
  });

  Object.assign(MetricStorageRegistry.prototype, {
    getStorages(this: StorageRegistry, collector: Collector): unknown[] {
      const storages: unknown[] = [];
      for (const list of this._sharedRegistry.values()) for (const storage of list) storages.push(storage);
      for (const list of this._perCollectorRegistry.get(collector)?.values() ?? []) for (const storage of list) storages.push(storage);
      return storages;
    },
  });
}
