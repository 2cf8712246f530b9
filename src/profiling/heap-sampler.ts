// V8's sampling heap profiler, run from process start as Go's heap profiler
// is, so /debug/pprof/heap shows what is live now and where it was allocated.
// An allocs window needs V8's other sampling mode (collected objects kept),
// and only one mode runs at a time: the in-use sampler pauses for the window
// and restarts after it, with a fresh history.
import { post, type SamplingHeapProfile } from './inspector.ts';
import { ProfilerBusyError } from './cpu-profiler.ts';
import { sleep } from '../system/sleep.ts';

/** Go's default MemProfileRate: one sample per 512 KiB allocated, on average. */
export const HEAP_SAMPLING_INTERVAL_BYTES = 512 * 1024;

export interface HeapSample {
  readonly profile: SamplingHeapProfile;
  /** When the profile was taken (in-use) or its window began (allocs). */
  readonly startedAtMs: number;
  /** 0 for an in-use snapshot, as in Go; the window for allocs. */
  readonly durationMs: number;
  /** Since when the sampler has been collecting what this profile shows. */
  readonly sampledSinceMs: number;
  readonly intervalBytes: number;
}

export class HeapSampler {
  private inuseSinceMs: number | undefined;
  private allocsRunning = false;
  /** Bumped on every change of sampling mode, so a read that spans one can tell. */
  private epoch = 0;

  constructor(readonly intervalBytes = HEAP_SAMPLING_INTERVAL_BYTES) {}

  /** True where the runtime has V8's sampling heap profiler (not on Bun). */
  static async available(): Promise<boolean> {
    try {
      await post('HeapProfiler.enable');
      return true;
    } catch {
      return false;
    }
  }

  get running(): boolean {
    return this.inuseSinceMs !== undefined;
  }

  get allocsInProgress(): boolean {
    return this.allocsRunning;
  }

  async start(): Promise<void> {
    this.epoch++;
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: this.intervalBytes });
    this.inuseSinceMs = Date.now();
  }

  async stop(): Promise<void> {
    if (this.inuseSinceMs === undefined) return;
    this.epoch++;
    this.inuseSinceMs = undefined;
    await post('HeapProfiler.stopSampling');
  }

  /** The live heap as sampled since start; `gc` collects garbage first. */
  async inuse(gc: boolean): Promise<HeapSample> {
    if (this.allocsRunning) throw new ProfilerBusyError('an allocs profile is running; the in-use heap sampler restarts when it ends');
    if (this.inuseSinceMs === undefined) throw new ProfilerBusyError('heap sampling is off');
    const since = this.inuseSinceMs;
    const epoch = this.epoch;
    if (gc) await post('HeapProfiler.collectGarbage');
    const { profile } = await post<{ profile: SamplingHeapProfile }>('HeapProfiler.getSamplingProfile');
    // An allocs window may have switched the sampler's mode while we waited:
    // then this profile is not the in-use heap.
    if (epoch !== this.epoch || this.allocsRunning) {
      throw new ProfilerBusyError('an allocs profile is running; the in-use heap sampler restarts when it ends');
    }
    return { profile, startedAtMs: Date.now(), durationMs: 0, sampledSinceMs: since, intervalBytes: this.intervalBytes };
  }

  /** Allocations over a window, collected objects included. */
  async allocs(seconds: number, signal: AbortSignal): Promise<HeapSample> {
    if (this.allocsRunning) throw new ProfilerBusyError('Could not enable allocation profiling: an allocs profile is already running');
    this.allocsRunning = true;
    this.epoch++;
    const resume = this.inuseSinceMs !== undefined;
    try {
      await this.stop();
      await post('HeapProfiler.enable');
      await post('HeapProfiler.startSampling', {
        samplingInterval: this.intervalBytes,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      const startedAtMs = Date.now();
      try {
        await sleep(seconds * 1000, signal);
        const { profile } = await post<{ profile: SamplingHeapProfile }>('HeapProfiler.getSamplingProfile');
        return { profile, startedAtMs, durationMs: Date.now() - startedAtMs, sampledSinceMs: startedAtMs, intervalBytes: this.intervalBytes };
      } finally {
        await post('HeapProfiler.stopSampling');
      }
    } finally {
      // In-use sampling is back before anyone may start another window.
      try {
        if (resume) await this.start();
      } finally {
        this.allocsRunning = false;
      }
    }
  }
}

let early: HeapSampler | undefined;

/**
 * Starts in-use sampling before the rest of the runner is even loaded, so the
 * heap profile also shows what module loading left live (where the runtime
 * has the sampling heap profiler; a no-op elsewhere).
 */
export async function startEarlyHeapSampling(): Promise<void> {
  if (early || !(await HeapSampler.available())) return;
  early = new HeapSampler();
  await early.start();
}

/** The sampler started by startEarlyHeapSampling, handed over once. */
export function takeEarlyHeapSampler(): HeapSampler | undefined {
  const sampler = early;
  early = undefined;
  return sampler;
}
