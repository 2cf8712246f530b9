// A real Prometheus server (Debian's `prometheus`) for end-to-end tests: started on a free port
// with a configuration the test writes, polled through its HTTP API within a deadline, and
// stopped together with the runner it scrapes; a failure names what both said.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { RunningRunner } from './runner-process.ts';

export const PROMETHEUS = 'prometheus';
export const DEADLINE_MS = 30_000;
const POLL_MS = 250;
const REQUEST_TIMEOUT_MS = 2_000;
const KILL_AFTER_MS = 5_000;

/** A port that was free a moment ago: bind 127.0.0.1:0, read it back, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no port from ${String(address)}`))));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** GET a Prometheus API path; resolves with `data` of a successful answer, throws otherwise. */
export async function apiData(base: string, path: string): Promise<unknown> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(`${base}${path}`, { signal: controller.signal });
    const text = await response.text();
    const body: unknown = JSON.parse(text);
    if (!response.ok || !isRecord(body) || body['status'] !== 'success') {
      throw new Error(`GET ${path}: HTTP ${response.status}: ${text}`);
    }
    return body['data'];
  } finally {
    clearTimeout(timer);
  }
}

export interface Target {
  readonly job: string;
  readonly scrapeUrl: string;
  readonly health: string;
  readonly lastError: string;
}

export function activeTargets(data: unknown): Target[] {
  if (!isRecord(data) || !Array.isArray(data['activeTargets'])) return [];
  return data['activeTargets'].filter(isRecord).map((target) => {
    const labels = isRecord(target['labels']) ? target['labels'] : {};
    return {
      job: String(labels['job'] ?? ''),
      scrapeUrl: String(target['scrapeUrl'] ?? ''),
      health: String(target['health'] ?? ''),
      lastError: String(target['lastError'] ?? ''),
    };
  });
}

/** A label set of an API answer, every value as a string. */
export function labelsOf(value: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  if (isRecord(value)) {
    for (const [name, v] of Object.entries(value)) labels[name] = String(v);
  }
  return labels;
}

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: string;
}

/** The samples of an instant-vector query result. */
export function vector(data: unknown): Sample[] {
  if (!isRecord(data) || data['resultType'] !== 'vector' || !Array.isArray(data['result'])) {
    throw new Error(`not an instant vector: ${JSON.stringify(data)}`);
  }
  return data['result'].filter(isRecord).map((sample) => {
    const pair = sample['value'];
    return { labels: labelsOf(sample['metric']), value: Array.isArray(pair) ? String(pair[1]) : '' };
  });
}

/** A failure that waiting longer cannot fix: `until` gives up at once. */
export class Fatal extends Error {}

/**
 * Polls until `probe` returns a value (not undefined) or the deadline passes;
 * then throws with the last state. A Fatal error from the probe ends it at once.
 */
