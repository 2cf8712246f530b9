// Runner processes for the profiler-overhead bench: start one (with or without --no-pprof) and
// wait until it serves GET /metrics, read its CPU time from /proc, and hold a CPU profile
// (GET /debug/pprof/profile?seconds=N) open on it for the length of a measurement.
//
// Every child goes through track() from processes.ts, and every wait here is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { STDERR_KEEP_CHARS, WAIT_TIMEOUT_MS, hasExited, killIfRunning, track } from './processes.ts';
import type { RuntimeSpec } from './runtimes.ts';

const LISTENING_RE = /Metrics server listening\s+address=(\S+)/;
const PROFILING_RE = /Profiling (?:enabled|disabled)[^\n]*/;
const POLL_INTERVAL_MS = 10;
const REQUEST_TIMEOUT_MS = 5_000;

/** The runner did not get as far as answering GET /metrics. */
export class RunnerStartError extends Error {
  override name = 'RunnerStartError';
}

export interface StartedRunner {
  readonly child: ChildProcess;
  readonly pid: number;
  /** HOST:PORT from the "Metrics server listening" log line. */
  readonly address: string;
  /** The runner's own "Profiling enabled/disabled ..." log line, to confirm the mode. */
  readonly profilingLine: string;
  /** The arguments after the runtime binary. */
  readonly args: readonly string[];
  /** The last lines the runner wrote to stderr, for error messages. */
  tail(): string;
}

export function runnerArgs(spec: RuntimeSpec, noPprof: boolean): string[] {
  return [...spec.runnerArgs, 'run', '--metrics-server', '127.0.0.1:0', ...(noPprof ? ['--no-pprof'] : [])];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Answer {
  status: number;
  body: string;
}

/** One GET on its own connection, bounded by timeoutMs. */
export function getOnce(url: URL, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { if (body.length < STDERR_KEEP_CHARS) body += s; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url.pathname}${url.search}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Spawns the runner, waits for its address on stderr, then polls GET /metrics until it answers
 * 200. Throws RunnerStartError (after killing the child) if any of that fails within 30 s.
 */
export async function startRunner(spec: RuntimeSpec, cwd: string, noPprof: boolean): Promise<StartedRunner> {
  const args = runnerArgs(spec, noPprof);
  const child = track(spawn(spec.bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderrText = '';
  let address: string | undefined;
  let profilingLine = '';
  let wake: (() => void) | undefined;
  child.stdout?.resume();
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderrText += s;
    if (address === undefined) {
      profilingLine ||= PROFILING_RE.exec(stderrText)?.[0] ?? '';
      const m = LISTENING_RE.exec(stderrText);
      if (m?.[1] !== undefined) {
        address = m[1];
        wake?.();
      }
    }
    if (stderrText.length > STDERR_KEEP_CHARS) stderrText = stderrText.slice(-STDERR_KEEP_CHARS);
  });
  let spawnError: Error | undefined;
  child.once('error', (err) => { spawnError = err; wake?.(); });
  child.once('exit', () => wake?.());
  const tail = (): string => {
    const lines = stderrText.trimEnd().split('\n').slice(-15).join('\n');
    return lines === '' ? '(no stderr output)' : `stderr:\n${lines}`;
  };
  const exitDescription = (): string =>
    child.signalCode !== null ? `signal ${child.signalCode}` : `code ${String(child.exitCode)}`;

  try {
    const deadline = performance.now() + WAIT_TIMEOUT_MS;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, WAIT_TIMEOUT_MS);
      wake = () => { clearTimeout(timer); resolve(); };
      if (address !== undefined || hasExited(child)) wake();
    });
    wake = undefined;
    if (spawnError !== undefined) throw new RunnerStartError(`cannot spawn ${spec.bin}: ${spawnError.message}`);
    if (address === undefined) {
      throw new RunnerStartError(hasExited(child)
        ? `runner exited (${exitDescription()}) before logging "Metrics server listening"`
        : `no "Metrics server listening" line within ${WAIT_TIMEOUT_MS} ms`);
    }
    const url = new URL(`http://${address}/metrics`);
    let last = '';
    for (;;) {
      if (hasExited(child)) throw new RunnerStartError(`runner exited (${exitDescription()}) before its first GET /metrics answered 200`);
      if (performance.now() > deadline) throw new RunnerStartError(`GET ${url.href} did not answer 200 within ${WAIT_TIMEOUT_MS} ms of spawn (last: ${last})`);
      try {
        const answer = await getOnce(url, Math.max(1, Math.min(REQUEST_TIMEOUT_MS, deadline - performance.now())));
        if (answer.status === 200) break;
        last = `HTTP ${answer.status}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await sleep(POLL_INTERVAL_MS);
    }
    if (child.pid === undefined) throw new RunnerStartError('spawned runner has no pid');
    return { child, pid: child.pid, address, profilingLine, args, tail };
  } catch (err) {
    await killIfRunning(child);
    const message = err instanceof Error ? err.message : String(err);
    throw new RunnerStartError(`${message}\n${tail()}`);
  }
}

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ, 100 on Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of the whole process (all threads, no children), in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (field 14) is fields[11] and stime (15) is fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat: ${stat.slice(0, 200)}`);
  return utime + stime;
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
      res.on('end', () => { if (!this.aborted) this.endedEarly ??= `profile request answered HTTP ${String(res.statusCode)} before the measurement ended`; });
      res.on('error', () => undefined);
    });
    this.req.on('error', (err) => { if (!this.aborted) this.endedEarly ??= `profile request failed: ${err.message}`; });
    this.req.end();
  }

  static async start(address: string, seconds: number): Promise<HeldCpuProfile> {
    const held = new HeldCpuProfile(new URL(`http://${address}/debug/pprof/profile?seconds=${seconds}`));
    try {
      // Let the request reach the runner, then check that its profiler is busy with it.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, REQUEST_TIMEOUT_MS);
        held.req.once('finish', () => { clearTimeout(timer); resolve(); });
        held.req.once('error', () => { clearTimeout(timer); resolve(); });
      });
      await sleep(200);
      if (held.endedEarly !== undefined) throw new Error(held.endedEarly);
      const check = await getOnce(new URL(`http://${address}/debug/pprof/profile?seconds=1`), REQUEST_TIMEOUT_MS);
      if (check.status !== 500 || !/already in use/.test(check.body)) {
        throw new Error(`CPU profile not confirmed running: a second profile request answered HTTP ${check.status} ${JSON.stringify(check.body.slice(0, 200))} instead of 500 "already in use"`);
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
