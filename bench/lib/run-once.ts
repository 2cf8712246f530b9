// One measured runner run: spawn `runner run --metrics-server 127.0.0.1:0`, wait for the address
// it logs, poll GET /metrics until the first 200, idle, read the RSS, and stop it with SIGTERM.
//
// The port is left to the OS (":0") so runs never collide with each other or with anything else
// listening on the machine; that is why the address has to be read from the runner's log.

import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  STDERR_KEEP_CHARS, WAIT_TIMEOUT_MS, checkProcess, hasExited, killIfRunning, readRssKiB, stop, track,
} from './processes.ts';
import type { RuntimeSpec } from './runtimes.ts';

const POLL_INTERVAL_MS = 5;
const REQUEST_TIMEOUT_MS = 1_000;
export const IDLE_BEFORE_RSS_MS = 3_000;
const LISTENING_RE = /Metrics server listening\s+address=(\S+)/;

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

interface ScrapeAnswer {
  status: number;
  body: string;
}

/** One GET without keep-alive, so every poll measures a fresh connection like a real first scrape. */
function get(url: URL): Promise<ScrapeAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { body += s; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runOnce(spec: RuntimeSpec, cwd: string): Promise<RunResult> {
  let stderrText = '';
  let address: string | undefined;
  let onAddress: (() => void) | undefined;
  let onExitEarly: ((err: Error) => void) | undefined;

  const args = [...spec.runnerArgs, 'run', '--metrics-server', '127.0.0.1:0'];
  const t0 = performance.now();
  const child = track(spawn(spec.bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  let logMs = 0;

  child.stdout?.resume(); // drain whatever goes to stdout
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderrText += s;
    if (address === undefined) {
      const m = LISTENING_RE.exec(stderrText);
      if (m?.[1] !== undefined) {
        logMs = performance.now() - t0;
        address = m[1];
        onAddress?.();
      }
    }
    if (stderrText.length > STDERR_KEEP_CHARS) stderrText = stderrText.slice(-STDERR_KEEP_CHARS);
  });
  const tail = (): string => {
    const lines = stderrText.trimEnd().split('\n').slice(-15).join('\n');
    return lines === '' ? '(no stderr output)' : `stderr:\n${lines}`;
  };
  child.once('error', (err) => onExitEarly?.(err));
  child.once('exit', (code, signal) =>
    onExitEarly?.(new Error(`runner exited before its first successful scrape (${signal !== null ? `signal ${signal}` : `code ${String(code)}`})`)),
  );

  try {
    const deadline = t0 + WAIT_TIMEOUT_MS;

    // Wait for the address on stderr (or an early exit, or the timeout).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Metrics server listening" line within ${WAIT_TIMEOUT_MS} ms`)), WAIT_TIMEOUT_MS);
      onAddress = () => { clearTimeout(timer); resolve(); };
      onExitEarly = (err) => { clearTimeout(timer); reject(err); };
      if (address !== undefined) onAddress();
      if (hasExited(child)) onExitEarly(new Error('runner exited before logging its address'));
    });

    // Poll GET /metrics every ~5 ms until 200.
    let exitedEarly: Error | undefined;
    onExitEarly = (err) => { exitedEarly = err; };
    if (hasExited(child)) exitedEarly = new Error('runner exited right after logging its address');
    const url = new URL(`http://${String(address)}/metrics`);
    let attempts = 0;
    let last = '';
    let scrapeMs: number | undefined;
    while (scrapeMs === undefined) {
      if (exitedEarly !== undefined) throw exitedEarly;
      if (performance.now() > deadline) {
        throw new Error(`GET ${url.href} did not answer 200 within ${WAIT_TIMEOUT_MS} ms of spawn (last: ${last})`);
      }
      attempts++;
      try {
        const answer = await get(url);
        if (answer.status === 200) {
          scrapeMs = performance.now() - t0;
          if (!/^# (HELP|TYPE) /m.test(answer.body)) {
            throw new Error(`GET ${url.href} answered 200 but the body does not look like Prometheus text: ${JSON.stringify(answer.body.slice(0, 200))}`);
          }
          break;
        }
        last = `HTTP ${answer.status}`;
      } catch (err) {
        // A bad 200 body is fatal; connection errors before the first 200 just mean "not yet".
        if (scrapeMs !== undefined) throw err;
        last = err instanceof Error ? err.message : String(err);
      }
      await sleep(POLL_INTERVAL_MS);
    }

    // Idle, then RSS of the spawned process.
    await sleep(IDLE_BEFORE_RSS_MS);
    if (exitedEarly !== undefined || hasExited(child)) {
      const how = child.signalCode !== null ? `signal ${child.signalCode}` : `code ${String(child.exitCode)}`;
      throw new Error(`runner exited during the ${IDLE_BEFORE_RSS_MS} ms idle period after its first scrape (${how}; the bench sends no signal before then)`);
    }
    const pid = child.pid ?? -1;
    const rssKiB = readRssKiB(pid);
    const processCheck = checkProcess(pid, spec.bin);

    onExitEarly = undefined;
    const exit = await stop(child);
    return { logMs, scrapeMs, attempts, rssKiB, processCheck, exit };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n${tail()}`);
  } finally {
    onExitEarly = undefined;
    await killIfRunning(child);
  }
}
