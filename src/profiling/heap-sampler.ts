// V8's sampling heap profiler, run from process start as Go's heap profiler
// is, so /debug/pprof/heap shows what is live now and where it was allocated.
// An allocs window needs V8's other sampling mode (collected objects kept),
// and only one mode runs at a time: the in-use sampler pauses for the window
// and restarts after it, with a fresh history.
import { post, type SamplingHeapProfile } from './inspector.ts';
import { ProfilerBusyError, sleep } from './cpu-profiler.ts';

/** Go's default MemProfileRate: one sample per 512 KiB allocated, on average. */
export const HEAP_SAMPLING_INTERVAL_BYTES = 512 * 1024;

export interface HeapSample {
  readonly profile: SamplingHeapProfile;
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly intervalBytes: number;
}

export class HeapSampler {
  private inuseSinceMs: number | undefined;
  private allocsRunning = false;

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
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: this.intervalBytes });
    this.inuseSinceMs = Date.now();
  }

  async stop(): Promise<void> {
    if (this.inuseSinceMs === undefined) return;
    this.inuseSinceMs = undefined;
    await post('HeapProfiler.stopSampling');
  }

  /** The live heap as sampled since start; `gc` collects garbage first. */
  async inuse(gc: boolean): Promise<HeapSample> {
    if (this.allocsRunning) throw new ProfilerBusyError('an allocs profile is running; the in-use heap sampler restarts when it ends');
    if (this.inuseSinceMs === undefined) throw new ProfilerBusyError('heap sampling is off');
    if (gc) await post('HeapProfiler.collectGarbage');
    const { profile } = await post<{ profile: SamplingHeapProfile }>('HeapProfiler.getSamplingProfile');
    const now = Date.now();
    return { profile, startedAtMs: this.inuseSinceMs, durationMs: now - this.inuseSinceMs, intervalBytes: this.intervalBytes };
  }

  /** Allocations over a window, collected objects included. */
  async allocs(seconds: number, signal: AbortSignal): Promise<HeapSample> {
    if (this.allocsRunning) throw new ProfilerBusyError('Could not enable allocation profiling: an allocs profile is already running');
    this.allocsRunning = true;
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
        return { profile, startedAtMs, durationMs: Date.now() - startedAtMs, intervalBytes: this.intervalBytes };
      } finally {
        await post('HeapProfiler.stopSampling');
      }
    } finally {
      this.allocsRunning = false;
      if (resume) await this.start();
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
