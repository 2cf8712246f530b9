// CPU profiles over a window, from the inspector's sampling profiler. One
// profile at a time, as in Go; the window ends early when the caller aborts
// (the HTTP client went away).
import { cpuSamplingIntervalMicros } from '../runtime/runtime.ts';
import { type CpuProfile, post } from './inspector.ts';
import { sleep } from '../system/sleep.ts';

export class ProfilerBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfilerBusyError';
  }
}

export interface CpuProfileRun {
  readonly profile: CpuProfile;
  /** Wall clock, from our own clock: JSC's sample span covers only active time. */
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly intervalMicros: number;
}

export class CpuProfiler {
  private running = false;

  constructor(private readonly intervalMicros = cpuSamplingIntervalMicros) {}

  get busy(): boolean {
    return this.running;
  }

  async profile(seconds: number, signal: AbortSignal): Promise<CpuProfileRun> {
    if (this.running) throw new ProfilerBusyError('Could not enable CPU profiling: cpu profiling already in use');
    this.running = true;
    try {
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: this.intervalMicros });
      const startedAtMs = Date.now();
      await post('Profiler.start');
      await sleep(seconds * 1000, signal);
      const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop');
      return { profile, startedAtMs, durationMs: Date.now() - startedAtMs, intervalMicros: this.intervalMicros };
    } finally {
      await post('Profiler.disable').catch(() => undefined);
      this.running = false;
    }
  }
}
