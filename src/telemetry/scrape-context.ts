// The readings one scrape shares. Each collection first takes every reading
// that some registered metric needs, once, into a ScrapeContext; then every
// metric is observed from it. This is one OTel batch observable callback per
// meter, so /proc files and heap statistics are read once per scrape however
// many metrics show them.
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { setImmediate } from 'node:timers';
import { type HeapSpace, heapSpaces, type HeapUsage, heapUsage } from '../runtime/runtime.ts';
import { countOpenFds, readOpenFilesLimit, readStatusMemory } from '../system/proc-stat.ts';

/** What a metric may need besides the CPU times, which every context has. */
export type Reading = 'memory' | 'fds' | 'heap' | 'heapSpaces' | 'immediateLag';

export interface ProcessMemory {
  readonly residentBytes: number;
  /** Linux only (/proc/self/status), like the two below. */
  readonly virtualBytes: number | undefined;
  readonly dataBytes: number | undefined;
}

/** One scrape's readings; a reading nobody asked for, or that the platform cannot give, is undefined. */
export interface ScrapeContext {
  /** process.cpuUsage(), in microseconds. */
  readonly cpu: NodeJS.CpuUsage;
  readonly memory: ProcessMemory | undefined;
  readonly openFds: number | undefined;
  readonly maxFds: number | undefined;
  readonly heap: HeapUsage | undefined;
  readonly heapSpaces: readonly HeapSpace[] | undefined;
  /** Seconds from the start of the scrape until the event loop ran a setImmediate callback. */
  readonly immediateLagSeconds: number | undefined;
}

export type ScrapeObserver = (context: ScrapeContext, result: BatchObservableResult) => void;

function immediateLagSeconds(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve) => setImmediate(() => resolve((performance.now() - start) / 1000)));
}

function processMemory(): ProcessMemory {
  const status = readStatusMemory('self');
  return {
    residentBytes: status?.residentBytes ?? process.memoryUsage.rss(),
    virtualBytes: status?.virtualBytes,
    dataBytes: status?.dataBytes,
  };
}

/**
 * Takes the readings. The setImmediate lag is waited for first, so that it
 * measures the loop as the scrape found it, not the synchronous reads after
 * it (each small /proc file about 50 us, all of them together well under a
 * millisecond).
 */
export async function takeReadings(needs: ReadonlySet<Reading>): Promise<ScrapeContext> {
  const lag = needs.has('immediateLag') ? await immediateLagSeconds() : undefined;
  const fds = needs.has('fds');
  return {
    cpu: process.cpuUsage(),
    memory: needs.has('memory') ? processMemory() : undefined,
    openFds: fds ? countOpenFds('self') : undefined,
    maxFds: fds ? readOpenFilesLimit('self') : undefined,
    heap: needs.has('heap') ? heapUsage() : undefined,
    heapSpaces: needs.has('heapSpaces') ? heapSpaces?.() : undefined,
    immediateLagSeconds: lag,
  };
}

interface Entry {
  readonly needs: readonly Reading[];
  readonly observables: readonly Observable[];
  readonly observe: ScrapeObserver;
}

/** The one batch callback of a meter, registered again with all instruments whenever an entry comes or goes. */
class ScrapeHub {
  private entries: Entry[] = [];
  private registered: { callback: (result: BatchObservableResult) => Promise<void>; observables: Observable[] } | undefined;

  constructor(private readonly meter: Meter) {}

  add(entry: Entry): () => void {
    this.entries = [...this.entries, entry];
    this.register();
    return () => {
      this.entries = this.entries.filter((e) => e !== entry);
      this.register();
    };
  }

  private register(): void {
    if (this.registered) this.meter.removeBatchObservableCallback(this.registered.callback, this.registered.observables);
    this.registered = undefined;
    const entries = this.entries;
    if (entries.length === 0) return;
    const needs = new Set(entries.flatMap((e) => e.needs));
    const observables = entries.flatMap((e) => e.observables);
    const callback = async (result: BatchObservableResult): Promise<void> => {
      const context = await takeReadings(needs);
      // One failing metric must not keep the others from being observed; the scrape still fails.
      const errors: unknown[] = [];
      for (const entry of entries) {
        try {
          entry.observe(context, result);
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; '));
    };
    this.meter.addBatchObservableCallback(callback, observables);
    this.registered = { callback, observables };
  }
}

const hubs = new WeakMap<Meter, ScrapeHub>();

/**
 * Observes `observables` on every collection of `meter` from a context that
 * holds at least `needs`; returns the function that stops it.
 */
export function onScrape(meter: Meter, needs: readonly Reading[], observables: readonly Observable[], observe: ScrapeObserver): () => void {
  let hub = hubs.get(meter);
  if (!hub) {
    hub = new ScrapeHub(meter);
    hubs.set(meter, hub);
  }
  return hub.add({ needs, observables, observe });
}
