// One session of the GitLab bench: a test coordinator (test/support/coordinator/)
// listening in the bench process, and a fresh runner of one runtime taking jobs from it, run
// from a scratch working directory (jobs-runner.ts) whose config.toml (mode 0600, it holds the
// runner token) has one [[runners]] entry with the coordinator's url and token.
//
// Also: telling the runner's job requests from the bench's own in the coordinator's record,
// waiting for the runner's next poll, and collecting the WARN and ERROR lines of its log.

import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type RecordedRequest, TestCoordinator } from '../../test/support/coordinator/coordinator.ts';
import { REFERENCE_USER_AGENT } from './gitlab-reference.ts';
import { killQueueRunner, makeWorkDir, type QueueRunner, removeWorkDir, startQueueRunner, stopQueueRunner } from './jobs-runner.ts';
import type { RuntimeSpec } from './runtimes.ts';

export const RUNNER_TOKEN = 'glrt-bench-runner-token-0123456789';

export interface SessionOptions {
  readonly checkIntervalSeconds: number;
  /** The coordinator's X-GitLab-Trace-Update-Interval. */
  readonly traceUpdateIntervalSeconds: number;
  /** output_limit in KiB; the runner's default when undefined. */
  readonly outputLimitKiB?: number;
}

export interface GitLabSession {
  readonly coordinator: TestCoordinator;
  readonly runner: QueueRunner;
  readonly dir: string;
  /** The WARN and ERROR lines of the runner's log so far. */
  readonly problems: string[];
}

/** The runner's config.toml for a coordinator at `url`. */
export function sessionConfigToml(url: string, options: SessionOptions): string {
  let text = `check_interval = ${options.checkIntervalSeconds}\nconcurrent = 1\n\n[[runners]]\nname = "gitlab"\nurl = "${url}"\ntoken = "${RUNNER_TOKEN}"\n`;
  if (options.outputLimitKiB !== undefined) text += `output_limit = ${options.outputLimitKiB}\n`;
  return text;
}

const PROBLEM_RE = /^\S+ +(WARN|ERROR)\b/;

/** Keeps the WARN/ERROR lines of the runner's stderr, including those it wrote before it was ready. */
function collectProblems(runner: QueueRunner, problems: string[]): void {
  for (const line of runner.tail().split('\n')) if (PROBLEM_RE.test(line)) problems.push(line);
  let partial = '';
  runner.child.stderr?.on('data', (chunk: string | Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (PROBLEM_RE.test(line) && problems.length < 1000) problems.push(line);
  });
}

/** A POST /jobs/request of the runner (not of the bench's reference client). */
export function isRunnerPoll(request: RecordedRequest): boolean {
  return request.endpoint === 'request_job' && request.headers['user-agent'] !== REFERENCE_USER_AGENT;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `stepMs` until it gives a value; rejects naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number, stepMs = 2): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** The first runner poll recorded at index `from` or later (answered already: records are made after the answer). */
export function nextRunnerPoll(session: GitLabSession, from: number, timeoutMs: number): Promise<RecordedRequest> {
  const { requests } = session.coordinator;
  return until(`a job request of the runner\n${session.runner.tail()}`, () => requests.slice(from).find(isRunnerPoll), timeoutMs);
}

/** Starts the coordinator and the runner, and waits (bounded) for the runner's first job request. */
export async function startSession(spec: RuntimeSpec, options: SessionOptions, timeoutMs: number): Promise<GitLabSession> {
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], traceUpdateIntervalSeconds: options.traceUpdateIntervalSeconds });
  let dir: string | undefined;
  let runner: QueueRunner | undefined;
  try {
    dir = makeWorkDir(sessionConfigToml(coordinator.url, options));
    chmodSync(join(dir, 'config.toml'), 0o600);
    runner = await startQueueRunner(spec, dir);
    const session: GitLabSession = { coordinator, runner, dir, problems: [] };
    collectProblems(runner, session.problems);
    await nextRunnerPoll(session, 0, timeoutMs);
    return session;
  } catch (err) {
    if (runner !== undefined) await killQueueRunner(runner);
    if (dir !== undefined) removeWorkDir(dir);
    await coordinator.close();
    throw err;
  }
}

/** SIGTERM to the runner (before the coordinator goes, so it sees no outage), then the coordinator. Returns how the runner exited. */
export async function stopSession(session: GitLabSession): Promise<string> {
  try {
    return await stopQueueRunner(session.runner);
  } finally {
    await killQueueRunner(session.runner);
    await session.coordinator.close();
    removeWorkDir(session.dir);
  }
}