export async function until<T>(what: string, deadline: number, probe: () => Promise<T | undefined>): Promise<T> {
  let last = 'never polled';
  while (Date.now() < deadline) {
    try {
      const result = await probe();
      if (result !== undefined) return result;
      last = 'not yet';
    } catch (error) {
      if (error instanceof Fatal) throw error;
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(POLL_MS);
  }
  throw new Error(`timed out after ${DEADLINE_MS} ms waiting for ${what}; last: ${last}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
}

/** SIGTERM, then SIGKILL if it is still there after a few seconds; resolves once it is gone. */
export async function terminate(child: ChildProcess): Promise<void> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await done;
  clearTimeout(timer);
}

export async function stopRunner(runner: RunningRunner): Promise<void> {
  const timer = setTimeout(() => runner.kill(), KILL_AFTER_MS);
  try {
    await runner.stop('SIGTERM');
  } finally {
    clearTimeout(timer);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** For failure messages: is the runner process still there, and does it answer /metrics itself? */
export async function probeRunner(runner: RunningRunner): Promise<string> {
  const alive = `pid ${runner.pid} ${isAlive(runner.pid) ? 'alive' : 'gone'}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(`${runner.url}/metrics`, { signal: controller.signal });
    await response.text();
    return `${alive}, GET ${runner.url}/metrics from the test: HTTP ${response.status}`;
  } catch (error) {
    return `${alive}, GET ${runner.url}/metrics from the test failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

export interface PrometheusServer {
  /** http://127.0.0.1:<port> */
  readonly api: string;
  readonly child: ChildProcess;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** Throws a Fatal error if it could not start or has exited. */
  check(): void;
}

/** Starts `prometheus` with `config`, its data in `dir`, at warn level; `flags` are added to its command line. */
export async function startPrometheus(dir: string, config: string, flags: readonly string[] = []): Promise<PrometheusServer> {
  const port = await freePort();
  const child = spawn(PROMETHEUS, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--query.max-concurrency=2',
    '--log.level=warn',
    ...flags,
  ], { cwd: dir, env: { ...process.env, GOMAXPROCS: '2' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  return {
    api: `http://127.0.0.1:${port}`,
    child,
    stderr: () => stderr,
    check() {
      if (spawnError !== undefined) throw new Fatal(`cannot run prometheus: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) throw new Fatal(`prometheus exited (code ${child.exitCode}, signal ${child.signalCode})`);
    },
  };
}

/** `error` with the runners' state, Prometheus's stderr and the runners' logs appended, for a failed test. */
export async function withDiagnostics(error: unknown, runners: readonly RunningRunner[], prometheus: PrometheusServer | undefined): Promise<Error> {
  const reason = error instanceof Error ? error.message : String(error);
  const states = await Promise.all(runners.map(async (runner) => `runner: ${await probeRunner(runner)}`));
  const logs = runners.flatMap((runner) => [`--- runner logs (pid ${runner.pid}) ---`, runner.logs().trimEnd() || '(empty)']);
  return new Error(
    [
      reason,
      ...(runners.length === 0 ? ['runner: not started'] : states),
      '--- prometheus stderr ---',
      prometheus?.stderr().trimEnd() || '(empty)',
      ...logs,
    ].join('\n'),
    { cause: error },
  );
}

function targetHealth(api: string, job: string, health: 'up' | 'down', deadline: number, check: () => void): Promise<Target> {
  return until(`the target of job "${job}" to be ${health}`, deadline, async () => {
    check();
    const targets = activeTargets(await apiData(api, '/api/v1/targets?state=active'));
    const ours = targets.find((t) => t.job === job);
    if (ours === undefined) throw new Error(`no "${job}" target among ${JSON.stringify(targets)}`);
    if (ours.health !== health) throw new Error(`target is ${JSON.stringify(ours)}`);
    return ours;
  });
}

/** Waits until Prometheus's target of `job` is up; `check` runs before each look (throw Fatal to stop at once). */
export function targetUp(api: string, job: string, deadline: number, check: () => void): Promise<Target> {
  return targetHealth(api, job, 'up', deadline, check);
}

/** Waits until Prometheus's target of `job` has been scraped and failed (its lastError says why); `check` as for targetUp. */
export function targetDown(api: string, job: string, deadline: number, check: () => void): Promise<Target> {
  return targetHealth(api, job, 'down', deadline, check);
}

/** Polls an instant query until it has a result; `check` as for targetUp. */
export function queryUntil(api: string, promql: string, deadline: number, check: () => void): Promise<Sample[]> {
  return until(`a result for ${promql}`, deadline, async () => {
    check();
    const samples = vector(await apiData(api, `/api/v1/query?query=${encodeURIComponent(promql)}`));
    return samples.length > 0 ? samples : undefined;
  });
}

/**
 * A runner and the Prometheus that scrapes it, for one test: run() reports a failure with what
 * both said, and stops both at the end, whatever happened.
 */
export class RunnerAndPrometheus {
  runner: RunningRunner | undefined;
  /** More runners the same Prometheus scrapes: checked, reported and stopped as `runner` is. */
  readonly moreRunners: RunningRunner[] = [];
  prometheus: PrometheusServer | undefined;

  private get runners(): RunningRunner[] {
    return this.runner === undefined ? [...this.moreRunners] : [this.runner, ...this.moreRunners];
  }

  /**
   * Starts Prometheus (after the runner); resolves with its API address and a check that both
   * still run (a Fatal error otherwise), for until()'s probes.
   */
  async startPrometheus(dir: string, config: string, flags: readonly string[] = []): Promise<{ api: string; check: () => void }> {
    const { runners } = this;
    if (this.runner === undefined) throw new Error('start the runner first');
    const server = this.prometheus = await startPrometheus(dir, config, flags);
    return {
      api: server.api,
      check: () => {
        server.check();
        for (const runner of runners) if (!isAlive(runner.pid)) throw new Fatal(`the runner (pid ${runner.pid}) exited`);
      },
    };
  }

  /** Runs `body`; a failure is reported with what Prometheus and the runners said. */
  async diagnosed(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      throw await withDiagnostics(error, this.runners, this.prometheus);
    }
  }

  /** Stops Prometheus and the runners, whatever state they are in. */
  async stop(): Promise<void> {
    await Promise.all([
      this.prometheus === undefined ? undefined : terminate(this.prometheus.child),
      ...this.runners.map((runner) => stopRunner(runner)),
    ]);
  }

  /** Runs `body` as diagnosed() does, then stops both, whatever happened. */
  async run(body: () => Promise<void>): Promise<void> {
    try {
      await this.diagnosed(body);
    } finally {
      await this.stop();
    }
  }
}
