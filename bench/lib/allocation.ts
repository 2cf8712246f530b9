// Bytes allocated on the JavaScript heap while a piece of work runs: the one runtime-specific
// part of the scrape bench.
//
// V8 (Node, Deno): Node 20's v8.getHeapStatistics() has no cumulative allocation counter, and
// Deno's total_allocated_bytes read 350-700 KiB for 10 KiB of arrays in a test, so neither is
// used. What is measured is the growth of the heap's used size across the work, which is exactly
// what was allocated as long as no garbage collection freed anything meanwhile. Hence: a full
// collection first (gc() of --expose-gc), a young generation large enough to hold the whole batch
// (--min-semi-space-size and --max-semi-space-size, see V8_FLAGS), and v8.GCProfiler around the
// work: a reading during which any collection ran (scavenge, incremental marking, ...) is
// discarded, never corrected. Cross-checked on Node with the inspector's sampling heap profiler
// (objects collected by GC included): 481 KiB per default runner scrape, against 475 KiB here.
//
// JavaScriptCore (Bun) has nothing to read: bun:jsc heapStats().heapSize and
// process.memoryUsage().heapUsed count what the last collection found live (neither moved while
// 10 MB of arrays were allocated), and bun:jsc memoryUsage().current is the allocator's committed
// memory, which reuses freed memory. There the figure is n/a, with that reason.

import { GCProfiler, getHeapStatistics } from 'node:v8';
import { runtime } from '../../src/runtime/runtime.ts';

/** The semi-space size for the measuring process, MiB: the young generation holds this much. */
export const SEMI_SPACE_MIB = 128;

/** The V8 flags the measuring process needs (Node's command line, Deno's --v8-flags). */
export const V8_FLAGS: readonly string[] = ['--expose-gc', `--min-semi-space-size=${SEMI_SPACE_MIB}`, `--max-semi-space-size=${SEMI_SPACE_MIB}`];

export interface AllocationMeter {
  /** What is measured, for the report. */
  readonly method: string;
  /**
   * Heap bytes allocated while `work` ran (a full collection runs first), or the kinds of the
   * garbage collections that ran meanwhile, which make the reading worthless.
   */
  measure(work: () => Promise<void>): Promise<{ bytes: number } | { collections: string[] }>;
}

/** The meter of this runtime, or the reason it has none. */
export function allocationMeter(): AllocationMeter | { unavailable: string } {
  if (runtime.name === 'bun') {
    return {
      unavailable:
        'JavaScriptCore exposes no allocation counter: heapStats().heapSize and heapUsed count only what the last collection found live, memoryUsage().current is committed memory that freed memory is reused from',
    };
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return { unavailable: `needs the V8 flags ${V8_FLAGS.join(' ')}` };
  return {
    method: `V8 used heap size after - before, after a full gc(), young generation ${SEMI_SPACE_MIB} MiB; readings with any GC (v8.GCProfiler) discarded`,
    async measure(work) {
      gc();
      const profiler = new GCProfiler();
      profiler.start();
      const before = getHeapStatistics().used_heap_size;
      await work();
      const after = getHeapStatistics().used_heap_size;
      const { statistics } = profiler.stop();
      return statistics.length === 0 ? { bytes: after - before } : { collections: statistics.map((s) => s.gcType) };
    },
  };
}
