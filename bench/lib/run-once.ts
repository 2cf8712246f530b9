// One measured runner run of the startup bench, on the shared harness
// (test/support/runner-process.ts): spawn `runner run --metrics-server
// 127.0.0.1:0`, wait for the address it logs, poll GET /metrics until the
// first 200, idle, read the RSS, and stop it with SIGTERM.
//
// The port is left to the OS (":0") so runs never collide with each other or
// with anything else listening on the machine; that is why the address has
// to be read from the runner's log.
import { LISTENING, RunnerProcess } from '../../test/support/runner-process.ts';
import { checkProcess, describeExit, WAIT_TIMEOUT_MS } from './processes.ts';

const POLL_INTERVAL_MS = 5;
export const IDLE_BEFORE_RSS_MS = 3_000;

export interface RunResult {
  /** spawn() to the "Metrics server listening" line on stderr. */
  logMs: number;
  /** spawn() to the first 200 answer of GET /metrics (body fully received). */
  scrapeMs: number;
  /** Number of GET /metrics attempts until the first 200. */
  attempts: number;
  rssKiB: number | undefined;
  processCheck: string;
  exit: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `command run --metrics-server 127.0.0.1:0` (processBin: the binary the process must be). */
export async function runOnce(command: readonly [string, ...string[]], processBin: string, cwd: string): Promise<RunResult> {
  const runner = await RunnerProcess.start(['run', '--metrics-server', '127.0.0.1:0'], LISTENING, {
    cwd,
    command,
    timeoutMs: WAIT_TIMEOUT_MS,
  });
  try {
    const logMs = runner.readyAt - runner.spawnedAt;
    const first = await runner.untilScraped(POLL_INTERVAL_MS, WAIT_TIMEOUT_MS - logMs);
    if (!/^# (HELP|TYPE) /m.test(first.body)) {
      throw new Error(`GET /metrics answered 200 but the body does not look like Prometheus text: ${JSON.stringify(first.body.slice(0, 200))}`);
    }
    await sleep(IDLE_BEFORE_RSS_MS);
    if (runner.exited) {
      throw new Error(`runner exited during the ${IDLE_BEFORE_RSS_MS} ms idle period after its first scrape (the bench sends no signal before then)`);
    }
    const resident = runner.memory()?.residentBytes;
    const processCheck = checkProcess(runner.pid, processBin);
    const exit = describeExit(await runner.stop('SIGTERM', WAIT_TIMEOUT_MS));
    return {
      logMs,
      scrapeMs: first.at - runner.spawnedAt,
      attempts: first.attempts,
      rssKiB: resident === undefined ? undefined : resident / 1024,
      processCheck,
      exit,
    };
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${runner.tail()}`);
  } finally {
    runner.kill();
  }
}
