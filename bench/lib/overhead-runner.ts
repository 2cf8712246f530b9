// Runner processes for the profiler-overhead bench, on the shared harness
// (test/support/runner-process.ts): start one (with or without --no-pprof) and
// wait until it serves GET /metrics, and hold a CPU profile
// (GET /debug/pprof/profile?seconds=N) open on it for the length of a
// measurement. Its CPU time comes from /proc through RunnerProcess.cpuTicks().
//
// Every wait here is bounded.

import { readFileSync } from 'node:fs';
import { type ClientRequest, request } from 'node:http';
import { getOnce, LISTENING, RunnerProcess } from '../../test/support/runner-process.ts';
import { WAIT_TIMEOUT_MS } from './processes.ts';
import type { RuntimeSpec } from './runtimes.ts';

export { CLOCK_TICKS_PER_SECOND } from '../../src/system/proc-stat.ts';

const PROFILING_RE = /Profiling (?:enabled|disabled)[^\n]*/;
const REQUEST_TIMEOUT_MS = 5_000;

/** The runner did not get as far as answering GET /metrics. */
export class RunnerStartError extends Error {
  override name = 'RunnerStartError';
}

export interface StartedRunner {
  readonly process: RunnerProcess;
  /** HOST:PORT from the "Metrics server listening" log line. */
  readonly address: string;
  /** The runner's own "Profiling enabled/disabled ..." log line, to confirm the mode. */
  readonly profilingLine: string;
  /** The arguments after the runtime binary. */
  readonly args: readonly string[];
}

export function runnerArgs(spec: RuntimeSpec, noPprof: boolean): string[] {
  return [...spec.runnerArgs, ...runArgs(noPprof)];
}

function runArgs(noPprof: boolean): string[] {
  return ['run', '--metrics-server', '127.0.0.1:0', ...(noPprof ? ['--no-pprof'] : [])];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the runner, waits for its address on stderr, then polls GET /metrics until it answers
 * 200. `env` is added to the runner's environment. Throws RunnerStartError (after killing the child) if any of that fails within 30 s.
 */
export async function startRunner(spec: RuntimeSpec, cwd: string, noPprof: boolean, env: Readonly<Record<string, string>> = {}): Promise<StartedRunner> {
  let runner: RunnerProcess;
  try {
    runner = await RunnerProcess.start(runArgs(noPprof), LISTENING, { cwd, env, command: [spec.bin, ...spec.runnerArgs], timeoutMs: WAIT_TIMEOUT_MS });
  } catch (error) {
    throw new RunnerStartError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  try {
    await runner.untilScraped(10, WAIT_TIMEOUT_MS);
    return {
      process: runner,
      address: runner.match[1]!,
      profilingLine: PROFILING_RE.exec(runner.logs())?.[0] ?? '',
      args: runnerArgs(spec, noPprof),
    };
  } catch (error) {
    runner.kill();
    throw new RunnerStartError(`${error instanceof Error ? error.message : String(error)}\n${runner.tail()}`, { cause: error });
  }
}

/**
 * Busy clock ticks of the whole machine (all CPUs) from the first line of /proc/stat: everything
 * but idle and iowait, steal included (time the hypervisor gave to someone else is time this
 * machine's processes could not run either).
 */
export function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, x) => sum + (x ?? 0), 0);
  if (!Number.isFinite(busy) || idle === undefined || iowait === undefined) throw new Error(`cannot parse /proc/stat: ${line}`);
  return busy;
}

/**
 * A CPU profile held open on the runner: GET /debug/pprof/profile?seconds=N, confirmed running by
 * a second profile request being refused as busy (Go's "cpu profiling already in use"), and
 * aborted (connection closed, which ends the runner's profile early) when the caller is done.
 */
export class HeldCpuProfile {
  /** Set when the profile request ended (answer or error) before abort() was called. */
  endedEarly: string | undefined;
  private readonly req: ClientRequest;
  private aborted = false;

  private constructor(url: URL) {
    this.req = request(url, { method: 'GET', agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        if (!this.aborted) this.endedEarly ??= `profile request answered HTTP ${String(res.statusCode)} before the measurement ended`;
      });
      res.on('error', () => undefined);
    });
    this.req.on('error', (err) => {
      if (!this.aborted) this.endedEarly ??= `profile request failed: ${err.message}`;
    });
    this.req.end();
  }

  static async start(address: string, seconds: number): Promise<HeldCpuProfile> {
    const held = new HeldCpuProfile(new URL(`http://${address}/debug/pprof/profile?seconds=${seconds}`));
    try {
      // Let the request reach the runner, then check that its profiler is busy with it.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, REQUEST_TIMEOUT_MS);
        held.req.once('finish', () => {
          clearTimeout(timer);
          resolve();
        });
        held.req.once('error', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await sleep(200);
      if (held.endedEarly !== undefined) throw new Error(held.endedEarly);
      const check = await getOnce(new URL(`http://${address}/debug/pprof/profile?seconds=1`), REQUEST_TIMEOUT_MS);
      if (check.status !== 500 || !/already in use/.test(check.body)) {
        throw new Error(
          `CPU profile not confirmed running: a second profile request answered HTTP ${check.status} ${
            JSON.stringify(check.body.slice(0, 200))
          } instead of 500 "already in use"`,
        );
      }
      if (held.endedEarly !== undefined) throw new Error(held.endedEarly);
      return held;
    } catch (err) {
      held.abort();
      throw err;
    }
  }

  /** Closes the connection: the runner stops profiling and discards the profile. */
  abort(): void {
    this.aborted = true;
    this.req.destroy();
  }
}
