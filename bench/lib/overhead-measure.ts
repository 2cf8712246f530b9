// One measurement of the profiler-overhead bench: a runner started for it, loaded with GET /metrics
// in a closed loop, and its CPU time and scrapes counted over a window cut into 1 s slices, so the
// report can show whether a cost decays over the profile's life.
//
// Three kinds:
//   fresh   a new runner; the CPU profile (if any) starts before the load does, as when a runner
//           is profiled soon after it started. One window after a warm-up.
//   side by side  two fresh runners, --no-pprof and the default, loaded at the same time by their
//           own clients and measured over the same window: whatever else the machine runs hits
//           both alike, so their ratio holds on a busy machine where runners measured one after
//           the other differ by more than the heap sampler costs.
//   warm    a new runner warmed by WARM_PROCESS_SECONDS of load first, then three windows in the
//           same process: profile off, on, off. The on window against the mean of the two off
//           windows is the cost of profiling a process whose code is already compiled.

import { performance } from 'node:perf_hooks';
import type { RunnerProcess } from '../../test/support/runner-process.ts';
import { ClosedLoopLoad } from './overhead-load.ts';
import { CLOCK_TICKS_PER_SECOND, HeldCpuProfile, machineBusyTicks, type StartedRunner, startRunner } from './overhead-runner.ts';
import { checkProcess, describeExit, WAIT_TIMEOUT_MS } from './processes.ts';
import type { RuntimeSpec } from './runtimes.ts';

export const WARMUP_SECONDS = 1;
/** Load on a warm runner before its first window: its code is compiled and optimised by then. */
export const WARM_PROCESS_SECONDS = 10;
/** Extra length of a held CPU profile beyond what it must cover; it is aborted anyway. */
export const PROFILE_MARGIN_SECONDS = 20;

export interface Window {
  scrapesPerSecond: number;
  /** Runner CPU time per scrape, microseconds. */
  cpuMicrosPerScrape: number;
  /** The same, per 1 s slice of the window, in order. */
  sliceCpuMicrosPerScrape: number[];
  /** Runner CPU time / wall time of the window. */
  runnerCpuShare: number;
  /** The bench process's own CPU time / wall time of the window (the load generator). */
  clientCpuShare: number;
  /** CPU time of everything else on the machine / wall time of the window (interference). */
  otherCpuShare: number;
  scrapes: number;
  bytesPerScrape: number;
}

export interface Measurement {
  /** One window for a fresh measurement; off, on, off for a warm one. */
  windows: Window[];
  errors: number;
  firstError: string | undefined;
  connections: number;
  profilingLine: string;
  processCheck: string;
  exit: string;
}

