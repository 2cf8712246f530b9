// The one harness for tests and benchmarks: starts the real CLI as a child
// process (on the test's own runtime, or on one a benchmark names), waits for
// a line of its log, reads its figures from /proc (src/system/proc-stat.ts),
// and stops it together with every process its jobs started - jobs run in
// process groups of their own, so the runner alone is not all there is to end.
//
// Every wait is bounded, what a child prints is kept up to a bound, and
// killRunnersOnExit() ends every runner still alive on any exit path of a
// benchmark. Never through npx: the entry file is spawned directly.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleExtension, scriptCommand } from '../../src/runtime/runtime.ts';
import { descendants, isSameProcess, type ProcessId, readProcStat, readStatusMemory } from '../../src/system/proc-stat.ts';

/** cmd/runner.ts from source (Bun, Deno) or dist/cmd/runner.js (Node). */
export const RUNNER_ENTRY = fileURLToPath(new URL(`../../cmd/runner${moduleExtension(import.meta.url)}`, import.meta.url));

/** The command that starts the CLI on this process's runtime. */
export function runnerArgv(args: readonly string[]): [string, ...string[]] {
  const [command, ...rest] = scriptCommand(RUNNER_ENTRY);
  return [command, ...rest, ...args];
}

export const DEFAULT_TIMEOUT_MS = 30_000;
/** Grace between the stop signal and SIGKILL. */
const STOP_GRACE_MS = 15_000;
/** The most of each output stream kept (its end), so a chatty runner cannot grow the harness's memory. */
const KEEP_CHARS = 4 * 1024 * 1024;

export const LISTENING = /Metrics server listening\s+address=(\S+)/;
const LISTENING_SCHEME = /Metrics server listening\s+address=(\S+)(?:\s+scheme=(https?)\b)?/;
export const READY = /Runner ready/;

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for the log line (or for the end, with runCli); default 30 s. */
  readonly timeoutMs?: number;
  /** The runtime and entry that start the CLI, before its arguments; default runnerArgv's. */
  readonly command?: readonly [string, ...string[]];
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Appends to a string that keeps only its last `limit` characters. */
class Kept {
  text = '';
  add(chunk: string): void {
    this.text += chunk;
    if (this.text.length > KEEP_CHARS) this.text = this.text.slice(-KEEP_CHARS);
  }
}

let emptyHome: string | undefined;

/**
 * The HOME runners get unless a test gives one: an empty directory, so the
 * login shells of their jobs (`bash -l`) source no profile of the machine's
 * user (a version manager's init there can stall or change a job: pyenv's
 * rehash waits a minute on a lock a killed shell left). Tests of profile
 * loading give a HOME of their own. Deno keeps its cache where it was.
 */
export function testHome(): string {
  // Under run-all, one for the whole run, which removes it at the end.
  const shared = process.env['RUNNER_TEST_HOME'];
  if (shared !== undefined && shared !== '') return shared;
  if (emptyHome === undefined) {
    const home = mkdtempSync(join(tmpdir(), 'runner-test-home-'));
    process.once('exit', () => rmSync(home, { recursive: true, force: true }));
    emptyHome = home;
  }
  return emptyHome;
}

/** The environment of a runner a test starts: the test's own, an empty HOME, no colours in the runner's log. */
export function runnerEnvironment(env: Readonly<Record<string, string>> = {}): Record<string, string | undefined> {
  return { ...process.env, DENO_DIR: process.env['DENO_DIR'] ?? join(homedir(), '.cache', 'deno'), HOME: testHome(), NO_COLOR: '1', ...env };
}

