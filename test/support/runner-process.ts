// Runs the real CLI as a child process on the same runtime as the test, from
// its entry file (never through npx), the way users run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { moduleExtension, scriptCommand } from '../../src/runtime/runtime.ts';

/** cmd/runner.ts from source (Bun, Deno) or dist/cmd/runner.js (Node). */
export const RUNNER_ENTRY = fileURLToPath(new URL(`../../cmd/runner${moduleExtension(import.meta.url)}`, import.meta.url));

export function runnerArgv(args: readonly string[]): [string, ...string[]] {
  const [command, ...rest] = scriptCommand(RUNNER_ENTRY);
  return [command, ...rest, ...args];
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnRunner(args: readonly string[], options: SpawnOptions): ChildProcess {
  const [command, ...argv] = runnerArgv(args);
  return spawn(command, argv, {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return { stdout: () => stdout, stderr: () => stderr };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

/** Runs the CLI to completion; kills it after the timeout. */
export async function runCli(args: readonly string[], options: SpawnOptions = {}): Promise<CliResult> {
  const child = spawnRunner(args, options);
  const output = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const { code, signal } = await exited(child);
  clearTimeout(timer);
  return { code, signal, stdout: output.stdout(), stderr: output.stderr() };
}

export interface RunningRunner {
  /** http://HOST:PORT of the metrics server. */
  readonly url: string;
  readonly pid: number;
  logs(): string;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
  /** SIGKILL, for cleanup in finally blocks; safe to call twice. */
  kill(): void;
}

const LISTENING = /Metrics server listening\s+address=(\S+)/;
const READY = /Runner ready/;

/**
 * Starts the CLI with the given arguments and resolves once its log matches
 * `ready` (kills it and rejects if it exits first or takes too long).
 */
export async function startProcess(args: readonly string[], ready: RegExp, options: SpawnOptions = {}): Promise<RunningRunner & { match: RegExpMatchArray }> {
  const child = spawnRunner(args, options);
  const output = collect(child);
  const done = exited(child);
  const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  const timeoutMs = options.timeoutMs ?? 30_000;

  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => { kill(); reject(new Error(`runner did not log ${ready} within ${timeoutMs} ms:\n${output.stderr()}`)); }, timeoutMs);
    const check = (): void => {
      const found = output.stderr().match(ready);
      if (found) { clearTimeout(timer); resolve(found); }
    };
    child.stderr?.on('data', check);
    void done.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`runner exited (code ${code}, signal ${signal}) before logging ${ready}:\n${output.stderr()}`));
    });
  });

  return {
    match,
    url: '',
    pid: child.pid ?? -1,
    logs: output.stderr,
    kill,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      // process.kill, not child.kill: Deno's child_process reports a child it
      // signalled through child.kill() as killed by that signal even when the
      // child handled it and exited 0.
      if (child.pid !== undefined) process.kill(child.pid, signal);
      const timer = setTimeout(kill, 15_000);
      const { code, signal: exitSignal } = await done;
      clearTimeout(timer);
      return { code, signal: exitSignal, stdout: output.stdout(), stderr: output.stderr() };
    },
  };
}

/**
 * Starts `runner run` with the metrics server on a free loopback port (port 0,
 * read back from the startup log) and resolves once the agent is ready.
 */
export async function startRunner(extraArgs: readonly string[] = [], options: SpawnOptions = {}): Promise<RunningRunner> {
  const started = await startProcess(['run', '--metrics-server', '127.0.0.1:0', ...extraArgs], READY, options);
  const address = started.logs().match(LISTENING)?.[1];
  if (!address) {
    started.kill();
    throw new Error(`runner is ready but logged no listening address:\n${started.logs()}`);
  }
  return { ...started, url: `http://${address}` };
}