export interface MeasureOptions {
  seconds: number;
  clients: number;
  /** RUNNER_PPROF_CPU_HZ for the runner; undefined: its default rate. */
  hz: number | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function cpuTicksOf(runner: RunnerProcess): number {
  const ticks = runner.cpuTicks();
  if (ticks === undefined) throw new Error(`cannot read /proc/${runner.pid}/stat\n${runner.tail()}`);
  return ticks;
}

/** Counts scrapes and CPU over `seconds` 1 s slices of the running load. */
async function window(runner: RunnerProcess, load: ClosedLoopLoad, seconds: number, profile: HeldCpuProfile | undefined): Promise<Window> {
  const before = load.snapshot();
  // The runner's own CPU: it runs no job here, so there is no child's to count.
  const ticks0 = cpuTicksOf(runner);
  const machine0 = machineBusyTicks();
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const slices: number[] = [];
  let sliceTicks = ticks0;
  let sliceOk = before.ok;
  for (let s = 1; s <= seconds; s++) {
    await sleep(t0 + s * 1000 - performance.now());
    const ticks = cpuTicksOf(runner);
    const ok = load.snapshot().ok;
    slices.push(ok > sliceOk ? ((ticks - sliceTicks) * 1e6) / CLOCK_TICKS_PER_SECOND / (ok - sliceOk) : NaN);
    sliceTicks = ticks;
    sliceOk = ok;
  }
  const after = load.snapshot();
  const ticks1 = cpuTicksOf(runner);
  const machine1 = machineBusyTicks();
  const client1 = process.cpuUsage(client0);
  const wallMs = performance.now() - t0;

  if (runner.exited) throw new Error(`runner exited during the measurement\n${runner.tail()}`);
  if (profile?.endedEarly !== undefined) throw new Error(`${profile.endedEarly}\n${runner.tail()}`);
  const scrapes = after.ok - before.ok;
  if (scrapes <= 0) {
    throw new Error(`no GET /metrics completed during the ${seconds} s window (first error: ${load.firstError ?? 'none'})\n${runner.tail()}`);
  }
  const runnerCpuMs = ((ticks1 - ticks0) * 1000) / CLOCK_TICKS_PER_SECOND;
  const clientCpuMs = (client1.user + client1.system) / 1000;
  const machineCpuMs = ((machine1 - machine0) * 1000) / CLOCK_TICKS_PER_SECOND;
  return {
    scrapesPerSecond: (scrapes * 1000) / wallMs,
    cpuMicrosPerScrape: (runnerCpuMs * 1000) / scrapes,
    sliceCpuMicrosPerScrape: slices,
    runnerCpuShare: runnerCpuMs / wallMs,
    clientCpuShare: clientCpuMs / wallMs,
    otherCpuShare: Math.max(0, machineCpuMs - runnerCpuMs - clientCpuMs) / wallMs,
    scrapes,
    bytesPerScrape: (after.bytes - before.bytes) / scrapes,
  };
}

/**
 * A fresh runner: `pprof` false is --no-pprof, `cpuProfile` holds a CPU profile open from before
 * the load starts to the end of the window.
 */
export async function measureFresh(spec: RuntimeSpec, root: string, pprof: boolean, cpuProfile: boolean, options: MeasureOptions): Promise<Measurement> {
  return await withRunner(spec, root, !pprof, options, async (started, load) => {
    let profile: HeldCpuProfile | undefined;
    try {
      if (cpuProfile) profile = await HeldCpuProfile.start(started.address, WARMUP_SECONDS + options.seconds + PROFILE_MARGIN_SECONDS);
      load.start();
      await sleep(WARMUP_SECONDS * 1000);
      return [await window(started.process, load, options.seconds, profile)];
    } finally {
      profile?.abort();
    }
  });
}

/** Two fresh runners side by side, --no-pprof and the default (heap sampling), over the same window. */
export async function measureSideBySide(spec: RuntimeSpec, root: string, options: MeasureOptions): Promise<{ off: Measurement; on: Measurement }> {
  let on: Measurement | undefined;
  let onWindow: Window | undefined;
  const off = await withRunner(spec, root, true, options, async (offRunner, offLoad) => {
    let offWindow: Window | undefined;
    on = await withRunner(spec, root, false, options, async (onRunner, onLoad) => {
      offLoad.start();
      onLoad.start();
      await sleep(WARMUP_SECONDS * 1000);
      [offWindow, onWindow] = await Promise.all([
        window(offRunner.process, offLoad, options.seconds, undefined),
        window(onRunner.process, onLoad, options.seconds, undefined),
      ]);
      return [onWindow];
    });
    return [offWindow!];
  });
  return { off, on: on! };
}

/** A warm runner (default profiling): windows with the CPU profile off, on, off, in one process. */
export async function measureWarm(spec: RuntimeSpec, root: string, options: MeasureOptions): Promise<Measurement> {
  return await withRunner(spec, root, false, options, async (started, load) => {
    load.start();
    await sleep(WARM_PROCESS_SECONDS * 1000);
    const off1 = await window(started.process, load, options.seconds, undefined);
    const profile = await HeldCpuProfile.start(started.address, options.seconds + PROFILE_MARGIN_SECONDS);
    let on: Window;
    try {
      on = await window(started.process, load, options.seconds, profile);
    } finally {
      profile.abort();
    }
    // The runner notices the closed connection on its next turn; let it stop the profiler first.
    await sleep(200);
    const off2 = await window(started.process, load, options.seconds, undefined);
    return [off1, on, off2];
  });
}

async function withRunner(
  spec: RuntimeSpec,
  root: string,
  noPprof: boolean,
  options: MeasureOptions,
  body: (started: StartedRunner, load: ClosedLoopLoad) => Promise<Window[]>,
): Promise<Measurement> {
  const env: Record<string, string> = options.hz === undefined ? {} : { RUNNER_PPROF_CPU_HZ: String(options.hz) };
  const started = await startRunner(spec, root, noPprof, env);
  const runner = started.process;
  const load = new ClosedLoopLoad(new URL(`http://${started.address}/metrics`), options.clients);
  try {
    const processCheck = checkProcess(runner.pid, spec.bin);
    const windows = await body(started, load);
    await load.stop();
    const totals = load.snapshot();
    const exit = describeExit(await runner.stop('SIGTERM', WAIT_TIMEOUT_MS));
    return {
      windows,
      errors: totals.errors,
      firstError: load.firstError,
      connections: totals.connections,
      profilingLine: started.profilingLine,
      processCheck,
      exit,
    };
  } finally {
    await load.stop();
    runner.kill();
  }
}