function spawnCli(args: readonly string[], options: SpawnOptions): ChildProcess {
  const [command, ...prefix] = options.command ?? runnerArgv([]);
  return spawn(command, [...prefix, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: runnerEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

/** SIGKILL to each process still the one seen, and to the process group it may lead. */
function killAll(processes: readonly ProcessId[]): void {
  for (const id of processes) {
    if (!isSameProcess(id)) continue;
    for (const target of [-id.pid, id.pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // not a group leader, or gone
      }
    }
  }
}

const live = new Set<RunnerProcess>();

/** A running CLI process. */
export class RunnerProcess {
  private readonly out = new Kept();
  private readonly err = new Kept();
  private readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** performance.now() when the awaited log line appeared. */
  readyAt = Number.NaN;
  /** The match of the log line start() waited for. */
  match: RegExpMatchArray = [] as unknown as RegExpMatchArray;

  /** `spawnedAt`: performance.now() just before the spawn. */
  private constructor(readonly child: ChildProcess, readonly spawnedAt: number) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.out.add(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.err.add(chunk));
    child.once('error', () => undefined);
    this.done = exitOf(child).finally(() => live.delete(this));
    live.add(this);
  }

  /** Starts the CLI with `args`, without waiting for anything. */
  static launch(args: readonly string[], options: SpawnOptions = {}): RunnerProcess {
    const at = performance.now();
    return new RunnerProcess(spawnCli(args, options), at);
  }

  /** Starts the CLI with `args` and resolves once its log matches `ready`; kills it and rejects if it exits first or takes too long. */
  static async start(args: readonly string[], ready: RegExp, options: SpawnOptions = {}): Promise<RunnerProcess> {
    const started = RunnerProcess.launch(args, options);
    try {
      started.match = await started.waitForLog(ready, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      started.readyAt = performance.now();
      return started;
    } catch (error) {
      started.kill();
      throw error;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** http://HOST:PORT of the metrics server (https:// when it logged scheme=https: a web config with TLS), from its log; '' when it has none. */
  get url(): string {
    const found = this.logs().match(LISTENING_SCHEME);
    return found === null ? '' : `${found[2] ?? 'http'}://${found[1]}`;
  }

  /** What the runner logged (stderr) so far. */
  logs(): string {
    return this.err.text;
  }

  stdout(): string {
    return this.out.text;
  }

  /** The last lines of the log, for error messages. */
  tail(lines = 15): string {
    const text = this.err.text.trimEnd().split('\n').slice(-lines).join('\n');
    return text === '' ? '(the runner logged nothing)' : `runner log:\n${text}`;
  }

  /** Resolves with the first match of `pattern` in the log; rejects if the runner exits first or after `timeoutMs`. */
  waitForLog(pattern: RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.err.text.match(pattern);
        if (found) finish(() => resolve(found));
        return found !== null;
      };
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.child.stderr?.off('data', check);
        settle();
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`runner did not log ${pattern} within ${timeoutMs} ms:\n${this.tail()}`))), timeoutMs);
      this.child.stderr?.on('data', check);
      if (check()) return;
      void this.done.then(({ code, signal }) => {
        if (!check()) finish(() => reject(new Error(`runner exited (code ${code}, signal ${signal}) before logging ${pattern}:\n${this.tail()}`)));
      });
    });
  }

  /**
   * Polls GET /metrics, each time on a new connection as a first scrape
   * would be, until it answers 200; resolves with when that was
   * (performance.now()), the tries it took and the body.
   */
  async untilScraped(pollMs = 5, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ at: number; attempts: number; body: string }> {
    const url = new URL(`${this.url}/metrics`);
    const deadline = performance.now() + timeoutMs;
    let last = 'no try yet';
    for (let attempts = 1;; attempts++) {
      if (this.exited) throw new Error(`runner exited before GET ${url.href} answered 200:\n${this.tail()}`);
      if (performance.now() > deadline) throw new Error(`GET ${url.href} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
      try {
        const answer = await getOnce(url, Math.max(1, Math.min(5_000, deadline - performance.now())));
        if (answer.status === 200) return { at: performance.now(), attempts, body: answer.body };
        last = `HTTP ${answer.status}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** The runner's resident memory now and at its peak (VmRSS, VmHWM), in bytes; undefined once it is gone. */
  memory(): { residentBytes: number | undefined; peakResidentBytes: number | undefined } | undefined {
    return readStatusMemory(this.pid);
  }

  /** The runner's own CPU (user + system, its reaped children included) in clock ticks; undefined once it is gone. */
  cpuTicks(): number | undefined {
    return readProcStat(this.pid)?.cpuTicks;
  }

  /** Every process the runner started that still runs (its jobs' shells and what they started). */
  jobProcesses(): ProcessId[] {
    return this.exited ? [] : descendants(this.pid);
  }

  /**
   * Sends `signal` (process.kill, not child.kill: Deno's child_process
   * reports a child signalled through child.kill() as killed by that signal
   * even when it handled it and exited 0) and waits for the exit, SIGKILL
   * after `graceMs`; then ends whatever the runner's jobs left running.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<CliResult> {
    const jobs = this.jobProcesses();
    if (!this.exited) process.kill(this.pid, signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const { code, signal: exitSignal } = await this.done;
    clearTimeout(timer);
    killAll(jobs);
    return { code, signal: exitSignal, stdout: this.out.text, stderr: this.err.text };
  }

  /** SIGKILL to the runner and every process it started, now (for finally blocks and exit handlers); safe to call twice. */
  kill(): void {
    const jobs = this.jobProcesses();
    if (!this.exited) this.child.kill('SIGKILL');
    killAll(jobs);
  }

  /** Resolves once the runner has exited, however it was stopped. */
  async exit(): Promise<CliResult> {
    const { code, signal } = await this.done;
    return { code, signal, stdout: this.out.text, stderr: this.err.text };
  }
}

/** One GET on a connection of its own, bounded by `timeoutMs`; the body is kept up to a bound. */
export function getOnce(url: URL, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      const body = new Kept();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => body.add(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.text }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url.pathname}${url.search}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A started runner (the name the tests use). */
export type RunningRunner = RunnerProcess;

/** Runs the CLI to its end; kills it after the timeout. */
export async function runCli(args: readonly string[], options: SpawnOptions = {}): Promise<CliResult> {
  const started = RunnerProcess.launch(args, options);
  const timer = setTimeout(() => started.kill(), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const result = await started.exit();
  clearTimeout(timer);
  return result;
}

/** Starts the CLI and resolves once its log matches `ready`. */
export function startProcess(args: readonly string[], ready: RegExp, options: SpawnOptions = {}): Promise<RunnerProcess> {
  return RunnerProcess.start(args, ready, options);
}

/**
 * Starts `runner run` with the metrics server on a free loopback port (port 0,
 * read back from the startup log) and resolves once the agent is ready.
 */
export async function startRunner(extraArgs: readonly string[] = [], options: SpawnOptions = {}): Promise<RunnerProcess> {
  const started = await RunnerProcess.start(['run', '--metrics-server', '127.0.0.1:0', ...extraArgs], READY, options);
  if (started.url === '') {
    started.kill();
    throw new Error(`runner is ready but logged no listening address:\n${started.tail()}`);
  }
  return started;
}

/** Kills every runner this process started that still runs, with its jobs, now (synchronous: usable in 'exit'). */
export function killLiveRunners(): void {
  for (const runner of live) runner.kill();
}

/** Every runner still running, with its jobs, is killed whenever this process exits (benchmarks; call once). */
export function killRunnersOnExit(): void {
  process.on('exit', killLiveRunners);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, killLiveRunners);
  process.on('uncaughtException', killLiveRunners);
  process.on('unhandledRejection', killLiveRunners);
}
