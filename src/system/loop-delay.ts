// Event-loop delay: how much later than asked the loop runs a periodic timer,
// summarized over a window (from one reading to the next). Two ways to sample
// it; src/runtime/runtime.ts picks the one that really measures on each runtime.
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';

/** Delays over one window, in seconds. */
export interface LoopDelayWindow {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface LoopDelaySampler {
  /** The delays seen since the last call (or the start), and a new window begun; undefined when no sample came in. */
  takeWindow(): LoopDelayWindow | undefined;
  stop(): void;
}

/** What both perf_hooks histograms offer, in nanoseconds. */
type NanosecondHistogram = Pick<RecordableHistogram, 'count' | 'min' | 'max' | 'mean' | 'stddev' | 'percentile' | 'reset'>;

/** Summarizes and resets. */
function takeWindow(histogram: NanosecondHistogram): LoopDelayWindow | undefined {
  if (histogram.count === 0) return undefined;
  const seconds = (ns: number): number => ns / 1e9;
  const window: LoopDelayWindow = {
    min: seconds(histogram.min),
    max: seconds(histogram.max),
    mean: seconds(histogram.mean),
    stddev: seconds(histogram.stddev),
    p50: seconds(histogram.percentile(50)),
    p90: seconds(histogram.percentile(90)),
    p99: seconds(histogram.percentile(99)),
  };
  histogram.reset();
  return window;
}

/**
 * perf_hooks.monitorEventLoopDelay with a timer every `resolutionMs`, where
 * the runtime's samples are the lateness itself (Bun; Node's are the whole
 * time between two timer runs, interval included).
 */
export function monitorDelaySampler(resolutionMs: number): LoopDelaySampler {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  return {
    takeWindow: () => takeWindow(histogram),
    stop: () => histogram.disable(),
  };
}

/**
 * A timer that should run every `intervalMs`: how much later than that it
 * runs is the delay. An unref'd timer, so it never keeps the process alive.
 */
export function timerDriftSampler(intervalMs: number): LoopDelaySampler {
  const histogram = createHistogram();
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // A histogram takes whole nanoseconds from 1 up; a timer run early counts as no delay.
    histogram.record(Math.max(1, Math.round((now - last - intervalMs) * 1e6)));
    last = now;
  }, intervalMs);
  timer.unref();
  return {
    takeWindow: () => takeWindow(histogram),
    stop: () => clearInterval(timer),
  };
}
