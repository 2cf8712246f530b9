// The attribute sets a metric observes on every scrape, each one frozen object
// made once: the SDK's collection hashes a frozen set once rather than on each
// observation (sdk-collection.ts), and nothing is allocated for it per scrape.
import type { Attributes } from '@opentelemetry/api';

/** Sets kept per metric at most: past it, sets are made fresh each time (the series limit folds them anyway). */
const MAX_SETS = 4096;

/** A frozen copy of attributes: for sets that never change (labels of an info metric, a state's value). */
export function frozenAttributes<T extends Attributes>(attributes: T): Readonly<T> {
  return Object.freeze({ ...attributes });
}

/** Frozen attribute sets by a key that names them (a runner's name, a heap space, a stage). */
export class AttributeSets<K> {
  private readonly sets = new Map<K, Readonly<Attributes>>();

  constructor(private readonly make: (key: K) => Attributes) {}

  get(key: K): Readonly<Attributes> {
    let set = this.sets.get(key);
    if (set === undefined) {
      set = Object.freeze(this.make(key));
      if (this.sets.size < MAX_SETS) this.sets.set(key, set);
    }
    return set;
  }
}
